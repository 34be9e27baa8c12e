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
    /// Slack's SCIM API (Business+ and Enterprise Grid plans only): a user token with the `admin` scope, issued
    /// by a Workspace (or Org) Owner or Admin who must stay one. With it, accounts are created, deactivated and
    /// their profiles updated through SCIM; without it, the connection lists no account operations and people
    /// must be invited to Slack by a person.
    #[serde(default)]
    pub scim_token: Option<SecretSource>,
    /// The SCIM API's base URL (the one `/Users` hangs off). By default `https://api.slack.com/scim/v2` when
    /// `base_url` is slack.com, else `<base_url>/scim/v2` (the sandbox).
    #[serde(default)]
    pub scim_base_url: Option<String>,
    /// Per-request timeout.
    #[serde(default = "crate::transport::default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// How many times one call may wait out a 429 before reporting the rate limit to the engine.
    #[serde(default = "crate::transport::default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
}

crate::http_settings!(SlackConfig);

impl SlackConfig {
    /// Where Slack's SCIM API is for this connection.
    pub fn scim_url(&self) -> String {
        if let Some(url) = &self.scim_base_url {
            return url.clone();
        }
        let base = self.base_url.trim_end_matches('/');
        let host = reqwest::Url::parse(base)
            .ok()
            .and_then(|url| url.host_str().map(str::to_string));
        match host.as_deref() {
            Some("slack.com" | "www.slack.com") => "https://api.slack.com/scim/v2".into(),
            _ => format!("{base}/scim/v2"),
        }
    }
}
