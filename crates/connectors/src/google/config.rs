//! Google Workspace connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleConfig {
    /// The API root, `https://admin.googleapis.com` (or the sandbox's URL); paths start `admin/directory/v1/`.
    pub base_url: String,
    /// An OAuth 2.0 access token with the `admin.directory.user.readonly`, `admin.directory.group` and
    /// `admin.directory.group.member` scopes (sent as `Authorization: Bearer …`).
    pub token: SecretSource,
    /// The customer whose users and groups are read; `my_customer` is the token's own.
    #[serde(default = "default_customer")]
    pub customer: String,
    /// Per-request timeout.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Allows a plain `http` base URL to a host that is not loopback (the credential then crosses the
    /// network in clear). Loopback (127.0.0.0/8, ::1, localhost) never needs it.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// How many times one call may back off from a quota error before the limit is reported to the engine.
    #[serde(default = "default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
}

fn default_customer() -> String {
    "my_customer".into()
}

fn default_timeout_seconds() -> u64 {
    30
}

fn default_rate_limit_waits() -> u32 {
    5
}
