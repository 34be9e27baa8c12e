//! The Connect routes: bearer auth, vaults, items, health; Connect's error body on every refusal.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{StoredVault, Vault, is_id, random_id, rfc3339};
use crate::emulator::json_response;

/// Item categories Connect accepts on create (the API reference's `category` enum).
const CATEGORIES: &[&str] = &[
    "LOGIN",
    "PASSWORD",
    "API_CREDENTIAL",
    "SERVER",
    "DATABASE",
    "CREDIT_CARD",
    "MEMBERSHIP",
    "PASSPORT",
    "SOFTWARE_LICENSE",
    "OUTDOOR_LICENSE",
    "SECURE_NOTE",
    "WIRELESS_ROUTER",
    "BANK_ACCOUNT",
    "DRIVER_LICENSE",
    "IDENTITY",
    "REWARD_PROGRAM",
    "DOCUMENT",
    "EMAIL_ACCOUNT",
    "SOCIAL_SECURITY_NUMBER",
    "MEDICAL_RECORD",
    "SSH_KEY",
    "CUSTOM",
];

/// Field types of the API reference's `Field.type` enum.
const FIELD_TYPES: &[&str] = &[
    "STRING",
    "EMAIL",
    "CONCEALED",
    "URL",
    "TOTP",
    "DATE",
    "MONTH_YEAR",
    "MENU",
    "PHONE",
    "ADDRESS",
    "REFERENCE",
    "SSHKEY",
    "OTP",
];

/// `Field.purpose` as the SDK's model allows it.
const PURPOSES: &[&str] = &["", "USERNAME", "PASSWORD", "NOTES"];

/// Length of a password Connect generates for a field with `generate: true` and no recipe (its default).
const GENERATED_LENGTH: usize = 32;

pub(super) fn routes(this: &Arc<Vault>) -> Router<Arc<Vault>> {
    let v1 = Router::new()
        .route("/v1/vaults", get(list_vaults))
        .route("/v1/vaults/{vault}", get(get_vault))
        .route(
            "/v1/vaults/{vault}/items",
            get(list_items).post(create_item),
        )
        .route(
            "/v1/vaults/{vault}/items/{item}",
            get(get_item).delete(delete_item),
        )
        .layer(middleware::from_fn_with_state(this.clone(), bearer_auth));
    Router::new()
        .route("/heartbeat", get(heartbeat))
        .route("/health", get(health))
        .merge(v1)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not found") })
        .layer(middleware::from_fn_with_state(
            this.clone(),
            limits_and_faults,
        ))
}

/// Connect's error body: `{"status": <code>, "message": "…"}`.
pub(super) fn error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({ "status": status.as_u16(), "message": message }),
    )
}

/// A refusal in Connect's shape, small enough to return in a `Result` (a `Response` is not).
pub(super) struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, &self.1)
    }
}

/// The shared rate-limit and fault knobs, in Connect's error shape.
async fn limits_and_faults(State(vault): State<Arc<Vault>>, req: Request, next: Next) -> Response {
    let decision = vault.core.limits().charge("api", vault.core.now());
    if !decision.allowed {
        let mut resp = error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
        crate::emulator::set_header(&mut resp, "retry-after", &decision.retry_after.to_string());
        return resp;
    }
    if let Some(status) = vault
        .core
        .injected_failure(StatusCode::INTERNAL_SERVER_ERROR)
        .await
    {
        return error(status, "Internal Server Error");
    }
    next.run(req).await
}

/// Every `/v1` route needs the Connect token as a bearer token; the health routes do not.
async fn bearer_auth(State(vault): State<Arc<Vault>>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented != Some(vault.token.as_str()) {
        // The reference's example body for a wrong or missing token.
        return error(StatusCode::UNAUTHORIZED, "Invalid token signature");
    }
    next.run(req).await
}

/// `GET /heartbeat`: Connect answers a plain-text `.`.
async fn heartbeat() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], ".").into_response()
}

async fn health() -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "name": "1Password Connect API",
            "version": "1.8.1",
            "dependencies": [
                {"service": "sqlite", "status": "ACTIVE", "message": "Connected to read-write database"}
            ]
        }),
    )
}

#[derive(Debug, Default, Deserialize)]
struct FilterQuery {
    #[serde(default)]
    filter: Option<String>,
}

/// A SCIM `eq` filter: `attribute eq "value"`, on one of `allowed` attributes.
fn parse_filter<'f>(filter: &'f str, allowed: &[&str]) -> Result<(&'f str, String), Refusal> {
    let refuse = || {
        Refusal(
            StatusCode::BAD_REQUEST,
            format!(
                "Invalid filter {filter:?}: expected {} eq \"…\"",
                allowed.join(" or ")
            ),
        )
    };
    let (attribute, rest) = filter.trim().split_once(' ').ok_or_else(refuse)?;
    let value = rest
        .trim_start()
        .strip_prefix("eq")
        .map(str::trim)
        .and_then(|v| v.strip_prefix('"'))
        .and_then(|v| v.strip_suffix('"'))
        .ok_or_else(refuse)?;
    if !allowed.contains(&attribute) {
        return Err(refuse());
    }
    Ok((attribute, value.replace("\\\"", "\"")))
}

