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
    assert_eq!(sandbox.info.systems.len(), 12, "every emulator is checked");
    assert_eq!(
        sandbox.info.services.keys().collect::<Vec<_>>(),
        ["smtp", "vault"],
        "services are published apart from connector systems"
    );
    for (key, system) in sandbox.info.systems.iter().chain(&sandbox.info.services) {
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

/// Slack's own admin endpoints (the app's settings, and a person's slash command or click): garbage is a 400
/// naming what is wrong, nothing is sent anywhere, and the emulator keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn slack_app_endpoints_refuse_garbage_by_name() {
    let sandbox = start(&demo_org(), SandboxOptions::default())
        .await
        .expect("sandbox");
    let slack = &sandbox.info.systems["slack"];
    let client = slack.http_client().expect("client");
    let url = |path: &str| format!("{}/{path}", slack.admin_url);
    let long = "x".repeat(5000);
    let refused = [
        (
            "app",
            json!({"command_url": "http://example.com/x"}),
            "loopback",
        ),
        ("app", json!({"command_url": "file:///etc/passwd"}), "http"),
        ("app", json!({"command_url": 5}), "command_url"),
        (
            "app",
            json!({"interactivity_url": format!("http://127.0.0.1/{long}")}),
            "interactivity_url",
        ),
        ("app", json!({"command": "/Grant Flow"}), "command"),
        ("app", json!({"signing_secret": "mine"}), "signing_secret"),
        (
            "slash-command",
            json!({"user": "lena.fischer@example.com"}),
            "command_url",
        ),
        (
            "click",
            json!({"user": "lena.fischer@example.com", "ts": "1.0", "action_id": "a"}),
            "interactivity_url",
        ),
        ("slash-command", json!([1, 2]), "JSON object"),
        ("click", json!("text"), "JSON object"),
    ];
    for (endpoint, body, named) in &refused {
        let (status, error) = post(&client, &url(endpoint), body).await;
        assert_eq!(status, 400, "{endpoint} {body}");
        assert!(
            error["error"].as_str().is_some_and(|e| e.contains(named)),
            "{endpoint} {body}: {error}"
        );
    }
    let app = get(&client, &url("app")).await;
    assert_eq!(
        app["command_url"],
        Value::Null,
        "refused settings change nothing"
    );
    assert_eq!(app["command"], "/grantflow");
    let (status, _) = post(
        &client,
        &url("app"),
        &json!({"command_url": "http://127.0.0.1:9/c", "interactivity_url": "http://localhost:9/i"}),
    )
    .await;
    assert_eq!(status, 200);
    for (endpoint, body, named) in [
        ("slash-command", json!({"user": 7}), "user"),
        ("slash-command", json!({"user": ""}), "user"),
        ("slash-command", json!({"user": "nobody"}), "user"),
        (
            "slash-command",
            json!({"user": "new.hire@example.com", "channel": "#nope"}),
            "channel",
        ),
        (
            "slash-command",
            json!({"user": "new.hire@example.com", "text": long}),
            "text",
        ),
        (
            "click",
            json!({"user": "new.hire@example.com", "ts": "x", "action_id": "a"}),
            "ts",
        ),
        (
            "click",
            json!({"user": "new.hire@example.com", "action_id": "a"}),
            "ts",
        ),
        ("messages", json!({}), "messages"),
    ] {
        let response = client
            .post(url(endpoint))
            .json(&body)
            .send()
            .await
            .expect("admin");
        let status = response.status().as_u16();
        let error: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            (400..500).contains(&status),
            "{endpoint} {body}: {status} {error}"
        );
        if endpoint != "messages" {
            assert!(
                error["error"].as_str().is_some_and(|e| e.contains(named)),
                "{endpoint} {body}: {error}"
            );
        }
    }
    // Not JSON at all.
    let response = client
        .post(url("slash-command"))
        .body(vec![0xff, 0x00, 0x7b])
        .send()
        .await
        .expect("admin");
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(
        get(&client, &url("messages")).await,
        json!({"messages": []})
    );
    // A response_url nobody handed out.
    let response = client
        .post(format!("{}/actions/T0SANDBOX1/nope/nope", slack.base_url))
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .expect("response_url");
    assert_eq!(response.status().as_u16(), 404);
    sandbox.shutdown().await;
}
