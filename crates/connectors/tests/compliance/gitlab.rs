//! The GitLab connector against the GitLab emulator: its part of the contract, and what only GitLab does
//! (nested groups and inherited levels, level changes, people who get an account at their first SSO login).

use grantflow_connectors::gitlab::{GitlabAccounts, GitlabConfig, GitlabConnector};
use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{AccountRef, ConnectionName, GrantSource, Operation, Snapshot};
use serde_json::json;

use crate::harness::{ByHand, Case, Grant, Missing, RateLimits, Said, Sandbox, System, Text};
use crate::sandbox::{account, grant_kind, resource};

pub struct Gitlab;

fn connector(sandbox: &Sandbox, waits: u32) -> GitlabConnector {
    connector_with(sandbox, waits, GitlabAccounts::FirstLogin)
}

/// Its connector, with users made at the first SSO sign-in or through the admin API.
pub fn connector_with(sandbox: &Sandbox, waits: u32, accounts: GitlabAccounts) -> GitlabConnector {
    let config = GitlabConfig {
        allow_insecure_http: false,
        base_url: sandbox.base_url(),
        token: sandbox.credential("token"),
        timeout_seconds: 10,
        max_rate_limit_waits: waits,
        pending_recheck_seconds: 3,
        accounts_created_on_first_login: true,
        accounts,
    };
    GitlabConnector::new(ConnectionName::new("gitlab"), &config, &Sandbox::context())
        .expect("connector")
}

pub const TOM: &str = "tom.baker@example.com";
const DEMO: &str = "okta-demo-user@example.com";

fn level(
    sandbox: &Sandbox,
    s: &Snapshot,
    add: bool,
    email: &str,
    group: &str,
    level: u8,
) -> Operation {
    sandbox.grant(
        s,
        add,
        email,
        ("group", group),
        &format!("access_level:{level}"),
    )
}

fn held(s: &Snapshot, email: &str, group: &str) -> Vec<(String, GrantSource)> {
    let account = s.account_by_login_or_email(email).expect("account");
    let group = s.resource_by_name("group", group).expect("group");
    let mut out: Vec<_> = s
        .grants
        .iter()
        .filter(|g| g.account_id == account.id && g.resource_id == group.id)
        .map(|g| (g.entitlement.clone(), g.source.clone()))
        .collect();
    out.sort();
    out
}

impl System for Gitlab {
    const KIND: &'static str = "gitlab";

    fn connector(sandbox: &Sandbox, waits: u32) -> Box<dyn Connector> {
        Box::new(connector(sandbox, waits))
    }

    const GRANT: Grant = Grant {
        email: TOM,
        resource: "group/acme/payments",
        entitlement: "access_level:30",
    };

    fn operations(sandbox: &Sandbox, s: &Snapshot) -> Vec<Case> {
        let payments = resource(s, "group", "acme/payments").id;
        let key = format!("group/{payments}/member/{}", account(s, TOM).id);
        vec![
            Case::new(level(sandbox, s, true, TOM, "acme/payments", 30), &key),
            // A different level on a member is one change of level.
            Case::new(level(sandbox, s, true, TOM, "acme/payments", 40), &key),
            Case::new(level(sandbox, s, false, TOM, "acme/payments", 40), &key),
        ]
    }

