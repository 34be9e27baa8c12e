//! The Connect emulator through its router: auth refusal, vaults and their filter, the item lifecycle, and
//! Connect's status codes and error body for what it refuses.

use super::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

fn seed() -> VaultSeed {
    VaultSeed {
        vaults: vec![
            SeedVault {
                name: "jonas.berg@example.com (private)".into(),
                description: String::new(),
                granted: true,
            },
            SeedVault {
                name: "priya.raman@example.com (private)".into(),
                description: String::new(),
                granted: true,
            },
            SeedVault {
                name: "Finance".into(),
                description: "not shared with this Connect server".into(),
                granted: false,
            },
        ],
    }
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = router
        .clone()
        .oneshot(request.body(body).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
    )
}

fn start() -> (Arc<Vault>, Router) {
    let vault = Vault::start(&seed(), EmulatorConfig::default());
    let router = crate::emulator::router(&vault);
    (vault, router)
}

#[tokio::test]
async fn every_v1_route_needs_the_token_and_health_does_not() {
    let (vault, router) = start();
    let jonas = vault_id("jonas.berg@example.com (private)");
    for uri in [
        "/v1/vaults".to_owned(),
        format!("/v1/vaults/{jonas}"),
        format!("/v1/vaults/{jonas}/items"),
    ] {
        for token in [None, Some("eyJwrong")] {
            let (status, body) = call(&router, "GET", &uri, token, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} {token:?}");
            assert_eq!(
                body,
                json!({"status": 401, "message": "Invalid token signature"})
            );
        }
    }
    let (status, _) = call(
        &router,
        "POST",
        &format!("/v1/vaults/{jonas}/items"),
        Some("eyJwrong"),
        Some(json!({"title": "x", "category": "LOGIN"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(vault.core.state().vaults.iter().all(|v| v.items.is_empty()));
    assert_eq!(
        call(&router, "GET", "/heartbeat", None, None).await,
        (StatusCode::OK, json!("."))
    );
    let (status, health) = call(&router, "GET", "/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["name"], "1Password Connect API");
}

#[tokio::test]
async fn vaults_list_only_granted_ones_and_filter_by_name() {
    let (vault, router) = start();
    let token = Some(vault.token.as_str());
    let (status, all) = call(&router, "GET", "/v1/vaults", token, None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = all
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "jonas.berg@example.com (private)",
            "priya.raman@example.com (private)"
        ]
    );
    let (status, one) = call(
        &router,
        "GET",
        "/v1/vaults?filter=name%20eq%20%22priya.raman%40example.com%20(private)%22",
        token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one.as_array().map(Vec::len), Some(1));
    assert_eq!(one[0]["id"], vault_id("priya.raman@example.com (private)"));
    assert_eq!(one[0]["type"], "USER_CREATED");
    let (status, body) = call(
        &router,
        "GET",
        "/v1/vaults?filter=title%20eq%20%22x%22",
        token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["status"], 400);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("name eq"))
    );
    let finance = vault_id("Finance");
    let (status, body) = call(
        &router,
        "GET",
        &format!("/v1/vaults/{finance}"),
        token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"status": 403, "message": "Unauthorized access"})
    );
    let unknown = "abcdefghijklmnopqrstuvwxyz";
    let (status, body) = call(
        &router,
        "GET",
        &format!("/v1/vaults/{unknown}"),
        token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"status": 404, "message": "Vault not found"}));
    let (status, body) = call(&router, "GET", "/v1/vaults/Not-An-Id", token, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"status": 400, "message": "Invalid Vault UUID"})
    );
}

