//! Plans: from policies, from one change in words (`do`), from one account
//! action; their confirmation, approval and execution through the engine's
//! gate; the workers that run queued plans.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use grantflow_engine::{Engine, EngineOptions, GateRequest, Progress, Report};
use grantflow_graph::PlanReach;
use grantflow_model::{
    AccountRef, ConnectionName, OpKind, OperationId, Plan, ResourceRef, Snapshot,
};
use grantflow_planner::{ActualState, ChangesFor, PlanError};
use grantflow_policy::PolicySet;
use grantflow_store::{Approval, ApprovalError};
use secrecy::SecretString;
use serde::Serialize;

use crate::{Actor, Result, Role, Service, ServiceError};

/// A plan as proposed to a reviewer: the plan, the production reach of its
/// widening changes (when reachability is configured), and its changes
/// grouped by person.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    /// In JSON, the plan's own fields sit at the top, beside the rest.
    #[serde(flatten)]
    pub plan: Plan,
    pub reach: Option<PlanReach>,
    pub people: Vec<ChangesFor>,
    /// Whether the plan was stored (an empty plan from `do` is not).
    pub stored: bool,
    /// Advice about the policies that is not an error.
    pub warnings: Vec<String>,
}

/// How often workers act on the requests' timers: time-bound access ends within about this (plus the
/// worker's pick-up) of its expiry.
const REQUEST_TIMER_PERIOD: Duration = Duration::from_secs(1);

/// What `grantflow action` asked for.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ActionRequest {
    pub connection: String,
    pub verb: String,
    /// A login, email or id (a group name for `push-group`).
    pub who: String,
    /// The app label for `assign-app`, `remove-app` and `push-group`.
    pub app: Option<String>,
    /// `push-group`: the group's name in the app (default: the same name).
    pub target_name: Option<String>,
    /// `key=value` options of the action.
    pub options: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub concurrency: usize,
    /// Must name the plan to go past the safety rail.
    pub allow_mass_removal: Option<String>,
    /// Must name the plan for its leavers' retirements to go past the safety rail (the rest of
    /// the plan still counts).
    pub allow_leavers: Option<String>,
    /// How long this process holds an operation before another worker may take it over.
    pub lease: Duration,
    /// Only queue the plan for workers.
    pub queue_only: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            allow_mass_removal: None,
            allow_leavers: None,
            lease: Duration::from_secs(60),
            queue_only: false,
        }
    }
}

/// How an apply ended.
#[derive(Debug, Clone)]
pub enum ApplyOutcome {
    /// Run here; `stale` when the plan was computed from a sync that is no
    /// longer the newest (each operation was checked before it was applied).
    Ran { report: Report, stale: bool },
    /// Queued for `grantflow worker` processes.
    Queued,
}

/// What checking policy files found.
#[derive(Debug, Clone)]
pub struct PolicyCheck {
    pub policies: usize,
    /// Whether the last sync was there to check what they name.
    pub against_sync: bool,
    pub warnings: Vec<String>,
}

pub(crate) fn policy_error(error: PlanError) -> ServiceError {
    match error {
        PlanError::Policy(problems) => ServiceError::Policy(problems),
        other => ServiceError::Invalid(other.to_string()),
    }
}

impl Service {
    /// Loads and checks policy files against the last sync (names, types,
    /// attributes), without planning.
    pub async fn check_policies(&self, path: &Path) -> Result<PolicyCheck> {
        let set = PolicySet::load(path).map_err(|d| ServiceError::Policy(d.to_string()))?;
        let actual = self.actual_state().await?;
        let against_sync = !actual.snapshots.is_empty();
        if against_sync {
            set.check(&actual.snapshots, &actual.directory)
                .map_err(|d| ServiceError::Policy(d.to_string()))?;
        }
        Ok(PolicyCheck {
            policies: set.policies.len(),
            against_sync,
            warnings: set.warnings().iter().map(ToString::to_string).collect(),
        })
    }

