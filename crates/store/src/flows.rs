//! Workflow runs: the flow versions they are pinned to, the runs (leased like jobs), and one row per step,
//! which is both the run's history and what a resumed run replays instead of repeating an effect.
//!
//! A step row is written when an effectful step is about to act (`started`, with what a resumed run needs
//! to finish the effect without repeating it) and when it ends; a pure step is written once, when it ends.
//! Every write presents the run's lease: a worker whose lease was taken over writes nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::group_commit::{RunEnd, StepRow, Write};
use crate::{AuditAction, Backend, Lease, Result, Store, StoreError, audit};

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRunRecord {
    pub id: String,
    pub flow: String,
    pub version: String,
    pub trigger_kind: String,
    pub event_key: Option<String>,
    pub event: serde_json::Value,
    pub actor: String,
    pub record_io: bool,
    pub state: FlowRunState,
    pub owner: Option<String>,
    pub fence: i64,
    pub due_at: DateTime<Utc>,
    pub output: Option<serde_json::Value>,
    pub error: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowRunState {
    Queued,
    Running,
    /// Parked until `due_at` (a wait card).
    Waiting,
    Succeeded,
    Failed,
}

impl FlowRunState {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowRunState::Queued => "queued",
            FlowRunState::Running => "running",
            FlowRunState::Waiting => "waiting",
            FlowRunState::Succeeded => "succeeded",
            FlowRunState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => FlowRunState::Queued,
            "running" => FlowRunState::Running,
            "waiting" => FlowRunState::Waiting,
            "succeeded" => FlowRunState::Succeeded,
            "failed" => FlowRunState::Failed,
            _ => return None,
        })
    }

    pub fn is_final(self) -> bool {
        matches!(self, FlowRunState::Succeeded | FlowRunState::Failed)
    }
}

/// One step of a run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowStepRecord {
    /// Where the step sits in the run (`user`, `each[3]/notify`, `call:team/create`): unique in the run.
    pub path: String,
    /// The order in which steps were first written.
    pub seq: i64,
    pub step: String,
    pub card: String,
    pub state: FlowStepState,
    pub attempts: i64,
    pub input: Option<serde_json::Value>,
    pub output: Option<serde_json::Value>,
    pub error: Option<serde_json::Value>,
    pub effect: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowStepState {
    Started,
    Succeeded,
    Failed,
}

impl FlowStepState {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStepState::Started => "started",
            FlowStepState::Succeeded => "succeeded",
            FlowStepState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "started" => FlowStepState::Started,
            "succeeded" => FlowStepState::Succeeded,
            "failed" => FlowStepState::Failed,
            _ => return None,
        })
    }
}

/// A run to start.
#[derive(Debug, Clone)]
pub struct NewFlowRun {
    pub id: String,
    pub flow: String,
    pub version: String,
    pub path: String,
    /// The flow file's text at this version: the run is pinned to it.
    pub source: String,
    pub trigger_kind: String,
    /// The trigger event's identity: a second start with the same key returns the first run.
    pub event_key: Option<String>,
    pub event: serde_json::Value,
    pub actor: String,
    pub record_io: bool,
}

/// What starting a run did.
#[derive(Debug, Clone, PartialEq)]
pub enum RunStart {
    Started(FlowRunRecord),
    /// The event had already started this run.
    Duplicate(FlowRunRecord),
}

/// A step's row to write.
#[derive(Debug, Clone)]
pub struct StepWrite<'a> {
    pub path: &'a str,
    pub step: &'a str,
    pub card: &'a str,
    pub state: FlowStepState,
    pub attempts: i64,
    pub input: Option<&'a serde_json::Value>,
    pub output: Option<&'a serde_json::Value>,
    pub error: Option<&'a serde_json::Value>,
    pub effect: Option<&'a str>,
    /// When the step began (kept from its first write).
    pub started_at: DateTime<Utc>,
    /// An audit event to append in the same transaction (an effectful step), recorded as by `actor`.
    pub audit: Option<serde_json::Value>,
    pub actor: &'a str,
}

const RUN_COLUMNS: &str = "id, flow, version, trigger_kind, event_key, event, actor, record_io, state, owner, fence, due_ms, output, error, created_ms, finished_ms";
const STEP_COLUMNS: &str =
    "path, seq, step, card, state, attempts, input, output, error, effect, started_ms, finished_ms";

pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub(crate) fn json_column(
    row: &sqlx::any::AnyRow,
    column: &str,
    what: &str,
) -> Result<Option<serde_json::Value>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|source| StoreError::Corrupt {
            what: format!("{what} {column}"),
            source,
        })
    })
    .transpose()
}

