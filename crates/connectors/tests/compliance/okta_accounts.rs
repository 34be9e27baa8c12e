//! Accounts as code in Okta, against the emulator: how a created user starts (staged, activated without
//! an email with the activation link handed out once, activated with a temporary password that is
//! expired at creation), a retried creation that took effect found by login and never made twice,
//! grants on the account a plan creates, and retiring (suspend, deactivate, delete only once
//! DEPROVISIONED).

use grantflow_connectors::okta::OktaConnector;
use grantflow_connectors::{Applied, Connector, Observed};
use grantflow_model::{
    AccountOptions, AccountRef, ConnectionName, OpKind, Operation, OperationId, RetireMode,
};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::okta_full::{Org, sync};

fn op(kind: OpKind) -> Operation {
    Operation {
        id: OperationId(0),
        connection: ConnectionName::new("okta"),
        kind,
        reasons: vec![],
        depends_on: vec![],
    }
}

fn creation(email: &str, options: AccountOptions) -> Operation {
    let attributes = json!({"email": email, "firstName": "Nia", "lastName": "Park"});
    op(OpKind::create_account(
        AccountRef::pending(email),
        attributes.as_object().cloned().unwrap_or_default(),
        options,
    ))
}

/// The user's status and id as a sync reads them, and how many users have that login.
async fn user(connector: &OktaConnector, login: &str) -> (Option<String>, Option<String>, usize) {
    let snapshot = sync(connector).await;
    let found: Vec<_> = snapshot
        .accounts
        .iter()
        .filter(|a| a.login.eq_ignore_ascii_case(login))
        .collect();
    (
        found.first().map(|a| a.status.clone()),
        found.first().map(|a| a.id.clone()),
        found.len(),
    )
}

#[tokio::test]
async fn a_created_user_starts_as_the_policy_says_and_secrets_are_handed_out_once() {
    let org = Org::start().await;
    let connector = org.token_connector();

    let staged = creation(
        "staged.hire@example.com",
        AccountOptions {
            activate: false,
            ..AccountOptions::default()
        },
    );
    assert_eq!(
        connector.observe(&staged).await.expect("observe"),
        Observed::NotDone
    );
    assert_eq!(
        connector.apply(&staged).await.expect("create"),
        Applied::Changed
    );
    assert_eq!(
        user(&connector, "staged.hire@example.com")
            .await
            .0
            .as_deref(),
        Some("STAGED")
    );
    assert!(
        connector.take_secret(&staged).is_none(),
        "a staged user has nothing to hand out"
    );
    assert_eq!(
        connector.observe(&staged).await.expect("observe"),
        Observed::Done
    );

    // Activated without an email: Okta answers the activation with its link, the one way in.
    let quiet = creation("quiet.hire@example.com", AccountOptions::default());
    assert_eq!(
        connector.apply(&quiet).await.expect("create"),
        Applied::Changed
    );
    assert_eq!(
        user(&connector, "quiet.hire@example.com")
            .await
            .0
            .as_deref(),
        Some("PROVISIONED")
    );
    let link = connector.take_secret(&quiet).expect("the activation link");
    assert!(
        link.expose_secret().contains("/tokens/"),
        "an activation URL"
    );
    assert!(connector.take_secret(&quiet).is_none(), "handed out once");

    // A temporary password: the user is ACTIVE-with-an-expired-password at once.
    let temporary = creation(
        "temp.hire@example.com",
        AccountOptions {
            temporary_password: true,
            ..AccountOptions::default()
        },
    );
    assert_eq!(
        connector.apply(&temporary).await.expect("create"),
        Applied::Changed
    );
    assert_eq!(
        user(&connector, "temp.hire@example.com").await.0.as_deref(),
        Some("PASSWORD_EXPIRED")
    );
    let password = connector
        .take_secret(&temporary)
        .expect("the temporary password");
    assert!(password.expose_secret().len() >= 12);
    assert!(
        connector.take_secret(&temporary).is_none(),
        "handed out once"
    );
    let stored = serde_json::to_string(&temporary).expect("json");
    assert!(
        !stored.contains(password.expose_secret()),
        "the operation never holds it"
    );

    // With Okta's email: activated, nothing handed out.
    let emailed = creation(
        "mailed.hire@example.com",
        AccountOptions {
            send_email: true,
            ..AccountOptions::default()
        },
    );
    assert_eq!(
        connector.apply(&emailed).await.expect("create"),
        Applied::Changed
    );
    assert_eq!(
        user(&connector, "mailed.hire@example.com")
            .await
            .0
            .as_deref(),
        Some("PROVISIONED")
    );
    assert!(connector.take_secret(&emailed).is_none());
}

