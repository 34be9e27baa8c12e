//! Accounts as code in Google Workspace, against the emulator: a created user's generated password handed
//! out once and to be changed at the first sign-in, a retried creation whose answer was lost found by
//! primary email and never made twice, grants on the account a plan creates, each retire mode (deactivate
//! is a suspension: Google has no other off state), the declared profile fields read back by a sync as
//! the policy names them, and what `check` refuses before a plan is stored.

use grantflow_connectors::google::{GoogleConfig, GoogleConnector};
use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{
    AccountOptions, AccountRef, ConnectionName, OpKind, Operation, RetireMode, Snapshot,
};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use crate::harness::Sandbox;
use crate::sandbox::{account, held, resource};

fn connector(sandbox: &Sandbox) -> GoogleConnector {
    let config = GoogleConfig {
        allow_insecure_http: false,
        base_url: sandbox.base_url(),
        token: Some(sandbox.credential("token")),
        service_account_key: None,
        subject: None,
        scopes: vec![],
        customer: "my_customer".into(),
        timeout_seconds: 10,
        max_rate_limit_waits: 3,
    };
    GoogleConnector::new(ConnectionName::new("google"), &config, &Sandbox::context())
        .expect("connector")
}

fn fields(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn creation(sandbox: &Sandbox, email: &str, options: AccountOptions) -> Operation {
    sandbox.operation(OpKind::create_account(
        AccountRef::pending(email),
        fields(
            json!({"givenName": "Nia", "familyName": "Park", "orgUnitPath": "/Sales",
            "customSchemas.Employment.costCenter": "S-1"}),
        ),
        options,
    ))
}

/// The user as the Directory API answers `users.get` with `projection=full`.
async fn user(sandbox: &Sandbox, key: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!(
            "{}/admin/directory/v1/users/{key}?projection=full",
            sandbox.base_url()
        ))
        .bearer_auth(sandbox.credential_value("token"))
        .send()
        .await
        .expect("users.get");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn users_with(snapshot: &Snapshot, email: &str) -> usize {
    snapshot
        .accounts
        .iter()
        .filter(|a| a.login.eq_ignore_ascii_case(email))
        .count()
}

#[tokio::test]
async fn a_created_user_gets_a_password_handed_out_once_to_change_at_first_sign_in() {
    let sandbox = Sandbox::start("google").await;
    let c = connector(&sandbox);
    let create = creation(&sandbox, "nia.park@example.com", AccountOptions::default());
    assert_eq!(c.check(&create), Ok(()));
    assert_eq!(
        c.observe(&create).await.expect("observe"),
        Observed::NotDone
    );
    assert_eq!(c.apply(&create).await.expect("create"), Applied::Changed);
    let password = c.take_secret(&create).expect("the generated password");
    assert!(password.expose_secret().len() >= 8);
    assert!(c.take_secret(&create).is_none(), "handed out once");
    assert!(
        !serde_json::to_string(&create)
            .expect("json")
            .contains(password.expose_secret()),
        "the operation never holds it"
    );
    let (status, created) = user(&sandbox, "nia.park@example.com").await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["changePasswordAtNextLogin"], true);
    assert_eq!(created["suspended"], false);
    assert_eq!(created["orgUnitPath"], "/Sales");
    assert_eq!(created["name"]["familyName"], "Park");
    assert_eq!(created["customSchemas"]["Employment"]["costCenter"], "S-1");
    assert!(created.get("password").is_none(), "never returned");

    // The sync reads the declared fields back under the names the policy gives them.
    let snapshot = sandbox.sync(&c).await;
    let nia = snapshot
        .account_by_login_or_email("nia.park@example.com")
        .expect("synced");
    assert_eq!(nia.status, "ACTIVE");
    assert_eq!(nia.attributes["orgUnitPath"], "/Sales");
    assert_eq!(nia.attributes["givenName"], "Nia");
    assert_eq!(nia.attributes["customSchemas.Employment.costCenter"], "S-1");

    // Not activated: Google has no staged state, the user is created suspended.
    let staged = creation(
        &sandbox,
        "later.hire@example.com",
        AccountOptions {
            activate: false,
            ..AccountOptions::default()
        },
    );
    assert_eq!(c.apply(&staged).await.expect("create"), Applied::Changed);
    assert_eq!(
        user(&sandbox, "later.hire@example.com").await.1["suspended"],
        true
    );
}

#[tokio::test]
async fn a_creation_whose_answer_was_lost_is_found_by_email_and_never_made_twice() {
    let sandbox = Sandbox::start("google").await;
    let c = connector(&sandbox);
    let create = creation(&sandbox, "Nia.Park@example.com", AccountOptions::default());
    // The insert takes effect; its answer never arrives.
    sandbox
        .answer_lost_then_found_done(&c, &create, json!({"reset_next_writes": 1}))
        .await;
    assert!(
        c.take_secret(&create).is_none(),
        "a user found existing has no password to hand out"
    );
    let snapshot = sandbox.sync(&c).await;
    assert_eq!(users_with(&snapshot, "nia.park@example.com"), 1);
}

