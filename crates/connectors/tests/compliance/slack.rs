//! The Slack connector against the Slack emulator.

use crate::fixture::server_errors_are_retry_later;
use grantflow_connectors::slack::{SlackConfig, SlackConnector};
use grantflow_connectors::{Applied, Connector, Failure};
use grantflow_model::{ConnectionName, GrantSource, OpKind, Operation, Snapshot, SystemKind};
use serde_json::json;
use std::time::Instant;

use crate::emulated::{Emulated, account_ref, each_twice_takes_effect_once, grant_op};

fn connector(e: &Emulated, max_rate_limit_waits: u32) -> SlackConnector {
    let config = SlackConfig {
        base_url: e.base_url(),
        token: e.token(),
        timeout_seconds: 10,
        allow_insecure_http: false,
        max_rate_limit_waits,
    };
    SlackConnector::new(ConnectionName::new("slack"), &config, &Emulated::context())
        .expect("connector")
}

async fn sync(c: &SlackConnector) -> Snapshot {
    let mut snapshot = Snapshot::new(ConnectionName::new("slack"), SystemKind::new("slack"));
    c.sync(&mut snapshot).await.expect("sync");
    snapshot
}

fn member_op(s: &Snapshot, add: bool, email: &str, channel: &str) -> Operation {
    grant_op(
        "slack",
        add,
        account_ref(s, email),
        s,
        "channel",
        channel,
        "member",
    )
}

fn members_of(s: &Snapshot, channel: &str) -> Vec<String> {
    let channel = s.resource_by_name("channel", channel).expect("channel");
    let mut out: Vec<String> = s
        .grants
        .iter()
        .filter(|g| g.resource_id == channel.id)
        .inspect(|g| assert_eq!(g.source, GrantSource::Direct))
        .filter_map(|g| s.account(&g.account_id))
        .filter_map(|a| a.email.clone())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_sync_reads_members_by_email_and_public_and_private_channels() {
    let e = Emulated::start("slack").await;
    let s = sync(&connector(&e, 3)).await;
    let former = s
        .account_by_login_or_email("former.engineer@example.com")
        .expect("deactivated members are read too");
    assert_eq!(former.status, "DELETED");
    assert_eq!(
        members_of(&s, "platform-oncall"),
        ["nina.petrova@example.com", "sam.okafor@example.com"],
        "private channels are read"
    );
    let eng = s
        .resource_by_name("channel", "eng")
        .expect("public channel");
    assert!(eng.writable);
    assert_eq!(eng.entitlement_aliases["member"], "member");
    assert!(
        !s.resource_by_name("channel", "general")
            .expect("general")
            .writable
    );
    assert!(
        !s.resource_by_name("channel", "old-launch")
            .expect("archived")
            .writable
    );
    assert!(members_of(&s, "general").len() > 10);
}

#[tokio::test]
async fn every_operation_applied_twice_takes_effect_once() {
    let e = Emulated::start("slack").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let channel = s
        .resource_by_name("channel", "platform-oncall")
        .expect("channel")
        .id
        .clone();
    let demo = account_ref(&s, "okta-demo-user@example.com").id;
    let key = format!("channel/{channel}/member/{demo}");

    let add = member_op(&s, true, "okta-demo-user@example.com", "platform-oncall");
    let remove = member_op(&s, false, "okta-demo-user@example.com", "platform-oncall");
    each_twice_takes_effect_once(&e, &c, &add, &remove, &key).await;
    assert_eq!(
        members_of(&sync(&c).await, "platform-oncall"),
        ["nina.petrova@example.com", "sam.okafor@example.com"]
    );
}

#[tokio::test]
async fn a_rate_limited_call_waits_for_retry_after_and_succeeds() {
    let e = Emulated::start("slack").await;
    let c = connector(&e, 5);
    let s = sync(&c).await;
    e.admin("rate-limits", json!({"window_seconds": 1, "all": 2}))
        .await;
    let started = Instant::now();
    for email in [
        "okta-demo-user@example.com",
        "diego.alvarez@example.com",
        "kim.tanaka@example.com",
    ] {
        let add = member_op(&s, true, email, "platform-oncall");
        assert_eq!(
            c.apply(&add).await.expect("waits out the limit"),
            Applied::Changed
        );
    }
    assert!(
        started.elapsed().as_millis() >= 900,
        "3 invites at 2 per second must wait"
    );
}

#[tokio::test]
async fn an_exhausted_rate_limit_is_reported_with_its_tier_and_reset() {
    let e = Emulated::start("slack").await;
    let c = connector(&e, 0);
    let s = sync(&c).await;
    e.admin(
        "rate-limits",
        json!({"window_seconds": 30, "buckets": {"tier3": 1}}),
    )
    .await;
    let add = member_op(&s, true, "okta-demo-user@example.com", "platform-oncall");
    let _ = c.apply(&add).await;
    match c.apply(&add).await.expect_err("limited") {
        Failure::RateLimited {
            bucket,
            reset,
            message,
        } => {
            assert_eq!(bucket, "tier3:conversations.invite");
            assert!(
                reset > chrono::Utc::now() + chrono::Duration::seconds(20),
                "{reset}"
            );
            assert_eq!(message, "ratelimited");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_on_a_write_is_retry_later() {
    let e = Emulated::start("slack").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let add = member_op(&s, true, "okta-demo-user@example.com", "platform-oncall");
    server_errors_are_retry_later(&e, &c, &add, 503, "service_unavailable").await;
}

#[tokio::test]
async fn a_missing_channel_is_permanent_in_slack_words_and_a_bad_token_is_unauthorized() {
    let e = Emulated::start("slack").await;
    let c = connector(&e, 3);
    let s = sync(&c).await;
    let mut add = member_op(&s, true, "okta-demo-user@example.com", "eng");
    if let OpKind::AddGrant { resource, .. } = &mut add.kind {
        resource.id = "C0DOESNOTEXIST".into();
    }
    match c.apply(&add).await.expect_err("missing channel") {
        Failure::Permanent {
            vendor_code,
            message,
            ..
        } => {
            assert_eq!(vendor_code, "channel_not_found");
            assert!(message.contains("conversations.invite"), "{message}");
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    let kick_general = member_op(&s, false, "priya.raman@example.com", "general");
    assert_eq!(
        c.apply(&kick_general).await.expect_err("general").code(),
        "cant_kick_from_general"
    );
    std::fs::write(&e.token_file, "xoxb-not-the-right-token").expect("write");
    match connector(&e, 3).health().await.expect_err("bad token") {
        Failure::Unauthorized { vendor_code, .. } => {
            assert_eq!(vendor_code.as_deref(), Some("invalid_auth"))
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}
