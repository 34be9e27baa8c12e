//! `/api/v1`: the routes, the request extractors that turn every malformed
//! input into a problem, cursor pagination, and the OpenAPI document
//! generated from the handlers.

mod audit;
mod dto;
mod flows;
mod plans;
mod read;
mod requests;
mod tokens;

pub use dto::*;

use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Shared;
use crate::problem::{PROBLEM_JSON, Problem};

/// A JSON body; a wrong content type, bad JSON or the wrong shape is a problem.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Problem))]
pub struct ApiJson<T>(pub T);

/// Query parameters; unreadable ones are a 400 problem.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Problem))]
pub struct ApiQuery<T>(pub T);

/// Path parameters; unreadable ones are a 400 problem.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct ApiPath<T>(pub T);

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// The page size asked for: 50 unless said, at most 500.
pub(crate) fn page_limit(limit: Option<u32>) -> Result<usize, Problem> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        limit @ 1..=MAX_LIMIT => Ok(limit as usize),
        other => Err(Problem::invalid(format!(
            "limit must be from 1 to {MAX_LIMIT}, not {other}"
        ))),
    }
}

/// An opaque cursor: which list it belongs to and where the last page ended.
pub(crate) fn encode_cursor(list: &str, position: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{list}\n{position}"))
}

/// Where the previous page of `list` ended; a cursor of another list, or
/// one that was edited, is a 400 problem.
pub(crate) fn decode_cursor(list: &str, cursor: Option<&str>) -> Result<Option<String>, Problem> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let invalid = || Problem::invalid("the cursor is not one this list gave out");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    match text.split_once('\n') {
        Some((kind, position)) if kind == list => Ok(Some(position.to_string())),
        _ => Err(invalid()),
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "grantflow API",
        description = "Who holds what across systems: people, connections, plans (create, review, approve, apply, \
                       progress), drift findings, production reach and the audit trail. Authenticate with \
                       `Authorization: Bearer <token>` (an API token from `grantflow token create`). Errors are RFC 9457 \
                       problem details with a stable `code`. Lists are paged: pass `next_cursor` back as `cursor`."
    ),
    components(schemas(Problem)),
    tags(
        (name = "identity", description = "Who is calling"),
        (name = "people", description = "People and their access in every system"),
        (name = "connections", description = "Connected systems and their syncs"),
        (name = "plans", description = "Plans: create, review, approve, apply, progress"),
        (name = "drift", description = "Drift findings"),
        (name = "reach", description = "Production reach"),
        (name = "audit", description = "The audit trail"),
        (name = "tokens", description = "API tokens (administrators)"),
        (name = "requests", description = "Access requests and their reviews"),
        (name = "flows", description = "Workflows: flows, runs started through the API, runs card by card"),
    )
)]
struct ApiDoc;

/// The problems an operation may answer beyond the ones every operation
/// may (400, 401, 403, 500): (path, method, statuses).
const EXTRA_PROBLEMS: &[(&str, &str, &[u16])] = &[
    ("/api/v1/people", "get", &[409]),
    ("/api/v1/people/{email}", "get", &[404, 409]),
    ("/api/v1/connections/{name}/sync", "post", &[404, 429, 502]),
    // 404: an action naming a connection that is not configured.
    ("/api/v1/plans", "post", &[404, 409, 415, 422]),
    ("/api/v1/plans/{id}", "get", &[404]),
    ("/api/v1/plans/{id}/approve", "post", &[404, 409]),
    ("/api/v1/plans/{id}/apply", "post", &[404, 409]),
    ("/api/v1/plans/{id}/progress", "get", &[404]),
    // 409: nothing synced yet; 422: the policies do not load.
    ("/api/v1/drift/check", "post", &[409, 422]),
    ("/api/v1/reach", "get", &[404, 409]),
    // 422: not an event, or one that widens nothing; no reachability section.
    ("/api/v1/reach/events", "post", &[409, 415, 422]),
    ("/api/v1/drift/findings/{key}/reach", "get", &[404, 422]),
    ("/api/v1/tokens", "post", &[415, 422]),
    ("/api/v1/tokens/{id}", "delete", &[404]),
    // 404: an unknown bundle or connection; 409: refused (nothing to do, too long, a blocking conflict, no reviewers).
    ("/api/v1/requests", "post", &[404, 409, 415, 422]),
    ("/api/v1/requests/{id}", "get", &[404]),
    ("/api/v1/requests/{id}/approve", "post", &[404, 409, 415]),
    ("/api/v1/requests/{id}/deny", "post", &[404, 409, 415]),
    // 404: no such flow; 409: its trigger does not take API calls; 422: inputs that do not fit.
    ("/api/v1/flows/{flow}/runs", "post", &[404, 409, 415, 422]),
    ("/api/v1/flow-runs/{id}", "get", &[404]),
];

