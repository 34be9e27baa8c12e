//! A SCIM 2.0 service provider (RFC 7643 / RFC 7644) under `/scim/v2`: discovery (ServiceProviderConfig,
//! ResourceTypes, Schemas; 405 for writes), Users and Groups (create, get, list with filters and pagination,
//! `.search`, PUT, PATCH, DELETE, ETags), Bearer auth, SCIM error bodies everywhere (404 for unknown URLs),
//! and a provider rate limit answered with 429 + `Retry-After` + a SCIM error.
//!
//! Filters and PATCH paths are parsed by the `scim_v2` crate (RFC 7644 §3.4.2.2 grammar, LALRPOP-generated);
//! evaluating them against resources is this module's own (`filter.rs`), as that crate only parses.

pub(crate) mod error;
pub(crate) mod filter;
pub(crate) mod patch;
pub(crate) mod schema;
mod seed;
mod state;
pub(crate) mod values;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

pub use seed::{ScimSeed, ScimSeedGroup, ScimSeedUser};
pub use state::Scim;

use crate::emulator::{
    CoreAdmin, Ctx, Emulator, EmulatorConfig, credentials, random_token, set_header,
};
use crate::hand_change::HandChange;
use error::{ScimError, ScimResult, scim_json};
use schema::{Kind, LIST, SEARCH};
use state::Query;

/// Where the API lives on the emulator's port.
pub const BASE_PATH: &str = "/scim/v2";

impl Emulator for Scim {
    const KIND: &'static str = "scim";
    type Seed = ScimSeed;

    fn start(seed: &ScimSeed, config: EmulatorConfig) -> Arc<Self> {
        Arc::new(Scim {
            core: config.core(seed, config.windows(state::BUCKETS)),
            token: config.token_or(|| random_token("scim_", 40)),
        })
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([("token", &self.token)])
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn api(this: &Arc<Self>) -> Router<Arc<Self>> {
        Router::new()
            .route(BASE_PATH, any(api))
            .route(&format!("{BASE_PATH}/{{*rest}}"), any(api))
            .fallback(|| async { ScimError::not_found("Not Found").into_response() })
            .layer(middleware::from_fn_with_state(this.clone(), scim_layer))
    }

    /// `group/<displayName>` membership (`member`) and deactivation (`active: false`), as the application's own
    /// console would change them.
    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        let now = self.core.now();
        self.core.state().hand_change(change, now)
    }
}

async fn scim_layer(State(s): State<Arc<Scim>>, req: Request, next: Next) -> Response {
    let now = s.core.now();
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    if presented.is_none_or(|t| s.token.is_empty() || t != s.token) {
        let mut resp =
            ScimError::new(StatusCode::UNAUTHORIZED, None, "Authorization failure").into_response();
        set_header(&mut resp, "www-authenticate", "Bearer realm=\"scim\"");
        return resp;
    }
    let decision = s.core.limits().charge("api", now);
    if !decision.allowed {
        s.core.state().throttled += 1;
        let mut resp = ScimError::new(StatusCode::TOO_MANY_REQUESTS, None, "Too many requests")
            .into_response();
        set_header(&mut resp, "retry-after", &decision.retry_after.to_string());
        return resp;
    }
    if let Some(status) = s
        .core
        .injected_failure(StatusCode::INTERNAL_SERVER_ERROR)
        .await
    {
        return ScimError::new(status, None, "The service provider failed to answer")
            .into_response();
    }
    next.run(req).await
}

/// Decodes one path segment (`%3A` in a schema URN).
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn not_allowed(method: &Method, path: &str) -> ScimError {
    ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        format!("{method} is not allowed on {path}"),
    )
}

fn list_response(items: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

fn body_json(body: &Bytes) -> ScimResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("the body is not JSON: {e}")))
}