fn run_from_row(row: &sqlx::any::AnyRow) -> Result<FlowRunRecord> {
    let id: String = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    let state = FlowRunState::parse(&state).ok_or_else(|| StoreError::CorruptRow {
        table: "flow_runs",
        key: id.clone(),
        problem: format!("unknown state {state:?}"),
    })?;
    let what = format!("flow run {id}");
    Ok(FlowRunRecord {
        flow: row.try_get("flow")?,
        version: row.try_get("version")?,
        trigger_kind: row.try_get("trigger_kind")?,
        event_key: row.try_get("event_key")?,
        event: json_column(row, "event", &what)?.unwrap_or_default(),
        actor: row.try_get("actor")?,
        record_io: row.try_get::<i64, _>("record_io")? != 0,
        state,
        owner: row.try_get("owner")?,
        fence: row.try_get("fence")?,
        due_at: from_millis(row.try_get("due_ms")?),
        output: json_column(row, "output", &what)?,
        error: json_column(row, "error", &what)?,
        created_at: from_millis(row.try_get("created_ms")?),
        finished_at: row
            .try_get::<Option<i64>, _>("finished_ms")?
            .map(from_millis),
        id,
    })
}

fn step_from_row(run: &str, row: &sqlx::any::AnyRow) -> Result<FlowStepRecord> {
    let path: String = row.try_get("path")?;
    let state: String = row.try_get("state")?;
    let state = FlowStepState::parse(&state).ok_or_else(|| StoreError::CorruptRow {
        table: "flow_steps",
        key: format!("{run}/{path}"),
        problem: format!("unknown state {state:?}"),
    })?;
    let what = format!("step {path} of flow run {run}");
    Ok(FlowStepRecord {
        seq: row.try_get("seq")?,
        step: row.try_get("step")?,
        card: row.try_get("card")?,
        state,
        attempts: row.try_get("attempts")?,
        input: json_column(row, "input", &what)?,
        output: json_column(row, "output", &what)?,
        error: json_column(row, "error", &what)?,
        effect: row.try_get("effect")?,
        started_at: from_millis(row.try_get("started_ms")?),
        finished_at: row
            .try_get::<Option<i64>, _>("finished_ms")?
            .map(from_millis),
        path,
    })
}

/// A run just claimed by `owner`, with the lease its new fence gives.
fn claimed(owner: &str, row: &sqlx::any::AnyRow) -> Result<(FlowRunRecord, Lease)> {
    let run = run_from_row(row)?;
    let lease = Lease {
        owner: owner.to_string(),
        fence: run.fence,
    };
    Ok((run, lease))
}

/// A write guarded by the run's lease changed nothing: the lease was taken over.
fn still_held(rows: u64, run: &str, lease: &Lease) -> Result<()> {
    if rows == 0 {
        return Err(StoreError::LeaseLost {
            job: format!("flow run {run}"),
            owner: lease.owner.clone(),
        });
    }
    Ok(())
}

fn lease_ms(now: DateTime<Utc>, lease: Duration) -> i64 {
    millis(now) + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2)
}

