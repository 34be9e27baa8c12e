//! The Datadog connector against the Datadog emulator. The connection is read-only (monitors for the reach
//! graph), so the shared contract's cases that apply grants do not fit it; this module holds its own versions
//! of the ones that do (sync, the 429, 5xx and refused-key paths, a refused change) through `sync` and
//! `health`, and what only Datadog does (paging past a full page, two keys).

use std::time::Instant;

use grantflow_connectors::datadog::{DatadogConfig, DatadogConnector, PAGE_SIZE};
use grantflow_connectors::{Connector, Failure};
use grantflow_model::{AccountRef, ConnectionName, ResourceRef, Snapshot, SystemKind};
use serde_json::{Value, json};

use crate::harness::Sandbox;
use crate::sandbox::{canonical, grant_kind};

fn connector(sandbox: &Sandbox, waits: u32) -> DatadogConnector {
    let config = DatadogConfig {
        allow_insecure_http: false,
        base_url: sandbox.base_url(),
        api_key: sandbox.credential("api_key"),
        application_key: sandbox.credential("application_key"),
        timeout_seconds: 10,
        max_rate_limit_waits: waits,
    };
    DatadogConnector::new(ConnectionName::new("datadog"), &config, &Sandbox::context())
        .expect("connector")
}

async fn try_sync(c: &DatadogConnector) -> Result<Snapshot, Failure> {
    let mut s = Snapshot::new(ConnectionName::new("datadog"), SystemKind::new("datadog"));
    c.sync(&mut s).await?;
    Ok(s)
}

fn monitor(id: u64) -> Value {
    json!({
        "id": id,
        "name": format!("monitor {id}"),
        "type": "metric alert",
        "query": format!("avg(last_5m):avg:system.load.1{{host:h{id}}} > 1"),
        "tags": [format!("service:s{}", id % 7), "env:prod"],
        "overall_state": "OK",
        "priority": null
    })
}

#[tokio::test]
async fn a_sync_reads_each_monitor_as_a_read_only_resource_and_nothing_else() {
    let sandbox = Sandbox::start("datadog").await;
    let c = connector(&sandbox, 3);
    c.health().await.expect("healthy");
    let s = sandbox.sync(&c).await;
    assert!(s.accounts.is_empty() && s.grants.is_empty() && s.resource_grants.is_empty());
    let ids: Vec<&str> = s.resources.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["4012871", "4012872", "4019930", "4020001"]);
    for r in &s.resources {
        assert_eq!(r.kind.as_str(), "monitor");
        assert!(!r.writable && r.entitlements.is_empty(), "{r:?}");
    }
    let checkout = s
        .resource_by_name("monitor", "Checkout API error rate above 2%")
        .expect("by name");
    assert_eq!(checkout.id, "4012871");
    assert_eq!(
        checkout.attributes["tags"],
        json!(["service:checkout-api", "env:prod", "team:payments-platform"])
    );
    assert_eq!(checkout.attributes["overall_state"], "OK");
    assert_eq!(checkout.attributes["type"], "query alert");
    assert_eq!(checkout.attributes["priority"], 1);
    assert!(checkout.attributes.get("message").is_none());
    assert_eq!(
        canonical(&s),
        canonical(&sandbox.sync(&c).await),
        "two syncs of one state read the same"
    );
    assert_eq!(
        sandbox.writes().await,
        Default::default(),
        "a sync writes nothing"
    );
}

#[tokio::test]
async fn a_sync_pages_until_a_page_is_short_however_the_monitors_fall() {
    let sandbox = Sandbox::start("datadog").await;
    let c = connector(&sandbox, 3);
    // Exactly two full pages (the last page read is empty), then two and a bit.
    for count in [2 * PAGE_SIZE, 2 * PAGE_SIZE + 345] {
        let monitors: Vec<Value> = (1..=count).map(monitor).collect();
        sandbox
            .admin("monitors", json!({ "monitors": monitors }))
            .await;
        let s = sandbox.sync(&c).await;
        let ids: Vec<String> = s.resources.iter().map(|r| r.id.clone()).collect();
        let expected: Vec<String> = (1..=count).map(|id| id.to_string()).collect();
        assert_eq!(ids, expected, "{count} monitors, each once, in order");
        assert!(
            s.resources[0].attributes.get("priority").is_none(),
            "a null priority is left out"
        );
    }
}

