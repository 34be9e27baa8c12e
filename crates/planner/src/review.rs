//! What a reviewer sees besides the operations: what each addition brings
//! through inheritance, and the account states the plan was made against.

use crate::ActualState;
use grantflow_model::{
    Account, ConnectionName, OpKind, Operation, Precondition, ReviewItem, ReviewedResource,
};
use std::collections::{BTreeMap, BTreeSet};

/// The states, as planned from, of every account a plan gives access to:
/// the account itself and the person's directory account.
pub fn preconditions(operations: &[Operation], actual: &ActualState) -> Vec<Precondition> {
    let mut found: BTreeMap<(ConnectionName, String), Precondition> = BTreeMap::new();
    let directory = actual.snapshots.get(&actual.directory);
    for op in operations.iter().filter(|op| op.widens_access()) {
        let (OpKind::AddGrant { account, .. }, Some(snapshot)) =
            (&op.kind, actual.snapshots.get(&op.connection))
        else {
            continue;
        };
        let Some(held) = snapshot.account(&account.id) else {
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
            .and_then(|email| directory?.account_by_login_or_email(email));
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
