//! The Okta connector against the Okta emulator.

use grantflow_connectors::okta::{OktaConfig, OktaConnector};
use grantflow_connectors::{Applied, BuildContext, Connector, Failure, Observed, SecretSource};
use grantflow_model::{
    AccountRef, AttributeType, ConnectionName, GrantSource, LifecycleState, OpKind, Operation,
    OperationId, ResourceKind, ResourceRef, Snapshot, SystemKind,
};
use grantflow_sandbox::{RunningSandbox, SandboxOptions};
use serde_json::json;
use std::time::Instant;

struct Fixture {
    sandbox: RunningSandbox,
    _dir: tempfile::TempDir,
    token_file: std::path::PathBuf,
}

impl Fixture {
    async fn start() -> Fixture {
        let sandbox =
            grantflow_sandbox::start(&grantflow_sandbox::demo_org(), SandboxOptions::default())
                .await
                .expect("sandbox");
        let dir = tempfile::tempdir().expect("tempdir");
        let token_file = dir.path().join("okta.token");
        let token = sandbox.info.systems["okta"].credentials["token"].clone();
        std::fs::write(&token_file, token).expect("token file");
        Fixture {
            sandbox,
            _dir: dir,
            token_file,
        }
    }

    fn connector(&self, max_rate_limit_waits: u32) -> OktaConnector {
        let config = OktaConfig {
            base_url: self.sandbox.info.systems["okta"].base_url.clone(),
            token: Some(SecretSource {
                env: None,
                file: Some(self.token_file.clone()),
            }),
            auth: None,
            timeout_seconds: 10,
            allow_insecure_http: false,
            max_rate_limit_waits,
            sync: Default::default(),
            event_hook: None,
        };
        let context = BuildContext::new(std::path::PathBuf::new());
        OktaConnector::new(ConnectionName::new("okta"), &config, &context).expect("connector")
    }

    async fn admin(&self, what: &str, body: serde_json::Value) {
        let url = format!("{}/{what}", self.sandbox.info.systems["okta"].admin_url);
        let response = reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await
            .expect("admin");
        assert!(response.status().is_success(), "{}", response.status());
    }

    async fn writes(&self) -> serde_json::Map<String, serde_json::Value> {
        let url = format!("{}/writes", self.sandbox.info.systems["okta"].admin_url);
        let body: serde_json::Value = reqwest::get(url)
            .await
            .expect("admin")
            .json()
            .await
            .expect("json");
        body["writes"].as_object().cloned().unwrap_or_default()
    }
}

async fn sync(connector: &OktaConnector) -> Snapshot {
    let mut snapshot = Snapshot::new(ConnectionName::new("okta"), SystemKind::new("okta"));
    connector.sync(&mut snapshot).await.expect("sync");
    snapshot
}

fn op(kind: &str, snapshot: &Snapshot, login: &str, resource_kind: &str, name: &str) -> Operation {
    let account = snapshot.account_by_login_or_email(login).expect("account");
    let resource = snapshot
        .resource_by_name(resource_kind, name)
        .expect("resource");
    let account = AccountRef {
        id: account.id.clone(),
        login: account.login.clone(),
    };
    let resource = ResourceRef {
        id: resource.id.clone(),
        kind: resource.kind.clone(),
        name: resource.name.clone(),
    };
    let entitlement = if resource_kind == "group" {
        "member"
    } else {
        "assigned"
    }
    .to_string();
    let kind = if kind == "add" {
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
        connection: ConnectionName::new("okta"),
        kind,
        reasons: vec![],
        depends_on: vec![],
    }
}

#[tokio::test]
async fn a_sync_reads_people_groups_memberships_apps_and_how_each_is_held() {
    let fixture = Fixture::start().await;
    let snapshot = sync(&fixture.connector(3)).await;
    let demo = snapshot
        .account_by_login_or_email("okta-demo-user@example.com")
        .expect("demo user");
    assert_eq!(demo.attributes["department"], "Platform");
    assert_eq!(demo.state, LifecycleState::Active);
    let suspended = snapshot
        .account_by_login_or_email("chen.wei@example.com")
        .expect("suspended user");
    assert_eq!(
        (suspended.status.as_str(), suspended.state),
        ("SUSPENDED", LifecycleState::Suspended)
    );
    // The user schema Okta publishes: base properties (some required) and the org's custom ones.
    let schema = snapshot.profile_schema.as_ref().expect("user schema");
    assert!(schema.get("login").expect("login").required);
    let department = schema.get("department").expect("department");
    assert_eq!(
        (department.ty, department.required),
        (AttributeType::String, false)
    );
    assert_eq!(
        schema.get("employmentStatus").map(|a| a.ty),
        Some(AttributeType::String),
        "a custom attribute the org's users carry"
    );
    assert!(schema.get("departmnt").is_none());
    assert!(
        snapshot
            .account_by_login_or_email("former.engineer@example.com")
            .is_some(),
        "deprovisioned users are read too"
    );
    let pad = snapshot
        .resource_by_name("group", "Production Access Demo")
        .expect("group");
    let mut apps: Vec<&str> = snapshot
        .inherited_through(&pad.id)
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    apps.sort();
    assert_eq!(
        apps,
        [
            "Checkout Production Access",
            "Graph Connector Console",
            "Production Monitors"
        ]
    );
    let everyone = snapshot
        .resource_by_name("group", "Everyone")
        .expect("built-in group");
    assert!(!everyone.writable);
    let slack = snapshot.resource_by_name("app", "Slack").expect("app");
    let held: Vec<&GrantSource> = snapshot
        .grants
        .iter()
        .filter(|g| g.account_id == demo.id && g.resource_id == slack.id)
        .map(|g| &g.source)
        .collect();
    assert!(
        held.contains(&&GrantSource::Direct),
        "the demo user is assigned Slack directly: {held:?}"
    );
    let sam = snapshot
        .account_by_login_or_email("sam.okafor@example.com")
        .expect("sam");
    let checkout = snapshot
        .resource_by_name("app", "Checkout Production Access")
        .expect("app");
    let via = snapshot
        .grants
        .iter()
        .find(|g| g.account_id == sam.id && g.resource_id == checkout.id)
        .expect("held");
    assert_eq!(
        via.source,
        GrantSource::Group {
            group_id: pad.id.clone()
        }
    );
}

