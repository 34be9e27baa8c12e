//! GitLab connection settings, as written under `connections:` in grantflow.yaml.

use serde::Deserialize;

use crate::SecretSource;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitlabConfig {
    /// The instance URL, e.g. `https://gitlab.com` (or the sandbox's URL); `/api/v4` is added.
    pub base_url: String,
    /// Allows plain `http` to a host that is not loopback: the credential would cross the network in clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// A personal, group or project access token with `api` scope (sent as `PRIVATE-TOKEN`).
    pub token: SecretSource,
    /// Per-request timeout.
    #[serde(default = "crate::transport::default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// How many times one call may wait out a 429 before reporting the rate limit to the engine.
    #[serde(default = "crate::transport::default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
    /// How soon to look again for a person whose GitLab user appears only at their first SSO login.
    #[serde(default = "default_pending_recheck_seconds")]
    pub pending_recheck_seconds: u64,
    /// GitLab creates users at their first SSO sign-in (just-in-time
    /// provisioning). When true, grants for people without a GitLab user are
    /// planned and wait for that sign-in instead of being skipped.
    #[serde(default = "default_true")]
    pub accounts_created_on_first_login: bool,
    /// How GitLab users come to exist and go: `first_login` (the default: at the person's first SSO
    /// sign-in, as `accounts_created_on_first_login` says; grantflow neither makes nor retires them),
    /// `admin_api` (self-managed GitLab with an administrator's token: grantflow creates, blocks,
    /// deactivates and deletes users as policies declare) or `first_login_admin_retire` (users appear at
    /// their first SSO sign-in, and an administrator's token retires a leaver's as policies declare).
    #[serde(default)]
    pub accounts: GitlabAccounts,
}

/// Who makes GitLab users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GitlabAccounts {
    /// GitLab, at the first SSO sign-in (or a person, by hand).
    #[default]
    FirstLogin,
    /// grantflow, through the admin users API (`POST /users`, block, deactivate, delete).
    AdminApi,
    /// GitLab at the first SSO sign-in; grantflow retires them through the admin users API (block,
    /// deactivate, delete): SAML sign-in alone never switches a leaver's GitLab user off.
    FirstLoginAdminRetire,
}

impl GitlabAccounts {
    /// Whether grantflow creates users (otherwise they appear at their first sign-in).
    pub fn creates(self) -> bool {
        self == Self::AdminApi
    }

    /// Whether grantflow retires users through the admin API.
    pub fn retires(self) -> bool {
        self.administers()
    }

    /// Whether the connection holds an administrator's token, which also changes users' profiles
    /// (`PUT /users/:id`).
    pub fn administers(self) -> bool {
        self != Self::FirstLogin
    }
}

crate::http_settings!(GitlabConfig);

fn default_true() -> bool {
    true
}

fn default_pending_recheck_seconds() -> u64 {
    5
}
