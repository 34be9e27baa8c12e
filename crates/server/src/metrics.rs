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
