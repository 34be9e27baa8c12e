//! `grantflow serve`: syncs every connection on an interval and receives
//! event hooks at `/hooks/{system}/{connection}`. A hook delivery is
//! verified, authenticated and de-duplicated by its id, then triggers an
//! incremental sync of its connection (the change feed is the source of
//! truth, so late, repeated or out-of-order deliveries cannot corrupt state).
//! Every sync is followed by a drift check; `/metrics` serves the open drift
//! findings per connection and kind for Prometheus.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use grantflow_model::ConnectionName;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::{Mutex, mpsc};

use grantflow_service::Service;

use crate::app::actor;

struct Shared {
    service: Service,
    /// One sync at a time: the interval and hook-triggered syncs share the store's cursor.
    syncing: Mutex<()>,
    wake: mpsc::UnboundedSender<ConnectionName>,
    metrics: DriftMetrics,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    connection: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: String,
}

/// What Prometheus scrapes at `/metrics`.
struct DriftMetrics {
    registry: Registry,
    open: Family<FindingLabels, Gauge>,
    checks: Counter,
    failed_checks: Counter,
    /// Background tasks that failed and were started again.
    restarts: Family<TaskLabels, Counter>,
}

impl DriftMetrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let open = Family::<FindingLabels, Gauge>::default();
        let checks = Counter::default();
        let failed_checks = Counter::default();
        let restarts = Family::<TaskLabels, Counter>::default();
        registry.register(
            "grantflow_task_restarts",
            "Background tasks (schedules, hook-triggered syncs) that failed and were restarted",
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

pub async fn run(
    service: Service,
    listen: &str,
    interval_seconds: u64,
    drift_interval_seconds: u64,
) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {listen}: {error}"))?;
    let address = listener.local_addr()?;
    let (wake, woken) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        service,
        syncing: Mutex::new(()),
        wake,
        metrics: DriftMetrics::new(),
    });
    let router = Router::new()
        .route("/hooks/{system}/{connection}", get(verify).post(deliver))
        .route("/metrics", get(metrics))
        .with_state(shared.clone());
    println!("grantflow serve: listening on http://{address}");
    println!("  drift metrics for Prometheus: http://{address}/metrics");
    for (name, connector) in &shared.service.connectors {
        if connector.hook_receiver().is_some() {
            println!(
                "  event hooks for {name}: http://{address}/hooks/{}/{name}",
                connector.describe().system
            );
        }
    }
    let woken = Arc::new(Mutex::new(woken));
    let hooks = shared.clone();
    supervise(shared.clone(), "hook-syncs", move || {
        let (hooks, woken) = (hooks.clone(), woken.clone());
        async move {
            while let Some(connection) = woken.lock().await.recv().await {
                run_sync(&hooks, Some(connection.as_str()), "event hook").await;
            }
        }
    });
    if interval_seconds > 0 {
        let scheduled = shared.clone();
        supervise(shared.clone(), "sync-schedule", move || {
            let scheduled = scheduled.clone();
            async move {
                let mut ticks = tokio::time::interval(Duration::from_secs(interval_seconds));
                loop {
                    ticks.tick().await;
                    run_sync(&scheduled, None, "schedule").await;
                }
            }
        });
    }
    if drift_interval_seconds > 0 {
        let scheduled = shared.clone();
        supervise(shared.clone(), "drift-schedule", move || {
            let scheduled = scheduled.clone();
            async move {
                let mut ticks = tokio::time::interval(Duration::from_secs(drift_interval_seconds));
                // The first tick is immediate; the sync schedule already starts with a check.
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    run_sync(&scheduled, None, "drift schedule").await;
                }
            }
        });
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs a background task, and starts it again (after a pause) whenever it
/// ends by failing or panicking, saying so in the log and the metrics: a
/// schedule must not stop silently while `/metrics` keeps answering.
fn supervise<F, Fut>(shared: Arc<Shared>, task: &'static str, start: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let outcome = tokio::spawn(start()).await;
            let why = match outcome {
                Ok(()) => "ended".to_string(),
                Err(error) if error.is_panic() => "panicked".to_string(),
                Err(error) => error.to_string(),
            };
            shared
                .metrics
                .restarts
                .get_or_create(&TaskLabels {
                    task: task.to_string(),
                })
                .inc();
            eprintln!("task {task} {why}; restarting it in 1 s");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// One sync (incremental where possible), with its outcome on the console.
async fn run_sync(shared: &Shared, only: Option<&str>, why: &str) {
    let _one_at_a_time = shared.syncing.lock().await;
    match shared
        .service
        .sync(&actor(), only, false, &grantflow_service::sync::Quiet)
        .await
    {
        Ok(done) => {
            for synced in done {
                let record = &synced.record;
                let how = match synced.incremental {
                    Some(events) => format!("{events} change event(s)"),
                    None => "full".to_string(),
                };
                println!(
                    "sync ({why}) {}: {how}; {} accounts, {} grants [sync {}]",
                    record.connection, record.accounts, record.grants, record.id
                );
            }
        }
        Err(error) => {
            eprintln!("sync ({why}) failed: {error:#}");
            return;
        }
    }
    check_drift(shared, why).await;
}

/// A drift check on what was just synced, with its outcome on the console
/// and in the metrics.
async fn check_drift(shared: &Shared, why: &str) {
    let service = &shared.service;
    match service.check_drift(&service.config.policies, 8).await {
        Ok(checked) => {
            shared.metrics.checks.inc();
            shared.metrics.open.clear();
            for ((connection, kind), count) in &checked.open.open {
                shared
                    .metrics
                    .open
                    .get_or_create(&FindingLabels {
                        connection: connection.clone(),
                        kind: kind.clone(),
                    })
                    .set(*count);
            }
            println!(
                "drift ({why}): {} finding(s), {} new, {} resolved{}{}",
                checked.report.drift().count(),
                checked.opened.len(),
                checked.resolved.len(),
                checked
                    .remediated
                    .as_ref()
                    .map(|r| format!("; remediated with plan {}", r.plan))
                    .unwrap_or_default(),
                checked
                    .awaiting_approval
                    .as_ref()
                    .map(|p| format!("; plan {p} awaits approval"))
                    .unwrap_or_default(),
            );
        }
        Err(error) => {
            shared.metrics.failed_checks.inc();
            eprintln!("drift ({why}) failed: {error:#}");
        }
    }
}

/// Prometheus text exposition.
async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &shared.metrics.registry) {
        Ok(()) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(error) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string()),
    }
}