#[tokio::test]
async fn every_change_is_refused_as_read_only_before_anything_is_sent() {
    let sandbox = Sandbox::start("datadog").await;
    let c = connector(&sandbox, 3);
    assert!(
        c.describe().operations.is_empty(),
        "describe() lists nothing"
    );
    let ops = [
        sandbox.create("monitor", "New monitor", json!({})),
        sandbox.operation(grant_kind(
            true,
            AccountRef::pending("new.hire@example.com"),
            ResourceRef::pending("monitor", "4012871"),
            "member",
        )),
    ];
    let writes = sandbox.writes().await;
    for op in &ops {
        for failure in [
            c.check(op).expect_err("check refuses"),
            c.apply(op).await.expect_err("apply refuses"),
            c.observe(op).await.expect_err("observe refuses"),
        ] {
            assert!(!failure.is_transient(), "{failure:?}");
            assert!(
                matches!(&failure, Failure::Permanent { .. })
                    && failure.message().contains("read-only")
                    && failure.message().starts_with("datadog:"),
                "{failure:?}"
            );
        }
    }
    assert_eq!(sandbox.writes().await, writes);
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_a_spent_budget_is_rate_limited() {
    let sandbox = Sandbox::start("datadog").await;
    sandbox
        .admin("rate-limits", json!({"window_seconds": 1, "all": 1}))
        .await;
    let patient = connector(&sandbox, 5);
    let started = Instant::now();
    for _ in 0..3 {
        try_sync(&patient).await.expect("waits out the limit");
    }
    assert!(
        started.elapsed().as_millis() >= 900,
        "three syncs must wait at least once"
    );

    sandbox.admin("reset", json!({})).await;
    sandbox
        .admin("rate-limits", json!({"window_seconds": 30, "all": 1}))
        .await;
    let impatient = connector(&sandbox, 0);
    let mut failure = None;
    for _ in 0..3 {
        if let Err(f) = try_sync(&impatient).await {
            failure = Some(f);
            break;
        }
    }
    match failure.expect("refused within three syncs") {
        Failure::RateLimited {
            bucket,
            reset,
            message,
        } => {
            assert_eq!(bucket, "monitor");
            assert!(message.starts_with("connection datadog:"), "{message}");
            let ahead = chrono::Utc::now() + chrono::Duration::seconds(20);
            assert!(reset > ahead, "{reset} is after {ahead}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_is_transient_with_datadogs_status() {
    let sandbox = Sandbox::start("datadog").await;
    let c = connector(&sandbox, 3);
    sandbox
        .admin("faults", json!({"error_rate": 1.0, "error_status": 503}))
        .await;
    let failure = try_sync(&c).await.expect_err("server error");
    assert!(failure.is_transient(), "{failure:?}");
    assert_eq!(failure.code(), "503");
    assert!(
        failure.message().contains("Internal Server Error"),
        "Datadog's words: {failure:?}"
    );
}

#[tokio::test]
async fn a_wrong_key_of_either_kind_is_unauthorized_without_the_key() {
    for (key, which) in [
        ("api_key", "the API key was refused"),
        ("application_key", "application key"),
    ] {
        let sandbox = Sandbox::start("datadog").await;
        let right = sandbox.credential_value(key);
        let wrong = "0123456789abcdef0123456789abcdef";
        sandbox.spoil(key, wrong);
        let c = connector(&sandbox, 3);
        for failure in [
            c.health().await.expect_err("refused"),
            try_sync(&c).await.expect_err("refused"),
        ] {
            match &failure {
                Failure::Unauthorized {
                    vendor_code,
                    message,
                } => {
                    assert_eq!(vendor_code.as_deref(), Some("403"), "{message}");
                    assert!(message.contains("Forbidden"), "{message}");
                    assert!(!message.contains(&right) && !message.contains(wrong));
                }
                other => panic!("{key}: expected Unauthorized, got {other:?}"),
            }
        }
        let health = c.health().await.expect_err("refused").message();
        assert!(health.contains(which), "{key}: {health}");
    }
}

#[tokio::test]
async fn nothing_can_be_changed_by_hand_in_datadog() {
    let sandbox = Sandbox::start("datadog").await;
    let (status, error) = sandbox
        .hand_change(&json!({"op": "add", "user": "lena.fischer@example.com", "resource": "monitor/4012871"}))
        .await;
    assert_eq!(status, 400);
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("no accounts or grants")),
        "{error}"
    );
}
