//! Accounts as code in Jira Cloud, against the emulator: an account created with its products, created once when
//! the answer to the creation (or to the project-role call after it) is lost, a role planned with the creation that
//! waits for the account, deletion as the one retirement (suspend and deactivate refused before planning), and
//! creations Jira cannot make refused.

use grantflow_connectors::jira::JiraConnector;
use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{AccountOptions, AccountRef, OpKind, Operation, RetireMode, Snapshot};
use serde_json::{Value, json};

use crate::harness::Sandbox;
use crate::jira::{connector, connector_with};
use crate::sandbox::{account, held};

const NIA: &str = "nia.park@example.com";

fn creation(sandbox: &Sandbox, attributes: Value) -> Operation {
    sandbox.operation(OpKind::create_account(
        AccountRef::pending(NIA),
        attributes.as_object().cloned().unwrap_or_default(),
        AccountOptions::default(),
    ))
}

/// Developers on Platform for the account the plan creates (`pending:<email>`).
fn role_on_pending(sandbox: &Sandbox, s: &Snapshot) -> Operation {
    let mut grant = sandbox.grant(
        s,
        true,
        "new.hire@example.com",
        ("project", "Platform"),
        "role:Developers",
    );
    if let OpKind::AddGrant { account, .. } = &mut grant.kind {
        *account = AccountRef::pending(NIA);
    }
    grant
}

fn accounts_with_email(s: &Snapshot, email: &str) -> usize {
    s.accounts
        .iter()
        .filter(|a| a.email.as_deref() == Some(email))
        .count()
}

async fn start() -> (Sandbox, JiraConnector) {
    let sandbox = Sandbox::start("jira").await;
    let c = connector(&sandbox, 3);
    (sandbox, c)
}

#[tokio::test]
async fn an_account_is_created_with_its_products_and_a_role_planned_with_it_waits_for_it() {
    let (sandbox, c) = start().await;
    let s = sandbox.sync(&c).await;
    let role = role_on_pending(&sandbox, &s);
    assert_eq!(c.observe(&role).await.expect("observe"), Observed::NotDone);
    let failure = c.apply(&role).await.expect_err("no account yet");
    assert!(
        matches!(failure, Failure::RetryLater { .. }),
        "retried later, not failed: {failure:?}"
    );

    let create = creation(
        &sandbox,
        json!({"products": ["jira-software", "jira-servicedesk"]}),
    );
    c.check(&create).expect("valid");
    assert_eq!(
        c.observe(&create).await.expect("observe"),
        Observed::NotDone
    );
    assert_eq!(c.apply(&create).await.expect("create"), Applied::Changed);
    assert!(c.take_secret(&create).is_none(), "no password is made");
    assert_eq!(c.observe(&create).await.expect("observe"), Observed::Done);

    assert_eq!(c.apply(&role).await.expect("role"), Applied::Changed);
    assert_eq!(c.observe(&role).await.expect("observe"), Observed::Done);
    let after = sandbox.sync(&c).await;
    let nia = after
        .account_by_login_or_email(NIA)
        .expect("read by a sync");
    assert_eq!(nia.status, "ACTIVE");
    assert_eq!(held(&after, NIA, "project/Platform"), ["role:Developers"]);
}

#[tokio::test]
async fn a_creation_and_a_role_whose_answers_came_too_late_are_found_done_not_repeated() {
    let (sandbox, c) = start().await;
    let s = sandbox.sync(&c).await;
    let impatient = connector_with(&sandbox, 3, 1);
    let create = creation(&sandbox, json!({}));
    let role = role_on_pending(&sandbox, &s);
    for (op, what) in [(&create, "the creation"), (&role, "the project role")] {
        // The write takes effect; its answer comes after the client gave up.
        sandbox
            .admin(
                "network",
                json!({"timeout_next_writes": 1, "timeout_ms": 2500}),
            )
            .await;
        let failure = impatient.apply(op).await.expect_err("times out");
        assert!(failure.is_transient(), "{what}: {failure:?}");
        sandbox.admin("network", json!({})).await;
        // The engine observes before it retries: done, so nothing is sent again.
        assert_eq!(
            c.observe(op).await.expect("observe"),
            Observed::Done,
            "{what}"
        );
        let writes = sandbox.writes().await;
        assert_eq!(
            c.apply(op).await.expect("retry"),
            Applied::AlreadyPresent,
            "{what}"
        );
        assert_eq!(
            sandbox.writes().await,
            writes,
            "{what}: nothing written again"
        );
    }
    let after = sandbox.sync(&c).await;
    assert_eq!(accounts_with_email(&after, NIA), 1, "never created twice");
    assert_eq!(held(&after, NIA, "project/Platform"), ["role:Developers"]);
}

