//! The gate every plan passes before the engine runs any of it, whichever
//! command or program asked: the plan is what was stored (its digest, its
//! jobs), it has the approval it needs (of this exact content, not lapsed),
//! it is not too old, nobody it gives access to has been switched off since
//! it was made, and it stays within the safety rail (per plan, per resource,
//! and the connection's removal budget over a rolling window).
//!
//! The engine runs only a [`Cleared`] plan, and only this module makes one:
//! there is no way around the gate.

use chrono::{DateTime, Utc};
use grantflow_model::{
    ConnectionName, GrantSource, LifecycleState, OpKind, Operation, Plan, Snapshot,
};
use grantflow_store::{Job, JobState, Store, StoredPlan};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use crate::EngineError;

/// Limits on how much access grantflow takes away before a person must
/// name the plan explicitly (`--allow-mass-removal PLAN_ID`). The `safety:`
/// section of grantflow.yaml.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyRail {
    /// Largest share (0.0–1.0) of a connection's existing direct grants one
    /// plan may remove.
    #[serde(default = "default_removal_share")]
    pub max_removal_share: f64,
    /// Most distinct accounts one plan may take access from.
    #[serde(default = "default_removed_accounts")]
    pub max_removed_accounts: usize,
    /// Largest share of the holders of any one resource a plan may remove…
    #[serde(default = "default_resource_share")]
    pub max_resource_removal_share: f64,
    /// …counted for resources with at least this many holders.
    #[serde(default = "default_resource_min_holders")]
    pub min_resource_holders: usize,
    /// Most removals per connection within `window_seconds`, counted across
    /// every plan, `do`, action and drift remediation. A deactivation or
    /// deletion counts as many removals as the grants the account holds.
    #[serde(default = "default_window_removals")]
    pub window_removals: u64,
    #[serde(default = "default_window_seconds")]
    pub window_seconds: u64,
}

fn default_removal_share() -> f64 {
    0.2
}
fn default_removed_accounts() -> usize {
    25
}
fn default_resource_share() -> f64 {
    0.5
}
fn default_resource_min_holders() -> usize {
    5
}
fn default_window_removals() -> u64 {
    200
}
fn default_window_seconds() -> u64 {
    3600
}

impl Default for SafetyRail {
    fn default() -> Self {
        Self {
            max_removal_share: default_removal_share(),
            max_removed_accounts: default_removed_accounts(),
            max_resource_removal_share: default_resource_share(),
            min_resource_holders: default_resource_min_holders(),
            window_removals: default_window_removals(),
            window_seconds: default_window_seconds(),
        }
    }
}

/// What the gate checks plans against.
#[derive(Debug, Clone)]
pub struct GateSettings {
    pub rail: SafetyRail,
    /// A plan never started that is older than this is refused: re-plan.
    pub max_plan_age: Duration,
}

impl Default for GateSettings {
    fn default() -> Self {
        Self {
            rail: SafetyRail::default(),
            max_plan_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What the gate reads besides the plan: the newest state of every
/// connection (with what grantflow applied since), and who is asking.
pub struct GateRequest<'a> {
    pub snapshots: &'a BTreeMap<ConnectionName, Snapshot>,
    /// Set when the person named this very plan to go past the safety rail.
    pub allow_mass_removal: Option<&'a str>,
    /// Set when the person named this very plan as a leaver plan: the accounts it retires (their
    /// retirement, and the removals and session revocations on them) do not count against the rail,
    /// which still holds for everything else in the plan (audited as `plan.leaver_allowed`).
    pub allow_leavers: Option<&'a str>,
    pub actor: &'a str,
}

/// A plan that passed the gate; only the engine runs plans, and only these.
#[derive(Debug, Clone)]
pub struct Cleared {
    pub(crate) plan: Plan,
}

impl Cleared {
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
}

/// Why the gate refused a plan. Each has a stable code and a remedy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "code", content = "detail", rename_all = "snake_case")]
pub enum Refusal {
    /// The stored plan is not what was made: its body, id, digest or jobs
    /// were changed.
    Tampered(String),
    /// The plan needs an approval it does not have.
    NeedsApproval {
        reason: String,
        requested_by: String,
    },
    /// It was approved, but the approval is of another content or lapsed.
    ApprovalLapsed(String),
    /// Never started and older than the limit.
    TooOld { age_hours: i64, limit_hours: i64 },
    /// Someone the plan gives access to was switched off since it was made.
    PreconditionChanged(Vec<String>),
    /// It takes away more than the safety rail allows.
    MassRemoval(Vec<String>),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Tampered(_) => "plan_tampered",
            Refusal::NeedsApproval { .. } => "approval_required",
            Refusal::ApprovalLapsed(_) => "approval_lapsed",
            Refusal::TooOld { .. } => "plan_too_old",
            Refusal::PreconditionChanged(_) => "precondition_changed",
            Refusal::MassRemoval(_) => "mass_removal",
        }
    }