#[tokio::test]
async fn a_grant_planned_with_the_creation_waits_for_the_user_then_finds_it() {
    let sandbox = Sandbox::start("google").await;
    let c = connector(&sandbox);
    let s = sandbox.sync(&c).await;
    let grant = sandbox.operation(OpKind::AddGrant {
        account: AccountRef::pending("nia.park@example.com"),
        resource: resource(&s, "group", "platform@example.com"),
        entitlement: "member".into(),
    });
    assert_eq!(c.observe(&grant).await.expect("observe"), Observed::NotDone);
    match c.apply(&grant).await {
        Err(failure @ Failure::RetryLater { .. }) => {
            assert!(
                failure.message().contains("does not exist yet"),
                "{failure}"
            );
        }
        other => panic!("granted to nobody, or gave up: {other:?}"),
    }
    c.apply(&creation(
        &sandbox,
        "nia.park@example.com",
        AccountOptions::default(),
    ))
    .await
    .expect("create");
    assert_eq!(c.apply(&grant).await.expect("grant"), Applied::Changed);
    assert_eq!(c.observe(&grant).await.expect("observe"), Observed::Done);
    let after = sandbox.sync(&c).await;
    assert_eq!(
        held(&after, "nia.park@example.com", "group/platform@example.com"),
        vec!["member".to_string()]
    );
}

#[tokio::test]
async fn each_retire_mode_suspends_or_deletes() {
    let sandbox = Sandbox::start("google").await;
    let c = connector(&sandbox);
    let s = sandbox.sync(&c).await;
    for (email, mode) in [
        ("tom.baker@example.com", RetireMode::Suspend),
        // Google has no off state besides suspension: deactivate suspends too.
        ("lena.fischer@example.com", RetireMode::Deactivate),
        ("marco.rossi@example.com", RetireMode::Delete),
    ] {
        let retire = sandbox.operation(OpKind::retire_account(account(&s, email), mode));
        assert_eq!(
            c.observe(&retire).await.expect("observe"),
            Observed::NotDone
        );
        sandbox.applies_once(&c, &retire).await;
    }
    let after = sandbox.sync(&c).await;
    for email in ["tom.baker@example.com", "lena.fischer@example.com"] {
        let a = after.account_by_login_or_email(email).expect("kept");
        assert_eq!(a.status, "SUSPENDED", "{email}");
        assert_eq!(a.state, grantflow_model::LifecycleState::Suspended);
    }
    assert_eq!(users_with(&after, "marco.rossi@example.com"), 0, "deleted");
    assert_eq!(
        user(&sandbox, "tom.baker@example.com").await.1["suspensionReason"],
        "ADMIN"
    );
}

#[tokio::test]
async fn a_profile_update_sets_only_the_declared_fields() {
    let sandbox = Sandbox::start("google").await;
    let c = connector(&sandbox);
    let s = sandbox.sync(&c).await;
    let update = sandbox.operation(OpKind::update_profile(
        account(&s, "priya.raman@example.com"),
        Map::new(),
        fields(
            json!({"orgUnitPath": "/Engineering", "customSchemas.Employment.costCenter": "ENG-1"}),
        ),
    ));
    assert_eq!(c.check(&update), Ok(()));
    assert_eq!(c.apply(&update).await.expect("update"), Applied::Changed);
    assert_eq!(
        c.apply(&update).await.expect("again"),
        Applied::AlreadyPresent
    );
    let (_, priya) = user(&sandbox, "priya.raman@example.com").await;
    assert_eq!(priya["orgUnitPath"], "/Engineering");
    assert_eq!(priya["name"]["givenName"], "Priya", "kept");
    assert_eq!(priya["isAdmin"], true, "kept");
    let after = sandbox.sync(&c).await;
    let a = after
        .account_by_login_or_email("priya.raman@example.com")
        .expect("priya");
    assert_eq!(a.attributes["customSchemas.Employment.costCenter"], "ENG-1");
}

#[tokio::test]
async fn check_refuses_what_google_cannot_take_and_describe_follows_the_scopes() {
    let sandbox = Sandbox::start("google").await;
    let c = connector(&sandbox);
    let nameless = sandbox.operation(OpKind::create_account(
        AccountRef::pending("ann@example.com"),
        fields(json!({"givenName": "Ann"})),
        AccountOptions::default(),
    ));
    let why = c.check(&nameless).expect_err("no family name").to_string();
    assert!(
        why.contains("familyName") && why.contains("ann@example.com") && why.contains("google"),
        "{why}"
    );
    let unknown = sandbox.operation(OpKind::update_profile(
        AccountRef {
            id: "1".into(),
            login: "ann@example.com".into(),
        },
        Map::new(),
        fields(json!({"jobTitle": "x"})),
    ));
    assert!(
        c.check(&unknown)
            .expect_err("unknown field")
            .to_string()
            .contains("jobTitle")
    );
    let operations = c.describe().operations;
    for verb in ["create_account", "retire_account", "update_profile"] {
        assert!(operations.contains(&verb), "{verb}: {operations:?}");
    }
    // A service account that asks only for the read-only user scope cannot manage accounts.
    let config = GoogleConfig {
        allow_insecure_http: false,
        base_url: sandbox.base_url(),
        token: None,
        service_account_key: Some(sandbox.credential("service_account_key")),
        subject: Some("priya.raman@example.com".into()),
        scopes: vec![
            "https://www.googleapis.com/auth/admin.directory.user.readonly".into(),
            "https://www.googleapis.com/auth/admin.directory.group".into(),
        ],
        customer: "my_customer".into(),
        timeout_seconds: 10,
        max_rate_limit_waits: 3,
    };
    let read_only =
        GoogleConnector::new(ConnectionName::new("google"), &config, &Sandbox::context())
            .expect("connector");
    assert_eq!(
        read_only.describe().operations,
        ["add_grant", "remove_grant"]
    );
}
