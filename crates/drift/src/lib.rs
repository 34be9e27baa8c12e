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

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use grantflow_model::{
    Account, AccountRef, ConnectionName, GrantSource, LifecycleState, OpKind, Person, Plan,
    PlannedId, ResourceRef, Snapshot,
};
use grantflow_planner::{
    ActualState, Correlation, PlanError, desired_access, directory_people, plan_changes,
    policy_reasons, resource_ref, with_declared,
};
use grantflow_policy::PolicySet;
pub use grantflow_policy::RemediationMode;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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

/// Finds drift between the policies and the newest syncs.
pub fn detect(
    policies: &PolicySet,
    actual: &ActualState,
    settings: &DriftSettings,
) -> Result<DriftReport, PlanError> {
    // Resources the policy files declare but nobody created yet are the
    // planner's business (`grantflow plan` creates them), not drift.
    let declared = with_declared(policies, actual);
    let actual = declared.as_ref();
    let people = directory_people(actual)?;
    let desired = desired_access(policies, actual, &people)?;
    let people_by_email: HashMap<String, &Person> =
        people.iter().map(|p| (p.email.to_lowercase(), p)).collect();

    let mut report = DriftReport {
        notes: desired.notes.clone(),
        ..DriftReport::default()
    };
    let scoped = scoped_resources(actual, settings, &mut report.notes);
    let judged = |connection: &ConnectionName, resource_id: &str| -> bool {
        desired.managed.contains_key(&(connection, resource_id))
            || scoped.contains(&(connection.clone(), resource_id.to_string()))
    };
    let mode_for = |connection: &ConnectionName, positions: &BTreeSet<usize>| {
        effective_mode(policies, settings, connection, positions)
    };

    for (connection, snapshot) in &actual.snapshots {
        let Some(matches) = desired.correlated.get(connection) else {
            continue;
        };
        let accounts: HashMap<&str, &Account> = snapshot
            .accounts
            .iter()
            .map(|a| (a.id.as_str(), a))
            .collect();
        let resources: HashMap<&str, &grantflow_model::Resource> = snapshot
            .resources
            .iter()
            .map(|r| (r.id.as_str(), r))
            .collect();
        let held: HashSet<(&str, &str, &str)> = snapshot
            .grants
            .iter()
            .map(|g| {
                (
                    g.account_id.as_str(),
                    g.resource_id.as_str(),
                    g.entitlement.as_str(),
                )
            })
            .collect();
        let ambiguous_accounts: HashSet<&str> = matches
            .ambiguous
            .iter()
            .flat_map(|a| a.accounts.iter().map(String::as_str))
            .collect();

        for ambiguity in &matches.ambiguous {
            report.findings.push(Finding {
                key: format!("ambiguous_match:{connection}:{}", ambiguity.person),
                kind: FindingKind::AmbiguousMatch,
                connection: connection.clone(),
                person: Some(ambiguity.person.clone()),
                account: None,
                resource: None,
                entitlement: None,
                policies: vec![],
                detail: format!(
                    "{} matches accounts {} by {}; resolve it (or change the correlation fallbacks) before grantflow acts on it",
                    ambiguity.person,
                    ambiguity.accounts.join(", "),
                    ambiguity.matched_on
                ),
                mode: RemediationMode::Report,
                disposition: Disposition::Flagged,
                fix: None,
            });
        }

        // Missing grants: wanted and not held.
        for ((grant_connection, account_id, resource_id, entitlement), wanted_by) in &desired.grants
        {
            if *grant_connection != connection
                || PlannedId::parse(account_id).pending_name().is_some()
                || PlannedId::parse(resource_id).pending_name().is_some()
                || held.contains(&(account_id.as_ref(), *resource_id, *entitlement))
            {
                continue;
            }
            let (Some(account), Some(resource)) = (
                accounts.get(account_id.as_ref()),
                resources.get(resource_id),
            ) else {
                continue;
            };
            let mode = mode_for(connection, wanted_by);
            let account = account_ref(account);
            let resource = resource_ref(resource);
            report.findings.push(Finding {
                key: grant_key(
                    FindingKind::MissingGrant,
                    connection,
                    &account.id,
                    &resource.id,
                    entitlement,
                ),
                kind: FindingKind::MissingGrant,
                connection: connection.clone(),
                person: matches.person_of.get(account.id.as_str()).cloned(),
                detail: format!(
                    "{} should hold {entitlement} on {} \"{}\" but does not",
                    account.login, resource.kind, resource.name
                ),
                fix: Some(OpKind::AddGrant {
                    account: account.clone(),
                    resource: resource.clone(),
                    entitlement: entitlement.to_string(),
                }),
                account: Some(account),
                resource: Some(resource),
                entitlement: Some(entitlement.to_string()),
                policies: policy_names(policies, wanted_by),
                mode,
                disposition: disposition(mode, true),
            });
        }

        // Grants held on judged resources that nobody wants.
        let mut unmanaged_resources: BTreeSet<&str> = BTreeSet::new();
        let mut unmanaged = Unmanaged::default();
        for grant in &snapshot.grants {
            if !judged(connection, &grant.resource_id) {
                unmanaged.grants += 1;
                unmanaged_resources.insert(grant.resource_id.as_str());
                continue;
            }
            let key = (
                connection,
                Cow::Borrowed(grant.account_id.as_str()),
                grant.resource_id.as_str(),
                grant.entitlement.as_str(),
            );
            if desired.grants.contains_key(&key)
                || ambiguous_accounts.contains(grant.account_id.as_str())
            {
                continue;
            }
            let (Some(account), Some(resource)) = (
                accounts.get(grant.account_id.as_str()),
                resources.get(grant.resource_id.as_str()),
            ) else {
                continue;
            };
            let managing = desired
                .managed
                .get(&(connection, grant.resource_id.as_str()))
                .cloned()
                .unwrap_or_default();
            let person_email = matches.person_of.get(account.id.as_str()).cloned();
            let account = account_ref(account);
            let resource = resource_ref(resource);
            let (kind, detail, fix) = match &grant.source {
                GrantSource::Rule { rule_id } => (
                    FindingKind::RuleManaged,
                    format!(
                        "{} is in {} \"{}\" by the system's rule {rule_id}; the rule owns it",
                        account.login, resource.kind, resource.name
                    ),
                    None,
                ),
                GrantSource::Group { group_id } => {
                    // Drift on a managed group's membership is reported on the group itself.
                    if judged(connection, group_id) {
                        continue;
                    }
                    let group = resources
                        .get(group_id.as_str())
                        .map(|g| format!("{} \"{}\"", g.kind, g.name))
                        .unwrap_or_else(|| group_id.clone());
                    (
                        FindingKind::UnknownSource,
                        format!(
                            "{} holds {} on {} \"{}\" through {group}, which no policy manages",
                            account.login, grant.entitlement, resource.kind, resource.name
                        ),
                        None,
                    )
                }
                GrantSource::Direct => {
                    let why = match person_email.as_deref().and_then(|e| people_by_email.get(e)) {
                        None => "an account that matches no person".to_string(),
                        Some(person) if !person.state.is_active() => {
                            format!(
                                "{}, whose directory status is {}",
                                person.email, person.status
                            )
                        }
                        Some(person) => format!("{}; no policy grants it", person.email),
                    };
                    (
                        FindingKind::UnexpectedGrant,
                        format!(
                            "{} on {} \"{}\" is held by {why}",
                            grant.entitlement, resource.kind, resource.name
                        ),
                        Some(OpKind::RemoveGrant {
                            account: account.clone(),
                            resource: resource.clone(),
                            entitlement: grant.entitlement.clone(),
                        }),
                    )
                }
            };
            let mode = if kind.is_drift() {
                mode_for(connection, &managing)
            } else {
                RemediationMode::Report
            };
            report.findings.push(Finding {
                key: grant_key(
                    kind,
                    connection,
                    &account.id,
                    &resource.id,
                    &grant.entitlement,
                ),
                kind,
                connection: connection.clone(),
                person: person_email,
                account: Some(account),
                resource: Some(resource),
                entitlement: Some(grant.entitlement.clone()),
                policies: policy_names(policies, &managing),
                detail,
                mode,
                disposition: if kind.is_drift() {
                    disposition(mode, fix.is_some())
                } else {
                    Disposition::Informational
                },
                fix,
            });
        }
        unmanaged.resources = unmanaged_resources.len();
        report.unmanaged.insert(connection.clone(), unmanaged);

        // Accounts: the directory's own accounts are the people.
        if *connection == actual.directory {
            continue;
        }
        let wanted_here: HashSet<&str> = desired
            .grants
            .keys()
            .filter(|(c, ..)| *c == connection)
            .map(|(_, account, ..)| account.as_ref())
            .collect();
        for account in &snapshot.accounts {
            if ambiguous_accounts.contains(account.id.as_str()) {
                continue;
            }
            let person = matches
                .person_of
                .get(account.id.as_str())
                .and_then(|e| people_by_email.get(e));
            let finding = match person {
                None if !switched_off(account.state) => Some((
                    FindingKind::OrphanAccount,
                    format!(
                        "active account {} matches no person in the directory",
                        account.login
                    ),
                )),
                Some(person) if person.state.is_deprovisioned() && !switched_off(account.state) => {
                    Some((
                        FindingKind::OrphanAccount,
                        format!(
                            "active account {} belongs to {}, who has left (DEPROVISIONED)",
                            account.login, person.email
                        ),
                    ))
                }
                Some(person) if person.state.is_suspended() && !switched_off(account.state) => {
                    Some((
                        FindingKind::InactivePersonWithAccess,
                        format!(
                            "{} is {} in the directory but account {} is {}",
                            person.email, person.status, account.login, account.status
                        ),
                    ))
                }
                Some(person)
                    if person.state.is_active()
                        && switched_off(account.state)
                        && wanted_here.contains(account.id.as_str()) =>
                {
                    Some((
                        FindingKind::SuspendedAccount,
                        format!(
                            "account {} is {} but {} is active and policies grant access here",
                            account.login, account.status, person.email
                        ),
                    ))
                }
                _ => None,
            };
            let Some((kind, detail)) = finding else {
                continue;
            };
            report.findings.push(Finding {
                key: format!("{}:{connection}:{}", kind.as_str(), account.id),
                kind,
                connection: connection.clone(),
                person: person.map(|p| p.email.clone()),
                account: Some(account_ref(account)),
                resource: None,
                entitlement: None,
                policies: vec![],
                detail,
                mode: RemediationMode::Report,
                disposition: Disposition::Flagged,
                fix: None,
            });
        }
    }
    report.findings.sort_by(|a, b| {
        (a.connection.as_str(), a.kind, &a.key).cmp(&(b.connection.as_str(), b.kind, &b.key))
    });
    Ok(report)
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