    /// The reason, in words, with what to do about it.
    pub fn explain(&self, plan_id: &str) -> String {
        match self {
            Refusal::Tampered(why) => format!(
                "plan {plan_id} is not the plan that was made ({why}); it was not applied. Re-plan to get a trustworthy plan"
            ),
            Refusal::NeedsApproval {
                reason,
                requested_by,
            } => format!(
                "plan {plan_id} ({reason}, requested by {requested_by}) needs an approval first: grantflow approve {plan_id}"
            ),
            Refusal::ApprovalLapsed(why) => {
                format!("plan {plan_id} needs a new approval ({why}): grantflow approve {plan_id}")
            }
            Refusal::TooOld {
                age_hours,
                limit_hours,
            } => format!(
                "plan {plan_id} was made {age_hours} hours ago (the limit is {limit_hours}); what it was computed from may have changed: re-plan"
            ),
            Refusal::PreconditionChanged(changes) => format!(
                "plan {plan_id} gives access to people switched off since it was made ({}): re-plan",
                changes.join("; ")
            ),
            Refusal::MassRemoval(reasons) => format!(
                "plan {plan_id} trips the mass-removal safety rail: {}. Review it, then apply with: grantflow apply {plan_id} --allow-mass-removal {plan_id}",
                reasons.join("; ")
            ),
        }
    }
}

/// Checks plan `plan_id` and, when it passes, reserves its removals in the
/// connections' rolling budgets. Every refusal is an audit event.
pub async fn clear(
    store: &Store,
    plan_id: &str,
    request: &GateRequest<'_>,
    settings: &GateSettings,
) -> Result<Result<Cleared, Refusal>, EngineError> {
    let stored = store.stored_plan(plan_id).await?;
    let jobs = store.jobs(plan_id).await?;
    if let Err(why) = integrity(&stored, &jobs) {
        store
            .audit(
                request.actor,
                grantflow_store::AuditAction::PlanTampered,
                plan_id,
                json!({ "why": why }),
            )
            .await?;
        return Ok(Err(Refusal::Tampered(why)));
    }
    let plan = stored.plan;
    let now = store.now();
    let digest = plan.digest();
    let refusal = if let Some(refusal) = approval_refusal(store, &plan, &digest, now).await? {
        Some(refusal)
    } else if let Some(refusal) = age_refusal(&plan, &stored.status, settings, now) {
        Some(refusal)
    } else {
        let unfinished: BTreeSet<u32> = jobs
            .iter()
            .filter(|j| j.state != JobState::Succeeded)
            .map(|j| j.op_id)
            .collect();
        let changed = changed_preconditions(&plan, &unfinished, request.snapshots);
        if !changed.is_empty() {
            Some(Refusal::PreconditionChanged(changed))
        } else {
            rail_refusal(store, &plan, &unfinished, request, settings).await?
        }
    };
    if let Some(refusal) = refusal {
        store
            .audit(
                request.actor,
                grantflow_store::AuditAction::PlanRefused,
                plan_id,
                json!({ "code": refusal.code(), "why": refusal.explain(plan_id) }),
            )
            .await?;
        return Ok(Err(refusal));
    }
    Ok(Ok(Cleared { plan }))
}