#[tokio::test]
async fn every_operation_applied_twice_takes_effect_once() {
    let fixture = Fixture::start().await;
    let connector = fixture.connector(3);
    let snapshot = sync(&connector).await;
    for (group_or_app, name) in [
        ("group", "Production Access Demo"),
        ("app", "Production Monitors"),
    ] {
        let add = op(
            "add",
            &snapshot,
            "emma.jones@example.com",
            group_or_app,
            name,
        );
        assert_eq!(
            connector.observe(&add).await.expect("observe"),
            Observed::NotDone
        );
        assert_eq!(
            connector.apply(&add).await.expect("first"),
            Applied::Changed
        );
        let second = connector.apply(&add).await.expect("second");
        assert!(matches!(second, Applied::Changed | Applied::AlreadyPresent));
        assert_eq!(
            connector.observe(&add).await.expect("observe"),
            Observed::Done
        );

        let remove = op(
            "remove",
            &snapshot,
            "emma.jones@example.com",
            group_or_app,
            name,
        );
        assert_eq!(
            connector.observe(&remove).await.expect("observe"),
            Observed::NotDone
        );
        assert_eq!(
            connector.apply(&remove).await.expect("first"),
            Applied::Changed
        );
        let second = connector.apply(&remove).await.expect("second");
        assert!(matches!(second, Applied::Changed | Applied::AlreadyPresent));
        assert_eq!(
            connector.observe(&remove).await.expect("observe"),
            Observed::Done
        );
    }
    let after = sync(&connector).await;
    let emma = after
        .account_by_login_or_email("emma.jones@example.com")
        .expect("emma");
    let pad = after
        .resource_by_name("group", "Production Access Demo")
        .expect("group");
    assert!(
        !after
            .grants
            .iter()
            .any(|g| g.account_id == emma.id && g.resource_id == pad.id)
    );
    assert!(!fixture.writes().await.is_empty());
}

#[tokio::test]
async fn a_rate_limited_call_waits_for_the_reset_and_succeeds() {
    let fixture = Fixture::start().await;
    let connector = fixture.connector(5);
    let snapshot = sync(&connector).await;
    fixture
        .admin("rate-limits", json!({"window_seconds": 1, "all": 2}))
        .await;
    let started = Instant::now();
    for login in [
        "emma.jones@example.com",
        "grace.lee@example.com",
        "omar.haddad@example.com",
        "peter.novak@example.com",
    ] {
        let add = op("add", &snapshot, login, "group", "Finance");
        connector.apply(&add).await.expect("waits out the limit");
    }
    assert!(
        started.elapsed().as_millis() >= 900,
        "4 calls at 2 per second must wait at least once"
    );
}

#[tokio::test]
async fn an_exhausted_rate_limit_is_reported_with_its_bucket_and_reset() {
    let fixture = Fixture::start().await;
    let connector = fixture.connector(0);
    let snapshot = sync(&connector).await;
    fixture
        .admin("rate-limits", json!({"window_seconds": 30, "all": 1}))
        .await;
    let add = op(
        "add",
        &snapshot,
        "emma.jones@example.com",
        "group",
        "Finance",
    );
    let _ = connector.apply(&add).await;
    let failure = connector.apply(&add).await.expect_err("limited");
    match failure {
        Failure::RateLimited {
            bucket, message, ..
        } => {
            assert_eq!(bucket, "groups");
            assert!(message.starts_with("E0000047"), "{message}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_on_a_write_is_retry_later_with_the_vendor_code() {
    let fixture = Fixture::start().await;
    let connector = fixture.connector(3);
    let snapshot = sync(&connector).await;
    fixture
        .admin("faults", json!({"error_rate": 1.0, "error_status": 503}))
        .await;
    let add = op(
        "add",
        &snapshot,
        "emma.jones@example.com",
        "group",
        "Finance",
    );
    let failure = connector.apply(&add).await.expect_err("503");
    assert!(failure.is_transient(), "{failure:?}");
    assert!(failure.message().contains("503"), "{failure}");
}

#[tokio::test]
async fn a_missing_object_is_permanent_in_okta_words_and_a_bad_token_is_unauthorized() {
    let fixture = Fixture::start().await;
    let connector = fixture.connector(3);
    let snapshot = sync(&connector).await;
    let mut add = op(
        "add",
        &snapshot,
        "emma.jones@example.com",
        "group",
        "Finance",
    );
    if let OpKind::AddGrant { resource, .. } = &mut add.kind {
        resource.id = "00gdoesnotexist000000".into();
        resource.kind = ResourceKind::new("group");
    }
    match connector.apply(&add).await.expect_err("missing group") {
        Failure::Permanent {
            vendor_code,
            message,
            status,
        } => {
            assert_eq!(vendor_code, "E0000007");
            assert_eq!(status, Some(404));
            assert!(
                message.starts_with("Not found: Resource not found: 00gdoesnotexist000000"),
                "{message}"
            );
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    std::fs::write(&fixture.token_file, "00not-the-right-token").expect("write");
    match fixture.connector(3).health().await.expect_err("bad token") {
        Failure::Unauthorized { vendor_code, .. } => {
            assert_eq!(vendor_code.as_deref(), Some("E0000011"))
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}
