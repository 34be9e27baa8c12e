//! Shared pieces of the `/__sandbox` admin endpoints of the emulators added after Okta: body parsing, 400s,
//! the fault settings every emulator takes, and the loopback-only guard.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// A random credential such as `ya29.…` or `ghp_…`, for emulators started without a fixed one.
pub(crate) fn random_token(prefix: &str, len: usize) -> String {
    use rand::Rng;
    let tail: String = rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

pub(crate) fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, json!({ "error": msg }).to_string()).into_response()
}

/// An admin body; an empty one is `{}`.
pub(crate) fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, String> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|e| e.to_string())
}

/// `error_rate` in 0..=1 and `error_status` a 5xx (or 0 for the emulator's default).
pub(crate) fn check_faults(error_rate: f64, error_status: u16) -> Result<(), String> {
    if !(0.0..=1.0).contains(&error_rate) {
        return Err("error_rate must be between 0 and 1".into());
    }
    if error_status != 0 && !(500..=599).contains(&error_status) {
        return Err("error_status must be a 5xx status".into());
    }
    Ok(())
}

/// Runs an admin request only when it comes from loopback; any other request is handed back untouched.
pub(crate) async fn admin_only_from_loopback(
    req: Request,
    next: Next,
) -> Result<Response, (Request, Next)> {
    if !req.uri().path().starts_with("/__sandbox") {
        return Err((req, next));
    }
    let loopback = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_none_or(|ConnectInfo(addr)| addr.ip().is_loopback());
    Ok(if loopback {
        next.run(req).await
    } else {
        StatusCode::FORBIDDEN.into_response()
    })
}
