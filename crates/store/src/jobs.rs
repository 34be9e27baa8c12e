//! Jobs: the durable state of each operation of a plan, and their leasing.
//!
//! A job moves pending → running (leased by one worker) → succeeded |
//! failed | skipped, or back to waiting / retrying with a time before which
//! nobody may run it. Every move commits with its audit event.

use serde::{Deserialize, Serialize};
use sqlx::{Any, Row, Transaction};
use std::time::Duration;

use crate::{AuditAction, Backend, Result, Store, StoreError, audit, timestamp};
use grantflow_model::{Operation, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Not yet attempted.
    Pending,
    /// Leased by a worker; if its lease expired, whether the vendor saw the
    /// last call is unknown until the effect is observed.
    Running,
    Succeeded,
    Failed,
    /// Not attempted because an operation it depends on failed.
    Skipped,
    /// Waiting on something outside grantflow; re-checked at `run_after`.
    Waiting,
    /// A transient failure; tried again at `run_after`.
    Retrying,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Skipped => "skipped",
            JobState::Waiting => "waiting",
            JobState::Retrying => "retrying",
        }
    }

    fn parse(text: &str) -> Option<JobState> {
        Some(match text {
            "pending" => JobState::Pending,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "skipped" => JobState::Skipped,
            "waiting" => JobState::Waiting,
            "retrying" => JobState::Retrying,
            _ => return None,
        })
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Skipped
        )
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub plan_id: String,
    pub op_id: u32,
    pub natural_key: String,
    pub state: JobState,
    pub attempts: u32,
    /// `attempts` when the job was last put back to pending by a new run:
    /// the retry budget counts the attempts made since.
    pub attempts_at_requeue: u32,
    /// How it ended: `applied`, `already_present` (observed), …
    pub outcome: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub updated_at: String,
    /// Epoch milliseconds before which the job may not run.
    pub run_after_ms: i64,
    pub wait_reason: Option<String>,
    pub wait_deadline_ms: Option<i64>,
    /// Who holds the job now, and the fencing token of their claim.
    pub lease: Option<Lease>,
}

/// A worker's hold on a job: its name and the fencing token its claim took.
/// Every change a worker makes to a job presents both; once another worker
/// claimed the job (a higher token), the first one's writes are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub fence: i64,
}

/// How an attempt ended, as recorded.
#[derive(Debug, Clone)]
pub enum JobOutcome {
    Succeeded {
        /// `applied` when the call made the change, `already_present` when a
        /// read showed the effect was already there.
        how: String,
        details: serde_json::Value,
    },
    Failed {
        code: String,
        message: String,
        details: serde_json::Value,
    },
    Skipped {
        reason: String,
    },
    /// Waiting on an outside event; re-check at `recheck_ms`, fail after
    /// `deadline_ms`.
    Waiting {
        reason: String,
        recheck_ms: i64,
        deadline_ms: i64,
    },
    /// A transient failure; run again at `at_ms`.
    Retrying {
        at_ms: i64,
        code: String,
        message: String,
    },
}

const JOB_COLUMNS: &str = "plan_id, op_id, natural_key, state, attempts, attempts_at_requeue, outcome, error_code, error_message, updated_at, run_after_ms, wait_reason, wait_deadline_ms, lease_owner, fence";

fn job_from_row(row: &sqlx::any::AnyRow) -> Result<Job> {
    let state: String = row.try_get("state")?;
    let plan_id: String = row.try_get("plan_id")?;
    let op_id: i64 = row.try_get("op_id")?;
    let attempts: i64 = row.try_get("attempts")?;
    let attempts_at_requeue: i64 = row.try_get("attempts_at_requeue")?;
    let corrupt = |what: &str| StoreError::CorruptRow {
        table: "jobs",
        key: format!("{plan_id}/op{op_id}"),
        problem: what.to_string(),
    };
    let owner: Option<String> = row.try_get("lease_owner")?;
    let fence: i64 = row.try_get("fence")?;
    Ok(Job {
        op_id: u32::try_from(op_id).map_err(|_| corrupt("operation number out of range"))?,
        natural_key: row.try_get("natural_key")?,
        state: JobState::parse(&state)
            .ok_or_else(|| corrupt(&format!("unknown state \"{state}\"")))?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("attempt count out of range"))?,
        attempts_at_requeue: u32::try_from(attempts_at_requeue)
            .map_err(|_| corrupt("attempt count at requeue out of range"))?,
        lease: owner.map(|owner| Lease { owner, fence }),
        plan_id,
        outcome: row.try_get("outcome")?,
        error_code: row.try_get("error_code")?,
        error_message: row.try_get("error_message")?,
        updated_at: row.try_get("updated_at")?,
        run_after_ms: row.try_get("run_after_ms")?,
        wait_reason: row.try_get("wait_reason")?,
        wait_deadline_ms: row.try_get("wait_deadline_ms")?,
    })
}

