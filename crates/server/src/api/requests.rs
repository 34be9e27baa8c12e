//! Access requests: ask (a grant in words, an account action or a bundle,
//! with a reason and an optional time limit), list what one may see,
//! read one with its timeline, approve or deny a stage. The rules — who
//! reviews, who may see, no self-approval — are the service's.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use grantflow_service::requests::{Asked, NewRequest, Verdict};

use super::*;
use crate::Authenticated;
use crate::problem::ApiResult;

fn body_of<T: serde::Serialize>(view: &T) -> serde_json::Value {
    serde_json::to_value(view).unwrap_or(serde_json::Value::Null)
}

/// The requests the caller may see, newest first: their own, those they may review now, and every one for
/// administrators and auditors.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests", params(RequestsQuery),
    responses((status = 200, description = "Requests", body = RequestsPage)))]
pub(crate) async fn list_requests(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<RequestsQuery>,
) -> ApiResult<Json<RequestsPage>> {
    let limit = page_limit(query.limit)?;
    let views = shared
        .service
        .requests_for(&actor, query.state.as_deref(), limit)
        .await?;
    Ok(Json(RequestsPage {
        items: views.iter().map(body_of).collect(),
    }))
}

/// Asks for access or an action. Answers the request as stored: pending its reviews, or approved at once
/// (auto-approval, break-glass) with its plan queued.
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests", request_body = NewAccessRequest,
    responses((status = 201, description = "The request", body = AccessRequest)))]
pub(crate) async fn create_request(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiJson(new): ApiJson<NewAccessRequest>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let asked = match (new.request, new.action, new.bundle) {
        (Some(text), None, None) => Asked::Change { text },
        (None, Some(action), None) => Asked::Action(action.into()),
        (None, None, Some(name)) => Asked::Bundle { name },
        _ => {
            return Err(Problem::invalid(
                "say what is asked for with exactly one of `request`, `action` or `bundle`",
            ));
        }
    };
    let duration = new
        .duration
        .as_deref()
        .map(grantflow_service::tokens::parse_lifetime)
        .transpose()?;
    let view = shared
        .service
        .submit_request(
            &actor,
            &NewRequest {
                asked,
                for_person: new.for_person,
                reason: new.reason,
                duration,
                ticket: new.ticket,
                break_glass: new.break_glass,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(body_of(&view))))
}

/// One request with its stages, decisions, review and timeline (its events and its plans').
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "The request's id")),
    responses((status = 200, description = "The request and its timeline", body = AccessRequest)))]
pub(crate) async fn show_request(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let timeline = shared.service.request_timeline(&actor, &id).await?;
    Ok(Json(body_of(&timeline)))
}

async fn decide(
    shared: &Shared,
    actor: &grantflow_service::Actor,
    id: &str,
    verdict: Verdict,
    body: &[u8],
) -> ApiResult<Json<serde_json::Value>> {
    // The body is optional: an empty one is no comment.
    let comment = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        serde_json::from_slice::<ReviewDecision>(body)
            .map_err(|e| Problem::invalid(format!("the body must be {{\"comment\": \"…\"}}: {e}")))?
            .comment
            .unwrap_or_default()
    };
    let view = shared
        .service
        .review_request(actor, id, verdict, &comment, "api")
        .await?;
    Ok(Json(body_of(&view)))
}

/// Approves the request's current stage as one of its reviewers (never one's own request).
#[utoipa::path(post, path = "/api/v1/requests/{id}/approve", tag = "requests",
    params(("id" = String, Path, description = "The request's id")),
    request_body(content = Option<ReviewDecision>, description = "An optional comment"),
    responses((status = 200, description = "The request after the decision", body = AccessRequest)))]
pub(crate) async fn approve_request(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    decide(&shared, &actor, &id, Verdict::Approve, &body).await
}

/// Denies the request as one of its current stage's reviewers.
#[utoipa::path(post, path = "/api/v1/requests/{id}/deny", tag = "requests",
    params(("id" = String, Path, description = "The request's id")),
    request_body(content = Option<ReviewDecision>, description = "An optional comment"),
    responses((status = 200, description = "The request after the decision", body = AccessRequest)))]
pub(crate) async fn deny_request(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    decide(&shared, &actor, &id, Verdict::Deny, &body).await
}
