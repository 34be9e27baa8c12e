//! The engine: executes stored plans' operations durably through the
//! connectors, in dependency order, and reports how each ended.
//!
//! Work is taken from the store one job at a time by lease (`Store::claim`),
//! so one process or several (`grantflow worker`, PostgreSQL mode) share a
//! plan without running an operation twice. Every attempt is committed as
//! started before the vendor is called, and its end after. A job whose
//! lease ran out (its worker died mid-call) is observed before anything is
//! sent: an operation that already took effect is recorded, not repeated.
//!
//! Architecture invariant: the engine never parses policies and never talks
//! HTTP itself; it sees operations, connectors and the store.

mod gate;
pub mod process;
mod report;

pub use gate::{
    Cleared, GateRequest, GateSettings, Refusal, SafetyRail, clear, integrity as plan_integrity,
    plan_rail_violations, removal_weight,
};
pub use report::{OperationReport, Report};

use futures::StreamExt;
use futures::future::Either;
use futures::stream::FuturesUnordered;
use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{ConnectionName, Operation, OperationId, Plan};
use grantflow_store::{Job, JobOutcome, JobState, Lease, Store, StoreError};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Operations in flight at once in this process.
    pub concurrency: usize,
    /// Attempts per operation before a transient failure becomes final.
    pub max_attempts: u32,
    /// Longest single backoff between attempts.
    pub max_backoff: Duration,
    /// A retry due within this long is waited for in place; a later one is
    /// recorded as `retrying` and left for a later run (or another worker).
    pub max_inline_wait: Duration,
    /// How long an operation may wait on an outside event before it fails.
    pub wait_deadline: Duration,
    /// How long a worker holds a job before others may take it over.
    pub lease: Duration,
    /// The soonest a waiting operation is looked at again, whatever the
    /// connector asks, so a system that keeps saying "not yet" is not polled
    /// in a tight loop.
    pub min_recheck: Duration,
    /// Read each operation's effect before acting, e.g. because the plan was
    /// computed from a sync that is no longer the newest.
    pub observe_first: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            max_attempts: 6,
            max_backoff: Duration::from_secs(60),
            max_inline_wait: Duration::from_secs(20),
            wait_deadline: Duration::from_secs(7 * 24 * 3600),
            lease: Duration::from_secs(60),
            min_recheck: Duration::from_secs(1),
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
    /// This process's name in job leases.
    owner: String,
    options: EngineOptions,
    plans: Mutex<HashMap<String, Arc<Plan>>>,
    /// Attempts of each job (plan, op) this process saw deferred by a rate limit, and whether its last
    /// attempt was: see [`Engine::note_attempt`].
    deferrals: Mutex<HashMap<(String, u32), Deferrals>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Deferrals {
    count: u32,
    last: bool,
}

/// Rate-limit deferrals one operation may meet before it fails: a vendor may keep refusing for ever, but a
/// long plan against a tight bucket (hundreds of calls at 50 a minute) is deferred many windows in a row.
const MAX_RATE_LIMIT_DEFERRALS: u32 = 1_000;

impl<'a> Engine<'a> {
    pub fn new(
        store: &'a Store,
        connectors: &'a BTreeMap<ConnectionName, Box<dyn Connector>>,
        actor: impl Into<String>,
        options: EngineOptions,
    ) -> Self {
        let actor = actor.into();
        let owner = process::lease_owner(&actor);
        Self {
            store,
            connectors,
            actor,
            owner,
            options,
            plans: Mutex::new(HashMap::new()),
            deferrals: Mutex::new(HashMap::new()),
        }
    }

    /// Queues a plan that passed the gate, for this process or workers.
    pub async fn queue(&self, cleared: &Cleared) -> Result<(), EngineError> {
        self.store.queue_plan(&cleared.plan, &self.actor).await?;
        Ok(())
    }

