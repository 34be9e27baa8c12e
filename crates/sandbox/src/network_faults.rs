//! Faults below the vendor's API, the same for every emulator: outage
//! windows, connections reset after the request took effect, answers that
//! arrive too late (the client times out though the change was made), and
//! stale reads after a write. Faults in the vendor's own terms (error
//! bodies, rate limits, latency) are each emulator's `/__sandbox/faults`
//! and `/__sandbox/rate-limits` (`crate::emulator`); these are wrapped
//! around every emulator by the server, with their admin endpoint
//! `/__sandbox/network` (loopback only, input checked like the others).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::Clock;
use crate::emulator::{AdminBody, AdminError, bounds, loopback_only};

/// What an admin asks for (`POST /__sandbox/network`); a field left out is 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetworkFaultSettings {
    /// The system is down (503) for this long from now.
    pub outage_seconds: f64,
    /// Share of API requests whose connection is dropped after the request
    /// took effect, so the client never hears the answer.
    pub reset_rate: f64,
    /// Share of API requests answered only after `timeout_ms` (after the
    /// request took effect), longer than a client's timeout.
    pub timeout_rate: f64,
    pub timeout_ms: u64,
    /// The next this many writes (non-GET requests; for AWS, calls other
    /// than Get/List/Describe) are answered only after `timeout_ms`, after
    /// they took effect: a deterministic timeout.
    pub timeout_next_writes: u32,
    /// The next this many writes lose their answer to a connection reset
    /// after they took effect: a deterministic reset.
    pub reset_next_writes: u32,
    /// Eventual consistency: for this long after any write, a read the
    /// system answered before is answered the same way again (stale), as
    /// Google documents for its directory.
    pub consistency_delay_ms: u64,
}

impl NetworkFaultSettings {
    const FIELDS: &'static [&'static str] = &[
        "outage_seconds",
        "reset_rate",
        "timeout_rate",
        "timeout_ms",
        "timeout_next_writes",
        "reset_next_writes",
        "consistency_delay_ms",
    ];

    /// Reads and checks a `POST /__sandbox/network` body; the error names the field.
    pub fn parse(body: &[u8]) -> Result<Self, AdminError> {
        let b = AdminBody::parse(body, Self::FIELDS)?;
        let count = |name| {
            b.uint(name, 0..=bounds::COUNT)
                .map(|n| n.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
        };
        let outage_limit = (bounds::DELAY_MS / 1000) as f64;
        Ok(Self {
            outage_seconds: b
                .number("outage_seconds", 0.0..=outage_limit)?
                .unwrap_or(0.0),
            reset_rate: b.fraction("reset_rate")?.unwrap_or(0.0),
            timeout_rate: b.fraction("timeout_rate")?.unwrap_or(0.0),
            timeout_ms: b.uint("timeout_ms", 0..=bounds::TIMEOUT_MS)?.unwrap_or(0),
            timeout_next_writes: count("timeout_next_writes")?,
            reset_next_writes: count("reset_next_writes")?,
            consistency_delay_ms: b
                .uint("consistency_delay_ms", 0..=bounds::DELAY_MS)?
                .unwrap_or(0),
        })
    }
}

/// A read's answer, kept to be served stale after a write.
#[derive(Debug, Clone)]
struct CachedRead {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Bytes,
}

#[derive(Debug, Default)]
struct Active {
    settings: NetworkFaultSettings,
    outage_until: Option<DateTime<Utc>>,
    last_write: Option<DateTime<Utc>>,
    /// Writes still to time out (`timeout_next_writes`).
    timeouts_left: u32,
    /// Writes still to lose their answer (`reset_next_writes`).
    resets_left: u32,
    reads: std::collections::HashMap<String, CachedRead>,
}

#[derive(Clone)]
struct Faults {
    active: Arc<Mutex<Active>>,
    clock: Arc<dyn Clock>,
}

/// Wraps `router` with the network faults and their admin endpoint.
pub fn wrap(router: Router, clock: Arc<dyn Clock>) -> Router {
    let faults = Faults {
        active: Arc::new(Mutex::new(Active::default())),
        clock,
    };
    let admin = Router::new()
        .route("/__sandbox/network", get(show).post(set))
        .route_layer(middleware::from_fn(loopback_only))
        .with_state(faults.clone());
    router
        .layer(middleware::from_fn_with_state(faults, inject))
        .merge(admin)
}

async fn show(State(faults): State<Faults>) -> Response {
    let settings = faults
        .active
        .lock()
        .map(|a| a.settings.clone())
        .unwrap_or_default();
    axum::Json(settings).into_response()
}

async fn set(State(faults): State<Faults>, body: Bytes) -> Response {
    let settings = match NetworkFaultSettings::parse(&body) {
        Ok(settings) => settings,
        Err(error) => return error.into_response(),
    };
    // Bounded by `parse`, so the sum cannot overflow the clock.
    let outage_until = (settings.outage_seconds > 0.0).then(|| {
        faults.clock.now()
            + chrono::Duration::milliseconds((settings.outage_seconds * 1000.0) as i64)
    });
    if let Ok(mut active) = faults.active.lock() {
        *active = Active {
            settings: settings.clone(),
            outage_until,
            timeouts_left: settings.timeout_next_writes,
            resets_left: settings.reset_next_writes,
            ..Active::default()
        };
    }
    axum::Json(settings).into_response()
}

