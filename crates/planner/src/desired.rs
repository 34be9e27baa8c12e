//! Desired access: every policy evaluated for every person of the
//! directory, over the actual state with the declared resources added.

use crate::correlate::Correlated;
use crate::{ActualState, PlanError, correlate};
use grantflow_model::{AccountRef, ConnectionName, Person, Resource, Snapshot, pending_id};
use grantflow_policy::PolicySet;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One grant that should exist: (connection, account, resource, entitlement).
/// Borrowed from the snapshots, except a pending account's id, so a plan
/// over 100,000 people does not copy every key.
pub type GrantKey<'s> = (&'s ConnectionName, Cow<'s, str>, &'s str, &'s str);

/// Who should hold what, according to the policies, over the actual state.
pub struct Desired<'s> {
    /// Each wanted grant, with the policies (by position in the set) that want it.
    pub grants: HashMap<GrantKey<'s>, BTreeSet<usize>>,
    /// Every resource some policy names, with the policies that name it:
    /// grantflow judges and changes grants on these only.
    pub managed: HashMap<(&'s ConnectionName, &'s str), BTreeSet<usize>>,
    /// Each connection's accounts matched to the directory's people.
    pub correlated: BTreeMap<&'s ConnectionName, Correlated<'s>>,
    /// What could not be planned, and why (no account, ambiguous match).
    pub notes: Vec<String>,
}

/// The actual state with every resource the policy files declare (and every
/// resource a push creates) that the last sync lacks added as pending
/// (`pending:<name>`), so grants on it can be planned. Borrowed as it is
/// when nothing is missing.
pub fn with_declared<'a>(policies: &PolicySet, actual: &'a ActualState) -> Cow<'a, ActualState> {
    match policies.with_declared(&actual.snapshots) {
        Cow::Borrowed(_) => Cow::Borrowed(actual),
        Cow::Owned(snapshots) => Cow::Owned(ActualState {
            directory: actual.directory.clone(),
            snapshots,
            sync_ids: actual.sync_ids.clone(),
            digests: actual.digests.clone(),
            correlation: actual.correlation.clone(),
            time_bound: actual.time_bound.clone(),
            created: actual.created.clone(),
        }),
    }
}

/// `policy <name>` for each policy position, as a change's reasons.
pub fn policy_reasons(policies: &PolicySet, positions: &BTreeSet<usize>) -> Vec<String> {
    positions
        .iter()
        .filter_map(|i| policies.policies.get(*i))
        .map(|policy| format!("policy {}", policy.name))
        .collect()
}

/// The people of the directory connection.
pub fn directory_people(actual: &ActualState) -> Result<Vec<Person>, PlanError> {
    let mut people = actual
        .snapshots
        .get(&actual.directory)
        .map(Snapshot::people)
        .ok_or_else(|| PlanError::DirectoryNotSynced(actual.directory.clone()))?;
    // HR facts (start and end dates, department, …) as `person.hris.*`.
    grantflow_model::with_hris(&mut people, &actual.snapshots);
    Ok(people)
}

/// Evaluates every policy for every person of `people` (the directory's).
pub fn desired_access<'s>(
    policies: &PolicySet,
    actual: &'s ActualState,
    people: &[Person],
) -> Result<Desired<'s>, PlanError> {
    desired_access_with(policies, actual, people, &HashMap::new())
}

