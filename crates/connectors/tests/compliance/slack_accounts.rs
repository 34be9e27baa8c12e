//! Slack accounts through Slack's SCIM API, against the emulator: a member created once across a lost answer
//! and seen by the Web API at once, a channel grant planned with the creation waiting for it, retiring as
//! deactivation (Slack never deletes a member, so a deletion is refused before it is planned), and no account
//! operations at all without a SCIM token.

use grantflow_connectors::slack::SlackConnector;
use grantflow_connectors::{Applied, Connector, Observed};
use grantflow_model::{AccountOptions, AccountRef, ConnectionName, OpKind, Operation, RetireMode};
use serde_json::json;

use crate::harness::Sandbox;
use crate::sandbox::{account, grant_kind, holders, resource};

/// The creation a policy plans for a person without a Slack account.
pub fn creation(sandbox: &Sandbox, email: &str) -> Operation {
    let attributes =
        json!({"name.givenName": "Nia", "name.familyName": "Park", "title": "Sales Engineer"});
    sandbox.operation(OpKind::create_account(
        AccountRef::pending(email),
        attributes.as_object().cloned().unwrap_or_default(),
        AccountOptions::default(),
    ))
}

fn connector(sandbox: &Sandbox, timeout_seconds: u64, scim: bool) -> SlackConnector {
    let mut config = crate::slack::config(sandbox, 3);
    config.timeout_seconds = timeout_seconds;
    if !scim {
        config.scim_token = None;
    }
    SlackConnector::new(ConnectionName::new("slack"), &config, &Sandbox::context())
        .expect("connector")
}

const NIA: &str = "nia.park@example.com";

#[tokio::test]
async fn a_member_is_created_once_across_a_lost_answer_and_the_web_api_sees_it() {
    let sandbox = Sandbox::start("slack").await;
    let c = connector(&sandbox, 1, true);
    let create = creation(&sandbox, NIA);
    assert_eq!(
        c.observe(&create).await.expect("observe"),
        Observed::NotDone
    );
    let before = sandbox.writes().await;
    // The creation takes effect but its answer comes after the client gave up.
    sandbox
        .answer_lost_then_found_done(
            &c,
            &create,
            json!({"timeout_next_writes": 1, "timeout_ms": 2500}),
        )
        .await;
    let after = sandbox.writes().await;
    let created: Vec<_> = after
        .iter()
        .filter(|(k, n)| k.starts_with("user/") && before.get(*k) != Some(n))
        .collect();
    assert_eq!(created.len(), 1, "one member created: {created:?}");

    let s = sandbox.sync(&c).await;
    let nia = s.account_by_login_or_email(NIA).expect("in users.list");
    assert_eq!(nia.login, "nia.park", "Slack's handle, made from the email");
    assert_eq!(nia.display_name, "Nia Park");
    assert_eq!(nia.status, "ACTIVE");
    assert_eq!(
        s.accounts
            .iter()
            .filter(|a| a.email.as_deref() == Some(NIA))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_channel_grant_planned_with_the_creation_waits_for_it() {
    let sandbox = Sandbox::start("slack").await;
    let c = connector(&sandbox, 10, true);
    let s = sandbox.sync(&c).await;
    let join = sandbox.operation(grant_kind(
        true,
        AccountRef::pending(NIA),
        resource(&s, "channel", "eng"),
        "member",
    ));
    let early = c.apply(&join).await.expect_err("no member yet");
    assert!(
        early.is_transient(),
        "retried later, not given up: {early:?}"
    );
    assert_eq!(early.code(), "users_not_found");
    assert_eq!(c.observe(&join).await.expect("observe"), Observed::NotDone);

    assert_eq!(
        c.apply(&creation(&sandbox, NIA)).await.expect("create"),
        Applied::Changed
    );
    assert_eq!(c.apply(&join).await.expect("join"), Applied::Changed);
    assert_eq!(c.observe(&join).await.expect("observe"), Observed::Done);
    assert!(
        holders(&sandbox.sync(&c).await, "channel/eng", "member", Some(true))
            .contains(&NIA.to_string())
    );
}

#[tokio::test]
async fn retiring_deactivates_and_a_deletion_is_refused_before_it_is_planned() {
    let sandbox = Sandbox::start("slack").await;
    let c = connector(&sandbox, 10, true);
    let s = sandbox.sync(&c).await;
    let sam = account(&s, "sam.okafor@example.com");
    let delete = sandbox.operation(OpKind::retire_account(sam.clone(), RetireMode::Delete));
    let refused = c.check(&delete).expect_err("Slack never deletes");
    assert!(
        refused.message().contains("never deletes") && refused.message().contains(&sam.login),
        "{}",
        refused.message()
    );
    for mode in [RetireMode::Suspend, RetireMode::Deactivate] {
        let retire = sandbox.operation(OpKind::retire_account(sam.clone(), mode));
        c.check(&retire).expect("slack can deactivate");
    }
    let suspend = sandbox.operation(OpKind::retire_account(sam.clone(), RetireMode::Suspend));
    assert_eq!(c.apply(&suspend).await.expect("retire"), Applied::Changed);
    assert_eq!(c.observe(&suspend).await.expect("observe"), Observed::Done);
    let deactivate = sandbox.operation(OpKind::retire_account(sam, RetireMode::Deactivate));
    assert_eq!(
        c.apply(&deactivate).await.expect("retire"),
        Applied::AlreadyPresent,
        "Slack has one switch: deactivated is deactivated"
    );
    let after = sandbox.sync(&c).await;
    let sam = after
        .account_by_login_or_email("sam.okafor@example.com")
        .expect("a deactivated member stays listed");
    assert_eq!(sam.status, "DELETED");
}

#[tokio::test]
async fn without_a_scim_token_slack_offers_no_account_operations() {
    let sandbox = Sandbox::start("slack").await;
    let c = connector(&sandbox, 10, false);
    let operations = c.describe().operations;
    for verb in ["create_account", "retire_account", "update_profile"] {
        assert!(!operations.contains(&verb), "{verb} listed: {operations:?}");
    }
    let refused = c
        .check(&creation(&sandbox, NIA))
        .expect_err("no SCIM token");
    assert!(
        refused.message().contains("scim_token") && refused.message().contains("invited"),
        "{}",
        refused.message()
    );
    let with = connector(&sandbox, 10, true).describe().operations;
    assert!(with.contains(&"create_account") && with.contains(&"retire_account"));
}
