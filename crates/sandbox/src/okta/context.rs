//! Per-request context (request id, absolute base URL from Host, clock reading) and safe parsing of query and body.

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::errors::{OktaError, OktaResult};

/// Everything a handler needs to know about the request besides its path and body.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub request_id: String,
    /// `http://host:port`, taken from the request's Host header so links work through any address.
    pub base: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub user_agent: String,
    pub now: DateTime<Utc>,
}

/// Set by the middleware (which reads the emulator's clock) and stored in request extensions.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub request_id: String,
    pub now: DateTime<Utc>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = OktaError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Without the middleware there is no clock reading; that is a wiring bug, reported as Okta's 500.
        let stamp = parts
            .extensions
            .get::<Stamp>()
            .cloned()
            .ok_or_else(OktaError::internal)?;
        Ok(Ctx::from_parts(parts, stamp))
    }
}

impl Ctx {
    pub fn from_parts(parts: &Parts, stamp: Stamp) -> Self {
        let host = header_str(&parts.headers, header::HOST.as_str())
            .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
            .unwrap_or("127.0.0.1")
            .to_owned();
        let query = parts
            .uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Ctx {
            request_id: stamp.request_id,
            base: format!("http://{host}"),
            path: parts.uri.path().to_owned(),
            query,
            user_agent: header_str(&parts.headers, header::USER_AGENT.as_str())
                .unwrap_or("")
                .to_owned(),
            now: stamp.now,
        }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean query parameter; anything but true/false is a validation error, as in Okta.
    pub fn bool_param(&self, name: &str, default: bool) -> OktaResult<bool> {
        match self.param(name) {
            None | Some("") => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(OktaError::validation(
                name,
                vec![format!("{name}: must be true or false")],
            )),
        }
    }

    /// `limit` with the endpoint's default, clamped to its maximum as Okta does.
    pub fn limit(&self, default: usize, max: usize) -> OktaResult<usize> {
        match self.param("limit") {
            None | Some("") => Ok(default.min(max)),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n < 0 => Ok(default.min(max)),
                Ok(n) => Ok((n as usize).min(max)),
                Err(_) => Err(OktaError::validation(
                    "limit",
                    vec!["limit: must be an integer".into()],
                )),
            },
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn href(&self, path: &str) -> serde_json::Value {
        serde_json::json!({ "href": self.url(path) })
    }
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Parses a JSON body: syntax errors are Okta's E0000003, shape errors E0000001 with the serde message as cause.
pub fn parse_body<T: DeserializeOwned>(body: &Bytes, what: &str) -> OktaResult<T> {
    let text: &[u8] = if body.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => OktaError::validation(what, vec![e.to_string()]),
        _ => OktaError::malformed(),
    })
}

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

pub fn ok(body: &serde_json::Value) -> Response {
    json_response(StatusCode::OK, body)
}

/// A 200 whose spec response has no content (suspend, deactivate, …): empty body, no JSON content type,
/// so the SDK takes its no-body path instead of parsing.
pub fn ok_empty() -> Response {
    StatusCode::OK.into_response()
}

/// Okta's 204: no body and, importantly for the Python SDK, no JSON content type.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
