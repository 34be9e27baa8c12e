//! `grantflow serve` and its worker across token expiries: Google (a service account with domain-wide
//! delegation) and Salesforce (the JWT bearer flow) as `init --sandbox` configures them, against emulators whose
//! tokens live eight seconds. A sync after the lifetime renews first (no expired token is ever sent); a token
//! the vendor ends early is renewed on its 401 in the middle of a plan the worker runs, and the plan completes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::kit::Server;

const LIFETIME_SECONDS: u64 = 8;

/// `GET /__sandbox/tokens` of `system`.
async fn tokens(server: &Server, system: &str) -> Value {
    let info = &server.sandbox.info.systems[system];
    info.http_client()
        .expect("client")
        .get(format!("{}/tokens", info.admin_url))
        .send()
        .await
        .expect("admin")
        .json()
        .await
        .expect("json")
}

async fn expire_now(server: &Server, system: &str) {
    let info = &server.sandbox.info.systems[system];
    let status = info
        .http_client()
        .expect("client")
        .post(format!("{}/tokens", info.admin_url))
        .json(&json!({"expire_now": true}))
        .send()
        .await
        .expect("admin")
        .status();
    assert!(status.is_success(), "{status}");
}

async fn sync(server: &Server, system: &str) {
    let (status, body) = server
        .call(
            "admin",
            "POST",
            &format!("/api/v1/connections/{system}/sync"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_and_its_worker_carry_on_across_google_and_salesforce_token_expiries() {
    let server = Server::start_in(
        grantflow_sandbox::SandboxOptions {
            token_lifetime_seconds: LIFETIME_SECONDS,
            ..grantflow_sandbox::SandboxOptions::default()
        },
        true,
        &["okta", "google", "salesforce"],
        |_, _| {},
    )
    .await;
    // Starting synced each connection once: one token each.
    for system in ["google", "salesforce"] {
        assert_eq!(tokens(&server, system).await["issued"], 1, "{system}");
    }

    // Past the lifetime: each connection renews before calling, so no expired token reaches the vendor.
    tokio::time::sleep(Duration::from_millis(LIFETIME_SECONDS * 1000 + 200)).await;
    for system in ["google", "salesforce"] {
        sync(&server, system).await;
        let counted = tokens(&server, system).await;
        assert_eq!(counted["issued"], 2, "{system}: {counted}");
        assert_eq!(counted["expired_presented"], 0, "{system}: {counted}");
    }

    // Each vendor ends its token early; the worker's call gets a 401, renews once, and the plan completes.
    for (system, request) in [
        (
            "google",
            "add lena to the google group platform@example.com",
        ),
        (
            "salesforce",
            "add marco to the salesforce permission set Sales_Console",
        ),
    ] {
        run_plan(&server, system, request).await;
        let counted = tokens(&server, system).await;
        assert_eq!(counted["expired_presented"], 1, "{system}: {counted}");
        assert_eq!(counted["issued"], 3, "{system}: {counted}");
        assert_eq!(counted["refused"], 0, "{system}: {counted}");
    }
}

/// Asks for `request` and approves it; then `system` ends its tokens, and the plan is applied through the
/// server's worker, which must succeed.
async fn run_plan(server: &Server, system: &str, request: &str) {
    let (status, plan) = server
        .call(
            "requester",
            "POST",
            "/api/v1/plans",
            Some(json!({ "request": request })),
        )
        .await;
    assert_eq!(status, 201, "{plan}");
    let id = plan["id"].as_str().expect("plan id").to_string();
    let (status, body) = server
        .call(
            "approver",
            "POST",
            &format!("/api/v1/plans/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    expire_now(server, system).await;
    let (status, body) = server
        .call("admin", "POST", &format!("/api/v1/plans/{id}/apply"), None)
        .await;
    assert_eq!(status, 202, "{body}");
    let mut progress = Value::Null;
    for _ in 0..100 {
        progress = server
            .call(
                "viewer",
                "GET",
                &format!("/api/v1/plans/{id}/progress"),
                None,
            )
            .await
            .1;
        if progress["done"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(progress["done"], true, "{request}: {progress}");
    assert_eq!(
        progress["jobs"][0]["state"], "succeeded",
        "{request}: {progress}"
    );
}
