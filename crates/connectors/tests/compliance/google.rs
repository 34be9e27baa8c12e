//! The Google Workspace connector against the Google emulator.

use crate::fixture::server_errors_are_retry_later;
use grantflow_connectors::google::{GoogleConfig, GoogleConnector};
use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{AccountRef, ConnectionName, OpKind, Operation, ResourceRef, Snapshot};
use serde_json::json;

use crate::fixture::Fixture;

fn connector(fixture: &Fixture, max_rate_limit_waits: u32) -> GoogleConnector {
    let config = GoogleConfig {
        base_url: fixture.base_url(),
        token: fixture.token(),
        customer: "my_customer".into(),
        timeout_seconds: 10,
        allow_insecure_http: false,
        max_rate_limit_waits,
    };
    GoogleConnector::new(ConnectionName::new("google"), &config, &Fixture::context())
        .expect("connector")
}

async fn sync(fixture: &Fixture, connector: &GoogleConnector) -> Snapshot {
    let mut snapshot = fixture.snapshot();
    connector.sync(&mut snapshot).await.expect("sync");
    snapshot
}

fn op(
    fixture: &Fixture,
    add: bool,
    snapshot: &Snapshot,
    email: &str,
    group: &str,
    role: &str,
) -> Operation {
    let account = snapshot.account_by_login_or_email(email).expect("account");
    let resource = snapshot.resource_by_name("group", group).expect("group");
    let account = AccountRef {
        id: account.id.clone(),
        login: account.login.clone(),
    };
    let resource = ResourceRef {
        id: resource.id.clone(),
        kind: resource.kind.clone(),
        name: resource.name.clone(),
    };
    let entitlement = role.to_string();
    fixture.operation(if add {
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
    })
}

fn role_of(snapshot: &Snapshot, email: &str, group: &str) -> Option<String> {
    let account = snapshot.account_by_login_or_email(email)?;
    let group = snapshot.resource_by_name("group", group)?;
    snapshot
        .grants
        .iter()
        .find(|g| g.account_id == account.id && g.resource_id == group.id)
        .map(|g| g.entitlement.clone())
}

#[tokio::test]
async fn a_sync_reads_users_by_work_email_groups_and_member_roles() {
    let fixture = Fixture::start("google").await;
    let snapshot = sync(&fixture, &connector(&fixture, 3)).await;
    let priya = snapshot
        .account_by_login_or_email("priya.raman@example.com")
        .expect("priya");
    assert_eq!(priya.email.as_deref(), Some("priya.raman@example.com"));
    let former = snapshot
        .account_by_login_or_email("former.engineer@example.com")
        .expect("former");
    assert_eq!(former.status, "SUSPENDED");
    let eng = snapshot
        .resource_by_name("group", "engineering@example.com")
        .expect("group");
    assert_eq!(eng.entitlements, ["member", "manager", "owner"]);
    assert_eq!(eng.entitlement_aliases["admin"], "owner");
    assert_eq!(eng.attributes["display_name"], "Engineering");
    assert_eq!(
        role_of(
            &snapshot,
            "priya.raman@example.com",
            "engineering@example.com"
        )
        .as_deref(),
        Some("owner")
    );
    assert_eq!(
        role_of(
            &snapshot,
            "marco.rossi@example.com",
            "engineering@example.com"
        )
        .as_deref(),
        Some("manager")
    );
    assert_eq!(
        role_of(
            &snapshot,
            "lena.fischer@example.com",
            "engineering@example.com"
        )
        .as_deref(),
        Some("member")
    );
    assert_eq!(snapshot.resources.len(), 4);
}

