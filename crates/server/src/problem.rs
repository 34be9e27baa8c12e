//! RFC 9457 problem details: every refusal and failure of the API is an
//! `application/problem+json` body with a stable `code` (a
//! `ServiceError::code()` or one of the server's own: `unauthenticated`,
//! `forbidden`, `not_found`, `invalid_request`, `unsupported_media_type`,
//! `method_not_allowed`, `internal_error`).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grantflow_service::ServiceError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// What went wrong, as RFC 9457 describes it, with grantflow's stable code.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:grantflow:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What happened this time, for a person to read.
    pub detail: String,
    /// A stable code for programs: `unauthenticated`, `forbidden`, `not_found`,
    /// `invalid_request`, `self_approval`, `approval_required`, …
    pub code: String,
}

/// The code and detail of a refusal, left on the response for the layer
/// that audits refused calls.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub code: String,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:grantflow:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_string(),
        }
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// A failure the caller cannot fix: logged here, described vaguely there.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(message = "API call failed.", error = %error);
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server could not complete the call; its log says why",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let refusal = Refusal {
            code: self.code.clone(),
            detail: self.detail.clone(),
        };
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(refusal);
        response
    }
}

impl From<ServiceError> for Problem {
    fn from(error: ServiceError) -> Self {
        let code = error.code();
        let status = match &error {
            ServiceError::Invalid(_) | ServiceError::Policy(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::Store(grantflow_store::StoreError::UnknownPlan(_)) => {
                StatusCode::NOT_FOUND
            }
            ServiceError::Refused { code, .. } => match *code {
                "self_approval" => StatusCode::FORBIDDEN,
                "unsupported_operation" => StatusCode::UNPROCESSABLE_ENTITY,
                "sync_failed" => StatusCode::BAD_GATEWAY,
                "sync_rate_limited" => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::CONFLICT,
            },
            ServiceError::Store(_)
            | ServiceError::Engine(_)
            | ServiceError::Config(_)
            | ServiceError::Other(_) => return Problem::internal(&error),
        };
        Problem::new(status, code, error.to_string())
    }
}

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as Content-Type: application/json",
            ),
            JsonRejection::JsonDataError(error) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                error.body_text(),
            ),
            JsonRejection::JsonSyntaxError(error) => Problem::invalid(error.body_text()),
            other => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                other.body_text(),
            ),
        }
    }
}

impl From<QueryRejection> for Problem {
    fn from(rejection: QueryRejection) -> Self {
        Problem::invalid(rejection.body_text())
    }
}

impl From<PathRejection> for Problem {
    fn from(rejection: PathRejection) -> Self {
        Problem::invalid(rejection.body_text())
    }
}

/// The answer of a handler: a JSON body or a problem.
pub type ApiResult<T> = Result<T, Problem>;
