//! What a reviewer sees besides the operations: what each addition brings
//! through inheritance, and the account states the plan was made against.

use crate::ActualState;
use grantflow_model::{
    Account, ConnectionName, OpKind, Operation, Precondition, ReviewItem, ReviewedResource,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The states, as planned from, of every account a plan gives access to:
/// the account itself and the person's directory account.
pub fn preconditions(operations: &[Operation], actual: &ActualState) -> Vec<Precondition> {
    let mut found: BTreeMap<(ConnectionName, String), Precondition> = BTreeMap::new();
    // Indexed once: a plan for a whole organisation gives access to thousands of accounts, and a
    // scan of every account per operation made planning quadratic.
    let mut by_id: HashMap<&ConnectionName, HashMap<&str, &Account>> = HashMap::new();
    let directory = actual
        .snapshots
        .get(&actual.directory)
        .map(|snapshot| {
            let mut index: HashMap<String, &Account> = HashMap::new();
            for a in &snapshot.accounts {
                // The first account whose login or email matches, as `account_by_login_or_email`.
                index.entry(a.login.to_lowercase()).or_insert(a);
                if let Some(email) = &a.email {
                    index.entry(email.to_lowercase()).or_insert(a);
                }
            }
            index
        })
        .unwrap_or_default();
    for op in operations.iter().filter(|op| op.widens_access()) {
        let (OpKind::AddGrant { account, .. }, Some(snapshot)) =
            (&op.kind, actual.snapshots.get(&op.connection))
        else {
            continue;
        };
        let accounts = by_id.entry(&op.connection).or_insert_with(|| {
            let mut index = HashMap::new();
            for a in &snapshot.accounts {
                index.entry(a.id.as_str()).or_insert(a);
            }
            index
        });
        let Some(&held) = accounts.get(account.id.as_str()) else {
            continue;
        };
        let mut note = |connection: &ConnectionName, a: &Account| {
            found
                .entry((connection.clone(), a.id.clone()))
                .or_insert_with(|| Precondition {
                    connection: connection.clone(),
                    account_id: a.id.clone(),
                    login: a.login.clone(),
                    state: a.state,
                });
        };
        note(&op.connection, held);
        let person = held
            .email
            .as_deref()
            .and_then(|email| directory.get(&email.to_lowercase()).copied());
        if let Some(person) = person {
            note(&actual.directory, person);
        }
    }
    found.into_values().collect()
}

pub(crate) fn review_item(op: &Operation, actual: &ActualState) -> Option<ReviewItem> {
    let snapshot = actual.snapshots.get(&op.connection)?;
    let inherited = snapshot.inherited_through(&op.resource().id);
    if inherited.is_empty() {
        return None;
    }
    let held: BTreeSet<&str> = snapshot
        .grants
        .iter()
        .filter(|g| g.account_id == op.holder().id())
        .map(|g| g.resource_id.as_str())
        .collect();
    Some(ReviewItem {
        operation: op.id,
        brings: inherited
            .into_iter()
            .map(|resource| ReviewedResource {
                kind: resource.kind.to_string(),
                name: resource.name.clone(),
                already_held: held.contains(resource.id.as_str()),
            })
            .collect(),
    })
}
