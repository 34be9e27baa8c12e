//! What every command needs: the configuration, the store, the connectors,
//! and who is acting.

use anyhow::Context;
use grantflow_connectors::Connector;
use grantflow_model::{ConnectionName, SystemClock};
use grantflow_planner::ActualState;
use grantflow_store::Store;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{self, Config};

pub struct Options {
    pub config: PathBuf,
    pub database: Option<String>,
    pub quiet: bool,
}

pub struct App {
    pub config: Config,
    pub store: Store,
    pub connectors: BTreeMap<ConnectionName, Box<dyn Connector>>,
    /// Who is acting, as audit events record it.
    pub actor: String,
    pub quiet: bool,
}

/// `cli:<login name>`: the person running the command.
pub fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_string());
    format!("cli:{user}")
}

impl App {
    pub async fn open(options: &Options) -> anyhow::Result<App> {
        let config = Config::load(&options.config)?;
        Self::from_config(config, options.database.clone(), options.quiet).await
    }

    pub async fn from_config(
        mut config: Config,
        database: Option<String>,
        quiet: bool,
    ) -> anyhow::Result<App> {
        if let Some(database) = database {
            config.database = database;
        }
        let store = open_store(&config.database).await?;
        let mut connectors = BTreeMap::new();
        let context = grantflow_connectors::BuildContext {
            base_dir: config.base_dir.clone(),
            budgets: Arc::new(match store.backend() {
                // Several workers may call the same tenant: share budgets.
                grantflow_store::Backend::Postgres => grantflow_connectors::RateBudgets::shared(
                    config.rate_limits.reserve_share,
                    Arc::new(crate::ledger::StoreLedger(store.clone())),
                ),
                grantflow_store::Backend::Sqlite => {
                    grantflow_connectors::RateBudgets::new(config.rate_limits.reserve_share)
                }
            }),
            clock: Arc::new(SystemClock),
            limits: Default::default(),
        };
        for (name, connection) in &config.connections {
            let connector = grantflow_connectors::build(name, connection, &context)
                .map_err(|failure| anyhow::anyhow!("connection {name}: {failure}"))?;
            connectors.insert(name.clone(), connector);
        }
        Ok(App {
            config,
            store,
            connectors,
            actor: actor(),
            quiet,
        })
    }

    /// For commands that only read the store (audit): no secrets needed.
    pub async fn open_store_only(options: &Options) -> anyhow::Result<StoreOnly> {
        let database = match &options.database {
            Some(database) => database.clone(),
            None => match Config::load(&options.config) {
                Ok(config) => config.database,
                Err(_) => config::DEFAULT_DATABASE.to_string(),
            },
        };
        Ok(StoreOnly {
            store: open_store(&database).await?,
            actor: actor(),
        })
    }

    /// The newest sync of every connection, as the planner wants it.
    pub async fn actual_state(&self) -> anyhow::Result<ActualState> {
        let mut snapshots = BTreeMap::new();
        let mut sync_ids = BTreeMap::new();
        let mut digests = BTreeMap::new();
        for (record, snapshot) in self.store.latest_syncs().await? {
            let name = ConnectionName::new(record.connection.clone());
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
        })
    }
}

pub struct StoreOnly {
    pub store: Store,
    pub actor: String,
}

pub async fn open_store(database: &str) -> anyhow::Result<Store> {
    config::prepare_database(database)?;
    Store::open(database, Arc::new(SystemClock))
        .await
        .with_context(|| format!("opening the store {database}"))
}
