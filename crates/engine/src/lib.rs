//! The engine: executes a stored plan's operations durably through the
//! connectors, in dependency order, and reports how each ended.
//!
//! Every attempt is committed as started before the vendor is called, and
//! its end is committed after. A process killed anywhere in between leaves a
//! job in `running`; the next `apply` observes the system before acting, so
//! an operation that already took effect is recorded, not repeated.
//!
//! Architecture invariant: the engine never parses policies and never talks
//! HTTP itself; it sees operations, connectors and the store.

mod report;

pub use report::{OperationReport, Report};

use chrono::Utc;
use futures::StreamExt;
use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{ConnectionName, Operation, OperationId, Plan};
use grantflow_store::{Job, JobOutcome, JobState, Store, StoreError};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Operations in flight at once.
    pub concurrency: usize,
    /// Attempts per operation before a transient failure becomes final.
    pub max_attempts: u32,
    /// Longest single wait between attempts.
    pub max_backoff: Duration,
    /// Read each operation's effect before acting, e.g. because the plan was
    /// computed from a sync that is no longer the newest.
    pub observe_first: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            max_attempts: 5,
            max_backoff: Duration::from_secs(60),
            observe_first: false,
        }
    }
}

/// Told about progress as operations end; drives progress bars.
pub trait Progress: Send + Sync {
    fn start(&self, total: usize, already_final: usize);
    fn finished(&self, op: &Operation, state: JobState);
}

/// A `Progress` that shows nothing.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: usize, _: usize) {}
    fn finished(&self, _: &Operation, _: JobState) {}
}

pub struct Engine<'a> {
    store: &'a Store,
    connectors: &'a BTreeMap<ConnectionName, Box<dyn Connector>>,
    actor: String,
    options: EngineOptions,
}

impl<'a> Engine<'a> {
    pub fn new(
        store: &'a Store,
        connectors: &'a BTreeMap<ConnectionName, Box<dyn Connector>>,
        actor: impl Into<String>,
        options: EngineOptions,
    ) -> Self {
        Self {
            store,
            connectors,
            actor: actor.into(),
            options,
        }
    }

    /// Runs every operation of `plan` that has not ended yet, then reports
    /// on all of them. Safe to call again after a crash or a failure.
    pub async fn apply(&self, plan: &Plan, progress: &dyn Progress) -> Result<Report, EngineError> {
        let jobs = self.store.jobs(&plan.id).await?;
        let mut states: BTreeMap<OperationId, JobState> = jobs
            .iter()
            .map(|job| (OperationId(job.op_id), job.state))
            .collect();
        let mut by_id: BTreeMap<OperationId, Job> = jobs
            .into_iter()
            .map(|job| (OperationId(job.op_id), job))
            .collect();
        let already_final = states.values().filter(|s| s.is_final()).count();
        progress.start(plan.operations.len(), already_final);

        loop {
            let mut ready = Vec::new();
            for op in &plan.operations {
                if states.get(&op.id).is_some_and(|s| s.is_final()) {
                    continue;
                }
                let blocked_by = op.depends_on.iter().find(|dep| {
                    matches!(states.get(dep), Some(JobState::Failed | JobState::Skipped))
                });
                if let Some(dependency) = blocked_by {
                    let reason = format!("{dependency} did not succeed");
                    self.store
                        .finish_job(&plan.id, op, JobOutcome::Skipped { reason }, &self.actor)
                        .await?;
                    states.insert(op.id, JobState::Skipped);
                    progress.finished(op, JobState::Skipped);
                    continue;
                }
                let dependencies_done = op
                    .depends_on
                    .iter()
                    .all(|dep| states.get(dep) == Some(&JobState::Succeeded));
                if dependencies_done {
                    ready.push(op);
                }
            }
            if ready.is_empty() {
                break;
            }
            let wave: Vec<(OperationId, Result<JobState, EngineError>)> =
                futures::stream::iter(ready)
                    .map(|op| {
                        let job = by_id.get(&op.id).cloned();
                        async move { (op.id, self.run(plan, op, job).await) }
                    })
                    .buffer_unordered(self.options.concurrency.max(1))
                    .collect()
                    .await;
            for (id, result) in wave {
                let state = result?;
                states.insert(id, state);
                if let Some(op) = plan.operation(id) {
                    progress.finished(op, state);
                }
            }
            by_id = self
                .store
                .jobs(&plan.id)
                .await?
                .into_iter()
                .map(|job| (OperationId(job.op_id), job))
                .collect();
        }

        let jobs = self.store.jobs(&plan.id).await?;
        Ok(Report::new(plan, &jobs))
    }

