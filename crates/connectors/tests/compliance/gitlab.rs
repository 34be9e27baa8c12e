//! The GitLab connector against the GitLab emulator.

use crate::fixture::server_errors_are_retry_later;
use grantflow_connectors::gitlab::{GitlabConfig, GitlabConnector};
use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{AccountRef, ConnectionName, GrantSource, OpKind, Snapshot, SystemKind};
use serde_json::json;
use std::time::Instant;

use crate::emulated::{Emulated, account_ref, each_twice_takes_effect_once, grant_op};

fn connector(e: &Emulated, max_rate_limit_waits: u32) -> GitlabConnector {
    let config = GitlabConfig {
        base_url: e.base_url(),
        token: e.token(),
        timeout_seconds: 10,
        allow_insecure_http: false,
        max_rate_limit_waits,
        pending_recheck_seconds: 3,
        accounts_created_on_first_login: true,
    };
    GitlabConnector::new(ConnectionName::new("gitlab"), &config, &Emulated::context())
        .expect("connector")
}

async fn sync(c: &GitlabConnector) -> Snapshot {
    let mut snapshot = Snapshot::new(ConnectionName::new("gitlab"), SystemKind::new("gitlab"));
    c.sync(&mut snapshot).await.expect("sync");
    snapshot
}

fn level_op(
    s: &Snapshot,
    add: bool,
    email: &str,
    group: &str,
    level: u8,
) -> grantflow_model::Operation {
    let entitlement = format!("access_level:{level}");
    grant_op(
        "gitlab",
        add,
        account_ref(s, email),
        s,
        "group",
        group,
        &entitlement,
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

#[tokio::test]
async fn a_sync_reads_users_by_email_nested_groups_and_inherited_levels() {
    let e = Emulated::start("gitlab").await;
    let s = sync(&connector(&e, 3)).await;
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
        held(&s, "okta-demo-user@example.com", "acme/platform"),
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
async fn every_operation_applied_twice_takes_effect_once() {
    let e = Emulated::start("gitlab").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let payments = s
        .resource_by_name("group", "acme/payments")
        .expect("group")
        .id
        .clone();
    let tom = account_ref(&s, "tom.baker@example.com").id;
    let key = format!("group/{payments}/member/{tom}");

    let add = level_op(&s, true, "tom.baker@example.com", "acme/payments", 30);
    let remove = level_op(&s, false, "tom.baker@example.com", "acme/payments", 30);
    each_twice_takes_effect_once(&e, &c, &add, &remove, &key).await;

    // A different level on an existing member is a change of level, once.
    let raise = level_op(&s, true, "okta-demo-user@example.com", "acme/platform", 30);
    assert_eq!(c.apply(&raise).await.expect("raise"), Applied::Changed);
    assert_eq!(
        c.apply(&raise).await.expect("again"),
        Applied::AlreadyPresent
    );
    let after = sync(&c).await;
    assert_eq!(
        held(&after, "okta-demo-user@example.com", "acme/platform"),
        [("access_level:30".to_string(), GrantSource::Direct)]
    );
    // Removing a level the member does not hold leaves the membership alone.
    let stale = level_op(&s, false, "okta-demo-user@example.com", "acme/platform", 20);
    assert_eq!(
        c.apply(&stale).await.expect("remove"),
        Applied::AlreadyPresent
    );
    assert_eq!(
        held(
            &sync(&c).await,
            "okta-demo-user@example.com",
            "acme/platform"
        )
        .len(),
        1
    );
}

#[tokio::test]
async fn adding_below_an_inherited_level_is_already_satisfied() {
    let e = Emulated::start("gitlab").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    // Sam is a maintainer of acme/platform, so of acme/platform/infra too; GitLab refuses a direct developer.
    let add = level_op(
        &s,
        true,
        "sam.okafor@example.com",
        "acme/platform/infra",
        30,
    );
    assert_eq!(c.observe(&add).await.expect("observe"), Observed::Done);
    assert_eq!(c.apply(&add).await.expect("apply"), Applied::AlreadyPresent);
    assert!(e.writes().await.is_empty(), "nothing was written");
}

#[tokio::test]
async fn a_person_pending_first_sso_login_waits_then_gets_the_grant() {
    let e = Emulated::start("gitlab").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let pending = AccountRef {
        id: "pending:new.hire@example.com".into(),
        login: "new.hire@example.com".into(),
    };
    let add = grant_op(
        "gitlab",
        true,
        pending.clone(),
        &s,
        "group",
        "acme/engineering",
        "access_level:30",
    );
    let started = chrono::Utc::now();
    match c.apply(&add).await.expect_err("waits") {
        Failure::Waiting { reason, recheck_at } => {
            assert_eq!(
                reason,
                "new.hire@example.com has no GitLab account yet (pending first SSO login)"
            );
            assert!(recheck_at > started && recheck_at < started + chrono::Duration::seconds(10));
        }
        other => panic!("expected Waiting, got {other:?}"),
    }
    assert_eq!(c.observe(&add).await.expect("observe"), Observed::NotDone);
    let remove = grant_op(
        "gitlab",
        false,
        pending,
        &s,
        "group",
        "acme/engineering",
        "access_level:30",
    );
    assert_eq!(
        c.apply(&remove).await.expect("nothing to remove"),
        Applied::AlreadyPresent
    );

    e.admin("first-login", json!({"email": "new.hire@example.com"}))
        .await;
    assert_eq!(c.apply(&add).await.expect("now applies"), Applied::Changed);
    assert_eq!(c.observe(&add).await.expect("observe"), Observed::Done);
    let after = sync(&c).await;
    assert_eq!(
        held(&after, "new.hire@example.com", "acme/engineering"),
        [("access_level:30".to_string(), GrantSource::Direct)]
    );
}

#[tokio::test]
async fn a_rate_limited_call_waits_for_retry_after_and_succeeds() {
    let e = Emulated::start("gitlab").await;
    let c = connector(&e, 5);
    let s = sync(&c).await;
    e.admin("rate-limits", json!({"window_seconds": 1, "all": 2}))
        .await;
    let started = Instant::now();
    for email in [
        "tom.baker@example.com",
        "aisha.khan@example.com",
        "lena.fischer@example.com",
    ] {
        let add = level_op(&s, true, email, "acme/payments", 20);
        assert_eq!(
            c.apply(&add).await.expect("waits out the limit"),
            Applied::Changed
        );
    }
    assert!(
        started.elapsed().as_millis() >= 900,
        "3 writes at 2 per second must wait"
    );
}

#[tokio::test]
async fn an_exhausted_rate_limit_is_reported_with_its_reset() {
    let e = Emulated::start("gitlab").await;
    let c = connector(&e, 0);
    let s = sync(&c).await;
    e.admin("rate-limits", json!({"window_seconds": 30, "all": 1}))
        .await;
    let add = level_op(&s, true, "tom.baker@example.com", "acme/payments", 30);
    let _ = c.apply(&add).await;
    match c.apply(&add).await.expect_err("limited") {
        Failure::RateLimited {
            bucket,
            reset,
            message,
        } => {
            assert_eq!(bucket, "api");
            assert!(
                reset > chrono::Utc::now() + chrono::Duration::seconds(20),
                "{reset}"
            );
            // Known from the last response's `RateLimit-Remaining: 0`, the
            // limit is reported without spending a call on a 429.
            assert!(
                message.contains("requested too many times") || message.contains("budget is spent"),
                "{message}"
            );
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_on_a_write_is_retry_later() {
    let e = Emulated::start("gitlab").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let add = level_op(&s, true, "tom.baker@example.com", "acme/payments", 30);
    server_errors_are_retry_later(&e, &c, &add, 503, "503").await;
}

#[tokio::test]
async fn a_missing_group_is_permanent_in_gitlab_words_and_a_bad_token_is_unauthorized() {
    let e = Emulated::start("gitlab").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let mut add = level_op(&s, true, "tom.baker@example.com", "acme/payments", 30);
    if let OpKind::AddGrant { resource, .. } = &mut add.kind {
        resource.id = "999999".into();
    }
    match c.apply(&add).await.expect_err("missing group") {
        Failure::Permanent {
            vendor_code,
            message,
            status,
        } => {
            assert_eq!(vendor_code, "404");
            assert_eq!(status, Some(404));
            assert_eq!(message, "404 Group Not Found");
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    std::fs::write(&e.token_file, "glpat-not-the-right-token").expect("write");
    match connector(&e, 3).health().await.expect_err("bad token") {
        Failure::Unauthorized { message, .. } => assert_eq!(message, "401 Unauthorized"),
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}