/// The vault named by the path, or Connect's 400 (not an id), 404 (no such vault) or 403 (not granted).
fn find_vault<'s>(vaults: &'s mut [StoredVault], id: &str) -> Result<&'s mut StoredVault, Refusal> {
    if !is_id(id) {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "Invalid Vault UUID".into(),
        ));
    }
    let vault = vaults
        .iter_mut()
        .find(|v| v.id == id)
        .ok_or_else(|| Refusal(StatusCode::NOT_FOUND, "Vault not found".into()))?;
    if !vault.granted {
        return Err(Refusal(StatusCode::FORBIDDEN, "Unauthorized access".into()));
    }
    Ok(vault)
}

async fn list_vaults(
    State(vault): State<Arc<Vault>>,
    query: Result<Query<FilterQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return error(StatusCode::BAD_REQUEST, "Invalid query parameters");
    };
    let name = match q.filter.as_deref().map(|f| parse_filter(f, &["name"])) {
        None => None,
        Some(Ok((_, name))) => Some(name),
        Some(Err(refusal)) => return refusal.into_response(),
    };
    let state = vault.core.state();
    let vaults: Vec<Value> = state
        .vaults
        .iter()
        .filter(|v| v.granted && name.as_deref().is_none_or(|n| v.name == n))
        .map(StoredVault::to_json)
        .collect();
    json_response(StatusCode::OK, &Value::Array(vaults))
}

async fn get_vault(State(vault): State<Arc<Vault>>, Path(id): Path<String>) -> Response {
    let mut state = vault.core.state();
    match find_vault(&mut state.vaults, &id) {
        Ok(v) => json_response(StatusCode::OK, &v.to_json()),
        Err(refusal) => refusal.into_response(),
    }
}

/// An item without its fields and sections, as `GET …/items` lists it.
fn summary(item: &Value) -> Value {
    let mut summary = item.clone();
    if let Some(o) = summary.as_object_mut() {
        o.remove("fields");
        o.remove("sections");
    }
    summary
}

async fn list_items(
    State(vault): State<Arc<Vault>>,
    Path(id): Path<String>,
    query: Result<Query<FilterQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return error(StatusCode::BAD_REQUEST, "Invalid query parameters");
    };
    let filter = match q
        .filter
        .as_deref()
        .map(|f| parse_filter(f, &["title", "tag"]))
    {
        None => None,
        Some(Ok(filter)) => Some(filter),
        Some(Err(refusal)) => return refusal.into_response(),
    };
    let mut state = vault.core.state();
    let stored = match find_vault(&mut state.vaults, &id) {
        Ok(v) => v,
        Err(refusal) => return refusal.into_response(),
    };
    let items: Vec<Value> = stored
        .items
        .iter()
        .filter(|item| match &filter {
            None => true,
            Some(("title", title)) => item["title"].as_str() == Some(title.as_str()),
            Some((_, tag)) => item["tags"]
                .as_array()
                .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(tag.as_str()))),
        })
        .map(summary)
        .collect();
    json_response(StatusCode::OK, &Value::Array(items))
}

async fn get_item(
    State(vault): State<Arc<Vault>>,
    Path((vault_id, item_id)): Path<(String, String)>,
) -> Response {
    let mut state = vault.core.state();
    let stored = match find_vault(&mut state.vaults, &vault_id) {
        Ok(v) => v,
        Err(refusal) => return refusal.into_response(),
    };
    if !is_id(&item_id) {
        return error(StatusCode::BAD_REQUEST, "Invalid Item UUID");
    }
    match stored
        .items
        .iter()
        .find(|i| i["id"].as_str() == Some(item_id.as_str()))
    {
        Some(item) => json_response(StatusCode::OK, item),
        None => error(StatusCode::NOT_FOUND, "Item not found"),
    }
}

