//! The automatic lifecycle (`lifecycle.automatic` in grantflow.yaml): after each sync and at each date
//! check, `grantflow serve` plans what is due for joiners, starters and leavers — and nothing else — and
//! applies it through the gate and the durable engine, as the lifecycle schedule.
//!
//! Each due change is recorded with its plan in the plan's own transaction (the store's
//! `lifecycle_changes`), so it is planned once: repeated checks, restarts and a plan still running make
//! no second plan. A leaver plan passes the safety rail only through the leaver allowance (never with
//! the rail off): its other removals still count, and a refusal is recorded and left to a person.

use std::time::Duration;

use grantflow_planner::{DueChange, LifecycleStep};
use grantflow_policy::PolicySet;
use grantflow_store::{LifecycleChange, LifecycleState};
use serde::Serialize;

use crate::plans::{ApplyOptions, ApplyOutcome, policy_error};
use crate::{Actor, Result, Service, ServiceError};

/// Who the lifecycle acts as in the audit trail.
pub fn actor() -> Actor {
    Actor::system("lifecycle")
}

/// What one lifecycle pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LifecyclePass {
    /// The plan made for the due changes, if any were due.
    pub plan: Option<String>,
    pub due: Vec<DueChange>,
    /// Whether the plan went past the gate and was queued for the workers.
    pub queued: bool,
    /// Why the gate refused the plan (a person takes it from there).
    pub refused: Option<String>,
    /// Plans stored by an earlier pass that stopped before the gate, taken up again.
    pub resumed: Vec<String>,
}

impl LifecyclePass {
    /// One line for the server's console.
    pub fn summary(&self) -> String {
        let mut text = match &self.plan {
            None => "nothing due".to_string(),
            Some(plan) => {
                let count =
                    |step: LifecycleStep| self.due.iter().filter(|d| d.step == step).count();
                format!(
                    "plan {plan} for {} joiner change(s), {} start(s), {} leaver change(s): {}",
                    count(LifecycleStep::Joiner),
                    count(LifecycleStep::Start),
                    count(LifecycleStep::Leaver),
                    match (&self.refused, self.queued) {
                        (Some(why), _) => format!("refused ({why})"),
                        (None, true) => "queued".to_string(),
                        (None, false) => "stored".to_string(),
                    }
                )
            }
        };
        if !self.resumed.is_empty() {
            text.push_str(&format!("; taken up again: {}", self.resumed.join(", ")));
        }
        text
    }
}

impl Service {
    /// One pass of the automatic lifecycle, `why` saying what set it off (a sync, the date check):
    /// plans the due changes of the policies in grantflow.yaml's `policies` and queues the plan for the
    /// engine's workers.
    pub async fn run_lifecycle(&self, why: &str) -> Result<LifecyclePass> {
        let actor = actor();
        let mut pass = LifecyclePass::default();
        for plan_id in self.store.lifecycle_unapplied().await? {
            self.pass_gate(&actor, &plan_id).await?;
            pass.resumed.push(plan_id);
        }
        let policies = PolicySet::load(&self.config.policies)
            .map_err(|d| ServiceError::Policy(d.to_string()))?;
        if !policies.declares_accounts() {
            return Ok(pass);
        }
        let actual = self.actual_state().await?;
        if !actual.snapshots.contains_key(&actual.directory) {
            // Nothing is known of anyone before the first sync of the directory.
            return Ok(pass);
        }
        let done = self.store.lifecycle_keys().await?;
        let busy = self.store.lifecycle_busy().await?;
        let planned = grantflow_planner::plan_lifecycle(
            &policies,
            &actual,
            &format!("lifecycle ({why})"),
            self.now(),
            &done,
            &busy,
        )
        .map_err(policy_error)?;
        if planned.due.is_empty() {
            return Ok(pass);
        }
        self.refuse_unsupported(&planned.plan)?;
        let changes: Vec<LifecycleChange> = planned
            .due
            .iter()
            .map(|d| LifecycleChange {
                key: d.key.clone(),
                person: d.person.clone(),
                step: step_name(d.step).to_string(),
            })
            .collect();
        let plan_id = planned.plan.id.clone();
        if !self
            .store
            .save_lifecycle_plan(&planned.plan, &actor.id, &changes)
            .await?
        {
            // Another pass planned these changes first.
            return Ok(pass);
        }
        pass.plan = Some(plan_id.clone());
        pass.due = planned.due;
        match self.pass_gate(&actor, &plan_id).await? {
            None => pass.queued = true,
            Some(refusal) => pass.refused = Some(refusal),
        }
        Ok(pass)
    }

    /// Takes a stored lifecycle plan through the gate (with the leaver allowance for its own leavers
    /// when it retires accounts) and queues it; records what the gate said. `Some(why)` when refused.
    async fn pass_gate(&self, actor: &Actor, plan_id: &str) -> Result<Option<String>> {
        let plan = self.store.plan(plan_id).await?;
        let retires = plan
            .operations
            .iter()
            .any(|op| matches!(op.kind, grantflow_model::OpKind::RetireAccount { .. }));
        let options = ApplyOptions {
            queue_only: true,
            allow_leavers: retires.then(|| plan_id.to_string()),
            lease: Duration::from_secs(60),
            ..ApplyOptions::default()
        };
        match self
            .apply(actor, plan_id, &options, &grantflow_engine::Silent)
            .await
        {
            Ok(ApplyOutcome::Queued | ApplyOutcome::Ran { .. }) => {
                self.store
                    .set_lifecycle_state(plan_id, LifecycleState::Queued, None)
                    .await?;
                Ok(None)
            }
            Err(ServiceError::Refused { code, message }) => {
                let why = format!("{code}: {message}");
                self.store
                    .set_lifecycle_state(plan_id, LifecycleState::Refused, Some(&why))
                    .await?;
                Ok(Some(why))
            }
            Err(other) => Err(other),
        }
    }
}

fn step_name(step: LifecycleStep) -> &'static str {
    match step {
        LifecycleStep::Joiner => "joiner",
        LifecycleStep::Start => "start",
        LifecycleStep::Leaver => "leaver",
    }
}
