//! Okta's error body (`errorCode`, `errorSummary`, `errorLink`, `errorId`, `errorCauses`) and the codes the emulator uses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ids;

/// An Okta API error; converts into the wire body with the matching status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OktaError {
    pub status: StatusCode,
    pub code: &'static str,
    pub summary: String,
    pub causes: Vec<String>,
}

pub type OktaResult<T> = Result<T, OktaError>;

impl OktaError {
    pub fn new(status: StatusCode, code: &'static str, summary: impl Into<String>) -> Self {
        Self {
            status,
            code,
            summary: summary.into(),
            causes: Vec::new(),
        }
    }

    pub fn with_causes(mut self, causes: Vec<String>) -> Self {
        self.causes = causes;
        self
    }

    /// E0000001; `what` names the operation, as in Okta's "Api validation failed: login".
    pub fn validation(what: &str, causes: Vec<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "E0000001",
            format!("Api validation failed: {what}"),
        )
        .with_causes(causes)
    }

    pub fn malformed() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "E0000003",
            "The request body was not well-formed.",
        )
    }

    /// E0000007 with Okta's resource wording; `kind` is Okta's class name (User, UserGroup, AppInstance).
    pub fn not_found(id: &str, kind: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "E0000007",
            format!("Not found: Resource not found: {id} ({kind})"),
        )
    }

    pub fn path_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "E0000008",
            "The requested path was not found",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "E0000009",
            "Internal Server Error",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "E0000010",
            "Service is in read only mode",
        )
    }

    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "E0000022",
            "The endpoint does not support the provided HTTP method",
        )
    }

    pub fn invalid_search() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "E0000031",
            "Invalid search criteria.",
        )
    }

    pub fn wrong_status() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "E0000038",
            "This operation is not allowed in the user's current status.",
        )
    }

    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        )
    }

    pub fn log_param(detail: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "E0000053",
            format!("Invalid parameter: {detail}"),
        )
    }

    /// An arbitrary injected failure status, with the closest Okta body.
    pub fn injected(status: u16) -> Self {
        match status {
            503 => Self::unavailable(),
            s => {
                let mut e = Self::internal();
                e.status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                e
            }
        }
    }

    pub fn body(&self) -> serde_json::Value {
        let causes: Vec<_> = self
            .causes
            .iter()
            .map(|c| json!({ "errorSummary": c }))
            .collect();
        json!({
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": ids::error_id(),
            "errorCauses": causes,
        })
    }
}

impl IntoResponse for OktaError {
    fn into_response(self) -> Response {
        let body = self.body().to_string();
        let mut resp = (self.status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}