#[tokio::test]
async fn an_item_is_created_read_listed_by_title_and_tag_and_deleted() {
    let (vault, router) = start();
    let token = Some(vault.token.as_str());
    let jonas = vault_id("jonas.berg@example.com (private)");
    let items = format!("/v1/vaults/{jonas}/items");
    let (status, created) = call(
        &router,
        "POST",
        &items,
        token,
        Some(json!({
            "title": "new.hire@example.com temporary password",
            "vault": {"id": jonas},
            "category": "LOGIN",
            "tags": ["onboarding"],
            "fields": [
                {"id": "username", "type": "STRING", "purpose": "USERNAME", "label": "username", "value": "new.hire@example.com"},
                {"id": "password", "type": "CONCEALED", "purpose": "PASSWORD", "label": "password", "value": "Tmp-7f3c-91ab"},
                {"type": "CONCEALED", "label": "recovery", "generate": true}
            ]
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().expect("an id").to_owned();
    assert!(is_id(&id), "{id}");
    assert_eq!(created["vault"], json!({"id": jonas}));
    assert_eq!(created["version"], 1);
    assert_eq!(created["fields"][1]["value"], "Tmp-7f3c-91ab");
    assert_eq!(created["fields"][1]["purpose"], "PASSWORD");
    let generated = created["fields"][2]["value"].as_str().expect("generated");
    assert_eq!(generated.len(), 32);
    assert!(is_id(
        created["fields"][2]["id"].as_str().expect("field id")
    ));

    let (status, read) = call(&router, "GET", &format!("{items}/{id}"), token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, created);

    let (status, listed) = call(
        &router,
        "GET",
        &format!("{items}?filter=title%20eq%20%22new.hire%40example.com%20temporary%20password%22"),
        token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0].get("fields").is_none(), "a summary has no fields");
    let (_, tagged) = call(
        &router,
        "GET",
        &format!("{items}?filter=tag%20eq%20%22onboarding%22"),
        token,
        None,
    )
    .await;
    assert_eq!(tagged.as_array().map(Vec::len), Some(1));
    let (_, other) = call(
        &router,
        "GET",
        &format!("{items}?filter=title%20eq%20%22other%22"),
        token,
        None,
    )
    .await;
    assert_eq!(other, json!([]));
    let (_, vault_json) = call(&router, "GET", &format!("/v1/vaults/{jonas}"), token, None).await;
    assert_eq!(vault_json["items"], 1);
    assert_eq!(vault_json["contentVersion"], 2);

    let (status, _) = call(&router, "DELETE", &format!("{items}/{id}"), token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(&router, "GET", &format!("{items}/{id}"), token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"status": 404, "message": "Item not found"}));
    let (status, _) = call(&router, "DELETE", &format!("{items}/{id}"), token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let writes = vault.core.state().writes.to_map();
    assert_eq!(writes.get("item.create"), Some(&1));
    assert_eq!(writes.get("item.delete"), Some(&1));
}

#[tokio::test]
async fn bad_items_and_unknown_vaults_are_refused_and_store_nothing() {
    let (vault, router) = start();
    let token = Some(vault.token.as_str());
    let jonas = vault_id("jonas.berg@example.com (private)");
    let priya = vault_id("priya.raman@example.com (private)");
    let items = format!("/v1/vaults/{jonas}/items");
    for (body, needle) in [
        (json!({"title": "x"}), "category is required"),
        (json!({"title": "x", "category": "BANANA"}), "BANANA"),
        (
            json!({"title": "x", "category": "LOGIN", "vault": {"id": priya}}),
            "does not match",
        ),
        (
            json!({"title": "x", "category": "LOGIN", "fields": [{"type": "SECRET"}]}),
            "fields[0]",
        ),
        (
            json!({"title": "x", "category": "LOGIN", "fields": [{"purpose": "PIN"}]}),
            "PIN",
        ),
        (
            json!({"title": "x", "category": "LOGIN", "fields": [{"value": 5}]}),
            "value",
        ),
        (json!({"title": 5, "category": "LOGIN"}), "title"),
        (json!(["not", "an", "object"]), "JSON object"),
    ] {
        let (status, error) = call(&router, "POST", &items, token, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error["status"], 400);
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle)),
            "{body}: {error}"
        );
    }
    let unknown = "abcdefghijklmnopqrstuvwxyz";
    let (status, error) = call(
        &router,
        "POST",
        &format!("/v1/vaults/{unknown}/items"),
        token,
        Some(json!({"title": "x", "category": "LOGIN"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["message"], "Vault not found");
    let (status, _) = call(
        &router,
        "GET",
        &format!("/v1/vaults/{unknown}/items"),
        token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&router, "GET", &format!("{items}/NOT-AN-ID"), token, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(vault.core.state().vaults.iter().all(|v| v.items.is_empty()));
    assert!(vault.core.state().writes.is_empty());
}

#[test]
fn duplicate_or_empty_vault_names_are_refused() {
    let mut twice = seed();
    twice.vaults.push(twice.vaults[0].clone());
    assert!(
        twice
            .validate()
            .is_err_and(|e| e.to_string().contains("two vaults"))
    );
    let empty = VaultSeed {
        vaults: vec![SeedVault {
            name: " ".into(),
            description: String::new(),
            granted: true,
        }],
    };
    assert!(empty.validate().is_err());
    assert!(seed().validate().is_ok());
}
