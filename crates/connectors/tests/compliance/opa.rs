//! The Okta Privileged Access connector against the OPA emulator.

use crate::emulated::{Emulated, account_ref, each_twice_takes_effect_once, grant_op};
use crate::fixture::server_errors_are_retry_later;
use grantflow_connectors::opa::{OpaConfig, OpaConnector, TeamName};
use grantflow_connectors::{Applied, Connector, Failure, Observed, SecretSource};
use grantflow_model::{ConnectionName, OpKind, Operation, ResourceRef, Snapshot};
use serde_json::json;

const FOLDER: &str = "payments/payments-prod/payments-secrets";

/// The key id and secret in files, as `grantflow init --sandbox` writes them.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn new(e: &Emulated) -> Keys {
        let dir = tempfile::tempdir().expect("tempdir");
        for key in ["key_id", "key_secret"] {
            std::fs::write(
                dir.path().join(key),
                &e.sandbox.info.systems["opa"].credentials[key],
            )
            .expect("write key");
        }
        Keys { dir }
    }

    fn source(&self, key: &str) -> SecretSource {
        SecretSource {
            env: None,
            file: Some(self.dir.path().join(key)),
        }
    }
}

fn connector(e: &Emulated, keys: &Keys, max_rate_limit_waits: u32) -> OpaConnector {
    let config = OpaConfig {
        base_url: e.base_url(),
        team: TeamName::Name(e.sandbox.info.systems["opa"].credentials["team"].clone()),
        key_id: keys.source("key_id"),
        key_secret: keys.source("key_secret"),
        timeout_seconds: 10,
        allow_insecure_http: false,
        max_rate_limit_waits,
    };
    OpaConnector::new(ConnectionName::new("opa"), &config, &Emulated::context()).expect("connector")
}

async fn sync(c: &OpaConnector, e: &Emulated) -> Snapshot {
    let mut snapshot = e.snapshot();
    c.sync(&mut snapshot).await.expect("sync");
    snapshot
}

fn create(e: &Emulated, kind: &str, name: &str, spec: serde_json::Value) -> Operation {
    e.operation(OpKind::CreateResource {
        resource: ResourceRef::pending(kind, name),
        spec: spec.as_object().cloned().unwrap_or_default(),
    })
}