/// `GET …?filter=…` and the `.search` body share one shape.
fn query_from_params(ctx: &Ctx) -> ScimResult<Query> {
    let int = |name: &str| -> ScimResult<Option<i64>> {
        ctx.param(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    ScimError::bad("invalidValue", format!("{name} must be an integer"))
                })
            })
            .transpose()
    };
    let list = |name: &str| -> Vec<String> {
        ctx.param(name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(Query {
        filter: ctx.param("filter").map(str::to_owned),
        start_index: int("startIndex")?,
        count: int("count")?,
        attributes: list("attributes"),
        excluded: list("excludedAttributes"),
    })
}

fn query_from_search(body: &Value) -> ScimResult<Query> {
    let listed = body["schemas"].as_array().is_some_and(|a| {
        a.iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(SEARCH)))
    });
    if !listed {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("schemas must be [\"{SEARCH}\"]"),
        ));
    }
    let int = |name: &str| -> ScimResult<Option<i64>> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                ScimError::bad("invalidValue", format!("{name} must be an integer"))
            }),
        }
    };
    let list = |name: &str| -> Vec<String> {
        match body.get(name) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(s)) => s.split(',').map(|s| s.trim().to_owned()).collect(),
            _ => vec![],
        }
    };
    Ok(Query {
        filter: body
            .get("filter")
            .and_then(Value::as_str)
            .map(str::to_owned),
        start_index: int("startIndex")?,
        count: int("count")?,
        attributes: list("attributes"),
        excluded: list("excludedAttributes"),
    })
}

/// `If-Match` (RFC 7644 §3.14): a version other than the current one is refused with 412.
fn check_if_match(headers: &HeaderMap, etag: &str) -> ScimResult<()> {
    let Some(wanted) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let ok = wanted
        .split(',')
        .map(str::trim)
        .any(|w| w == "*" || w == etag);
    if ok {
        Ok(())
    } else {
        Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            format!("the resource is at version {etag}, not {wanted}"),
        ))
    }
}

