//! Accounts through SCIM 2.0 Users, against the SCIM emulator: a user created once across a lost answer (found
//! by userName, a 409 `uniqueness` meaning it is there), a group grant planned with the creation waiting for it,
//! each retire mode (suspend and deactivate switch `active` off, delete removes the user), and a profile update
//! that sends only the declared attributes that differ.

use grantflow_connectors::scim::ScimConnector;
use grantflow_connectors::{Applied, Connector, Observed};
use grantflow_model::{
    AccountOptions, AccountRef, ConnectionName, OpKind, Operation, RetireMode, Snapshot,
};
use serde_json::{Map, json};

use crate::harness::Sandbox;
use crate::sandbox::account;

/// The creation a policy plans for a person without a SCIM user.
pub fn creation(sandbox: &Sandbox, email: &str) -> Operation {
    let attributes =
        json!({"name.givenName": "Nia", "name.familyName": "Park", "title": "Sales Engineer"});
    sandbox.operation(OpKind::create_account(
        AccountRef::pending(email),
        attributes.as_object().cloned().unwrap_or_default(),
        AccountOptions::default(),
    ))
}

fn connector(sandbox: &Sandbox, timeout_seconds: u64) -> ScimConnector {
    let mut config = crate::scim::config(sandbox, 100, 3);
    config.timeout_seconds = timeout_seconds;
    ScimConnector::new(ConnectionName::new("scim"), &config, &Sandbox::context())
        .expect("connector")
}

const NIA: &str = "nia.park@example.com";

fn user<'a>(s: &'a Snapshot, login: &str) -> Option<&'a grantflow_model::Account> {
    s.account_by_login_or_email(login)
}

#[tokio::test]
async fn a_user_is_created_once_across_a_lost_answer() {
    let sandbox = Sandbox::start("scim").await;
    let c = connector(&sandbox, 1);
    let create = creation(&sandbox, NIA);
    assert_eq!(
        c.observe(&create).await.expect("observe"),
        Observed::NotDone
    );
    sandbox
        .answer_lost_then_found_done(
            &c,
            &create,
            json!({"timeout_next_writes": 1, "timeout_ms": 2500}),
        )
        .await;
    let s = sandbox.sync(&c).await;
    let nia = user(&s, NIA).expect("created");
    assert_eq!(nia.login, NIA, "userName defaults to the login");
    assert_eq!(nia.display_name, "Nia Park");
    assert_eq!(nia.status, "ACTIVE");
    assert_eq!(nia.attributes["title"], "Sales Engineer");
    assert_eq!(
        s.accounts.iter().filter(|a| a.login == NIA).count(),
        1,
        "one user"
    );
}

#[tokio::test]
async fn a_taken_user_name_is_a_409_uniqueness_and_a_staged_user_is_inactive() {
    let sandbox = Sandbox::start("scim").await;
    let c = connector(&sandbox, 10);
    let s = sandbox.sync(&c).await;
    let diego = account(&s, "diego.alvarez@example.com");
    // Another person's userName, under a new email: the provider refuses it, and nothing is guessed.
    let mut clash = creation(&sandbox, "diego.two@example.com");
    if let OpKind::CreateAccount { attributes, .. } = &mut clash.kind {
        attributes.insert("userName".into(), json!(diego.login));
    }
    let refused = c.apply(&clash).await.expect_err("taken");
    assert_eq!(refused.code(), "uniqueness");
    assert!(!refused.is_transient());

    let staged = sandbox.operation(OpKind::create_account(
        AccountRef::pending("pre.hire@example.com"),
        Map::new(),
        AccountOptions {
            activate: false,
            ..AccountOptions::default()
        },
    ));
    assert_eq!(c.apply(&staged).await.expect("create"), Applied::Changed);
    let s = sandbox.sync(&c).await;
    assert_eq!(
        user(&s, "pre.hire@example.com").expect("created").status,
        "INACTIVE"
    );
}

#[tokio::test]
async fn a_group_grant_planned_with_the_creation_waits_for_it() {
    let sandbox = Sandbox::start("scim").await;
    let c = connector(&sandbox, 10);
    let early = sandbox
        .grant_waits_for_creation(&c, &creation(&sandbox, NIA), NIA, ("group", "Engineering"))
        .await;
    assert_eq!(early.code(), "user_not_found");
}

#[tokio::test]
async fn each_retire_mode_and_a_profile_update_of_the_declared_attributes() {
    let sandbox = Sandbox::start("scim").await;
    let c = connector(&sandbox, 10);
    let s = sandbox.sync(&c).await;
    for (email, mode, status) in [
        (
            "nina.petrova@example.com",
            RetireMode::Suspend,
            Some("INACTIVE"),
        ),
        (
            "sam.okafor@example.com",
            RetireMode::Deactivate,
            Some("INACTIVE"),
        ),
        ("diego.alvarez@example.com", RetireMode::Delete, None),
    ] {
        let retire = sandbox.operation(OpKind::retire_account(account(&s, email), mode));
        c.check(&retire).expect("SCIM has every mode");
        assert_eq!(
            c.observe(&retire).await.expect("observe"),
            Observed::NotDone
        );
        sandbox.applies_once(&c, &retire).await;
        let after = sandbox.sync(&c).await;
        assert_eq!(
            user(&after, email).map(|a| a.status.as_str()),
            status,
            "{email} {mode}"
        );
    }

    let lena = account(&s, "lena.fischer@example.com");
    let after = json!({"title": "Engineering Manager"});
    let update = sandbox.operation(OpKind::update_profile(
        lena,
        Map::new(),
        after.as_object().cloned().unwrap_or_default(),
    ));
    assert_eq!(
        c.observe(&update).await.expect("observe"),
        Observed::NotDone
    );
    assert_eq!(c.apply(&update).await.expect("update"), Applied::Changed);
    assert_eq!(c.observe(&update).await.expect("observe"), Observed::Done);
    let s = sandbox.sync(&c).await;
    let lena = user(&s, "lena.fischer@example.com").expect("lena");
    assert_eq!(lena.attributes["title"], "Engineering Manager");
    assert_eq!(lena.status, "ACTIVE", "only the declared attribute changed");
}
