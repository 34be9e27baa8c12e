//! OPA connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpaConfig {
    /// `https://<org>.pam.okta.com` (or the sandbox's URL); every path is under `/v1/teams/{team}/`.
    pub base_url: String,
    /// Allows plain `http` to a host that is not loopback: the credential would cross the network in clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// The team name: written as it is (`team: acme`), or read from a file or variable like a secret.
    pub team: TeamName,
    /// A service user's API key id and secret, exchanged for a bearer token (`POST …/service_token`).
    pub key_id: SecretSource,
    pub key_secret: SecretSource,
    /// Per-request timeout.
    #[serde(default = "crate::transport::default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// How many times one call may wait out a 429 before reporting the rate limit to the engine.
    #[serde(default = "default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
}

crate::http_settings!(OpaConfig);

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TeamName {
    Name(String),
    From(SecretSource),
}

fn default_rate_limit_waits() -> u32 {
    3
}
