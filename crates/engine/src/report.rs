//! The execution report: how each operation of a plan ended.

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
    /// The vendor's message for a failure, verbatim.
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub plan_id: String,
    pub operations: Vec<OperationReport>,
    pub succeeded: usize,
    pub failed: usize,
    pub skipped: usize,
    pub pending: usize,
}

impl Report {
    pub fn new(plan: &Plan, jobs: &[Job]) -> Self {
        let operations: Vec<OperationReport> = plan
            .operations
            .iter()
            .map(|op| {
                let job = jobs.iter().find(|j| j.op_id == op.id.0);
                OperationReport {
                    id: op.id.0,
                    change: op.describe(),
                    state: job.map(|j| j.state).unwrap_or(JobState::Pending),
                    attempts: job.map(|j| j.attempts).unwrap_or(0),
                    outcome: job.and_then(|j| j.outcome.clone()),
                    error_code: job.and_then(|j| j.error_code.clone()),
                    error_message: job.and_then(|j| j.error_message.clone()),
                }
            })
            .collect();
        let count = |state: JobState| operations.iter().filter(|o| o.state == state).count();
        Report {
            plan_id: plan.id.clone(),
            succeeded: count(JobState::Succeeded),
            failed: count(JobState::Failed),
            skipped: count(JobState::Skipped),
            pending: count(JobState::Pending) + count(JobState::Running),
            operations,
        }
    }

    /// Every operation succeeded.
    pub fn is_success(&self) -> bool {
        self.succeeded == self.operations.len()
    }
}
