//! Plumbing shared by the GitLab and Slack emulators: request context, fixed-window rate limits, injected faults,
//! the loopback-only admin guard and JSON responses. Vendor rules stay in each system's module.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::okta::Faults;

use crate::clock::{Clock, SystemClock};

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in one handler must not wedge the emulator for every later test request.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The emulator's clock reading for this request, stored in extensions by the middleware.
#[derive(Debug, Clone, Copy)]
pub struct Now(pub DateTime<Utc>);

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

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let now = parts
            .extensions
            .get::<Now>()
            .map(|n| n.0)
            .ok_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())?;
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

/// "new.hire@example.com" → "New Hire", the display name GitLab's SSO would take from the IdP.
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

/// Admin requests are served only to loopback peers.
pub fn from_loopback(req: &Request) -> bool {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_none_or(|ConnectInfo(addr)| addr.ip().is_loopback())
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

/// Parses an admin body; an empty body is `{}`.
pub fn parse_admin<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    let text: &[u8] = if body.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|e| e.to_string())
}

/// An admin request the emulator cannot act on.
pub fn admin_error(message: String) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({ "error": message }),
    )
}

/// Validates injected faults the same way for every emulator.
pub fn check_faults(f: &Faults) -> Result<(), String> {
    if !(0.0..=1.0).contains(&f.error_rate) {
        return Err("error_rate must be between 0 and 1".into());
    }
    if f.error_status != 0 && !(500..=599).contains(&f.error_status) {
        return Err("error_status must be a 5xx status".into());
    }
    Ok(())
}

/// Applies injected latency, then decides whether this request fails; the status to answer with if so.
pub async fn injected_failure(faults: &Faults) -> Option<StatusCode> {
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    (faults.error_rate > 0.0 && rand::random::<f64>() < faults.error_rate).then(|| {
        StatusCode::from_u16(faults.error_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    })
}

/// Outcome of charging one request to a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    /// Requests counted in the current window, including this one.
    pub used: u32,
    pub remaining: u32,
    /// Epoch seconds when the window ends.
    pub reset: i64,
    /// Whole seconds until the reset, at least 1 (clients call `int()` on `Retry-After`).
    pub retry_after: i64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: DateTime<Utc>,
    used: u32,
}

/// Per-bucket fixed windows starting at a bucket's first request.
#[derive(Debug, Clone)]
pub struct FixedWindows {
    window_seconds: u64,
    limits: BTreeMap<String, u32>,
    windows: BTreeMap<String, Window>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowConfig {
    pub window_seconds: u64,
    pub buckets: BTreeMap<String, u32>,
}

impl FixedWindows {
    pub fn new(window_seconds: u64, limits: &[(&str, u32)]) -> Self {
        Self {
            window_seconds: window_seconds.max(1),
            limits: limits.iter().map(|(n, l)| ((*n).to_owned(), *l)).collect(),
            windows: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> WindowConfig {
        WindowConfig {
            window_seconds: self.window_seconds,
            buckets: self.limits.clone(),
        }
    }

    /// Changing limits starts fresh windows so a test's new budget applies at once.
    pub fn configure(
        &mut self,
        window_seconds: Option<u64>,
        all: Option<u32>,
        buckets: &BTreeMap<String, u32>,
    ) -> Result<(), String> {
        if let Some(unknown) = buckets.keys().find(|b| !self.limits.contains_key(*b)) {
            return Err(format!("unknown bucket {unknown:?}"));
        }
        if let Some(w) = window_seconds {
            self.window_seconds = w.max(1);
        }
        if let Some(all) = all {
            self.limits.values_mut().for_each(|l| *l = all);
        }
        for (b, l) in buckets {
            self.limits.insert(b.clone(), *l);
        }
        self.windows.clear();
        Ok(())
    }

    pub fn charge(&mut self, bucket: &str, now: DateTime<Utc>) -> Decision {
        self.charge_keyed(bucket, bucket, now)
    }

    /// Charges the window `key` against `bucket`'s limit: Slack counts each method on its own, at its tier's rate.
    pub fn charge_keyed(&mut self, bucket: &str, key: &str, now: DateTime<Utc>) -> Decision {
        let limit = self.limits.get(bucket).copied().unwrap_or(u32::MAX);
        let len = chrono::Duration::seconds(i64::try_from(self.window_seconds).unwrap_or(60));
        let w = self.windows.entry(key.to_owned()).or_insert(Window {
            start: now,
            used: 0,
        });
        if now >= w.start + len {
            *w = Window {
                start: now,
                used: 0,
            };
        }
        let end = w.start + len;
        let reset = end.timestamp() + i64::from(end.timestamp_subsec_nanos() > 0);
        let retry_after = (reset - now.timestamp()).max(1);
        let allowed = w.used < limit;
        if allowed {
            w.used += 1;
        }
        Decision {
            allowed,
            limit,
            used: w.used,
            remaining: limit.saturating_sub(w.used),
            reset,
            retry_after,
        }
    }
}

/// How to run one emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The API token clients must send; a random one in the vendor's format when `None`.
    pub token: Option<String>,
    pub clock: Arc<dyn Clock>,
    /// Rate-limit window (vendors count per minute; tests shorten it).
    pub rate_limit_window_seconds: u64,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            token: None,
            clock: Arc::new(SystemClock),
            rate_limit_window_seconds: 60,
        }
    }
}

