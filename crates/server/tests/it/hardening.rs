//! The door's defaults as a deployment relies on them: closed to other
//! origins, `/metrics` only for Prometheus, and the audit chain's head
//! signed on a schedule without anyone running a command.

use std::time::Duration;

use grantflow_connectors::SecretSource;
use grantflow_service::checkpoints::SigningKey;
use grantflow_service::config::AuditSettings;
use secrecy::ExposeSecret;

use crate::kit::Server;

#[tokio::test(flavor = "multi_thread")]
async fn other_origins_get_no_cors_permission() {
    let server = Server::start(false).await;
    let preflight = server
        .client
        .request(reqwest::Method::OPTIONS, server.url("/api/v1/people"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .expect("answer");
    assert!(!preflight.status().is_success(), "{}", preflight.status());
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let token = server.tokens["viewer"].clone();
    let read = server
        .client
        .get(server.url("/api/v1/people"))
        .header("origin", "https://evil.example")
        .bearer_auth(token)
        .send()
        .await
        .expect("answer");
    assert!(read.status().is_success());
    assert!(read.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_take_a_viewer_token_or_their_own_listener() {
    let server = Server::start(false).await;
    let url = server.url("/metrics");
    let anonymous = server.client.get(&url).send().await.expect("answer");
    assert_eq!(anonymous.status(), 401);
    let requester = server
        .client
        .get(&url)
        .bearer_auth(&server.tokens["requester"])
        .send()
        .await
        .expect("answer");
    assert_eq!(requester.status(), 403);
    let viewer = server
        .client
        .get(&url)
        .bearer_auth(&server.tokens["viewer"])
        .send()
        .await
        .expect("answer");
    assert_eq!(viewer.status(), 200);
    assert!(
        viewer
            .text()
            .await
            .expect("text")
            .contains("grantflow_drift_checks")
    );

    let internal = Server::start_with(false, |config, _| {
        config.server.metrics_listen = Some("127.0.0.1:0".into());
    })
    .await;
    let address = internal.metrics_address.expect("a metrics listener");
    let scraped = reqwest::get(format!("http://{address}/metrics"))
        .await
        .expect("answer");
    assert_eq!(scraped.status(), 200);
    // The internal listener serves metrics only, not the API.
    let api = reqwest::get(format!("http://{address}/api/v1/people"))
        .await
        .expect("answer");
    assert_eq!(api.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_signs_checkpoints_on_its_schedule() {
    let (_, pem) = SigningKey::generate().expect("key");
    let mut log_path = None;
    let _server = Server::start_with(false, |config, dir| {
        std::fs::write(dir.join("audit.key"), pem.expose_secret()).expect("key file");
        config.audit = Some(AuditSettings {
            signing_key: Some(SecretSource {
                env: None,
                file: Some("audit.key".into()),
            }),
            checkpoints: dir.join("checkpoints.jsonl"),
            public_keys: Vec::new(),
        });
        config.server.checkpoint_interval_seconds = 1;
        log_path = Some(dir.join("checkpoints.jsonl"));
    })
    .await;
    let log_path = log_path.expect("configured");
    let mut lines = 0;
    for _ in 0..50 {
        lines = std::fs::read_to_string(&log_path)
            .map(|text| text.lines().count())
            .unwrap_or(0);
        if lines >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        lines >= 2,
        "{lines} checkpoint(s) written in 5 s at one per second"
    );
}
