//! SCIM 2.0 connection settings, as written under `connections:` in grantflow.yaml. Each SCIM app is its
//! own connection (`kind: scim`), so several apps provisioned through SCIM sit side by side.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimConfig {
    /// The SCIM base URL, the one `/Users` and `/Groups` hang off (e.g. `https://app.example.com/scim/v2`);
    /// a bare origin (`http://127.0.0.1:8080`) means `/scim/v2` on it.
    pub base_url: String,
    /// Allows plain `http` to a host that is not loopback: the credential would cross the network in clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// The bearer token the app issued for provisioning; sent as `Authorization: Bearer`.
    pub token: SecretSource,
    /// The app's name, for messages (e.g. "Sentry"); the connection name when absent.
    #[serde(default)]
    pub app: Option<String>,
    /// Resources asked for per list page (`count`); providers may return fewer.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Per-request timeout.
    #[serde(default = "crate::transport::default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// How many times one call may wait out a 429 before reporting the rate limit to the engine.
    #[serde(default = "default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
}

crate::http_settings!(ScimConfig);

fn default_page_size() -> u32 {
    100
}

fn default_rate_limit_waits() -> u32 {
    3
}
