//! Google's JSON error body (`error.code`, `error.message`, `error.errors[].reason`) and the errors the emulator sends.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One Google API error; converts into the wire body with the matching status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleError {
    pub status: StatusCode,
    pub message: String,
    pub domain: &'static str,
    pub reason: &'static str,
}

pub type GoogleResult<T> = Result<T, GoogleError>;

impl GoogleError {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            domain: "global",
            reason,
        }
    }

    /// `Resource Not Found: groupKey` and friends: the message names the parameter, not the value.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "notFound",
            format!("Resource Not Found: {what}"),
        )
    }

    pub fn member_exists() -> Self {
        Self::new(StatusCode::CONFLICT, "duplicate", "Member already exists.")
    }

    pub fn entity_exists() -> Self {
        Self::new(StatusCode::CONFLICT, "duplicate", "Entity already exists.")
    }

    pub fn required(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "required",
            format!("Missing required field: {field}"),
        )
    }

    pub fn invalid(what: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("Invalid Input: {what}"),
        )
    }

    pub fn bad_request() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "badRequest", "Bad Request")
    }

    pub fn parse_error() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "parseError", "Parse Error")
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        )
    }

    /// The Directory API signals quota with 403 and a `usageLimits` reason, never 429 (notes §1.4).
    pub fn quota(reason: &'static str) -> Self {
        let message = if reason == "quotaExceeded" {
            "Quota exceeded for quota metric 'Concurrent requests' of service 'admin.googleapis.com'."
        } else {
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'."
        };
        Self {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
            domain: "usageLimits",
            reason,
        }
    }

    pub fn not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "httpMethodNotAllowed",
            "Method Not Allowed",
        )
    }

    /// An injected server failure with Google's backend-error body.
    pub fn injected(status: u16) -> Self {
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(StatusCode::is_server_error)
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            "The service is currently unavailable."
        } else {
            "Internal error encountered."
        };
        Self::new(status, "backendError", message)
    }

    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": {
                "code": self.status.as_u16(),
                "message": self.message,
                "errors": [{"message": self.message, "domain": self.domain, "reason": self.reason}],
            }
        })
    }
}

impl IntoResponse for GoogleError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body().to_string()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
            );
        }
        resp
    }
}
