//! The GitHub connector against the GitHub emulator.

use crate::fixture::server_errors_are_retry_later;
use grantflow_connectors::github::{GithubConfig, GithubConnector};
use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{
    AccountRef, ConnectionName, GrantSource, OpKind, Operation, ResourceRef, Snapshot,
};
use serde_json::json;
use std::time::Instant;

use crate::fixture::Fixture;

fn connector(fixture: &Fixture, max_rate_limit_waits: u32) -> GithubConnector {
    let config = GithubConfig {
        base_url: fixture.base_url(),
        token: fixture.token(),
        organization: None,
        timeout_seconds: 10,
        allow_insecure_http: false,
        max_rate_limit_waits,
    };
    GithubConnector::new(ConnectionName::new("github"), &config, &Fixture::context())
        .expect("connector")
}

async fn sync(fixture: &Fixture, connector: &GithubConnector) -> Snapshot {
    let mut snapshot = fixture.snapshot();
    connector.sync(&mut snapshot).await.expect("sync");
    snapshot
}

fn resource_ref(snapshot: &Snapshot, kind: &str, name: &str) -> ResourceRef {
    let r = snapshot.resource_by_name(kind, name).expect("resource");
    ResourceRef {
        id: r.id.clone(),
        kind: r.kind.clone(),
        name: r.name.clone(),
    }
}

fn team_op(
    fixture: &Fixture,
    add: bool,
    snapshot: &Snapshot,
    email: &str,
    team: &str,
    role: &str,
) -> Operation {
    let a = snapshot.account_by_login_or_email(email).expect("account");
    let account = AccountRef {
        id: a.id.clone(),
        login: a.login.clone(),
    };
    let resource = resource_ref(snapshot, "team", team);
    let entitlement = role.to_string();
    fixture.operation(if add {
        OpKind::AddGrant {
            account,
            resource,
            entitlement,
        }
    } else {
        OpKind::RemoveGrant {
            account,
            resource,
            entitlement,
        }
    })
}

fn repo_op(
    fixture: &Fixture,
    add: bool,
    snapshot: &Snapshot,
    team: &str,
    repo: &str,
    permission: &str,
) -> Operation {
    let group = resource_ref(snapshot, "team", team);
    let resource = resource_ref(snapshot, "repository", repo);
    let entitlement = permission.to_string();
    fixture.operation(if add {
        OpKind::AddGroupGrant {
            group,
            resource,
            entitlement,
        }
    } else {
        OpKind::RemoveGroupGrant {
            group,
            resource,
            entitlement,
        }
    })
}

