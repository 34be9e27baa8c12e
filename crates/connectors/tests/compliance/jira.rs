//! The Jira connector against the Jira Cloud emulator: its part of the contract, and what only Jira does
//! (project roles held by people and groups, group actors, a write whose answer comes too late).

use grantflow_connectors::jira::{JiraConfig, JiraConnector};
use grantflow_connectors::{Connector, Failure};
use grantflow_model::{
    AccountOptions, AccountRef, ConnectionName, OpKind, ResourceGrant, RetireMode, Snapshot,
};
use serde_json::json;

use crate::harness::{ByHand, Case, Grant, Missing, RateLimits, Said, Sandbox, System, Text};
use crate::sandbox::{held, holders};

pub struct Jira;

const NEW_HIRE: &str = "5b10ac8d82e05b22cc7d0008";
const HIRE: &str = "new.hire@example.com";

pub fn connector_with(sandbox: &Sandbox, waits: u32, timeout_seconds: u64) -> JiraConnector {
    let config = JiraConfig {
        allow_insecure_http: false,
        base_url: sandbox.base_url(),
        email: sandbox.credential("email"),
        token: sandbox.credential("token"),
        timeout_seconds,
        max_rate_limit_waits: waits,
    };
    JiraConnector::new(ConnectionName::new("jira"), &config, &Sandbox::context())
        .expect("connector")
}

pub fn connector(sandbox: &Sandbox, waits: u32) -> JiraConnector {
    connector_with(sandbox, waits, 10)
}

impl System for Jira {
    const KIND: &'static str = "jira";

    fn connector(sandbox: &Sandbox, waits: u32) -> Box<dyn Connector> {
        Box::new(connector(sandbox, waits))
    }

    const GRANT: Grant = Grant {
        email: HIRE,
        resource: "project/Platform",
        entitlement: "role:Developers",
    };

    fn operations(sandbox: &Sandbox, s: &Snapshot) -> Vec<Case> {
        let role = format!("project/PLAT/role:Developers/user/{NEW_HIRE}");
        let member = format!("group/payments-team/member/{NEW_HIRE}");
        let group_role = "project/PAY/role:Viewers/group/payments-team";
        let (platform, payments_team) = (("project", "Platform"), ("group", "payments-team"));
        let former = crate::sandbox::account(s, "former.engineer@example.com");
        let viewers = |add| {
            sandbox.group_grant(
                s,
                add,
                payments_team,
                ("project", "Payments"),
                "role:Viewers",
            )
        };
        vec![
            Case::new(
                sandbox.grant(s, true, HIRE, platform, "role:Developers"),
                &role,
            ),
            Case::new(
                sandbox.grant(s, false, HIRE, platform, "role:Developers"),
                &role,
            ),
            Case::new(
                sandbox.grant(s, true, HIRE, payments_team, "member"),
                &member,
            ),
            Case::new(
                sandbox.grant(s, false, HIRE, payments_team, "member"),
                &member,
            ),
            Case::new(viewers(true), group_role),
            Case::new(viewers(false), group_role),
            // An account a policy declares: created once with the default product, found by email again.
            Case::unkeyed(sandbox.operation(OpKind::create_account(
                AccountRef::pending("nia.park@example.com"),
                serde_json::Map::new(),
                AccountOptions::default(),
            ))),
            // A leaver's account deleted (Jira's only retirement; `jira_accounts.rs` for the refused modes).
            Case::new(
                sandbox.operation(OpKind::retire_account(former.clone(), RetireMode::Delete)),
                format!("user/{}", former.id),
            ),
        ]
    }

