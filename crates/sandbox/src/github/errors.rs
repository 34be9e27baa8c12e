//! GitHub's error body (`message`, `documentation_url`, `status`, `errors[]`) and the errors the emulator sends.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

const DOCS: &str = "https://docs.github.com/rest";

/// One GitHub API error; converts into the wire body with the matching status.
#[derive(Debug, Clone, PartialEq)]
pub struct GithubError {
    pub status: StatusCode,
    pub message: String,
    pub errors: Vec<Value>,
    pub retry_after: Option<u64>,
}

pub type GithubResult<T> = Result<T, GithubError>;

impl GithubError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    /// 422 with one `errors[]` entry, e.g. `("Team", "name", "already_exists")`.
    pub fn validation(resource: &str, field: &str, code: &str) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
        e.errors = vec![json!({"resource": resource, "field": field, "code": code})];
        e
    }

    pub fn problems_parsing() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Problems parsing JSON")
    }

    pub fn bad_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Bad credentials")
    }

    pub fn requires_authentication() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Requires authentication")
    }

    /// The primary limit: 403 or 429 with `x-ratelimit-remaining: 0`; clients wait for `x-ratelimit-reset`.
    pub fn primary_limit(status: StatusCode, user_id: u64) -> Self {
        Self::new(
            status,
            format!(
                "API rate limit exceeded for user ID {user_id}. If you reach out to GitHub Support for help, please include the request ID."
            ),
        )
    }

    /// The secondary limit, with the wording PyGithub recognises and a `Retry-After`.
    pub fn secondary_limit(status: StatusCode, retry_after: u64) -> Self {
        let mut e = Self::new(
            status,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub fn injected(status: u16) -> Self {
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(StatusCode::is_server_error)
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let message = match status.as_u16() {
            502 => "Server Error",
            503 => "Service Unavailable",
            _ => "Server Error",
        };
        Self::new(status, message)
    }

    pub fn body(&self) -> Value {
        let mut body = json!({
            "message": self.message,
            "documentation_url": DOCS,
            "status": self.status.as_u16().to_string(),
        });
        if !self.errors.is_empty() {
            body["errors"] = Value::Array(self.errors.clone());
        }
        body
    }
}

impl IntoResponse for GithubError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body().to_string()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(ra) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&ra.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}
