//! OAuth service apps in the emulator: tokens from signed assertions, scope enforcement per endpoint with
//! Okta's 403 challenge, and expiry after Okta's fixed hour.

use grantflow_sandbox::okta::ServiceKey;

use crate::common::*;

fn assertion(key: &ServiceKey, client_id: &str, audience: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": client_id, "sub": client_id, "aud": audience,
        "iat": now, "exp": now + 300, "jti": format!("{}", rand::random::<u64>())});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("k1".into());
    let signing = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &signing).unwrap()
}

async fn token(e: &Env, key: &ServiceKey, client_id: &str, scope: &str) -> (StatusCode, Value) {
    let audience = format!("{}/oauth2/v1/token", e.base);
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", scope),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", &assertion(key, client_id, &audience)),
    ];
    let resp = e.http.post(&audience).form(&form).send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

async fn bearer(e: &Env, token: &str, method: Method, path: &str) -> reqwest::Response {
    e.http
        .request(method, format!("{}{path}", e.base))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bearer_token_is_held_to_its_scopes_and_its_hour() {
    let (e, clock) = env_on_clock(&demo_org()).await;
    let key = ServiceKey::generate("k1").unwrap();
    e.admin(
        Method::POST,
        "/oauth/clients",
        Some(json!({"client_id": "0oa1", "jwks": {"keys": [key.jwk]},
            "scopes": ["okta.users.read", "okta.users.manage", "okta.groups.read"]})),
    )
    .await;

    let (status, refused) = token(&e, &key, "0oa1", "okta.apps.read").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["error"], "invalid_scope");
    let (status, unknown) = token(&e, &key, "0oa-other", "okta.users.read").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown["error"], "invalid_client");

    let (status, issued) = token(&e, &key, "0oa1", "okta.users.read okta.groups.read").await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["expires_in"], 3600);
    let access = issued["access_token"].as_str().unwrap().to_owned();

    assert_eq!(
        bearer(&e, &access, Method::GET, "/api/v1/users")
            .await
            .status(),
        200
    );
    assert_eq!(
        bearer(&e, &access, Method::GET, "/api/v1/groups")
            .await
            .status(),
        200
    );
    let uid = e.user_id("okta-demo-user@example.com").await;
    let denied = bearer(
        &e,
        &access,
        Method::DELETE,
        &format!("/api/v1/users/{uid}/sessions"),
    )
    .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let challenge = denied.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("scope=\"okta.users.manage\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert_eq!(code(&denied.json().await.unwrap()), "E0000006");
    let apps = bearer(&e, &access, Method::GET, "/api/v1/apps").await;
    assert_eq!(apps.status(), StatusCode::FORBIDDEN);

    clock.advance(chrono::Duration::seconds(3601));
    let expired = bearer(&e, &access, Method::GET, "/api/v1/users").await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(&expired.json().await.unwrap()), "E0000011");
}
