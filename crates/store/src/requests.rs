//! Access requests and their reviews. A request's row is also its durable
//! timer: pending ones expire at `pending_until`, time-bound ones end at
//! `expires`, whoever (server or worker) is running when that comes. Every
//! change of state is a compare-and-set on (state, stage) with its audit
//! event in the same transaction, so two reviewers deciding at once, or two
//! servers ending the same request, act once.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Any, Row, Transaction};

use crate::{AuditAction, Backend, Result, Store, StoreError, audit};

/// A stored request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    pub id: String,
    /// The actor who asked (`oidc:…`, `token:…`, `slack:…`).
    pub requester: String,
    /// The person behind the requester, when known (an email).
    pub requester_person: Option<String>,
    /// The person the access or action is for (an email).
    pub subject: String,
    /// `change`, `action` or `bundle`.
    pub kind: String,
    /// What was asked, in the kind's terms.
    pub body: Value,
    pub reason: String,
    pub ticket: Option<String>,
    pub duration_ms: Option<i64>,
    /// The approval rule that decides it (empty: the default review by an approver).
    pub rule: String,
    /// The stages, resolved to people when the request was made.
    pub chain: Value,
    /// The stage waiting for reviews (index into `chain`).
    pub stage: i64,
    pub stage_started_at: DateTime<Utc>,
    /// Whether the current stage's SLA passed and its escalation reviewers were added.
    pub escalated: bool,
    pub state: String,
    pub break_glass: bool,
    pub plan_id: Option<String>,
    pub end_plan_id: Option<String>,
    /// The grants the fulfilling plan added, which end with the request.
    pub grants: Value,
    /// What reviewers are shown: reach, conflicts, what the person holds.
    pub review: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub pending_until: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// One reviewer's decision in one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRecord {
    pub request_id: String,
    pub stage: i64,
    /// Who decided, as the chain names them (an email, or the actor for role-based stages).
    pub reviewer: String,
    /// The authenticated actor.
    pub actor: String,
    /// `approve` or `deny`.
    pub decision: String,
    /// `api`, `cli`, `slack`, `auto`.
    pub channel: String,
    pub comment: String,
    pub at: DateTime<Utc>,
}

/// What a state change sets besides the state.
#[derive(Debug, Clone, Default)]
pub struct RequestChange {
    pub state: String,
    pub stage: Option<i64>,
    pub stage_started_at: Option<DateTime<Utc>>,
    pub escalated: Option<bool>,
    pub chain: Option<Value>,
    pub plan_id: Option<String>,
    pub end_plan_id: Option<String>,
    pub grants: Option<Value>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Which requests to list.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub state: Option<String>,
    pub requester: Option<String>,
    pub subject: Option<String>,
}

const COLUMNS: &str = "id, requester, requester_person, subject, kind, body, reason, ticket, duration_ms, rule, chain, \
     stage, stage_started_ms, escalated, state, break_glass, plan_id, end_plan_id, grants, review, created_ms, \
     updated_ms, pending_until_ms, expires_ms";

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn json(text: String, what: &str) -> Result<Value> {
    serde_json::from_str(&text).map_err(|source| StoreError::Corrupt {
        what: what.to_string(),
        source,
    })
}

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<RequestRecord> {
    let id: String = row.try_get("id")?;
    Ok(RequestRecord {
        requester: row.try_get("requester")?,
        requester_person: row.try_get("requester_person")?,
        subject: row.try_get("subject")?,
        kind: row.try_get("kind")?,
        body: json(row.try_get("body")?, &format!("request {id} body"))?,
        reason: row.try_get("reason")?,
        ticket: row.try_get("ticket")?,
        duration_ms: row.try_get("duration_ms")?,
        rule: row.try_get("rule")?,
        chain: json(row.try_get("chain")?, &format!("request {id} chain"))?,
        stage: row.try_get("stage")?,
        stage_started_at: from_millis(row.try_get("stage_started_ms")?),
        escalated: row.try_get::<i64, _>("escalated")? != 0,
        state: row.try_get("state")?,
        break_glass: row.try_get::<i64, _>("break_glass")? != 0,
        plan_id: row.try_get("plan_id")?,
        end_plan_id: row.try_get("end_plan_id")?,
        grants: json(row.try_get("grants")?, &format!("request {id} grants"))?,
        review: json(row.try_get("review")?, &format!("request {id} review"))?,
        created_at: from_millis(row.try_get("created_ms")?),
        updated_at: from_millis(row.try_get("updated_ms")?),
        pending_until: from_millis(row.try_get("pending_until_ms")?),
        expires_at: row
            .try_get::<Option<i64>, _>("expires_ms")?
            .map(from_millis),
        id,
    })
}

