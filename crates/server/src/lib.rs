//! grantflow's HTTP door (`grantflow serve`): the authenticated JSON API
//! under `/api/v1` (with its OpenAPI 3.1 document at
//! `/api/v1/openapi.json`), event hooks at `/hooks/{system}/{connection}`,
//! `/metrics` for Prometheus, and the supervised background work: syncs on
//! an interval and on hooks, drift checks, and the worker that runs plans
//! queued through the API, all in this process.
//!
//! Architecture invariant: handlers parse the request, authorize through
//! the service's permission table (`grantflow_service::access`), call the
//! service and render its answer. No business rule lives here.

pub mod api;
mod auth;
mod hooks;
mod metrics;
pub mod problem;
mod schedule;

pub use auth::Authenticated;
pub use problem::Problem;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use grantflow_model::ConnectionName;
use grantflow_service::{ApplyOptions, Service};
use tokio::sync::{Mutex, mpsc, watch};

/// How `grantflow serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Seconds between scheduled syncs (0: only on event hooks and API calls).
    pub sync_interval_seconds: u64,
    /// Seconds between drift checks, each after a sync (0: only after the other syncs).
    pub drift_interval_seconds: u64,
    /// The in-process worker that runs queued plans; `None` leaves them to
    /// `grantflow worker` processes.
    pub worker: Option<ApplyOptions>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8787".into(),
            sync_interval_seconds: 300,
            drift_interval_seconds: 0,
            worker: Some(ApplyOptions::default()),
        }
    }
}

/// What every handler and background task shares.
pub(crate) struct Shared {
    pub service: Service,
    /// One sync at a time: scheduled, hook-triggered and API syncs share the store's cursor.
    pub syncing: Mutex<()>,
    pub wake: mpsc::UnboundedSender<ConnectionName>,
    pub metrics: metrics::Metrics,
}

/// A server started with [`start`].
pub struct Running {
    pub address: SocketAddr,
    stop: watch::Sender<bool>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops the server and its background work, and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.served.await??;
        Ok(())
    }

    /// Waits until the server stops (on `stop_when` given to [`serve`]).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.served.await??;
        Ok(())
    }
}

/// The OpenAPI document of `/api/v1`, as served and as committed in
/// `docs/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::routes().1
}

/// Binds, starts the background work and serves until [`Running::stop`].
pub async fn start(service: Service, options: ServeOptions) -> anyhow::Result<Running> {
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", options.listen))?;
    let address = listener.local_addr()?;
    let (wake, woken) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        service,
        syncing: Mutex::new(()),
        wake,
        metrics: metrics::Metrics::new(),
    });
    let (stop, stopped) = watch::channel(false);
    schedule::start(shared.clone(), woken, &options, stopped.clone());
    let app = router(shared);
    let mut stopped = stopped;
    let served = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stopped| *stopped).await;
            })
            .await
    });
    Ok(Running {
        address,
        stop,
        served,
    })
}

/// `grantflow serve`: starts, says where it listens, and serves until
/// `stop_when` resolves.
pub async fn serve(
    service: Service,
    options: ServeOptions,
    stop_when: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let hooks: Vec<(String, String)> = service
        .connectors
        .iter()
        .filter(|(_, connector)| connector.hook_receiver().is_some())
        .map(|(name, connector)| (name.to_string(), connector.describe().system.to_string()))
        .collect();
    let running = start(service, options).await?;
    let address = running.address;
    println!("grantflow serve: listening on http://{address}");
    println!("  API: http://{address}/api/v1 (OpenAPI: http://{address}/api/v1/openapi.json)");
    println!("  drift metrics for Prometheus: http://{address}/metrics");
    for (name, system) in hooks {
        println!("  event hooks for {name}: http://{address}/hooks/{system}/{name}");
    }
    stop_when.await;
    running.stop().await
}

fn router(shared: Arc<Shared>) -> Router {
    // Credentials are resolved for the API only: event hooks authenticate
    // with their vendor's own scheme.
    let api = api::routes().0.layer(axum::middleware::from_fn_with_state(
        shared.clone(),
        auth::authenticate,
    ));
    Router::new()
        .route(
            "/hooks/{system}/{connection}",
            get(hooks::verify).post(hooks::deliver),
        )
        .route("/metrics", get(metrics::metrics))
        .merge(api)
        .route("/api/v1/openapi.json", get(api::openapi_json))
        .fallback(api::no_route)
        .method_not_allowed_fallback(api::no_method)
        .with_state(shared)
}
