//! What Prometheus scrapes at `/metrics`: open drift findings, drift checks,
//! and background tasks restarted after a failure.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::Shared;
use crate::problem::Problem;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct FindingLabels {
    pub connection: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TaskLabels {
    pub task: String,
}

pub(crate) struct Metrics {
    registry: Registry,
    pub open: Family<FindingLabels, Gauge>,
    pub checks: Counter,
    pub failed_checks: Counter,
    /// Background tasks that failed and were started again.
    pub restarts: Family<TaskLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let open = Family::<FindingLabels, Gauge>::default();
        let checks = Counter::default();
        let failed_checks = Counter::default();
        let restarts = Family::<TaskLabels, Counter>::default();
        registry.register(
            "grantflow_task_restarts",
            "Background tasks (schedules, hook-triggered syncs, the worker) that failed and were restarted",
            restarts.clone(),
        );
        registry.register(
            "grantflow_drift_open_findings",
            "Drift findings open after the last check, per connection and kind",
            open.clone(),
        );
        registry.register(
            "grantflow_drift_checks",
            "Drift checks completed",
            checks.clone(),
        );
        registry.register(
            "grantflow_drift_failed_checks",
            "Drift checks that could not run (policy errors, store or sync failures)",
            failed_checks.clone(),
        );
        Self {
            registry,
            open,
            checks,
            failed_checks,
            restarts,
        }
    }
}

/// Prometheus text exposition.
pub(crate) async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &shared.metrics.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(error) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            error.to_string(),
        )
        .into_response(),
    }
}

/// `/metrics` on the main listener: Prometheus presents the configured
/// metrics token, or an API token with the viewer role. Drift counts say
/// which systems are out of policy, which an outsider should not learn.
pub(crate) async fn guarded_metrics(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(crate::auth::bearer);
    let Some(presented) = presented else {
        return Problem::unauthenticated(
            "/metrics needs `Authorization: Bearer <token>` (server.metrics_token, or an API token with the viewer role); server.metrics_listen serves it on a separate address instead",
        )
        .into_response();
    };
    use secrecy::ExposeSecret;
    let is_metrics_token = shared.metrics_token.as_ref().is_some_and(|expected| {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            expected.expose_secret().as_bytes(),
            presented.expose_secret().as_bytes(),
        )
        .is_ok()
    });
    if !is_metrics_token {
        match grantflow_service::tokens::authenticate(&shared.service.store, &presented).await {
            Ok(Ok(actor)) if actor.has(&grantflow_service::Role::Viewer) => {}
            Ok(Ok(_)) => {
                return Problem::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "reading /metrics needs the viewer role",
                )
                .into_response();
            }
            Ok(Err(failure)) => {
                return Problem::unauthenticated(failure.to_string()).into_response();
            }
            Err(error) => return Problem::from(error).into_response(),
        }
    }
    metrics(State(shared)).await
}
