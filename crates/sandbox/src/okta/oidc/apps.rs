//! OpenID Connect apps as the org file declares them: their client
//! credentials, redirect URIs, PKCE and token-endpoint rules, and the
//! groups claim.

use super::*;

/// An OpenID Connect web app (`signOnMode: OPENID_CONNECT`, `credentials.oauthClient` in Okta's model).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcApp {
    pub client_id: String,
    pub client_secret: String,
    /// Login redirect URIs; `/authorize` takes only an exact match.
    pub redirect_uris: Vec<String>,
    /// Whether `/authorize` insists on a PKCE challenge (Okta's `pkce_required`).
    #[serde(default = "pkce_required_by_default")]
    pub pkce_required: bool,
    /// How the app authenticates at `/token`.
    #[serde(default)]
    pub token_endpoint_auth_method: TokenAuthMethod,
    /// The groups claim of its ID tokens.
    #[serde(default)]
    pub groups_claim: GroupsClaim,
    /// What the sign-in page calls the app; the client id when absent.
    #[serde(default)]
    pub label: Option<String>,
}

fn pkce_required_by_default() -> bool {
    true
}

impl fmt::Debug for OidcApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uris", &self.redirect_uris)
            .field("pkce_required", &self.pkce_required)
            .field(
                "token_endpoint_auth_method",
                &self.token_endpoint_auth_method,
            )
            .field("groups_claim", &self.groups_claim)
            .finish()
    }
}

impl OidcApp {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.client_id.is_empty() || self.client_secret.is_empty() {
            anyhow::bail!("okta oidc app: client_id and client_secret must not be empty");
        }
        for uri in &self.redirect_uris {
            url::Url::parse(uri).map_err(|e| {
                anyhow::anyhow!(
                    "okta oidc app {}: redirect URI {uri:?} is not a URL: {e}",
                    self.client_id
                )
            })?;
        }
        self.groups_claim
            .matcher()
            .map(drop)
            .map_err(|e| anyhow::anyhow!("okta oidc app {}: groups_claim: {e}", self.client_id))
    }

    pub(super) fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.client_id)
    }
}

/// Okta's `token_endpoint_auth_method` for apps with a client secret.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    /// HTTP Basic with the client id and secret (Okta's default).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

impl TokenAuthMethod {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }
}

/// The groups claim as Okta configures it: a claim name and a filter on group names (starts with, equals,
/// contains, or matches a regular expression, which must match the whole name). The default is Okta's
/// usual set-up, `groups` matching `.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupsClaim {
    #[serde(default = "default_groups_claim_name")]
    pub name: String,
    #[serde(default)]
    pub filter: GroupsFilter,
}

impl Default for GroupsClaim {
    fn default() -> Self {
        Self {
            name: default_groups_claim_name(),
            filter: GroupsFilter::default(),
        }
    }
}

fn default_groups_claim_name() -> String {
    "groups".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupsFilter {
    StartsWith(String),
    Equals(String),
    Contains(String),
    Regex(String),
}

impl Default for GroupsFilter {
    fn default() -> Self {
        Self::Regex(".*".into())
    }
}

impl GroupsClaim {
    pub(super) fn matcher(&self) -> Result<impl Fn(&str) -> bool + '_, regex::Error> {
        let regex = match &self.filter {
            GroupsFilter::Regex(pattern) => Some(regex::Regex::new(&format!("^(?:{pattern})$"))?),
            _ => None,
        };
        Ok(move |name: &str| match &self.filter {
            GroupsFilter::StartsWith(prefix) => name.starts_with(prefix.as_str()),
            GroupsFilter::Equals(value) => name == value,
            GroupsFilter::Contains(part) => name.contains(part.as_str()),
            GroupsFilter::Regex(_) => regex.as_ref().is_some_and(|r| r.is_match(name)),
        })
    }
}
