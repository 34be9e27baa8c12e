//! The `/__sandbox` admin routes every emulator answers the same way, and the checks on their input.
//!
//! | route                              | body / answer                                                        |
//! |------------------------------------|----------------------------------------------------------------------|
//! | `GET /__sandbox/writes`            | `{"writes": {"<object key>": n}}`                                     |
//! | `GET`/`POST /__sandbox/faults`     | [`Faults`](super::Faults) (Google adds `member_visibility_delay_ms`); a POST replaces them |
//! | `GET`/`POST /__sandbox/rate-limits`| the emulator's [`RateLimits`](super::RateLimits); a POST changes the fields it names |
//! | `GET /__sandbox/calls`            | `{"buckets": {"<bucket>": {"calls": n, "refused": n}}}`: requests charged per bucket |
//! | `POST /__sandbox/reset`            | back to the seed, default limits, no faults; 204                     |
//! | `POST /__sandbox/hand-change`      | `crate::hand_change`; 204                                            |
//!
//! Admin requests are served to loopback peers only. Every body is checked before anything changes: an
//! unknown field, a value of the wrong type or out of its range ([`bounds`]) is a 400 `{"error": "…"}` that
//! names the field, and the emulator keeps its settings.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Map, Value, json};

use super::{Emulator, json_response};
use crate::hand_change;

/// The ranges admin settings must fall in: wide enough for any test, narrow enough that no later request
/// overflows a clock or a counter, or sleeps for ever.
pub mod bounds {
    /// Rate-limit windows: up to a day (GitHub's primary window is an hour).
    pub const WINDOW_SECONDS: u64 = 86_400;
    /// Requests per window, per bucket.
    pub const LIMIT: u64 = 1_000_000;
    /// Latency added to every request.
    pub const LATENCY_MS: u64 = 60_000;
    /// How late an answer may come (a timeout the client should hit).
    pub const TIMEOUT_MS: u64 = 300_000;
    /// Delays before a write is visible, and outages.
    pub const DELAY_MS: u64 = 3_600_000;
    /// Counts of the next requests to treat specially (throttle, reset, time out, keep in progress).
    pub const COUNT: u64 = 10_000;
}

/// An admin request the emulator cannot act on: 400 `{"error": message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError(String);

impl AdminError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// `field` is wrong: `"<field> <problem>"`.
    pub fn field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self(format!("{field} {problem}"))
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        json_response(StatusCode::BAD_REQUEST, &json!({ "error": self.0 }))
    }
}

impl From<String> for AdminError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

/// A JSON object body of an admin request, checked field by field. An empty body is `{}`; a field set to
/// `null` counts as left out.
#[derive(Debug, Clone)]
pub struct AdminBody {
    fields: Map<String, Value>,
}

