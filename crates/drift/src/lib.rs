//! Drift: where actual access (the last sync) has moved away from desired
//! access (the policies), person by person and system by system, with what
//! to do about each finding.
//!
//! Architecture invariant: no IO, like the planner it builds on. Detection
//! reads snapshots and policies; remediation returns plans, which the engine
//! executes like any other plan (audited, rate limited, behind the
//! mass-change safety rail).
//!
//! Managed scope: only resources some policy names, or that configuration
//! puts in scope, are judged. Every other grant is counted as unmanaged and
//! never becomes an operation.

mod detect;
#[cfg(test)]
mod tests;

pub use detect::detect;

use chrono::{DateTime, Utc};
use grantflow_model::{
    Account, AccountRef, ConnectionName, LifecycleState, OpKind, Plan, ResourceRef, Snapshot,
};
use grantflow_planner::{ActualState, Correlation, PlanError, plan_changes, policy_reasons};
use grantflow_policy::PolicySet;
pub use grantflow_policy::RemediationMode;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The `drift:` section of grantflow.yaml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftSettings {
    /// The mode for findings no policy or system setting decides (default `report`).
    #[serde(default = "default_mode")]
    pub mode: RemediationMode,
    /// Per connection: the most grantflow may do there. A connection set to
    /// `report` is never changed by drift remediation, whatever a policy says.
    #[serde(default)]
    pub systems: BTreeMap<String, RemediationMode>,
    /// Resources no policy names that are still judged: every grant on them
    /// that no policy wants is unexpected.
    #[serde(default)]
    pub scope: Vec<ScopeEntry>,
    /// How accounts are matched to people after the work email.
    #[serde(default)]
    pub correlation: Correlation,
    /// Accounts that belong to no person on purpose (an integration's API user, a bot): never
    /// reported as orphans.
    #[serde(default)]
    pub service_accounts: Vec<ServiceAccount>,
    /// `grantflow serve` checks drift this often (seconds); 0 turns the
    /// schedule off (checks still follow each sync).
    #[serde(default)]
    pub interval_seconds: u64,
}

fn default_mode() -> RemediationMode {
    RemediationMode::Report
}

/// One resource put in the managed scope by configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeEntry {
    /// The connection name.
    pub system: String,
    /// `<kind>/<name>`, as in policies.
    pub resource: String,
}

/// An account that is no person's on purpose, named by configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccount {
    /// The connection name.
    pub system: String,
    /// The account's login, email or id (compared without case).
    pub account: String,
}

impl ServiceAccount {
    fn names(&self, account: &Account) -> bool {
        let wanted = self.account.as_str();
        [
            Some(&account.login),
            account.email.as_ref(),
            Some(&account.id),
        ]
        .into_iter()
        .flatten()
        .any(|name| name.eq_ignore_ascii_case(wanted))
    }
}

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A policy wants the grant; the system does not have it.
    MissingGrant,
    /// A direct grant on a managed resource that no policy wants: made
    /// outside grantflow, or left behind.
    UnexpectedGrant,
    /// Access on a managed resource through something no policy manages (an
    /// unmanaged group), so grantflow cannot say why it is there.
    UnknownSource,
    /// An active account that matches no person, or a departed one.
    OrphanAccount,
    /// A person the directory suspended or deprovisioned who still has an
    /// active account here.
    InactivePersonWithAccess,
    /// An active person whose account here was suspended while policies
    /// grant them access on it.
    SuspendedAccount,
    /// A person matches several accounts (or an account several people):
    /// nothing is decided on a guess.
    AmbiguousMatch,
    /// A membership made by the system's own rule: shown, not drift.
    RuleManaged,
    /// A person holds both sides of a separation-of-duties conflict rule.
    SodConflict,
    /// A profile attribute a policy's `profile:` sets holds another value (changed by hand, or
    /// never set).
    ProfileMismatch,
}

impl FindingKind {
    pub fn label(self) -> &'static str {
        match self {
            FindingKind::MissingGrant => "missing grant",
            FindingKind::UnexpectedGrant => "unexpected grant",
            FindingKind::UnknownSource => "unknown source",
            FindingKind::OrphanAccount => "orphan account",
            FindingKind::InactivePersonWithAccess => "inactive person with access",
            FindingKind::SuspendedAccount => "suspended account",
            FindingKind::AmbiguousMatch => "ambiguous match",
            FindingKind::RuleManaged => "rule-managed (not drift)",
            FindingKind::SodConflict => "separation-of-duties conflict",
            FindingKind::ProfileMismatch => "profile mismatch",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::MissingGrant => "missing_grant",
            FindingKind::UnexpectedGrant => "unexpected_grant",
            FindingKind::UnknownSource => "unknown_source",
            FindingKind::OrphanAccount => "orphan_account",
            FindingKind::InactivePersonWithAccess => "inactive_person_with_access",
            FindingKind::SuspendedAccount => "suspended_account",
            FindingKind::AmbiguousMatch => "ambiguous_match",
            FindingKind::RuleManaged => "rule_managed",
            FindingKind::SodConflict => "sod_conflict",
            FindingKind::ProfileMismatch => "profile_mismatch",
        }
    }

    /// Whether the finding is drift (everything but rule-made memberships).
    pub fn is_drift(self) -> bool {
        self != FindingKind::RuleManaged
    }
}

/// What happens to a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Shown only: the mode is `report`, or no operation can fix it safely
    /// (grantflow never deletes or suspends accounts on its own).
    Flagged,
    /// Fixed by an operation in the remediation plan that waits for approval.
    AwaitingApproval,
    /// Fixed by an operation in the remediation plan applied at once.
    Remediated,
    /// Not drift.
    Informational,
}