/// Inserts one decision with its `request.reviewed` event; `false` (nothing
/// written) when this reviewer already decided in this stage.
async fn insert_review(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    review: &ReviewRecord,
    after_the_fact: bool,
) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO request_reviews (request_id, stage, reviewer, actor, decision, channel, comment, at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (request_id, stage, reviewer) DO NOTHING",
    )
    .bind(&review.request_id)
    .bind(review.stage)
    .bind(&review.reviewer)
    .bind(&review.actor)
    .bind(&review.decision)
    .bind(&review.channel)
    .bind(&review.comment)
    .bind(millis(review.at))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    let mut details = serde_json::json!({
        "stage": review.stage,
        "reviewer": review.reviewer,
        "decision": review.decision,
        "channel": review.channel,
        "comment": review.comment,
    });
    if after_the_fact {
        details["after_the_fact"] = true.into();
    }
    audit::append(
        tx,
        backend,
        review.at,
        &review.actor,
        AuditAction::RequestReviewed,
        &review.request_id,
        details,
    )
    .await?;
    Ok(true)
}

/// Whether a state is one whose grants are in force for a limited time.
fn time_bound_state(state: &str) -> bool {
    state == "active"
}

impl Store {
    /// Stores a new request with its `request.submitted` event (and, for a
    /// decision taken at once, that event too) in one transaction.
    pub async fn insert_request(
        &self,
        record: &RequestRecord,
        details: Value,
        decided: Option<(AuditAction, Value)>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO access_requests ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"
        )))
        .bind(&record.id)
        .bind(&record.requester)
        .bind(record.requester_person.clone())
        .bind(&record.subject)
        .bind(&record.kind)
        .bind(record.body.to_string())
        .bind(&record.reason)
        .bind(record.ticket.clone())
        .bind(record.duration_ms)
        .bind(&record.rule)
        .bind(record.chain.to_string())
        .bind(record.stage)
        .bind(millis(record.stage_started_at))
        .bind(i64::from(record.escalated))
        .bind(&record.state)
        .bind(i64::from(record.break_glass))
        .bind(record.plan_id.clone())
        .bind(record.end_plan_id.clone())
        .bind(record.grants.to_string())
        .bind(record.review.to_string())
        .bind(millis(record.created_at))
        .bind(millis(record.updated_at))
        .bind(millis(record.pending_until))
        .bind(record.expires_at.map(millis))
        .execute(&mut *tx)
        .await?;
        let now = self.now();
        audit::append(
            &mut tx,
            self.backend(),
            now,
            &record.requester,
            AuditAction::RequestSubmitted,
            &record.id,
            details,
        )
        .await?;
        if let Some((action, details)) = decided {
            audit::append(
                &mut tx,
                self.backend(),
                now,
                "grantflow:requests",
                action,
                &record.id,
                details,
            )
            .await?;
        }
        tx.commit().await?;
        if time_bound_state(&record.state) {
            self.recent.state_written();
        }
        Ok(())
    }

    pub async fn request(&self, id: &str) -> Result<Option<RequestRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM access_requests WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// Notes that request `id`'s submission was offered to the flows with request triggers.
    pub async fn mark_request_flows_offered(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE access_requests SET flows_offered_ms = $1 WHERE id = $2 AND flows_offered_ms IS NULL")
            .bind(millis(self.now()))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Requests created since `since` whose submission was never offered to the flows (the process that
    /// stored them died first), oldest first, at most `limit`.
    pub async fn requests_not_offered_to_flows(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM access_requests WHERE flows_offered_ms IS NULL AND created_ms >= $1
             ORDER BY created_ms, id LIMIT $2",
        )
        .bind(millis(since))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| Ok(row.try_get::<String, _>("id")?))
            .collect()
    }

    /// Requests newest first, at most `limit`.
    pub async fn requests(&self, filter: &RequestFilter, limit: i64) -> Result<Vec<RequestRecord>> {
        let mut sql = format!("SELECT {COLUMNS} FROM access_requests WHERE 1 = 1");
        let mut values = Vec::new();
        for (column, value) in [
            ("state", &filter.state),
            ("requester", &filter.requester),
            ("subject", &filter.subject),
        ] {
            if let Some(value) = value {
                values.push(value.clone());
                sql.push_str(&format!(" AND {column} = ${}", values.len()));
            }
        }
        sql.push_str(&format!(
            " ORDER BY created_ms DESC, id DESC LIMIT ${}",
            values.len() + 1
        ));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in values {
            query = query.bind(value);
        }
        let rows = query.bind(limit).fetch_all(self.reader()).await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Requests whose timer is due at `now`: pending past their wait,
    /// time-bound past their end, and pending ones (for their stages' SLAs).
    pub async fn requests_due(&self, now: DateTime<Utc>) -> Result<Vec<RequestRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM access_requests
             WHERE (state = 'active' AND expires_ms <= $1) OR state IN ('pending', 'approved')
             ORDER BY expires_ms, created_ms"
        )))
        .bind(millis(now))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// The soonest end of a time-bound request, for sleeping until then.
    pub async fn next_request_end(&self) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query(
            "SELECT MIN(expires_ms) AS next FROM access_requests WHERE state = 'active' AND expires_ms IS NOT NULL",
        )
        .fetch_one(self.reader())
        .await?;
        Ok(row.try_get::<Option<i64>, _>("next")?.map(from_millis))
    }

    /// Requests whose grants are in force for a limited time.
    pub async fn time_bound_requests(&self) -> Result<Vec<RequestRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM access_requests WHERE state = 'active' AND expires_ms IS NOT NULL"
        )))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    pub async fn reviews(&self, request_id: &str) -> Result<Vec<ReviewRecord>> {
        let rows = sqlx::query(
            "SELECT request_id, stage, reviewer, actor, decision, channel, comment, at_ms FROM request_reviews
             WHERE request_id = $1 ORDER BY at_ms, stage, reviewer",
        )
        .bind(request_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ReviewRecord {
                    request_id: row.try_get("request_id")?,
                    stage: row.try_get("stage")?,
                    reviewer: row.try_get("reviewer")?,
                    actor: row.try_get("actor")?,
                    decision: row.try_get("decision")?,
                    channel: row.try_get("channel")?,
                    comment: row.try_get("comment")?,
                    at: from_millis(row.try_get("at_ms")?),
                })
            })
            .collect()
    }

    /// Records a decision while the request is `pending` at `review.stage`;
    /// `false` (nothing written) when it is not, or when this reviewer
    /// already decided in this stage.
    pub async fn record_review(&self, review: &ReviewRecord) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !self
            .lock_request_at(&mut tx, &review.request_id, "pending", Some(review.stage))
            .await?
        {
            return Ok(false);
        }
        if !insert_review(&mut tx, self.backend(), review, false).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records a decision whatever the request's state (a break-glass
    /// request's review after the fact, while its access is in force);
    /// `false` when this reviewer already decided.
    pub async fn record_review_any_state(&self, review: &ReviewRecord) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !insert_review(&mut tx, self.backend(), review, true).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Whether the request is in `state` (and at `stage`), holding its row
    /// for the transaction on PostgreSQL (SQLite has one writer).
    async fn lock_request_at(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: &str,
        state: &str,
        stage: Option<i64>,
    ) -> Result<bool> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT state, stage FROM access_requests WHERE id = $1{lock}"
        )))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let (now_state, now_stage): (String, i64) = (row.try_get("state")?, row.try_get("stage")?);
        Ok(now_state == state && stage.is_none_or(|s| s == now_stage))
    }

    /// Moves a request from `from` (its state, and its stage when it matters) to `change`, with
    /// its audit event, in one transaction; `false` when it was no longer
    /// there (somebody else moved it first).
    pub async fn transition_request(
        &self,
        id: &str,
        from: (&str, Option<i64>),
        change: &RequestChange,
        actor: &str,
        action: AuditAction,
        details: Value,
    ) -> Result<bool> {
        let (from_state, from_stage) = from;
        let now = self.now();
        let mut tx = self.begin().await?;
        if !self
            .lock_request_at(&mut tx, id, from_state, from_stage)
            .await?
        {
            return Ok(false);
        }
        let mut sets = vec!["state = $1".to_string(), "updated_ms = $2".to_string()];
        let mut texts: Vec<Option<String>> = Vec::new();
        let mut numbers: Vec<Option<i64>> = Vec::new();
        let mut next = 3;
        let mut set_text = |column: &str, value: Option<String>, sets: &mut Vec<String>| {
            sets.push(format!("{column} = ${next}"));
            next += 1;
            texts.push(value);
        };
        if let Some(chain) = &change.chain {
            set_text("chain", Some(chain.to_string()), &mut sets);
        }
        if let Some(plan) = &change.plan_id {
            set_text("plan_id", Some(plan.clone()), &mut sets);
        }
        if let Some(plan) = &change.end_plan_id {
            set_text("end_plan_id", Some(plan.clone()), &mut sets);
        }
        if let Some(grants) = &change.grants {
            set_text("grants", Some(grants.to_string()), &mut sets);
        }
        let mut number_sets = Vec::new();
        for (column, value) in [
            ("stage", change.stage),
            ("stage_started_ms", change.stage_started_at.map(millis)),
            ("escalated", change.escalated.map(i64::from)),
            ("expires_ms", change.expires_at.map(millis)),
        ] {
            if let Some(value) = value {
                number_sets.push(format!("{column} = ${next}"));
                next += 1;
                numbers.push(Some(value));
            }
        }
        sets.extend(number_sets);
        let sql = format!(
            "UPDATE access_requests SET {} WHERE id = ${next}",
            sets.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&change.state)
            .bind(millis(now));
        for text in texts {
            query = query.bind(text);
        }
        for number in numbers {
            query = query.bind(number);
        }
        query.bind(id).execute(&mut *tx).await?;
        audit::append(&mut tx, self.backend(), now, actor, action, id, details).await?;
        tx.commit().await?;
        if time_bound_state(from_state) || time_bound_state(&change.state) {
            self.recent.state_written();
        }
        Ok(true)
    }

    /// The audit events about any of `subjects` (a request and its plans,
    /// with their operations), oldest first.
    pub async fn events_about(&self, subjects: &[&str]) -> Result<Vec<crate::AuditEvent>> {
        let mut events = Vec::new();
        for subject in subjects {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM audit_events WHERE subject = $1 OR (subject >= $2 AND subject < $3) ORDER BY seq",
                crate::audit::EVENT_COLUMNS
            )))
            .bind(*subject)
            .bind(format!("{subject}/"))
            .bind(format!("{subject}0"))
            .fetch_all(self.reader())
            .await?;
            for row in &rows {
                events.push(crate::audit::event_from_raw(crate::audit::raw_event(row)?));
            }
        }
        events.sort_by_key(|e| e.seq);
        events.dedup_by_key(|e| e.seq);
        Ok(events)
    }
}
