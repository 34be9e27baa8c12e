//! Drift detection: one pass per finding family, run connection by
//! connection over the newest syncs.
//!
//! Every pass reads the same [`ConnectionView`] (the connection's snapshot
//! indexed for lookups and its accounts matched to people) and returns its
//! findings; `detect` gathers them and sorts them once, so the order in
//! which the passes run does not show in the report.

use crate::{
    Disposition, DriftReport, DriftSettings, Finding, FindingKind, Unmanaged, account_ref,
    disposition, effective_mode, grant_key, policy_names, scoped_resources, switched_off,
};
use grantflow_model::{Account, ConnectionName, GrantSource, OpKind, Person, PlannedId, Snapshot};
use grantflow_planner::{
    ActualState, Correlated, Desired, PlanError, SnapshotIndex, desired_access, directory_people,
    plan_profiles, resource_ref, with_declared,
};
use grantflow_policy::{PolicySet, RemediationMode};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

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

    let mut report = DriftReport {
        notes: desired.notes.clone(),
        ..DriftReport::default()
    };
    let scoped = scoped_resources(actual, settings, &mut report.notes);
    let judge = Judge {
        actual,
        policies,
        settings,
        desired: &desired,
        scoped,
        people_by_email: people.iter().map(|p| (p.email.to_lowercase(), p)).collect(),
    };

    for (connection, snapshot) in &actual.snapshots {
        let Some(matches) = desired.correlated.get(connection) else {
            continue;
        };
        let view = ConnectionView::new(connection, snapshot, matches);
        report.findings.extend(judge.ambiguous_matches(&view));
        report.findings.extend(judge.missing_grants(&view));
        let (unwanted, unmanaged) = judge.unwanted_grants(&view);
        report.findings.extend(unwanted);
        report.unmanaged.insert(connection.clone(), unmanaged);
        // Accounts: the directory's own accounts are the people.
        if *connection != actual.directory {
            report.findings.extend(judge.account_findings(&view));
        }
        for service in settings
            .service_accounts
            .iter()
            .filter(|s| s.system == connection.as_str())
            .filter(|s| !snapshot.accounts.iter().any(|a| s.names(a)))
        {
            report.notes.push(format!(
                "drift.service_accounts names {} in {connection}, which has no such account",
                service.account
            ));
        }
    }
    report.findings.extend(conflicts(
        policies,
        actual,
        &people,
        &desired,
        &mut report.notes,
    ));
    report.findings.extend(judge.profile_mismatches(&people)?);
    report.findings.sort_by(|a, b| {
        (a.connection.as_str(), a.kind, &a.key).cmp(&(b.connection.as_str(), b.kind, &b.key))
    });
    Ok(report)
}

/// What every pass judges against: the policies, the settings, desired
/// access and the people.
struct Judge<'a, 's> {
    actual: &'a ActualState,
    policies: &'a PolicySet,
    settings: &'a DriftSettings,
    desired: &'a Desired<'s>,
    /// Resources configuration puts in scope though no policy names them.
    scoped: HashSet<(ConnectionName, String)>,
    /// Directory people by lower-case work email.
    people_by_email: HashMap<String, &'a Person>,
}

/// One connection's snapshot, indexed for the passes.
struct ConnectionView<'v> {
    connection: &'v ConnectionName,
    snapshot: &'v Snapshot,
    matches: &'v Correlated<'v>,
    index: SnapshotIndex<'v>,
    /// Accounts in an ambiguous match: nothing is decided about them.
    ambiguous_accounts: HashSet<&'v str>,
}

impl<'v> ConnectionView<'v> {
    fn new(
        connection: &'v ConnectionName,
        snapshot: &'v Snapshot,
        matches: &'v Correlated<'v>,
    ) -> Self {
        ConnectionView {
            connection,
            snapshot,
            matches,
            index: SnapshotIndex::new(snapshot),
            ambiguous_accounts: matches
                .ambiguous
                .iter()
                .flat_map(|a| a.accounts.iter().map(String::as_str))
                .collect(),
        }
    }
}

