//! The Google Workspace connector against the Google emulator: its part of the contract, and what only Google
//! does (member roles, page tokens, a listing that lags behind a write, the older hand-change ops).

use grantflow_connectors::google::{GoogleConfig, GoogleConnector};
use grantflow_connectors::{Applied, Connector, Observed};
use grantflow_model::{
    AccountOptions, AccountRef, ConnectionName, OpKind, Operation, RetireMode, Snapshot,
};
use serde_json::json;

use crate::harness::{ByHand, Case, Grant, Missing, RateLimits, Said, Sandbox, System, Text};
use crate::sandbox::{account, held, resource};

pub struct Google;

fn connector(sandbox: &Sandbox, waits: u32) -> GoogleConnector {
    let config = GoogleConfig {
        allow_insecure_http: false,
        base_url: sandbox.base_url(),
        token: Some(sandbox.credential("token")),
        service_account_key: None,
        subject: None,
        scopes: vec![],
        customer: "my_customer".into(),
        timeout_seconds: 10,
        max_rate_limit_waits: waits,
    };
    GoogleConnector::new(ConnectionName::new("google"), &config, &Sandbox::context())
        .expect("connector")
}

const DEMO: &str = "okta-demo-user@example.com";
const PLATFORM: (&str, &str) = ("group", "platform@example.com");

fn role(sandbox: &Sandbox, s: &Snapshot, add: bool, email: &str, role: &str) -> Operation {
    sandbox.grant(s, add, email, PLATFORM, role)
}

impl System for Google {
    const KIND: &'static str = "google";

    fn connector(sandbox: &Sandbox, waits: u32) -> Box<dyn Connector> {
        Box::new(connector(sandbox, waits))
    }

    const GRANT: Grant = Grant {
        email: "emma.jones@example.com",
        resource: "group/platform@example.com",
        entitlement: "member",
    };

    fn operations(sandbox: &Sandbox, s: &Snapshot) -> Vec<Case> {
        let key = format!(
            "group/{}/member/{}",
            resource(s, PLATFORM.0, PLATFORM.1).id,
            account(s, DEMO).id
        );
        let user = |email: &str| format!("user/{}", account(s, email).id);
        let fields = |value: serde_json::Value| value.as_object().cloned().unwrap_or_default();
        vec![
            Case::new(role(sandbox, s, true, DEMO, "member"), &key),
            // A role change is a PATCH of the membership, not a second insert.
            Case::new(role(sandbox, s, true, DEMO, "manager"), &key),
            Case::new(role(sandbox, s, false, DEMO, "manager"), &key),
            // Accounts as code (google_accounts.rs): created once, found by primary email.
            Case::unkeyed(sandbox.operation(OpKind::create_account(
                AccountRef::pending("new.joiner@example.com"),
                fields(json!({"givenName": "New", "familyName": "Joiner", "orgUnitPath": "/Sales"})),
                AccountOptions::default(),
            ))),
            // The declared profile fields, one users.update after reading the user.
            Case::new(
                sandbox.operation(OpKind::update_profile(
                    account(s, DEMO),
                    serde_json::Map::new(),
                    fields(json!({"orgUnitPath": "/Engineering", "customSchemas.Employment.costCenter": "ENG-1"})),
                )),
                user(DEMO),
            ),
            Case::new(
                sandbox.operation(OpKind::retire_account(
                    account(s, "tom.baker@example.com"),
                    RetireMode::Suspend,
                )),
                user("tom.baker@example.com"),
            ),
            Case::new(
                sandbox.operation(OpKind::retire_account(
                    account(s, "aisha.khan@example.com"),
                    RetireMode::Delete,
                )),
                user("aisha.khan@example.com"),
            ),
        ]
    }