#[tokio::test]
async fn a_creation_and_a_role_that_never_reached_jira_are_sent_again() {
    let (sandbox, c) = start().await;
    let s = sandbox.sync(&c).await;
    let create = creation(&sandbox, json!({}));
    let role = role_on_pending(&sandbox, &s);
    for (op, what) in [(&create, "the creation"), (&role, "the project role")] {
        // Jira is unreachable: nothing takes effect.
        sandbox
            .admin("network", json!({"outage_seconds": 30}))
            .await;
        let failure = c.apply(op).await.expect_err("down");
        assert!(failure.is_transient(), "{what}: {failure:?}");
        sandbox.admin("network", json!({})).await;
        assert_eq!(
            c.observe(op).await.expect("observe"),
            Observed::NotDone,
            "{what}"
        );
        assert_eq!(
            c.apply(op).await.expect("retry"),
            Applied::Changed,
            "{what}"
        );
    }
    let after = sandbox.sync(&c).await;
    assert_eq!(accounts_with_email(&after, NIA), 1);
    assert_eq!(held(&after, NIA, "project/Platform"), ["role:Developers"]);
}

#[tokio::test]
async fn deletion_is_the_one_retirement_and_the_rest_is_refused_before_planning() {
    let (sandbox, c) = start().await;
    let s = sandbox.sync(&c).await;
    let lena = account(&s, "lena.fischer@example.com");
    for mode in [RetireMode::Suspend, RetireMode::Deactivate] {
        let op = sandbox.operation(OpKind::retire_account(lena.clone(), mode));
        let why = c.check(&op).expect_err("refused").to_string();
        assert!(
            why.contains("use retire: delete") && why.contains("lena.fischer@example.com"),
            "{why}"
        );
        assert!(c.apply(&op).await.is_err(), "apply refuses too");
    }
    let delete = sandbox.operation(OpKind::retire_account(lena, RetireMode::Delete));
    c.check(&delete).expect("deletion is supported");
    assert_eq!(
        c.observe(&delete).await.expect("observe"),
        Observed::NotDone
    );
    sandbox.applies_once(&c, &delete).await;
    let after = sandbox.sync(&c).await;
    assert!(
        after
            .account_by_login_or_email("lena.fischer@example.com")
            .is_none()
    );
    assert!(
        after
            .grants
            .iter()
            .all(|g| g.account_id != delete.holder().id()),
        "a deleted account holds nothing"
    );
}

#[tokio::test]
async fn creations_jira_cannot_make_are_refused() {
    let (sandbox, c) = start().await;
    for (attributes, says) in [
        (json!({"products": ["confluence"]}), "confluence"),
        (json!({"displayName": "Nia Park"}), "displayName"),
    ] {
        let op = creation(&sandbox, attributes);
        let why = c.check(&op).expect_err("refused").to_string();
        assert!(why.contains(says) && why.contains(NIA), "{why}");
    }
    let staged = sandbox.operation(OpKind::create_account(
        AccountRef::pending(NIA),
        serde_json::Map::new(),
        AccountOptions {
            activate: false,
            ..AccountOptions::default()
        },
    ));
    assert!(c.check(&staged).is_err());
    assert_eq!(accounts_with_email(&sandbox.sync(&c).await, NIA), 0);
}