/// The knobs tests turn on every emulator: rate-limit windows and injected faults, with their defaults.
#[derive(Debug)]
pub struct Controls {
    pub limiter: Mutex<FixedWindows>,
    pub faults: Mutex<Faults>,
    window_seconds: u64,
    buckets: &'static [(&'static str, u32)],
}

impl Controls {
    pub fn new(window_seconds: u64, buckets: &'static [(&'static str, u32)]) -> Self {
        Self {
            limiter: Mutex::new(FixedWindows::new(window_seconds, buckets)),
            faults: Mutex::new(Faults::default()),
            window_seconds,
            buckets,
        }
    }

    /// Default limits, fresh windows, no faults.
    pub fn reset(&self) {
        *lock(&self.limiter) = FixedWindows::new(self.window_seconds, self.buckets);
        *lock(&self.faults) = Faults::default();
    }
}

/// What the shared `/__sandbox` endpoints need from an emulator.
pub trait AdminState: Send + Sync + 'static {
    fn controls(&self) -> &Controls;
    /// Successful state-changing API requests, per object key.
    fn writes(&self) -> BTreeMap<String, u64>;
    /// Back to the seed with default limits and no faults.
    fn reset(&self);
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitBody {
    #[serde(default)]
    window_seconds: Option<u64>,
    #[serde(default)]
    buckets: BTreeMap<String, u32>,
    #[serde(default)]
    all: Option<u32>,
}

/// `/__sandbox/{writes,faults,rate-limits,reset}`, the same for every emulator using this module.
pub fn admin_routes<S: AdminState>() -> Router<Arc<S>> {
    Router::new()
        .route(
            "/__sandbox/writes",
            get(|State(s): State<Arc<S>>| async move {
                json_response(StatusCode::OK, &serde_json::json!({ "writes": s.writes() }))
            }),
        )
        .route(
            "/__sandbox/faults",
            get(|State(s): State<Arc<S>>| async move {
                json_response(
                    StatusCode::OK,
                    &serde_json::json!(*lock(&s.controls().faults)),
                )
            })
            .post(|State(s): State<Arc<S>>, body: Bytes| async move {
                let f: Faults = match parse_admin(&body) {
                    Ok(f) => f,
                    Err(e) => return admin_error(e),
                };
                if let Err(e) = check_faults(&f) {
                    return admin_error(e);
                }
                *lock(&s.controls().faults) = f.clone();
                json_response(StatusCode::OK, &serde_json::json!(f))
            }),
        )
        .route(
            "/__sandbox/rate-limits",
            get(|State(s): State<Arc<S>>| async move {
                json_response(
                    StatusCode::OK,
                    &serde_json::json!(lock(&s.controls().limiter).config()),
                )
            })
            .post(|State(s): State<Arc<S>>, body: Bytes| async move {
                let b: RateLimitBody = match parse_admin(&body) {
                    Ok(b) => b,
                    Err(e) => return admin_error(e),
                };
                let mut limiter = lock(&s.controls().limiter);
                match limiter.configure(b.window_seconds, b.all, &b.buckets) {
                    Ok(()) => json_response(StatusCode::OK, &serde_json::json!(limiter.config())),
                    Err(e) => {
                        json_response(StatusCode::BAD_REQUEST, &serde_json::json!({ "error": e }))
                    }
                }
            }),
        )
        .route(
            "/__sandbox/reset",
            post(|State(s): State<Arc<S>>| async move {
                s.reset();
                StatusCode::NO_CONTENT.into_response()
            }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_exhausts_then_resets_and_says_how_long_to_wait() {
        let mut w = FixedWindows::new(2, &[("api", 1)]);
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        assert!(w.charge("api", t0).allowed);
        let refused = w.charge("api", t0);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, 2);
        assert!(w.charge("api", t0 + chrono::Duration::seconds(2)).allowed);
        assert!(
            w.configure(None, None, &[("nope".to_owned(), 1)].into())
                .is_err()
        );
    }
}
