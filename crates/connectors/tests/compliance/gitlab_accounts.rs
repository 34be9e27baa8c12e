//! Accounts as code in self-managed GitLab through the admin API (`accounts: admin_api`), against the
//! emulator: the whole contract again with users created and retired ([`GitlabAdminApi`]), a retried
//! creation whose answer was lost found by email and never made twice, grants on the account a plan
//! creates, each retire mode (block, deactivate, delete), profile updates, and without the flag: users
//! still appear at the first SSO sign-in and the account kinds are refused.

use grantflow_connectors::gitlab::GitlabAccounts;
use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{AccountOptions, AccountRef, OpKind, Operation, RetireMode, Snapshot};
use serde_json::{Value, json};

use crate::gitlab::{Gitlab, TOM, connector_with};
use crate::harness::{ByHand, Case, Grant, Missing, RateLimits, Said, Sandbox, System};
use crate::sandbox::{account, resource};

/// GitLab with `accounts: admin_api`: the contract of [`Gitlab`], plus creating and retiring users.
pub struct GitlabAdminApi;

fn admin(sandbox: &Sandbox) -> grantflow_connectors::gitlab::GitlabConnector {
    connector_with(sandbox, 3, GitlabAccounts::AdminApi)
}

fn fields(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn creation(sandbox: &Sandbox, email: &str, options: AccountOptions) -> Operation {
    sandbox.operation(OpKind::create_account(
        AccountRef::pending(email),
        fields(json!({"name": "Nia Park"})),
        options,
    ))
}

impl System for GitlabAdminApi {
    const KIND: &'static str = "gitlab";

    fn connector(sandbox: &Sandbox, waits: u32) -> Box<dyn Connector> {
        Box::new(connector_with(sandbox, waits, GitlabAccounts::AdminApi))
    }

    const GRANT: Grant = Gitlab::GRANT;

    fn operations(sandbox: &Sandbox, s: &Snapshot) -> Vec<Case> {
        let mut cases = Gitlab::operations(sandbox, s);
        let user = |email: &str| format!("user/{}", account(s, email).id);
        cases.extend([
            Case::unkeyed(creation(
                sandbox,
                "nia.park@example.com",
                AccountOptions::default(),
            )),
            Case::new(
                sandbox.operation(OpKind::retire_account(
                    account(s, "aisha.khan@example.com"),
                    RetireMode::Suspend,
                )),
                user("aisha.khan@example.com"),
            ),
            Case::new(
                sandbox.operation(OpKind::retire_account(
                    account(s, "sam.okafor@example.com"),
                    RetireMode::Deactivate,
                )),
                user("sam.okafor@example.com"),
            ),
            Case::new(
                sandbox.operation(OpKind::retire_account(
                    account(s, "nina.petrova@example.com"),
                    RetireMode::Delete,
                )),
                user("nina.petrova@example.com"),
            ),
            Case::new(
                sandbox.operation(OpKind::update_profile(
                    account(s, "marco.rossi@example.com"),
                    serde_json::Map::new(),
                    fields(json!({"organization": "Acme Payments", "location": "Milan"})),
                )),
                user("marco.rossi@example.com"),
            ),
        ]);
        cases
    }

    const RATE_LIMITS: RateLimits = Gitlab::RATE_LIMITS;
    const SERVER_ERROR: (u16, Said) = Gitlab::SERVER_ERROR;
    const PERMANENT: (Missing, Said) = Gitlab::PERMANENT;
    const WRONG_CREDENTIAL: (&'static str, &'static str) = Gitlab::WRONG_CREDENTIAL;
    const UNAUTHORIZED: Said = Gitlab::UNAUTHORIZED;
    const BY_HAND: ByHand = Gitlab::BY_HAND;
}

/// The user as the admin API answers it, by email.
async fn user(sandbox: &Sandbox, email: &str) -> Vec<Value> {
    reqwest::Client::new()
        .get(format!("{}/api/v4/users", sandbox.base_url()))
        .query(&[("search", email)])
        .header("PRIVATE-TOKEN", sandbox.credential_value("token"))
        .send()
        .await
        .expect("users")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn a_creation_whose_answer_was_lost_is_found_by_email_and_never_made_twice() {
    let sandbox = Sandbox::start("gitlab").await;
    let c = admin(&sandbox);
    let create = creation(
        &sandbox,
        "Nia.Park@example.com",
        AccountOptions {
            send_email: true,
            ..AccountOptions::default()
        },
    );
    assert_eq!(c.check(&create), Ok(()));
    sandbox
        .answer_lost_then_found_done(&c, &create, json!({"reset_next_writes": 1}))
        .await;
    let found = user(&sandbox, "nia.park@example.com").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["username"], "nia.park");
    assert_eq!(found[0]["name"], "Nia Park");
    assert_eq!(found[0]["state"], "active");
}

#[tokio::test]
async fn a_grant_planned_with_the_creation_finds_the_new_user() {
    let sandbox = Sandbox::start("gitlab").await;
    let c = admin(&sandbox);
    assert!(
        !c.describe().accounts_created_on_first_login,
        "users made by grantflow are not waited for"
    );
    let s = sandbox.sync(&c).await;
    let grant = sandbox.operation(OpKind::AddGrant {
        account: AccountRef::pending("nia.park@example.com"),
        resource: resource(&s, "group", "acme/payments"),
        entitlement: "access_level:20".into(),
    });
    assert_eq!(c.observe(&grant).await.expect("observe"), Observed::NotDone);
    assert!(c.apply(&grant).await.is_err_and(|f| f.is_transient()));
    c.apply(&creation(
        &sandbox,
        "nia.park@example.com",
        AccountOptions::default(),
    ))
    .await
    .expect("create");
    assert_eq!(c.apply(&grant).await.expect("grant"), Applied::Changed);
    assert_eq!(c.observe(&grant).await.expect("observe"), Observed::Done);
}

#[tokio::test]
async fn each_retire_mode_blocks_deactivates_or_deletes() {
    let sandbox = Sandbox::start("gitlab").await;
    let c = admin(&sandbox);
    let s = sandbox.sync(&c).await;
    for (email, mode, state) in [
        (TOM, RetireMode::Suspend, Some("BLOCKED")),
        (
            "lena.fischer@example.com",
            RetireMode::Deactivate,
            Some("DEACTIVATED"),
        ),
        ("marco.rossi@example.com", RetireMode::Delete, None),
    ] {
        let retire = sandbox.operation(OpKind::retire_account(account(&s, email), mode));
        assert_eq!(c.check(&retire), Ok(()));
        sandbox.applies_once(&c, &retire).await;
        let after = sandbox.sync(&c).await;
        assert_eq!(
            after
                .account_by_login_or_email(email)
                .map(|a| a.status.as_str()),
            state,
            "{email}"
        );
    }
    // GitLab refuses to deactivate a blocked user; its words reach the engine.
    let blocked = sandbox.operation(OpKind::retire_account(
        account(&s, TOM),
        RetireMode::Deactivate,
    ));
    match c.apply(&blocked).await {
        Err(Failure::Permanent {
            status: Some(403),
            message,
            ..
        }) => assert!(
            message.contains("blocked user cannot be deactivated"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn without_the_admin_api_users_still_appear_at_the_first_sign_in() {
    let sandbox = Sandbox::start("gitlab").await;
    let c = connector_with(&sandbox, 3, GitlabAccounts::FirstLogin);
    let operations = c.describe().operations;
    assert!(!operations.contains(&"create_account"), "{operations:?}");
    assert!(c.describe().accounts_created_on_first_login);
    let create = creation(&sandbox, "nia.park@example.com", AccountOptions::default());
    let why = c.check(&create).expect_err("refused").to_string();
    assert!(why.contains("admin_api"), "{why}");
    // A creation without a name is refused by the admin API connection before planning stores it.
    let nameless = sandbox.operation(OpKind::create_account(
        AccountRef::pending("nia.park@example.com"),
        serde_json::Map::new(),
        AccountOptions::default(),
    ));
    let why = admin(&sandbox)
        .check(&nameless)
        .expect_err("no name")
        .to_string();
    assert!(
        why.contains("name") && why.contains("nia.park@example.com"),
        "{why}"
    );
}

#[tokio::test]
async fn first_login_admin_retire_leaves_creation_to_the_sign_in_and_blocks_a_leaver() {
    let sandbox = Sandbox::start("gitlab").await;
    let c = connector_with(&sandbox, 3, GitlabAccounts::FirstLoginAdminRetire);
    let described = c.describe();
    assert!(described.accounts_created_on_first_login);
    assert!(
        !described.operations.contains(&"create_account")
            && described.operations.contains(&"retire_account"),
        "{:?}",
        described.operations
    );
    let create = creation(&sandbox, "nia.park@example.com", AccountOptions::default());
    let why = c.check(&create).expect_err("refused").to_string();
    assert!(why.contains("first SSO sign-in"), "{why}");

    let s = sandbox.sync(&c).await;
    let block = sandbox.operation(OpKind::retire_account(
        account(&s, TOM),
        RetireMode::Suspend,
    ));
    c.check(&block).expect("a retirement passes check()");
    assert_eq!(
        c.observe(&block).await.expect("observed"),
        Observed::NotDone
    );
    sandbox.applies_once(&c, &block).await;
    let tom = account(&s, TOM);
    let after = sandbox.sync(&c).await;
    let user = after
        .accounts
        .iter()
        .find(|a| a.id == tom.id)
        .expect("synced");
    assert!(!user.state.is_active(), "{user:?}");

    // Without it grantflow leaves GitLab users alone, and says how to change that.
    let plain = connector_with(&sandbox, 3, GitlabAccounts::FirstLogin);
    let why = plain.check(&block).expect_err("refused").to_string();
    assert!(why.contains("first_login_admin_retire"), "{why}");
}

#[tokio::test]
async fn a_profile_update_sends_only_the_declared_fields_once_and_a_lost_answer_is_found_done() {
    let sandbox = Sandbox::start("gitlab").await;
    let c = admin(&sandbox);
    let s = sandbox.sync(&c).await;
    let lena = account(&s, "lena.fischer@example.com");
    let before = user(&sandbox, "lena.fischer@example.com").await;
    let update = sandbox.operation(OpKind::update_profile(
        lena.clone(),
        serde_json::Map::new(),
        fields(
            json!({"name": "Lena Fischer-Ito", "organization": "Acme Platform", "external": true}),
        ),
    ));
    assert_eq!(c.check(&update), Ok(()));
    sandbox
        .answer_lost_then_found_done(&c, &update, json!({"reset_next_writes": 1}))
        .await;
    let after = user(&sandbox, "lena.fischer@example.com").await;
    assert_eq!(after[0]["name"], "Lena Fischer-Ito");
    assert_eq!(after[0]["organization"], "Acme Platform");
    assert_eq!(after[0]["external"], true);
    for kept in ["username", "email", "state", "location", "bio"] {
        assert_eq!(after[0][kept], before[0][kept], "{kept} kept");
    }
    // The next sync reads the fields, so a plan for the same profile has nothing left to change.
    let synced = sandbox.sync(&c).await;
    let read = synced
        .accounts
        .iter()
        .find(|a| a.id == lena.id)
        .expect("synced");
    assert_eq!(read.attributes["organization"], "Acme Platform");
    assert_eq!(read.attributes["name"], "Lena Fischer-Ito");

    // What GitLab's admin API cannot take here is refused before planning stores it; without an
    // administrator's token, profiles are not changed at all.
    let email = sandbox.operation(OpKind::update_profile(
        lena.clone(),
        serde_json::Map::new(),
        fields(json!({"email": "lena@elsewhere.example"})),
    ));
    let why = c.check(&email).expect_err("refused").to_string();
    assert!(
        why.contains("email") && why.contains("organization"),
        "{why}"
    );
    let plain = connector_with(&sandbox, 3, GitlabAccounts::FirstLogin);
    assert!(!plain.describe().operations.contains(&"update_profile"));
    let why = plain.check(&update).expect_err("refused").to_string();
    assert!(why.contains("administrator"), "{why}");
    let retiring = connector_with(&sandbox, 3, GitlabAccounts::FirstLoginAdminRetire);
    assert_eq!(retiring.check(&update), Ok(()));
}
