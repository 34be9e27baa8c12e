//! The GitHub connector against the GitHub emulator: its part of the contract, and what only GitHub does (team
//! repository permissions, `Link` pages, invitations, another organisation, the older hand-change ops).

use grantflow_connectors::github::{GithubConfig, GithubConnector};
use grantflow_connectors::{Applied, Connector, Observed};
use grantflow_model::{
    AccountOptions, AccountRef, ConnectionName, GrantSource, OpKind, Operation, RetireMode,
    Snapshot,
};
use serde_json::json;

use crate::harness::{ByHand, Case, Grant, Missing, RateLimits, Said, Sandbox, System, Text};
use crate::sandbox::held;

pub struct Github;

fn config(sandbox: &Sandbox, waits: u32, organization: Option<&str>) -> GithubConfig {
    GithubConfig {
        allow_insecure_http: false,
        base_url: sandbox.base_url(),
        token: sandbox.credential("token"),
        organization: organization.map(str::to_owned),
        timeout_seconds: 10,
        max_rate_limit_waits: waits,
    }
}

pub fn connector(sandbox: &Sandbox, waits: u32) -> GithubConnector {
    GithubConnector::new(
        ConnectionName::new("github"),
        &config(sandbox, waits, None),
        &Sandbox::context(),
    )
    .expect("connector")
}

const AISHA: &str = "aisha.khan@example.com";
const BACKEND: (&str, &str) = ("team", "Backend");

fn repo(
    sandbox: &Sandbox,
    s: &Snapshot,
    add: bool,
    team: &str,
    name: &str,
    permission: &str,
) -> Operation {
    sandbox.group_grant(s, add, ("team", team), ("repository", name), permission)
}

impl System for Github {
    const KIND: &'static str = "github";

    fn connector(sandbox: &Sandbox, waits: u32) -> Box<dyn Connector> {
        Box::new(connector(sandbox, waits))
    }

    const GRANT: Grant = Grant {
        email: AISHA,
        resource: "team/Backend",
        entitlement: "member",
    };

    fn operations(sandbox: &Sandbox, s: &Snapshot) -> Vec<Case> {
        let member = "team/backend/membership/aisha-k";
        let permission = "team/backend/repo/platform-infra";
        vec![
            Case::new(sandbox.grant(s, true, AISHA, BACKEND, "member"), member),
            // Another role is one PUT of the membership.
            Case::new(sandbox.grant(s, true, AISHA, BACKEND, "maintainer"), member),
            Case::new(
                sandbox.grant(s, false, AISHA, BACKEND, "maintainer"),
                member,
            ),
            Case::new(
                repo(sandbox, s, true, "Backend", "platform-infra", "triage"),
                permission,
            ),
            Case::new(
                repo(sandbox, s, true, "Backend", "platform-infra", "maintain"),
                permission,
            ),
            Case::new(
                repo(sandbox, s, false, "Backend", "platform-infra", "maintain"),
                permission,
            ),
            // Accounts as code (github_accounts.rs): an invitation by email, found by email when applied again.
            Case::unkeyed(sandbox.operation(OpKind::create_account(
                AccountRef::pending("new.joiner@example.com"),
                serde_json::Map::new(),
                AccountOptions::default(),
            ))),
            // A leaver: the membership removed (GitHub has no suspended state).
            Case::new(
                sandbox.operation(OpKind::retire_account(
                    crate::sandbox::account(s, "tom.baker@example.com"),
                    RetireMode::Deactivate,
                )),
                "org/membership/tbaker",
            ),
        ]
    }

    const RATE_LIMITS: RateLimits = RateLimits {
        // The secondary limit on content-creating requests, answered with 429 and `Retry-After`.
        tight: Some(
            r#"{"secondary_limit": 2, "secondary_window_seconds": 1, "secondary_status": 429}"#,
        ),
        // The primary budget, spent for two minutes.
        spent: r#"{"window_seconds": 120, "limit": 1, "status": 403, "secondary_limit": 80}"#,
        bucket: "core",
        message: Some(Text::HasAny(&["API rate limit exceeded", "spent"])),
        reset_after_seconds: 60,
    };

    const SERVER_ERROR: (u16, Said) = (502, Said::code("retry_later"));

    const PERMANENT: (Missing, Said) = (
        Missing::ResourceId("no-such-team"),
        Said::code("404").status(404).saying(Text::Is("Not Found")),
    );

    const WRONG_CREDENTIAL: (&'static str, &'static str) = ("token", "ghp_wrong");
    const UNAUTHORIZED: Said = Said::message(Text::Is("Bad credentials"));

    const BY_HAND: ByHand = ByHand {
        user: "lenaf",
        email: "lena.fischer@example.com",
        add: ("team/Platform", "maintainer"),
        remove: "team/Backend",
        suspended_status: "SUSPENDED",
    };
}

