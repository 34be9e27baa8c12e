//! OPA connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpaConfig {
    /// `https://<org>.pam.okta.com` (or the sandbox's URL); every path is under `/v1/teams/{team}/`.
    pub base_url: String,
    /// The team name: written as it is (`team: acme`), or read from a file or variable like a secret.
    pub team: TeamName,
    /// A service user's API key id and secret, exchanged for a bearer token (`POST …/service_token`).
    pub key_id: SecretSource,
    pub key_secret: SecretSource,
    /// Per-request timeout.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Allows a plain `http` base URL to a host that is not loopback (the credential then crosses the
    /// network in clear). Loopback (127.0.0.0/8, ::1, localhost) never needs it.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// How many times one call may wait out a 429 before reporting the rate limit to the engine.
    #[serde(default = "default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TeamName {
    Name(String),
    From(SecretSource),
}

fn default_timeout_seconds() -> u64 {
    30
}

fn default_rate_limit_waits() -> u32 {
    3
}
