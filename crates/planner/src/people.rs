//! A plan as a reviewer reads it: the changes grouped under the person they
//! belong to (matched the way drift and planning match accounts), with each
//! system's account beneath; accounts that match no person, and changes to
//! groups and resources themselves, apart.

use grantflow_model::{Account, ConnectionName, LifecycleState, OperationId, Plan, Snapshot};
use serde::{Deserialize, Serialize};
use serde_json::Map;
use std::collections::{BTreeMap, BTreeSet};

use crate::{ActualState, correlate};

/// What a group of changes is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// One person's accounts.
    Person,
    /// Accounts that match no person in the directory.
    Unmatched,
    /// Groups and resources themselves (a group's app, a push, a creation).
    Resources,
}

/// One person's changes (or the unmatched accounts', or the resources').
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangesFor {
    pub kind: GroupKind,
    /// The person's work email, for a person.
    pub email: Option<String>,
    /// The person's name from the directory, for a person.
    pub display_name: Option<String>,
    pub accounts: Vec<AccountChanges>,
}

/// The changes to one account (or resource) in one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountChanges {
    pub connection: ConnectionName,
    /// The account's login, or the group's label for resource changes.
    pub holder: String,
    pub operations: Vec<OperationId>,
}

impl ChangesFor {
    /// `Lena Fischer <lena.fischer@example.com>`, or what the group is.
    pub fn heading(&self) -> String {
        match (self.kind, &self.email, &self.display_name) {
            (GroupKind::Person, Some(email), Some(name)) if !name.is_empty() => {
                format!("{name} <{email}>")
            }
            (GroupKind::Person, Some(email), _) => email.clone(),
            (GroupKind::Unmatched, ..) => "Accounts that match no person".to_string(),
            _ => "Groups and resources".to_string(),
        }
    }
}

/// The accounts of `snapshot` with those `plan` names on `connection` that are gone from it put back
/// (`None` when none is gone): a report read after the plan deleted an account still matches it to
/// its person the way the plan did, by email or by a handle (`correlation.fallbacks: [login]`).
fn with_accounts_gone(
    plan: &Plan,
    connection: &ConnectionName,
    snapshot: &Snapshot,
) -> Option<Snapshot> {
    let present: BTreeSet<&str> = snapshot.accounts.iter().map(|a| a.id.as_str()).collect();
    let mut gone: BTreeMap<&str, Account> = BTreeMap::new();
    for op in plan
        .operations
        .iter()
        .filter(|o| o.connection == *connection)
    {
        let Some(account) = op.account() else {
            continue;
        };
        if account.pending_email().is_some() || present.contains(account.id.as_str()) {
            continue;
        }
        gone.entry(account.id.as_str()).or_insert_with(|| Account {
            id: account.id.clone(),
            login: account.login.clone(),
            email: None,
            display_name: account.login.clone(),
            status: "DELETED".into(),
            state: LifecycleState::Deprovisioned,
            attributes: Map::new(),
        });
    }
    if gone.is_empty() {
        return None;
    }
    let mut accounts = snapshot.accounts.clone();
    accounts.extend(gone.into_values());
    Some(Snapshot {
        accounts,
        ..Snapshot::default()
    })
}

/// Groups `plan`'s operations by person.
pub fn by_person(plan: &Plan, actual: &ActualState) -> Vec<ChangesFor> {
    let people = actual
        .snapshots
        .get(&actual.directory)
        .map(|s| s.people())
        .unwrap_or_default();
    let names: BTreeMap<String, String> = people
        .iter()
        .map(|p| (p.email.to_lowercase(), p.display_name.clone()))
        .collect();
    // Correlate only the systems the plan touches.
    let mut person_of: BTreeMap<&ConnectionName, BTreeMap<String, String>> = BTreeMap::new();
    for op in &plan.operations {
        if person_of.contains_key(&op.connection) {
            continue;
        }
        let matched = actual
            .snapshots
            .get(&op.connection)
            .map(|snapshot| {
                let with_gone = with_accounts_gone(plan, &op.connection, snapshot);
                correlate(
                    with_gone.as_ref().unwrap_or(snapshot),
                    &people,
                    &actual.correlation,
                )
                .person_of
                .into_iter()
                .map(|(account, email)| (account.to_string(), email.to_lowercase()))
                .collect()
            })
            .unwrap_or_default();
        person_of.insert(&op.connection, matched);
    }

    let mut groups: BTreeMap<(GroupKind, String), ChangesFor> = BTreeMap::new();
    let mut accounts: BTreeMap<(GroupKind, String, ConnectionName, String), Vec<OperationId>> =
        BTreeMap::new();
    for op in &plan.operations {
        let (kind, email, holder) = match op.account() {
            Some(account) => {
                let email = account.pending_email().map(str::to_lowercase).or_else(|| {
                    person_of
                        .get(&op.connection)
                        .and_then(|m| m.get(&account.id))
                        .cloned()
                });
                match email {
                    Some(email) => (GroupKind::Person, email, account.login.clone()),
                    None => (GroupKind::Unmatched, String::new(), account.login.clone()),
                }
            }
            None => (GroupKind::Resources, String::new(), op.holder().label()),
        };
        groups
            .entry((kind, email.clone()))
            .or_insert_with(|| ChangesFor {
                kind,
                display_name: (kind == GroupKind::Person)
                    .then(|| names.get(&email).cloned())
                    .flatten(),
                email: (kind == GroupKind::Person).then(|| email.clone()),
                accounts: vec![],
            });
        accounts
            .entry((kind, email, op.connection.clone(), holder))
            .or_default()
            .push(op.id);
    }
    for ((kind, email, connection, holder), operations) in accounts {
        if let Some(group) = groups.get_mut(&(kind, email)) {
            group.accounts.push(AccountChanges {
                connection,
                holder,
                operations,
            });
        }
    }
    groups.into_values().collect()
}