#[tokio::test]
async fn a_sync_reads_members_by_work_email_teams_roles_and_team_repository_permissions() {
    let sandbox = Sandbox::start("github").await;
    let snapshot = sandbox.sync(&connector(&sandbox, 3)).await;
    let marco = snapshot
        .account_by_login_or_email("marco.rossi@example.com")
        .expect("by work email");
    assert_eq!(marco.login, "mrossi");
    let priya = snapshot
        .account_by_login_or_email("priya.raman@example.com")
        .expect("priya");
    assert_eq!(priya.attributes["org_role"], "admin");
    let invited = snapshot
        .account_by_login_or_email("okta-demo-user@example.com")
        .expect("invitee");
    assert_eq!(invited.status, "INVITED");
    assert!(
        snapshot
            .account_by_login_or_email("emma.jones@example.com")
            .is_none(),
        "not in the org"
    );

    let backend = snapshot.resource_by_name("team", "Backend").expect("team");
    assert_eq!(backend.id, "backend");
    let held = |who: &str, resource: &str| {
        snapshot
            .grants
            .iter()
            .filter(|g| g.account_id == who && g.resource_id == resource)
            .map(|g| (g.entitlement.clone(), g.source.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        held(&marco.id, "backend"),
        [("maintainer".to_string(), GrantSource::Direct)]
    );
    assert_eq!(
        held(&marco.id, "checkout-service"),
        [(
            "push".to_string(),
            GrantSource::Group {
                group_id: "backend".into()
            }
        )]
    );
    let repo = snapshot
        .resource_by_name("repository", "platform-infra")
        .expect("repo");
    assert_eq!(repo.entitlement_aliases["write"], "push");
    let mut brought: Vec<(&str, &str)> = snapshot
        .resource_grants
        .iter()
        .filter(|g| g.holder_id == "platform")
        .map(|g| (g.resource_id.as_str(), g.entitlement.as_str()))
        .collect();
    brought.sort();
    assert_eq!(
        brought,
        [("checkout-service", "pull"), ("platform-infra", "maintain")]
    );
}

#[tokio::test]
async fn a_sync_follows_link_pages() {
    let sandbox = Sandbox::start("github").await;
    let http = reqwest::Client::new();
    let token = sandbox.credential_value("token");
    // More writes than GitHub's secondary limit allows in a minute; this test is about reading.
    sandbox
        .admin("rate-limits", json!({"secondary_limit": 1000}))
        .await;
    for n in 0..105 {
        let created = http
            .post(format!("{}/orgs/example-demo/teams", sandbox.base_url()))
            .header("authorization", format!("token {token}"))
            .json(&json!({"name": format!("Squad {n}")}))
            .send()
            .await
            .expect("team");
        assert_eq!(created.status(), 201);
    }
    let snapshot = sandbox.sync(&connector(&sandbox, 3)).await;
    assert_eq!(
        snapshot
            .resources
            .iter()
            .filter(|r| r.kind.as_str() == "team")
            .count(),
        4 + 105
    );
}

#[tokio::test]
async fn removing_a_permission_weaker_than_the_one_held_leaves_the_stronger() {
    let sandbox = Sandbox::start("github").await;
    let c = connector(&sandbox, 3);
    let s = sandbox.sync(&c).await;
    let weaker = repo(&sandbox, &s, false, "Payments", "checkout-service", "pull");
    assert_eq!(
        c.apply(&weaker).await.expect("no-op"),
        Applied::AlreadyPresent
    );
    let after = sandbox.sync(&c).await;
    assert!(
        after
            .resource_grants
            .iter()
            .any(|g| g.holder_id == "payments" && g.entitlement == "admin")
    );
    assert!(sandbox.writes().await.is_empty());
}

#[tokio::test]
async fn a_team_grant_for_an_invitee_is_pending_and_counts_as_done() {
    let sandbox = Sandbox::start("github").await;
    let c = connector(&sandbox, 3);
    let snapshot = sandbox.sync(&c).await;
    let add = sandbox.grant(
        &snapshot,
        true,
        "okta-demo-user@example.com",
        ("team", "Platform"),
        "member",
    );
    assert_eq!(c.apply(&add).await.expect("invites"), Applied::Changed);
    assert_eq!(c.observe(&add).await.expect("observe"), Observed::Done);
    let listed = sandbox.sync(&c).await;
    let demo = listed
        .account_by_login_or_email("okta-demo-user@example.com")
        .expect("demo");
    // The pending membership is synced as held, so planning again does not
    // ask for it a second time while the invitation waits for acceptance.
    assert!(
        listed
            .grants
            .iter()
            .any(|g| g.account_id == demo.id && g.resource_id == "platform"),
        "a pending team membership is synced"
    );
    sandbox
        .admin(
            "hand-change",
            json!({"op": "accept_invitation", "user": "okta-demo"}),
        )
        .await;
    let accepted = sandbox.sync(&c).await;
    let demo = accepted
        .account_by_login_or_email("okta-demo-user@example.com")
        .expect("demo");
    assert_eq!(demo.status, "ACTIVE");
    assert!(
        accepted
            .grants
            .iter()
            .any(|g| g.account_id == demo.id && g.resource_id == "platform")
    );
}

#[tokio::test]
async fn an_organisation_the_token_does_not_reach_is_not_found() {
    let sandbox = Sandbox::start("github").await;
    let elsewhere = GithubConnector::new(
        ConnectionName::new("github"),
        &config(&sandbox, 0, Some("not-our-org")),
        &Sandbox::context(),
    )
    .expect("connector");
    assert_eq!(
        elsewhere.health().await.expect_err("unknown org").code(),
        "404"
    );
}

#[tokio::test]
async fn the_older_hand_change_ops_still_work() {
    let sandbox = Sandbox::start("github").await;
    let (status, _) = sandbox
        .hand_change(&json!({"op": "add_team_member", "team": "payments", "user": "aisha-k", "role": "maintainer"}))
        .await;
    assert_eq!(status, 204);
    let s = sandbox.sync(&connector(&sandbox, 3)).await;
    assert_eq!(held(&s, AISHA, "team/Payments"), ["maintainer"]);
}