/// The stored body hashes to the digest recorded at storing time and in
/// the `plan.created` event, the id is the one that digest names, and each
/// job is the operation it claims to be.
pub fn integrity(stored: &StoredPlan, jobs: &[Job]) -> Result<(), String> {
    let plan = &stored.plan;
    let digest = plan.digest();
    if stored.digest.is_empty() {
        return Err("no digest was recorded when it was stored".into());
    }
    if digest != stored.digest {
        return Err(
            "its stored body no longer matches the digest recorded when it was stored".into(),
        );
    }
    match &stored.created_digest {
        Some(created) if *created == digest => {}
        Some(_) => {
            return Err(
                "its digest differs from the one its plan.created audit event recorded".into(),
            );
        }
        None => return Err("no plan.created audit event records its digest".into()),
    }
    if plan.id != Plan::id_for(&digest) {
        return Err(format!(
            "its id does not name its content (the content names {})",
            Plan::id_for(&digest)
        ));
    }
    if jobs.len() != plan.operations.len() {
        return Err(format!(
            "it has {} operations but {} jobs",
            plan.operations.len(),
            jobs.len()
        ));
    }
    job_matches(plan, jobs)
}

/// Each job is keyed by the natural key of the operation it runs.
pub fn job_matches(plan: &Plan, jobs: &[Job]) -> Result<(), String> {
    for job in jobs {
        let Some(op) = plan.operation(grantflow_model::OperationId(job.op_id)) else {
            return Err(format!("job op{} has no operation", job.op_id));
        };
        if job.natural_key != op.natural_key() {
            return Err(format!(
                "job op{} is keyed {} but its operation is {}",
                job.op_id,
                job.natural_key,
                op.natural_key()
            ));
        }
    }
    Ok(())
}

async fn approval_refusal(
    store: &Store,
    plan: &Plan,
    digest: &str,
    now: DateTime<Utc>,
) -> Result<Option<Refusal>, EngineError> {
    let Some(approval) = store.approval(&plan.id).await? else {
        return Ok(None);
    };
    if approval.covers(digest, now) {
        return Ok(None);
    }
    Ok(Some(match (&approval.approved_by, &approval.digest) {
        (None, _) => Refusal::NeedsApproval {
            reason: approval.reason,
            requested_by: approval.requested_by,
        },
        (Some(by), Some(approved)) if approved != digest => Refusal::ApprovalLapsed(format!(
            "{by} approved other content than the plan now holds"
        )),
        (Some(by), _) => Refusal::ApprovalLapsed(format!("the approval by {by} expired")),
    }))
}

fn age_refusal(
    plan: &Plan,
    status: &str,
    settings: &GateSettings,
    now: DateTime<Utc>,
) -> Option<Refusal> {
    // A plan already started is resumed, not re-judged: its operations are observed before they act.
    if status != "reviewed" {
        return None;
    }
    let age = now - plan.created_at;
    let limit = chrono::Duration::from_std(settings.max_plan_age).unwrap_or(chrono::Duration::MAX);
    (age > limit).then(|| Refusal::TooOld {
        age_hours: age.num_hours(),
        limit_hours: limit.num_hours(),
    })
}

