//! Opening grantflow for a command: the configuration (with the
//! `--database` override) and the service over it. The person running the
//! command is the local operator.

use grantflow_service::{Actor, Config, Service};
use std::path::PathBuf;

pub struct Options {
    pub config: PathBuf,
    pub database: Option<String>,
    pub quiet: bool,
}

impl Options {
    pub fn load_config(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(&self.config)?;
        if let Some(database) = &self.database {
            config.database = database.clone();
            config.database_password = None;
        }
        Ok(config)
    }

    pub async fn open(&self) -> anyhow::Result<Service> {
        Service::open(self.load_config()?).await
    }
}

/// Who runs this command.
pub fn actor() -> Actor {
    Actor::local_operator()
}
