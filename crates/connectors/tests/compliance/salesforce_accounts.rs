//! Accounts as code in Salesforce, against the emulator: a User created with its profile named by name and the
//! required fields filled, created once across a lost answer, a grant planned with the creation, retiring by
//! deactivation or by freezing (read back by a sync as suspended), `retire: delete` and bad creations refused
//! before planning, and a profile update.

use grantflow_connectors::salesforce::SalesforceConnector;
use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{
    AccountOptions, AccountRef, LifecycleState, OpKind, Operation, RetireMode, Snapshot,
};
use serde_json::{Value, json};

use crate::harness::Sandbox;
use crate::salesforce::connector;
use crate::sandbox::account;

const NIA: &str = "nia.park@example.com";

fn fields(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn creation(sandbox: &Sandbox, email: &str, attributes: Value) -> Operation {
    sandbox.operation(OpKind::create_account(
        AccountRef::pending(email),
        fields(attributes),
        AccountOptions::default(),
    ))
}

/// The users whose Username is `username`, as a sync reads them.
fn users<'a>(s: &'a Snapshot, username: &str) -> Vec<&'a grantflow_model::Account> {
    s.accounts
        .iter()
        .filter(|a| a.login.eq_ignore_ascii_case(username))
        .collect()
}

async fn start() -> (Sandbox, SalesforceConnector) {
    let sandbox = Sandbox::start("salesforce").await;
    let c = connector(&sandbox);
    (sandbox, c)
}

#[tokio::test]
async fn a_user_is_created_with_its_profile_by_name_and_the_required_fields_filled() {
    let (sandbox, c) = start().await;
    let create = creation(
        &sandbox,
        NIA,
        json!({"FirstName": "Nia", "LastName": "Park", "profile": "Sales Engineer"}),
    );
    c.check(&create).expect("a valid creation");
    assert_eq!(c.apply(&create).await.expect("create"), Applied::Changed);
    assert!(c.take_secret(&create).is_none(), "no password is made");
    let s = sandbox.sync(&c).await;
    let nia = users(&s, NIA);
    assert_eq!(nia.len(), 1);
    assert_eq!(nia[0].email.as_deref(), Some(NIA));
    assert_eq!(nia[0].attributes["profile"], "Sales Engineer");
    // The emulator refuses a User without every required field (REQUIRED_FIELD_MISSING, as Salesforce): the
    // connector filled Username, Email, Alias, TimeZoneSidKey, LocaleSidKey, EmailEncodingKey and
    // LanguageLocaleKey.
    assert_eq!(nia[0].state, LifecycleState::Active);
}

#[tokio::test]
async fn a_creation_whose_answer_was_lost_is_found_by_username_and_never_made_twice() {
    let (sandbox, c) = start().await;
    let create = creation(
        &sandbox,
        NIA,
        json!({"LastName": "Park", "profile": "Sales Engineer"}),
    );
    sandbox
        .admin(
            "network",
            json!({"timeout_next_writes": 1, "timeout_ms": 3000}),
        )
        .await;
    let impatient = SalesforceConnector::new(
        grantflow_model::ConnectionName::new("salesforce"),
        &crate::salesforce::config_with_timeout(&sandbox, 1),
        &Sandbox::context(),
    )
    .expect("connector");
    let failure = impatient.apply(&create).await.expect_err("times out");
    assert!(failure.is_transient(), "{failure:?}");
    // The engine observes before it retries: the user is there.
    assert_eq!(c.observe(&create).await.expect("observe"), Observed::Done);
    assert_eq!(
        c.apply(&create).await.expect("retry"),
        Applied::AlreadyPresent
    );
    assert_eq!(users(&sandbox.sync(&c).await, NIA).len(), 1);

    // A Username that exists already (made by someone else): found, not made again.
    let twin = creation(
        &sandbox,
        "marco.rossi@example.com",
        json!({"LastName": "Rossi", "profile": "Standard User"}),
    );
    assert_eq!(
        c.apply(&twin).await.expect("exists"),
        Applied::AlreadyPresent
    );
}

#[tokio::test]
async fn an_unknown_profile_is_refused_by_name_and_nothing_is_created() {
    let (sandbox, c) = start().await;
    let create = creation(
        &sandbox,
        NIA,
        json!({"LastName": "Park", "profile": "Astronaut"}),
    );
    match c.apply(&create).await.expect_err("no such profile") {
        Failure::Permanent { message, .. } => assert!(message.contains("Astronaut"), "{message}"),
        other => panic!("expected Permanent, got {other:?}"),
    }
    assert!(users(&sandbox.sync(&c).await, NIA).is_empty());
}