fn members(s: &Snapshot, group: &str) -> Vec<String> {
    let group = s.resource_by_name("group", group).expect("group");
    let mut out: Vec<String> = s
        .grants
        .iter()
        .filter(|g| g.resource_id == group.id)
        .map(|g| g.account_id.clone())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_sync_reads_users_groups_folders_and_policies_with_their_groups() {
    let e = Emulated::start("opa").await;
    let keys = Keys::new(&e);
    let s = sync(&connector(&e, &keys, 3), &e).await;
    let ravi = s
        .account_by_login_or_email("ravi.patel@example.com")
        .expect("users correlate by email");
    assert_eq!(ravi.id, "ravi.patel");
    assert_eq!(
        s.account_by_login_or_email("former.engineer@example.com")
            .expect("disabled users are read")
            .status,
        "DISABLED"
    );
    assert_eq!(
        members(&s, "payments-engineers"),
        ["fatima.zahra", "olivia.smith"]
    );
    let folder = s
        .resource_by_name("secret_folder", "payments/payments-prod/payments-shared")
        .expect("folders are named by their place");
    let policy = s
        .resource_by_name("security_policy", "payments-shared-access")
        .expect("policy");
    assert_eq!(policy.attributes["secret_folders"], json!([folder.name]));
    let group = s
        .resource_by_name("group", "payments-engineers")
        .expect("group");
    assert!(
        s.resource_grants
            .iter()
            .any(|g| g.holder_id == group.id && g.resource_id == policy.id)
    );
}

#[tokio::test]
async fn every_operation_applied_twice_takes_effect_once() {
    let e = Emulated::start("opa").await;
    let keys = Keys::new(&e);
    let c = connector(&e, &keys, 3);
    let s = sync(&c, &e).await;
    let add = grant_op(
        "opa",
        true,
        account_ref(&s, "new.hire@example.com"),
        &s,
        "group",
        "payments-engineers",
        "member",
    );
    let remove = grant_op(
        "opa",
        false,
        account_ref(&s, "new.hire@example.com"),
        &s,
        "group",
        "payments-engineers",
        "member",
    );
    each_twice_takes_effect_once(
        &e,
        &c,
        &add,
        &remove,
        "group/payments-engineers/users/new.hire",
    )
    .await;

    for op in [
        create(&e, "secret_folder", FOLDER, json!({"description": "d"})),
        create(&e, "group", "payments-secrets", json!({})),
    ] {
        assert_eq!(c.observe(&op).await.expect("observe"), Observed::NotDone);
        assert_eq!(c.apply(&op).await.expect("create"), Applied::Changed);
        assert_eq!(c.apply(&op).await.expect("again"), Applied::AlreadyPresent);
        assert_eq!(c.observe(&op).await.expect("observe"), Observed::Done);
    }
    let policy = create(
        &e,
        "security_policy",
        "payments-secrets-access",
        json!({"groups": ["payments-secrets"], "folders": [FOLDER], "privileges": {"secret_create": true}}),
    );
    assert_eq!(c.apply(&policy).await.expect("create"), Applied::Changed);
    assert_eq!(
        c.apply(&policy).await.expect("again"),
        Applied::AlreadyPresent
    );
    let writes = e.writes().await;
    for key in [
        "secret_folder/payments-secrets",
        "group/payments-secrets",
        "security_policy/payments-secrets-access",
    ] {
        assert_eq!(writes[key], 1, "{key}: {writes:?}");
    }
    let s = sync(&c, &e).await;
    let created = s
        .resource_by_name("security_policy", "payments-secrets-access")
        .expect("policy synced");
    assert_eq!(created.attributes["secret_folders"], json!([FOLDER]));
}

#[tokio::test]
async fn a_policy_for_a_group_not_pushed_yet_waits_and_bad_folder_names_are_refused() {
    let e = Emulated::start("opa").await;
    let keys = Keys::new(&e);
    let c = connector(&e, &keys, 3);
    let policy = create(
        &e,
        "security_policy",
        "p",
        json!({"groups": ["OPA Payments Secrets"], "folders": ["payments/payments-prod/payments-shared"]}),
    );
    match c.apply(&policy).await.expect_err("no group yet") {
        Failure::Waiting { reason, .. } => assert!(reason.contains("group push"), "{reason}"),
        other => panic!("expected Waiting, got {other:?}"),
    }
    let bad = create(
        &e,
        "secret_folder",
        "payments/payments-prod/no spaces",
        json!({}),
    );
    assert!(c.check(&bad).is_err());
}

#[tokio::test]
async fn an_expired_token_is_minted_again_and_a_wrong_key_is_unauthorized() {
    let e = Emulated::start("opa").await;
    let keys = Keys::new(&e);
    let c = connector(&e, &keys, 3);
    c.health().await.expect("healthy");
    e.admin("expire-tokens", json!({})).await;
    c.health().await.expect("a new token after the 401");
    std::fs::write(keys.dir.path().join("key_secret"), "not-the-secret").expect("write");
    match connector(&e, &keys, 3).health().await.expect_err("bad key") {
        Failure::Unauthorized { message, .. } => {
            assert!(
                message.contains("invalid key_id or key_secret"),
                "{message}"
            )
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn an_exhausted_rate_limit_is_reported_with_the_retry_at_time() {
    let e = Emulated::start("opa").await;
    let keys = Keys::new(&e);
    let waits = connector(&e, &keys, 3);
    let s = sync(&waits, &e).await;
    e.admin("rate-limits", json!({"window_seconds": 1, "all": 3}))
        .await;
    let started = std::time::Instant::now();
    for _ in 0..3 {
        waits.health().await.expect("waits out the limit");
    }
    assert!(
        started.elapsed().as_millis() >= 500,
        "a 4th call in the second waits"
    );
    e.admin("rate-limits", json!({"window_seconds": 30, "all": 1}))
        .await;
    let c = connector(&e, &keys, 0);
    let add = grant_op(
        "opa",
        true,
        account_ref(&s, "new.hire@example.com"),
        &s,
        "group",
        "payments-engineers",
        "member",
    );
    let _ = c.apply(&add).await;
    match c.apply(&add).await.expect_err("limited") {
        Failure::RateLimited { bucket, reset, .. } => {
            assert_eq!(bucket, "api");
            assert!(
                reset > chrono::Utc::now() + chrono::Duration::seconds(20),
                "{reset}"
            );
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_on_a_write_is_retry_later() {
    let e = Emulated::start("opa").await;
    let keys = Keys::new(&e);
    let c = connector(&e, &keys, 3);
    let add = create(&e, "group", "new-group", json!({}));
    c.health().await.expect("token minted before the outage");
    server_errors_are_retry_later(&e, &c, &add, 503, "internal_error").await;
}

#[tokio::test]
async fn a_missing_group_is_permanent_in_opas_words() {
    let e = Emulated::start("opa").await;
    let keys = Keys::new(&e);
    let c = connector(&e, &keys, 3);
    let s = sync(&c, &e).await;
    let mut add = grant_op(
        "opa",
        true,
        account_ref(&s, "new.hire@example.com"),
        &s,
        "group",
        "payments-engineers",
        "member",
    );
    if let OpKind::AddGrant { resource, .. } = &mut add.kind {
        resource.name = "no-such-group".into();
    }
    match c.apply(&add).await.expect_err("missing group") {
        Failure::Permanent {
            vendor_code,
            message,
            status,
        } => {
            assert_eq!(vendor_code, "resource_not_found");
            assert_eq!(message, "group not found");
            assert_eq!(status, Some(404));
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    let folder = create(&e, "secret_folder", "nope/nope/x", json!({}));
    assert!(matches!(
        c.apply(&folder).await.expect_err("no resource group"),
        Failure::Permanent { .. }
    ));
}
