//! Slack connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// `https://slack.com` (or the sandbox's URL); Web API methods are called under `/api/`.
    pub base_url: String,
    /// Allows plain `http` to a host that is not loopback: the credential would cross the network in clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// A bot token (`xoxb-…`) with users:read, users:read.email, channels:read, groups:read, channels:manage
    /// and groups:write; sent as `Authorization: Bearer`.
    pub token: SecretSource,
    /// The Slack app's signing secret, with which Slack signs the slash commands and button clicks it sends
    /// grantflow (checked by `grantflow_service::slack_app`); not needed to call the Web API.
    #[serde(default)]
    pub signing_secret: Option<SecretSource>,
    /// Per-request timeout.
    #[serde(default = "crate::transport::default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// How many times one call may wait out a 429 before reporting the rate limit to the engine.
    #[serde(default = "crate::transport::default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
}

crate::http_settings!(SlackConfig);
