//! The shared `/__sandbox` admin endpoints on every emulator of the demo organisation: absurd settings are a
//! 400 naming the field, change nothing, and the emulator keeps answering its API afterwards.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

use grantflow_sandbox::{SandboxOptions, demo_org, start};
use serde_json::{Value, json};

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let response = client.post(url).json(body).send().await.expect("admin");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(client: &reqwest::Client, url: &str) -> Value {
    client
        .get(url)
        .send()
        .await
        .expect("admin")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn every_emulator_refuses_absurd_settings_by_name_and_keeps_serving() {
    let sandbox = start(&demo_org(), SandboxOptions::default())
        .await
        .expect("sandbox");
    let refused = [
        (
            "rate-limits",
            json!({"window_seconds": i64::MAX}),
            "window_seconds",
        ),
        (
            "rate-limits",
            json!({"window_seconds": u64::MAX}),
            "window_seconds",
        ),
        (
            "rate-limits",
            json!({"window_seconds": 0}),
            "window_seconds",
        ),
        (
            "rate-limits",
            json!({"window_seconds": -1}),
            "window_seconds",
        ),
        (
            "rate-limits",
            json!({"no_such_setting": 1}),
            "no_such_setting",
        ),
        ("faults", json!({"latency_ms": u64::MAX}), "latency_ms"),
        ("faults", json!({"error_rate": -0.5}), "error_rate"),
        ("faults", json!({"error_rate": 1.5}), "error_rate"),
        ("faults", json!({"error_status": 200}), "error_status"),
        (
            "network",
            json!({"outage_seconds": 1e300}),
            "outage_seconds",
        ),
        ("network", json!({"timeout_ms": u64::MAX}), "timeout_ms"),
        ("network", json!({"reset_rate": 2.0}), "reset_rate"),
    ];
    assert_eq!(sandbox.info.systems.len(), 11, "every emulator is checked");
    for (key, system) in &sandbox.info.systems {
        let client = system.http_client().expect("client");
        let limits = get(&client, &format!("{}/rate-limits", system.admin_url)).await;
        let faults = get(&client, &format!("{}/faults", system.admin_url)).await;
        for (endpoint, body, field) in &refused {
            let url = format!("{}/{endpoint}", system.admin_url);
            let (status, error) = post(&client, &url, body).await;
            assert_eq!(status, 400, "{key} {endpoint} {body}");
            assert!(
                error["error"].as_str().is_some_and(|e| e.contains(field)),
                "{key} {endpoint} {body}: {error}"
            );
        }
        assert_eq!(
            get(&client, &format!("{}/rate-limits", system.admin_url)).await,
            limits,
            "{key}: the limits are as they were"
        );
        assert_eq!(
            get(&client, &format!("{}/faults", system.admin_url)).await,
            faults,
            "{key}: the faults are as they were"
        );
        // The API still answers (without credentials, in the vendor's words), rather than panicking.
        let answer = client
            .get(format!("{}/", system.base_url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key} answers after the refused settings: {e}"));
        assert!(answer.status().as_u16() < 500, "{key}: {}", answer.status());
        // The widest settings the checks allow are taken, and the API still answers.
        let (status, _) = post(
            &client,
            &format!("{}/rate-limits", system.admin_url),
            &json!({"window_seconds": 86_400}),
        )
        .await;
        assert_eq!(status, 200, "{key}");
        let answer = client
            .get(format!("{}/", system.base_url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key} answers with a day-long window: {e}"));
        assert!(answer.status().as_u16() < 500, "{key}: {}", answer.status());
        let (status, error) = post(
            &client,
            &format!("{}/no-such-endpoint", system.admin_url),
            &json!({}),
        )
        .await;
        assert_eq!(status, 404, "{key}");
        assert!(
            error["error"]
                .as_str()
                .is_some_and(|e| e.contains("no-such-endpoint")),
            "{key}: {error}"
        );
    }
    sandbox.shutdown().await;
}