    /// Plans the policies in `path` against the newest syncs and stores the
    /// plan for review.
    pub async fn plan_policies(&self, actor: &Actor, path: &Path) -> Result<Proposal> {
        let policies = PolicySet::load(path).map_err(|d| ServiceError::Policy(d.to_string()))?;
        let actual = self.actual_state().await?;
        let origin = format!("policies {}", path.display());
        let plan = grantflow_planner::plan_policies(&policies, &actual, &origin, self.now())
            .map_err(policy_error)?;
        self.refuse_unsupported(&plan)?;
        let conflicts = self.conflicts_of_plan(&policies, &plan, &actual).await?;
        self.store.save_plan(&plan, &actor.id).await?;
        let mut proposal = self.proposal(plan, &actual, true).await?;
        proposal.warnings = policies
            .warnings()
            .iter()
            .map(ToString::to_string)
            .chain(conflicts)
            .collect();
        Ok(proposal)
    }

    /// One change in words: resolved against the newest syncs (and what
    /// grantflow applied since), checked live (operations already in effect
    /// are dropped), refused early when the system cannot do it, and stored
    /// when anything is left to do.
    pub async fn propose_request(&self, actor: &Actor, text: &str) -> Result<Proposal> {
        self.propose_request_awaiting(actor, text, None).await
    }

    /// [`Service::propose_request`], the plan stored as waiting for an
    /// approval (for `approval`'s reason) in the same transaction.
    pub(crate) async fn propose_request_awaiting(
        &self,
        actor: &Actor,
        text: &str,
        approval: Option<&str>,
    ) -> Result<Proposal> {
        let request = grantflow_planner::parse_request(text)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let actual = self.actual_state().await?;
        let plan = grantflow_planner::plan_request(&request, &actual, self.now())
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        self.refuse_unsupported(&plan)?;
        let plan = self.without_changes_already_live(plan, &actual).await?;
        let stored = !plan.operations.is_empty();
        if stored {
            self.store
                .save_plan_for_approval(&plan, &actor.id, approval)
                .await?;
        }
        self.proposal(plan, &actual, stored).await
    }

    /// One account action (suspend, reset MFA, …), an app assignment or a
    /// group push, as a one-operation plan, stored for confirmation.
    pub async fn propose_action(&self, actor: &Actor, action: &ActionRequest) -> Result<Proposal> {
        self.propose_action_awaiting(actor, action, None).await
    }

    /// [`Service::propose_action`], the plan stored as waiting for an
    /// approval (for `approval`'s reason) in the same transaction.
    pub(crate) async fn propose_action_awaiting(
        &self,
        actor: &Actor,
        action: &ActionRequest,
        approval: Option<&str>,
    ) -> Result<Proposal> {
        let actual = self.actual_state().await?;
        let plan = self.action_plan(actor, action, &actual)?;
        self.refuse_unsupported(&plan)?;
        self.store
            .save_plan_for_approval(&plan, &actor.id, approval)
            .await?;
        self.proposal(plan, &actual, true).await
    }

    /// The one-operation plan of an account action, not stored.
    pub(crate) fn action_plan(
        &self,
        actor: &Actor,
        action: &ActionRequest,
        actual: &ActualState,
    ) -> Result<Plan> {
        let connection = ConnectionName::new(action.connection.clone());
        self.connector(&connection)?;
        let Some(snapshot) = actual.snapshots.get(&connection) else {
            return Err(ServiceError::Invalid(format!(
                "connection {connection} has not been synced yet; run `grantflow sync` first"
            )));
        };
        let kind = operation_kind(snapshot, action).map_err(ServiceError::Invalid)?;
        let origin = format!("action {} {} {}", connection, action.verb, action.who);
        let reason = format!("action {} requested by {}", action.verb, actor.id);
        let plan = grantflow_planner::plan_changes(
            vec![(kind, connection, vec![reason])],
            actual,
            &origin,
            self.now(),
            vec![],
        )
        .map_err(policy_error)?;
        Ok(plan)
    }

