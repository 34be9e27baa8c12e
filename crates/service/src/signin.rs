//! Sign-in for people with OpenID Connect (authorization code with PKCE), against Okta or any provider that
//! publishes a discovery document, and the roles a person gets from their groups.
//!
//! The server calls [`SignIn::begin`] at `/auth/login` (it keeps the [`PendingSignIn`] for the browser,
//! e.g. in an encrypted cookie, and sends the browser to the URL) and [`SignIn::finish`] at `/auth/callback`
//! with the `code` and `state` the provider sent back. `finish` checks the state, redeems the code with the
//! PKCE verifier, verifies the ID token (signature by a key of the provider's JWKS, issuer, audience,
//! expiry, nonce, `at_hash`) and maps the groups claim to roles by the `sign_in:` configuration. A person in
//! no configured group gets an actor with no role, which the server refuses.
//!
//! Okta's facts (issuer spelling, the groups claim, client authentication): shared notes
//! wave2-vendors.md §2.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthType, AuthenticationFlow, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdTokenFields, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Role};
use crate::{Result, ServiceError};

/// The code of every refused sign-in (a wrong state, a refused code, a token that does not verify).
pub const SIGN_IN_FAILED: &str = "sign_in_failed";

/// How long a sign-in may take between [`SignIn::begin`] and [`SignIn::finish`].
const PENDING_LIFETIME_SECONDS: i64 = 600;
/// How long one call to the provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The `sign_in:` section of grantflow.yaml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInConfig {
    /// The authorization server's issuer, exactly as its discovery document spells it (Okta: `https://{org}`
    /// for the org server, `https://{org}/oauth2/default` for the default one; no trailing slash).
    pub issuer: String,
    pub client_id: String,
    /// The name of the environment variable that holds the client secret.
    pub client_secret_env: String,
    /// Where the provider sends the browser back (grantflow's `/auth/callback`); registered with the app.
    pub redirect_uri: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// How the client secret is sent to the token endpoint (Okta's default is `client_secret_basic`).
    #[serde(default)]
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// The ID token claim that lists the person's groups.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Which groups give which role.
    #[serde(default)]
    pub roles: RoleGroups,
    /// Which groups operate which connection (by connection name).
    #[serde(default)]
    pub operators: BTreeMap<String, Vec<String>>,
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email", "groups"]
        .map(String::from)
        .to_vec()
}

fn default_groups_claim() -> String {
    "groups".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
}

/// Group names per role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleGroups {
    #[serde(default)]
    pub admin: Vec<String>,
    #[serde(default)]
    pub approver: Vec<String>,
    #[serde(default)]
    pub requester: Vec<String>,
    #[serde(default)]
    pub auditor: Vec<String>,
    #[serde(default)]
    pub viewer: Vec<String>,
}

impl SignInConfig {
    /// The roles that membership of `groups` gives (exact, case-sensitive group names, as Okta sends them).
    pub fn roles_for(&self, groups: &BTreeSet<String>) -> BTreeSet<Role> {
        let any = |names: &[String]| names.iter().any(|name| groups.contains(name));
        let r = &self.roles;
        let mut roles: BTreeSet<Role> = [
            (&r.admin, Role::Admin),
            (&r.approver, Role::Approver),
            (&r.requester, Role::Requester),
            (&r.auditor, Role::Auditor),
            (&r.viewer, Role::Viewer),
        ]
        .into_iter()
        .filter(|(names, _)| any(names))
        .map(|(_, role)| role)
        .collect();
        for (connection, names) in &self.operators {
            if any(names) {
                roles.insert(Role::Operator(connection.clone()));
            }
        }
        roles
    }

    /// The issuer as a URL the provider may be reached at: `https`, or `http` on this machine only.
    fn issuer_url(&self) -> Result<IssuerUrl> {
        let parsed = url::Url::parse(&self.issuer)
            .map_err(|e| misconfigured(format!("issuer {:?} is not a URL: {e}", self.issuer)))?;
        let loopback = match parsed.host() {
            Some(url::Host::Domain(name)) => name == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(misconfigured(format!(
                    "issuer {:?} must be https (http only for localhost or 127.0.0.1)",
                    self.issuer
                )));
            }
        }
        // The issuer is compared as a string with the discovery document's, so it is kept as written.
        IssuerUrl::new(self.issuer.clone())
            .map_err(|e| misconfigured(format!("issuer {:?}: {e}", self.issuer)))
    }
}

fn misconfigured(message: String) -> ServiceError {
    ServiceError::Config(format!("sign_in: {message}"))
}

fn refused(message: impl Into<String>) -> ServiceError {
    ServiceError::refused(SIGN_IN_FAILED, message)
}

/// Every claim of the ID token that the standard claims do not name; the groups claim is read from here,
/// since its name is configured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    claims: BTreeMap<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

