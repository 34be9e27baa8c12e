//! The leaver allowance: a leaver plan's retirements pass the safety rail only when the plan is named
//! with it (audited as `plan.leaver_allowed`), and the rail still holds for everything else.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

use chrono::Utc;
use grantflow_engine::{GateRequest, GateSettings, Refusal, SafetyRail};
use grantflow_model::{
    Account, AccountRef, Clock, ConnectionName, Grant, GrantSource, OpKind, Operation, OperationId,
    Plan, ResourceKind, ResourceRef, RetireMode, Review, Snapshot, SystemClock, SystemKind,
};
use grantflow_store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;

fn okta() -> ConnectionName {
    ConnectionName::new("okta")
}

fn account(id: &str) -> AccountRef {
    AccountRef {
        id: id.into(),
        login: format!("{id}@example.com"),
    }
}

fn group() -> ResourceRef {
    ResourceRef {
        id: "00g1".into(),
        kind: ResourceKind::new("group"),
        name: "Eng".into(),
    }
}

/// Ten people, each in one group.
fn snapshots() -> BTreeMap<ConnectionName, Snapshot> {
    let mut snapshot = Snapshot::new(okta(), SystemKind::new("okta"));
    for n in 0..10 {
        let id = format!("00u{n}");
        snapshot.accounts.push(Account {
            id: id.clone(),
            login: format!("{id}@example.com"),
            email: Some(format!("{id}@example.com")),
            display_name: id.clone(),
            status: "ACTIVE".into(),
            state: Default::default(),
            attributes: Default::default(),
        });
        snapshot.grants.push(Grant {
            account_id: id,
            resource_id: "00g1".into(),
            entitlement: "member".into(),
            source: GrantSource::Direct,
        });
    }
    BTreeMap::from([(okta(), snapshot)])
}

/// `leavers` accounts removed from the group and retired, and `others` removed from it only.
fn plan(leavers: &[&str], others: &[&str]) -> Plan {
    let mut operations = Vec::new();
    let mut push = |kind: OpKind| {
        let id = OperationId(u32::try_from(operations.len()).unwrap_or(0));
        operations.push(Operation {
            id,
            connection: okta(),
            kind,
            reasons: vec![],
            depends_on: vec![],
        });
    };
    for id in leavers.iter().chain(others) {
        push(OpKind::RemoveGrant {
            account: account(id),
            resource: group(),
            entitlement: "member".into(),
        });
    }
    for id in leavers {
        push(OpKind::retire_account(account(id), RetireMode::Deactivate));
    }
    let mut plan = Plan {
        id: String::new(),
        created_at: Utc::now(),
        origin: format!("leavers {leavers:?} {others:?}"),
        basis: vec![],
        operations,
        review: Review::default(),
        preconditions: vec![],
    };
    plan.seal();
    plan
}

fn settings() -> GateSettings {
    GateSettings {
        rail: SafetyRail {
            max_removal_share: 1.0,
            max_removed_accounts: 2,
            max_resource_removal_share: 1.0,
            window_removals: 1000,
            ..SafetyRail::default()
        },
        ..GateSettings::default()
    }
}

#[tokio::test]
async fn a_leaver_plan_passes_the_rail_only_by_its_allowance_and_the_rail_holds_for_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("e.db").display());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Store::open(&url, clock).await.expect("store");
    let snapshots = snapshots();
    let clear = |plan_id: String, allow_leavers: Option<String>| {
        let store = &store;
        let snapshots = &snapshots;
        async move {
            let request = GateRequest {
                snapshots,
                allow_mass_removal: None,
                allow_leavers: allow_leavers.as_deref(),
                actor: "test",
            };
            grantflow_engine::clear(store, &plan_id, &request, &settings())
                .await
                .expect("store")
        }
    };

    let leavers = plan(&["00u1", "00u2", "00u3"], &[]);
    store.save_plan(&leavers, "test").await.expect("save");
    let refused = clear(leavers.id.clone(), None).await;
    assert!(
        matches!(&refused, Err(Refusal::MassRemoval(_))),
        "three accounts retired: the rail holds without the allowance: {refused:?}"
    );
    let elsewhere = clear(leavers.id.clone(), Some("another-plan".into())).await;
    assert!(
        matches!(&elsewhere, Err(Refusal::MassRemoval(_))),
        "an allowance naming another plan allows nothing: {elsewhere:?}"
    );
    let allowed = clear(leavers.id.clone(), Some(leavers.id.clone())).await;
    assert!(allowed.is_ok(), "{allowed:?}");
    let events = store.audit_events().await.expect("audit");
    let allowance = events
        .iter()
        .find(|e| e.action == "plan.leaver_allowed" && e.subject == leavers.id)
        .expect("the allowance is audited");
    assert_eq!(allowance.actor, "test");
    assert_eq!(
        allowance.details["retired"],
        serde_json::json!([
            "okta 00u1@example.com",
            "okta 00u2@example.com",
            "okta 00u3@example.com"
        ])
    );

    // Leavers plus three removals from people who stay: the allowance does not cover those.
    let mixed = plan(&["00u4"], &["00u5", "00u6", "00u7"]);
    store.save_plan(&mixed, "test").await.expect("save");
    let refused = clear(mixed.id.clone(), Some(mixed.id.clone())).await;
    match refused {
        Err(Refusal::MassRemoval(reasons)) => assert!(
            reasons.iter().any(|r| r.contains("3 accounts")),
            "{reasons:?}"
        ),
        other => panic!("the rail holds for removals from people who stay: {other:?}"),
    }
}