    pub(crate) async fn proposal(
        &self,
        plan: Plan,
        actual: &std::sync::Arc<ActualState>,
        stored: bool,
    ) -> Result<Proposal> {
        let reach = self.review_reach(&plan, actual).await?;
        let people = grantflow_planner::by_person(&plan, actual);
        Ok(Proposal {
            plan,
            reach,
            people,
            stored,
            warnings: vec![],
        })
    }

    /// Refuses a plan with an operation its connection cannot perform,
    /// naming the system and what it does support, before anything is stored.
    pub(crate) fn refuse_unsupported(&self, plan: &Plan) -> Result<()> {
        for op in &plan.operations {
            let connector = self.connector(&op.connection)?;
            let description = connector.describe();
            if !description.operations.contains(&op.verb()) {
                return Err(ServiceError::refused(
                    "unsupported_operation",
                    format!(
                        "{} ({}) cannot {}: {} supports {}",
                        op.connection,
                        description.system,
                        op.describe().trim_start_matches(['+', '-', ' ']),
                        description.system,
                        description.operations.join(", ")
                    ),
                ));
            }
            if let Err(failure) = connector.check(op) {
                return Err(ServiceError::refused(
                    "unsupported_operation",
                    format!("{}: {}", op.connection, failure.message()),
                ));
            }
        }
        Ok(())
    }

    /// The last sync may predate changes made since by hand: read the one
    /// object each operation touches and drop operations already in effect,
    /// so the review shows only real changes. The plan is named anew by
    /// what is left.
    pub(crate) async fn without_changes_already_live(
        &self,
        plan: Plan,
        actual: &ActualState,
    ) -> Result<Plan> {
        let mut kept = Vec::new();
        let mut notes = plan.review.notes.clone();
        for op in &plan.operations {
            // Someone is waiting for this answer: the check never waits out a vendor's rate limit (a busy
            // API would stall every request until the reset); unchecked, the engine's call settles it.
            let connector = self.connector(&op.connection)?;
            let live =
                grantflow_connectors::transport::without_waiting(connector.observe(op)).await;
            let change = op.describe();
            let change = change.trim_start_matches(['+', '-', ' ']);
            match live {
                Ok(grantflow_connectors::Observed::Done) => notes.push(format!(
                    "{change} is already in effect in {} (checked live): nothing to do",
                    op.connection
                )),
                Ok(_) => kept.push((op.kind.clone(), op.connection.clone(), op.reasons.clone())),
                Err(failure) => {
                    notes.push(format!(
                        "{change} was not checked live in {} ({failure}); applying it settles whether it is needed",
                        op.connection
                    ));
                    kept.push((op.kind.clone(), op.connection.clone(), op.reasons.clone()));
                }
            }
        }
        if kept.len() == plan.operations.len() && notes.len() == plan.review.notes.len() {
            return Ok(plan);
        }
        grantflow_planner::plan_changes(kept, actual, &plan.origin, plan.created_at, notes)
            .map_err(policy_error)
    }

    /// Records that a person confirmed a stored plan (at a prompt, with `--yes`, by a click).
    pub async fn confirm(
        &self,
        actor: &Actor,
        plan_id: &str,
        via: &str,
        details: serde_json::Value,
    ) -> Result<()> {
        let mut details = details;
        if let Some(map) = details.as_object_mut() {
            map.insert("confirmed_by".into(), actor.id.clone().into());
            map.insert("via".into(), via.into());
        }
        self.store
            .audit(
                &actor.id,
                grantflow_store::AuditAction::PlanConfirmed,
                plan_id,
                details,
            )
            .await?;
        Ok(())
    }

    /// Records that a person declined to apply a stored plan.
    pub async fn decline(
        &self,
        actor: &Actor,
        plan_id: &str,
        details: serde_json::Value,
    ) -> Result<()> {
        self.store
            .audit(
                &actor.id,
                grantflow_store::AuditAction::PlanDeclined,
                plan_id,
                details,
            )
            .await?;
        Ok(())
    }