type IdTokenExtra = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type ProviderClient = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<IdTokenExtra, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A sign-in in progress: what [`SignIn::finish`] checks the provider's answer against. The server keeps it
/// for the browser between the two steps (it is serializable) and must not let the browser read or change
/// it; its Debug output shows none of its values.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    state: String,
    nonce: String,
    pkce_verifier: String,
    /// Unix seconds at [`SignIn::begin`].
    started_at: i64,
}

impl fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}

/// The relying party: one OpenID Connect client, discovered from its issuer.
pub struct SignIn {
    config: SignInConfig,
    client: ProviderClient,
    http: reqwest::Client,
}

impl fmt::Debug for SignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignIn")
            .field("issuer", &self.config.issuer)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

/// A failed call to the provider, described without its body.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProviderCallError(String);

impl SignIn {
    /// Reads the client secret from the environment variable the configuration names, then
    /// [`SignIn::discover_with_secret`].
    pub async fn discover(config: &SignInConfig) -> Result<SignIn> {
        let secret = std::env::var(&config.client_secret_env)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| config_error_for_env(&config.client_secret_env))?;
        Self::discover_with_secret(config, SecretString::from(secret)).await
    }

    /// Fetches the issuer's discovery document and keys; the issuer in the document must be the configured
    /// one, character for character.
    pub async fn discover_with_secret(
        config: &SignInConfig,
        client_secret: SecretString,
    ) -> Result<SignIn> {
        let issuer = config.issuer_url()?;
        let redirect = RedirectUrl::new(config.redirect_uri.clone())
            .map_err(|e| misconfigured(format!("redirect_uri {:?}: {e}", config.redirect_uri)))?;
        if !config.scopes.iter().any(|s| s == "openid") {
            return Err(misconfigured("scopes must include openid".into()));
        }
        let http = reqwest::Client::builder()
            // Following a redirect from the provider would let it point us anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| misconfigured(format!("cannot build the HTTP client: {e}")))?;
        let send = provider_caller(http.clone());
        let metadata = CoreProviderMetadata::discover_async(issuer, &send)
            .await
            .map_err(|e| {
                misconfigured(format!(
                    "discovery at {} failed: {}",
                    config.issuer,
                    error_chain(&e)
                ))
            })?;
        let auth_type = match config.token_endpoint_auth_method {
            TokenEndpointAuthMethod::ClientSecretBasic => AuthType::BasicAuth,
            TokenEndpointAuthMethod::ClientSecretPost => AuthType::RequestBody,
        };
        let client = ProviderClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            Some(ClientSecret::new(client_secret.expose_secret().to_owned())),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(auth_type);
        Ok(SignIn {
            config: config.clone(),
            client,
            http,
        })
    }

    /// Starts a sign-in: the provider's authorize URL to send the browser to, and what to keep until the
    /// browser comes back.
    pub fn begin(&self) -> (url::Url, PendingSignIn) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self.client.authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        // `openid` is added by the client itself.
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let pending = PendingSignIn {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            started_at: chrono::Utc::now().timestamp(),
        };
        (url, pending)
    }

    /// Finishes a sign-in with what the provider sent the browser back with. Every refusal is
    /// [`SIGN_IN_FAILED`] with what went wrong (never a code, token or secret).
    pub async fn finish(
        &self,
        code: &str,
        returned_state: &str,
        pending: PendingSignIn,
    ) -> Result<Actor> {
        let state_matches = aws_lc_rs::constant_time::verify_slices_are_equal(
            pending.state.as_bytes(),
            returned_state.as_bytes(),
        )
        .is_ok();
        if !state_matches {
            return Err(refused(
                "the state sent back does not match this sign-in (start again from the login page)",
            ));
        }
        let age = chrono::Utc::now().timestamp() - pending.started_at;
        if !(0..=PENDING_LIFETIME_SECONDS).contains(&age) {
            return Err(refused(
                "this sign-in has expired (start again from the login page)",
            ));
        }
        let send = provider_caller(self.http.clone());
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| misconfigured(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&send)
            .await
            .map_err(|e| {
                refused(format!(
                    "the identity provider did not redeem the code: {}",
                    error_chain(&e)
                ))
            })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| refused("the identity provider sent no ID token"))?;
        let verifier = self.client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &Nonce::new(pending.nonce))
            .map_err(|e| refused(format!("the ID token does not verify: {}", error_chain(&e))))?;
        if let Some(expected) = claims.access_token_hash() {
            let algorithm = id_token
                .signing_alg()
                .map_err(|e| refused(format!("the ID token's algorithm: {e}")))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| refused(format!("the ID token's key: {e}")))?;
            let actual = AccessTokenHash::from_token(tokens.access_token(), algorithm, key)
                .map_err(|e| refused(format!("the access token hash: {e}")))?;
            if actual != *expected {
                return Err(refused(
                    "the ID token's at_hash does not match the access token",
                ));
            }
        }
        let email = claims
            .email()
            .map(|e| e.as_str().to_lowercase())
            .filter(|e| !e.is_empty())
            .ok_or_else(|| refused("the ID token carries no email (request the email scope)"))?;
        if claims.email_verified() == Some(false) {
            return Err(refused("the identity provider has not verified this email"));
        }
        let groups = self.groups_of(claims.additional_claims())?;
        Ok(Actor::new(format!("oidc:{email}"), self.config.roles_for(&groups)).for_person(&email))
    }

    /// The groups claim's names; an absent claim is no group.
    fn groups_of(&self, other: &OtherClaims) -> Result<BTreeSet<String>> {
        match other.claims.get(&self.config.groups_claim) {
            None | Some(serde_json::Value::Null) => Ok(BTreeSet::new()),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str().map(str::to_owned).ok_or_else(|| {
                        refused(format!(
                            "the {} claim holds something other than group names",
                            self.config.groups_claim
                        ))
                    })
                })
                .collect(),
            Some(_) => Err(refused(format!(
                "the {} claim is not a list of group names",
                self.config.groups_claim
            ))),
        }
    }
}