fn problem_response(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => (
            "BadRequest",
            "The query, path or cursor is not valid (code `invalid_request`).",
        ),
        401 => (
            "Unauthenticated",
            "No valid bearer token (code `unauthenticated`).",
        ),
        403 => (
            "Forbidden",
            "The caller's roles do not allow this (code `forbidden`, `self_approval`).",
        ),
        404 => (
            "NotFound",
            "What the call names does not exist (code `not_found`).",
        ),
        409 => (
            "Conflict",
            "A rule refused the call now (e.g. `approval_required`, `not_synced`, `mass_removal`).",
        ),
        415 => (
            "UnsupportedMediaType",
            "The body is not `application/json` (code `unsupported_media_type`).",
        ),
        422 => (
            "Unprocessable",
            "The body or the request it makes is not valid (code `invalid_request`, `policy_invalid`).",
        ),
        429 => (
            "TooManyRequests",
            "The connected system's rate limit stopped the call; try again after the reset the detail names \
             (code `sync_rate_limited`).",
        ),
        502 => (
            "BadGateway",
            "The connected system failed (code `sync_failed`).",
        ),
        _ => (
            "ServerError",
            "The server could not complete the call (code `internal_error`).",
        ),
    }
}

/// Adds the problem responses and the bearer security to every operation.
fn document_problems(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    for status in [400u16, 401, 403, 404, 409, 415, 422, 429, 500, 502] {
        let (name, description) = problem_response(status);
        components.responses.insert(
            name.to_string(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        PROBLEM_JSON,
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build(),
            ),
        );
    }
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("gft_<id>_<secret>")
                .build(),
        ),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations: [(&str, Option<&mut Operation>); 3] = [
            ("get", item.get.as_mut()),
            ("post", item.post.as_mut()),
            ("delete", item.delete.as_mut()),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else {
                continue;
            };
            let extra = EXTRA_PROBLEMS
                .iter()
                .filter(|(p, m, _)| p == path && *m == method)
                .flat_map(|(_, _, statuses)| statuses.iter().copied());
            for status in [400u16, 401, 403, 500].into_iter().chain(extra) {
                let (name, _) = problem_response(status);
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
            }
            operation.security = Some(vec![SecurityRequirement::new(
                "bearer",
                Vec::<String>::new(),
            )]);
        }
    }
}

/// The API's routes and their OpenAPI document.
pub(crate) fn routes() -> (axum::Router<Arc<Shared>>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(read::me))
        .routes(routes!(read::people))
        .routes(routes!(read::person))
        .routes(routes!(read::connections))
        .routes(routes!(read::sync_connection))
        .routes(routes!(plans::list_plans, plans::create_plan))
        .routes(routes!(plans::show_plan))
        .routes(routes!(plans::approve_plan))
        .routes(routes!(plans::apply_plan))
        .routes(routes!(plans::plan_progress))
        .routes(routes!(read::drift_findings))
        .routes(routes!(read::check_drift))
        .routes(routes!(read::reach))
        .routes(routes!(read::reach_sources))
        .routes(routes!(read::reach_events))
        .routes(routes!(read::finding_reach))
        .routes(routes!(audit::audit_events))
        .routes(routes!(audit::audit_verify))
        .routes(routes!(audit::audit_export))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(requests::list_requests, requests::create_request))
        .routes(routes!(requests::show_request))
        .routes(routes!(requests::approve_request))
        .routes(routes!(requests::deny_request))
        .routes(routes!(flows::list_flows))
        .routes(routes!(flows::start_flow_run))
        .routes(routes!(flows::list_flow_runs))
        .routes(routes!(flows::show_flow_run))
        .split_for_parts();
    document_problems(&mut doc);
    (router, doc)
}

/// `GET /api/v1/openapi.json`: the document, public.
pub(crate) async fn openapi_json() -> Response {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let body = DOCUMENT
        .get_or_init(|| serde_json::to_string_pretty(&crate::openapi()).unwrap_or_default());
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.clone(),
    )
        .into_response()
}

pub(crate) async fn no_route() -> Problem {
    Problem::not_found("no such route; the API is described at /api/v1/openapi.json")
}

pub(crate) async fn no_method() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not answer that method",
    )
}