    /// Applies a stored plan: the engine's gate first (the plan is what was
    /// made, approved where needed, not too old, nobody it gives access to
    /// was switched off since, within the safety rail), then durable
    /// execution, or queueing for workers.
    pub async fn apply(
        &self,
        actor: &Actor,
        plan_id: &str,
        options: &ApplyOptions,
        progress: &dyn Progress,
    ) -> Result<ApplyOutcome> {
        let plan = self.store.plan(plan_id).await?;
        for connection in plan.operations.iter().map(|op| &op.connection) {
            if !actor.may_operate(connection.as_str()) {
                return Err(ServiceError::Forbidden(format!(
                    "{actor} may not change {connection}"
                )));
            }
        }
        let actual = self.actual_state().await?;
        let request = GateRequest {
            snapshots: &actual.snapshots,
            allow_mass_removal: options.allow_mass_removal.as_deref(),
            allow_leavers: options.allow_leavers.as_deref(),
            actor: &actor.id,
        };
        let cleared =
            match grantflow_engine::clear(&self.store, plan_id, &request, &self.config.gate())
                .await?
            {
                Ok(cleared) => cleared,
                Err(refusal) => {
                    return Err(ServiceError::refused(
                        refusal.code(),
                        refusal.explain(plan_id),
                    ));
                }
            };
        let stale = cleared
            .plan()
            .basis
            .iter()
            .any(|b| actual.sync_ids.get(&b.connection) != Some(&b.sync_id));
        let engine = Engine::new(
            &self.store,
            &self.connectors,
            actor.id.clone(),
            EngineOptions {
                concurrency: options.concurrency.max(1),
                observe_first: stale,
                lease: options.lease.max(Duration::from_secs(1)),
                ..EngineOptions::default()
            },
        );
        if options.queue_only {
            engine.queue(&cleared).await?;
            return Ok(ApplyOutcome::Queued);
        }
        let report = engine.apply(&cleared, progress).await?;
        Ok(ApplyOutcome::Ran { report, stale })
    }

    /// Approves a plan that waits for one: of its current content, for the
    /// configured time; never by the one who asked for it.
    pub async fn approve(&self, actor: &Actor, plan_id: &str) -> Result<Approval> {
        if !actor.has(&Role::Approver) {
            return Err(ServiceError::Forbidden(format!(
                "{actor} may not approve plans"
            )));
        }
        let stored = self.store.stored_plan(plan_id).await?;
        let jobs = self.store.jobs(plan_id).await?;
        if let Err(why) = grantflow_engine::plan_integrity(&stored, &jobs) {
            return Err(ServiceError::refused(
                "plan_tampered",
                format!(
                    "plan {plan_id} is not the plan that was made ({why}); it cannot be approved"
                ),
            ));
        }
        match self
            .store
            .approve(
                plan_id,
                &actor.id,
                &stored.plan.digest(),
                self.config.approval_validity(),
            )
            .await
        {
            Ok(approval) => Ok(approval),
            Err(ApprovalError::OwnRequest { plan, actor }) => Err(ServiceError::refused(
                "self_approval",
                format!("plan {plan} was requested by {actor}; somebody else must approve it"),
            )),
            Err(ApprovalError::NotRequired(plan)) => Err(ServiceError::refused(
                "approval_not_required",
                format!("plan {plan} does not need an approval"),
            )),
            Err(ApprovalError::Store(error)) => Err(error.into()),
        }
    }

