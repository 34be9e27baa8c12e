//! Per-request helpers every emulator uses: the clock reading stamped on each API request, the request context
//! handlers extract, JSON answers, headers and random credentials.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rand::Rng;

use super::Emulator;

/// The emulator's clock reading for this request, stored in its extensions by [`stamp`].
#[derive(Debug, Clone, Copy)]
pub struct Now(pub DateTime<Utc>);

impl<S: Send + Sync> FromRequestParts<S> for Now {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Without the stamp there is no clock reading: a wiring bug, answered as a 500.
        parts
            .extensions
            .get::<Now>()
            .copied()
            .ok_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }
}

/// Stamps every API request with the emulator's clock reading, so one request sees one instant.
pub(super) async fn stamp<E: Emulator>(
    State(e): State<Arc<E>>,
    mut req: Request,
    next: Next,
) -> Response {
    req.extensions_mut().insert(Now(e.core().now()));
    next.run(req).await
}

/// What a handler needs besides path parameters and body.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `http://host:port` from the Host header, so absolute links work through whatever address the client used.
    pub base: String,
    /// The raw (still percent-encoded) path.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub now: DateTime<Utc>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Now(now) = Now::from_request_parts(parts, state).await?;
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
            .unwrap_or("127.0.0.1");
        Ok(Ctx {
            base: format!("http://{host}"),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(form_pairs).unwrap_or_default(),
            now,
        })
    }
}

impl Ctx {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub fn local_part(email: &str) -> &str {
    email.split('@').next().unwrap_or(email)
}

/// "new.hire@example.com" → "New Hire", the display name a system's SSO would take from the IdP.
pub fn name_from_email(email: &str) -> String {
    local_part(email)
        .split(['.', '_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn form_pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub fn set_header(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// A random credential such as `ya29.…` or `ghp_…`: `prefix` and `len` letters and digits.
pub fn random_token(prefix: &str, len: usize) -> String {
    let tail: String = rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}