#[tokio::test]
async fn a_sync_reads_members_by_work_email_teams_roles_and_team_repository_permissions() {
    let fixture = Fixture::start("github").await;
    let snapshot = sync(&fixture, &connector(&fixture, 3)).await;
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
    let fixture = Fixture::start("github").await;
    let http = reqwest::Client::new();
    let token = std::fs::read_to_string(&fixture.token_file).expect("token");
    // More writes than GitHub's secondary limit allows in a minute; this test is about reading.
    fixture
        .admin("rate-limits", json!({"secondary_limit": 1000}))
        .await;
    for n in 0..105 {
        let created = http
            .post(format!("{}/orgs/example-demo/teams", fixture.base_url()))
            .header("authorization", format!("token {token}"))
            .json(&json!({"name": format!("Squad {n}")}))
            .send()
            .await
            .expect("team");
        assert_eq!(created.status(), 201);
    }
    let snapshot = sync(&fixture, &connector(&fixture, 3)).await;
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
async fn every_operation_applied_twice_takes_effect_once() {
    let fixture = Fixture::start("github").await;
    let connector = connector(&fixture, 3);
    let snapshot = sync(&fixture, &connector).await;
    let id = snapshot
        .account_by_login_or_email("aisha.khan@example.com")
        .expect("aisha")
        .id
        .clone();
    let cases = [
        team_op(
            &fixture,
            true,
            &snapshot,
            "aisha.khan@example.com",
            "Backend",
            "member",
        ),
        team_op(
            &fixture,
            true,
            &snapshot,
            "aisha.khan@example.com",
            "Backend",
            "maintainer",
        ),
        team_op(
            &fixture,
            false,
            &snapshot,
            "aisha.khan@example.com",
            "Backend",
            "maintainer",
        ),
        repo_op(
            &fixture,
            true,
            &snapshot,
            "Backend",
            "platform-infra",
            "triage",
        ),
        repo_op(
            &fixture,
            true,
            &snapshot,
            "Backend",
            "platform-infra",
            "maintain",
        ),
        repo_op(
            &fixture,
            false,
            &snapshot,
            "Backend",
            "platform-infra",
            "maintain",
        ),
    ];
    for op in &cases {
        assert_eq!(
            connector.observe(op).await.expect("observe"),
            Observed::NotDone,
            "{}",
            op.describe()
        );
        assert_eq!(
            connector.apply(op).await.expect("first"),
            Applied::Changed,
            "{}",
            op.describe()
        );
        assert_eq!(
            connector.apply(op).await.expect("second"),
            Applied::AlreadyPresent,
            "{}",
            op.describe()
        );
        assert_eq!(
            connector.observe(op).await.expect("observe"),
            Observed::Done,
            "{}",
            op.describe()
        );
    }
    let writes = fixture.writes().await;
    assert_eq!(
        writes["team/backend/membership/aisha-k"], 3,
        "add, re-role, remove: one write each"
    );
    assert_eq!(writes["team/backend/repo/platform-infra"], 3);
    // Removing a permission the team does not hold at that level leaves the stronger one alone.
    let weaker = repo_op(
        &fixture,
        false,
        &snapshot,
        "Payments",
        "checkout-service",
        "pull",
    );
    assert_eq!(
        connector.apply(&weaker).await.expect("no-op"),
        Applied::AlreadyPresent
    );
    let after = sync(&fixture, &connector).await;
    assert!(
        after
            .resource_grants
            .iter()
            .any(|g| g.holder_id == "payments" && g.entitlement == "admin")
    );
    assert!(
        !after
            .grants
            .iter()
            .any(|g| g.account_id == id && g.resource_id == "backend")
    );
}

#[tokio::test]
async fn a_team_grant_for_an_invitee_is_pending_and_counts_as_done() {
    let fixture = Fixture::start("github").await;
    let connector = connector(&fixture, 3);
    let snapshot = sync(&fixture, &connector).await;
    let add = team_op(
        &fixture,
        true,
        &snapshot,
        "okta-demo-user@example.com",
        "Platform",
        "member",
    );
    assert_eq!(
        connector.apply(&add).await.expect("invites"),
        Applied::Changed
    );
    assert_eq!(
        connector.observe(&add).await.expect("observe"),
        Observed::Done
    );
    let listed = sync(&fixture, &connector).await;
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
    fixture
        .admin(
            "hand-change",
            json!({"op": "accept_invitation", "user": "okta-demo"}),
        )
        .await;
    let accepted = sync(&fixture, &connector).await;
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
async fn primary_and_secondary_limits_are_waited_out_or_reported_with_their_reset() {
    let fixture = Fixture::start("github").await;
    let snapshot = sync(&fixture, &connector(&fixture, 3)).await;
    fixture
        .admin(
            "rate-limits",
            json!({"secondary_limit": 1, "secondary_window_seconds": 1, "secondary_status": 429}),
        )
        .await;
    let started = Instant::now();
    let patient = connector(&fixture, 3);
    for team in ["Backend", "Platform"] {
        let add = team_op(
            &fixture,
            true,
            &snapshot,
            "aisha.khan@example.com",
            team,
            "member",
        );
        assert_eq!(patient.apply(&add).await.expect("waits"), Applied::Changed);
    }
    assert!(
        started.elapsed().as_millis() >= 500,
        "the second write waited for Retry-After"
    );

    fixture
        .admin(
            "rate-limits",
            json!({"window_seconds": 120, "limit": 1, "status": 403, "secondary_limit": 80}),
        )
        .await;
    let impatient = connector(&fixture, 0);
    let add = team_op(
        &fixture,
        true,
        &snapshot,
        "aisha.khan@example.com",
        "Payments",
        "member",
    );
    let failure = match impatient.apply(&add).await {
        Err(failure) => failure,
        Ok(_) => impatient.apply(&add).await.expect_err("limited"),
    };
    match failure {
        Failure::RateLimited {
            bucket,
            reset,
            message,
        } => {
            assert_eq!(bucket, "core");
            assert!(
                reset > chrono::Utc::now() + chrono::Duration::seconds(60),
                "{reset}"
            );
            assert!(
                message.is_empty()
                    || message.starts_with("API rate limit exceeded")
                    || message.contains("spent"),
                "{message}"
            );
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_on_a_write_is_retry_later() {
    let fixture = Fixture::start("github").await;
    let connector = connector(&fixture, 3);
    let snapshot = sync(&fixture, &connector).await;
    let add = repo_op(&fixture, true, &snapshot, "Backend", "handbook", "push");
    server_errors_are_retry_later(&fixture, &connector, &add, 502, "retry_later").await;
}

#[tokio::test]
async fn a_missing_team_is_permanent_in_github_words_and_a_bad_token_is_unauthorized() {
    let fixture = Fixture::start("github").await;
    let connector = connector(&fixture, 3);
    let snapshot = sync(&fixture, &connector).await;
    let mut add = team_op(
        &fixture,
        true,
        &snapshot,
        "aisha.khan@example.com",
        "Backend",
        "member",
    );
    if let OpKind::AddGrant { resource, .. } = &mut add.kind {
        resource.id = "no-such-team".into();
    }
    match connector.apply(&add).await.expect_err("missing team") {
        Failure::Permanent {
            vendor_code,
            message,
            status,
        } => {
            assert_eq!(
                (vendor_code.as_str(), message.as_str(), status),
                ("404", "Not Found", Some(404))
            );
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    let config = GithubConfig {
        base_url: fixture.base_url(),
        token: fixture.token(),
        organization: Some("not-our-org".into()),
        timeout_seconds: 10,
        allow_insecure_http: false,
        max_rate_limit_waits: 0,
    };
    let elsewhere =
        GithubConnector::new(ConnectionName::new("github"), &config, &Fixture::context())
            .expect("connector");
    assert_eq!(
        elsewhere.health().await.expect_err("unknown org").code(),
        "404"
    );
    std::fs::write(&fixture.token_file, "ghp_wrong").expect("write");
    match self::connector(&fixture, 3)
        .health()
        .await
        .expect_err("bad token")
    {
        Failure::Unauthorized { message, .. } => assert_eq!(message, "Bad credentials"),
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}