/// People (accounts) the plan gives access to who were usable when it was
/// made and are switched off now.
fn changed_preconditions(
    plan: &Plan,
    unfinished: &BTreeSet<u32>,
    snapshots: &BTreeMap<ConnectionName, Snapshot>,
) -> Vec<String> {
    let grants_left = plan
        .operations
        .iter()
        .any(|op| unfinished.contains(&op.id.0) && matches!(op.kind, OpKind::AddGrant { .. }));
    if !grants_left {
        return vec![];
    }
    let mut changed = Vec::new();
    for condition in &plan.preconditions {
        // Switched off already when the plan was made: the plan was made knowing it.
        if switched_off(condition.state) {
            continue;
        }
        let now = snapshots
            .get(&condition.connection)
            .and_then(|s| s.account(&condition.account_id))
            .map(|a| a.state);
        if let Some(state) = now.filter(|s| switched_off(*s)) {
            changed.push(format!(
                "{} is {} in {} (it was {} when the plan was made)",
                condition.login, state, condition.connection, condition.state
            ));
        }
    }
    changed
}

fn switched_off(state: LifecycleState) -> bool {
    matches!(
        state,
        LifecycleState::Suspended | LifecycleState::Deprovisioned
    )
}

/// How many removals an operation amounts to: one grant; every member's
/// inherited access for a group's grant; every grant an account holds for
/// its suspension, deactivation or deletion; for a resource's deletion,
/// everything held on it or through it (at least one); one for a push's
/// deactivation (its deletion then takes nothing more); nothing for an
/// action that takes nothing away (a password reset).
pub fn removal_weight(op: &Operation, snapshots: &BTreeMap<ConnectionName, Snapshot>) -> u64 {
    let snapshot = snapshots.get(&op.connection);
    match &op.kind {
        OpKind::RemoveGrant { .. } | OpKind::DeactivatePush { .. } => 1,
        OpKind::DeleteResource { resource } => snapshot
            .map(|s| {
                let id = s
                    .resource_by_name(resource.kind.as_str(), &resource.name)
                    .map_or(resource.id.as_str(), |r| r.id.as_str());
                let through = GrantSource::Group {
                    group_id: id.to_string(),
                };
                let grants = s
                    .grants
                    .iter()
                    .filter(|g| g.resource_id == id || g.source == through)
                    .count();
                let held = s
                    .resource_grants
                    .iter()
                    .filter(|g| g.resource_id == id || g.holder_id == id)
                    .count();
                (grants + held) as u64
            })
            .unwrap_or(0)
            .max(1),
        OpKind::RemoveGroupGrant { group, .. } => snapshot
            .map(|s| {
                s.grants
                    .iter()
                    .filter(|g| g.resource_id == group.id && g.source == GrantSource::Direct)
                    .count() as u64
            })
            .unwrap_or(0)
            .max(1),
        // Retiring an account (suspend, deactivate, delete) takes everything it holds, like the
        // account actions of the same names.
        OpKind::AccountAction {
            account, action, ..
        } if TAKES_ALL_ACCESS.contains(&action.as_str()) => held_by(snapshot, &account.id),
        OpKind::RetireAccount { account, .. } => held_by(snapshot, &account.id),
        _ => 0,
    }
}

/// Every grant `account` holds (at least one: an account's retirement is a removal of its own).
fn held_by(snapshot: Option<&Snapshot>, account: &str) -> u64 {
    snapshot
        .map(|s| s.grants.iter().filter(|g| g.account_id == account).count() as u64)
        .unwrap_or(0)
        .max(1)
}

/// The unfinished operations of a leaver plan the leaver allowance covers: each account retirement,
/// and every removal or action on an account the plan retires.
fn leaver_operations(plan: &Plan, unfinished: &BTreeSet<u32>) -> BTreeSet<u32> {
    let retired: BTreeSet<(&ConnectionName, &str)> = plan
        .operations
        .iter()
        .filter_map(|op| match &op.kind {
            OpKind::RetireAccount { account, .. } => Some((&op.connection, account.id.as_str())),
            _ => None,
        })
        .collect();
    plan.operations
        .iter()
        .filter(|op| unfinished.contains(&op.id.0) && !op.widens_access())
        .filter(|op| {
            op.account()
                .is_some_and(|a| retired.contains(&(&op.connection, a.id.as_str())))
        })
        .map(|op| op.id.0)
        .collect()
}

