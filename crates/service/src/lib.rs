//! The service layer: the operations a person or a program performs with
//! grantflow — sync, plan, ask for one change or one action, approve,
//! apply, check drift, ask what access reaches, read and verify the audit
//! trail — each by an authenticated [`Actor`].
//!
//! Architecture invariant: every business rule of these operations lives
//! here or in the crates below (planner, engine, drift, graph); the command
//! line and the server only parse input, call these and render the answer.
//! Nothing here speaks HTTP or parses arguments.

pub mod access;
pub mod actor;
pub mod audit;
pub mod checkpoints;
pub mod config;
mod directory;
pub mod drift;
pub mod files;
pub mod flow_views;
pub mod flows;
pub mod health;
mod ledger;
pub mod lifecycle;
pub mod plans;
pub mod reach;
pub mod requests;
pub mod signin;
pub mod slack_app;
pub mod sync;
pub mod tokens;
pub mod views;

pub use actor::{Actor, Role};
pub use config::Config;
pub use health::{Check, ConnectionHealth, HealthFailure, HealthReport};
pub use plans::{ActionRequest, ApplyOptions, ApplyOutcome, Proposal};
pub use signin::{PendingSignIn, SignIn, SignInConfig};

use grantflow_connectors::Connector;
use grantflow_engine::EngineError;
use grantflow_model::{Clock, ConnectionName, SystemClock};
use grantflow_planner::ActualState;
use grantflow_store::{Store, StoreError};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why an operation of the service did not happen. Each has a stable code
/// that programs (and the HTTP API's problem details) can rely on.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input is wrong (an unknown person or group, a bad option).
    #[error("{0}")]
    Invalid(String),
    /// Policy files have problems, each located as `file:line:column`.
    #[error("{0}")]
    Policy(String),
    /// A rule refused the operation (the gate, an approval, a capability).
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The actor may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl ServiceError {
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Invalid(_) => "invalid_request",
            ServiceError::Policy(_) => "policy_invalid",
            ServiceError::Refused { code, .. } => code,
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::Store(StoreError::UnknownPlan(_)) => "not_found",
            ServiceError::Store(_) => "store_error",
            ServiceError::Engine(_) => "engine_error",
            ServiceError::Config(_) => "configuration_error",
            ServiceError::Other(_) => "internal_error",
        }
    }

    fn refused(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Refused {
            code,
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, ServiceError>;

/// grantflow, opened on its configuration: the store, a connector per
/// connection, and the one clock everything reads.
pub struct Service {
    pub config: Config,
    pub store: Store,
    pub connectors: BTreeMap<ConnectionName, Box<dyn Connector>>,
    clock: Arc<dyn Clock>,
    /// The rate budgets every connector paces its calls by, kept to show them (`views::RateBudgetView`).
    budgets: Arc<grantflow_connectors::RateBudgets>,
    /// The last actual state read, with the store's fingerprint it was read
    /// at: servers answer many reads between two syncs, and parsing every
    /// snapshot per request would bound them.
    state_cache: tokio::sync::Mutex<Option<(grantflow_store::StateVersion, Arc<ActualState>)>>,
    /// The directory's people as listed, for the actual state they were read from.
    people_cache: tokio::sync::Mutex<Option<Arc<directory::Directory>>>,
    /// The reachability graph, for the actual state it was built from and when.
    graph_cache: std::sync::Mutex<Option<GraphOfState>>,
    /// The custom HTTP card's connections (`flows.http_connections`), with their cached OAuth tokens.
    pub(crate) flow_http: grantflow_workflows::HttpCards,
    /// The email card's SMTP server (`flows.smtp`).
    pub(crate) flow_email: grantflow_workflows::EmailCards,
}

/// A reachability graph, the state it was built from, and when.
type GraphOfState = (
    Arc<ActualState>,
    std::time::Instant,
    Arc<grantflow_graph::Graph>,
);

impl Service {
    /// Opens the store and builds every configured connector.
    pub async fn open(config: Config) -> anyhow::Result<Service> {
        Self::open_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn open_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Service> {
        let store = open_store(&config, clock.clone()).await?;
        let context = grantflow_connectors::BuildContext {
            base_dir: config.base_dir.clone(),
            budgets: Arc::new(match store.backend() {
                // Several workers may call the same tenant: share budgets.
                grantflow_store::Backend::Postgres => grantflow_connectors::RateBudgets::shared(
                    config.rate_limits.reserve_share,
                    Arc::new(ledger::StoreLedger(store.clone())),
                ),
                grantflow_store::Backend::Sqlite => {
                    grantflow_connectors::RateBudgets::new(config.rate_limits.reserve_share)
                }
            }),
            clock: clock.clone(),
            limits: config.rate_limits.transport_limits(),
        };
        let mut connectors = BTreeMap::new();
        for (name, connection) in &config.connections {
            let connector = grantflow_connectors::build(name, connection, &context)
                .map_err(|failure| anyhow::anyhow!("connection {name}: {failure}"))?;
            connectors.insert(name.clone(), connector);
        }
        Ok(Service {
            budgets: context.budgets.clone(),
            store,
            connectors,
            clock,
            state_cache: tokio::sync::Mutex::new(None),
            people_cache: tokio::sync::Mutex::new(None),
            graph_cache: std::sync::Mutex::new(None),
            flow_http: grantflow_workflows::HttpCards::new(
                config.flows.http_connections.clone(),
                config.base_dir.clone(),
            ),
            flow_email: grantflow_workflows::EmailCards::new(
                config.flows.smtp.clone(),
                config.base_dir.clone(),
            ),
            config,
        })
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The newest sync of every connection, with every change grantflow
    /// applied since layered on top, so a command reads what grantflow
    /// itself just did without waiting for a sync. A sync started after a
    /// change supersedes it.
    pub async fn actual_state(&self) -> Result<Arc<ActualState>> {
        // The fingerprint is read before taking the lock, so readers of an
        // unchanged state never wait for each other; one reader rebuilds a
        // changed state while the others wait and take its result.
        let version = self.store.state_version().await?;
        let mut cache = self.state_cache.lock().await;
        if let Some((cached, state)) = cache.as_ref()
            && *cached == version
        {
            return Ok(state.clone());
        }
        let state = Arc::new(self.read_actual_state().await?);
        *cache = Some((version, state.clone()));
        Ok(state)
    }

    async fn read_actual_state(&self) -> Result<ActualState> {
        let mut snapshots = BTreeMap::new();
        let mut sync_ids = BTreeMap::new();
        let mut digests = BTreeMap::new();
        for (record, mut snapshot) in self.store.latest_syncs().await? {
            let name = ConnectionName::new(record.connection.clone());
            for change in self.store.changes_since(&name, record.started_at).await? {
                snapshot.apply_change(&change);
            }
            sync_ids.insert(name.clone(), record.id.clone());
            digests.insert(name.clone(), record.digest.clone());
            snapshots.insert(name, snapshot);
        }
        Ok(ActualState {
            directory: self.config.directory.clone(),
            snapshots,
            sync_ids,
            digests,
            correlation: self.config.drift.correlation.clone(),
            time_bound: self.time_bound_grants().await?,
            created: self
                .store
                .declared_objects()
                .await?
                .into_iter()
                .map(|o| grantflow_planner::CreatedObject {
                    connection: o.connection,
                    kind: o.kind,
                    name: o.name,
                    app: o.app,
                    by_grantflow: o.by_grantflow,
                })
                .collect(),
        })
    }

    /// The grants of every time-bound request in force.
    async fn time_bound_grants(&self) -> Result<Vec<grantflow_planner::TimeBoundGrant>> {
        let mut held = Vec::new();
        for request in self.store.time_bound_requests().await? {
            let Some(until) = request.expires_at else {
                continue;
            };
            for grant in request.grants.as_array().into_iter().flatten() {
                let text = |key: &str| {
                    grant
                        .get(key)
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                held.push(grantflow_planner::TimeBoundGrant {
                    connection: ConnectionName::new(text("connection")),
                    account_id: text("account_id"),
                    resource_id: text("resource_id"),
                    entitlement: text("entitlement"),
                    until,
                    request: request.id.clone(),
                });
            }
        }
        Ok(held)
    }

    pub(crate) fn connector(&self, name: &ConnectionName) -> Result<&dyn Connector> {
        self.connectors
            .get(name)
            .map(|c| c.as_ref())
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "no connection named \"{name}\" (configured: {})",
                    self.connectors
                        .keys()
                        .map(ConnectionName::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }
}

/// Opens the store a configuration names, creating a SQLite database
/// owner-only; errors never show the database password.
pub async fn open_store(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Store> {
    config::prepare_database(&config.database)?;
    let url = config.database_url()?;
    Store::open(url.expose_secret(), clock)
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "opening the store {}: {error}",
                config::redacted(&config.database)
            )
        })
}

/// Opens only the store (commands that read the audit trail need no
/// credentials): the configured database, or the one named.
pub async fn open_store_only(
    config: Option<&Config>,
    database: Option<&str>,
) -> anyhow::Result<Store> {
    match (database, config) {
        (Some(url), _) => {
            config::prepare_database(url)?;
            Store::open(url, Arc::new(SystemClock))
                .await
                .map_err(|error| {
                    anyhow::anyhow!("opening the store {}: {error}", config::redacted(url))
                })
        }
        (None, Some(config)) => open_store(config, Arc::new(SystemClock)).await,
        (None, None) => {
            config::prepare_database(config::DEFAULT_DATABASE)?;
            Store::open(config::DEFAULT_DATABASE, Arc::new(SystemClock))
                .await
                .map_err(|error| anyhow::anyhow!("opening the store: {error}"))
        }
    }
}
