//! grantflow's HTTP door (`grantflow serve`): the authenticated JSON API
//! under `/api/v1` (with its OpenAPI 3.1 document at
//! `/api/v1/openapi.json`), event hooks at `/hooks/{system}/{connection}`,
//! `/metrics` for Prometheus, the web console under `/console/`, and the supervised background work: syncs on
//! an interval and on hooks, drift checks, and the worker that runs plans
//! queued through the API, all in this process.
//!
//! Architecture invariant: handlers parse the request, authorize through
//! the service's permission table (`grantflow_service::access`), call the
//! service and render its answer. No business rule lives here.

pub mod api;
mod auth;
mod console;
pub mod door;
mod event_hooks;
mod hooks;
mod metrics;
pub mod problem;
mod schedule;
mod session;
mod slack;

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
    /// The bearer token Prometheus presents on `/metrics` (server.metrics_token).
    pub metrics_token: Option<secrecy::SecretString>,
    /// People signed in with OpenID Connect.
    pub sessions: session::Sessions,
    /// The flow files, reloaded by the flow worker when they change.
    pub flows: Arc<grantflow_service::flows::LoadedFlows>,
}

/// A server started with [`start`].
pub struct Running {
    pub address: SocketAddr,
    /// Where `/metrics` is served without credentials (server.metrics_listen).
    pub metrics_address: Option<SocketAddr>,
    /// Whether the door speaks TLS.
    pub secure: bool,
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
/// People sign in through the configured `sign_in:` provider, discovered now.
pub async fn start(service: Service, options: ServeOptions) -> anyhow::Result<Running> {
    let sign_in = match &service.config.sign_in {
        Some(config) => Some(
            grantflow_service::signin::SignIn::discover(config)
                .await
                .map_err(|error| anyhow::anyhow!("sign_in: {error}"))?,
        ),
        None => None,
    };
    start_with_sign_in(service, options, sign_in).await
}

/// [`start`] with a sign-in client the caller discovered (with a client
/// secret from elsewhere than an environment variable).
pub async fn start_with_sign_in(
    service: Service,
    options: ServeOptions,
    sign_in: Option<grantflow_service::signin::SignIn>,
) -> anyhow::Result<Running> {
    let sign_in = sign_in.map(Arc::new);
    let settings = service.config.server.clone();
    let metrics_token = settings
        .metrics_token
        .as_ref()
        .map(|source| source.read("server.metrics_token", &service.config.base_dir))
        .transpose()
        .map_err(|failure| anyhow::anyhow!("{}", failure.message()))?;
    let tls_configured = settings.tls.is_some();
    let tls = settings
        .tls
        .as_ref()
        .map(|tls| door::tls_config(&tls.certificate, &tls.private_key))
        .transpose()?;
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", options.listen))?;
    let address = listener.local_addr()?;
    let metrics_listener = match &settings.metrics_listen {
        Some(listen) => Some(
            tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|error| {
                    anyhow::anyhow!("cannot listen on {listen} (server.metrics_listen): {error}")
                })?,
        ),
        None => None,
    };
    let metrics_address = metrics_listener
        .as_ref()
        .map(tokio::net::TcpListener::local_addr)
        .transpose()?;
    let (wake, woken) = mpsc::unbounded_channel();
    // Flow files with mistakes do not keep the server (and people's access requests) down: each mistake is
    // said now at its file:line:column, the console names it, and the flows load once the files are fixed.
    let flows = grantflow_service::flows::LoadedFlows::default();
    flows.reload(&service);
    let shared = Arc::new(Shared {
        flows: Arc::new(flows),
        service,
        syncing: Mutex::new(()),
        wake,
        metrics: metrics::Metrics::new(),
        metrics_token,
        sessions: session::Sessions::new(
            sign_in,
            std::time::Duration::from_secs(settings.session_hours.saturating_mul(3600)),
        ),
    });
    let (stop, stopped) = watch::channel(false);
    schedule::start(shared.clone(), woken, &options, stopped.clone());
    let limits = door::DoorLimits {
        header_read_timeout: std::time::Duration::from_secs(
            settings.header_read_timeout_seconds.max(1),
        ),
        body_read_timeout: std::time::Duration::from_secs(
            settings.body_read_timeout_seconds.max(1),
        ),
        max_connections: settings.max_connections.max(1),
        ..door::DoorLimits::default()
    };
    if let Some(listener) = metrics_listener {
        let internal = Router::new()
            .route("/metrics", get(metrics::metrics))
            .with_state(shared.clone());
        let mut stopped = stopped.clone();
        tokio::spawn(door::serve(
            listener,
            internal,
            limits.clone(),
            None,
            async move {
                let _ = stopped.wait_for(|stopped| *stopped).await;
            },
        ));
    }
    let app = router(shared, settings.max_body_bytes);
    let mut stopped = stopped;
    let served = tokio::spawn(async move {
        door::serve(listener, app, limits, tls, async move {
            let _ = stopped.wait_for(|stopped| *stopped).await;
        })
        .await;
        Ok(())
    });
    Ok(Running {
        address,
        metrics_address,
        secure: tls_configured,
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
    // Say at once which connections cannot work (a revoked token, a missing
    // scope), rather than at the first scheduled sync; serve anyway, since
    // the vendor may recover and the API is useful meanwhile.
    for health in service.check_health().await.connections {
        match &health.failure {
            None => println!(
                "connection {} ({}): reachable, authenticated",
                health.connection, health.system
            ),
            Some(failure) => eprintln!(
                "connection {} ({}): {} [{}]: {}",
                health.connection, health.system, failure.kind, failure.code, failure.message
            ),
        }
    }
    let running = start(service, options).await?;
    let address = running.address;
    let scheme = if running.secure { "https" } else { "http" };
    println!("grantflow serve: listening on {scheme}://{address}");
    println!(
        "  API: {scheme}://{address}/api/v1 (OpenAPI: {scheme}://{address}/api/v1/openapi.json)"
    );
    println!("  console: {scheme}://{address}/console/");
    match running.metrics_address {
        Some(internal) => println!("  drift metrics for Prometheus: http://{internal}/metrics"),
        None => println!(
            "  drift metrics for Prometheus: {scheme}://{address}/metrics (bearer token required)"
        ),
    }
    for (name, system) in hooks {
        println!("  event hooks for {name}: {scheme}://{address}/hooks/{system}/{name}");
    }
    stop_when.await;
    running.stop().await
}

fn router(shared: Arc<Shared>, max_body_bytes: usize) -> Router {
    // Credentials are resolved for the API only: event hooks authenticate
    // with their vendor's own scheme.
    let api = api::routes().0.layer(axum::middleware::from_fn_with_state(
        shared.clone(),
        auth::authenticate,
    ));
    // No CORS layer: browsers keep other origins from reading any answer,
    // and a preflight finds no route that allows it.
    Router::new()
        .route(
            "/hooks/{system}/{connection}",
            get(hooks::verify).post(hooks::deliver),
        )
        .route(
            "/hooks/flows/{flow}",
            axum::routing::post(hooks::flow_webhook),
        )
        .route(
            "/hooks/slack/events",
            axum::routing::post(event_hooks::slack_events),
        )
        .route(
            "/hooks/jira/{connection}",
            axum::routing::post(event_hooks::jira_webhook),
        )
        .route("/metrics", get(metrics::guarded_metrics))
        .route(
            "/slack/{connection}/commands",
            axum::routing::post(slack::command),
        )
        .route(
            "/slack/{connection}/interactions",
            axum::routing::post(slack::interaction),
        )
        .route("/auth/login", get(session::login))
        .route("/auth/callback", get(session::callback))
        .route("/auth/logout", axum::routing::post(session::logout))
        .route(
            "/console/signout",
            axum::routing::post(session::console_sign_out),
        )
        .route("/console/signed-out", get(console::signed_out))
        .merge(api)
        .merge(console::routes(shared.clone()))
        .route("/api/v1/openapi.json", get(api::openapi_json))
        .fallback(api::no_route)
        .method_not_allowed_fallback(api::no_method)
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .with_state(shared)
}

/// A handler that panicked answers a problem, not a dropped connection;
/// what it said goes to the log only.
fn panicked(cause: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let what = cause
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| cause.downcast_ref::<&str>().copied())
        .unwrap_or("a panic");
    axum::response::IntoResponse::into_response(Problem::internal(&what))
}
