//! The diff: desired access against the last sync gives the changes (grants
//! to add, direct grants on managed resources to remove), which become a
//! plan.

use crate::accounts::{before_start, hris_date, plan_accounts, planning_people};
use crate::build::build_plan;
use crate::declared::{Wiring, plan_creations};
use crate::desired::{desired_access_with, policy_reasons, with_declared};
use crate::index::SnapshotIndex;
use crate::leavers::{left, plan_leavers};
use crate::order::DirectoryFirst;
use crate::profile::plan_profiles;
use crate::request::{self, ChangeRequest, RequestError};
use crate::{ActualState, PlanError, resource_ref};
use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use grantflow_model::{
    AccountRef, ConnectionName, GrantSource, OpKind, Person, Plan, PlannedId, pending_id,
};
use grantflow_policy::PolicySet;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Computes the plan that makes actual access match the policies.
///
/// Only resources that some policy names are managed: a grant on any other
/// resource is never removed, whoever made it.
pub fn plan_policies(
    policies: &PolicySet,
    actual: &ActualState,
    origin: &str,
    now: DateTime<Utc>,
) -> Result<Plan, PlanError> {
    let augmented = with_declared(policies, actual);
    let actual_declared = augmented.as_ref();
    let today = now.date_naive();
    let mut people = planning_people(policies, actual, today)?;
    let (leavers, leaver_notes) = plan_leavers(policies, actual_declared, &people, today)?;
    if policies.declares_accounts() {
        // A leaver is wanted nothing: the diff removes what they hold on managed resources.
        for person in &mut people {
            if left(person, today).is_some() {
                person.state = grantflow_model::LifecycleState::Deprovisioned;
            }
        }
    }
    let accounts = plan_accounts(policies, actual_declared, &people, today)?;
    let mut desired = desired_access_with(policies, actual_declared, &people, &accounts.pending)?;
    let (waiting, pre_hire_notes) = hold_pre_hires(policies, &people, &mut desired, today);
    let indexes: BTreeMap<&ConnectionName, SnapshotIndex<'_>> = actual_declared
        .snapshots
        .iter()
        .map(|(name, snapshot)| (name, SnapshotIndex::new(snapshot)))
        .collect();

    let mut changes: Vec<(OpKind, ConnectionName, Vec<String>)> = Vec::new();
    let mut time_bound_notes = Vec::new();
    for ((connection, account_id, resource_id, entitlement), wanted_by) in &desired.grants {
        let Some(index) = indexes.get(connection) else {
            continue;
        };
        if index.holds(account_id, resource_id, entitlement) {
            continue;
        }
        let Some(resource) = index.resources.get(resource_id) else {
            continue;
        };
        let account = match index.accounts.get(account_id.as_ref()) {
            Some(account) => AccountRef {
                id: account.id.clone(),
                login: account.login.clone(),
            },
            None => AccountRef {
                id: account_id.to_string(),
                login: PlannedId::parse(account_id)
                    .pending_name()
                    .unwrap_or(account_id)
                    .to_string(),
            },
        };
        let kind = OpKind::AddGrant {
            account,
            resource: resource_ref(resource),
            entitlement: entitlement.to_string(),
        };
        changes.push((
            kind,
            (*connection).clone(),
            policy_reasons(policies, wanted_by),
        ));
    }
    for (connection, snapshot) in &actual.snapshots {
        let Some(index) = indexes.get(connection) else {
            continue;
        };
        for grant in &snapshot.grants {
            // Only direct grants are grantflow's to remove: a group-derived
            // app assignment goes away with the membership, and a rule-made
            // membership belongs to the rule.
            if grant.source != GrantSource::Direct
                || !desired
                    .managed
                    .contains_key(&(connection, grant.resource_id.as_str()))
                || waiting.contains(&(connection.clone(), grant.account_id.clone()))
            {
                continue;
            }
            let key = (
                connection,
                Cow::Borrowed(grant.account_id.as_str()),
                grant.resource_id.as_str(),
                grant.entitlement.as_str(),
            );
            if desired.grants.contains_key(&key) {
                continue;
            }
            // An account two people match is reported, not acted on.
            if desired.correlated.get(connection).is_some_and(|c| {
                c.ambiguous
                    .iter()
                    .any(|a| a.accounts.contains(&grant.account_id))
            }) {
                continue;
            }
            let (Some(account), Some(resource)) = (
                index.accounts.get(grant.account_id.as_str()),
                index.resources.get(grant.resource_id.as_str()),
            ) else {
                continue;
            };
            if let Some(held) = actual.held_until(
                connection,
                &grant.account_id,
                &grant.resource_id,
                &grant.entitlement,
                Some(now),
            ) {
                time_bound_notes.push(format!(
                    "{} keeps {} \"{}\" until {} (time-bound, request {}); its timer removes it then",
                    account.login,
                    resource.kind,
                    resource.name,
                    held.until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    held.request
                ));
                continue;
            }
            let kind = OpKind::RemoveGrant {
                account: AccountRef {
                    id: account.id.clone(),
                    login: account.login.clone(),
                },
                resource: resource_ref(resource),
                entitlement: grant.entitlement.clone(),
            };
            changes.push((
                kind,
                connection.clone(),
                vec![format!(
                    "no policy grants it, and policy manages {} \"{}\"",
                    resource.kind, resource.name
                )],
            ));
        }
    }

    let (profiles, profile_notes) =
        plan_profiles(policies, actual_declared, &people, &desired.correlated)?;
    changes.extend(profiles);
    changes.extend(accounts.changes);
    changes.extend(leavers);
    let wiring = plan_creations(policies, actual, &actual_declared.snapshots, &mut changes);
    let mut notes = desired.notes;
    notes.extend(accounts.notes);
    notes.extend(leaver_notes);
    notes.extend(pre_hire_notes);
    notes.extend(profile_notes);
    notes.extend(time_bound_notes);
    notes.extend(wiring.notes.iter().cloned());
    let directory_first = DirectoryFirst {
        directory: &actual.directory,
        correlated: &desired.correlated,
    };
    build_plan(
        changes,
        actual,
        origin,
        now,
        notes,
        &wiring,
        Some(&directory_first),
    )
}

