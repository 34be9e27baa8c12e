//! The Jira connector against the Jira Cloud emulator.

use crate::fixture::server_errors_are_retry_later;
use grantflow_connectors::jira::{JiraConfig, JiraConnector};
use grantflow_connectors::{Applied, Connector, Failure, SecretSource};
use grantflow_model::{
    ConnectionName, GrantSource, OpKind, Operation, OperationId, ResourceGrant, ResourceRef,
    Snapshot, SystemKind,
};
use serde_json::json;
use std::time::Instant;

use crate::emulated::{Emulated, account_ref, each_twice_takes_effect_once, grant_op};

const NEW_HIRE: &str = "5b10ac8d82e05b22cc7d0008";

fn connector_with(e: &Emulated, max_rate_limit_waits: u32, timeout_seconds: u64) -> JiraConnector {
    let email_file = e.token_file.with_file_name("email");
    std::fs::write(
        &email_file,
        &e.sandbox.info.systems["jira"].credentials["email"],
    )
    .expect("email file");
    let config = JiraConfig {
        base_url: e.base_url(),
        email: SecretSource {
            env: None,
            file: Some(email_file),
        },
        token: e.token(),
        timeout_seconds,
        allow_insecure_http: false,
        max_rate_limit_waits,
    };
    JiraConnector::new(ConnectionName::new("jira"), &config, &Emulated::context())
        .expect("connector")
}

fn connector(e: &Emulated, max_rate_limit_waits: u32) -> JiraConnector {
    connector_with(e, max_rate_limit_waits, 10)
}

async fn sync(c: &JiraConnector) -> Snapshot {
    let mut snapshot = Snapshot::new(ConnectionName::new("jira"), SystemKind::new("jira"));
    c.sync(&mut snapshot).await.expect("sync");
    snapshot
}

fn holders(s: &Snapshot, kind: &str, name: &str, entitlement: &str, direct: bool) -> Vec<String> {
    let resource = s.resource_by_name(kind, name).expect("resource");
    let mut out: Vec<String> = s
        .grants
        .iter()
        .filter(|g| g.resource_id == resource.id && g.entitlement == entitlement)
        .filter(|g| (g.source == GrantSource::Direct) == direct)
        .filter_map(|g| s.account(&g.account_id))
        .filter_map(|a| a.email.clone())
        .collect();
    out.sort();
    out
}

fn group_grant_op(s: &Snapshot, add: bool, group: &str, project: &str, role: &str) -> Operation {
    let as_ref = |kind: &str, name: &str| {
        let r = s.resource_by_name(kind, name).expect("resource");
        ResourceRef {
            id: r.id.clone(),
            kind: r.kind.clone(),
            name: r.name.clone(),
        }
    };
    let (group, resource, entitlement) = (
        as_ref("group", group),
        as_ref("project", project),
        role.to_string(),
    );
    Operation {
        id: OperationId(0),
        connection: ConnectionName::new("jira"),
        kind: if add {
            OpKind::AddGroupGrant {
                group,
                resource,
                entitlement,
            }
        } else {
            OpKind::RemoveGroupGrant {
                group,
                resource,
                entitlement,
            }
        },
        reasons: vec![],
        depends_on: vec![],
    }
}

#[tokio::test]
async fn a_sync_reads_accounts_project_roles_group_actors_and_groups() {
    let e = Emulated::start("jira").await;
    let s = sync(&connector(&e, 3)).await;
    let hire = s
        .account_by_login_or_email("new.hire@example.com")
        .expect("new hire");
    assert_eq!(hire.id, NEW_HIRE);
    assert_eq!(
        s.account_by_login_or_email("former.engineer@example.com")
            .expect("inactive accounts are read")
            .status,
        "INACTIVE"
    );
    let plat = s.resource_by_name("project", "Platform").expect("PLAT");
    assert_eq!(plat.id, "PLAT");
    assert_eq!(
        plat.entitlements,
        ["role:Administrators", "role:Developers", "role:Viewers"]
    );
    assert_eq!(plat.entitlement_aliases["write"], "role:Developers");
    assert_eq!(
        holders(&s, "project", "Platform", "role:Developers", true),
        ["diego.alvarez@example.com", "nina.petrova@example.com"]
    );
    // platform-team holds Developers; its members hold it through the group.
    assert!(s.resource_grants.contains(&ResourceGrant {
        holder_id: "platform-team".into(),
        resource_id: "PLAT".into(),
        entitlement: "role:Developers".into(),
    }));
    assert!(
        holders(&s, "project", "Platform", "role:Developers", false)
            .contains(&"okta-demo-user@example.com".to_string())
    );
    assert_eq!(
        holders(&s, "group", "payments-team", "member", true),
        ["olivia.smith@example.com", "ravi.patel@example.com"]
    );
}