fn resource_response(
    status: StatusCode,
    body: Value,
    etag: &str,
    location: Option<&str>,
) -> Response {
    let mut resp = scim_json(status, &body);
    if let Ok(v) = HeaderValue::from_str(etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if let Some(l) = location
        && let Ok(v) = HeaderValue::from_str(l)
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

async fn api(
    State(s): State<Arc<Scim>>,
    ctx: Ctx,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match route(&s, &ctx, &method, &headers, &body) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn route(
    s: &Scim,
    ctx: &Ctx,
    method: &Method,
    headers: &HeaderMap,
    body: &Bytes,
) -> ScimResult<Response> {
    let base = format!("{}{BASE_PATH}", ctx.base);
    let rest = ctx.path.strip_prefix(BASE_PATH).unwrap_or("");
    let segments: Vec<String> = rest
        .split('/')
        .filter(|p| !p.is_empty())
        .map(decode)
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let get = method == Method::GET;
    match segs.as_slice() {
        ["ServiceProviderConfig"] if get => Ok(scim_json(
            StatusCode::OK,
            &schema::service_provider_config(&base),
        )),
        ["ServiceProviderConfig"] => Err(not_allowed(method, &ctx.path)),
        ["ResourceTypes"] if get => Ok(scim_json(
            StatusCode::OK,
            &list_response(schema::resource_types(&base)),
        )),
        ["Schemas"] if get => Ok(scim_json(
            StatusCode::OK,
            &list_response(schema::schemas(&base)),
        )),
        ["ResourceTypes" | "Schemas"] | ["ResourceTypes" | "Schemas", _] if !get => {
            Err(not_allowed(method, &ctx.path))
        }
        ["ResourceTypes", id] => schema::resource_types(&base)
            .into_iter()
            .find(|t| t["id"].as_str() == Some(*id))
            .map(|t| scim_json(StatusCode::OK, &t))
            .ok_or_else(|| ScimError::not_found(format!("resource type {id} not found"))),
        ["Schemas", id] => schema::schemas(&base)
            .into_iter()
            .find(|t| t["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
            .map(|t| scim_json(StatusCode::OK, &t))
            .ok_or_else(|| ScimError::not_found(format!("schema {id} not found"))),
        [".search"] if method == Method::POST => {
            let q = query_from_search(&body_json(body)?)?;
            let page = s.core.state().list(&Kind::ALL, &q, &base)?;
            Ok(scim_json(StatusCode::OK, &page))
        }
        ["Bulk"] => Err(ScimError::new(
            StatusCode::NOT_IMPLEMENTED,
            None,
            "Bulk is not supported",
        )),
        [endpoint, rest @ ..] => {
            let Some(kind) = Kind::from_endpoint(endpoint) else {
                return Err(ScimError::not_found(format!("{} not found", ctx.path)));
            };
            resource_route(s, ctx, method, headers, body, kind, rest, &base)
        }
        [] => Err(ScimError::not_found(format!("{} not found", ctx.path))),
    }
}

#[allow(clippy::too_many_arguments)]
fn resource_route(
    s: &Scim,
    ctx: &Ctx,
    method: &Method,
    headers: &HeaderMap,
    body: &Bytes,
    kind: Kind,
    rest: &[&str],
    base: &str,
) -> ScimResult<Response> {
    match (rest, method.as_str()) {
        ([], "GET") => {
            let q = query_from_params(ctx)?;
            let page = s.core.state().list(&[kind], &q, base)?;
            Ok(scim_json(StatusCode::OK, &page))
        }
        ([], "POST") => {
            let attrs = values::from_body(kind, &body_json(body)?)?;
            let mut inner = s.core.state();
            let id = inner.create(kind, attrs, ctx.now)?;
            let r = inner.get(kind, &id)?;
            let v = inner.render(r, base);
            let location = format!("{base}/{}/{id}", kind.endpoint());
            Ok(resource_response(
                StatusCode::CREATED,
                v,
                &r.etag(),
                Some(&location),
            ))
        }
        ([".search"], "POST") => {
            let q = query_from_search(&body_json(body)?)?;
            let page = s.core.state().list(&[kind], &q, base)?;
            Ok(scim_json(StatusCode::OK, &page))
        }
        ([id], "GET") => {
            let q = query_from_params(ctx)?;
            let inner = s.core.state();
            let r = inner.get(kind, id)?;
            let etag = r.etag();
            if headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').map(str::trim).any(|t| t == etag || t == "*"))
            {
                let mut resp = StatusCode::NOT_MODIFIED.into_response();
                set_header(&mut resp, "etag", &etag);
                return Ok(resp);
            }
            let (attributes, excluded) = projection(&q)?;
            let v = state::project(kind, inner.render(r, base), &attributes, &excluded);
            Ok(resource_response(StatusCode::OK, v, &etag, None))
        }
        ([id], "PUT" | "PATCH") => {
            let body = body_json(body)?;
            let mut inner = s.core.state();
            let r = inner.get(kind, id)?;
            check_if_match(headers, &r.etag())?;
            let attrs = if method == Method::PUT {
                values::from_body(kind, &body)?
            } else {
                let mut attrs = r.attrs.clone();
                patch::apply(kind, &mut attrs, &body)?;
                attrs
            };
            inner.update(kind, id, attrs, ctx.now)?;
            let r = inner.get(kind, id)?;
            let v = inner.render(r, base);
            Ok(resource_response(StatusCode::OK, v, &r.etag(), None))
        }
        ([id], "DELETE") => {
            let mut inner = s.core.state();
            let etag = inner.get(kind, id)?.etag();
            check_if_match(headers, &etag)?;
            inner.delete(kind, id, ctx.now)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ([] | [_], _) => Err(not_allowed(method, &ctx.path)),
        _ => Err(ScimError::not_found(format!("{} not found", ctx.path))),
    }
}

fn projection(
    q: &Query,
) -> ScimResult<(
    Vec<scim_v2::filter::PatchPath>,
    Vec<scim_v2::filter::PatchPath>,
)> {
    let parse = |names: &[String]| {
        names
            .iter()
            .map(|n| {
                filter::parse_path(n).map_err(|e| {
                    ScimError::bad("invalidValue", format!("invalid attribute {n:?}: {e}"))
                })
            })
            .collect::<ScimResult<Vec<_>>>()
    };
    Ok((parse(&q.attributes)?, parse(&q.excluded)?))
}
