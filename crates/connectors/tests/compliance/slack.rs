//! The Slack connector against the Slack emulator: its part of the contract, and what only Slack does (public,
//! private and archived channels, `#general`).

use grantflow_connectors::Connector;
use grantflow_connectors::slack::{SlackConfig, SlackConnector};
use grantflow_model::{ConnectionName, OpKind, RetireMode, Snapshot};
use serde_json::{Map, json};

use crate::harness::{ByHand, Case, Grant, Missing, RateLimits, Said, Sandbox, System, Text};
use crate::sandbox::{account, holders, resource};

pub struct Slack;

pub fn config(sandbox: &Sandbox, waits: u32) -> SlackConfig {
    SlackConfig {
        allow_insecure_http: false,
        base_url: sandbox.base_url(),
        token: sandbox.credential("token"),
        signing_secret: Some(sandbox.credential("signing_secret")),
        scim_token: Some(sandbox.credential("scim_token")),
        scim_base_url: None,
        timeout_seconds: 10,
        max_rate_limit_waits: waits,
    }
}

fn connector(sandbox: &Sandbox, waits: u32) -> SlackConnector {
    SlackConnector::new(
        ConnectionName::new("slack"),
        &config(sandbox, waits),
        &Sandbox::context(),
    )
    .expect("connector")
}

const DEMO: &str = "okta-demo-user@example.com";
const ONCALL: (&str, &str) = ("channel", "platform-oncall");

impl System for Slack {
    const KIND: &'static str = "slack";

    fn connector(sandbox: &Sandbox, waits: u32) -> Box<dyn Connector> {
        Box::new(connector(sandbox, waits))
    }

    const GRANT: Grant = Grant {
        email: DEMO,
        resource: "channel/platform-oncall",
        entitlement: "member",
    };

    fn operations(sandbox: &Sandbox, s: &Snapshot) -> Vec<Case> {
        let key = format!(
            "channel/{}/member/{}",
            resource(s, ONCALL.0, ONCALL.1).id,
            account(s, DEMO).id
        );
        let nina = account(s, "nina.petrova@example.com");
        let user = format!("user/{}", nina.id);
        vec![
            Case::new(sandbox.grant(s, true, DEMO, ONCALL, "member"), &key),
            Case::new(sandbox.grant(s, false, DEMO, ONCALL, "member"), &key),
            Case::unkeyed(crate::slack_accounts::creation(
                sandbox,
                "nia.park@example.com",
            )),
            Case::new(
                sandbox.operation(OpKind::update_profile(
                    nina.clone(),
                    Map::new(),
                    json!({"title": "Staff Engineer"})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                )),
                &user,
            ),
            Case::new(
                sandbox.operation(OpKind::retire_account(nina, RetireMode::Deactivate)),
                &user,
            ),
        ]
    }

