//! The BambooHR API handlers and the sandbox's own employee and webhook endpoints.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::Bamboohr;
use super::state::{KNOWN_FIELDS, bamboo_time, sign};
use crate::emulator::{AdminError, Ctx, set_header};

/// BambooHR explains an error in the `X-BambooHR-Error-Message` header; the body is empty.
pub(super) fn error(status: StatusCode, message: &str) -> Response {
    let mut resp = (status, "").into_response();
    set_header(&mut resp, "x-bamboohr-error-message", message);
    resp
}

/// What the directory lists of each employee.
const DIRECTORY_FIELDS: &[(&str, &str, &str)] = &[
    ("displayName", "text", "Display name"),
    ("firstName", "text", "First name"),
    ("lastName", "text", "Last name"),
    ("preferredName", "text", "Preferred name"),
    ("jobTitle", "list", "Job title"),
    ("workPhone", "text", "Work Phone"),
    ("workEmail", "email", "Work Email"),
    ("department", "list", "Department"),
    ("location", "list", "Location"),
    ("division", "list", "Division"),
    ("supervisor", "employee", "Supervisor"),
];

fn is_active(employee: &Map<String, Value>) -> bool {
    employee
        .get("status")
        .and_then(Value::as_str)
        .is_none_or(|s| s.eq_ignore_ascii_case("active"))
}

/// `GET /api/v1/employees/directory`: only current employees unless `onlyCurrent=false`.
pub(super) async fn directory(State(b): State<Arc<Bamboohr>>, ctx: Ctx) -> Response {
    let only_current = ctx.param("onlyCurrent") != Some("false");
    let state = b.core.state();
    let employees: Vec<Value> = state
        .employees
        .values()
        .filter(|e| !only_current || is_active(e))
        .map(|e| {
            let mut out = Map::new();
            out.insert("id".into(), e.get("id").cloned().unwrap_or(Value::Null));
            for (name, _, _) in DIRECTORY_FIELDS {
                out.insert((*name).to_string(), state.field(e, name));
            }
            Value::Object(out)
        })
        .collect();
    if employees.is_empty() {
        return error(StatusCode::NOT_FOUND, "No employees found");
    }
    let fields: Vec<Value> = DIRECTORY_FIELDS
        .iter()
        .map(|(id, kind, name)| json!({"id": id, "type": kind, "name": name}))
        .collect();
    Json(json!({"fields": fields, "employees": employees})).into_response()
}

/// `GET /api/v1/employees/{id}?fields=a,b`: the fields asked for (`firstName,lastName` by default), by
/// their classic names or OpenAPI aliases; id 0 is the API key's own employee.
pub(super) async fn employee(
    State(b): State<Arc<Bamboohr>>,
    Path(params): Path<HashMap<String, String>>,
    ctx: Ctx,
) -> Response {
    let raw = params.get("id").map(String::as_str).unwrap_or_default();
    let Ok(id) = raw.parse::<u64>() else {
        return error(StatusCode::BAD_REQUEST, "Invalid employee id");
    };
    let fields: Vec<&str> = ctx
        .param("fields")
        .unwrap_or("firstName,lastName")
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    if fields.len() > 400 {
        return error(
            StatusCode::BAD_REQUEST,
            "Too many fields requested (at most 400)",
        );
    }
    let state = b.core.state();
    let found = if id == 0 {
        state.employees.values().next()
    } else {
        state.employees.get(&id)
    };
    let Some(employee) = found else {
        return error(StatusCode::NOT_FOUND, "Employee not found");
    };
    let mut out = Map::new();
    out.insert(
        "id".into(),
        employee.get("id").cloned().unwrap_or(Value::Null),
    );
    for name in fields {
        if KNOWN_FIELDS.contains(&name) {
            out.insert(name.to_string(), state.field(employee, name));
        }
    }
    Json(Value::Object(out)).into_response()
}

fn parse_since(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .or_else(|_| DateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `GET /api/v1/employees/changed?since=…&type=…`.
pub(super) async fn changed(State(b): State<Arc<Bamboohr>>, ctx: Ctx) -> Response {
    let Some(since) = ctx.param("since").and_then(parse_since) else {
        return error(
            StatusCode::BAD_REQUEST,
            "since is required and must be an ISO 8601 time",
        );
    };
    let kind = ctx.param("type").unwrap_or("all").to_ascii_lowercase();
    if !["all", "inserted", "updated", "deleted"].contains(&kind.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            "type must be inserted, updated, deleted or all",
        );
    }
    let employees = b.core.state().changes_since(since, &kind);
    Json(json!({"latest": bamboo_time(ctx.now), "employees": employees})).into_response()
}

/// What creating or changing a webhook sends.
struct WebhookBody {
    name: String,
    url: String,
    monitor_fields: Vec<String>,
    post_fields: Map<String, Value>,
    format: String,
}

/// BambooHR posts only to HTTPS; the sandbox also to plain HTTP on loopback (a local `grantflow serve`).
fn deliverable(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        u.scheme() == "https"
            || (u.scheme() == "http"
                && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")))
    })
}