/// Account actions that take away everything the account holds.
const TAKES_ALL_ACCESS: &[&str] = &["suspend", "deactivate", "deprovision", "delete"];

/// Why the plan's unfinished removals go past the per-plan limits (share of
/// a connection, accounts, share of one resource's holders).
pub fn plan_rail_violations(
    plan: &Plan,
    unfinished: &BTreeSet<u32>,
    snapshots: &BTreeMap<ConnectionName, Snapshot>,
    rail: &SafetyRail,
) -> Vec<String> {
    let removals: Vec<(&Operation, u64)> = plan
        .operations
        .iter()
        .filter(|op| unfinished.contains(&op.id.0))
        .map(|op| (op, removal_weight(op, snapshots)))
        .filter(|(_, weight)| *weight > 0)
        .collect();
    if removals.is_empty() {
        return vec![];
    }
    let mut reasons = Vec::new();
    let accounts: BTreeSet<(&ConnectionName, String)> = removals
        .iter()
        .map(|(op, _)| (&op.connection, op.holder().id().to_string()))
        .collect();
    if accounts.len() > rail.max_removed_accounts {
        reasons.push(format!(
            "it takes access from {} accounts (the limit is {})",
            accounts.len(),
            rail.max_removed_accounts
        ));
    }
    let mut per_connection: BTreeMap<&ConnectionName, u64> = BTreeMap::new();
    for (op, weight) in &removals {
        *per_connection.entry(&op.connection).or_default() += weight;
    }
    for (connection, removed) in per_connection {
        let existing = snapshots
            .get(connection)
            .map(|s| {
                s.grants
                    .iter()
                    .filter(|g| g.source == GrantSource::Direct)
                    .count()
            })
            .unwrap_or(0)
            .max(1) as u64;
        let share = removed as f64 / existing as f64;
        if share > rail.max_removal_share {
            reasons.push(format!(
                "it removes {removed} of {existing} direct grants in {connection} ({:.0}%, the limit is {:.0}%)",
                share * 100.0,
                rail.max_removal_share * 100.0
            ));
        }
    }
    // Per resource: how many of its holders lose it.
    let mut per_resource: BTreeMap<(&ConnectionName, &str), (String, BTreeSet<&str>)> =
        BTreeMap::new();
    for (op, _) in &removals {
        if let OpKind::RemoveGrant {
            account, resource, ..
        } = &op.kind
        {
            per_resource
                .entry((&op.connection, resource.id.as_str()))
                .or_insert_with(|| {
                    (
                        format!("{} \"{}\"", resource.kind, resource.name),
                        BTreeSet::new(),
                    )
                })
                .1
                .insert(account.id.as_str());
        }
    }
    let mut holders_of: HashMap<(&ConnectionName, &str), usize> = HashMap::new();
    for (connection, resource) in per_resource.keys() {
        let count = snapshots
            .get(*connection)
            .map(|s| {
                s.grants
                    .iter()
                    .filter(|g| g.resource_id == *resource)
                    .map(|g| g.account_id.as_str())
                    .collect::<HashSet<_>>()
                    .len()
            })
            .unwrap_or(0);
        holders_of.insert((connection, resource), count);
    }
    for ((connection, resource), (label, removed)) in &per_resource {
        let holders = holders_of
            .get(&(*connection, *resource))
            .copied()
            .unwrap_or(0)
            .max(removed.len());
        if holders >= rail.min_resource_holders
            && removed.len() as f64 > rail.max_resource_removal_share * holders as f64
        {
            reasons.push(format!(
                "it removes {} of {holders} holders of {connection} {label} (the limit is {:.0}% of a resource with at least {} holders)",
                removed.len(),
                rail.max_resource_removal_share * 100.0,
                rail.min_resource_holders
            ));
        }
    }
    reasons
}