    const RATE_LIMITS: RateLimits = RateLimits {
        // Slack counts each method on its own: the second invite waits.
        tight: Some(r#"{"window_seconds": 1, "all": 1}"#),
        spent: r#"{"window_seconds": 30, "buckets": {"tier3": 1}}"#,
        bucket: "tier3:conversations.invite",
        message: Some(Text::Is("ratelimited")),
        reset_after_seconds: 20,
    };

    const SERVER_ERROR: (u16, Said) = (503, Said::code("service_unavailable"));

    const PERMANENT: (Missing, Said) = (
        Missing::ResourceId("C0DOESNOTEXIST"),
        Said::code("channel_not_found").saying(Text::Has("conversations.invite")),
    );

    const WRONG_CREDENTIAL: (&'static str, &'static str) = ("token", "xoxb-not-the-right-token");
    const UNAUTHORIZED: Said = Said::code("invalid_auth");

    const BY_HAND: ByHand = ByHand {
        user: "lena.fischer@example.com",
        email: "lena.fischer@example.com",
        add: ("channel/platform", "member"),
        remove: "channel/eng",
        suspended_status: "DELETED",
    };
}

fn members_of(s: &Snapshot, channel: &str) -> Vec<String> {
    holders(s, &format!("channel/{channel}"), "member", Some(true))
}

#[tokio::test]
async fn a_sync_reads_members_by_email_and_public_and_private_channels() {
    let sandbox = Sandbox::start("slack").await;
    let s = sandbox.sync(&connector(&sandbox, 3)).await;
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
async fn nobody_is_removed_from_general() {
    let sandbox = Sandbox::start("slack").await;
    let c = connector(&sandbox, 3);
    let s = sandbox.sync(&c).await;
    let kick = sandbox.grant(
        &s,
        false,
        "priya.raman@example.com",
        ("channel", "general"),
        "member",
    );
    assert_eq!(
        c.apply(&kick).await.expect_err("general").code(),
        "cant_kick_from_general"
    );
}

/// The emulator's record of the messages in `channel`.
async fn messages_in(sandbox: &Sandbox, channel: &str) -> Vec<serde_json::Value> {
    let body = sandbox.admin_get("messages", &[("channel", channel)]).await;
    body["messages"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_posts_and_updates_messages_one_a_second_per_channel() {
    use serde_json::json;
    use std::time::{Duration, Instant};

    let sandbox = Sandbox::start("slack").await;
    let c = connector(&sandbox, 3);
    let s = sandbox.sync(&c).await;
    let lena = account(&s, "lena.fischer@example.com").id;
    let eng = resource(&s, "channel", "eng").id;

    let blocks = [
        json!({"type": "section", "text": {"type": "mrkdwn", "text": "Add Lena to #eng?"}}),
        json!({"type": "actions", "block_id": "decide", "elements": [
            {"type": "button", "action_id": "approve", "value": "plan-1", "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}}]}),
    ];
    let dm = c
        .post_message(&lena, "Add Lena to #eng?", &blocks)
        .await
        .expect("a DM by user id");
    assert!(dm.channel.starts_with('D'), "{dm:?}");
    let posted = messages_in(&sandbox, &dm.channel).await;
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0]["ts"], json!(dm.ts));
    assert_eq!(posted[0]["blocks"][1]["elements"][0]["value"], "plan-1");

    c.update_message(&dm.channel, &dm.ts, "Approved by Priya", &[])
        .await
        .expect("update");
    let updated = messages_in(&sandbox, &dm.channel).await;
    assert_eq!(updated[0]["text"], "Approved by Priya");
    assert!(updated[0].get("blocks").is_none(), "{}", updated[0]);
    assert!(updated[0]["edited"].is_object());

    // Slack documents about one message a second per channel: the second post waits for its turn.
    let started = Instant::now();
    let first = c.post_message(&eng, "one", &[]).await.expect("first");
    let second = c.post_message(&eng, "two", &[]).await.expect("second");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert!(second.ts > first.ts);
    assert_eq!(first.channel, eng);

    for (result, code, method) in [
        (
            c.post_message("C0DOESNOTEXIST", "x", &[]).await.map(|_| ()),
            "channel_not_found",
            "chat.postMessage",
        ),
        (
            c.post_message(&resource(&s, "channel", "platform-oncall").id, "x", &[])
                .await
                .map(|_| ()),
            "not_in_channel",
            "chat.postMessage",
        ),
        (
            c.post_message(&lena, "x", &[json!({"type": "no-such-block"})])
                .await
                .map(|_| ()),
            "invalid_blocks",
            "chat.postMessage",
        ),
        (
            c.update_message(&dm.channel, "1.000000", "x", &[]).await,
            "message_not_found",
            "chat.update",
        ),
        (
            c.update_message(&lena, &dm.ts, "x", &[]).await,
            "channel_not_found",
            "chat.update",
        ),
    ] {
        let failure = result.expect_err(code);
        assert_eq!(failure.code(), code, "{failure}");
        assert!(failure.to_string().contains(method), "{failure}");
    }
}