fn webhook_body(body: &Bytes) -> Result<WebhookBody, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    let name = text("name")
        .filter(|n| !n.trim().is_empty())
        .ok_or("name is required")?;
    let url = text("url").ok_or("url is required")?;
    if !deliverable(&url) {
        return Err("url must be an https URL".into());
    }
    let monitor_fields = value
        .get("monitorFields")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let post_fields = value
        .get("postFields")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let format = text("format").unwrap_or_else(|| "json".into());
    if format != "json" && format != "form-encoded" {
        return Err("format must be json or form-encoded".into());
    }
    Ok(WebhookBody {
        name,
        url,
        monitor_fields,
        post_fields,
        format,
    })
}

pub(super) async fn list_webhooks(State(b): State<Arc<Bamboohr>>) -> Response {
    let webhooks: Vec<Value> = b.core.state().webhooks.values().map(|w| w.json()).collect();
    Json(json!({"webhooks": webhooks})).into_response()
}

/// `POST /api/v1/webhooks`: 201 with the webhook and its `privateKey`, the one time it is shown.
pub(super) async fn create_webhook(
    State(b): State<Arc<Bamboohr>>,
    ctx: Ctx,
    body: Bytes,
) -> Response {
    let body = match webhook_body(&body) {
        Ok(body) => body,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let mut state = b.core.state();
    let webhook = state.add_webhook(
        body.name,
        body.url,
        body.monitor_fields,
        body.post_fields,
        body.format,
        None,
        ctx.now,
    );
    let mut answer = webhook.json();
    answer["privateKey"] = Value::String(webhook.private_key.clone());
    state.writes.count("webhook".into());
    (StatusCode::CREATED, Json(answer)).into_response()
}

fn webhook_id(params: &HashMap<String, String>) -> Option<u64> {
    params.get("id")?.parse().ok()
}

pub(super) async fn get_webhook(
    State(b): State<Arc<Bamboohr>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    match webhook_id(&params).and_then(|id| b.core.state().webhooks.get(&id).map(|w| w.json())) {
        Some(webhook) => Json(webhook).into_response(),
        None => error(StatusCode::NOT_FOUND, "Webhook not found"),
    }
}

pub(super) async fn update_webhook(
    State(b): State<Arc<Bamboohr>>,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let body = match webhook_body(&body) {
        Ok(body) => body,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let mut state = b.core.state();
    let Some(webhook) = webhook_id(&params).and_then(|id| state.webhooks.get_mut(&id)) else {
        return error(StatusCode::NOT_FOUND, "Webhook not found");
    };
    webhook.name = body.name;
    webhook.url = body.url;
    webhook.monitor_fields = body.monitor_fields;
    webhook.post_fields = body.post_fields;
    webhook.format = body.format;
    let answer = webhook.json();
    state.writes.count("webhook".into());
    Json(answer).into_response()
}

pub(super) async fn delete_webhook(
    State(b): State<Arc<Bamboohr>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let mut state = b.core.state();
    match webhook_id(&params).and_then(|id| state.webhooks.remove(&id)) {
        Some(_) => {
            state.writes.count("webhook".into());
            StatusCode::OK.into_response()
        }
        None => error(StatusCode::NOT_FOUND, "Webhook not found"),
    }
}

/// `GET /api/v1/webhooks/monitor_fields`.
pub(super) async fn monitor_fields() -> Response {
    let fields: Vec<Value> = KNOWN_FIELDS
        .iter()
        .enumerate()
        .map(|(at, name)| json!({"id": at + 1, "name": name, "alias": name}))
        .collect();
    Json(json!({"fields": fields})).into_response()
}

/// `GET /__sandbox/employees`: every employee as stored.
pub(super) async fn admin_employees(State(b): State<Arc<Bamboohr>>) -> Response {
    let employees: Vec<Value> = b
        .core
        .state()
        .employees
        .values()
        .cloned()
        .map(Value::Object)
        .collect();
    Json(json!({"employees": employees})).into_response()
}

/// One signed delivery ready to send.
struct Delivery {
    webhook: u64,
    url: String,
    body: Vec<u8>,
    content_type: &'static str,
    timestamp: String,
    signature: String,
}

/// `POST /__sandbox/employees {"id"?, field: value, …}` (or `{"id", "deleted": true}`): changes an
/// employee as HR would and delivers the signed webhooks the change sets off. Answers the id, the action,
/// the changed fields and each delivery's HTTP status.
pub(super) async fn admin_change_employee(State(b): State<Arc<Bamboohr>>, body: Bytes) -> Response {
    let (id, action, changed, deliveries) = match change_employee(&b, &body) {
        Ok(done) => done,
        Err(refused) => return refused.into_response(),
    };
    let mut sent = Vec::new();
    for d in deliveries {
        let outcome = b
            .http
            .post(&d.url)
            .header("content-type", d.content_type)
            .header("x-bamboohr-timestamp", &d.timestamp)
            .header("x-bamboohr-signature", &d.signature)
            .body(d.body)
            .send()
            .await;
        sent.push(match outcome {
            Ok(resp) => json!({"webhook": d.webhook.to_string(), "status": resp.status().as_u16()}),
            Err(e) => {
                json!({"webhook": d.webhook.to_string(), "error": e.without_url().to_string()})
            }
        });
    }
    Json(json!({
        "id": id.to_string(),
        "action": action,
        "changedFields": changed,
        "deliveries": sent,
    }))
    .into_response()
}

type Changed = (u64, &'static str, Vec<String>, Vec<Delivery>);

/// The change itself and the deliveries it sets off, under the state's lock.
fn change_employee(b: &Bamboohr, body: &[u8]) -> Result<Changed, AdminError> {
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(AdminError::new(
            "employees: the body must be a JSON object of BambooHR fields",
        ));
    };
    let now = b.core.now();
    let delete = fields.remove("deleted") == Some(Value::Bool(true));
    let mut state = b.core.state();
    let (id, action, changed) = if delete {
        let Some(id) = fields
            .get("id")
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
        else {
            return Err(AdminError::new("employees: deleting needs the id"));
        };
        if state.employees.remove(&id).is_none() {
            return Err(AdminError::new(format!("employees: no employee {id}")));
        }
        state.changed.remove(&id);
        state.created.remove(&id);
        state.deleted.insert(id, now);
        (id, "Deleted", Vec::new())
    } else {
        match state.upsert(fields, now) {
            Ok((id, true, changed)) => (id, "Created", changed),
            Ok((id, false, changed)) => (id, "Updated", changed),
            Err(message) => {
                return Err(AdminError::new(format!("employees: {message}")));
            }
        }
    };
    let timestamp = now.timestamp().to_string();
    let event = match action {
        "Created" => "employee.created",
        "Deleted" => "employee.deleted",
        _ => "employee.updated",
    };
    let mut deliveries = Vec::new();
    let employee = state.employees.get(&id).cloned().unwrap_or_default();
    for webhook in state.webhooks.values_mut() {
        let touched = action != "Updated"
            || (!changed.is_empty()
                && (webhook.monitor_fields.is_empty()
                    || changed.iter().any(|c| webhook.monitor_fields.contains(c))));
        if webhook.url.is_empty() || !touched {
            continue;
        }
        let payload = if webhook.post_fields.is_empty() {
            json!({
                "type": event,
                "timestamp": now.format("%Y-%m-%dT%H:%M:%S+0000").to_string(),
                "data": {"companyId": "1", "employeeId": id.to_string(), "changedFields": changed},
            })
        } else {
            let mut posted = Map::new();
            for (name, alias) in &webhook.post_fields {
                let alias = alias.as_str().unwrap_or(name);
                posted.insert(
                    alias.to_string(),
                    json!({"value": employee.get(name).cloned().unwrap_or(Value::Null)}),
                );
            }
            json!({
                "employees": [{
                    "id": id.to_string(),
                    "action": action,
                    "timestamp": bamboo_time(now),
                    "changedFields": changed,
                    "fields": posted,
                }],
                "fields": webhook.post_fields,
            })
        };
        let (body, content_type) = if webhook.format == "form-encoded" {
            let text = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("employees", &payload.to_string())
                .finish();
            (text.into_bytes(), "application/x-www-form-urlencoded")
        } else {
            (payload.to_string().into_bytes(), "application/json")
        };
        webhook.last_sent = Some(now);
        deliveries.push(Delivery {
            webhook: webhook.id,
            url: webhook.url.clone(),
            signature: sign(&webhook.private_key, &body, &timestamp),
            body,
            content_type,
            timestamp: timestamp.clone(),
        });
    }
    Ok((id, action, changed, deliveries))
}

/// `POST /__sandbox/webhooks/{id} {"url": …}`: points a webhook at a URL (the sandbox's webhook is
/// created without one).
pub(super) async fn admin_point_webhook(
    State(b): State<Arc<Bamboohr>>,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let url = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("url")?.as_str().map(str::to_string));
    let Some(url) = url.filter(|u| deliverable(u)) else {
        return AdminError::new("webhooks: the body must be {\"url\": an https or loopback URL}")
            .into_response();
    };
    let mut state = b.core.state();
    let Some(webhook) = webhook_id(&params).and_then(|id| state.webhooks.get_mut(&id)) else {
        return AdminError::new("webhooks: no such webhook").into_response();
    };
    webhook.url = url;
    Json(webhook.json()).into_response()
}