impl AdminBody {
    /// Parses `body` and refuses any field not in `known`.
    pub fn parse(body: &[u8], known: &[&str]) -> Result<Self, AdminError> {
        let fields = if body.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(fields)) => fields,
                Ok(other) => {
                    return Err(AdminError::new(format!(
                        "the body must be a JSON object, not {other}"
                    )));
                }
                Err(e) => return Err(AdminError::new(format!("the body is not JSON: {e}"))),
            }
        };
        if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(AdminError::new(format!(
                "unknown field {unknown:?}: expected {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        }
        Ok(Self { fields })
    }

    fn value(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).filter(|v| !v.is_null())
    }

    /// A whole number in `range`.
    pub fn uint(&self, name: &str, range: RangeInclusive<u64>) -> Result<Option<u64>, AdminError> {
        self.value(name)
            .map(|v| whole_number(name, v, &range))
            .transpose()
    }

    /// `true` or `false`.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, AdminError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(other) => Err(AdminError::field(
                name,
                format!("must be true or false, not {other}"),
            )),
        }
    }

    /// A share from 0 to 1.
    pub fn fraction(&self, name: &str) -> Result<Option<f64>, AdminError> {
        self.number(name, 0.0..=1.0)
    }

    /// A finite number in `range`.
    pub fn number(
        &self,
        name: &str,
        range: RangeInclusive<f64>,
    ) -> Result<Option<f64>, AdminError> {
        let Some(v) = self.value(name) else {
            return Ok(None);
        };
        match v.as_f64() {
            Some(n) if n.is_finite() && range.contains(&n) => Ok(Some(n)),
            _ => Err(AdminError::field(
                name,
                format!(
                    "must be a number from {} to {}, not {v}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    /// A string; one of `allowed` unless that is empty.
    pub fn string(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, AdminError> {
        let Some(v) = self.value(name) else {
            return Ok(None);
        };
        match v.as_str() {
            Some(s) if allowed.is_empty() || allowed.contains(&s) => Ok(Some(s.to_owned())),
            Some(_) if !allowed.is_empty() => Err(AdminError::field(
                name,
                format!("must be one of {}, not {v}", allowed.join(", ")),
            )),
            _ => Err(AdminError::field(
                name,
                format!("must be a string, not {v}"),
            )),
        }
    }

    /// `{"<bucket>": limit}` for buckets among `known`, each limit from 0 to [`bounds::LIMIT`].
    pub fn limits(
        &self,
        name: &str,
        known: &[&str],
    ) -> Result<std::collections::BTreeMap<String, u32>, AdminError> {
        let Some(v) = self.value(name) else {
            return Ok(Default::default());
        };
        let Some(map) = v.as_object() else {
            return Err(AdminError::field(
                name,
                format!("must be an object of bucket limits, not {v}"),
            ));
        };
        map.iter()
            .map(|(bucket, limit)| {
                if !known.contains(&bucket.as_str()) {
                    return Err(AdminError::new(format!(
                        "unknown bucket {bucket:?} in {name}: expected {}",
                        known.join(", ")
                    )));
                }
                let field = format!("{name}.{bucket}");
                let limit = whole_number(&field, limit, &(0..=bounds::LIMIT))?;
                Ok((bucket.clone(), u32::try_from(limit).unwrap_or(u32::MAX)))
            })
            .collect()
    }
}

fn whole_number(name: &str, v: &Value, range: &RangeInclusive<u64>) -> Result<u64, AdminError> {
    match v.as_u64() {
        Some(n) if range.contains(&n) => Ok(n),
        _ => Err(AdminError::field(
            name,
            format!(
                "must be a whole number from {} to {}, not {v}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// Serves `/__sandbox` requests to loopback peers only; 403 for anyone else.
pub async fn loopback_only(req: Request, next: Next) -> Response {
    let loopback = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_none_or(|ConnectInfo(addr)| addr.ip().is_loopback());
    if loopback {
        next.run(req).await
    } else {
        StatusCode::FORBIDDEN.into_response()
    }
}

/// The shared admin routes, the emulator's own ([`Emulator::admin_routes`]), and a 404 naming them for any
/// other `/__sandbox` path; all loopback only.
pub(super) fn routes<E: Emulator>() -> Router<Arc<E>> {
    Router::new()
        .route("/__sandbox/writes", get(writes::<E>))
        .route("/__sandbox/faults", get(faults::<E>).post(set_faults::<E>))
        .route(
            "/__sandbox/rate-limits",
            get(limits::<E>).post(set_limits::<E>),
        )
        .route("/__sandbox/calls", get(calls::<E>))
        .route("/__sandbox/reset", post(reset::<E>))
        .route("/__sandbox/hand-change", post(hand_change::<E>))
        .merge(E::admin_routes())
        .route("/__sandbox/{*rest}", any(unknown::<E>))
        .route_layer(axum::middleware::from_fn(loopback_only))
}

fn answer(result: Result<Value, AdminError>) -> Response {
    match result {
        Ok(settings) => json_response(StatusCode::OK, &settings),
        Err(e) => e.into_response(),
    }
}

async fn writes<E: Emulator>(State(e): State<Arc<E>>) -> Response {
    json_response(StatusCode::OK, &json!({ "writes": e.core().writes() }))
}

async fn faults<E: Emulator>(State(e): State<Arc<E>>) -> Response {
    json_response(StatusCode::OK, &e.core().faults_json())
}

async fn set_faults<E: Emulator>(State(e): State<Arc<E>>, body: Bytes) -> Response {
    let core = e.core();
    answer(AdminBody::parse(&body, core.fault_fields()).and_then(|b| core.set_faults(&b)))
}

async fn limits<E: Emulator>(State(e): State<Arc<E>>) -> Response {
    json_response(StatusCode::OK, &e.core().limits_json())
}

async fn set_limits<E: Emulator>(State(e): State<Arc<E>>, body: Bytes) -> Response {
    let core = e.core();
    answer(AdminBody::parse(&body, core.limit_fields()).and_then(|b| core.set_limits(&b)))
}

async fn calls<E: Emulator>(State(e): State<Arc<E>>) -> Response {
    answer(Ok(e.core().calls_json()))
}

async fn reset<E: Emulator>(State(e): State<Arc<E>>) -> Response {
    e.reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn hand_change<E: Emulator>(State(e): State<Arc<E>>, body: Bytes) -> Response {
    let applied = match hand_change::parse(&body, E::LEGACY_HAND_CHANGES) {
        Ok(Some(change)) => e.hand_change(&change),
        Ok(None) => e.legacy_hand_change(&body),
        Err(error) => Err(error),
    };
    match applied {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => AdminError::new(error).into_response(),
    }
}

async fn unknown<E: Emulator>(req: Request) -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({ "error": format!(
            "no admin endpoint {} on {}: the shared ones are writes, faults, rate-limits, calls, reset, hand-change and network",
            req.uri().path(),
            E::KIND
        )}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, known: &[&str]) -> Result<AdminBody, AdminError> {
        AdminBody::parse(text.as_bytes(), known)
    }

    #[test]
    fn an_empty_body_is_an_empty_object_and_other_shapes_are_refused() {
        let body = parse("  ", &["a"]).expect("empty");
        assert_eq!(body.uint("a", 0..=1), Ok(None));
        assert!(
            parse("[1]", &["a"])
                .expect_err("array")
                .message()
                .contains("JSON object")
        );
        assert!(
            parse("{", &["a"])
                .expect_err("bad")
                .message()
                .contains("not JSON")
        );
        let unknown = parse(r#"{"b": 1}"#, &["a"]).expect_err("unknown");
        assert!(unknown.message().contains("\"b\""), "{}", unknown.message());
        assert!(
            unknown.message().contains("expected a"),
            "{}",
            unknown.message()
        );
    }

    #[test]
    fn numbers_out_of_range_or_of_the_wrong_kind_name_their_field() {
        let body = parse(
            r#"{"w": 9223372036854775807, "m": 18446744073709551615, "neg": -1, "frac": 1.5,
                "rate": 1.01, "nrate": -0.1, "s": "x", "null": null, "big": 1e300}"#,
            &["w", "m", "neg", "frac", "rate", "nrate", "s", "null", "big"],
        )
        .expect("body");
        for field in ["w", "m", "neg", "frac", "s", "big"] {
            let err = body.uint(field, 1..=100).expect_err(field);
            assert!(err.message().starts_with(field), "{}", err.message());
            assert!(err.message().contains("from 1 to 100"), "{}", err.message());
        }
        for field in ["rate", "nrate", "s"] {
            let err = body.fraction(field).expect_err(field);
            assert!(err.message().starts_with(field), "{}", err.message());
        }
        assert_eq!(body.uint("null", 1..=100), Ok(None));
        assert_eq!(body.fraction("null"), Ok(None));
        assert!(body.number("big", 0.0..=10.0).is_err());
    }

    #[test]
    fn strings_and_bucket_limits_are_checked_by_name() {
        let body = parse(
            r#"{"reason": "nope", "buckets": {"api": 5, "x": 1}, "bad": {"api": 2000000}}"#,
            &["reason", "buckets", "bad"],
        )
        .expect("body");
        let err = body.string("reason", &["a", "b"]).expect_err("choice");
        assert!(
            err.message().contains("reason must be one of a, b"),
            "{}",
            err.message()
        );
        let err = body
            .limits("buckets", &["api"])
            .expect_err("unknown bucket");
        assert!(err.message().contains("\"x\""), "{}", err.message());
        let err = body.limits("bad", &["api"]).expect_err("too high");
        assert!(err.message().starts_with("bad.api"), "{}", err.message());
    }
}