fn config_error_for_env(name: &str) -> ServiceError {
    misconfigured(format!(
        "the environment variable {name} (client_secret_env) is not set or empty"
    ))
}

/// The HTTP client the `openidconnect` crate calls. Each call owns its handle on the client (a cheap
/// clone), so the futures borrow nothing and stay `Send` for a multi-threaded server.
fn provider_caller(
    http: reqwest::Client,
) -> impl Fn(
    openidconnect::HttpRequest,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = std::result::Result<openidconnect::HttpResponse, ProviderCallError>,
            > + Send,
    >,
> + Send
+ Sync {
    move |request| Box::pin(call_provider(http.clone(), request))
}

/// One HTTP exchange with the provider.
async fn call_provider(
    http: reqwest::Client,
    request: openidconnect::HttpRequest,
) -> std::result::Result<openidconnect::HttpResponse, ProviderCallError> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| ProviderCallError(format!("cannot reach the identity provider: {e}")))?;
    let mut answer = openidconnect::http::Response::builder().status(response.status());
    if let Some(headers) = answer.headers_mut() {
        *headers = response.headers().clone();
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| ProviderCallError(format!("reading the identity provider's answer: {e}")))?;
    answer
        .body(bytes.to_vec())
        .map_err(|e| ProviderCallError(format!("the identity provider's answer: {e}")))
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SignInConfig {
        serde_saphyr::from_str(
            "issuer: https://example.okta.com/oauth2/default\n\
             client_id: 0oa1\n\
             client_secret_env: GRANTFLOW_OIDC_SECRET\n\
             redirect_uri: https://grantflow.example.com/auth/callback\n\
             roles:\n  admin: [grantflow-admins]\n  viewer: [Everyone]\n\
             operators:\n  okta: [okta-operators]\n",
        )
        .unwrap()
    }

    #[test]
    fn the_defaults_ask_for_groups_in_the_groups_claim() {
        let config = config();
        assert_eq!(config.scopes, ["openid", "profile", "email", "groups"]);
        assert_eq!(config.groups_claim, "groups");
        assert_eq!(
            config.token_endpoint_auth_method,
            TokenEndpointAuthMethod::ClientSecretBasic
        );
    }

    #[test]
    fn roles_come_from_exact_group_names() {
        let config = config();
        let groups = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            config.roles_for(&groups(&["grantflow-admins", "okta-operators"])),
            BTreeSet::from([Role::Admin, Role::Operator("okta".into())])
        );
        assert_eq!(
            config.roles_for(&groups(&["Everyone"])),
            BTreeSet::from([Role::Viewer])
        );
        assert!(config.roles_for(&groups(&["GrantFlow-Admins"])).is_empty());
    }

    #[test]
    fn issuers_must_be_https_except_on_this_machine() {
        let mut config = config();
        for (issuer, ok) in [
            ("https://example.okta.com", true),
            ("http://127.0.0.1:8080/oauth2/default", true),
            ("http://localhost:8080", true),
            ("http://[::1]:8080", true),
            ("http://example.okta.com", false),
            ("http://10.0.0.1", false),
            ("ftp://example.okta.com", false),
        ] {
            config.issuer = issuer.into();
            assert_eq!(config.issuer_url().is_ok(), ok, "{issuer}");
        }
    }

    /// The server keeps one `SignIn` behind an `Arc` and awaits its calls in handlers on any thread.
    #[allow(dead_code)]
    fn usable_from_a_multithreaded_server(
        config: &SignInConfig,
        signin: &SignIn,
        pending: PendingSignIn,
    ) {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: T) {}
        send_sync(signin);
        send(SignIn::discover(config));
        send(signin.finish("code", "state", pending));
    }

    #[test]
    fn a_pending_sign_in_shows_no_secret_in_debug() {
        let pending = PendingSignIn {
            state: "state-value".into(),
            nonce: "nonce-value".into(),
            pkce_verifier: "verifier-value".into(),
            started_at: 1,
        };
        let shown = format!("{pending:?}");
        assert!(!shown.contains("value"), "{shown}");
    }
}