impl Judge<'_, '_> {
    /// Profile attributes a policy's `profile:` sets that the account holds with another value: one
    /// finding per account, fixed by the same partial update `grantflow plan` would make.
    fn profile_mismatches(&self, people: &[Person]) -> Result<Vec<Finding>, PlanError> {
        let (updates, _) =
            plan_profiles(self.policies, self.actual, people, &self.desired.correlated)?;
        let mut findings = Vec::new();
        for (fix, connection, reasons) in updates {
            let OpKind::UpdateProfile {
                account,
                before,
                after,
                ..
            } = &fix
            else {
                continue;
            };
            let names: Vec<String> = reasons
                .iter()
                .map(|r| r.trim_start_matches("policy ").to_string())
                .collect();
            let positions: BTreeSet<usize> = self
                .policies
                .policies
                .iter()
                .enumerate()
                .filter(|(_, p)| names.contains(&p.name))
                .map(|(i, _)| i)
                .collect();
            let mode = effective_mode(self.policies, self.settings, &connection, &positions);
            let differences: Vec<String> = after
                .iter()
                .map(|(name, wanted)| {
                    let held = before.get(name).unwrap_or(&serde_json::Value::Null);
                    format!("{name} is {held}, policy sets {wanted}")
                })
                .collect();
            let person = self
                .desired
                .correlated
                .get(&connection)
                .and_then(|matches| matches.person_of.get(account.id.as_str()).cloned());
            findings.push(Finding {
                key: format!(
                    "{}:{connection}:{}:{}",
                    FindingKind::ProfileMismatch.as_str(),
                    account.id,
                    after.keys().cloned().collect::<Vec<_>>().join(",")
                ),
                kind: FindingKind::ProfileMismatch,
                connection: connection.clone(),
                person,
                account: Some(account.clone()),
                resource: None,
                entitlement: None,
                policies: names,
                detail: differences.join("; "),
                mode,
                disposition: disposition(mode, true),
                fix: Some(fix.clone()),
            });
        }
        Ok(findings)
    }

    /// Whether grants on a resource are judged: some policy names it, or
    /// configuration puts it in scope.
    fn judged(&self, connection: &ConnectionName, resource_id: &str) -> bool {
        self.desired
            .managed
            .contains_key(&(connection, resource_id))
            || self
                .scoped
                .contains(&(connection.clone(), resource_id.to_string()))
    }

    fn mode_for(
        &self,
        connection: &ConnectionName,
        positions: &BTreeSet<usize>,
    ) -> RemediationMode {
        effective_mode(self.policies, self.settings, connection, positions)
    }

    /// A person matched to several accounts (or an account to several people).
    fn ambiguous_matches(&self, view: &ConnectionView<'_>) -> Vec<Finding> {
        let connection = view.connection;
        view.matches
            .ambiguous
            .iter()
            .map(|ambiguity| Finding {
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
            })
            .collect()
    }

    /// Grants a policy wants that the system does not have.
    fn missing_grants(&self, view: &ConnectionView<'_>) -> Vec<Finding> {
        let connection = view.connection;
        let mut findings = Vec::new();
        for ((grant_connection, account_id, resource_id, entitlement), wanted_by) in
            &self.desired.grants
        {
            if *grant_connection != connection
                || PlannedId::parse(account_id).pending_name().is_some()
                || PlannedId::parse(resource_id).pending_name().is_some()
                || view.index.holds(account_id, resource_id, entitlement)
            {
                continue;
            }
            let (Some(account), Some(resource)) = (
                view.index.accounts.get(account_id.as_ref()),
                view.index.resources.get(resource_id),
            ) else {
                continue;
            };
            let mode = self.mode_for(connection, wanted_by);
            let account = account_ref(account);
            let resource = resource_ref(resource);
            findings.push(Finding {
                key: grant_key(
                    FindingKind::MissingGrant,
                    connection,
                    &account.id,
                    &resource.id,
                    entitlement,
                ),
                kind: FindingKind::MissingGrant,
                connection: connection.clone(),
                person: view.matches.person_of.get(account.id.as_str()).cloned(),
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
                policies: policy_names(self.policies, wanted_by),
                mode,
                disposition: disposition(mode, true),
            });
        }
        findings
    }

