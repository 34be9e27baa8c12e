//! Slack's SCIM API (Business+ and Enterprise Grid) on the workspace's members: `/scim/v2/Users` (SCIM 2.0,
//! PATCH as a PatchOp) and `/scim/v1/Users` (SCIM 1.1, what slack_sdk's `SCIMClient` speaks: PATCH as a partial
//! user). Create (`POST`, 201; a taken userName or email is 409 `uniqueness`), read, list with a filter
//! (`userName eq "…"`, `emails.value eq "…"`) and `startIndex`/`count`, PATCH, and DELETE, which in Slack
//! deactivates the member (`deleted: true`, `active: false`) rather than removing them. A member created here is
//! in `users.list` and `users.lookupByEmail` at once. Auth is the SCIM token (a user token with the `admin`
//! scope), not the bot token. Bodies, filters and PatchOps are read with the SCIM emulator's own code
//! (`crate::scim`); errors are SCIM error bodies. [unverified: the exact error bodies of Slack's v1 endpoint.]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

use super::state::{Inner, Slack, User};
use crate::emulator::{Now, set_header};
use crate::scim::error::{ScimError, ScimResult, scim_json};
use crate::scim::schema::{Kind, LIST, PATCH_OP};
use crate::scim::values::from_body;
use crate::scim::{filter, patch};

/// Slack limits its SCIM API per organisation, per minute: writes (POST, PUT, PATCH, DELETE) 600, reads (GET)
/// 1000 (the per-endpoint limits below those are not emulated).
fn tier(method: &Method) -> &'static str {
    if method == Method::GET {
        "scim_reads"
    } else {
        "scim_writes"
    }
}

pub fn routes() -> Router<Arc<Slack>> {
    Router::new()
        .route("/scim/{version}/Users", any(users))
        .route("/scim/{version}/Users/{id}", any(user))
}

/// The member as a SCIM User: what the SCIM API keeps of them, with userName, emails and active from the
/// workspace's own record.
pub fn render(u: &User, version: &str, base: &str) -> Value {
    let mut attrs = u.scim.clone();
    attrs.insert("id".into(), json!(u.id));
    attrs.insert("userName".into(), json!(u.name));
    attrs.insert("active".into(), json!(!u.deleted));
    attrs
        .entry("displayName")
        .or_insert_with(|| json!(u.real_name));
    attrs.insert(
        "emails".into(),
        json!([{"value": u.email, "type": "work", "primary": true}]),
    );
    attrs.insert(
        "schemas".into(),
        if version == "v1" {
            json!(["urn:scim:schemas:core:1.0"])
        } else {
            json!([Kind::User.urn()])
        },
    );
    attrs.insert(
        "meta".into(),
        json!({"resourceType": "User", "location": format!("{base}/scim/{version}/Users/{}", u.id)}),
    );
    Value::Object(attrs)
}

/// The writable attributes of a SCIM body (a 1.1 body's schema list is its own, not 2.0's).
fn attributes(version: &str, body: &Value) -> ScimResult<Map<String, Value>> {
    let mut body = body.clone();
    if version == "v1"
        && let Some(obj) = body.as_object_mut()
    {
        obj.remove("schemas");
    }
    from_body(Kind::User, &body)
}

/// Keeps `attrs` (a SCIM User) as member `id`'s record: handle, email, name and status follow it.
fn store(inner: &mut Inner, id: &str, attrs: Map<String, Value>, now: i64) -> ScimResult<()> {
    let user_name = attrs
        .get("userName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ScimError::bad("invalidValue", "userName is required"))?
        .to_lowercase();
    let email = primary_email(&attrs)
        .ok_or_else(|| ScimError::bad("invalidValue", "at least one email address is required"))?;
    let taken = inner.users.values().find(|u| {
        u.id != id
            && (u.name.eq_ignore_ascii_case(&user_name) || u.email.eq_ignore_ascii_case(&email))
    });
    if let Some(other) = taken {
        let what = if other.name.eq_ignore_ascii_case(&user_name) {
            format!("username {user_name}")
        } else {
            format!("email {email}")
        };
        return Err(ScimError::new(
            StatusCode::CONFLICT,
            Some("uniqueness"),
            format!("{what} is already taken"),
        ));
    }
    let name = attrs.get("name");
    let given = name
        .and_then(|n| n.get("givenName"))
        .and_then(Value::as_str);
    let family = name
        .and_then(|n| n.get("familyName"))
        .and_then(Value::as_str);
    let real_name = attrs
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            let parts: Vec<&str> = [given, family].into_iter().flatten().collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
        .unwrap_or_else(|| user_name.clone());
    let active = attrs.get("active").and_then(Value::as_bool).unwrap_or(true);
    let mut scim = attrs;
    for kept_elsewhere in ["userName", "emails", "active", "id", "meta", "schemas"] {
        scim.remove(kept_elsewhere);
    }
    let is_admin = inner.users.get(id).is_some_and(|u| u.is_admin);
    inner.users.insert(
        id.to_string(),
        User {
            id: id.to_string(),
            name: user_name,
            real_name,
            email,
            deleted: !active,
            is_admin,
            updated: now,
            scim,
        },
    );
    Ok(())
}

fn primary_email(attrs: &Map<String, Value>) -> Option<String> {
    let emails = attrs.get("emails")?.as_array()?;
    emails
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| emails.first())
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str)
        .map(str::to_lowercase)
}