#[tokio::test]
async fn a_sync_follows_page_tokens_past_two_hundred_members() {
    let fixture = Fixture::start("google").await;
    let http = reqwest::Client::new();
    let token = std::fs::read_to_string(&fixture.token_file).expect("token");
    let api = format!("{}/admin/directory/v1", fixture.base_url());
    for n in 0..205 {
        let email = format!("bulk{n}@example.com");
        let user = json!({"primaryEmail": email, "name": {"givenName": "Bulk", "familyName": n.to_string()}, "password": "x"});
        let created = http
            .post(format!("{api}/users"))
            .bearer_auth(&token)
            .json(&user)
            .send()
            .await
            .expect("user");
        assert!(created.status().is_success());
        let member = json!({"email": email, "role": "MEMBER"});
        let added = http
            .post(format!("{api}/groups/all-hands%40example.com/members"))
            .bearer_auth(&token)
            .json(&member)
            .send()
            .await
            .expect("member");
        assert!(added.status().is_success());
    }
    let snapshot = sync(&fixture, &connector(&fixture, 3)).await;
    let all_hands = snapshot
        .resource_by_name("group", "all-hands@example.com")
        .expect("group");
    assert_eq!(
        snapshot
            .grants
            .iter()
            .filter(|g| g.resource_id == all_hands.id)
            .count(),
        4 + 205
    );
    assert_eq!(snapshot.accounts.len(), 14 + 205);
}

#[tokio::test]
async fn every_operation_applied_twice_takes_effect_once() {
    let fixture = Fixture::start("google").await;
    let connector = connector(&fixture, 3);
    let snapshot = sync(&fixture, &connector).await;
    let platform = snapshot
        .resource_by_name("group", "platform@example.com")
        .expect("group")
        .id
        .clone();
    let demo = snapshot
        .account_by_login_or_email("okta-demo-user@example.com")
        .expect("demo")
        .id
        .clone();
    let add = op(
        &fixture,
        true,
        &snapshot,
        "okta-demo-user@example.com",
        "platform@example.com",
        "member",
    );
    assert_eq!(
        connector.observe(&add).await.expect("observe"),
        Observed::NotDone
    );
    assert_eq!(
        connector.apply(&add).await.expect("first"),
        Applied::Changed
    );
    assert_eq!(
        connector.apply(&add).await.expect("second"),
        Applied::AlreadyPresent
    );
    assert_eq!(
        connector.observe(&add).await.expect("observe"),
        Observed::Done
    );
    let key = format!("group/{platform}/member/{demo}");
    assert_eq!(
        fixture.writes().await[&key],
        1,
        "one insert for two applies"
    );

    // A role change is a PATCH of the existing membership, not a second insert.
    let promote = op(
        &fixture,
        true,
        &snapshot,
        "okta-demo-user@example.com",
        "platform@example.com",
        "manager",
    );
    assert_eq!(
        connector.apply(&promote).await.expect("promote"),
        Applied::Changed
    );
    assert_eq!(
        connector.apply(&promote).await.expect("again"),
        Applied::AlreadyPresent
    );
    assert_eq!(fixture.writes().await[&key], 2);

    // Removing `member` from a manager takes nothing; removing `manager` removes the membership.
    let remove_member = op(
        &fixture,
        false,
        &snapshot,
        "okta-demo-user@example.com",
        "platform@example.com",
        "member",
    );
    assert_eq!(
        connector.apply(&remove_member).await.expect("no-op"),
        Applied::AlreadyPresent
    );
    let remove = op(
        &fixture,
        false,
        &snapshot,
        "okta-demo-user@example.com",
        "platform@example.com",
        "manager",
    );
    assert_eq!(
        connector.observe(&remove).await.expect("observe"),
        Observed::NotDone
    );
    assert_eq!(
        connector.apply(&remove).await.expect("first"),
        Applied::Changed
    );
    assert_eq!(
        connector.apply(&remove).await.expect("second"),
        Applied::AlreadyPresent
    );
    assert_eq!(
        connector.observe(&remove).await.expect("observe"),
        Observed::Done
    );
    assert_eq!(fixture.writes().await[&key], 3);
    let after = sync(&fixture, &connector).await;
    assert_eq!(
        role_of(&after, "okta-demo-user@example.com", "platform@example.com"),
        None
    );
}