    /// Queues a plan that passed the gate and runs every operation of it
    /// that can run now, then reports on all of them. Safe to call again
    /// after a crash or a failure: succeeded operations are not touched
    /// again, failed and skipped ones are tried again.
    pub async fn apply(
        &self,
        cleared: &Cleared,
        progress: &dyn Progress,
    ) -> Result<Report, EngineError> {
        let plan = &cleared.plan;
        self.store.queue_plan(plan, &self.actor).await?;
        self.store.requeue_failed(&plan.id, &self.actor).await?;
        self.remember(plan.clone());
        self.release_leases_of_dead_processes(&plan.id).await?;
        let jobs = self.store.jobs(&plan.id).await?;
        let already_final = jobs.iter().filter(|j| j.state.is_final()).count();
        progress.start(plan.operations.len(), already_final);
        loop {
            self.drain(Some(&plan.id), progress).await?;
            // A retry due soon is waited for here; a later one, and anything
            // waiting on an outside event, is left for a later run or a worker.
            let jobs = self.store.jobs(&plan.id).await?;
            let now = self.store.now().timestamp_millis();
            let next_due = jobs
                .iter()
                .filter(|j| j.state == JobState::Retrying)
                .map(|j| j.run_after_ms)
                .min();
            let horizon = i64::try_from(self.options.max_inline_wait.as_millis()).unwrap_or(0);
            match next_due {
                Some(due) if due - now <= horizon => {
                    let wait = u64::try_from((due - now).max(0)).unwrap_or(0);
                    tokio::time::sleep(Duration::from_millis(wait + 10)).await;
                }
                _ => break,
            }
        }
        let jobs = self.store.jobs(&plan.id).await?;
        Ok(Report::new(
            plan,
            &jobs,
            self.store.now().timestamp_millis(),
        ))
    }

    /// Runs every job of every queued plan that can run now (what
    /// `grantflow worker` does in a loop); returns how many ran.
    pub async fn run_available(&self) -> Result<usize, EngineError> {
        self.drain(None, &Silent).await
    }

    /// Claims and runs jobs (of one plan, or of all queued plans) until none
    /// can run now; returns how many ran.
    ///
    /// Running jobs keep being polled while the next claim waits for the
    /// store: a job in the middle of a store transaction must be able to
    /// finish it, or the claim would wait on a connection nobody releases.
    async fn drain(
        &self,
        plan: Option<&str>,
        progress: &dyn Progress,
    ) -> Result<usize, EngineError> {
        let mut in_flight = FuturesUnordered::new();
        let mut claim: Option<Pin<Box<dyn Future<Output = ClaimResult> + Send + '_>>> = None;
        let mut exhausted = false;
        let mut ran = 0;
        loop {
            if claim.is_none() && !exhausted && in_flight.len() < self.options.concurrency.max(1) {
                claim = Some(Box::pin(self.store.claim(
                    &self.owner,
                    plan,
                    self.options.lease,
                )));
            }
            let event = match (&mut claim, in_flight.is_empty()) {
                (None, true) => return Ok(ran),
                (None, false) => Event::Finished(in_flight.next().await),
                (Some(pending), true) => Event::Claimed(pending.as_mut().await),
                (Some(pending), false) => {
                    match futures::future::select(pending.as_mut(), in_flight.next()).await {
                        Either::Left((claimed, _)) => Event::Claimed(claimed),
                        Either::Right((finished, _)) => Event::Finished(finished),
                    }
                }
            };
            match event {
                Event::Claimed(claimed) => {
                    claim = None;
                    match claimed? {
                        Some(job) => in_flight.push(self.run_job(job)),
                        None => exhausted = true,
                    }
                }
                Event::Finished(Some(outcome)) => {
                    ran += 1;
                    // A finished job may have unblocked its dependants.
                    exhausted = false;
                    if let Some((op, state)) = outcome? {
                        progress.finished(&op, state);
                    }
                }
                Event::Finished(None) => {}
            }
        }
    }

