//! The SCIM 2.0 connector against the SCIM emulator.

use crate::fixture::server_errors_are_retry_later;
use grantflow_connectors::scim::{ScimConfig, ScimConnector};
use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{
    AccountRef, ConnectionName, GrantSource, OpKind, Operation, OperationId, Snapshot, SystemKind,
};
use serde_json::json;
use std::time::Instant;

use crate::emulated::{Emulated, account_ref, each_twice_takes_effect_once, grant_op};

fn config(e: &Emulated, page_size: u32, max_rate_limit_waits: u32) -> ScimConfig {
    ScimConfig {
        base_url: format!("{}/scim/v2", e.base_url()),
        token: e.token(),
        app: Some("Demo SCIM app".into()),
        page_size,
        timeout_seconds: 10,
        allow_insecure_http: false,
        max_rate_limit_waits,
    }
}

fn connector(e: &Emulated, max_rate_limit_waits: u32) -> ScimConnector {
    ScimConnector::new(
        ConnectionName::new("scim"),
        &config(e, 100, max_rate_limit_waits),
        &Emulated::context(),
    )
    .expect("connector")
}

async fn sync(c: &ScimConnector) -> Snapshot {
    let mut snapshot = Snapshot::new(ConnectionName::new("scim"), SystemKind::new("scim"));
    c.sync(&mut snapshot).await.expect("sync");
    snapshot
}

fn member_op(s: &Snapshot, add: bool, account: AccountRef, group: &str) -> Operation {
    grant_op("scim", add, account, s, "group", group, "member")
}

fn action(account: AccountRef, verb: &str) -> Operation {
    Operation {
        id: OperationId(0),
        connection: ConnectionName::new("scim"),
        kind: OpKind::account_action(account, verb, Default::default()),
        reasons: vec![],
        depends_on: vec![],
    }
}

