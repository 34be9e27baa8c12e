//! Slack connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// `https://slack.com` (or the sandbox's URL); Web API methods are called under `/api/`.
    pub base_url: String,
    /// A bot token (`xoxb-…`) with users:read, users:read.email, channels:read, groups:read, channels:manage
    /// and groups:write; sent as `Authorization: Bearer`.
    pub token: SecretSource,
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

fn default_timeout_seconds() -> u64 {
    30
}

fn default_rate_limit_waits() -> u32 {
    5
}
