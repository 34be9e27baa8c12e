//! GitLab connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitlabConfig {
    /// The instance URL, e.g. `https://gitlab.com` (or the sandbox's URL); `/api/v4` is added.
    pub base_url: String,
    /// A personal, group or project access token with `api` scope (sent as `PRIVATE-TOKEN`).
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
    /// How soon to look again for a person whose GitLab user appears only at their first SSO login.
    #[serde(default = "default_pending_recheck_seconds")]
    pub pending_recheck_seconds: u64,
    /// GitLab creates users at their first SSO sign-in (just-in-time
    /// provisioning). When true, grants for people without a GitLab user are
    /// planned and wait for that sign-in instead of being skipped.
    #[serde(default = "default_true")]
    pub accounts_created_on_first_login: bool,
}

fn default_true() -> bool {
    true
}

fn default_timeout_seconds() -> u64 {
    30
}

fn default_rate_limit_waits() -> u32 {
    5
}

fn default_pending_recheck_seconds() -> u64 {
    5
}