#[tokio::test]
async fn a_retried_creation_is_found_by_login_and_a_half_done_one_is_finished() {
    let org = Org::start().await;
    let connector = org.token_connector();
    let create = creation("Nia.Park@example.com", AccountOptions::default());
    assert_eq!(
        connector.apply(&create).await.expect("create"),
        Applied::Changed
    );
    let _ = connector.take_secret(&create);
    // The engine's retry after a lost answer: the effect is there, so nothing is sent.
    assert_eq!(
        connector.observe(&create).await.expect("observe"),
        Observed::Done
    );
    assert_eq!(
        connector.apply(&create).await.expect("again"),
        Applied::AlreadyPresent
    );
    let (_, _, count) = user(&connector, "nia.park@example.com").await;
    assert_eq!(count, 1, "never created twice");

    // A creation that died between Okta's create and activate calls: the retry activates.
    let staged_first = creation(
        "half.done@example.com",
        AccountOptions {
            activate: false,
            ..AccountOptions::default()
        },
    );
    connector.apply(&staged_first).await.expect("staged");
    let finish = creation("half.done@example.com", AccountOptions::default());
    assert_eq!(
        connector.observe(&finish).await.expect("observe"),
        Observed::NotDone
    );
    assert_eq!(
        connector.apply(&finish).await.expect("finish"),
        Applied::Changed
    );
    assert!(
        connector.take_secret(&finish).is_some(),
        "the activation link of the finished creation"
    );
    let (status, _, count) = user(&connector, "half.done@example.com").await;
    assert_eq!((status.as_deref(), count), (Some("PROVISIONED"), 1));
}

#[tokio::test]
async fn a_grant_planned_with_the_creation_finds_the_new_user() {
    let org = Org::start().await;
    let connector = org.token_connector();
    let snapshot = sync(&connector).await;
    let finance = crate::sandbox::resource(&snapshot, "group", "Finance");
    let grant = op(OpKind::AddGrant {
        account: AccountRef::pending("nia.park@example.com"),
        resource: finance,
        entitlement: "member".into(),
    });
    assert_eq!(
        connector.observe(&grant).await.expect("observe"),
        Observed::NotDone
    );
    match connector.apply(&grant).await {
        Err(failure) => assert!(
            failure.to_string().contains("does not exist yet"),
            "{failure}"
        ),
        Ok(applied) => panic!("granted to nobody: {applied:?}"),
    }
    connector
        .apply(&creation("nia.park@example.com", AccountOptions::default()))
        .await
        .expect("create");
    assert_eq!(
        connector.apply(&grant).await.expect("grant"),
        Applied::Changed
    );
    assert_eq!(
        connector.observe(&grant).await.expect("observe"),
        Observed::Done
    );
    let after = sync(&connector).await;
    assert_eq!(
        crate::sandbox::held(&after, "nia.park@example.com", "group/Finance"),
        vec!["member".to_string()]
    );
}

#[tokio::test]
async fn retiring_suspends_deactivates_and_deletes_only_a_deprovisioned_user() {
    let org = Org::start().await;
    let connector = org.token_connector();
    let snapshot = sync(&connector).await;
    let account = |email: &str| crate::sandbox::account(&snapshot, email);
    let retire = |email: &str, mode| op(OpKind::retire_account(account(email), mode));

    let suspend = retire("tom.baker@example.com", RetireMode::Suspend);
    assert_eq!(
        connector.apply(&suspend).await.expect("suspend"),
        Applied::Changed
    );
    assert_eq!(
        connector.apply(&suspend).await.expect("again"),
        Applied::AlreadyPresent
    );
    assert_eq!(
        user(&connector, "tom.baker@example.com").await.0.as_deref(),
        Some("SUSPENDED")
    );

    let deactivate = retire("chen.wei@example.com", RetireMode::Deactivate);
    assert_eq!(
        connector.observe(&deactivate).await.expect("observe"),
        Observed::NotDone
    );
    assert_eq!(
        connector.apply(&deactivate).await.expect("deactivate"),
        Applied::Changed
    );
    assert_eq!(
        connector.observe(&deactivate).await.expect("observe"),
        Observed::Done
    );
    assert_eq!(
        user(&connector, "chen.wei@example.com").await.0.as_deref(),
        Some("DEPROVISIONED")
    );

    // An active user: deactivated first (Okta deletes only DEPROVISIONED users), then deleted.
    let delete = retire("marco.rossi@example.com", RetireMode::Delete);
    assert_eq!(
        connector.apply(&delete).await.expect("delete"),
        Applied::Changed
    );
    assert_eq!(
        user(&connector, "marco.rossi@example.com").await.2,
        0,
        "gone"
    );
    assert_eq!(
        connector.observe(&delete).await.expect("observe"),
        Observed::Done
    );
    assert_eq!(
        connector.apply(&delete).await.expect("again"),
        Applied::AlreadyPresent
    );
}