/// In a success's details: `true` when an earlier attempt of the job (not someone else) took effect.
pub const BY_GRANTFLOW: &str = "by_grantflow";

impl Store {
    pub async fn jobs(&self, plan_id: &str) -> Result<Vec<Job>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE plan_id = $1 ORDER BY op_id"
        )))
        .bind(plan_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Jobs of queued plans that have not ended (any worker may still run
    /// them); a worker told to exit when idle waits for this to reach zero.
    pub async fn open_jobs(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS open FROM jobs j JOIN plans p ON p.id = j.plan_id
             WHERE p.status = 'queued' AND j.state NOT IN ('succeeded', 'failed', 'skipped')",
        )
        .fetch_one(self.reader())
        .await?;
        Ok(row.try_get("open")?)
    }

    /// Leases currently held on the plan's jobs: (operation, owner).
    pub async fn leases(&self, plan_id: &str) -> Result<Vec<(u32, String)>> {
        let rows = sqlx::query(
            "SELECT op_id, lease_owner FROM jobs WHERE plan_id = $1 AND state = 'running' AND lease_owner IS NOT NULL",
        )
        .bind(plan_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                let op_id: i64 = row.try_get("op_id")?;
                let op_id = u32::try_from(op_id).map_err(|_| StoreError::CorruptRow {
                    table: "jobs",
                    key: format!("{plan_id}/op{op_id}"),
                    problem: "operation number out of range".into(),
                })?;
                Ok((op_id, row.try_get("lease_owner")?))
            })
            .collect()
    }

    /// Ends a lease early (its holder is known to be dead), so the job can
    /// be claimed now rather than when the lease would have run out.
    pub async fn release_lease(&self, plan_id: &str, op_id: u32, owner: &str) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET lease_until_ms = 0 WHERE plan_id = $1 AND op_id = $2 AND lease_owner = $3 AND state = 'running'",
        )
        .bind(plan_id)
        .bind(i64::from(op_id))
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Puts the plan's failed and skipped operations back to pending (a
    /// person ran `apply` again: the vendor may have recovered, or the cause
    /// was fixed). Attempts already made stay counted and audited; the new
    /// run gets a full retry budget of its own.
    pub async fn requeue_failed(&self, plan_id: &str, actor: &str) -> Result<u64> {
        let mut tx = self.begin().await?;
        let requeued = sqlx::query(
            "UPDATE jobs SET state = 'pending', run_after_ms = 0, lease_owner = NULL, lease_until_ms = 0,
                    attempts_at_requeue = attempts
             WHERE plan_id = $1 AND state IN ('failed', 'skipped')",
        )
        .bind(plan_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if requeued > 0 {
            sqlx::query("UPDATE plans SET status = 'queued' WHERE id = $1")
                .bind(plan_id)
                .execute(&mut *tx)
                .await?;
            audit::append(
                &mut tx,
                self.backend(),
                self.now(),
                actor,
                AuditAction::PlanRequeued,
                plan_id,
                serde_json::json!({ "operations": requeued }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(requeued)
    }

    /// Records that a person asked for the plan to run; workers only take
    /// jobs of queued plans.
    pub async fn queue_plan(&self, plan: &Plan, actor: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let updated =
            sqlx::query("UPDATE plans SET status = 'queued' WHERE id = $1 AND status = 'reviewed'")
                .bind(&plan.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if updated > 0 {
            audit::append(
                &mut tx,
                self.backend(),
                self.now(),
                actor,
                AuditAction::PlanQueued,
                &plan.id,
                serde_json::json!({"operations": plan.operations.len()}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Leases the next job that may run now: of a queued plan (or of `plan`
    /// only), due, with every dependency succeeded, and either not leased or
    /// leased by a worker whose lease ran out. PostgreSQL skips rows other
    /// workers are claiming; SQLite's single writer serialises claims.
    pub async fn claim(
        &self,
        owner: &str,
        plan: Option<&str>,
        lease: Duration,
    ) -> Result<Option<Job>> {
        let now = self.now().timestamp_millis();
        let lease_until = now + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE OF j SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let plan_filter = if plan.is_some() {
            "j.plan_id = $4"
        } else {
            "j.plan_id IN (SELECT id FROM plans WHERE status = 'queued')"
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until_ms = $2, fence = fence + 1
             WHERE (plan_id, op_id) = (
                SELECT j.plan_id, j.op_id FROM jobs j
                WHERE {plan_filter}
                  AND ((j.state IN ('pending', 'waiting', 'retrying') AND j.run_after_ms <= $3)
                       OR (j.state = 'running' AND j.lease_until_ms < $3))
                  AND NOT EXISTS (
                      SELECT 1 FROM job_deps d JOIN jobs k
                        ON k.plan_id = d.plan_id AND k.op_id = d.depends_on
                      WHERE d.plan_id = j.plan_id AND d.op_id = j.op_id AND k.state <> 'succeeded')
                ORDER BY j.run_after_ms, j.plan_id, j.op_id
                LIMIT 1 {lock})
             RETURNING {JOB_COLUMNS}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(lease_until)
            .bind(now);
        if let Some(plan) = plan {
            query = query.bind(plan);
        }
        let row = query.fetch_optional(self.pool()).await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Commits that an attempt is about to call the vendor (attempt counted,
    /// lease extended, audit event), before the call is made.
    pub async fn start_attempt(
        &self,
        plan_id: &str,
        op: &Operation,
        actor: &str,
        details: serde_json::Value,
        lease: &Lease,
        duration: Duration,
    ) -> Result<u32> {
        let now = self.now();
        let lease_until =
            now.timestamp_millis() + i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2);
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = $1, lease_until_ms = $2
             WHERE plan_id = $3 AND op_id = $4 AND lease_owner = $5 AND fence = $6 RETURNING attempts",
        )
        .bind(timestamp(now))
        .bind(lease_until)
        .bind(plan_id)
        .bind(i64::from(op.id.0))
        .bind(&lease.owner)
        .bind(lease.fence)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::LeaseLost {
            job: format!("{plan_id}/{}", op.id),
            owner: lease.owner.clone(),
        })?;
        let attempt: i64 = row.try_get("attempts")?;
        let attempt = u32::try_from(attempt).map_err(|_| StoreError::CorruptRow {
            table: "jobs",
            key: format!("{plan_id}/{}", op.id),
            problem: "attempt count out of range".into(),
        })?;
        let mut details = details;
        if let Some(map) = details.as_object_mut() {
            map.insert("attempt".into(), attempt.into());
            map.insert("operation".into(), op.id.0.into());
            map.insert("natural_key".into(), op.natural_key().into());
            map.insert("change".into(), op.describe().into());
            map.insert("reasons".into(), serde_json::json!(op.reasons));
        }
        audit::append(
            &mut tx,
            self.backend(),
            now,
            actor,
            AuditAction::OperationAttempt,
            &format!("{plan_id}/{}", op.id),
            details,
        )
        .await?;
        tx.commit().await?;
        Ok(attempt)
    }

    /// Extends a lease its holder still has; `false` when another worker
    /// claimed the job since (its token is higher) or it ended.
    pub async fn renew_lease(
        &self,
        plan_id: &str,
        op_id: u32,
        lease: &Lease,
        duration: Duration,
    ) -> Result<bool> {
        let until = self.now().timestamp_millis()
            + i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2);
        let renewed = sqlx::query(
            "UPDATE jobs SET lease_until_ms = $1
             WHERE plan_id = $2 AND op_id = $3 AND state = 'running' AND lease_owner = $4 AND fence = $5",
        )
        .bind(until)
        .bind(plan_id)
        .bind(i64::from(op_id))
        .bind(&lease.owner)
        .bind(lease.fence)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(renewed > 0)
    }

    /// Commits how an attempt ended, with its audit event; a failure also
    /// skips every operation that depends on it, directly or not.
    pub async fn finish_job(
        &self,
        plan_id: &str,
        op: &Operation,
        outcome: JobOutcome,
        actor: &str,
        lease: &Lease,
    ) -> Result<()> {
        let now = self.now();
        let subject = format!("{plan_id}/{}", op.id);
        let mut tx = self.begin().await?;
        // Locked on PostgreSQL so no claim slips in between this check and the update.
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let held = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT 1 FROM jobs WHERE plan_id = $1 AND op_id = $2 AND lease_owner = $3 AND fence = $4{lock}"
        )))
        .bind(plan_id)
        .bind(i64::from(op.id.0))
        .bind(&lease.owner)
        .bind(lease.fence)
        .fetch_optional(&mut *tx)
        .await?;
        if held.is_none() {
            // Another worker claimed the job since: it decides what happened; this one writes nothing.
            return Err(StoreError::LeaseLost {
                job: subject,
                owner: lease.owner.clone(),
            });
        }
        if let JobOutcome::Succeeded { how, details } = &outcome {
            self.record_applied_change(&mut tx, plan_id, op, now)
                .await?;
            // Grantflow's call made it: applied now, or an earlier attempt of this job took effect.
            let by_grantflow = how == "applied"
                || details
                    .get(BY_GRANTFLOW)
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false);
            self.record_declared(&mut tx, plan_id, op, by_grantflow, now)
                .await?;
        }
        let failed = matches!(outcome, JobOutcome::Failed { .. });
        let (state, action, mut details) = match outcome {
            JobOutcome::Succeeded { how, details } => {
                self.set_job(
                    &mut tx,
                    plan_id,
                    op,
                    JobState::Succeeded,
                    JobFields {
                        outcome: Some(how.clone()),
                        ..JobFields::default()
                    },
                )
                .await?;
                (
                    JobState::Succeeded,
                    AuditAction::OperationSucceeded,
                    with(details, "outcome", how),
                )
            }
            JobOutcome::Failed {
                code,
                message,
                details,
            } => {
                self.set_job(
                    &mut tx,
                    plan_id,
                    op,
                    JobState::Failed,
                    JobFields {
                        error_code: Some(code.clone()),
                        error_message: Some(message.clone()),
                        ..JobFields::default()
                    },
                )
                .await?;
                let details = with(with(details, "vendor_code", code), "message", message);
                (JobState::Failed, AuditAction::OperationFailed, details)
            }
            JobOutcome::Skipped { reason } => {
                self.set_job(
                    &mut tx,
                    plan_id,
                    op,
                    JobState::Skipped,
                    JobFields {
                        error_message: Some(reason.clone()),
                        ..JobFields::default()
                    },
                )
                .await?;
                (
                    JobState::Skipped,
                    AuditAction::OperationSkipped,
                    serde_json::json!({ "reason": reason }),
                )
            }
            JobOutcome::Waiting {
                reason,
                recheck_ms,
                deadline_ms,
            } => {
                self.set_job(
                    &mut tx,
                    plan_id,
                    op,
                    JobState::Waiting,
                    JobFields {
                        run_after_ms: recheck_ms,
                        wait_reason: Some(reason.clone()),
                        wait_deadline_ms: Some(deadline_ms),
                        ..JobFields::default()
                    },
                )
                .await?;
                let details = serde_json::json!({
                    "reason": reason,
                    "recheck_at": millis_text(recheck_ms),
                    "deadline": millis_text(deadline_ms),
                });
                (JobState::Waiting, AuditAction::OperationWaiting, details)
            }
            JobOutcome::Retrying {
                at_ms,
                code,
                message,
            } => {
                self.set_job(
                    &mut tx,
                    plan_id,
                    op,
                    JobState::Retrying,
                    JobFields {
                        run_after_ms: at_ms,
                        error_code: Some(code.clone()),
                        error_message: Some(message.clone()),
                        ..JobFields::default()
                    },
                )
                .await?;
                let details = serde_json::json!({
                    "vendor_code": code,
                    "message": message,
                    "next_attempt_at": millis_text(at_ms),
                });
                (
                    JobState::Retrying,
                    AuditAction::OperationRetryScheduled,
                    details,
                )
            }
        };
        if let Some(map) = details.as_object_mut() {
            map.insert("natural_key".into(), op.natural_key().into());
            map.insert("change".into(), op.describe().into());
            map.insert("state".into(), state.as_str().into());
        }
        audit::append(
            &mut tx,
            self.backend(),
            now,
            actor,
            action,
            &subject,
            details,
        )
        .await?;
        if failed {
            self.skip_dependants(&mut tx, plan_id, op, actor).await?;
        }
        self.complete_plan_if_done(&mut tx, plan_id, actor).await?;
        tx.commit().await?;
        self.recent.state_written();
        Ok(())
    }

    async fn set_job(
        &self,
        tx: &mut Transaction<'static, Any>,
        plan_id: &str,
        op: &Operation,
        state: JobState,
        fields: JobFields,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET state = $1, outcome = $2, error_code = $3, error_message = $4, updated_at = $5,
                             run_after_ms = $6, wait_reason = $7, wait_deadline_ms = COALESCE($8, wait_deadline_ms),
                             lease_owner = NULL, lease_until_ms = 0
             WHERE plan_id = $9 AND op_id = $10",
        )
        .bind(state.as_str())
        .bind(fields.outcome)
        .bind(fields.error_code)
        .bind(fields.error_message)
        .bind(timestamp(self.now()))
        .bind(fields.run_after_ms)
        .bind(fields.wait_reason)
        .bind(fields.wait_deadline_ms)
        .bind(plan_id)
        .bind(i64::from(op.id.0))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn skip_dependants(
        &self,
        tx: &mut Transaction<'static, Any>,
        plan_id: &str,
        failed: &Operation,
        actor: &str,
    ) -> Result<()> {
        let mut frontier = vec![i64::from(failed.id.0)];
        while let Some(op_id) = frontier.pop() {
            let rows = sqlx::query(
                "SELECT d.op_id FROM job_deps d JOIN jobs j ON j.plan_id = d.plan_id AND j.op_id = d.op_id
                 WHERE d.plan_id = $1 AND d.depends_on = $2 AND j.state NOT IN ('succeeded', 'failed', 'skipped')",
            )
            .bind(plan_id)
            .bind(op_id)
            .fetch_all(&mut **tx)
            .await?;
            for row in rows {
                let dependant: i64 = row.try_get("op_id")?;
                let reason = format!("op{op_id} did not succeed");
                sqlx::query(
                    "UPDATE jobs SET state = 'skipped', error_message = $1, updated_at = $2, lease_owner = NULL
                     WHERE plan_id = $3 AND op_id = $4",
                )
                .bind(&reason)
                .bind(timestamp(self.now()))
                .bind(plan_id)
                .bind(dependant)
                .execute(&mut **tx)
                .await?;
                audit::append(
                    tx,
                    self.backend(),
                    self.now(),
                    actor,
                    AuditAction::OperationSkipped,
                    &format!("{plan_id}/op{dependant}"),
                    serde_json::json!({ "reason": reason }),
                )
                .await?;
                frontier.push(dependant);
            }
        }
        Ok(())
    }

    async fn complete_plan_if_done(
        &self,
        tx: &mut Transaction<'static, Any>,
        plan_id: &str,
        actor: &str,
    ) -> Result<()> {
        let open = sqlx::query(
            "SELECT COUNT(*) AS open FROM jobs WHERE plan_id = $1 AND state NOT IN ('succeeded', 'failed', 'skipped')",
        )
        .bind(plan_id)
        .fetch_one(&mut **tx)
        .await?;
        let open: i64 = open.try_get("open")?;
        if open > 0 {
            return Ok(());
        }
        let updated = sqlx::query(
            "UPDATE plans SET status = 'finished' WHERE id = $1 AND status <> 'finished'",
        )
        .bind(plan_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if updated > 0 {
            audit::append(
                tx,
                self.backend(),
                self.now(),
                actor,
                AuditAction::PlanFinished,
                plan_id,
                serde_json::json!({}),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct JobFields {
    outcome: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    run_after_ms: i64,
    wait_reason: Option<String>,
    wait_deadline_ms: Option<i64>,
}

fn with(mut details: serde_json::Value, key: &str, value: String) -> serde_json::Value {
    if let Some(map) = details.as_object_mut() {
        map.insert(key.to_string(), value.into());
    }
    details
}

fn millis_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(timestamp)
        .unwrap_or_default()
}