    /// A lease held by a process on this machine that no longer exists
    /// (a killed `apply`) is released at once instead of after it runs out.
    /// Leases of live processes, or of other machines, are left alone.
    async fn release_leases_of_dead_processes(&self, plan_id: &str) -> Result<(), EngineError> {
        for (op_id, owner) in self.store.leases(plan_id).await? {
            if process::owner_is_gone(&owner) {
                self.store.release_lease(plan_id, op_id, &owner).await?;
            }
        }
        Ok(())
    }

    fn remember(&self, plan: Plan) -> Arc<Plan> {
        let plan = Arc::new(plan);
        if let Ok(mut plans) = self.plans.lock() {
            plans.insert(plan.id.clone(), plan.clone());
        }
        plan
    }

    /// The plan a claimed job belongs to. Read from the store (a worker's
    /// case), it must still hash to what was recorded when it was stored.
    async fn plan(&self, id: &str) -> Result<Result<Arc<Plan>, String>, EngineError> {
        let cached = self.plans.lock().ok().and_then(|p| p.get(id).cloned());
        if let Some(plan) = cached {
            return Ok(Ok(plan));
        }
        let stored = self.store.stored_plan(id).await?;
        let jobs = self.store.jobs(id).await?;
        if let Err(why) = gate::integrity(&stored, &jobs) {
            return Ok(Err(why));
        }
        Ok(Ok(self.remember(stored.plan)))
    }