#[tokio::test]
async fn every_operation_applied_twice_takes_effect_once() {
    let e = Emulated::start("jira").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let hire = account_ref(&s, "new.hire@example.com");

    let add = grant_op(
        "jira",
        true,
        hire.clone(),
        &s,
        "project",
        "Platform",
        "role:Developers",
    );
    let remove = grant_op(
        "jira",
        false,
        hire.clone(),
        &s,
        "project",
        "Platform",
        "role:Developers",
    );
    let key = format!("project/PLAT/role:Developers/user/{NEW_HIRE}");
    each_twice_takes_effect_once(&e, &c, &add, &remove, &key).await;

    let add = grant_op(
        "jira",
        true,
        hire.clone(),
        &s,
        "group",
        "payments-team",
        "member",
    );
    let remove = grant_op("jira", false, hire, &s, "group", "payments-team", "member");
    let key = format!("group/payments-team/member/{NEW_HIRE}");
    each_twice_takes_effect_once(&e, &c, &add, &remove, &key).await;

    let add = group_grant_op(&s, true, "payments-team", "Payments", "role:Viewers");
    let remove = group_grant_op(&s, false, "payments-team", "Payments", "role:Viewers");
    each_twice_takes_effect_once(
        &e,
        &c,
        &add,
        &remove,
        "project/PAY/role:Viewers/group/payments-team",
    )
    .await;
    assert_eq!(
        holders(&sync(&c).await, "group", "payments-team", "member", true),
        ["olivia.smith@example.com", "ravi.patel@example.com"]
    );
}

#[tokio::test]
async fn a_rate_limited_call_waits_for_retry_after_and_succeeds() {
    let e = Emulated::start("jira").await;
    let c = connector(&e, 5);
    let s = sync(&c).await;
    e.admin("rate-limits", json!({"window_seconds": 1, "all": 3}))
        .await;
    let started = Instant::now();
    let add = grant_op(
        "jira",
        true,
        account_ref(&s, "new.hire@example.com"),
        &s,
        "project",
        "Engineering",
        "role:Viewers",
    );
    // role lookup, role read, POST: three calls; the observe afterwards needs a new window.
    assert_eq!(c.apply(&add).await.expect("applies"), Applied::Changed);
    assert_eq!(
        c.observe(&add).await.expect("waits out the limit"),
        grantflow_connectors::Observed::Done
    );
    assert!(
        started.elapsed().as_millis() >= 900,
        "five calls at three per second must wait"
    );
}

#[tokio::test]
async fn an_exhausted_rate_limit_is_reported_with_its_reset() {
    let e = Emulated::start("jira").await;
    let c = connector(&e, 0);
    let s = sync(&c).await;
    e.admin("rate-limits", json!({"window_seconds": 30, "all": 1}))
        .await;
    let add = grant_op(
        "jira",
        true,
        account_ref(&s, "new.hire@example.com"),
        &s,
        "project",
        "Platform",
        "role:Viewers",
    );
    match c.apply(&add).await.expect_err("limited") {
        Failure::RateLimited {
            bucket,
            reset,
            message,
        } => {
            assert_eq!(bucket, "api");
            assert!(
                reset > chrono::Utc::now() + chrono::Duration::seconds(20),
                "{reset}"
            );
            assert!(message.contains("Rate limit exceeded."), "{message}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_on_a_write_is_retry_later() {
    let e = Emulated::start("jira").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let add = grant_op(
        "jira",
        true,
        account_ref(&s, "new.hire@example.com"),
        &s,
        "group",
        "engineering",
        "member",
    );
    server_errors_are_retry_later(&e, &c, &add, 503, "503").await;
}

#[tokio::test]
async fn a_timed_out_write_is_retry_later() {
    let e = Emulated::start("jira").await;
    let s = sync(&connector(&e, 3)).await;
    e.admin("network", json!({"timeout_rate": 1.0, "timeout_ms": 3000}))
        .await;
    let add = grant_op(
        "jira",
        true,
        account_ref(&s, "new.hire@example.com"),
        &s,
        "group",
        "engineering",
        "member",
    );
    let failure = connector_with(&e, 3, 1)
        .apply(&add)
        .await
        .expect_err("times out");
    assert!(matches!(failure, Failure::RetryLater { .. }), "{failure:?}");
}

#[tokio::test]
async fn a_missing_project_is_permanent_in_jiras_words_and_a_bad_token_is_unauthorized() {
    let e = Emulated::start("jira").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let mut add = grant_op(
        "jira",
        true,
        account_ref(&s, "new.hire@example.com"),
        &s,
        "project",
        "Platform",
        "role:Developers",
    );
    if let OpKind::AddGrant { resource, .. } = &mut add.kind {
        resource.id = "NOPE".into();
    }
    match c.apply(&add).await.expect_err("missing project") {
        Failure::Permanent {
            vendor_code,
            message,
            status,
        } => {
            assert_eq!((vendor_code.as_str(), status), ("404", Some(404)));
            assert!(
                message.contains("No project could be found with key 'NOPE'."),
                "{message}"
            );
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    std::fs::write(&e.token_file, "not-the-right-token").expect("write");
    match connector(&e, 3).health().await.expect_err("bad token") {
        Failure::Unauthorized { vendor_code, .. } => {
            assert_eq!(vendor_code.as_deref(), Some("401"))
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}
