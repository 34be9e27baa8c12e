//! Okta connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaConfig {
    /// The org URL, e.g. `https://example.okta.com` (or the sandbox's URL).
    pub base_url: String,
    /// Allows plain `http` to a host that is not loopback: the credential would cross the network in clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// The API token (sent as `Authorization: SSWS …`). Give this or `auth`.
    #[serde(default)]
    pub token: Option<SecretSource>,
    /// OAuth 2.0 service-app authentication, instead of an API token.
    #[serde(default)]
    pub auth: Option<OktaAuth>,
    /// Per-request timeout.
    #[serde(default = "crate::transport::default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// How many times one call may wait out a 429 before giving up and
    /// reporting the rate limit to the engine.
    #[serde(default = "crate::transport::default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
    /// What a sync reads; by default everything.
    #[serde(default)]
    pub sync: SyncScope,
    /// Okta event hooks delivered to `grantflow serve`.
    #[serde(default)]
    pub event_hook: Option<EventHookConfig>,
}

crate::http_settings!(OktaConfig);

/// The shared secret Okta sends with each delivery (the hook's
/// `authScheme`), and the header it comes in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventHookConfig {
    pub secret: SecretSource,
    #[serde(default = "default_hook_header")]
    pub header: String,
}

fn default_hook_header() -> String {
    "authorization".to_string()
}

/// How grantflow authenticates to Okta.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OktaAuth {
    /// Client credentials with a `private_key_jwt` assertion (RS256).
    Oauth {
        client_id: String,
        /// The PEM private key (PKCS#8 or PKCS#1) registered with the service app.
        private_key: SecretSource,
        /// The key id (`kid`) to put in the assertion's header, when the app has several keys.
        #[serde(default)]
        key_id: Option<String>,
        /// Scopes to request. By default each call asks for the one scope it needs.
        #[serde(default)]
        scopes: Option<Vec<String>>,
    },
}

/// Limits on what a sync reads. Empty lists mean "all": every group, every
/// app and users in every status (DEPROVISIONED included).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SyncScope {
    /// Group names to read (with their memberships).
    #[serde(default)]
    pub groups: Vec<String>,
    /// App labels to read (with their assignments).
    #[serde(default)]
    pub apps: Vec<String>,
    /// User statuses to read, e.g. `[ACTIVE, SUSPENDED]`.
    #[serde(default)]
    pub user_statuses: Vec<String>,
}

impl SyncScope {
    pub fn wants_group(&self, name: &str) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|g| g == name)
    }

    pub fn wants_app(&self, label: &str) -> bool {
        self.apps.is_empty() || self.apps.iter().any(|a| a == label)
    }

    pub fn wants_status(&self, status: &str) -> bool {
        self.user_statuses.is_empty()
            || self
                .user_statuses
                .iter()
                .any(|s| s.eq_ignore_ascii_case(status))
    }
}