/// Auth, the rate limit and injected faults, as for every Slack call; `Some` is the answer to give instead.
async fn gate(
    s: &Slack,
    method: &Method,
    headers: &HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented.is_none_or(|t| s.scim_token.is_empty() || t != s.scim_token) {
        return Some(
            ScimError::new(StatusCode::UNAUTHORIZED, None, "invalid_authentication")
                .into_response(),
        );
    }
    let bucket = tier(method);
    let decision = s.core.limits().charge_keyed(bucket, bucket, now);
    if !decision.allowed {
        *s.core.state().throttled.entry("scim".into()).or_default() += 1;
        let mut resp = ScimError::new(StatusCode::TOO_MANY_REQUESTS, None, "Too many requests")
            .into_response();
        set_header(&mut resp, "retry-after", &decision.retry_after.to_string());
        return Some(resp);
    }
    if let Some(status) = s
        .core
        .injected_failure(StatusCode::INTERNAL_SERVER_ERROR)
        .await
    {
        return Some(ScimError::new(status, None, "internal_error").into_response());
    }
    None
}

fn version_ok(version: &str) -> ScimResult<()> {
    if matches!(version, "v1" | "v2") {
        Ok(())
    } else {
        Err(ScimError::not_found("Not Found"))
    }
}

fn parse_body(body: &Bytes) -> ScimResult<Value> {
    serde_json::from_slice(body)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("the body is not JSON: {e}")))
}

/// The emulator's own origin, for `meta.location`.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

async fn users(
    State(s): State<Arc<Slack>>,
    Now(now): Now,
    Path(version): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = gate(&s, &method, &headers, now).await {
        return refused;
    }
    let base = origin(&headers);
    let answer = (|| -> ScimResult<Response> {
        version_ok(&version)?;
        match method {
            Method::GET => {
                let inner = s.core.state();
                let wanted = query
                    .get("filter")
                    .map(|f| {
                        filter::parse_filter(f).map_err(|e| ScimError::bad("invalidFilter", e))
                    })
                    .transpose()?;
                let found: Vec<Value> = inner
                    .users
                    .values()
                    .map(|u| render(u, &version, &base))
                    .filter(|u| {
                        wanted
                            .as_ref()
                            .is_none_or(|f| filter::matches(Kind::User, f, u))
                    })
                    .collect();
                let number = |key: &str, default: usize| {
                    query
                        .get(key)
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(default)
                };
                let start = number("startIndex", 1).max(1);
                let count = number("count", 100).min(1000);
                let page: Vec<Value> = found.iter().skip(start - 1).take(count).cloned().collect();
                let body = json!({
                    "schemas": [LIST],
                    "totalResults": found.len(),
                    "startIndex": start,
                    "itemsPerPage": page.len(),
                    "Resources": page,
                });
                Ok(scim_json(StatusCode::OK, &body))
            }
            Method::POST => {
                let attrs = attributes(&version, &parse_body(&body)?)?;
                let mut inner = s.core.state();
                let id = inner.new_id('U');
                store(&mut inner, &id, attrs, now.timestamp())?;
                inner.writes.count(format!("user/{id}"));
                let user = inner
                    .users
                    .get(&id)
                    .map(|u| render(u, &version, &base))
                    .unwrap_or(Value::Null);
                Ok(scim_json(StatusCode::CREATED, &user))
            }
            _ => Err(ScimError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                format!("{method} is not allowed on /Users"),
            )),
        }
    })();
    answer.unwrap_or_else(IntoResponse::into_response)
}

async fn user(
    State(s): State<Arc<Slack>>,
    Now(now): Now,
    Path((version, id)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = gate(&s, &method, &headers, now).await {
        return refused;
    }
    let base = origin(&headers);
    let answer = (|| -> ScimResult<Response> {
        version_ok(&version)?;
        let mut inner = s.core.state();
        let current = inner
            .users
            .get(&id)
            .map(|u| render(u, &version, &base))
            .ok_or_else(|| ScimError::not_found(format!("User {id} not found")))?;
        match method {
            Method::GET => Ok(scim_json(StatusCode::OK, &current)),
            Method::PATCH | Method::PUT => {
                let request = parse_body(&body)?;
                let mut attrs = current.as_object().cloned().unwrap_or_default();
                let is_patch_op = request
                    .get("schemas")
                    .and_then(Value::as_array)
                    .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(PATCH_OP)));
                if method == Method::PATCH && is_patch_op {
                    patch::apply(Kind::User, &mut attrs, &request)?;
                } else if method == Method::PATCH {
                    // SCIM 1.1's PATCH: the attributes given overwrite theirs, the others stay.
                    attrs.extend(attributes(&version, &request)?);
                } else {
                    attrs = attributes(&version, &request)?;
                }
                store(&mut inner, &id, attrs, now.timestamp())?;
                inner.writes.count(format!("user/{id}"));
                let user = inner
                    .users
                    .get(&id)
                    .map(|u| render(u, &version, &base))
                    .unwrap_or(Value::Null);
                Ok(scim_json(StatusCode::OK, &user))
            }
            Method::DELETE => {
                // Slack deactivates: the member stays, listed with `deleted: true`.
                if let Some(u) = inner.users.get_mut(&id)
                    && !u.deleted
                {
                    u.deleted = true;
                    u.updated = now.timestamp();
                    inner.writes.count(format!("user/{id}"));
                }
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            _ => Err(ScimError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                format!("{method} is not allowed on /Users/{id}"),
            )),
        }
    })();
    answer.unwrap_or_else(IntoResponse::into_response)
}