    /// Runs one operation to an end state, recording every attempt.
    async fn run(
        &self,
        plan: &Plan,
        op: &Operation,
        job: Option<Job>,
    ) -> Result<JobState, EngineError> {
        let Some(connector) = self.connectors.get(&op.connection) else {
            return self
                .fail(
                    plan,
                    op,
                    "no_connection",
                    format!("no connection named \"{}\" is configured", op.connection),
                )
                .await;
        };
        // An earlier attempt may have reached the vendor before the process
        // died: look before acting, so the effect is never applied twice.
        let interrupted = job.as_ref().is_some_and(|j| j.attempts > 0);
        if (interrupted || self.options.observe_first)
            && let Ok(Observed::Done) = connector.observe(op).await
        {
            let why = if interrupted {
                "retrying an interrupted attempt"
            } else {
                "acting on a stale plan"
            };
            return self
                .succeed(
                    plan,
                    op,
                    "already_present",
                    json!({ "observed_before": why }),
                )
                .await;
        }
        loop {
            let attempt = self
                .store
                .start_attempt(
                    &plan.id,
                    op,
                    &self.actor,
                    json!({"connection": op.connection}),
                )
                .await?;
            let failure = match connector.apply(op).await {
                Ok(Applied::Changed) => {
                    return self.succeed(plan, op, "applied", json!({})).await;
                }
                Ok(Applied::AlreadyPresent) => {
                    return self.succeed(plan, op, "already_present", json!({})).await;
                }
                Err(failure) => failure,
            };
            if !failure.is_transient() || attempt >= self.options.max_attempts {
                return self
                    .fail(plan, op, &failure.code(), failure.message())
                    .await;
            }
            tracing::info!(
                message = "Operation failed transiently; will retry.",
                operation = %op.id,
                attempt,
                error = %failure
            );
            self.store
                .audit(
                    &self.actor,
                    "operation.retry_scheduled",
                    &format!("{}/{}", plan.id, op.id),
                    json!({
                        "attempt": attempt,
                        "kind": failure.kind(),
                        "vendor_code": failure.code(),
                        "message": failure.message(),
                    }),
                )
                .await?;
            tokio::time::sleep(self.wait_before_retry(&failure, attempt)).await;
            // The failed call may still have taken effect (a timeout after
            // the vendor acted): look before trying again.
            if let Ok(Observed::Done) = connector.observe(op).await {
                return self
                    .succeed(
                        plan,
                        op,
                        "already_present",
                        json!({"observed_after": "failed attempt"}),
                    )
                    .await;
            }
        }
    }

    fn wait_before_retry(&self, failure: &Failure, attempt: u32) -> Duration {
        let until = match failure {
            Failure::RateLimited { reset, .. } => Some(*reset),
            Failure::RetryLater { at: Some(at), .. } => Some(*at),
            Failure::Waiting { recheck_at, .. } => Some(*recheck_at),
            _ => None,
        };
        let wait = match until {
            Some(at) => (at - Utc::now()).to_std().unwrap_or_default(),
            None => {
                // Exponential backoff with full jitter.
                let ceiling = 250u64.saturating_mul(1 << attempt.min(8));
                Duration::from_millis(rand::random_range(ceiling / 2..=ceiling))
            }
        };
        wait.min(self.options.max_backoff)
    }

    async fn succeed(
        &self,
        plan: &Plan,
        op: &Operation,
        how: &str,
        details: serde_json::Value,
    ) -> Result<JobState, EngineError> {
        self.store
            .finish_job(
                &plan.id,
                op,
                JobOutcome::Succeeded {
                    how: how.to_string(),
                    details,
                },
                &self.actor,
            )
            .await?;
        Ok(JobState::Succeeded)
    }

    async fn fail(
        &self,
        plan: &Plan,
        op: &Operation,
        code: &str,
        message: String,
    ) -> Result<JobState, EngineError> {
        self.store
            .finish_job(
                &plan.id,
                op,
                JobOutcome::Failed {
                    code: code.to_string(),
                    message,
                    details: json!({"connection": op.connection}),
                },
                &self.actor,
            )
            .await?;
        Ok(JobState::Failed)
    }
}
