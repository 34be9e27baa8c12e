//! A token works until it expires or is revoked; then it is a 401 problem.
//! Its use is recorded, and the events written through it name it.

use std::time::Duration;

use serde_json::json;

use crate::kit::Server;

#[tokio::test(flavor = "multi_thread")]
async fn a_token_is_refused_once_expired_or_revoked() {
    let server = Server::start(false).await;
    let (status, made) = server
        .call(
            "admin",
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "short", "roles": ["viewer"], "expires_in": "10m"})),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let short = made["token"].as_str().expect("token").to_string();
    assert!(short.starts_with("gft_"), "{short}");
    let (status, me) = server
        .call_with(Some(&short), "GET", "/api/v1/me", None)
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me, json!({"actor": "token:short", "roles": ["viewer"]}));

    // Listed without the secret, with its last use.
    let (_, list) = server.call("admin", "GET", "/api/v1/tokens", None).await;
    assert!(
        !list.to_string().contains(&short),
        "the list never shows a token"
    );
    let listed = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["name"] == "short")
        .expect("listed");
    assert!(listed["last_used_at"].is_string(), "{listed}");

    server.clock.advance(Duration::from_secs(11 * 60));
    let (status, body) = server
        .call_with(Some(&short), "GET", "/api/v1/me", None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthenticated")),
        "{body}"
    );
    assert_eq!(body["detail"], "the bearer token expired");

    let viewer = server.tokens["viewer"].clone();
    let id = viewer.split('_').nth(1).expect("id");
    let (status, revoked) = server
        .call("admin", "DELETE", &format!("/api/v1/tokens/{id}"), None)
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revoked_at"].is_string());
    let (status, body) = server
        .call_with(Some(&viewer), "GET", "/api/v1/people", None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthenticated")),
        "{body}"
    );
    assert_eq!(body["detail"], "the bearer token was revoked");

    let events = server.store.audit_events().await.expect("events");
    let actions: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.action.starts_with("token."))
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert!(
        actions.contains(&("token.created", "token:admin")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("token.revoked", "token:admin")),
        "{actions:?}"
    );
    assert!(
        events.iter().any(|e| e.action == "api.refused"
            && e.actor == "anonymous"
            && e.details["reason"] == "the bearer token was revoked"),
        "the refused call is audited"
    );
    let trail = serde_json::to_string(&events).expect("json");
    assert!(!trail.contains(&short) && !trail.contains(&viewer));
}