    async fn run_job(&self, job: Job) -> Result<Option<(Operation, JobState)>, EngineError> {
        let Some(lease) = job.lease.clone() else {
            return Ok(None);
        };
        let plan = match self.plan(&job.plan_id).await? {
            Ok(plan) => plan,
            Err(why) => {
                // Not the plan that was made: run nothing of it, and say so where auditors look.
                self.store
                    .audit(
                        &self.actor,
                        grantflow_store::AuditAction::PlanTampered,
                        &job.plan_id,
                        json!({ "why": why }),
                    )
                    .await?;
                self.store
                    .release_lease(&job.plan_id, job.op_id, &lease.owner)
                    .await?;
                tracing::error!(plan = %job.plan_id, why, "Refusing to run a plan that was changed after it was stored.");
                return Ok(None);
            }
        };
        let Some(op) = plan.operation(OperationId(job.op_id)).cloned() else {
            return Ok(None);
        };
        if job.natural_key != op.natural_key() {
            let why = format!(
                "job op{} is keyed {} but its operation is {}",
                job.op_id,
                job.natural_key,
                op.natural_key()
            );
            self.store
                .audit(
                    &self.actor,
                    grantflow_store::AuditAction::PlanTampered,
                    &job.plan_id,
                    json!({ "why": why }),
                )
                .await?;
            let held = Held { lease, job: &job };
            self.fail(&plan, &op, &held, "plan_tampered", why)
                .await
                .or_else(lost_lease)?;
            return Ok(Some((op, JobState::Failed)));
        }
        let held = Held { lease, job: &job };
        // Keep the lease alive while the job is in hand (vendor calls, in-place waits).
        let renewal = self.keep_alive(&job, &held.lease);
        let outcome = self.run(&plan, &op, &held).await;
        renewal.abort();
        match outcome {
            Ok(state) => Ok(Some((op, state))),
            Err(EngineError::Store(StoreError::LeaseLost { job, owner })) => {
                tracing::warn!(
                    job,
                    owner,
                    "Lost the lease on a job to another worker; it decides how the job ends."
                );
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Renews the lease on `job` every third of the lease while it is held,
    /// so a slow vendor call or a wait for a rate-limit reset never lets
    /// another worker take the job over.
    fn keep_alive(&self, job: &Job, lease: &Lease) -> tokio::task::AbortHandle {
        let store = self.store.clone();
        let (plan_id, op_id, lease, every) = (
            job.plan_id.clone(),
            job.op_id,
            lease.clone(),
            self.options.lease,
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every / 3).await;
                match store.renew_lease(&plan_id, op_id, &lease, every).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(plan = %plan_id, op = op_id, "The lease could not be renewed: another worker took the job over.");
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(plan = %plan_id, op = op_id, %error, "Renewing a lease failed; trying again.");
                    }
                }
            }
        })
        .abort_handle()
    }

    /// Runs one leased operation until it ends, waits, or is rescheduled.
    async fn run(
        &self,
        plan: &Plan,
        op: &Operation,
        held: &Held<'_>,
    ) -> Result<JobState, EngineError> {
        let Some(connector) = self.connectors.get(&op.connection) else {
            return self
                .fail(
                    plan,
                    op,
                    held,
                    "no_connection",
                    format!("no connection named \"{}\" is configured", op.connection),
                )
                .await;
        };
        // An earlier attempt may have reached the vendor before its process
        // died or before it failed: look before acting, so the effect is
        // never applied twice.
        // A call the vendor refused for its rate limit did nothing: there is nothing to look for.
        let tried_before = held.job.attempts > 0 && !self.last_was_deferred(&plan.id, op.id);
        if tried_before || self.options.observe_first {
            match self.observe(connector.as_ref(), op).await {
                Ok(Observed::Done) => {
                    let why = if tried_before {
                        "an earlier attempt took effect"
                    } else {
                        "acting on a stale plan"
                    };
                    return self
                        .succeed(
                            plan,
                            op,
                            held,
                            "already_present",
                            json!({
                                "observed_before": why,
                                grantflow_store::BY_GRANTFLOW: tried_before,
                            }),
                        )
                        .await;
                }
                Ok(Observed::NotDone) => {}
                // Not knowing whether the last call landed, do not call
                // again: come back when the system answers reads.
                Err(failure) => {
                    return self
                        .unknown_outcome(plan, op, held, held.job.attempts, failure)
                        .await;
                }
            }
        }
        loop {
            let attempt = self
                .store
                .start_attempt(
                    &plan.id,
                    op,
                    &self.actor,
                    json!({"connection": op.connection, "worker": self.owner}),
                    &held.lease,
                    self.options.lease,
                )
                .await?;
            let failure = match connector.apply(op).await {
                Ok(Applied::Changed) => {
                    return self.succeed(plan, op, held, "applied", json!({})).await;
                }
                Ok(Applied::AlreadyPresent) => {
                    return self
                        .succeed(plan, op, held, "already_present", json!({}))
                        .await;
                }
                Err(failure) => failure,
            };
            if let Failure::Waiting { reason, recheck_at } = &failure {
                return self
                    .wait(plan, op, held, reason, recheck_at.timestamp_millis())
                    .await;
            }
            let rate_limited = matches!(failure, Failure::RateLimited { .. });
            let deferred = self.note_attempt(&plan.id, op.id, rate_limited);
            // A rate limit is the vendor saying when, not the operation failing: such attempts do not use
            // up the retry budget (they have their own, far larger one).
            let this_run = attempt
                .saturating_sub(held.job.attempts_at_requeue)
                .saturating_sub(deferred);
            let gave_up = if rate_limited {
                deferred >= MAX_RATE_LIMIT_DEFERRALS
            } else {
                this_run >= self.options.max_attempts
            };
            if !failure.is_transient() || gave_up {
                self.forget_deferrals(&plan.id, op.id);
                let message = if failure.is_transient() {
                    format!("{} (gave up after {this_run} attempts)", failure.message())
                } else {
                    failure.message()
                };
                return self.fail(plan, op, held, &failure.code(), message).await;
            }
            let wait = self.wait_before_retry(&failure, this_run);
            if wait > self.options.max_inline_wait {
                let at_ms = self.store.now().timestamp_millis()
                    + i64::try_from(wait.as_millis()).unwrap_or(0);
                self.store
                    .finish_job(
                        &plan.id,
                        op,
                        JobOutcome::Retrying {
                            at_ms,
                            code: failure.code(),
                            message: failure.message(),
                        },
                        &self.actor,
                        &held.lease,
                    )
                    .await?;
                return Ok(JobState::Retrying);
            }
            tracing::info!(message = "Operation failed transiently; retrying.", operation = %op.id, attempt, error = %failure);
            self.store
                .audit(
                    &self.actor,
                    grantflow_store::AuditAction::OperationRetryScheduled,
                    &format!("{}/{}", plan.id, op.id),
                    json!({
                        "attempt": attempt,
                        "kind": failure.kind(),
                        "vendor_code": failure.code(),
                        "message": failure.message(),
                        "wait_ms": wait.as_millis() as u64,
                    }),
                )
                .await?;
            tokio::time::sleep(wait).await;
            if rate_limited {
                continue;
            }
            // The failed call may still have taken effect (a timeout after
            // the vendor acted): look before trying again.
            match self.observe(connector.as_ref(), op).await {
                Ok(Observed::Done) => {
                    return self
                        .succeed(
                            plan,
                            op,
                            held,
                            "already_present",
                            json!({
                                "observed_before": "a failed attempt took effect",
                                grantflow_store::BY_GRANTFLOW: true,
                            }),
                        )
                        .await;
                }
                Ok(Observed::NotDone) => {}
                Err(failure) => {
                    return self.unknown_outcome(plan, op, held, attempt, failure).await;
                }
            }
        }
    }

    /// Records that an attempt of `op` ended in a transient failure, rate-limited or not; answers how many
    /// of its attempts in this process were rate-limited. Kept in memory: another process that takes the job
    /// over counts them as ordinary attempts, and observes first, which is only more careful.
    fn note_attempt(&self, plan: &str, op: OperationId, rate_limited: bool) -> u32 {
        let Ok(mut deferrals) = self.deferrals.lock() else {
            return 0;
        };
        let d = deferrals.entry((plan.to_string(), op.0)).or_default();
        d.count += u32::from(rate_limited);
        d.last = rate_limited;
        d.count
    }

    fn last_was_deferred(&self, plan: &str, op: OperationId) -> bool {
        self.deferrals
            .lock()
            .ok()
            .and_then(|d| d.get(&(plan.to_string(), op.0)).map(|d| d.last))
            .unwrap_or(false)
    }

    fn forget_deferrals(&self, plan: &str, op: OperationId) {
        if let Ok(mut deferrals) = self.deferrals.lock() {
            deferrals.remove(&(plan.to_string(), op.0));
        }
    }

    /// Reads whether `op` took effect, trying a few times through transient
    /// failures of the read itself.
    async fn observe(
        &self,
        connector: &dyn Connector,
        op: &Operation,
    ) -> Result<Observed, Failure> {
        let mut tries = 0;
        loop {
            match connector.observe(op).await {
                Err(failure) if failure.is_transient() && tries < 3 => {
                    tries += 1;
                    tokio::time::sleep(self.wait_before_retry(&failure, tries)).await;
                }
                outcome => return outcome,
            }
        }
    }

    /// The last call's outcome is unknown and the system does not answer
    /// reads: retry later (the read comes first again), or give up.
    async fn unknown_outcome(
        &self,
        plan: &Plan,
        op: &Operation,
        held: &Held<'_>,
        attempts: u32,
        failure: Failure,
    ) -> Result<JobState, EngineError> {
        let this_run = attempts.saturating_sub(held.job.attempts_at_requeue);
        if !failure.is_transient() || this_run >= self.options.max_attempts {
            return self
                .fail(plan, op, held, &failure.code(), failure.message())
                .await;
        }
        let wait = self.wait_before_retry(&failure, this_run.max(1));
        let at_ms =
            self.store.now().timestamp_millis() + i64::try_from(wait.as_millis()).unwrap_or(0);
        self.store
            .finish_job(
                &plan.id,
                op,
                JobOutcome::Retrying {
                    at_ms,
                    code: failure.code(),
                    message: format!(
                        "cannot tell whether the last attempt took effect: {}",
                        failure.message()
                    ),
                },
                &self.actor,
                &held.lease,
            )
            .await?;
        Ok(JobState::Retrying)
    }

    async fn wait(
        &self,
        plan: &Plan,
        op: &Operation,
        held: &Held<'_>,
        reason: &str,
        recheck_ms: i64,
    ) -> Result<JobState, EngineError> {
        let now = self.store.now().timestamp_millis();
        let deadline_ms = held.job.wait_deadline_ms.unwrap_or(
            now + i64::try_from(self.options.wait_deadline.as_millis()).unwrap_or(i64::MAX / 2),
        );
        if now >= deadline_ms {
            return self
                .fail(
                    plan,
                    op,
                    held,
                    "wait_deadline",
                    format!("gave up waiting at the deadline: {reason}"),
                )
                .await;
        }
        self.store
            .finish_job(
                &plan.id,
                op,
                JobOutcome::Waiting {
                    reason: reason.to_string(),
                    recheck_ms: recheck_ms
                        .max(now + i64::try_from(self.options.min_recheck.as_millis()).unwrap_or(0))
                        .min(deadline_ms),
                    deadline_ms,
                },
                &self.actor,
                &held.lease,
            )
            .await?;
        Ok(JobState::Waiting)
    }

    /// How long to wait before trying again: when the vendor said when,
    /// until then (but never longer than an hour, so a hostile or broken
    /// reset time cannot park a job for ever); else exponential backoff with
    /// jitter. A wait longer than `max_inline_wait` is not slept through: the
    /// job is rescheduled.
    fn wait_before_retry(&self, failure: &Failure, attempt: u32) -> Duration {
        let until = match failure {
            Failure::RateLimited { reset, .. } => Some(*reset),
            Failure::RetryLater { at: Some(at), .. } => Some(*at),
            _ => None,
        };
        match until {
            Some(at) => ((at - self.store.now()).to_std().unwrap_or_default()
                + Duration::from_millis(50))
            .min(MAX_VENDOR_WAIT),
            None => {
                let ceiling = 250u64.saturating_mul(1 << attempt.min(8));
                Duration::from_millis(rand::random_range(ceiling / 2..=ceiling))
                    .min(self.options.max_backoff)
            }
        }
    }

    async fn succeed(
        &self,
        plan: &Plan,
        op: &Operation,
        held: &Held<'_>,
        how: &str,
        details: serde_json::Value,
    ) -> Result<JobState, EngineError> {
        self.forget_deferrals(&plan.id, op.id);
        self.store
            .finish_job(
                &plan.id,
                op,
                JobOutcome::Succeeded {
                    how: how.to_string(),
                    details,
                },
                &self.actor,
                &held.lease,
            )
            .await?;
        Ok(JobState::Succeeded)
    }

    async fn fail(
        &self,
        plan: &Plan,
        op: &Operation,
        held: &Held<'_>,
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
                &held.lease,
            )
            .await?;
        Ok(JobState::Failed)
    }
}

/// The longest a vendor's "try again at" is honoured.
const MAX_VENDOR_WAIT: Duration = Duration::from_secs(3600);

/// A claimed job and the lease this worker holds on it.
struct Held<'j> {
    lease: Lease,
    job: &'j Job,
}

/// A lost lease is not this worker's failure: the job is another's now.
fn lost_lease(error: EngineError) -> Result<JobState, EngineError> {
    match error {
        EngineError::Store(StoreError::LeaseLost { .. }) => Ok(JobState::Running),
        other => Err(other),
    }
}

type ClaimResult = Result<Option<Job>, StoreError>;
type JobResult = Result<Option<(Operation, JobState)>, EngineError>;

enum Event {
    Claimed(ClaimResult),
    Finished(Option<JobResult>),
}
