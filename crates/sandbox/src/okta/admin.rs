//! `/__sandbox/*`: test-only control of the Okta emulator (write counts, faults, rate limits, reset, counters); no Okta auth.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::context::{json_response, ok};
use super::state::{Faults, Okta, lock};

fn bad_request(msg: String) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({ "error": msg }))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, String> {
    let text: &[u8] = if body.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|e| e.to_string())
}

pub async fn writes(State(o): State<Arc<Okta>>) -> Response {
    ok(&json!({ "writes": lock(&o.inner).writes }))
}

pub async fn counters(State(o): State<Arc<Okta>>) -> Response {
    ok(&json!(lock(&o.inner).counters))
}

pub async fn get_faults(State(o): State<Arc<Okta>>) -> Response {
    ok(&json!(*lock(&o.faults)))
}

pub async fn set_faults(State(o): State<Arc<Okta>>, body: Bytes) -> Response {
    let f: Faults = match parse(&body) {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    if !(0.0..=1.0).contains(&f.error_rate) {
        return bad_request("error_rate must be between 0 and 1".into());
    }
    if f.error_status != 0 && !(500..=599).contains(&f.error_status) {
        return bad_request("error_status must be a 5xx status".into());
    }
    *lock(&o.faults) = f.clone();
    ok(&json!(f))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitBody {
    #[serde(default)]
    window_seconds: Option<u64>,
    #[serde(default)]
    buckets: BTreeMap<String, u32>,
    #[serde(default)]
    all: Option<u32>,
    #[serde(default)]
    concurrency: Option<u32>,
}

pub async fn get_rate_limits(State(o): State<Arc<Okta>>) -> Response {
    ok(&json!(lock(&o.limiter).config()))
}

pub async fn set_rate_limits(State(o): State<Arc<Okta>>, body: Bytes) -> Response {
    let b: RateLimitBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(e),
    };
    let mut limiter = lock(&o.limiter);
    match limiter.configure(b.window_seconds, b.all, &b.buckets, b.concurrency) {
        Ok(()) => ok(&json!(limiter.config())),
        Err(e) => bad_request(e),
    }
}

pub async fn reset(State(o): State<Arc<Okta>>) -> Response {
    o.reset();
    StatusCode::NO_CONTENT.into_response()
}