#[tokio::test]
async fn a_member_not_yet_listed_is_not_inserted_twice() {
    let fixture = Fixture::start("google").await;
    let connector = connector(&fixture, 3);
    let snapshot = sync(&fixture, &connector).await;
    fixture
        .admin("faults", json!({"member_visibility_delay_ms": 60_000}))
        .await;
    let add = op(
        &fixture,
        true,
        &snapshot,
        "emma.jones@example.com",
        "engineering@example.com",
        "member",
    );
    assert_eq!(
        connector.apply(&add).await.expect("first"),
        Applied::Changed
    );
    let listed = sync(&fixture, &connector).await;
    assert_eq!(
        role_of(&listed, "emma.jones@example.com", "engineering@example.com"),
        None,
        "listing lags"
    );
    assert_eq!(
        connector.observe(&add).await.expect("observe"),
        Observed::Done
    );
    assert_eq!(
        connector.apply(&add).await.expect("replay"),
        Applied::AlreadyPresent
    );
    let inserts: u64 = fixture
        .writes()
        .await
        .values()
        .filter_map(|v| v.as_u64())
        .sum();
    assert_eq!(inserts, 1);
}

#[tokio::test]
async fn a_quota_error_backs_off_and_succeeds_or_is_reported_as_rate_limited() {
    let fixture = Fixture::start("google").await;
    let snapshot = sync(&fixture, &connector(&fixture, 3)).await;
    fixture
        .admin(
            "rate-limits",
            json!({"window_seconds": 1, "limit": 2, "reason": "userRateLimitExceeded"}),
        )
        .await;
    let add = op(
        &fixture,
        true,
        &snapshot,
        "emma.jones@example.com",
        "platform@example.com",
        "member",
    );
    // Read, then insert: three calls at two per second must back off at least once.
    assert_eq!(
        connector(&fixture, 6).apply(&add).await.expect("backs off"),
        Applied::Changed
    );

    fixture
        .admin(
            "rate-limits",
            json!({"window_seconds": 60, "limit": 0, "reason": "quotaExceeded"}),
        )
        .await;
    match connector(&fixture, 0)
        .apply(&add)
        .await
        .expect_err("limited")
    {
        Failure::RateLimited {
            bucket, message, ..
        } => {
            assert_eq!(bucket, "directory");
            assert!(message.starts_with("quotaExceeded"), "{message}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_on_a_write_is_retry_later() {
    let fixture = Fixture::start("google").await;
    let connector = connector(&fixture, 3);
    let snapshot = sync(&fixture, &connector).await;
    let add = op(
        &fixture,
        true,
        &snapshot,
        "emma.jones@example.com",
        "platform@example.com",
        "member",
    );
    server_errors_are_retry_later(&fixture, &connector, &add, 503, "backendError").await;
}

#[tokio::test]
async fn a_missing_group_is_permanent_in_google_words_and_a_bad_token_is_unauthorized() {
    let fixture = Fixture::start("google").await;
    let connector = connector(&fixture, 3);
    let snapshot = sync(&fixture, &connector).await;
    let mut add = op(
        &fixture,
        true,
        &snapshot,
        "emma.jones@example.com",
        "platform@example.com",
        "member",
    );
    if let OpKind::AddGrant { resource, .. } = &mut add.kind {
        resource.id = "03nosuchgroup".into();
    }
    match connector.apply(&add).await.expect_err("missing group") {
        Failure::Permanent {
            vendor_code,
            message,
            status,
        } => {
            assert_eq!((vendor_code.as_str(), status), ("notFound", Some(404)));
            assert_eq!(message, "Resource Not Found: groupKey");
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    let mut owner_of_nothing = add.clone();
    if let OpKind::AddGrant { entitlement, .. } = &mut owner_of_nothing.kind {
        *entitlement = "superuser".into();
    }
    assert_eq!(
        connector
            .apply(&owner_of_nothing)
            .await
            .expect_err("unknown role")
            .code(),
        "unsupported"
    );
    std::fs::write(&fixture.token_file, "ya29.wrong").expect("write");
    match self::connector(&fixture, 3)
        .health()
        .await
        .expect_err("bad token")
    {
        Failure::Unauthorized { vendor_code, .. } => {
            assert_eq!(vendor_code.as_deref(), Some("authError"))
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}