async fn rail_refusal(
    store: &Store,
    plan: &Plan,
    unfinished: &BTreeSet<u32>,
    request: &GateRequest<'_>,
    settings: &GateSettings,
) -> Result<Option<Refusal>, EngineError> {
    let rail = &settings.rail;
    let allowed = request.allow_mass_removal == Some(plan.id.as_str());
    // The leaver allowance takes the leavers' operations out of the count, never the rail itself.
    let leavers = if request.allow_leavers == Some(plan.id.as_str()) {
        leaver_operations(plan, unfinished)
    } else {
        BTreeSet::new()
    };
    let counted: BTreeSet<u32> = unfinished.difference(&leavers).copied().collect();
    let unfinished = &counted;
    let mut reasons = plan_rail_violations(plan, unfinished, request.snapshots, rail);
    if !reasons.is_empty() && !allowed {
        return Ok(Some(Refusal::MassRemoval(reasons)));
    }
    let mut weights: BTreeMap<ConnectionName, u64> = BTreeMap::new();
    for op in plan
        .operations
        .iter()
        .filter(|op| unfinished.contains(&op.id.0))
    {
        *weights.entry(op.connection.clone()).or_default() += removal_weight(op, request.snapshots);
    }
    let weights: Vec<(ConnectionName, u64)> = weights.into_iter().collect();
    let exceeded = store
        .reserve_removals(
            &plan.id,
            &weights,
            Duration::from_secs(rail.window_seconds),
            rail.window_removals,
            allowed,
            request.actor,
        )
        .await?;
    for over in &exceeded {
        reasons.push(format!(
            "with the {} removal(s) it makes, {} would lose {} in {} minutes (the limit is {})",
            over.wanted,
            over.connection,
            over.used + over.wanted,
            rail.window_seconds / 60,
            over.limit
        ));
    }
    if !leavers.is_empty() && (reasons.is_empty() || allowed) {
        let accounts: BTreeSet<String> = plan
            .operations
            .iter()
            .filter(|op| matches!(op.kind, OpKind::RetireAccount { .. }))
            .filter(|op| leavers.contains(&op.id.0))
            .map(|op| format!("{} {}", op.connection, op.holder().label()))
            .collect();
        store
            .audit(
                request.actor,
                grantflow_store::AuditAction::PlanLeaverAllowed,
                &plan.id,
                json!({ "retired": accounts, "operations": leavers.len() }),
            )
            .await?;
    }
    if reasons.is_empty() {
        return Ok(None);
    }
    if allowed {
        store
            .audit(
                request.actor,
                grantflow_store::AuditAction::PlanMassRemovalAllowed,
                &plan.id,
                json!({ "why": reasons }),
            )
            .await?;
        return Ok(None);
    }
    Ok(Some(Refusal::MassRemoval(reasons)))
}

#[cfg(test)]
mod weight_tests {
    use super::*;
    use grantflow_model::{AccountRef, Grant, OperationId, RetireMode};

    #[test]
    fn retiring_an_account_weighs_everything_it_holds_for_the_rail() {
        let okta = ConnectionName::new("okta");
        let mut snapshot = Snapshot::default();
        for group in ["g1", "g2", "g3"] {
            snapshot.grants.push(Grant {
                account_id: "00u1".into(),
                resource_id: group.into(),
                entitlement: "member".into(),
                source: GrantSource::Direct,
            });
        }
        let snapshots = BTreeMap::from([(okta.clone(), snapshot)]);
        let retire = |id: &str, mode| Operation {
            id: OperationId(0),
            connection: okta.clone(),
            kind: OpKind::retire_account(
                AccountRef {
                    id: id.into(),
                    login: format!("{id}@example.com"),
                },
                mode,
            ),
            reasons: vec![],
            depends_on: vec![],
        };
        for mode in RetireMode::ALL {
            assert_eq!(
                removal_weight(&retire("00u1", mode), &snapshots),
                3,
                "{mode}"
            );
        }
        assert_eq!(
            removal_weight(&retire("00u2", RetireMode::Suspend), &snapshots),
            1,
            "an account that holds nothing still counts as one removal"
        );
    }
}
