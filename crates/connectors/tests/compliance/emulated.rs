//! Helpers the GitLab and Slack compliance modules share: grant operations, and "each operation twice".

use grantflow_connectors::{Applied, Connector, Observed};
use grantflow_model::{
    AccountRef, ConnectionName, OpKind, Operation, OperationId, ResourceRef, Snapshot,
};

/// The same fixture the Google and GitHub modules use.
pub use crate::fixture::Fixture as Emulated;

/// An add or remove of `entitlement` for `account` on `resource` (found by kind and name in `snapshot`).
pub fn grant_op(
    connection: &str,
    add: bool,
    account: AccountRef,
    snapshot: &Snapshot,
    kind: &str,
    name: &str,
    entitlement: &str,
) -> Operation {
    let resource = snapshot.resource_by_name(kind, name).expect("resource");
    let resource = ResourceRef {
        id: resource.id.clone(),
        kind: resource.kind.clone(),
        name: resource.name.clone(),
    };
    let entitlement = entitlement.to_string();
    let kind = if add {
        OpKind::AddGrant {
            account,
            resource,
            entitlement,
        }
    } else {
        OpKind::RemoveGrant {
            account,
            resource,
            entitlement,
        }
    };
    Operation {
        id: OperationId(0),
        connection: ConnectionName::new(connection),
        kind,
        reasons: vec![],
        depends_on: vec![],
    }
}

pub fn account_ref(snapshot: &Snapshot, email: &str) -> AccountRef {
    let account = snapshot.account_by_login_or_email(email).expect("account");
    AccountRef {
        id: account.id.clone(),
        login: account.login.clone(),
    }
}

/// Adds then removes one grant, each twice: the first call changes, the second finds it done, `observe` agrees,
/// and the emulator counts exactly one write per effect under `key`.
pub async fn each_twice_takes_effect_once(
    e: &Emulated,
    c: &dyn Connector,
    add: &Operation,
    remove: &Operation,
    key: &str,
) {
    assert_eq!(c.observe(add).await.expect("observe"), Observed::NotDone);
    assert_eq!(c.apply(add).await.expect("first add"), Applied::Changed);
    assert_eq!(
        c.apply(add).await.expect("second add"),
        Applied::AlreadyPresent
    );
    assert_eq!(c.observe(add).await.expect("observe"), Observed::Done);
    assert_eq!(e.writes().await[key], 1);

    assert_eq!(c.observe(remove).await.expect("observe"), Observed::NotDone);
    assert_eq!(
        c.apply(remove).await.expect("first remove"),
        Applied::Changed
    );
    assert_eq!(
        c.apply(remove).await.expect("second remove"),
        Applied::AlreadyPresent
    );
    assert_eq!(c.observe(remove).await.expect("observe"), Observed::Done);
    assert_eq!(e.writes().await[key], 2);
}