/// A pre-hire's access waits for the start date, as their accounts outside the directory do: the
/// staged directory account is given nothing before the person starts (a staged Okta user in a group
/// is already provisioned to the group's apps), and nothing it holds is taken. Returns the accounts
/// held back (connection, account id), and a note per person whose grants wait.
fn hold_pre_hires(
    policies: &PolicySet,
    people: &[Person],
    desired: &mut crate::desired::Desired<'_>,
    today: NaiveDate,
) -> (BTreeSet<(ConnectionName, String)>, Vec<String>) {
    let mut waiting = BTreeSet::new();
    let mut notes = Vec::new();
    if !policies.declares_accounts() {
        return (waiting, notes);
    }
    for person in people.iter().filter(|p| before_start(p, today)) {
        let email = person.email.to_lowercase();
        let mut theirs = BTreeSet::new();
        for (connection, matches) in &desired.correlated {
            if let Some(account) = matches.account_for(&email) {
                theirs.insert(((*connection).clone(), account.id.clone()));
            }
            theirs.insert(((*connection).clone(), pending_id(&email)));
        }
        let before = desired.grants.len();
        desired.grants.retain(|(connection, account, _, _), _| {
            !theirs.contains(&((*connection).clone(), account.to_string()))
        });
        if desired.grants.len() < before {
            let start = hris_date(person, "start_date")
                .map(|d| d.to_string())
                .unwrap_or_default();
            notes.push(format!(
                "{email}'s access waits for their start date {start}"
            ));
        }
        waiting.extend(theirs);
    }
    (waiting, notes)
}

/// Computes the plan for one requested change (`grantflow do`).
pub fn plan_request(
    request: &ChangeRequest,
    actual: &ActualState,
    now: DateTime<Utc>,
) -> Result<Plan, RequestError> {
    let (kind, connection, notes) = request::resolve(request, actual)?;
    let reason = format!("request \"{}\"", request.text);
    let changes = match kind {
        Some(kind) => vec![(kind, connection, vec![reason])],
        None => vec![],
    };
    build_plan(
        changes,
        actual,
        &format!("request \"{}\"", request.text),
        now,
        notes,
        &Wiring::default(),
        None,
    )
    .map_err(|e| RequestError::Invalid(e.to_string()))
}

/// The plan that gives `user` every grant of a bundle (those not held yet).
pub fn plan_grants(
    user: &str,
    grants: &[grantflow_policy::GrantSpec],
    actual: &ActualState,
    origin: &str,
    now: DateTime<Utc>,
) -> Result<Plan, RequestError> {
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    for grant in grants {
        let (kind, connection, mut said) = request::resolve_grant(user, grant, actual, false)?;
        notes.append(&mut said);
        if let Some(kind) = kind {
            changes.push((kind, connection, vec![origin.to_string()]));
        }
    }
    build_plan(
        changes,
        actual,
        origin,
        now,
        notes,
        &Wiring::default(),
        None,
    )
    .map_err(|e| RequestError::Invalid(e.to_string()))
}

/// The grants of a bundle for `user`, held already or not (an extension of
/// time-bound access asks for what is held).
pub fn requested_grants(
    user: &str,
    grants: &[grantflow_policy::GrantSpec],
    actual: &ActualState,
) -> Result<Vec<(OpKind, ConnectionName)>, RequestError> {
    let mut wanted = Vec::new();
    for grant in grants {
        if let (Some(kind), connection, _) = request::resolve_grant(user, grant, actual, true)? {
            wanted.push((kind, connection));
        }
    }
    Ok(wanted)
}

/// A plan from changes decided elsewhere (drift remediation): ordered,
/// numbered, with dependencies and review, like every other plan.
pub fn plan_changes(
    changes: Vec<(OpKind, ConnectionName, Vec<String>)>,
    actual: &ActualState,
    origin: &str,
    now: DateTime<Utc>,
    notes: Vec<String>,
) -> Result<Plan, PlanError> {
    build_plan(
        changes,
        actual,
        origin,
        now,
        notes,
        &Wiring::default(),
        None,
    )
}
