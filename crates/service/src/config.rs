//! grantflow.yaml: connections, the store, the directory and the policies.
//! Every problem is reported with its file, line and column.

use grantflow_connectors::{ConnectionConfig, SecretSource};
use grantflow_engine::{GateSettings, SafetyRail};
use grantflow_model::ConnectionName;
use secrecy::ExposeSecret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_CONFIG: &str = "grantflow.yaml";
pub const DEFAULT_DATABASE: &str = "sqlite://.grantflow/grantflow.db";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    database: Option<String>,
    /// The database password, from an environment variable or a file, so it
    /// need not be written in the URL.
    #[serde(default)]
    database_password: Option<SecretSource>,
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
    /// How long plans and their approvals stay good.
    #[serde(default)]
    plans: PlanSettings,
    #[serde(default)]
    rate_limits: RateLimitSettings,
    /// Production reachability: app links, environments and source files (relative to this file).
    #[serde(default)]
    reachability: Option<grantflow_graph::ReachConfig>,
    /// Drift detection: remediation modes, extra managed scope, correlation.
    #[serde(default)]
    drift: grantflow_drift::DriftSettings,
    /// Signed checkpoints of the audit chain, kept outside the database.
    #[serde(default)]
    audit: Option<AuditSettings>,
    /// Sign-in for people with OpenID Connect (`crate::signin`).
    #[serde(default)]
    sign_in: Option<crate::signin::SignInConfig>,
    /// How `grantflow serve` faces the network.
    #[serde(default)]
    server: ServerSettings,
    /// Workflows: where the flow files are and the custom HTTP card's connections.
    #[serde(default)]
    flows: FlowSettings,
    /// Whether `grantflow serve` plans and applies joiners', starters' and leavers' changes by itself.
    #[serde(default)]
    lifecycle: LifecycleSettings,
}

/// The automatic lifecycle (`docs/lifecycle.md`): off unless asked for.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSettings {
    /// `grantflow serve` plans and applies each due joiner, start date and leaver after every sync
    /// and every `check_every_seconds`.
    #[serde(default)]
    pub automatic: bool,
    /// How often the dates are checked without a sync (a start or end date passes at midnight, with
    /// no HRIS change to announce it).
    #[serde(default = "default_lifecycle_check")]
    pub check_every_seconds: u64,
}

fn default_lifecycle_check() -> u64 {
    300
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        Self {
            automatic: false,
            check_every_seconds: default_lifecycle_check(),
        }
    }
}

/// Workflows' settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSettings {
    /// The folder of flow files (default `flows`, relative to this file).
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// The connections the custom HTTP card calls through: allowed hosts and credentials.
    #[serde(default)]
    pub http_connections: BTreeMap<String, grantflow_workflows::HttpConnection>,
    /// How Okta events reach flows: `auto` (default: the event hook where the connection configures
    /// `event_hook:`, else the System Log, polled), `hook` (never polled), `poll` (polled as well as hooked; an
    /// event starts one run either way).
    #[serde(default)]
    pub okta_events: OktaEvents,
    /// How often the System Log is polled for flows, in seconds (default 15; Okta's `logs` bucket is
    /// shared with incremental syncs).
    #[serde(default)]
    pub okta_poll_seconds: Option<u64>,
    /// The SMTP server the email card (`notify.email`) sends through; its password from `env` or `file`.
    #[serde(default)]
    pub smtp: Option<grantflow_workflows::SmtpConnection>,
    /// Per connection, the secret (`env:NAME` or `file:PATH`) a vendor signs its webhooks to
    /// `/hooks/jira/{connection}` with (Jira's admin-webhook secret).
    #[serde(default)]
    pub webhook_secrets: BTreeMap<String, String>,
}

/// How Okta events reach flows (`flows.okta_events`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OktaEvents {
    /// The event hook where the connection has `event_hook:`, else the System Log.
    #[default]
    Auto,
    /// Only the event hook: the System Log is never polled for flows.
    Hook,
    /// The System Log is polled whether or not hooks are configured.
    Poll,
}

/// How `grantflow serve` faces the network: who may read `/metrics`, TLS,
/// and what a client may hold (time, connections, bytes).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// A bearer token Prometheus presents on `/metrics` (any API token with
    /// the viewer role is accepted too).
    #[serde(default)]
    pub metrics_token: Option<SecretSource>,
    /// Serve `/metrics` without credentials on this separate (internal)
    /// address instead of on the main listener.
    #[serde(default)]
    pub metrics_listen: Option<String>,
    /// Serve HTTPS directly (for deployments without a proxy in front).
    #[serde(default)]
    pub tls: Option<TlsSettings>,
    /// From accepting a connection to the end of a request's headers.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_seconds: u64,
    /// For reading a request's body.
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout_seconds: u64,
    /// Open connections at once; more are closed as they arrive.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// The largest request body accepted.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// How often the server signs a checkpoint of the audit chain (when
    /// `audit.signing_key` is configured); 0 turns it off.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval_seconds: u64,
    /// How long a browser session lasts after signing in.
    #[serde(default = "default_session_hours")]
    pub session_hours: u64,
}

