//! Jira Cloud connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraConfig {
    /// The site URL, e.g. `https://example.atlassian.net` (or the sandbox's URL); `/rest/api/3` is added.
    pub base_url: String,
    /// Allows plain `http` to a host that is not loopback: the credential would cross the network in clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// The Atlassian account's email; with the API token it makes the Basic credentials.
    pub email: SecretSource,
    /// An API token of an account with the Administer Jira global permission (for groups and project roles).
    pub token: SecretSource,
    /// Per-request timeout.
    #[serde(default = "crate::transport::default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// How many times one call may wait out a 429 before reporting the rate limit to the engine.
    #[serde(default = "crate::transport::default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
}

crate::http_settings!(JiraConfig);
