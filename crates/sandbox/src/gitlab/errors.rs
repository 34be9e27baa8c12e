//! GitLab's error bodies (`{"message": …}` and Grape's `{"error": …}`) and request parameters from query or body.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::emulator::{Ctx, form_pairs, json_response};

/// A GitLab API error: the status and the exact body GitLab answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct GitlabError {
    pub status: StatusCode,
    pub body: Value,
}

pub type GitlabResult<T> = Result<T, GitlabError>;

impl GitlabError {
    fn message(status: StatusCode, message: impl Into<Value>) -> Self {
        Self {
            status,
            body: json!({ "message": message.into() }),
        }
    }

    /// `404 Group Not Found`, `404 User Not Found`, `404 Member Not Found`.
    pub fn not_found(what: &str) -> Self {
        Self::message(StatusCode::NOT_FOUND, format!("404 {what} Not Found"))
    }

    pub fn route_not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            body: json!({ "error": "404 Not Found" }),
        }
    }

    pub fn method_not_allowed() -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            body: json!({ "error": "405 Not Allowed" }),
        }
    }

    pub fn unauthorized() -> Self {
        Self::message(StatusCode::UNAUTHORIZED, "401 Unauthorized")
    }

    /// `403`: `{"message": "…"}`, e.g. an LDAP-blocked user the API may not change.
    pub fn forbidden(message: &str) -> Self {
        Self::message(StatusCode::FORBIDDEN, format!("403 Forbidden - {message}"))
    }

    pub fn conflict(message: &str) -> Self {
        Self::message(StatusCode::CONFLICT, message)
    }

    /// Grape's parameter validation: `{"error": "access_level is missing"}`.
    pub fn param(text: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: json!({ "error": text }),
        }
    }

    /// A model validation failure: `{"message": {"access_level": ["should be …"]}}`.
    pub fn invalid(field: &str, message: String) -> Self {
        Self::message(StatusCode::BAD_REQUEST, json!({ field: [message] }))
    }

    pub fn rate_limited() -> Self {
        Self::message(
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "error": "This endpoint has been requested too many times. Try again later." }),
        )
    }

    /// An injected server failure with GitLab's text for the status.
    pub fn server(status: StatusCode) -> Self {
        let reason = status.canonical_reason().unwrap_or("Internal Server Error");
        Self::message(status, format!("{} {reason}", status.as_u16()))
    }
}

impl IntoResponse for GitlabError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

/// Parameters from the query string and a JSON or form body, as Grape merges them; JSON scalars become text.
#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn from(ctx: &Ctx, headers: &HeaderMap, body: &Bytes) -> GitlabResult<Self> {
        let mut map: BTreeMap<String, String> = ctx.query.iter().cloned().collect();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let blank = body.iter().all(u8::is_ascii_whitespace);
        if blank {
            return Ok(Self(map));
        }
        if content_type.starts_with("application/x-www-form-urlencoded") {
            map.extend(form_pairs(&String::from_utf8_lossy(body)));
        } else {
            let value: Value = serde_json::from_slice(body).map_err(|_| {
                GitlabError::param("The provided content-type '' is not supported.".into())
            })?;
            let Value::Object(obj) = value else {
                return Err(GitlabError::param("body must be a JSON object".into()));
            };
            for (k, v) in obj {
                let text = match v {
                    Value::String(s) => s,
                    Value::Null => continue,
                    other => other.to_string(),
                };
                map.insert(k, text);
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A parameter as sent, an empty text included (which clears a profile field).
    pub fn given(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A Grape `Boolean`: `true` or `false` (as JSON or text); anything else is `{name} is invalid`.
    pub fn boolean(&self, name: &str) -> GitlabResult<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(GitlabError::param(format!("{name} is invalid"))),
        }
    }

    /// Grape lists every missing required parameter in one message.
    pub fn require(&self, names: &[&str]) -> GitlabResult<()> {
        let missing: Vec<String> = names
            .iter()
            .filter(|n| self.get(n).is_none())
            .map(|n| format!("{n} is missing"))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(GitlabError::param(missing.join(", ")))
        }
    }

    pub fn int(&self, name: &str) -> GitlabResult<Option<u64>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| GitlabError::param(format!("{name} is invalid"))),
        }
    }
}