    const RATE_LIMITS: RateLimits = RateLimits {
        tight: Some(r#"{"window_seconds": 1, "all": 2}"#),
        spent: r#"{"window_seconds": 30, "all": 1}"#,
        bucket: "api",
        // Known from the last response's `RateLimit-Remaining: 0`, the limit is reported without spending a
        // call on a 429.
        message: Some(Text::HasAny(&[
            "requested too many times",
            "budget is spent",
        ])),
        reset_after_seconds: 20,
    };

    const SERVER_ERROR: (u16, Said) = (503, Said::code("503"));

    const PERMANENT: (Missing, Said) = (
        Missing::ResourceId("999999"),
        Said::code("404")
            .status(404)
            .saying(Text::Is("404 Group Not Found")),
    );

    const WRONG_CREDENTIAL: (&'static str, &'static str) = ("token", "glpat-not-the-right-token");
    const UNAUTHORIZED: Said = Said::message(Text::Is("401 Unauthorized"));

    const BY_HAND: ByHand = ByHand {
        user: "okta-demo-user",
        email: DEMO,
        add: ("group/acme/payments", "access_level:30"),
        remove: "group/acme/platform",
        suspended_status: "BLOCKED",
    };
}

#[tokio::test]
async fn a_sync_reads_users_by_email_nested_groups_and_inherited_levels() {
    let sandbox = Sandbox::start("gitlab").await;
    let s = sandbox.sync(&connector(&sandbox, 3)).await;
    assert!(
        s.account_by_login_or_email("priya.raman@example.com")
            .is_some()
    );
    assert!(
        s.account_by_login_or_email("new.hire@example.com")
            .is_none(),
        "a person pending their first SSO login has no GitLab user"
    );
    let acme = s
        .resource_by_name("group", "acme")
        .expect("top-level group");
    let platform = s
        .resource_by_name("group", "acme/platform")
        .expect("subgroup");
    assert!(s.resource_by_name("group", "acme/platform/infra").is_some());
    assert_eq!(platform.entitlement_aliases["write"], "access_level:30");
    assert_eq!(platform.entitlement_aliases["admin"], "access_level:50");
    assert_eq!(
        held(&s, DEMO, "acme/platform"),
        [("access_level:20".to_string(), GrantSource::Direct)]
    );
    assert_eq!(
        held(&s, "priya.raman@example.com", "acme/platform/infra"),
        [(
            "access_level:50".to_string(),
            GrantSource::Group {
                group_id: acme.id.clone()
            }
        )]
    );
    assert_eq!(
        held(&s, "sam.okafor@example.com", "acme/platform/infra"),
        [(
            "access_level:40".to_string(),
            GrantSource::Group {
                group_id: platform.id.clone()
            }
        )]
    );
}

#[tokio::test]
async fn a_level_change_is_read_back_and_removing_a_level_not_held_keeps_the_membership() {
    let sandbox = Sandbox::start("gitlab").await;
    let c = connector(&sandbox, 3);
    let s = sandbox.sync(&c).await;
    let raise = level(&sandbox, &s, true, DEMO, "acme/platform", 30);
    assert_eq!(c.apply(&raise).await.expect("raise"), Applied::Changed);
    assert_eq!(
        c.apply(&raise).await.expect("again"),
        Applied::AlreadyPresent
    );
    let after = sandbox.sync(&c).await;
    assert_eq!(
        held(&after, DEMO, "acme/platform"),
        [("access_level:30".to_string(), GrantSource::Direct)]
    );
    let stale = level(&sandbox, &s, false, DEMO, "acme/platform", 20);
    assert_eq!(
        c.apply(&stale).await.expect("remove"),
        Applied::AlreadyPresent
    );
    assert_eq!(
        held(&sandbox.sync(&c).await, DEMO, "acme/platform").len(),
        1
    );
}

#[tokio::test]
async fn adding_below_an_inherited_level_is_already_satisfied() {
    let sandbox = Sandbox::start("gitlab").await;
    let c = connector(&sandbox, 3);
    let s = sandbox.sync(&c).await;
    // Sam is a maintainer of acme/platform, so of acme/platform/infra too; GitLab refuses a direct developer.
    let add = level(
        &sandbox,
        &s,
        true,
        "sam.okafor@example.com",
        "acme/platform/infra",
        30,
    );
    assert_eq!(c.observe(&add).await.expect("observe"), Observed::Done);
    assert_eq!(c.apply(&add).await.expect("apply"), Applied::AlreadyPresent);
    assert!(sandbox.writes().await.is_empty(), "nothing was written");
}

#[tokio::test]
async fn a_person_pending_first_sso_login_waits_then_gets_the_grant() {
    let sandbox = Sandbox::start("gitlab").await;
    let c = connector(&sandbox, 3);
    let s = sandbox.sync(&c).await;
    let pending = AccountRef {
        id: "pending:new.hire@example.com".into(),
        login: "new.hire@example.com".into(),
    };
    let engineering = resource(&s, "group", "acme/engineering");
    let op = |add: bool| {
        sandbox.operation(grant_kind(
            add,
            pending.clone(),
            engineering.clone(),
            "access_level:30",
        ))
    };
    let started = chrono::Utc::now();
    match c.apply(&op(true)).await.expect_err("waits") {
        Failure::Waiting { reason, recheck_at } => {
            assert_eq!(
                reason,
                "new.hire@example.com has no GitLab account yet (pending first SSO login)"
            );
            assert!(recheck_at > started && recheck_at < started + chrono::Duration::seconds(10));
        }
        other => panic!("expected Waiting, got {other:?}"),
    }
    assert_eq!(
        c.observe(&op(true)).await.expect("observe"),
        Observed::NotDone
    );
    assert_eq!(
        c.apply(&op(false)).await.expect("nothing to remove"),
        Applied::AlreadyPresent
    );

    sandbox
        .admin("first-login", json!({"email": "new.hire@example.com"}))
        .await;
    assert_eq!(
        c.apply(&op(true)).await.expect("now applies"),
        Applied::Changed
    );
    assert_eq!(c.observe(&op(true)).await.expect("observe"), Observed::Done);
    let after = sandbox.sync(&c).await;
    assert_eq!(
        held(&after, "new.hire@example.com", "acme/engineering"),
        [("access_level:30".to_string(), GrantSource::Direct)]
    );
}

/// The projects each group lists, as `(group full path, project path_with_namespace)` pairs from the snapshot's
/// group → project resource grants.
fn reached(s: &Snapshot) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = s
        .resource_grants
        .iter()
        .map(|g| {
            let holder = s
                .resources
                .iter()
                .find(|r| r.kind.as_str() == "group" && r.id == g.holder_id)
                .expect("the holder is a group");
            let project = s
                .resources
                .iter()
                .find(|r| r.kind.as_str() == "project" && r.id == g.resource_id)
                .expect("the resource is a project");
            assert_eq!(g.entitlement, "member");
            (holder.name.clone(), project.name.clone())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_sync_reads_the_projects_each_group_reaches() {
    let sandbox = Sandbox::start("gitlab").await;
    let s = sandbox.sync(&connector(&sandbox, 3)).await;
    let pair = |g: &str, p: &str| (g.to_string(), p.to_string());
    assert_eq!(
        reached(&s),
        [
            pair("acme", "acme/handbook"),
            pair("acme/engineering", "acme/engineering/checkout-web"),
            pair("acme/engineering", "acme/engineering/design-system"),
            // Shared with Engineering by Payments: reached by both.
            pair("acme/engineering", "acme/payments/checkout-api"),
            pair("acme/payments", "acme/payments/checkout-api"),
            pair("acme/payments", "acme/payments/ledger"),
            pair("acme/platform", "acme/platform/graph-connector"),
            pair("acme/platform/infra", "acme/platform/infra/chef-cookbooks"),
            pair("acme/platform/infra", "acme/platform/infra/platform-infra"),
        ]
    );
    let projects: Vec<_> = s
        .resources
        .iter()
        .filter(|r| r.kind.as_str() == "project")
        .collect();
    assert_eq!(projects.len(), 8, "a shared project is recorded once");
    assert!(projects.iter().all(|p| !p.writable));
    let ids: std::collections::BTreeSet<&str> = s.resources.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        s.resources.len(),
        "GitLab numbers projects apart from groups; resource ids stay unique"
    );

    let payments = resource(&s, "group", "acme/payments");
    let engineering = resource(&s, "group", "acme/engineering");
    let api = s
        .resource_by_name("project", "acme/payments/checkout-api")
        .expect("checkout-api");
    assert_eq!(
        api.attributes["path_with_namespace"],
        "acme/payments/checkout-api"
    );
    assert_eq!(api.attributes["namespace_id"], json!(payments.id));
    assert_eq!(api.attributes["archived"], false);
    assert!(
        api.attributes["web_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://") && u.ends_with("/acme/payments/checkout-api"))
    );
    assert_eq!(
        api.attributes["shared_with_groups"],
        json!([{"group_id": engineering.id, "group_access_level": 20}])
    );
    let chef = s
        .resource_by_name("project", "acme/platform/infra/chef-cookbooks")
        .expect("archived project");
    assert_eq!(chef.attributes["archived"], true);
    // What the groups bring, as a review of a membership shows it.
    let mut brings: Vec<&str> = s
        .inherited_through(&payments.id)
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    brings.sort_unstable();
    assert_eq!(
        brings,
        ["acme/payments/checkout-api", "acme/payments/ledger"]
    );
}