/// A certificate chain and its private key, PEM files relative to the
/// configuration file's folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

fn default_header_read_timeout() -> u64 {
    10
}
fn default_body_read_timeout() -> u64 {
    30
}
fn default_max_connections() -> usize {
    1024
}
fn default_max_body_bytes() -> usize {
    1024 * 1024
}
fn default_checkpoint_interval() -> u64 {
    3600
}
fn default_session_hours() -> u64 {
    12
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            metrics_token: None,
            metrics_listen: None,
            tls: None,
            header_read_timeout_seconds: default_header_read_timeout(),
            body_read_timeout_seconds: default_body_read_timeout(),
            max_connections: default_max_connections(),
            max_body_bytes: default_max_body_bytes(),
            checkpoint_interval_seconds: default_checkpoint_interval(),
            session_hours: default_session_hours(),
        }
    }
}

/// Signed checkpoints of the audit chain's head (see
/// [`crate::checkpoints`]): the key that signs them and where they go, both
/// outside the database, so a writer of the database cannot rewrite the
/// chain undetected.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// The Ed25519 private key (PKCS#8 PEM) that signs checkpoints, from a
    /// file or an environment variable. Absent on a host that only verifies.
    #[serde(default)]
    pub signing_key: Option<SecretSource>,
    /// The checkpoint log: an append-only JSON Lines file (relative to the
    /// configuration file's folder).
    pub checkpoints: PathBuf,
    /// Further keys whose checkpoints are trusted (`ed25519:BASE64`, as
    /// `grantflow audit keygen` prints): earlier signing keys, or the only
    /// key of a host that verifies without signing.
    #[serde(default)]
    pub public_keys: Vec<String>,
}

/// How grantflow shares vendors' rate limits with the tenant's other users.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Share (0.0–0.9) of every rate-limit bucket left unused for others.
    #[serde(default = "default_reserve_share")]
    pub reserve_share: f64,
    /// The longest one vendor call waits in all (for a rate-limit reset, a
    /// `Retry-After`, backoff); a longer wait is handed to the engine, which
    /// reschedules the operation. Keep it below the job lease (60 s by default).
    #[serde(default = "default_max_wait_seconds")]
    pub max_wait_seconds: u64,
    /// How far ahead a vendor's announced reset is believed.
    #[serde(default = "default_max_reset_seconds")]
    pub max_reset_seconds: u64,
}

fn default_max_wait_seconds() -> u64 {
    30
}

fn default_max_reset_seconds() -> u64 {
    15 * 60
}

impl RateLimitSettings {
    pub fn transport_limits(&self) -> grantflow_connectors::TransportLimits {
        grantflow_connectors::TransportLimits {
            max_wait: Duration::from_secs(self.max_wait_seconds),
            max_reset: Duration::from_secs(self.max_reset_seconds.max(1)),
        }
    }
}

fn default_reserve_share() -> f64 {
    0.1
}

/// How long a plan and an approval stay good.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSettings {
    /// A plan never started that is older than this is refused: re-plan.
    #[serde(default = "default_max_age_hours")]
    pub max_age_hours: u64,
    /// An approval lapses after this long.
    #[serde(default = "default_approval_hours")]
    pub approval_valid_hours: u64,
}

fn default_max_age_hours() -> u64 {
    7 * 24
}

fn default_approval_hours() -> u64 {
    24
}

