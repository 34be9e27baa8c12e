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
    /// A fixed OAuth 2.0 access token with the `admin.directory.user` (`.readonly` when no accounts are
    /// managed), `admin.directory.group` and `admin.directory.group.member` scopes (sent as `Authorization: Bearer …`). It is never renewed, so it
    /// suits short runs; give this or `service_account_key`.
    #[serde(default)]
    pub token: Option<SecretSource>,
    /// The JSON key file of a service account with domain-wide delegation, as Google issues it
    /// (`client_email`, `private_key`, `private_key_id`, `token_uri`). The connector signs a JWT with it for
    /// `subject` and `scopes`, exchanges it at `token_uri` and renews the token before it expires.
    #[serde(default)]
    pub service_account_key: Option<SecretSource>,
    /// The Workspace administrator the service account acts as (the JWT's `sub`); required with
    /// `service_account_key`.
    #[serde(default)]
    pub subject: Option<String>,
    /// The scopes asked for with `service_account_key`; each must be granted to the service account's client
    /// id in the Admin console's domain-wide delegation. Accounts as code (creating, suspending, deleting
    /// users, updating their profile) need `admin.directory.user`, the default; a connection that only
    /// manages group memberships may ask for `admin.directory.user.readonly` instead.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
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

fn default_scopes() -> Vec<String> {
    [
        "https://www.googleapis.com/auth/admin.directory.user",
        "https://www.googleapis.com/auth/admin.directory.group",
        "https://www.googleapis.com/auth/admin.directory.group.member",
    ]
    .map(str::to_string)
    .to_vec()
}

fn default_customer() -> String {
    "my_customer".into()
}
