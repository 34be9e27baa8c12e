//! Accounts as code in GitHub, against the emulator: an organisation invitation by email (pending until the
//! invitee accepts, read by a sync as an INVITED account), a retried invitation whose answer was lost found by
//! email and never sent twice, grants on the account a plan invites (an invitee who is a GitHub user gets the
//! team on the invitation; an email with no user yet waits for the acceptance), and retiring: removal or
//! cancellation for `deactivate` and `delete`, a clear refusal for `suspend`.

use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{
    AccountOptions, AccountRef, LifecycleState, OpKind, Operation, RetireMode, Snapshot,
};
use serde_json::{Map, Value, json};

use crate::github::connector;
use crate::harness::Sandbox;
use crate::sandbox::{held, resource};

fn invite(sandbox: &Sandbox, email: &str, attributes: Value) -> Operation {
    sandbox.operation(OpKind::create_account(
        AccountRef::pending(email),
        attributes.as_object().cloned().unwrap_or_default(),
        AccountOptions::default(),
    ))
}

async fn invitations(sandbox: &Sandbox) -> Vec<Value> {
    let response = reqwest::Client::new()
        .get(format!(
            "{}/orgs/example-demo/invitations?per_page=100",
            sandbox.base_url()
        ))
        .bearer_auth(sandbox.credential_value("token"))
        .send()
        .await
        .expect("invitations");
    response.json().await.expect("json")
}

fn account_of<'s>(s: &'s Snapshot, email: &str) -> &'s grantflow_model::Account {
    s.account_by_login_or_email(email)
        .unwrap_or_else(|| panic!("no account {email}"))
}

#[tokio::test]
async fn an_invitation_by_email_is_sent_once_and_read_back_as_pending() {
    let sandbox = Sandbox::start("github").await;
    let c = connector(&sandbox, 3);
    let create = invite(&sandbox, "Nia.Park@example.com", json!({"role": "admin"}));
    assert_eq!(c.check(&create), Ok(()));
    // The invitation takes effect; its answer is lost.
    sandbox
        .answer_lost_then_found_done(&c, &create, json!({"reset_next_writes": 1}))
        .await;
    let sent = invitations(&sandbox).await;
    let nia: Vec<&Value> = sent
        .iter()
        .filter(|i| i["email"] == "nia.park@example.com")
        .collect();
    assert_eq!(nia.len(), 1, "{sent:?}");
    assert_eq!(nia[0]["role"], "admin");
    assert_eq!(nia[0]["login"], Value::Null);

    let s = sandbox.sync(&c).await;
    let account = account_of(&s, "nia.park@example.com");
    assert_eq!(account.status, "INVITED");
    assert_eq!(account.state, LifecycleState::Pending);
    assert!(account.id.starts_with("invitation:"), "{}", account.id);
}

#[tokio::test]
async fn a_grant_on_an_invited_github_user_rides_on_the_invitation() {
    let sandbox = Sandbox::start("github").await;
    let c = connector(&sandbox, 3);
    let s = sandbox.sync(&c).await;
    // emma.jones is a GitHub user outside the organisation: the invitation names her login.
    let create = invite(&sandbox, "emma.jones@example.com", json!({}));
    let grant = sandbox.operation(OpKind::AddGrant {
        account: AccountRef::pending("emma.jones@example.com"),
        resource: resource(&s, "team", "Backend"),
        entitlement: "member".into(),
    });
    match c.apply(&grant).await {
        Err(failure @ Failure::RetryLater { .. }) => {
            assert!(
                failure.message().contains("does not exist yet"),
                "{failure}"
            );
        }
        other => panic!("granted to nobody: {other:?}"),
    }
    assert_eq!(c.apply(&create).await.expect("invite"), Applied::Changed);
    assert_eq!(c.apply(&grant).await.expect("grant"), Applied::Changed);
    assert_eq!(c.observe(&grant).await.expect("observe"), Observed::Done);
    sandbox
        .admin(
            "invitations/accept",
            json!({"email": "emma.jones@example.com"}),
        )
        .await;
    let after = sandbox.sync(&c).await;
    assert_eq!(
        account_of(&after, "emma.jones@example.com").status,
        "ACTIVE"
    );
    assert_eq!(
        held(&after, "emma.jones@example.com", "team/Backend"),
        vec!["member".to_string()]
    );
}