impl Default for PlanSettings {
    fn default() -> Self {
        Self {
            max_age_hours: default_max_age_hours(),
            approval_valid_hours: default_approval_hours(),
        }
    }
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            reserve_share: default_reserve_share(),
            max_wait_seconds: default_max_wait_seconds(),
            max_reset_seconds: default_max_reset_seconds(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The store's URL as configured (with no password when one is configured separately).
    pub database: String,
    pub database_password: Option<SecretSource>,
    pub directory: ConnectionName,
    pub policies: PathBuf,
    pub connections: BTreeMap<ConnectionName, ConnectionConfig>,
    pub reachability: Option<grantflow_graph::ReachConfig>,
    /// The folder of the configuration file; relative paths in it
    /// (secret files, the database, policies) are relative to this.
    pub base_dir: PathBuf,
    pub safety: SafetyRail,
    pub plans: PlanSettings,
    pub rate_limits: RateLimitSettings,
    pub drift: grantflow_drift::DriftSettings,
    /// Audit checkpoints (`checkpoints` already relative to `base_dir`).
    pub audit: Option<AuditSettings>,
    /// Sign-in for people with OpenID Connect; absent means no browser sign-in.
    pub sign_in: Option<crate::signin::SignInConfig>,
    /// `tls` paths already relative to `base_dir`.
    pub server: ServerSettings,
    /// `directory` already relative to `base_dir`.
    pub flows: Flows,
    pub lifecycle: LifecycleSettings,
}

/// Workflows' settings, resolved.
#[derive(Debug, Clone)]
pub struct Flows {
    pub directory: PathBuf,
    pub http_connections: BTreeMap<String, grantflow_workflows::HttpConnection>,
    pub okta_events: OktaEvents,
    pub okta_poll_interval: std::time::Duration,
    pub smtp: Option<grantflow_workflows::SmtpConnection>,
    pub webhook_secrets: BTreeMap<String, String>,
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
        if file.database_password.is_some() && url_has_password(&database) {
            anyhow::bail!(
                "{}: the database URL has a password and database_password is set too: keep one",
                path.display()
            );
        }
        let audit = match file.audit {
            Some(audit) => {
                if audit.signing_key.is_none() && audit.public_keys.is_empty() {
                    anyhow::bail!(
                        "{}: audit: give signing_key (to write and check checkpoints) or public_keys (to check them)",
                        path.display()
                    );
                }
                for key in &audit.public_keys {
                    crate::checkpoints::PublicKey::parse(key).map_err(|e| {
                        anyhow::anyhow!("{}: audit.public_keys: {e}", path.display())
                    })?;
                }
                Some(AuditSettings {
                    checkpoints: base.join(&audit.checkpoints),
                    ..audit
                })
            }
            None => None,
        };
        let server = ServerSettings {
            tls: file.server.tls.map(|tls| TlsSettings {
                certificate: base.join(tls.certificate),
                private_key: base.join(tls.private_key),
            }),
            ..file.server
        };
        let flows = Flows {
            directory: base.join(
                file.flows
                    .directory
                    .unwrap_or_else(|| PathBuf::from("flows")),
            ),
            http_connections: file.flows.http_connections,
            okta_events: file.flows.okta_events,
            okta_poll_interval: std::time::Duration::from_secs(
                file.flows.okta_poll_seconds.unwrap_or(15).max(1),
            ),
            smtp: file.flows.smtp,
            webhook_secrets: file.flows.webhook_secrets,
        };
        Ok(Config {
            database: relative_sqlite(&database, &base),
            database_password: file.database_password,
            directory,
            policies: base.join(file.policies.unwrap_or_else(|| PathBuf::from("policies"))),
            connections,
            reachability: file.reachability,
            base_dir: base,
            safety: file.safety,
            plans: file.plans,
            rate_limits: file.rate_limits,
            drift: file.drift,
            audit,
            sign_in: file.sign_in,
            server,
            flows,
            lifecycle: file.lifecycle,
        })
    }
}

impl Config {
    /// What the engine's gate checks plans against.
    pub fn gate(&self) -> GateSettings {
        GateSettings {
            rail: self.safety,
            max_plan_age: Duration::from_secs(self.plans.max_age_hours.saturating_mul(3600)),
        }
    }

    /// How long an approval stays good.
    pub fn approval_validity(&self) -> Duration {
        Duration::from_secs(self.plans.approval_valid_hours.saturating_mul(3600))
    }

    /// The URL to open the store with: the configured one, with the
    /// password from `database_password` put in. Never printed.
    pub fn database_url(&self) -> anyhow::Result<secrecy::SecretString> {
        let Some(source) = &self.database_password else {
            return Ok(self.database.clone().into());
        };
        let password = source
            .read("database_password", &self.base_dir)
            .map_err(|failure| anyhow::anyhow!("{}", failure.message()))?;
        let mut url = url::Url::parse(&self.database)
            .map_err(|e| anyhow::anyhow!("database: not a URL: {e}"))?;
        url.set_password(Some(password.expose_secret()))
            .map_err(|()| anyhow::anyhow!("database: this URL cannot carry a password"))?;
        Ok(url.to_string().into())
    }
}

fn url_has_password(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| u.password().is_some())
}

/// A database URL without its password, for anything people read.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
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

/// Makes sure a SQLite database's folder exists (only its owner may enter
/// a folder grantflow makes) and that the database file is created readable
/// by its owner only: it holds every profile and the audit trail.
pub fn prepare_database(url: &str) -> anyhow::Result<()> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = Path::new(path.split('?').next().unwrap_or(path));
        if path.as_os_str().is_empty() || path.starts_with(":memory:") {
            return Ok(());
        }
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            crate::files::private_dir(parent)?;
        }
        crate::files::private_file_if_missing(path)?;
    }
    Ok(())
}