fn members_of(s: &Snapshot, group: &str) -> Vec<String> {
    let group = s.resource_by_name("group", group).expect("group");
    let mut out: Vec<String> = s
        .grants
        .iter()
        .filter(|g| g.resource_id == group.id)
        .inspect(|g| assert_eq!(g.source, GrantSource::Direct))
        .filter_map(|g| s.account(&g.account_id))
        .filter_map(|a| a.email.clone())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_sync_reads_users_by_email_and_groups_with_members_across_pages() {
    let e = Emulated::start("scim").await;
    let s = sync(&connector(&e, 3)).await;
    assert_eq!(s.accounts.len(), 11);
    let former = s
        .account_by_login_or_email("former.engineer@example.com")
        .expect("inactive users are read too");
    assert_eq!(former.status, "INACTIVE");
    assert_eq!(former.display_name, "Former Engineer");
    assert_eq!(
        members_of(&s, "Platform"),
        [
            "nina.petrova@example.com",
            "okta-demo-user@example.com",
            "sam.okafor@example.com"
        ]
    );
    let platform = s.resource_by_name("group", "Platform").expect("group");
    assert!(platform.writable);
    assert_eq!(platform.entitlement_aliases["member"], "member");

    // Two users a page: the same snapshot, read over six pages.
    let paged = ScimConnector::new(
        ConnectionName::new("scim"),
        &config(&e, 2, 3),
        &Emulated::context(),
    )
    .expect("connector");
    let small = sync(&paged).await;
    let ids = |s: &Snapshot| {
        let mut v: Vec<String> = s.accounts.iter().map(|a| a.id.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&small), ids(&s));
    assert_eq!(small.grants.len(), s.grants.len());
}

#[tokio::test]
async fn every_operation_applied_twice_takes_effect_once() {
    let e = Emulated::start("scim").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let group = s
        .resource_by_name("group", "Platform")
        .expect("group")
        .id
        .clone();
    let diego = account_ref(&s, "diego.alvarez@example.com");
    let key = format!("group/{group}/member/{}", diego.id);
    let add = member_op(&s, true, diego.clone(), "Platform");
    let remove = member_op(&s, false, diego.clone(), "Platform");
    each_twice_takes_effect_once(&e, &c, &add, &remove, &key).await;

    let deactivate = action(diego.clone(), "deactivate");
    assert_eq!(
        c.observe(&deactivate).await.expect("observe"),
        Observed::NotDone
    );
    assert_eq!(c.apply(&deactivate).await.expect("first"), Applied::Changed);
    assert_eq!(
        c.apply(&deactivate).await.expect("second"),
        Applied::AlreadyPresent
    );
    assert_eq!(
        c.observe(&deactivate).await.expect("observe"),
        Observed::Done
    );
    let s = sync(&c).await;
    assert_eq!(
        s.account_by_login_or_email("diego.alvarez@example.com")
            .expect("account")
            .status,
        "INACTIVE"
    );
    assert_eq!(
        c.apply(&action(diego.clone(), "reactivate"))
            .await
            .expect("reactivate"),
        Applied::Changed
    );
    assert_eq!(e.writes().await[&format!("user/{}/active", diego.id)], 2);
}

#[tokio::test]
async fn a_person_without_a_known_id_is_found_by_user_name_before_the_change() {
    let e = Emulated::start("scim").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let pending = AccountRef {
        id: "pending:new.hire@example.com".into(),
        login: "new.hire@example.com".into(),
    };
    let add = member_op(&s, true, pending.clone(), "Engineering");
    assert_eq!(c.apply(&add).await.expect("add"), Applied::Changed);
    assert_eq!(c.observe(&add).await.expect("observe"), Observed::Done);
    assert!(
        members_of(&sync(&c).await, "Engineering").contains(&"new.hire@example.com".to_string())
    );

    let nobody = AccountRef {
        id: "pending:nobody@example.com".into(),
        login: "nobody@example.com".into(),
    };
    let failure = c
        .apply(&member_op(&s, true, nobody.clone(), "Engineering"))
        .await
        .expect_err("no such user");
    assert_eq!(failure.code(), "user_not_found");
    assert_eq!(
        c.apply(&member_op(&s, false, nobody, "Engineering"))
            .await
            .expect("nothing to remove"),
        Applied::AlreadyPresent
    );
}

#[tokio::test]
async fn a_rate_limited_call_waits_for_retry_after_and_succeeds() {
    let e = Emulated::start("scim").await;
    let c = connector(&e, 5);
    let s = sync(&c).await;
    e.admin("rate-limits", json!({"window_seconds": 1, "all": 2}))
        .await;
    let started = Instant::now();
    // Each add reads the group and then patches it: four calls at two a second.
    for email in ["diego.alvarez@example.com", "kim.tanaka@example.com"] {
        let add = member_op(&s, true, account_ref(&s, email), "Platform");
        assert_eq!(
            c.apply(&add).await.expect("waits out the limit"),
            Applied::Changed
        );
    }
    assert!(
        started.elapsed().as_millis() >= 900,
        "4 calls at 2 per second must wait"
    );
}

#[tokio::test]
async fn an_exhausted_rate_limit_is_reported_with_its_reset() {
    let e = Emulated::start("scim").await;
    let c = connector(&e, 0);
    let s = sync(&c).await;
    e.admin("rate-limits", json!({"window_seconds": 30, "all": 1}))
        .await;
    let add = member_op(
        &s,
        true,
        account_ref(&s, "diego.alvarez@example.com"),
        "Platform",
    );
    match c.apply(&add).await.expect_err("limited") {
        Failure::RateLimited {
            bucket,
            reset,
            message,
        } => {
            assert_eq!(bucket, "scim");
            assert!(
                reset > chrono::Utc::now() + chrono::Duration::seconds(20),
                "{reset}"
            );
            assert!(message.contains("HTTP 429: Too many requests"), "{message}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_on_a_write_is_retry_later() {
    let e = Emulated::start("scim").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let add = member_op(
        &s,
        true,
        account_ref(&s, "diego.alvarez@example.com"),
        "Platform",
    );
    server_errors_are_retry_later(&e, &c, &add, 503, "503").await;
}

#[tokio::test]
async fn scim_errors_are_permanent_in_the_providers_words_and_a_bad_token_is_unauthorized() {
    let e = Emulated::start("scim").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let mut ghost = account_ref(&s, "diego.alvarez@example.com");
    ghost.id = "no-such-user".into();
    match c
        .apply(&member_op(&s, true, ghost, "Platform"))
        .await
        .expect_err("unknown member")
    {
        Failure::Permanent {
            vendor_code,
            message,
            status,
        } => {
            assert_eq!(vendor_code, "invalidValue");
            assert_eq!(status, Some(400));
            assert!(
                message.contains("member no-such-user is not a User or Group here"),
                "{message}"
            );
            assert!(
                message.contains("Demo SCIM app PATCH /Groups/"),
                "{message}"
            );
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    let mut gone = member_op(
        &s,
        true,
        account_ref(&s, "diego.alvarez@example.com"),
        "Platform",
    );
    if let OpKind::AddGrant { resource, .. } = &mut gone.kind {
        resource.id = "no-such-group".into();
    }
    assert_eq!(
        c.apply(&gone).await.expect_err("missing group").code(),
        "404"
    );
    let unknown = action(account_ref(&s, "diego.alvarez@example.com"), "reset_mfa");
    assert_eq!(
        c.check(&unknown).expect_err("no such action").code(),
        "invalid_action"
    );

    let token = std::fs::read_to_string(&e.token_file).expect("token");
    std::fs::write(&e.token_file, "not-the-token").expect("write");
    match connector(&e, 3).health().await.expect_err("bad token") {
        Failure::Unauthorized {
            vendor_code,
            message,
        } => {
            assert_eq!(vendor_code.as_deref(), Some("401"));
            assert!(!message.contains(token.trim()));
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}