async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/__sandbox") {
        return next.run(request).await;
    }
    let current = faults
        .active
        .lock()
        .map(|active| (active.settings.clone(), active.outage_until))
        .ok();
    let Some((settings, outage_until)) = current else {
        return next.run(request).await;
    };
    if outage_until.is_some_and(|until| faults.clock.now() < until) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [("content-type", "application/json")],
            r#"{"error":"service unavailable"}"#,
        )
            .into_response();
    }
    let is_read = request.method() == axum::http::Method::GET;
    // AWS's JSON protocols POST every call: a Get/List/Describe is no write for the scheduled faults.
    let writes = !is_read && !aws_read(&request);
    let key = request.uri().to_string();
    if settings.consistency_delay_ms > 0 && is_read {
        return consistent_later(&faults, &settings, key, request, next).await;
    }
    let response = next.run(request).await;
    if settings.consistency_delay_ms > 0
        && !is_read
        && let Ok(mut active) = faults.active.lock()
    {
        active.last_write = Some(faults.clock.now());
    }
    let scheduled_reset = writes
        && faults.active.lock().is_ok_and(|mut active| {
            let due = active.resets_left > 0;
            active.resets_left = active.resets_left.saturating_sub(1);
            due
        });
    if scheduled_reset || (settings.reset_rate > 0.0 && rand::random::<f64>() < settings.reset_rate)
    {
        // The change was made; the answer is lost with the connection.
        let broken = broken_body();
        let (parts, _) = response.into_parts();
        return Response::from_parts(parts, broken);
    }
    let scheduled_timeout = writes
        && faults.active.lock().is_ok_and(|mut active| {
            let due = active.timeouts_left > 0;
            active.timeouts_left = active.timeouts_left.saturating_sub(1);
            due
        });
    if scheduled_timeout
        || (settings.timeout_rate > 0.0 && rand::random::<f64>() < settings.timeout_rate)
    {
        tokio::time::sleep(Duration::from_millis(settings.timeout_ms)).await;
    }
    response
}

/// An AWS JSON call (`X-Amz-Target: Service.Operation`) that only reads.
fn aws_read(request: &Request) -> bool {
    request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|target| target.rsplit('.').next())
        .is_some_and(|op| {
            ["Get", "List", "Describe"]
                .iter()
                .any(|p| op.starts_with(p))
        })
}

/// Serves a read stale (the answer cached before the last write) while the
/// last write is younger than the delay; otherwise answers and caches it.
async fn consistent_later(
    faults: &Faults,
    settings: &NetworkFaultSettings,
    key: String,
    request: Request,
    next: Next,
) -> Response {
    let now = faults.clock.now();
    let delay =
        chrono::Duration::milliseconds(i64::try_from(settings.consistency_delay_ms).unwrap_or(0));
    let stale = faults.active.lock().ok().and_then(|active| {
        let recent = active.last_write.is_some_and(|at| now - at < delay);
        if recent {
            active.reads.get(&key).cloned()
        } else {
            None
        }
    });
    if let Some(cached) = stale {
        let mut response = Response::new(Body::from(cached.body));
        *response.status_mut() = cached.status;
        *response.headers_mut() = cached.headers;
        return response;
    }
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "sandbox: answer too large to cache",
        )
            .into_response();
    };
    if parts.status.is_success()
        && let Ok(mut active) = faults.active.lock()
    {
        active.reads.insert(
            key,
            CachedRead {
                status: parts.status,
                headers: parts.headers.clone(),
                body: bytes.clone(),
            },
        );
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A body whose first read fails, which makes the server drop the
/// connection mid-answer.
fn broken_body() -> Body {
    Body::from_stream(futures::stream::once(async {
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox: connection reset",
        ))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_range_are_refused_by_name() {
        for (body, field) in [
            (r#"{"outage_seconds": 1e300}"#, "outage_seconds"),
            (r#"{"outage_seconds": -1}"#, "outage_seconds"),
            (r#"{"reset_rate": 2}"#, "reset_rate"),
            (r#"{"timeout_rate": -0.5}"#, "timeout_rate"),
            (r#"{"timeout_ms": 18446744073709551615}"#, "timeout_ms"),
            (r#"{"timeout_next_writes": -1}"#, "timeout_next_writes"),
            (
                r#"{"consistency_delay_ms": 9223372036854775807}"#,
                "consistency_delay_ms",
            ),
            (r#"{"outage": 1}"#, "outage"),
        ] {
            let err = NetworkFaultSettings::parse(body.as_bytes()).expect_err(body);
            assert!(err.message().contains(field), "{body}: {}", err.message());
        }
        let ok = NetworkFaultSettings::parse(br#"{"outage_seconds": 2.5, "timeout_ms": 1500}"#)
            .expect("valid");
        assert_eq!(ok.outage_seconds, 2.5);
        assert_eq!(ok.timeout_ms, 1500);
        assert_eq!(
            NetworkFaultSettings::parse(b""),
            Ok(NetworkFaultSettings::default())
        );
    }
}
