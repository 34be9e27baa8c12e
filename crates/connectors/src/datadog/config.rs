//! Datadog connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatadogConfig {
    /// The site's API URL, e.g. `https://api.datadoghq.com` or `https://api.datadoghq.eu` (or the sandbox's
    /// URL); `/api/v1/…` is added.
    pub base_url: String,
    /// Allows plain `http` to a host that is not loopback: the keys would cross the network in clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// The organisation's API key (`DD-API-KEY`).
    pub api_key: SecretSource,
    /// An application key (`DD-APPLICATION-KEY`) whose owner may read monitors (`monitors_read`); Datadog
    /// needs it besides the API key for every read.
    pub application_key: SecretSource,
    /// Per-request timeout.
    #[serde(default = "crate::transport::default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// How many times one call may wait out a 429 before reporting the rate limit to the engine.
    #[serde(default = "crate::transport::default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
}

crate::http_settings!(DatadogConfig);