/// [`desired_access`] with the accounts the plan creates: (connection, person's email in lower
/// case) → the pending id their grants in that connection target.
pub(crate) fn desired_access_with<'s>(
    policies: &PolicySet,
    actual: &'s ActualState,
    people: &[Person],
    created: &HashMap<(ConnectionName, String), String>,
) -> Result<Desired<'s>, PlanError> {
    policies
        .check(&actual.snapshots, &actual.directory)
        .map_err(|d| PlanError::Policy(d.to_string()))?;

    let mut desired: HashMap<GrantKey<'s>, BTreeSet<usize>> = HashMap::new();
    let mut managed: HashMap<(&'s ConnectionName, &'s str), BTreeSet<usize>> = HashMap::new();
    let mut notes = Vec::new();
    let correlated: BTreeMap<&'s ConnectionName, Correlated<'s>> = actual
        .snapshots
        .iter()
        .map(|(name, snapshot)| (name, correlate(snapshot, people, &actual.correlation)))
        .collect();
    for (connection, matches) in &correlated {
        for ambiguity in &matches.ambiguous {
            notes.push(format!(
                "{} matches more than one account in {connection} by {} ({}); nothing is granted or removed for it until that is resolved",
                ambiguity.person,
                ambiguity.matched_on,
                ambiguity.accounts.join(", ")
            ));
        }
    }

    // Each policy's grants resolve to the same resources for everyone.
    let mut resolved: Vec<Vec<(&'s ConnectionName, &'s Resource, &'s str)>> = Vec::new();
    for (position, policy) in policies.policies.iter().enumerate() {
        let mut grants = Vec::new();
        for grant in &policy.grants {
            let (resource, entitlement) =
                grantflow_policy::resolve(grant, &actual.snapshots).map_err(PlanError::Policy)?;
            let Some((connection, _)) = actual.snapshots.get_key_value(&grant.connection) else {
                continue;
            };
            // Keys borrow from the snapshot: the native entitlement is one the resource lists.
            let Some(entitlement) = resource
                .entitlements
                .iter()
                .find(|e| **e == entitlement)
                .map(String::as_str)
            else {
                return Err(PlanError::Policy(format!(
                    "{} \"{}\": entitlement \"{entitlement}\" is not one it offers",
                    resource.kind, resource.name
                )));
            };
            if grant.authoritative {
                managed
                    .entry((connection, resource.id.as_str()))
                    .or_default()
                    .insert(position);
            }
            grants.push((connection, resource, entitlement));
        }
        resolved.push(grants);
    }
    let position: BTreeMap<&str, usize> = policies
        .policies
        .iter()
        .enumerate()
        .map(|(index, policy)| (policy.name.as_str(), index))
        .collect();

    for person in people {
        // A departed person is granted nothing; whatever they still hold on
        // managed resources is planned for removal.
        if person.state.is_deprovisioned() {
            continue;
        }
        let matched = policies.matching(person).map_err(PlanError::Policy)?;
        for policy in matched {
            let Some(position) = position.get(policy.name.as_str()) else {
                continue;
            };
            let Some(grants) = resolved.get(*position) else {
                continue;
            };
            for (connection, resource, entitlement) in grants {
                let (Some(matches), Some(snapshot)) = (
                    correlated.get(connection),
                    actual.snapshots.get(*connection),
                ) else {
                    continue;
                };
                let account_id: Cow<'s, str> = match matches.account_for(&person.email) {
                    Some(account) => Cow::Borrowed(account.id.as_str()),
                    None if matches.is_ambiguous(&person.email) => continue,
                    // The plan creates the account: the grant targets it and waits for it.
                    None if !created.is_empty()
                        && created.contains_key(&(
                            (*connection).clone(),
                            person.email.to_lowercase(),
                        )) =>
                    {
                        Cow::Owned(pending_id(&person.email.to_lowercase()))
                    }
                    // The system makes the account itself at the person's
                    // first sign-in: plan the grant; it waits until then.
                    None if snapshot.accounts_created_on_first_login => {
                        Cow::Owned(AccountRef::pending(&person.email).id)
                    }
                    None => {
                        notes.push(format!(
                            "{} has no account in {connection}; policy \"{}\" cannot grant {} \"{}\" yet",
                            person.email, policy.name, resource.kind, resource.name
                        ));
                        continue;
                    }
                };
                desired
                    .entry((*connection, account_id, resource.id.as_str(), *entitlement))
                    .or_default()
                    .insert(*position);
            }
        }
    }
    Ok(Desired {
        grants: desired,
        managed,
        correlated,
        notes,
    })
}
