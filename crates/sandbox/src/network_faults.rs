//! Faults below the vendor's API, the same for every emulator: outage
//! windows, connections reset after the request took effect, and answers
//! that arrive too late (the client times out though the change was made).
//! Vendor-specific faults (error bodies, rate limits, latency) live in each
//! emulator; these are wrapped around every emulator by the server.

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
use serde::{Deserialize, Serialize};

use crate::clock::Clock;

/// What an admin asks for (`POST /__sandbox/network`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFaultSettings {
    /// The system is down (503) for this long from now.
    #[serde(default)]
    pub outage_seconds: f64,
    /// Share of API requests whose connection is dropped after the request
    /// took effect, so the client never hears the answer.
    #[serde(default)]
    pub reset_rate: f64,
    /// Share of API requests answered only after `timeout_ms` (after the
    /// request took effect), longer than a client's timeout.
    #[serde(default)]
    pub timeout_rate: f64,
    #[serde(default)]
    pub timeout_ms: u64,
}

#[derive(Debug, Default)]
struct Active {
    settings: NetworkFaultSettings,
    outage_until: Option<DateTime<Utc>>,
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
    let settings: NetworkFaultSettings = match serde_json::from_slice(&body) {
        Ok(settings) => settings,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("bad network fault settings: {error}"),
            )
                .into_response();
        }
    };
    let rates_valid = [settings.reset_rate, settings.timeout_rate]
        .iter()
        .all(|rate| (0.0..=1.0).contains(rate));
    if !rates_valid || settings.outage_seconds < 0.0 {
        return (
            StatusCode::BAD_REQUEST,
            "rates must be within 0..=1 and durations non-negative",
        )
            .into_response();
    }
    let outage_until = (settings.outage_seconds > 0.0).then(|| {
        faults.clock.now()
            + chrono::Duration::milliseconds((settings.outage_seconds * 1000.0) as i64)
    });
    if let Ok(mut active) = faults.active.lock() {
        *active = Active {
            settings: settings.clone(),
            outage_until,
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
    let response = next.run(request).await;
    if settings.reset_rate > 0.0 && rand::random::<f64>() < settings.reset_rate {
        // The change was made; the answer is lost with the connection.
        let broken = broken_body();
        let (parts, _) = response.into_parts();
        return Response::from_parts(parts, broken);
    }
    if settings.timeout_rate > 0.0 && rand::random::<f64>() < settings.timeout_rate {
        tokio::time::sleep(Duration::from_millis(settings.timeout_ms)).await;
    }
    response
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