#[tokio::test]
async fn a_grant_on_an_email_without_a_github_user_waits_for_the_acceptance() {
    let sandbox = Sandbox::start("github").await;
    let c = connector(&sandbox, 3);
    let s = sandbox.sync(&c).await;
    c.apply(&invite(&sandbox, "nia.park@example.com", json!({})))
        .await
        .expect("invite");
    let grant = sandbox.operation(OpKind::AddGrant {
        account: AccountRef::pending("nia.park@example.com"),
        resource: resource(&s, "team", "Backend"),
        entitlement: "member".into(),
    });
    assert_eq!(c.observe(&grant).await.expect("observe"), Observed::NotDone);
    match c.apply(&grant).await {
        Err(failure @ Failure::Waiting { .. }) => {
            assert!(failure.message().contains("not accepted"), "{failure}");
        }
        other => panic!("should wait for the invitee: {other:?}"),
    }
    // The removal of a grant nobody holds yet is done.
    let remove = sandbox.operation(OpKind::RemoveGrant {
        account: AccountRef::pending("nia.park@example.com"),
        resource: resource(&s, "team", "Backend"),
        entitlement: "member".into(),
    });
    assert_eq!(
        c.apply(&remove).await.expect("remove"),
        Applied::AlreadyPresent
    );
    // The next plan names the account as the sync read it: the invitation, by email. It waits too.
    let synced = sandbox.sync(&c).await;
    let invited = sandbox.operation(OpKind::AddGrant {
        account: crate::sandbox::account(&synced, "nia.park@example.com"),
        resource: resource(&s, "team", "Backend"),
        entitlement: "member".into(),
    });
    assert!(matches!(
        c.apply(&invited).await,
        Err(Failure::Waiting { .. })
    ));
    sandbox
        .admin(
            "invitations/accept",
            json!({"email": "nia.park@example.com", "login": "nia-p"}),
        )
        .await;
    assert_eq!(c.apply(&invited).await.expect("grant"), Applied::Changed);
    assert_eq!(
        c.apply(&grant).await.expect("grant"),
        Applied::AlreadyPresent
    );
    let after = sandbox.sync(&c).await;
    let nia = account_of(&after, "nia.park@example.com");
    assert_eq!(
        (nia.login.as_str(), nia.status.as_str()),
        ("nia-p", "ACTIVE")
    );
    assert_eq!(
        held(&after, "nia.park@example.com", "team/Backend"),
        vec!["member".to_string()]
    );
}

#[tokio::test]
async fn retiring_removes_members_and_cancels_invitations_and_refuses_to_suspend() {
    let sandbox = Sandbox::start("github").await;
    let c = connector(&sandbox, 3);
    c.apply(&invite(&sandbox, "nia.park@example.com", json!({})))
        .await
        .expect("invite");
    let s = sandbox.sync(&c).await;
    let retire = |email: &str, mode| {
        sandbox.operation(OpKind::retire_account(
            crate::sandbox::account(&s, email),
            mode,
        ))
    };

    let suspend = retire("lena.fischer@example.com", RetireMode::Suspend);
    let why = c.check(&suspend).expect_err("refused").to_string();
    assert!(
        why.contains("lenaf") && why.contains("no suspended state"),
        "{why}"
    );
    assert!(c.apply(&suspend).await.is_err(), "refused at apply too");

    for (email, mode) in [
        ("lena.fischer@example.com", RetireMode::Deactivate),
        // An invitation of an email with no GitHub user: cancelled.
        ("nia.park@example.com", RetireMode::Delete),
        // A GitHub user's pending invitation: cancelled through the membership.
        ("okta-demo-user@example.com", RetireMode::Delete),
    ] {
        let op = retire(email, mode);
        assert_eq!(c.check(&op), Ok(()));
        assert_eq!(
            c.observe(&op).await.expect("observe"),
            Observed::NotDone,
            "{email}"
        );
        sandbox.applies_once(&c, &op).await;
    }
    let after = sandbox.sync(&c).await;
    for email in [
        "lena.fischer@example.com",
        "nia.park@example.com",
        "okta-demo-user@example.com",
    ] {
        assert!(after.account_by_login_or_email(email).is_none(), "{email}");
    }
    assert!(invitations(&sandbox).await.is_empty());
}

#[tokio::test]
async fn an_invitation_without_an_email_is_refused_before_planning() {
    let sandbox = Sandbox::start("github").await;
    let c = connector(&sandbox, 3);
    let op = sandbox.operation(OpKind::create_account(
        AccountRef {
            id: "pending:x".into(),
            login: "someone".into(),
        },
        Map::new(),
        AccountOptions::default(),
    ));
    let why = c.check(&op).expect_err("no email").to_string();
    assert!(why.contains("someone") && why.contains("email"), "{why}");
}