/// One difference between desired and actual access.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable identity across runs, to tell new findings from known ones.
    pub key: String,
    pub kind: FindingKind,
    pub connection: ConnectionName,
    /// The person's work email, when the account matches one.
    pub person: Option<String>,
    pub account: Option<AccountRef>,
    pub resource: Option<ResourceRef>,
    pub entitlement: Option<String>,
    /// The policies that want (or manage) what the finding is about.
    pub policies: Vec<String>,
    pub detail: String,
    pub mode: RemediationMode,
    pub disposition: Disposition,
    /// The fix, when one operation can make it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<OpKind>,
}

/// Grants nobody judges, per connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmanaged {
    pub resources: usize,
    pub grants: usize,
}

/// Everything one drift check found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub findings: Vec<Finding>,
    /// Grants on resources outside the managed scope: counted, never changed.
    pub unmanaged: BTreeMap<ConnectionName, Unmanaged>,
    pub notes: Vec<String>,
}

impl DriftReport {
    /// Findings that are drift (rule-made memberships excluded).
    pub fn drift(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.kind.is_drift())
    }

    /// Open drift findings per connection and kind (for metrics).
    pub fn counts(&self) -> BTreeMap<(ConnectionName, FindingKind), usize> {
        let mut counts = BTreeMap::new();
        for finding in self.drift() {
            *counts
                .entry((finding.connection.clone(), finding.kind))
                .or_default() += 1;
        }
        counts
    }
}

/// The remediation plans of one drift check.
#[derive(Debug, Default)]
pub struct Remediation {
    /// Applied at once (mode `auto`).
    pub automatic: Option<Plan>,
    /// Waits for an approver (mode `approval`).
    pub needs_approval: Option<Plan>,
}

/// Whether an account was switched off (suspended, deactivated, deleted):
/// it cannot be used to sign in. A lockout, an expired password or a reset
/// in progress is not: the account is still the person's, with its access.
pub fn switched_off(state: LifecycleState) -> bool {
    matches!(
        state,
        LifecycleState::Suspended | LifecycleState::Deprovisioned
    )
}

/// The plans that fix the findings whose mode allows it.
pub fn remediation(
    report: &DriftReport,
    actual: &ActualState,
    origin: &str,
    now: DateTime<Utc>,
) -> Result<Remediation, PlanError> {
    let plan_for = |wanted: Disposition| -> Result<Option<Plan>, PlanError> {
        let changes: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.disposition == wanted)
            .filter_map(|f| {
                let fix = f.fix.clone()?;
                Some((
                    fix,
                    f.connection.clone(),
                    vec![format!("drift: {} ({})", f.kind.label(), f.detail)],
                ))
            })
            .collect();
        if changes.is_empty() {
            return Ok(None);
        }
        plan_changes(changes, actual, origin, now, vec![]).map(Some)
    };
    Ok(Remediation {
        automatic: plan_for(Disposition::Remediated)?,
        needs_approval: plan_for(Disposition::AwaitingApproval)?,
    })
}

fn disposition(mode: RemediationMode, fixable: bool) -> Disposition {
    match (mode, fixable) {
        (RemediationMode::Auto, true) => Disposition::Remediated,
        (RemediationMode::Approval, true) => Disposition::AwaitingApproval,
        _ => Disposition::Flagged,
    }
}

/// A policy's `drift` chooses the mode for its resources (the most cautious
/// of several); a connection's setting caps it; `drift.mode` is the default.
pub fn effective_mode(
    policies: &PolicySet,
    settings: &DriftSettings,
    connection: &ConnectionName,
    positions: &BTreeSet<usize>,
) -> RemediationMode {
    let from_policies = positions
        .iter()
        .filter_map(|i| policies.policies.get(*i))
        .filter_map(|p| p.drift)
        .min();
    let system = settings.systems.get(connection.as_str()).copied();
    let base = from_policies.or(system).unwrap_or(settings.mode);
    match system {
        Some(cap) => base.min(cap),
        None => base,
    }
}

fn scoped_resources(
    actual: &ActualState,
    settings: &DriftSettings,
    notes: &mut Vec<String>,
) -> HashSet<(ConnectionName, String)> {
    let mut scoped = HashSet::new();
    for entry in &settings.scope {
        let connection = ConnectionName::new(entry.system.clone());
        let found = entry.resource.split_once('/').and_then(|(kind, name)| {
            actual
                .snapshots
                .get(&connection)
                .and_then(|s: &Snapshot| s.resource_by_name(kind, name))
        });
        match found {
            Some(resource) => {
                scoped.insert((connection, resource.id.clone()));
            }
            None => notes.push(format!(
                "drift scope: {} {} is not in the last sync; it is not judged",
                entry.system, entry.resource
            )),
        }
    }
    scoped
}

fn account_ref(account: &Account) -> AccountRef {
    AccountRef {
        id: account.id.clone(),
        login: account.login.clone(),
    }
}

fn grant_key(
    kind: FindingKind,
    connection: &ConnectionName,
    account: &str,
    resource: &str,
    entitlement: &str,
) -> String {
    format!(
        "{}:{connection}:{account}:{resource}:{entitlement}",
        kind.as_str()
    )
}

fn policy_names(policies: &PolicySet, positions: &BTreeSet<usize>) -> Vec<String> {
    policy_reasons(policies, positions)
        .into_iter()
        .map(|reason| reason.trim_start_matches("policy ").to_string())
        .collect()
}