    const RATE_LIMITS: RateLimits = RateLimits {
        tight: Some(r#"{"window_seconds": 1, "limit": 2, "reason": "userRateLimitExceeded"}"#),
        spent: r#"{"window_seconds": 60, "limit": 0, "reason": "quotaExceeded"}"#,
        bucket: "directory",
        message: Some(Text::StartsWith("quotaExceeded")),
        reset_after_seconds: 0,
    };

    const SERVER_ERROR: (u16, Said) = (503, Said::code("backendError"));

    const PERMANENT: (Missing, Said) = (
        Missing::ResourceId("03nosuchgroup"),
        Said::code("notFound")
            .status(404)
            .saying(Text::Is("Resource Not Found: groupKey")),
    );

    const WRONG_CREDENTIAL: (&'static str, &'static str) = ("token", "ya29.wrong");
    const UNAUTHORIZED: Said = Said::code("authError");

    const BY_HAND: ByHand = ByHand {
        user: "lena.fischer@example.com",
        email: "lena.fischer@example.com",
        add: ("group/platform@example.com", "manager"),
        remove: "group/engineering@example.com",
        suspended_status: "SUSPENDED",
    };
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
    let sandbox = Sandbox::start("google").await;
    let snapshot = sandbox.sync(&connector(&sandbox, 3)).await;
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
    for (email, expected) in [
        ("priya.raman@example.com", "owner"),
        ("marco.rossi@example.com", "manager"),
        ("lena.fischer@example.com", "member"),
    ] {
        assert_eq!(
            role_of(&snapshot, email, "engineering@example.com").as_deref(),
            Some(expected),
            "{email}"
        );
    }
    assert_eq!(snapshot.resources.len(), 4);
}

#[tokio::test]
async fn a_sync_follows_page_tokens_past_two_hundred_members() {
    let sandbox = Sandbox::start("google").await;
    let http = reqwest::Client::new();
    let token = sandbox.credential_value("token");
    let api = format!("{}/admin/directory/v1", sandbox.base_url());
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
    let snapshot = sandbox.sync(&connector(&sandbox, 3)).await;
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
async fn removing_a_role_weaker_than_the_one_held_leaves_the_membership() {
    let sandbox = Sandbox::start("google").await;
    let c = connector(&sandbox, 3);
    let s = sandbox.sync(&c).await;
    let promote = role(&sandbox, &s, true, DEMO, "manager");
    assert_eq!(c.apply(&promote).await.expect("add"), Applied::Changed);
    let remove_member = role(&sandbox, &s, false, DEMO, "member");
    assert_eq!(
        c.apply(&remove_member).await.expect("no-op"),
        Applied::AlreadyPresent
    );
    assert_eq!(
        role_of(&sandbox.sync(&c).await, DEMO, PLATFORM.1).as_deref(),
        Some("manager")
    );
}

#[tokio::test]
async fn a_member_not_yet_listed_is_not_inserted_twice() {
    let sandbox = Sandbox::start("google").await;
    let c = connector(&sandbox, 3);
    let snapshot = sandbox.sync(&c).await;
    sandbox
        .admin("faults", json!({"member_visibility_delay_ms": 60_000}))
        .await;
    let add = sandbox.grant(
        &snapshot,
        true,
        "emma.jones@example.com",
        ("group", "engineering@example.com"),
        "member",
    );
    assert_eq!(c.apply(&add).await.expect("first"), Applied::Changed);
    let listed = sandbox.sync(&c).await;
    assert_eq!(
        role_of(&listed, "emma.jones@example.com", "engineering@example.com"),
        None,
        "listing lags"
    );
    assert_eq!(c.observe(&add).await.expect("observe"), Observed::Done);
    assert_eq!(
        c.apply(&add).await.expect("replay"),
        Applied::AlreadyPresent
    );
    let inserts: u64 = sandbox.writes().await.values().sum();
    assert_eq!(inserts, 1);
}

#[tokio::test]
async fn a_role_google_does_not_have_is_unsupported() {
    let sandbox = Sandbox::start("google").await;
    let c = connector(&sandbox, 3);
    let s = sandbox.sync(&c).await;
    let superuser = role(&sandbox, &s, true, "emma.jones@example.com", "superuser");
    assert_eq!(
        c.apply(&superuser).await.expect_err("unknown role").code(),
        "unsupported"
    );
}

#[tokio::test]
async fn the_older_hand_change_ops_still_work() {
    let sandbox = Sandbox::start("google").await;
    let (status, _) = sandbox
        .hand_change(&json!({"op": "set_role", "group": "platform@example.com", "user": "nina.petrova@example.com", "role": "OWNER"}))
        .await;
    assert_eq!(status, 204);
    let s = sandbox.sync(&connector(&sandbox, 3)).await;
    assert_eq!(
        held(&s, "nina.petrova@example.com", "group/platform@example.com"),
        ["owner"]
    );
}
