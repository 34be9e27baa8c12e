//! The execution report: how each operation of a plan ended, what is still
//! waiting or retrying and when it is next tried, and the share completed.

use grantflow_model::Plan;
use grantflow_store::{Job, JobState};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct OperationReport {
    pub id: u32,
    pub change: String,
    pub state: JobState,
    pub attempts: u32,
    /// `applied` or `already_present` for a success.
    pub outcome: Option<String>,
    /// The vendor's code for a failure (e.g. `E0000007`).
    pub error_code: Option<String>,
    /// The vendor's message for a failure, verbatim; the reason for a skip
    /// or a wait.
    pub error_message: Option<String>,
    /// When a waiting or retrying operation is next tried (RFC 3339).
    pub next_attempt_at: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub plan_id: String,
    pub operations: Vec<OperationReport>,
    pub succeeded: usize,
    pub failed: usize,
    pub skipped: usize,
    pub waiting: usize,
    pub retrying: usize,
    pub pending: usize,
    /// Succeeded operations as a share of all, 0.0 to 1.0.
    pub completed_share: f64,
    /// The earliest time anything left is tried again (RFC 3339).
    pub next_attempt_at: Option<String>,
}

impl Report {
    pub fn new(plan: &Plan, jobs: &[Job], now_ms: i64) -> Self {
        let operations: Vec<OperationReport> = plan
            .operations
            .iter()
            .map(|op| {
                let job = jobs.iter().find(|j| j.op_id == op.id.0);
                let state = job.map(|j| j.state).unwrap_or(JobState::Pending);
                let next = job
                    .filter(|_| matches!(state, JobState::Waiting | JobState::Retrying))
                    .map(|j| j.run_after_ms.max(now_ms));
                OperationReport {
                    id: op.id.0,
                    change: op.describe(),
                    state,
                    attempts: job.map(|j| j.attempts).unwrap_or(0),
                    outcome: job.and_then(|j| j.outcome.clone()),
                    error_code: job.and_then(|j| j.error_code.clone()),
                    error_message: job.and_then(|j| {
                        if state == JobState::Waiting {
                            j.wait_reason.clone()
                        } else {
                            j.error_message.clone()
                        }
                    }),
                    next_attempt_at: next.map(millis_text),
                    updated_at: job.map(|j| j.updated_at.clone()).unwrap_or_default(),
                }
            })
            .collect();
        let next_attempt_at = jobs
            .iter()
            .filter(|j| matches!(j.state, JobState::Waiting | JobState::Retrying))
            .map(|j| j.run_after_ms.max(now_ms))
            .min()
            .map(millis_text);
        Self::from_operations(plan.id.clone(), operations, next_attempt_at)
    }

    /// The report of operations already described (e.g. read back from a
    /// server's progress): the totals and the share completed.
    pub fn from_operations(
        plan_id: String,
        operations: Vec<OperationReport>,
        next_attempt_at: Option<String>,
    ) -> Self {
        let count = |state: JobState| operations.iter().filter(|o| o.state == state).count();
        let total = operations.len();
        let succeeded = count(JobState::Succeeded);
        Report {
            plan_id,
            succeeded,
            failed: count(JobState::Failed),
            skipped: count(JobState::Skipped),
            waiting: count(JobState::Waiting),
            retrying: count(JobState::Retrying),
            pending: count(JobState::Pending) + count(JobState::Running),
            completed_share: if total == 0 {
                1.0
            } else {
                succeeded as f64 / total as f64
            },
            next_attempt_at,
            operations,
        }
    }

    /// Every operation succeeded.
    pub fn is_success(&self) -> bool {
        self.succeeded == self.operations.len()
    }

    /// Nothing failed, but something is still waiting, retrying or pending.
    pub fn is_incomplete(&self) -> bool {
        self.failed == 0 && self.skipped == 0 && !self.is_success()
    }
}

fn millis_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
