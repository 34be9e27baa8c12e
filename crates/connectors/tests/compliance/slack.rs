//! The Slack connector against the Slack emulator: its part of the contract, and what only Slack does (public,
//! private and archived channels, `#general`).

use grantflow_connectors::Connector;
use grantflow_connectors::slack::{SlackConfig, SlackConnector};
use grantflow_model::{ConnectionName, Snapshot};

use crate::harness::{ByHand, Case, Grant, Missing, RateLimits, Said, Sandbox, System, Text};
use crate::sandbox::{account, holders, resource};

pub struct Slack;

fn connector(sandbox: &Sandbox, waits: u32) -> SlackConnector {
    let config = SlackConfig {
        allow_insecure_http: false,
        base_url: sandbox.base_url(),
        token: sandbox.credential("token"),
        timeout_seconds: 10,
        max_rate_limit_waits: waits,
    };
    SlackConnector::new(ConnectionName::new("slack"), &config, &Sandbox::context())
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
        vec![
            Case::new(sandbox.grant(s, true, DEMO, ONCALL, "member"), &key),
            Case::new(sandbox.grant(s, false, DEMO, ONCALL, "member"), &key),
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