    /// Grants held on judged resources that nobody wants (direct, through an
    /// unmanaged group, or made by the system's own rule), and the count of
    /// grants on resources nobody judges.
    fn unwanted_grants(&self, view: &ConnectionView<'_>) -> (Vec<Finding>, Unmanaged) {
        let connection = view.connection;
        let mut findings = Vec::new();
        let mut unmanaged_resources: BTreeSet<&str> = BTreeSet::new();
        let mut unmanaged = Unmanaged::default();
        for grant in &view.snapshot.grants {
            if !self.judged(connection, &grant.resource_id) {
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
            // A time-bound grant is its request's to end, on its timer.
            if self.desired.grants.contains_key(&key)
                || view.ambiguous_accounts.contains(grant.account_id.as_str())
                || self
                    .actual
                    .held_until(
                        connection,
                        &grant.account_id,
                        &grant.resource_id,
                        &grant.entitlement,
                        None,
                    )
                    .is_some()
            {
                continue;
            }
            let (Some(account), Some(resource)) = (
                view.index.accounts.get(grant.account_id.as_str()),
                view.index.resources.get(grant.resource_id.as_str()),
            ) else {
                continue;
            };
            let managing = self
                .desired
                .managed
                .get(&(connection, grant.resource_id.as_str()))
                .cloned()
                .unwrap_or_default();
            let person_email = view.matches.person_of.get(account.id.as_str()).cloned();
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
                    if self.judged(connection, group_id) {
                        continue;
                    }
                    let group = view
                        .index
                        .resources
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
                    let person = person_email
                        .as_deref()
                        .and_then(|e| self.people_by_email.get(e));
                    let why = match person {
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
                self.mode_for(connection, &managing)
            } else {
                RemediationMode::Report
            };
            findings.push(Finding {
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
                policies: policy_names(self.policies, &managing),
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
        (findings, unmanaged)
    }

    /// Accounts out of step with their person: orphans, accounts of people
    /// who left or were suspended, and suspended accounts of active people
    /// whom policies grant access here.
    fn account_findings(&self, view: &ConnectionView<'_>) -> Vec<Finding> {
        // An HRIS employee record is a source of facts about people, not access: a pre-hire not yet in the
        // directory, or someone suspended in the directory but still employed, is no finding there.
        if grantflow_model::is_hris(view.snapshot) {
            return Vec::new();
        }
        let connection = view.connection;
        let wanted_here: HashSet<&str> = self
            .desired
            .grants
            .keys()
            .filter(|(c, ..)| *c == connection)
            .map(|(_, account, ..)| account.as_ref())
            .collect();
        let mut findings = Vec::new();
        for account in &view.snapshot.accounts {
            if view.ambiguous_accounts.contains(account.id.as_str()) {
                continue;
            }
            let person = view
                .matches
                .person_of
                .get(account.id.as_str())
                .and_then(|e| self.people_by_email.get(e));
            let service = person.is_none()
                && self
                    .settings
                    .service_accounts
                    .iter()
                    .any(|s| s.system == connection.as_str() && s.names(account));
            if service {
                continue;
            }
            let Some((kind, detail)) = account_finding(account, person.copied(), &wanted_here)
            else {
                continue;
            };
            findings.push(Finding {
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
        findings
    }
}

/// What is wrong with one account given its person, if anything.
fn account_finding(
    account: &Account,
    person: Option<&Person>,
    wanted_here: &HashSet<&str>,
) -> Option<(FindingKind, String)> {
    match person {
        None if !switched_off(account.state) => Some((
            FindingKind::OrphanAccount,
            format!(
                "active account {} matches no person in the directory",
                account.login
            ),
        )),
        Some(person) if person.state.is_deprovisioned() && !switched_off(account.state) => Some((
            FindingKind::OrphanAccount,
            format!(
                "active account {} belongs to {}, who has left (DEPROVISIONED)",
                account.login, person.email
            ),
        )),
        Some(person) if person.state.is_suspended() && !switched_off(account.state) => Some((
            FindingKind::InactivePersonWithAccess,
            format!(
                "{} is {} in the directory but account {} is {}",
                person.email, person.status, account.login, account.status
            ),
        )),
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
    }
}

/// Separation of duties: every person holding both sides of a conflict rule,
/// by their grants in every system (each `"<connection>:<kind>/<name>"`).
fn conflicts(
    policies: &PolicySet,
    actual: &ActualState,
    people: &[Person],
    desired: &Desired<'_>,
    notes: &mut Vec<String>,
) -> Vec<Finding> {
    if policies.conflicts.is_empty() {
        return vec![];
    }
    let mut findings = Vec::new();
    for person in people {
        let mut grants = BTreeSet::new();
        for (connection, matches) in &desired.correlated {
            let (Some(account), Some(snapshot)) = (
                matches.account_for(&person.email),
                actual.snapshots.get(*connection),
            ) else {
                continue;
            };
            for grant in snapshot
                .grants
                .iter()
                .filter(|g| g.account_id == account.id)
            {
                if let Some(resource) = snapshot
                    .resources
                    .iter()
                    .find(|r| r.id == grant.resource_id)
                {
                    grants.insert(format!("{connection}:{}/{}", resource.kind, resource.name));
                }
            }
        }
        match policies.conflicts_for(&grants) {
            Ok(found) => {
                for index in found {
                    let Some(conflict) = policies.conflicts.get(index) else {
                        continue;
                    };
                    findings.push(Finding {
                        key: format!(
                            "sod_conflict:{}:{}",
                            conflict.name,
                            person.email.to_lowercase()
                        ),
                        kind: FindingKind::SodConflict,
                        connection: actual.directory.clone(),
                        person: Some(person.email.clone()),
                        account: None,
                        resource: None,
                        entitlement: None,
                        policies: vec![],
                        detail: format!(
                            "{} holds both sides of the separation-of-duties rule \"{}\"",
                            person.email, conflict.name
                        ),
                        mode: RemediationMode::Report,
                        disposition: Disposition::Flagged,
                        fix: None,
                    });
                }
            }
            Err(message) => {
                notes.push(message);
                return findings;
            }
        }
    }
    findings
}
