//! Jobs: the durable state of each operation of a plan.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Result, Store, audit, timestamp};
use grantflow_model::Operation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Not yet attempted.
    Pending,
    /// An attempt was committed as started; if the process died, whether the
    /// vendor saw the call is unknown until it is observed.
    Running,
    Succeeded,
    Failed,
    /// Not attempted because an operation it depends on failed.
    Skipped,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Skipped => "skipped",
        }
    }

    fn parse(text: &str) -> JobState {
        match text {
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "skipped" => JobState::Skipped,
            _ => JobState::Pending,
        }
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
    /// How it ended: `applied`, `already_present` (observed), …
    pub outcome: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub updated_at: String,
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
}

impl Store {
    pub async fn jobs(&self, plan_id: &str) -> Result<Vec<Job>> {
        let rows = sqlx::query(
            "SELECT plan_id, op_id, natural_key, state, attempts, outcome, error_code, error_message, updated_at
             FROM jobs WHERE plan_id = $1 ORDER BY op_id",
        )
        .bind(plan_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                let op_id: i64 = row.try_get("op_id")?;
                let attempts: i64 = row.try_get("attempts")?;
                Ok(Job {
                    plan_id: row.try_get("plan_id")?,
                    op_id: u32::try_from(op_id).unwrap_or_default(),
                    natural_key: row.try_get("natural_key")?,
                    state: JobState::parse(&state),
                    attempts: u32::try_from(attempts).unwrap_or_default(),
                    outcome: row.try_get("outcome")?,
                    error_code: row.try_get("error_code")?,
                    error_message: row.try_get("error_message")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Commits that an attempt is about to call the vendor (state `running`,
    /// attempt counted, audit event), before the call is made.
    pub async fn start_attempt(
        &self,
        plan_id: &str,
        op: &Operation,
        actor: &str,
        details: serde_json::Value,
    ) -> Result<u32> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "UPDATE jobs SET state = $1, attempts = attempts + 1, updated_at = $2
             WHERE plan_id = $3 AND op_id = $4 RETURNING attempts",
        )
        .bind(JobState::Running.as_str())
        .bind(timestamp(now))
        .bind(plan_id)
        .bind(i64::from(op.id.0))
        .fetch_one(&mut *tx)
        .await?;
        let attempt: i64 = row.try_get("attempts")?;
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
            "operation.attempt",
            &format!("{plan_id}/{}", op.id),
            details,
        )
        .await?;
        tx.commit().await?;
        Ok(u32::try_from(attempt).unwrap_or_default())
    }

    /// Commits how an operation ended, with its audit event.
    pub async fn finish_job(
        &self,
        plan_id: &str,
        op: &Operation,
        outcome: JobOutcome,
        actor: &str,
    ) -> Result<()> {
        let now = self.now();
        let (state, how, code, message, action, details) = match outcome {
            JobOutcome::Succeeded { how, details } => (
                JobState::Succeeded,
                Some(how),
                None,
                None,
                "operation.succeeded",
                details,
            ),
            JobOutcome::Failed {
                code,
                message,
                details,
            } => (
                JobState::Failed,
                None,
                Some(code),
                Some(message),
                "operation.failed",
                details,
            ),
            JobOutcome::Skipped { reason } => (
                JobState::Skipped,
                None,
                None,
                Some(reason.clone()),
                "operation.skipped",
                serde_json::json!({ "reason": reason }),
            ),
        };
        let mut details = details;
        if let Some(map) = details.as_object_mut() {
            map.insert("natural_key".into(), op.natural_key().into());
            map.insert("change".into(), op.describe().into());
            if let Some(how) = &how {
                map.insert("outcome".into(), how.clone().into());
            }
            if let Some(code) = &code {
                map.insert("vendor_code".into(), code.clone().into());
            }
            if let Some(message) = &message {
                map.insert("message".into(), message.clone().into());
            }
        }
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE jobs SET state = $1, outcome = $2, error_code = $3, error_message = $4, updated_at = $5
             WHERE plan_id = $6 AND op_id = $7",
        )
        .bind(state.as_str())
        .bind(how)
        .bind(code)
        .bind(message)
        .bind(timestamp(now))
        .bind(plan_id)
        .bind(i64::from(op.id.0))
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            self.backend(),
            now,
            actor,
            action,
            &format!("{plan_id}/{}", op.id),
            details,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