fn lower_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.as_str().to_ascii_lowercase(),
                value.to_str().ok()?.to_string(),
            ))
        })
        .collect()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The one-time verification GET.
async fn verify(
    State(shared): State<Arc<Shared>>,
    Path((system, connection)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(receiver) = receiver(&shared, &system, &connection) else {
        return refuse(StatusCode::NOT_FOUND, "no event hook configured here");
    };
    match receiver.verification(&lower_headers(&headers)) {
        Some(answer) => Json(answer).into_response(),
        None => refuse(StatusCode::BAD_REQUEST, "not a verification request"),
    }
}

fn receiver<'a>(
    shared: &'a Shared,
    system: &str,
    connection: &str,
) -> Option<&'a dyn grantflow_connectors::HookReceiver> {
    let connector = shared
        .service
        .connectors
        .get(&ConnectionName::new(connection))?;
    if connector.describe().system.as_str() != system {
        return None;
    }
    connector.hook_receiver()
}

/// A delivery: authenticated, de-duplicated on its id, then a sync is queued.
/// The answer comes at once; the vendor's timeout is short (Okta: 3 s).
async fn deliver(
    State(shared): State<Arc<Shared>>,
    Path((system, connection)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(receiver) = receiver(&shared, &system, &connection) else {
        return refuse(StatusCode::NOT_FOUND, "no event hook configured here");
    };
    if !receiver.authenticate(&lower_headers(&headers)) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "the delivery is not authenticated",
        );
    }
    let delivery = match receiver.delivery(&body) {
        Ok(delivery) => delivery,
        Err(failure) => return refuse(StatusCode::BAD_REQUEST, &failure.message()),
    };
    match shared
        .service
        .store
        .first_delivery(&connection, &delivery.id)
        .await
    {
        Ok(true) => {
            println!(
                "event hook {connection}: delivery {} with {} event(s)",
                delivery.id, delivery.events
            );
            let _ = shared.wake.send(ConnectionName::new(connection));
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => {
            println!(
                "event hook {connection}: delivery {} already handled; ignored",
                delivery.id
            );
            StatusCode::NO_CONTENT.into_response()
        }
        // Answering 5xx makes the vendor retry, which is what we want when the store is unavailable.
        Err(error) => refuse(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    }
}
