//! Salesforce connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;
use std::path::PathBuf;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceConfig {
    /// The org's instance URL, e.g. `https://example.my.salesforce.com` (or the sandbox's URL).
    pub base_url: String,
    /// Allows plain `http` to a host that is not loopback: the credential would cross the network in clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// A fixed OAuth access token (session id) of an integration user who may manage users and permission
    /// sets; sent as `Authorization: Bearer`. It is never renewed; give this or `private_key`.
    #[serde(default)]
    pub token: Option<SecretSource>,
    /// The PEM private key whose certificate the connected app holds: the connector signs an OAuth 2.0 JWT
    /// bearer assertion with it (`iss` = `consumer_key`, `sub` = `username`, `aud` = `login_url`) and opens a
    /// new session whenever the last one is due to expire or is refused.
    #[serde(default)]
    pub private_key: Option<SecretSource>,
    /// The connected app's consumer key (client id); required with `private_key`.
    #[serde(default)]
    pub consumer_key: Option<String>,
    /// The integration user's Salesforce username, pre-authorized for the app; required with `private_key`.
    #[serde(default)]
    pub username: Option<String>,
    /// Where the assertion is sent and what it claims as `aud`: `https://login.salesforce.com`, or
    /// `https://test.salesforce.com` for a sandbox org.
    #[serde(default = "default_login_url")]
    pub login_url: String,
    /// How long a session lasts (the org's session timeout; Salesforce's token answer does not say). The
    /// connector opens a new one shortly before; a session ended earlier is renewed on its 401.
    #[serde(default = "default_session_seconds")]
    pub session_timeout_seconds: u64,
    /// REST API version, without the `v`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// A PEM file of an extra CA certificate to trust, besides the system's (the sandbox's own CA). Relative
    /// paths are relative to grantflow.yaml.
    #[serde(default)]
    pub ca_certificate: Option<PathBuf>,
    /// Per-request timeout.
    #[serde(default = "crate::transport::default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Salesforce reports a spent API request limit (403 REQUEST_LIMIT_EXCEEDED) without saying when it frees
    /// up (the limit is a rolling 24 hours); how long the engine waits before trying again.
    #[serde(default = "default_limit_retry_seconds")]
    pub limit_retry_seconds: u64,
}

fn default_api_version() -> String {
    "59.0".into()
}

fn default_login_url() -> String {
    "https://login.salesforce.com".into()
}

/// Salesforce's default session timeout, two hours.
fn default_session_seconds() -> u64 {
    7200
}

fn default_limit_retry_seconds() -> u64 {
    3600
}

// Salesforce's request limit is daily: a call never waits for it.
crate::http_settings!(SalesforceConfig, |_: &SalesforceConfig| 0);