    /// Runs jobs of queued plans until `stop` resolves (or, with
    /// `exit_when_idle`, until no queued plan has unfinished operations);
    /// returns how many ran.
    pub async fn run_worker(
        &self,
        actor: &Actor,
        options: &ApplyOptions,
        exit_when_idle: bool,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<usize> {
        let engine = Engine::new(
            &self.store,
            &self.connectors,
            actor.id.clone(),
            EngineOptions {
                concurrency: options.concurrency.max(1),
                lease: options.lease.max(Duration::from_secs(1)),
                ..EngineOptions::default()
            },
        );
        tokio::pin!(stop);
        let mut ran = 0usize;
        let mut last_tick: Option<std::time::Instant> = None;
        loop {
            // The requests' timers (time-bound access ending, pending requests expiring) are in the store;
            // every worker acts on what is due, once a second, and queues what it decides for itself.
            if last_tick.is_none_or(|at| at.elapsed() >= REQUEST_TIMER_PERIOD) {
                last_tick = Some(std::time::Instant::now());
                if let Err(error) = self.tick_requests().await {
                    tracing::error!(message = "The requests' timers failed; retrying in a second.", error = %error);
                }
            }
            let now_ran = engine.run_available().await?;
            ran += now_ran;
            if now_ran > 0 {
                continue;
            }
            if exit_when_idle && self.store.open_jobs().await? == 0 {
                return Ok(ran);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = &mut stop => return Ok(ran),
            }
        }
    }

    /// Secrets the plan's operations produced for a person to see once (a
    /// temporary password): handed out here and kept nowhere.
    pub fn take_secrets(&self, plan: &Plan) -> Vec<(OperationId, String, SecretString)> {
        plan.operations
            .iter()
            .filter_map(|op| {
                let secret = self.connectors.get(&op.connection)?.take_secret(op)?;
                let who = op.account().map(|a| a.login.clone()).unwrap_or_default();
                Some((op.id, who, secret))
            })
            .collect()
    }
}

/// `key=value` options as a map; a bare `key` means `key=true`.
fn options(raw: &[String]) -> std::result::Result<BTreeMap<String, String>, String> {
    raw.iter()
        .map(|option| {
            let (key, value) = option.split_once('=').unwrap_or((option.as_str(), "true"));
            let key = key.trim().replace('-', "_");
            if key.is_empty() {
                return Err(format!("option \"{option}\" has no name"));
            }
            Ok((key, value.trim().to_string()))
        })
        .collect()
}

fn account(snapshot: &Snapshot, who: &str) -> std::result::Result<AccountRef, String> {
    snapshot
        .account_by_login_or_email(who)
        .or_else(|| snapshot.account(who))
        .map(|a| AccountRef {
            id: a.id.clone(),
            login: a.login.clone(),
        })
        .ok_or_else(|| format!("no account \"{who}\" in the last sync (run `grantflow sync`?)"))
}

fn resource(
    snapshot: &Snapshot,
    kind: &str,
    name: Option<&str>,
) -> std::result::Result<ResourceRef, String> {
    let name = name.ok_or_else(|| format!("name the {kind} with --{kind}"))?;
    snapshot
        .resource_by_name(kind, name)
        .map(grantflow_planner::resource_ref)
        .ok_or_else(|| format!("no {kind} \"{name}\" in the last sync"))
}

fn operation_kind(
    snapshot: &Snapshot,
    action: &ActionRequest,
) -> std::result::Result<OpKind, String> {
    let verb = action.verb.replace('-', "_");
    Ok(match verb.as_str() {
        "assign_app" => OpKind::AddGrant {
            account: account(snapshot, &action.who)?,
            resource: resource(snapshot, "app", action.app.as_deref())?,
            entitlement: "assigned".into(),
        },
        "remove_app" => OpKind::RemoveGrant {
            account: account(snapshot, &action.who)?,
            resource: resource(snapshot, "app", action.app.as_deref())?,
            entitlement: "assigned".into(),
        },
        "push_group" => OpKind::PushGroup {
            group: resource(snapshot, "group", Some(&action.who))?,
            resource: resource(snapshot, "app", action.app.as_deref())?,
            target_name: action.target_name.clone(),
        },
        _ => OpKind::account_action(
            account(snapshot, &action.who)?,
            verb,
            options(&action.options)?,
        ),
    })
}
