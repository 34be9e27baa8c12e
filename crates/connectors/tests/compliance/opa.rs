//! The Okta Privileged Access connector against the OPA emulator: its part of the contract, and what only OPA
//! does (secret folders and security policies it creates, groups Okta pushes, bearer tokens that expire).

use grantflow_connectors::opa::{OpaConfig, OpaConnector, TeamName};
use grantflow_connectors::{Connector, Failure};
use grantflow_model::{ConnectionName, Operation, Snapshot};
use serde_json::json;

use crate::harness::{ByHand, Case, Grant, Missing, RateLimits, Said, Sandbox, System, Text};

pub struct Opa;

const FOLDER: &str = "payments/payments-prod/payments-secrets";
const HIRE: &str = "new.hire@example.com";

fn connector(sandbox: &Sandbox, waits: u32) -> OpaConnector {
    let config = OpaConfig {
        allow_insecure_http: false,
        base_url: sandbox.base_url(),
        team: TeamName::Name(sandbox.credential_value("team")),
        key_id: sandbox.credential("key_id"),
        key_secret: sandbox.credential("key_secret"),
        timeout_seconds: 10,
        max_rate_limit_waits: waits,
    };
    OpaConnector::new(ConnectionName::new("opa"), &config, &Sandbox::context()).expect("connector")
}

/// The folder, group and policy a policy file might declare, in the order they can be created.
fn declared(sandbox: &Sandbox) -> [Operation; 3] {
    [
        sandbox.create("secret_folder", FOLDER, json!({"description": "d"})),
        sandbox.create("group", "payments-secrets", json!({})),
        sandbox.create(
            "security_policy",
            "payments-secrets-access",
            json!({"groups": ["payments-secrets"], "folders": [FOLDER], "privileges": {"secret_create": true}}),
        ),
    ]
}

impl System for Opa {
    const KIND: &'static str = "opa";

    fn connector(sandbox: &Sandbox, waits: u32) -> Box<dyn Connector> {
        Box::new(connector(sandbox, waits))
    }

    const GRANT: Grant = Grant {
        email: HIRE,
        resource: "group/payments-engineers",
        entitlement: "member",
    };

    fn operations(sandbox: &Sandbox, s: &Snapshot) -> Vec<Case> {
        let member = "group/payments-engineers/users/new.hire";
        let engineers = ("group", "payments-engineers");
        let [folder, group, policy] = declared(sandbox);
        vec![
            Case::new(sandbox.grant(s, true, HIRE, engineers, "member"), member),
            Case::new(sandbox.grant(s, false, HIRE, engineers, "member"), member),
            Case::new(folder, "secret_folder/payments-secrets"),
            Case::new(group, "group/payments-secrets"),
            Case::new(policy, "security_policy/payments-secrets-access"),
            // Changed declarations: a folder's description, a policy's privileges (the whole policy is sent).
            Case::new(
                sandbox.update(
                    "secret_folder",
                    FOLDER,
                    json!({"description": "e"}),
                    json!({"description": "e"}),
                ),
                "secret_folder/payments-secrets",
            ),
            Case::new(
                sandbox.update(
                    "security_policy",
                    "payments-secrets-access",
                    json!({"groups": ["payments-secrets"], "folders": [FOLDER],
                           "privileges": {"secret_create": true, "secret_update": true}}),
                    json!({"privileges": {"secret_create": true, "secret_update": true}}),
                ),
                "security_policy/payments-secrets-access",
            ),
            // Removed declarations, the policy before what it names.
            Case::new(
                sandbox.delete("security_policy", "payments-secrets-access"),
                "security_policy/payments-secrets-access",
            ),
            Case::new(
                sandbox.delete("secret_folder", FOLDER),
                "secret_folder/payments-secrets",
            ),
            Case::new(
                sandbox.delete("group", "payments-secrets"),
                "group/payments-secrets",
            ),
        ]
    }

