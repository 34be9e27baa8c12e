//! Google Workspace connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleConfig {
    /// The API root, `https://admin.googleapis.com` (or the sandbox's URL); paths start `admin/directory/v1/`.
    pub base_url: String,
    /// Allows plain `http` to a host that is not loopback: the credential would cross the network in clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// An OAuth 2.0 access token with the `admin.directory.user.readonly`, `admin.directory.group` and
    /// `admin.directory.group.member` scopes (sent as `Authorization: Bearer …`).
    pub token: SecretSource,
    /// The customer whose users and groups are read; `my_customer` is the token's own.
    #[serde(default = "default_customer")]
    pub customer: String,
    /// Per-request timeout.
    #[serde(default = "crate::transport::default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// How many times one call may back off from a quota error before the limit is reported to the engine.
    #[serde(default = "crate::transport::default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
}

crate::http_settings!(GoogleConfig);

fn default_customer() -> String {
    "my_customer".into()
}