#[tokio::test]
async fn what_salesforce_cannot_do_is_refused_before_planning() {
    let (sandbox, c) = start().await;
    let s = sandbox.sync(&c).await;
    let delete = sandbox.operation(OpKind::retire_account(
        account(&s, "zoe.taylor@example.com"),
        RetireMode::Delete,
    ));
    let why = c.check(&delete).expect_err("no delete").to_string();
    assert!(
        why.contains("Salesforce users cannot be deleted; use retire: deactivate")
            && why.contains("zoe.taylor@example.com"),
        "{why}"
    );
    let no_last_name = creation(&sandbox, NIA, json!({"profile": "Sales Engineer"}));
    let why = c.check(&no_last_name).expect_err("LastName").to_string();
    assert!(why.contains("LastName") && why.contains(NIA), "{why}");
    let no_profile = creation(&sandbox, NIA, json!({"LastName": "Park"}));
    assert!(c.check(&no_profile).is_err());
    let password = sandbox.operation(OpKind::create_account(
        AccountRef::pending(NIA),
        fields(json!({"LastName": "Park", "profile": "Sales Engineer"})),
        AccountOptions {
            temporary_password: true,
            ..AccountOptions::default()
        },
    ));
    assert!(c.check(&password).is_err());
    for op in [&no_last_name, &no_profile] {
        assert!(c.apply(op).await.is_err(), "apply refuses too");
    }
    assert!(users(&sandbox.sync(&c).await, NIA).is_empty());
}

#[tokio::test]
async fn a_grant_planned_with_the_creation_waits_for_the_user_then_applies() {
    let (sandbox, c) = start().await;
    let s = sandbox.sync(&c).await;
    let mut grant = sandbox.grant(
        &s,
        true,
        "new.hire@example.com",
        ("permission_set", "Sales_Cloud_User"),
        "assigned",
    );
    if let OpKind::AddGrant { account, .. } = &mut grant.kind {
        *account = AccountRef::pending(NIA);
    }
    assert_eq!(c.observe(&grant).await.expect("observe"), Observed::NotDone);
    let failure = c.apply(&grant).await.expect_err("no user yet");
    assert!(
        matches!(failure, Failure::RetryLater { .. }),
        "retried later, not failed: {failure:?}"
    );
    c.apply(&creation(
        &sandbox,
        NIA,
        json!({"LastName": "Park", "profile": "Sales Engineer"}),
    ))
    .await
    .expect("create");
    assert_eq!(c.apply(&grant).await.expect("grant"), Applied::Changed);
    assert_eq!(c.observe(&grant).await.expect("observe"), Observed::Done);
    let after = sandbox.sync(&c).await;
    assert_eq!(
        crate::sandbox::held(&after, NIA, "permission_set/Sales_Cloud_User"),
        ["assigned"]
    );
}

#[tokio::test]
async fn retiring_deactivates_or_freezes_and_a_sync_reads_both() {
    let (sandbox, c) = start().await;
    let s = sandbox.sync(&c).await;
    let freeze = sandbox.operation(OpKind::retire_account(
        account(&s, "sofia.garcia@example.com"),
        RetireMode::Suspend,
    ));
    assert_eq!(
        c.observe(&freeze).await.expect("observe"),
        Observed::NotDone
    );
    let writes = sandbox.writes().await;
    assert_eq!(c.apply(&freeze).await.expect("freeze"), Applied::Changed);
    let written: Vec<String> = sandbox
        .writes()
        .await
        .into_iter()
        .filter(|(k, n)| writes.get(k) != Some(n))
        .map(|(k, _)| k)
        .collect();
    assert!(
        written.len() == 1 && written[0].starts_with("UserLogin/"),
        "one UserLogin PATCH: {written:?}"
    );
    assert_eq!(c.observe(&freeze).await.expect("observe"), Observed::Done);
    assert_eq!(
        c.apply(&freeze).await.expect("again"),
        Applied::AlreadyPresent
    );

    let deactivate = sandbox.operation(OpKind::retire_account(
        account(&s, "noah.brown@example.com"),
        RetireMode::Deactivate,
    ));
    assert_eq!(
        c.apply(&deactivate).await.expect("deactivate"),
        Applied::Changed
    );

    let after = sandbox.sync(&c).await;
    let status = |email: &str| {
        let a = after.account_by_login_or_email(email).expect("still there");
        (a.status.clone(), a.state)
    };
    assert_eq!(
        status("sofia.garcia@example.com"),
        ("FROZEN".to_string(), LifecycleState::Suspended)
    );
    assert_eq!(
        status("noah.brown@example.com"),
        ("INACTIVE".to_string(), LifecycleState::Deprovisioned)
    );
}

#[tokio::test]
async fn a_profile_update_moves_the_user_to_the_profile_named() {
    let (sandbox, c) = start().await;
    let s = sandbox.sync(&c).await;
    let update = sandbox.operation(OpKind::update_profile(
        account(&s, "lena.fischer@example.com"),
        serde_json::Map::new(),
        fields(json!({"profile": "Sales Engineer", "Department": "Sales"})),
    ));
    c.check(&update).expect("valid");
    assert_eq!(
        c.observe(&update).await.expect("observe"),
        Observed::NotDone
    );
    assert_eq!(c.apply(&update).await.expect("update"), Applied::Changed);
    assert_eq!(c.observe(&update).await.expect("observe"), Observed::Done);
    let after = sandbox.sync(&c).await;
    assert_eq!(
        after
            .account_by_login_or_email("lena.fischer@example.com")
            .expect("lena")
            .attributes["profile"],
        "Sales Engineer"
    );
    let bad = sandbox.operation(OpKind::update_profile(
        account(&s, "lena.fischer@example.com"),
        serde_json::Map::new(),
        fields(json!({"Robert'); DROP": "x"})),
    ));
    assert!(c.check(&bad).is_err(), "only API names reach SOQL");
}
