//! GitHub connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// The REST root: `https://api.github.com`, `https://HOST/api/v3` for GitHub Enterprise Server, or the
    /// sandbox's URL.
    pub base_url: String,
    /// Allows plain `http` to a host that is not loopback: the credential would cross the network in clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// A token with `admin:org` and `repo` (sent as `Authorization: Bearer …`).
    pub token: SecretSource,
    /// The organisation's login, as in `/orgs/{org}`; when left out, the one organisation the token belongs
    /// to (`GET /user/orgs`), so a sandbox configuration needs no more than URL and token.
    #[serde(default)]
    pub organization: Option<String>,
    /// Per-request timeout.
    #[serde(default = "crate::transport::default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// How many times one call may wait out a rate limit before reporting it to the engine.
    #[serde(default = "crate::transport::default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
}

crate::http_settings!(GithubConfig);