/// A connection to write into a new grantflow.yaml: its kind and base URL,
/// its credentials (each written to an owner-only file under `.grantflow/`
/// and named in the connection by its key) and any further settings.
#[derive(Debug, Clone, Default)]
pub struct NewConnection {
    pub name: String,
    pub kind: String,
    pub base_url: String,
    pub credentials: Vec<(String, secrecy::SecretString)>,
    pub ca_certificate: Option<PathBuf>,
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// Names that become file names and YAML keys: lower-case letters, digits,
/// `-` and `_`, starting with a letter or digit.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 64
}

/// Writes the credentials of `connections` under `base/.grantflow/` and
/// returns the text of a grantflow.yaml for them, serialised (never
/// assembled by hand) so no value can inject configuration. Names are
/// checked before anything is written. `extra` holds further top-level
/// sections (e.g. `reachability`).
pub fn new_config(
    connections: &[NewConnection],
    directory: &str,
    base: &Path,
    extra: serde_json::Map<String, serde_json::Value>,
    comment: &str,
) -> anyhow::Result<String> {
    for connection in connections {
        if !valid_name(&connection.name) {
            anyhow::bail!(
                "connection name {:?} is not allowed: use lower-case letters, digits, - and _",
                connection.name
            );
        }
        if !valid_name(&connection.kind) {
            anyhow::bail!(
                "{}: kind {:?} is not allowed",
                connection.name,
                connection.kind
            );
        }
        let url = url::Url::parse(&connection.base_url)
            .map_err(|e| anyhow::anyhow!("{}: base_url is not a URL: {e}", connection.name))?;
        if !matches!(url.scheme(), "http" | "https") {
            anyhow::bail!("{}: base_url must be http or https", connection.name);
        }
        for (key, _) in &connection.credentials {
            if !valid_name(&key.replace('_', "-")) {
                anyhow::bail!(
                    "{}: credential name {key:?} is not allowed",
                    connection.name
                );
            }
        }
    }
    let mut written = serde_json::Map::new();
    for connection in connections {
        let mut entry = serde_json::Map::new();
        entry.insert("kind".into(), connection.kind.clone().into());
        entry.insert("base_url".into(), connection.base_url.clone().into());
        for (key, secret) in &connection.credentials {
            let file = format!(".grantflow/{}.{key}", connection.name);
            crate::files::write_private(&base.join(&file), secret.expose_secret().as_bytes())?;
            entry.insert(key.clone(), serde_json::json!({ "file": file }));
        }
        if let Some(ca) = &connection.ca_certificate {
            entry.insert("ca_certificate".into(), ca.display().to_string().into());
        }
        for (key, value) in &connection.settings {
            entry.insert(key.clone(), value.clone());
        }
        written.insert(connection.name.clone(), serde_json::Value::Object(entry));
    }
    let mut file = serde_json::Map::new();
    file.insert("database".into(), DEFAULT_DATABASE.into());
    file.insert("directory".into(), directory.into());
    file.insert("policies".into(), "policies".into());
    file.insert("connections".into(), serde_json::Value::Object(written));
    file.extend(extra);
    let yaml = serde_saphyr::to_string(&serde_json::Value::Object(file))
        .map_err(|e| anyhow::anyhow!("cannot write the configuration: {e}"))?;
    let mut text = String::new();
    for line in comment.lines() {
        text.push_str("# ");
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&yaml);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_configuration_loads_and_hostile_names_or_values_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let okta = NewConnection {
            name: "okta".into(),
            kind: "okta".into(),
            base_url: "http://127.0.0.1:1234".into(),
            credentials: vec![("token".into(), "00abc\ndatabase: x".to_string().into())],
            ..NewConnection::default()
        };
        let text = new_config(
            std::slice::from_ref(&okta),
            "okta",
            dir.path(),
            Default::default(),
            "test",
        )
        .expect("writes");
        let path = dir.path().join("grantflow.yaml");
        std::fs::write(&path, &text).expect("write");
        let config = Config::load(&path).expect("loads");
        assert_eq!(config.directory.as_str(), "okta");
        assert_eq!(
            config.database,
            relative_sqlite(DEFAULT_DATABASE, dir.path())
        );
        let escape = NewConnection {
            name: "../../x".into(),
            ..okta.clone()
        };
        assert!(new_config(&[escape], "okta", dir.path(), Default::default(), "").is_err());
        let injected = NewConnection {
            base_url: "http://127.0.0.1:1\ndatabase: postgres://evil".into(),
            ..okta
        };
        match new_config(&[injected], "okta", dir.path(), Default::default(), "") {
            Err(_) => {}
            Ok(text) => {
                std::fs::write(&path, &text).expect("write");
                let config = Config::load(&path).expect("loads");
                assert!(config.database.starts_with("sqlite://"), "{text}");
            }
        }
    }
}
