//! The Okta full sync at the pace of Okta's buckets: it outlasts a bucket's window by waiting for its reset
//! (a large tenant's sync always does), stays within every budget and within the org's concurrency limit,
//! and reads the same snapshot as an unhurried sync.

use std::time::{Duration, Instant};

use grantflow_connectors::okta::OktaConnector;
use grantflow_connectors::{BuildContext, SecretSource, TransportLimits};
use grantflow_model::ConnectionName;
use serde_json::{Value, json};

use crate::okta_full::{Org, sync};

async fn admin(org: &Org, method: reqwest::Method, what: &str, body: Option<Value>) -> Value {
    let url = format!("{}/{what}", org.sandbox.info.systems["okta"].admin_url);
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("admin");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("admin json")
}

fn throttled(counters: &Value) -> u64 {
    counters["throttled"]
        .as_object()
        .map(|b| b.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

/// A connector whose calls may each wait only 100 ms, far less than a window.
fn impatient(org: &Org) -> OktaConnector {
    org.token_connector();
    let config = grantflow_connectors::okta::OktaConfig {
        base_url: org.base_url(),
        token: Some(SecretSource {
            env: None,
            file: Some("token".into()),
        }),
        auth: None,
        timeout_seconds: 10,
        allow_insecure_http: false,
        max_rate_limit_waits: 2,
        sync: Default::default(),
        event_hook: None,
    };
    let context = BuildContext {
        limits: TransportLimits {
            max_wait: Duration::from_millis(100),
            ..TransportLimits::default()
        },
        ..BuildContext::new(org.dir.path().to_path_buf())
    };
    OktaConnector::new(ConnectionName::new("okta"), &config, &context).expect("connector")
}

#[tokio::test]
async fn full_sync_waits_out_spent_windows_within_budget_and_concurrency() {
    let org = Org::start().await;
    let expected = sync(&org.token_connector()).await;
    let apps = expected
        .resources
        .iter()
        .filter(|r| r.kind.as_str() == "app")
        .count();
    assert!(apps >= 3, "the demo org has apps to read");
    // Each app takes three calls to the `apps` bucket, plus the app list: a third of that a window makes
    // the sync span at least three windows.
    let per_window = (3 * apps + 1).div_ceil(3) as u64;
    admin(
        &org,
        reqwest::Method::POST,
        "rate-limits",
        Some(json!({"window_seconds": 2, "buckets": {"apps": per_window}, "concurrency": 40})),
    )
    .await;
    let before = throttled(&admin(&org, reqwest::Method::GET, "counters", None).await);

    let started = Instant::now();
    let snapshot = sync(&impatient(&org)).await;
    let elapsed = started.elapsed();

    assert!(
        elapsed >= Duration::from_secs(4),
        "three windows of the apps bucket take at least two resets: {elapsed:?}"
    );
    let after = throttled(&admin(&org, reqwest::Method::GET, "counters", None).await);
    assert_eq!(
        after, before,
        "no call over a bucket's budget or the org's 40 calls in flight"
    );
    let (mut snapshot, mut expected) = (snapshot, expected);
    grantflow_connectors::okta::canonical(&mut snapshot);
    grantflow_connectors::okta::canonical(&mut expected);
    assert_eq!(snapshot.accounts, expected.accounts);
    assert_eq!(snapshot.resources, expected.resources);
    assert_eq!(snapshot.grants, expected.grants);
    assert_eq!(snapshot.resource_grants, expected.resource_grants);
}
