//! grantflow.yaml: connections, the store, the directory and the policies.
//! Every problem is reported with its file, line and column.

use grantflow_connectors::ConnectionConfig;
use grantflow_model::ConnectionName;
use grantflow_planner::SafetyRail;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG: &str = "grantflow.yaml";
pub const DEFAULT_DATABASE: &str = "sqlite://.grantflow/grantflow.db";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    database: Option<String>,
    /// The connection whose users are the people policies are about.
    #[serde(default)]
    directory: Option<String>,
    #[serde(default)]
    policies: Option<PathBuf>,
    #[serde(default)]
    connections: BTreeMap<String, ConnectionConfig>,
    /// Limits on mass removals (see `grantflow apply --allow-mass-removal`).
    #[serde(default)]
    safety: SafetyRail,
    #[serde(default)]
    rate_limits: RateLimitSettings,
    /// Production reachability: app links, environments and source files (relative to this file).
    #[serde(default)]
    reachability: Option<grantflow_graph::ReachConfig>,
    /// Drift detection: remediation modes, extra managed scope, correlation.
    #[serde(default)]
    drift: grantflow_drift::DriftSettings,
}

/// How grantflow shares vendors' rate limits with the tenant's other users.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Share (0.0–0.9) of every rate-limit bucket left unused for others.
    #[serde(default = "default_reserve_share")]
    pub reserve_share: f64,
}

fn default_reserve_share() -> f64 {
    0.1
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            reserve_share: default_reserve_share(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database: String,
    pub directory: ConnectionName,
    pub policies: PathBuf,
    pub connections: BTreeMap<ConnectionName, ConnectionConfig>,
    pub reachability: Option<grantflow_graph::ReachConfig>,
    /// The folder of the configuration file; relative paths in it
    /// (secret files, the database, policies) are relative to this.
    pub base_dir: PathBuf,
    pub safety: SafetyRail,
    pub rate_limits: RateLimitSettings,
    pub drift: grantflow_drift::DriftSettings,
}

impl Config {
    /// Reads the configuration; a missing default file gives a clear hint.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            anyhow::anyhow!(
                "cannot read {}: {error}\nhint: run `grantflow init` (or `grantflow init --sandbox INFO.json` for the sandbox) to write one",
                path.display()
            )
        })?;
        let file: ConfigFile = serde_saphyr::from_str(&text).map_err(|error| {
            let position = error
                .location()
                .map(|l| format!("{}:{}:{}", path.display(), l.line(), l.column()))
                .unwrap_or_else(|| path.display().to_string());
            let message = error.without_snippet().to_string();
            anyhow::anyhow!(
                "{position}: error: {}",
                message.lines().next().unwrap_or_default()
            )
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        let mut connections = BTreeMap::new();
        for (name, connection) in file.connections {
            connections.insert(ConnectionName::new(name), connection);
        }
        let directory =
            match file.directory {
                Some(name) => ConnectionName::new(name),
                None => connections.keys().next().cloned().ok_or_else(|| {
                    anyhow::anyhow!("{}: no connections configured", path.display())
                })?,
            };
        if !connections.contains_key(&directory) {
            anyhow::bail!(
                "{}: directory \"{directory}\" is not one of the configured connections",
                path.display()
            );
        }
        let database = file
            .database
            .unwrap_or_else(|| DEFAULT_DATABASE.to_string());
        Ok(Config {
            database: relative_sqlite(&database, &base),
            directory,
            policies: base.join(file.policies.unwrap_or_else(|| PathBuf::from("policies"))),
            connections,
            reachability: file.reachability,
            base_dir: base,
            safety: file.safety,
            rate_limits: file.rate_limits,
            drift: file.drift,
        })
    }
}

/// `sqlite://relative/path` is relative to the config file's folder.
pub fn relative_sqlite(url: &str, base: &Path) -> String {
    match url.strip_prefix("sqlite://") {
        Some(path) if !path.starts_with('/') && !path.starts_with(':') => {
            format!("sqlite://{}", base.join(path).display())
        }
        _ => url.to_string(),
    }
}

/// Makes sure the folder of a SQLite database exists.
pub fn prepare_database(url: &str) -> anyhow::Result<()> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        if let Some(parent) = Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
    }
    Ok(())
}
