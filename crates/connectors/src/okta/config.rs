//! Okta connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaConfig {
    /// The org URL, e.g. `https://example.okta.com` (or the sandbox's URL).
    pub base_url: String,
    /// The API token (sent as `Authorization: SSWS …`).
    pub token: SecretSource,
    /// Per-request timeout.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// How many times one call may wait out a 429 before giving up and
    /// reporting the rate limit to the engine.
    #[serde(default = "default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
}

fn default_timeout_seconds() -> u64 {
    30
}

fn default_rate_limit_waits() -> u32 {
    5
}