    const RATE_LIMITS: RateLimits = RateLimits {
        tight: Some(r#"{"window_seconds": 1, "all": 3}"#),
        spent: r#"{"window_seconds": 30, "all": 1}"#,
        bucket: "api",
        message: None,
        reset_after_seconds: 20,
    };

    const SERVER_ERROR: (u16, Said) = (503, Said::code("internal_error"));

    const PERMANENT: (Missing, Said) = (
        Missing::ResourceName("no-such-group"),
        Said::code("resource_not_found")
            .status(404)
            .saying(Text::Is("group not found")),
    );

    const WRONG_CREDENTIAL: (&'static str, &'static str) = ("key_secret", "not-the-secret");
    const UNAUTHORIZED: Said = Said::message(Text::Has("invalid key_id or key_secret"));

    const BY_HAND: ByHand = ByHand {
        user: "olivia.smith",
        email: "olivia.smith@example.com",
        add: ("group/opa-admins", "member"),
        remove: "group/payments-engineers",
        suspended_status: "DISABLED",
    };
}

fn members(s: &Snapshot, group: &str) -> Vec<String> {
    let group = s.resource_by_name("group", group).expect("group");
    let mut out: Vec<String> = s
        .grants
        .iter()
        .filter(|g| g.resource_id == group.id)
        .map(|g| g.account_id.clone())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_sync_reads_users_groups_folders_and_policies_with_their_groups() {
    let sandbox = Sandbox::start("opa").await;
    let s = sandbox.sync(&connector(&sandbox, 3)).await;
    let ravi = s
        .account_by_login_or_email("ravi.patel@example.com")
        .expect("users correlate by email");
    assert_eq!(ravi.id, "ravi.patel");
    assert_eq!(
        s.account_by_login_or_email("former.engineer@example.com")
            .expect("disabled users are read")
            .status,
        "DISABLED"
    );
    assert_eq!(
        members(&s, "payments-engineers"),
        ["fatima.zahra", "olivia.smith"]
    );
    let folder = s
        .resource_by_name("secret_folder", "payments/payments-prod/payments-shared")
        .expect("folders are named by their place");
    let policy = s
        .resource_by_name("security_policy", "payments-shared-access")
        .expect("policy");
    assert_eq!(policy.attributes["secret_folders"], json!([folder.name]));
    let group = s
        .resource_by_name("group", "payments-engineers")
        .expect("group");
    assert!(
        s.resource_grants
            .iter()
            .any(|g| g.holder_id == group.id && g.resource_id == policy.id)
    );
}

#[tokio::test]
async fn a_created_policy_is_synced_with_its_folders() {
    let sandbox = Sandbox::start("opa").await;
    let c = connector(&sandbox, 3);
    for op in declared(&sandbox) {
        c.apply(&op).await.expect("created");
    }
    let s = sandbox.sync(&c).await;
    let created = s
        .resource_by_name("security_policy", "payments-secrets-access")
        .expect("policy synced");
    assert_eq!(created.attributes["secret_folders"], json!([FOLDER]));
}

#[tokio::test]
async fn a_policy_for_a_group_not_pushed_yet_waits_and_bad_folder_names_are_refused() {
    let sandbox = Sandbox::start("opa").await;
    let c = connector(&sandbox, 3);
    let policy = sandbox.create(
        "security_policy",
        "p",
        json!({"groups": ["OPA Payments Secrets"], "folders": ["payments/payments-prod/payments-shared"]}),
    );
    match c.apply(&policy).await.expect_err("no group yet") {
        Failure::Waiting { reason, .. } => assert!(reason.contains("group push"), "{reason}"),
        other => panic!("expected Waiting, got {other:?}"),
    }
    let bad = sandbox.create(
        "secret_folder",
        "payments/payments-prod/no spaces",
        json!({}),
    );
    assert!(c.check(&bad).is_err());
    let nowhere = sandbox.create("secret_folder", "nope/nope/x", json!({}));
    assert!(matches!(
        c.apply(&nowhere).await.expect_err("no resource group"),
        Failure::Permanent { .. }
    ));
}

#[tokio::test]
async fn an_expired_token_is_minted_again() {
    let sandbox = Sandbox::start("opa").await;
    let c = connector(&sandbox, 3);
    c.health().await.expect("healthy");
    sandbox.admin("expire-tokens", json!({})).await;
    c.health().await.expect("a new token after the 401");
}