    const RATE_LIMITS: RateLimits = RateLimits {
        tight: Some(r#"{"window_seconds": 1, "all": 3}"#),
        spent: r#"{"window_seconds": 30, "all": 1}"#,
        bucket: "api",
        message: Some(Text::Has("Rate limit exceeded.")),
        reset_after_seconds: 20,
    };

    const SERVER_ERROR: (u16, Said) = (503, Said::code("503"));

    const PERMANENT: (Missing, Said) = (
        Missing::ResourceId("NOPE"),
        Said::code("404")
            .status(404)
            .saying(Text::Has("No project could be found with key 'NOPE'.")),
    );

    const WRONG_CREDENTIAL: (&'static str, &'static str) = ("token", "not-the-right-token");
    const UNAUTHORIZED: Said = Said::code("401");

    const BY_HAND: ByHand = ByHand {
        user: "lena.fischer@example.com",
        email: "lena.fischer@example.com",
        add: ("project/Platform", "role:Administrators"),
        remove: "project/Engineering",
        suspended_status: "INACTIVE",
    };
}

#[tokio::test]
async fn a_sync_reads_accounts_project_roles_group_actors_and_groups() {
    let sandbox = Sandbox::start("jira").await;
    let s = sandbox.sync(&connector(&sandbox, 3)).await;
    let hire = s.account_by_login_or_email(HIRE).expect("new hire");
    assert_eq!(hire.id, NEW_HIRE);
    assert_eq!(
        s.account_by_login_or_email("former.engineer@example.com")
            .expect("inactive accounts are read")
            .status,
        "INACTIVE"
    );
    let plat = s.resource_by_name("project", "Platform").expect("PLAT");
    assert_eq!(plat.id, "PLAT");
    assert_eq!(
        plat.entitlements,
        ["role:Administrators", "role:Developers", "role:Viewers"]
    );
    assert_eq!(plat.entitlement_aliases["write"], "role:Developers");
    assert_eq!(
        holders(&s, "project/Platform", "role:Developers", Some(true)),
        ["diego.alvarez@example.com", "nina.petrova@example.com"]
    );
    // platform-team holds Developers; its members hold it through the group.
    assert!(s.resource_grants.contains(&ResourceGrant {
        holder_id: "platform-team".into(),
        resource_id: "PLAT".into(),
        entitlement: "role:Developers".into(),
    }));
    assert!(
        holders(&s, "project/Platform", "role:Developers", Some(false))
            .contains(&"okta-demo-user@example.com".to_string())
    );
    assert_eq!(
        holders(&s, "group/payments-team", "member", Some(true)),
        ["olivia.smith@example.com", "ravi.patel@example.com"]
    );
}

#[tokio::test]
async fn a_timed_out_write_is_retry_later() {
    let sandbox = Sandbox::start("jira").await;
    let s = sandbox.sync(&connector(&sandbox, 3)).await;
    sandbox
        .admin("network", json!({"timeout_rate": 1.0, "timeout_ms": 3000}))
        .await;
    let add = sandbox.grant(&s, true, HIRE, ("group", "engineering"), "member");
    let failure = connector_with(&sandbox, 3, 1)
        .apply(&add)
        .await
        .expect_err("times out");
    assert!(matches!(failure, Failure::RetryLater { .. }), "{failure:?}");
}

#[tokio::test]
async fn by_hand_each_project_role_is_its_own_and_group_actors_stay() {
    let sandbox = Sandbox::start("jira").await;
    let c = connector(&sandbox, 3);
    let writes = sandbox.writes().await;
    let user = "lena.fischer@example.com";
    // Each project role is its own actor list: a second role keeps the first. Projects are found by key too;
    // group membership changes the same way, and removing a user actor leaves the role's group actors.
    for body in [
        json!({"op": "add", "user": user, "resource": "project/Platform", "entitlement": "role:Administrators"}),
        json!({"op": "add", "user": user, "resource": "project/PLAT", "entitlement": "role:Developers"}),
        json!({"op": "add", "user": "5b10ac8d82e05b22cc7d0004", "resource": "project/Payments", "entitlement": "role:Viewers"}),
        json!({"op": "add", "user": user, "resource": "group/platform-team"}),
        json!({"op": "remove", "user": user, "resource": "group/engineering"}),
        json!({"op": "remove", "user": "diego.alvarez@example.com", "resource": "project/Platform"}),
    ] {
        assert_eq!(sandbox.hand_change(&body).await.0, 204, "{body}");
    }
    let s = sandbox.sync(&c).await;
    assert_eq!(
        held(&s, user, "project/Platform"),
        ["role:Administrators", "role:Developers"]
    );
    assert_eq!(held(&s, user, "project/Payments"), ["role:Viewers"]);
    assert_eq!(held(&s, user, "group/platform-team"), ["member"]);
    assert_eq!(held(&s, user, "group/engineering"), Vec::<String>::new());
    assert_eq!(
        held(&s, "diego.alvarez@example.com", "project/Platform"),
        Vec::<String>::new()
    );
    let platform = s.resource_by_name("project", "Platform").expect("Platform");
    assert!(
        s.resource_grants
            .iter()
            .any(|g| g.holder_id == "platform-team"
                && g.resource_id == platform.id
                && g.entitlement == "role:Developers"),
        "the group actor stays"
    );
    assert_eq!(sandbox.writes().await, writes);
    let (status, error) = sandbox
        .hand_change(&json!({"op": "add", "user": user, "resource": "project/Platform"}))
        .await;
    assert_eq!(status, 400);
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("needs an entitlement") && e.contains("role:Viewers")),
        "{error}"
    );
}