async fn delete_item(
    State(vault): State<Arc<Vault>>,
    Path((vault_id, item_id)): Path<(String, String)>,
) -> Response {
    let now = vault.core.now();
    let mut state = vault.core.state();
    let stored = match find_vault(&mut state.vaults, &vault_id) {
        Ok(v) => v,
        Err(refusal) => return refusal.into_response(),
    };
    if !is_id(&item_id) {
        return error(StatusCode::BAD_REQUEST, "Invalid Item UUID");
    }
    let before = stored.items.len();
    stored
        .items
        .retain(|i| i["id"].as_str() != Some(item_id.as_str()));
    if stored.items.len() == before {
        return error(StatusCode::NOT_FOUND, "Item not found");
    }
    stored.content_version += 1;
    stored.updated_at = now;
    state.writes.count("item.delete".into());
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /v1/vaults/{vault}/items`: checks the item as Connect does, gives it and its fields ids, generates
/// the values of fields that ask for one, and answers the stored item.
async fn create_item(
    State(vault): State<Arc<Vault>>,
    Path(vault_id): Path<String>,
    body: Bytes,
) -> Response {
    let now = vault.core.now();
    let mut state = vault.core.state();
    let stored = match find_vault(&mut state.vaults, &vault_id) {
        Ok(v) => v,
        Err(refusal) => return refusal.into_response(),
    };
    let item = match new_item(&body, &vault_id) {
        Ok(item) => item,
        Err(message) => return error(StatusCode::BAD_REQUEST, &format!("Invalid item: {message}")),
    };
    let mut item = item;
    let stamp = rfc3339(now);
    item.insert("createdAt".into(), stamp.clone().into());
    item.insert("updatedAt".into(), stamp.into());
    let item = Value::Object(item);
    stored.items.push(item.clone());
    stored.content_version += 1;
    stored.updated_at = now;
    state.writes.count("item.create".into());
    json_response(StatusCode::OK, &item)
}

/// The item to store from a create request's body, or what is wrong with it.
fn new_item(body: &[u8], vault_id: &str) -> Result<Map<String, Value>, String> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return Err("the body must be a JSON object".into());
    };
    if let Some(given) = body.get("vault").and_then(|v| v.get("id"))
        && given.as_str() != Some(vault_id)
    {
        return Err(format!(
            "vault.id {given} does not match the vault in the path"
        ));
    }
    let title = match body.get("title") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(t)) => t.clone(),
        Some(other) => return Err(format!("title must be a string, not {other}")),
    };
    let category = body
        .get("category")
        .and_then(Value::as_str)
        .ok_or("category is required")?;
    if !CATEGORIES.contains(&category) {
        return Err(format!("unknown category {category:?}"));
    }
    let tags = match body.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tags)) => tags
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_owned)
                    .ok_or(format!("tag {t} is not a string"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => return Err(format!("tags must be a list, not {other}")),
    };
    let fields = match body.get("fields") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(fields)) => fields
            .iter()
            .enumerate()
            .map(|(n, f)| new_field(f).map_err(|e| format!("fields[{n}]: {e}")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => return Err(format!("fields must be a list, not {other}")),
    };
    let mut item = Map::new();
    item.insert("id".into(), random_id().into());
    item.insert("title".into(), title.into());
    item.insert("vault".into(), json!({ "id": vault_id }));
    item.insert("category".into(), category.into());
    if let Some(urls) = body.get("urls").filter(|u| u.is_array()) {
        item.insert("urls".into(), urls.clone());
    }
    item.insert(
        "favorite".into(),
        body.get("favorite")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .into(),
    );
    item.insert("tags".into(), tags.into());
    item.insert("version".into(), 1.into());
    item.insert("trashed".into(), false.into());
    if let Some(sections) = body.get("sections").filter(|s| s.is_array()) {
        item.insert("sections".into(), sections.clone());
    }
    item.insert("fields".into(), fields.into());
    Ok(item)
}

fn new_field(field: &Value) -> Result<Value, String> {
    let Value::Object(given) = field else {
        return Err("a field must be an object".into());
    };
    let kind = given
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("STRING");
    if !FIELD_TYPES.contains(&kind) {
        return Err(format!("unknown field type {kind:?}"));
    }
    let purpose = given.get("purpose").and_then(Value::as_str).unwrap_or("");
    if !PURPOSES.contains(&purpose) {
        return Err(format!("unknown field purpose {purpose:?}"));
    }
    let mut out = Map::new();
    let id = given
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map_or_else(random_id, str::to_owned);
    out.insert("id".into(), id.into());
    if let Some(section) = given.get("section").filter(|s| s.is_object()) {
        out.insert("section".into(), section.clone());
    }
    out.insert("type".into(), kind.into());
    if !purpose.is_empty() {
        out.insert("purpose".into(), purpose.into());
    }
    if let Some(label) = given.get("label").and_then(Value::as_str) {
        out.insert("label".into(), label.into());
    }
    let generate = given
        .get("generate")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if generate {
        out.insert(
            "value".into(),
            crate::emulator::random_token("", GENERATED_LENGTH).into(),
        );
        // Letters and digits: log2(62) bits a character.
        out.insert(
            "entropy".into(),
            json!((GENERATED_LENGTH as f64) * 62f64.log2()),
        );
    } else if let Some(value) = given.get("value").filter(|v| !v.is_null()) {
        let value = value
            .as_str()
            .ok_or_else(|| format!("value must be a string, not {value}"))?;
        out.insert("value".into(), value.into());
    }
    Ok(Value::Object(out))
}