impl Store {
    /// Starts a run (queued, due now), pinned to its flow version, with a `flow.run_started` event; or, when
    /// its event already started a run of this flow, returns that run.
    pub async fn start_flow_run(&self, run: &NewFlowRun) -> Result<RunStart> {
        let now = self.now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO flow_versions (flow, version, path, source, created_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (flow, version) DO NOTHING",
        )
        .bind(&run.flow)
        .bind(&run.version)
        .bind(&run.path)
        .bind(&run.source)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO flow_runs (id, flow, version, trigger_kind, event_key, event, actor, record_io, state,
                                    owner, fence, lease_until_ms, due_ms, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', NULL, 0, 0, $9, $9)
             ON CONFLICT DO NOTHING",
        )
        .bind(&run.id)
        .bind(&run.flow)
        .bind(&run.version)
        .bind(&run.trigger_kind)
        .bind(run.event_key.as_deref())
        .bind(run.event.to_string())
        .bind(&run.actor)
        .bind(i64::from(run.record_io))
        .bind(millis(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            let existing = match &run.event_key {
                Some(key) => self.flow_run_by_event(&run.flow, key).await?,
                None => None,
            };
            return match existing {
                Some(existing) => Ok(RunStart::Duplicate(existing)),
                None => Err(StoreError::CorruptRow {
                    table: "flow_runs",
                    key: run.id.clone(),
                    problem: "a run with this id exists already".into(),
                }),
            };
        }
        audit::append(
            &mut tx,
            self.backend(),
            now,
            &run.actor,
            AuditAction::FlowRunStarted,
            &run.id,
            serde_json::json!({
                "flow": run.flow,
                "version": run.version,
                "trigger": run.trigger_kind,
                "event_key": run.event_key,
            }),
        )
        .await?;
        tx.commit().await?;
        self.flow_run(&run.id)
            .await?
            .map(RunStart::Started)
            .ok_or_else(|| StoreError::CorruptRow {
                table: "flow_runs",
                key: run.id.clone(),
                problem: "the run just started cannot be read".into(),
            })
    }

    async fn flow_run_by_event(&self, flow: &str, key: &str) -> Result<Option<FlowRunRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM flow_runs WHERE flow = $1 AND event_key = $2"
        )))
        .bind(flow)
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    pub async fn flow_run(&self, id: &str) -> Result<Option<FlowRunRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM flow_runs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// The flow file a run is pinned to: `(path, source)`.
    pub async fn flow_version(
        &self,
        flow: &str,
        version: &str,
    ) -> Result<Option<(String, String)>> {
        let row =
            sqlx::query("SELECT path, source FROM flow_versions WHERE flow = $1 AND version = $2")
                .bind(flow)
                .bind(version)
                .fetch_optional(self.pool())
                .await?;
        row.map(|row| Ok((row.try_get("path")?, row.try_get("source")?)))
            .transpose()
    }

    /// Takes a run to execute: `id`'s when given, else the next due one (queued, waiting and due, or held by
    /// a lease that ran out). The lease's fence moves on, so a previous holder's writes are refused.
    pub async fn claim_flow_run(
        &self,
        owner: &str,
        id: Option<&str>,
        lease: Duration,
    ) -> Result<Option<(FlowRunRecord, Lease)>> {
        let Some(id) = id else {
            return Ok(self.claim_due_flow_runs(owner, 1, lease).await?.pop());
        };
        let now = self.now();
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE flow_runs SET state = 'running', owner = $1, lease_until_ms = $2, fence = fence + 1
             WHERE id = (
                SELECT r.id FROM flow_runs r
                WHERE ((r.state IN ('queued', 'waiting') AND r.due_ms <= $3)
                       OR (r.state = 'running' AND r.lease_until_ms < $3)) AND r.id = $4
                {lock})
             RETURNING {RUN_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(lease_ms(now, lease))
            .bind(millis(now))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| claimed(owner, &row)).transpose()
    }

    /// Takes up to `most` due runs (queued, waiting and due, or held by a lease that ran out), the earliest
    /// due first, in one transaction: a worker with free slots claims them with one commit, not one each.
    pub async fn claim_due_flow_runs(
        &self,
        owner: &str,
        most: usize,
        lease: Duration,
    ) -> Result<Vec<(FlowRunRecord, Lease)>> {
        let now = self.now();
        let due = match self.backend() {
            // PostgreSQL skips the rows another worker is claiming.
            Backend::Postgres => {
                "SELECT r.id FROM flow_runs r
                 WHERE (r.state IN ('queued', 'waiting') AND r.due_ms <= $3)
                    OR (r.state = 'running' AND r.lease_until_ms < $3)
                 ORDER BY r.due_ms, r.id LIMIT $4 FOR UPDATE SKIP LOCKED"
            }
            // SQLite (one writer) plans the OR above as a sort of every due run for each claim; one index
            // range per state, each already in order, is a read of `most` rows each.
            Backend::Sqlite => {
                "SELECT id FROM (
                   SELECT * FROM (SELECT r.id, r.due_ms FROM flow_runs r
                                  WHERE r.state = 'queued' AND r.due_ms <= $3 ORDER BY r.due_ms LIMIT $4)
                   UNION ALL
                   SELECT * FROM (SELECT r.id, r.due_ms FROM flow_runs r
                                  WHERE r.state = 'waiting' AND r.due_ms <= $3 ORDER BY r.due_ms LIMIT $4)
                   UNION ALL
                   SELECT * FROM (SELECT r.id, r.due_ms FROM flow_runs r
                                  WHERE r.state = 'running' AND r.lease_until_ms < $3 ORDER BY r.due_ms LIMIT $4)
                 ) ORDER BY due_ms, id LIMIT $4"
            }
        };
        let sql = format!(
            "UPDATE flow_runs SET state = 'running', owner = $1, lease_until_ms = $2, fence = fence + 1
             WHERE id IN ({due})
             RETURNING {RUN_COLUMNS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(lease_ms(now, lease))
            .bind(millis(now))
            .bind(i64::try_from(most.max(1)).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?;
        let mut runs = rows
            .iter()
            .map(|row| claimed(owner, row))
            .collect::<Result<Vec<_>>>()?;
        runs.sort_by(|(a, _), (b, _)| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
        Ok(runs)
    }

    /// The owners of runs held now, for a worker to release those of processes that died.
    pub async fn flow_run_owners(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT id, owner FROM flow_runs WHERE state = 'running' AND owner IS NOT NULL",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("owner")?)))
            .collect()
    }

    /// Lets another worker take a run whose owner's process is gone.
    pub async fn release_flow_run(&self, id: &str, owner: &str) -> Result<()> {
        sqlx::query(
            "UPDATE flow_runs SET lease_until_ms = 0 WHERE id = $1 AND owner = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn flow_steps(&self, run: &str) -> Result<Vec<FlowStepRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STEP_COLUMNS} FROM flow_steps WHERE run_id = $1 ORDER BY seq"
        )))
        .bind(run)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|row| step_from_row(run, row)).collect()
    }

    /// Writes a step's row, refused with `LeaseLost` when the lease was taken over. A step with an audit
    /// event is written with it and renews the lease, in one transaction; one without is one statement.
    pub async fn record_flow_step(
        &self,
        run: &str,
        lease: &Lease,
        lease_for: Duration,
        step: &StepWrite<'_>,
    ) -> Result<()> {
        if step.audit.is_none() {
            return self.record_flow_step_alone(run, lease, step).await;
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        let held = sqlx::query(
            "UPDATE flow_runs SET lease_until_ms = $1 WHERE id = $2 AND owner = $3 AND fence = $4 AND state = 'running'",
        )
        .bind(lease_ms(now, lease_for))
        .bind(run)
        .bind(&lease.owner)
        .bind(lease.fence)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if held == 0 {
            tx.rollback().await?;
            return still_held(held, run, lease);
        }
        let finished = (step.state != FlowStepState::Started).then(|| millis(now));
        sqlx::query(
            "INSERT INTO flow_steps (run_id, path, seq, step, card, state, attempts, input, output, error, effect,
                                     started_ms, finished_ms)
             VALUES ($1, $2, (SELECT COUNT(*) FROM flow_steps WHERE run_id = $1), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (run_id, path) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
                 input = excluded.input, output = excluded.output, error = excluded.error,
                 effect = COALESCE(excluded.effect, flow_steps.effect), finished_ms = excluded.finished_ms",
        )
        .bind(run)
        .bind(step.path)
        .bind(step.step)
        .bind(step.card)
        .bind(step.state.as_str())
        .bind(step.attempts)
        .bind(step.input.map(|v| v.to_string()))
        .bind(step.output.map(|v| v.to_string()))
        .bind(step.error.map(|v| v.to_string()))
        .bind(step.effect)
        .bind(millis(step.started_at))
        .bind(finished)
        .execute(&mut *tx)
        .await?;
        if let Some(details) = &step.audit {
            audit::append(
                &mut tx,
                self.backend(),
                now,
                step.actor,
                AuditAction::FlowStep,
                &format!("{run}/{}", step.path),
                details.clone(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A step without an audit event (a function card, a read, a branch): one statement that writes the
    /// row only while `lease` holds the run, committed together with the steps other runs write at the
    /// same moment (`step_batch`: a group commit), since the commit is most of a step's cost
    /// (`grantflow-bench flow-steps`). The lease is not renewed here: the runtime renews it while the run
    /// is in hand.
    async fn record_flow_step_alone(
        &self,
        run: &str,
        lease: &Lease,
        step: &StepWrite<'_>,
    ) -> Result<()> {
        let row = StepRow {
            run: run.to_string(),
            owner: lease.owner.clone(),
            fence: lease.fence,
            path: step.path.to_string(),
            step: step.step.to_string(),
            card: step.card.to_string(),
            state: step.state.as_str(),
            attempts: step.attempts,
            input: step.input.map(|v| v.to_string()),
            output: step.output.map(|v| v.to_string()),
            error: step.error.map(|v| v.to_string()),
            effect: step.effect.map(str::to_string),
            started_ms: millis(step.started_at),
            finished_ms: (step.state != FlowStepState::Started).then(|| millis(self.now())),
        };
        let written = self
            .group_commit
            .write(self.pool(), Write::Step(row))
            .await?;
        still_held(written, run, lease)
    }

    /// Keeps a run's lease while a long step (a plan being applied) is in hand.
    pub async fn renew_flow_run(
        &self,
        run: &str,
        lease: &Lease,
        lease_for: Duration,
    ) -> Result<()> {
        let held = sqlx::query(
            "UPDATE flow_runs SET lease_until_ms = $1 WHERE id = $2 AND owner = $3 AND fence = $4 AND state = 'running'",
        )
        .bind(lease_ms(self.now(), lease_for))
        .bind(run)
        .bind(&lease.owner)
        .bind(lease.fence)
        .execute(self.pool())
        .await?
        .rows_affected();
        still_held(held, run, lease)?;
        Ok(())
    }

    /// Keeps a flow version a run reached (a helper flow called for the first time), so a resumed run
    /// calls the same version.
    pub async fn save_flow_version(
        &self,
        flow: &str,
        version: &str,
        path: &str,
        source: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO flow_versions (flow, version, path, source, created_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (flow, version) DO NOTHING",
        )
        .bind(flow)
        .bind(version)
        .bind(path)
        .bind(source)
        .bind(millis(self.now()))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Parks a run until `due` (`waiting`: a wait card; `queued`: its flow had too many runs in hand): the
    /// lease is let go, and any worker takes it up when due.
    pub async fn park_flow_run(
        &self,
        run: &str,
        lease: &Lease,
        due: DateTime<Utc>,
        state: FlowRunState,
    ) -> Result<()> {
        let parked = sqlx::query(
            "UPDATE flow_runs SET state = $5, owner = NULL, lease_until_ms = 0, due_ms = $1
             WHERE id = $2 AND owner = $3 AND fence = $4 AND state = 'running'",
        )
        .bind(millis(due))
        .bind(run)
        .bind(&lease.owner)
        .bind(lease.fence)
        .bind(state.as_str())
        .execute(self.pool())
        .await?
        .rows_affected();
        still_held(parked, run, lease)?;
        Ok(())
    }

    /// Ends a run with its output or error and a `flow.run_finished` event. With `erase_io`, the steps'
    /// inputs and outputs are dropped now that nothing will replay them (the flow does not record them).
    pub async fn finish_flow_run(
        &self,
        run: &str,
        lease: &Lease,
        state: FlowRunState,
        output: Option<&serde_json::Value>,
        error: Option<&serde_json::Value>,
        erase_io: bool,
    ) -> Result<()> {
        let end = RunEnd {
            run: run.to_string(),
            owner: lease.owner.clone(),
            fence: lease.fence,
            state: state.as_str(),
            output: output.map(|v| v.to_string()),
            error: error.cloned(),
            erase_io,
            backend: self.backend(),
            now: self.now(),
        };
        let written = self
            .group_commit
            .write(self.pool(), Write::End(end))
            .await?;
        still_held(written, run, lease)
    }

    /// Runs, newest first, of one flow or all, at most `limit`.
    pub async fn flow_runs(&self, flow: Option<&str>, limit: i64) -> Result<Vec<FlowRunRecord>> {
        let filter = if flow.is_some() {
            "WHERE flow = $2"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM flow_runs {filter} ORDER BY created_ms DESC, id DESC LIMIT $1"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit.max(0));
        if let Some(flow) = flow {
            query = query.bind(flow);
        }
        let rows = query.fetch_all(self.reader()).await?;
        rows.iter().map(run_from_row).collect()
    }

    /// Deletes the finished runs of `flow` that ended before `before`, with their steps (history retention).
    pub async fn purge_flow_runs(&self, flow: &str, before: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "DELETE FROM flow_event_waits WHERE run_id IN
               (SELECT id FROM flow_runs WHERE flow = $1 AND finished_ms IS NOT NULL AND finished_ms < $2)",
        )
        .bind(flow)
        .bind(millis(before))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM flow_steps WHERE run_id IN
               (SELECT id FROM flow_runs WHERE flow = $1 AND finished_ms IS NOT NULL AND finished_ms < $2)",
        )
        .bind(flow)
        .bind(millis(before))
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query(
            "DELETE FROM flow_runs WHERE flow = $1 AND finished_ms IS NOT NULL AND finished_ms < $2",
        )
        .bind(flow)
        .bind(millis(before))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }

    /// Runs that have not ended, across flows (what `serve` and workers pick up).
    pub async fn open_flow_runs(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM flow_runs WHERE state IN ('queued', 'running', 'waiting')",
        )
        .fetch_one(self.reader())
        .await?;
        Ok(row.try_get("n")?)
    }
}
