//! IAM Identity Center users as accounts, against the sandbox's Identity Store: a user created once across a
//! lost answer (found with `GetUserId`), a group membership planned with the creation waiting for it, retiring
//! only by deletion (suspend and deactivate refused before a plan is stored, with the reason), a creation
//! without the name Identity Center requires refused the same way, and a profile update through `UpdateUser`.

use grantflow_connectors::{Connector, Observed};
use grantflow_model::{AccountOptions, AccountRef, OpKind, Operation, RetireMode};
use serde_json::{Map, json};

use crate::aws::connector;
use crate::harness::Sandbox;
use crate::sandbox::account;

/// The creation a policy plans for a person without an Identity Center user.
pub fn creation(sandbox: &Sandbox, email: &str) -> Operation {
    let attributes =
        json!({"name.givenName": "Nia", "name.familyName": "Park", "title": "Sales Engineer"});
    sandbox.operation(OpKind::create_account(
        AccountRef::pending(email),
        attributes.as_object().cloned().unwrap_or_default(),
        AccountOptions::default(),
    ))
}

const NIA: &str = "nia.park@example.com";

#[tokio::test]
async fn a_user_is_created_once_across_a_lost_answer_and_a_nameless_one_is_refused() {
    let sandbox = Sandbox::start("aws").await;
    let c = connector(&sandbox, 1, 5);
    let create = creation(&sandbox, NIA);
    c.check(&create).expect("complete");
    assert_eq!(
        c.observe(&create).await.expect("observe"),
        Observed::NotDone
    );
    sandbox
        .answer_lost_then_found_done(
            &c,
            &create,
            json!({"timeout_next_writes": 1, "timeout_ms": 7000}),
        )
        .await;
    let s = sandbox.sync(&c).await;
    let nia = s.account_by_login_or_email(NIA).expect("created");
    assert_eq!(nia.login, NIA);
    assert_eq!(nia.display_name, "Nia Park");
    assert_eq!(s.accounts.iter().filter(|a| a.login == NIA).count(), 1);

    let nameless = sandbox.operation(OpKind::create_account(
        AccountRef::pending("no.name@example.com"),
        Map::new(),
        AccountOptions::default(),
    ));
    let refused = c
        .check(&nameless)
        .expect_err("Identity Center needs a name");
    assert!(
        refused.message().contains("name.givenName")
            && refused.message().contains("no.name@example.com"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn a_membership_planned_with_the_creation_waits_for_it() {
    let sandbox = Sandbox::start("aws").await;
    let c = connector(&sandbox, 1, 5);
    sandbox
        .grant_waits_for_creation(&c, &creation(&sandbox, NIA), NIA, ("group", "Engineering"))
        .await;
}

#[tokio::test]
async fn only_deletion_retires_and_a_profile_update_sends_what_differs() {
    let sandbox = Sandbox::start("aws").await;
    let c = connector(&sandbox, 1, 5);
    let s = sandbox.sync(&c).await;
    let marco = account(&s, "marco.rossi@example.com");
    for mode in [RetireMode::Suspend, RetireMode::Deactivate] {
        let refused = c
            .check(&sandbox.operation(OpKind::retire_account(marco.clone(), mode)))
            .expect_err("no disable in the Identity Store API");
        assert!(
            refused.message().contains("retire it with delete")
                && refused.message().contains("marco.rossi@example.com"),
            "{}",
            refused.message()
        );
    }

    let update = sandbox.operation(OpKind::update_profile(
        marco.clone(),
        Map::new(),
        json!({"title": "Staff Engineer", "name.givenName": "Marco"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    ));
    assert_eq!(
        c.observe(&update).await.expect("observe"),
        Observed::NotDone
    );
    sandbox.applies_once(&c, &update).await;

    let delete = sandbox.operation(OpKind::retire_account(marco, RetireMode::Delete));
    c.check(&delete).expect("deletion is how a user is retired");
    sandbox.applies_once(&c, &delete).await;
    let after = sandbox.sync(&c).await;
    assert!(
        after
            .account_by_login_or_email("marco.rossi@example.com")
            .is_none()
    );
}
