//! Okta as an OpenID Connect provider, for people signing in to a web app (authorization code with PKCE).
//!
//! Two authorization servers, as Okta publishes them:
//! - the org server: issuer `http://host:port` (no path, no trailing slash), discovery at
//!   `/.well-known/openid-configuration`, endpoints under `/oauth2/v1/` (its `/token` also serves the service
//!   apps' client credentials, `oauth.rs`);
//! - the `default` custom server: issuer `http://host:port/oauth2/default`, everything under `/oauth2/default/`.
//!
//! `/authorize` shows the sign-in page (`signin_page.rs`) for a server-side transaction; the form's `POST` to
//! `/login/signin` checks the password and the user's status and sends the browser back with a code that
//! lives 60 s and is good once. `/token` authenticates the client the way its app says
//! (`client_secret_basic` by default, or `client_secret_post`), checks the PKCE verifier and answers an ID
//! token (RS256, `kid`) and an access token for `/userinfo`. `/keys` publishes each server's key.
//!
//! Simplifications, on purpose: no Okta session (every `/authorize` asks for the password, `prompt=none` is
//! `login_required`), no consent, no refresh tokens, `response_mode=query` only, and only the endpoints
//! served here are advertised. The groups claim is configured on the app (as on the org server) and used by
//! both servers; it needs the `groups` scope.
//! Wire facts: shared notes wave2-vendors.md §2 and Okta's OIDC API reference.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::context::{Ctx, json_response};
use super::oauth::ServiceKey;
use super::signin_page::{self, SIGN_IN_PATH, TRANSACTION_FIELD};
use super::state::{Inner, Okta, User, UserStatus};
use crate::emulator::{lock, random_token};

mod apps;
mod token;

pub use apps::*;
#[cfg(test)]
use token::decode_basic;
use token::token;

/// The password of every seeded user who has one and whose org file gives none.
pub const SANDBOX_PASSWORD: &str = "Sandbox-Passw0rd!";

/// Okta's authorization codes live 60 seconds.
const CODE_SECONDS: i64 = 60;
/// Access and ID tokens live one hour, Okta's default.
const TOKEN_SECONDS: i64 = 3600;
/// How long the sign-in page stays good.
const TRANSACTION_SECONDS: i64 = 600;
/// The `idp` claim: the org itself is the identity provider.
const ORG_IDP_ID: &str = "00oSANDBOXORGIDP0001";

/// Which authorization server a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthServer {
    Org,
    Default,
}

impl AuthServer {
    /// Where the server's discovery document lives, below the org URL.
    fn root(self) -> &'static str {
        match self {
            Self::Org => "",
            Self::Default => "/oauth2/default",
        }
    }

    fn endpoints(self) -> &'static str {
        match self {
            Self::Org => "/oauth2/v1",
            Self::Default => "/oauth2/default/v1",
        }
    }

    fn issuer(self, ctx: &Ctx) -> String {
        ctx.url(self.root())
    }

    fn endpoint(self, ctx: &Ctx, name: &str) -> String {
        ctx.url(&format!("{}/{name}", self.endpoints()))
    }

    /// The `aud` of its access tokens: the org URL, or the custom server's audience.
    fn access_audience(self, ctx: &Ctx) -> String {
        match self {
            Self::Org => ctx.base.clone(),
            Self::Default => "api://default".into(),
        }
    }

    fn scopes(self) -> &'static [&'static str] {
        &["openid", "profile", "email", "address", "phone", "groups"]
    }

    fn index(self) -> usize {
        match self {
            Self::Org => 0,
            Self::Default => 1,
        }
    }
}

/// Whether `path` belongs to an authorization server (or the sign-in page): those endpoints authenticate
/// clients and people themselves, never with the API token.
pub fn is_authorization_server_path(path: &str) -> bool {
    path.starts_with("/oauth2/") || path.starts_with("/.well-known/") || path == SIGN_IN_PATH
}

/// The authorization servers' routes and the sign-in form's.
pub fn routes() -> Router<Arc<Okta>> {
    server_routes(AuthServer::Org)
        .merge(server_routes(AuthServer::Default))
        .route(SIGN_IN_PATH, post(sign_in))
}

fn server_routes(server: AuthServer) -> Router<Arc<Okta>> {
    let root = server.root();
    let v1 = server.endpoints();
    Router::new()
        .route(
            &format!("{root}/.well-known/openid-configuration"),
            get(move |ctx: Ctx| async move { discovery(&ctx, server) }),
        )
        .route(
            &format!("{v1}/authorize"),
            get(move |State(o): State<Arc<Okta>>, ctx: Ctx| async move {
                authorize(&o, &ctx, server)
            }),
        )
        .route(
            &format!("{v1}/token"),
            post(
                move |State(o): State<Arc<Okta>>, ctx: Ctx, headers: HeaderMap, body: Bytes| async move {
                    token(o, ctx, headers, body, server).await
                },
            ),
        )
        .route(
            &format!("{v1}/keys"),
            get(move |State(o): State<Arc<Okta>>| async move { keys(&o, server) }),
        )
        .route(
            &format!("{v1}/userinfo"),
            get(
                move |State(o): State<Arc<Okta>>, ctx: Ctx, headers: HeaderMap| async move {
                    userinfo(&o, &ctx, &headers, server)
                },
            )
            .post(
                move |State(o): State<Arc<Okta>>, ctx: Ctx, headers: HeaderMap| async move {
                    userinfo(&o, &ctx, &headers, server)
                },
            ),
        )
}

/// The servers' signing keys (made on first use: RSA key generation is slow and most tests never sign in)
/// and the sign-ins in progress.
#[derive(Default)]
pub struct OidcState {
    keys: [OnceLock<SigningKey>; 2],
    flows: Mutex<Flows>,
}

impl fmt::Debug for OidcState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcState").finish_non_exhaustive()
    }
}

impl OidcState {
    /// Forgets every sign-in, code and access token; the keys stay, as an org's keys survive its data.
    pub fn reset(&self) {
        *lock(&self.flows) = Flows::default();
    }

    fn key(&self, server: AuthServer) -> Option<&SigningKey> {
        let slot = &self.keys[server.index()];
        if slot.get().is_none() {
            let kid = random_token("", 43);
            let made = ServiceKey::generate(&kid).ok().and_then(|key| {
                let encoding = EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).ok()?;
                Some(SigningKey {
                    kid,
                    encoding,
                    jwk: key.jwk,
                })
            });
            if let Some(made) = made {
                // Another request may have won the race; its key is as good.
                let _ = slot.set(made);
            }
        }
        slot.get()
    }
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

#[derive(Default)]
struct Flows {
    /// Sign-in pages shown, by transaction id.
    transactions: BTreeMap<String, Transaction>,
    /// Codes issued and not yet redeemed.
    codes: BTreeMap<String, CodeGrant>,
    /// Access tokens issued, for `/userinfo`.
    access_tokens: BTreeMap<String, AccessGrant>,
}

impl Flows {
    fn forget_expired(&mut self, now: DateTime<Utc>) {
        self.transactions.retain(|_, t| t.expires > now);
        self.codes.retain(|_, c| c.expires > now);
        self.access_tokens.retain(|_, a| a.expires > now);
    }
}

/// What `/authorize` was asked, kept while the person signs in.
#[derive(Clone)]
struct Transaction {
    server: AuthServer,
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    state: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    expires: DateTime<Utc>,
}

struct CodeGrant {
    server: AuthServer,
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    user_id: String,
    auth_time: DateTime<Utc>,
    expires: DateTime<Utc>,
}

struct AccessGrant {
    server: AuthServer,
    client_id: String,
    user_id: String,
    scopes: Vec<String>,
    expires: DateTime<Utc>,
}

/// `GET /.well-known/openid-configuration` (either server).
fn discovery(ctx: &Ctx, server: AuthServer) -> Response {
    let mut grant_types = vec!["authorization_code"];
    let mut auth_methods = vec!["client_secret_basic", "client_secret_post"];
    if server == AuthServer::Org {
        grant_types.push("client_credentials");
        auth_methods.push("private_key_jwt");
    }
    let body = json!({
        "issuer": server.issuer(ctx),
        "authorization_endpoint": server.endpoint(ctx, "authorize"),
        "token_endpoint": server.endpoint(ctx, "token"),
        "userinfo_endpoint": server.endpoint(ctx, "userinfo"),
        "jwks_uri": server.endpoint(ctx, "keys"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grant_types,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": server.scopes(),
        "token_endpoint_auth_methods_supported": auth_methods,
        "claims_supported": [
            "iss", "ver", "sub", "aud", "iat", "exp", "jti", "auth_time", "amr", "idp", "nonce", "name",
            "preferred_username", "given_name", "family_name", "email", "email_verified", "zoneinfo",
            "locale", "updated_at", "at_hash", "groups"
        ],
        "code_challenge_methods_supported": ["S256"],
        "request_parameter_supported": false,
    });
    json_response(StatusCode::OK, &body)
}

/// `GET /v1/keys`: the server's public key.
fn keys(o: &Okta, server: AuthServer) -> Response {
    let Some(key) = o.oidc.key(server) else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The signing key could not be made.",
        );
    };
    let mut resp = json_response(StatusCode::OK, &json!({ "keys": [key.jwk] }));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=3600, must-revalidate"),
    );
    resp
}

/// `GET /v1/authorize`: checks the request and shows the sign-in page. Until the redirect URI is known to
/// be the app's, errors are a page; after, they go back to the app as `error` and `error_description`.
fn authorize(o: &Okta, ctx: &Ctx, server: AuthServer) -> Response {
    let param = |name: &str| ctx.param(name).unwrap_or("");
    let app = o.core.state().oidc_apps.get(param("client_id")).cloned();
    let Some(app) = app else {
        return signin_page::error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "The client_id is not the id of an OpenID Connect app in this org.",
        );
    };
    let redirect_uri = param("redirect_uri");
    if !app.redirect_uris.iter().any(|uri| uri == redirect_uri) {
        return signin_page::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings.",
        );
    }
    let state = param("state");
    let fail = |error: &str, description: &str| {
        redirect_with(
            redirect_uri,
            &[("error", error), ("error_description", description)],
            state,
        )
    };
    if param("response_type") != "code" {
        return fail(
            "unsupported_response_type",
            "The response type is not supported by the authorization server. Configured response types: [code].",
        );
    }
    if !matches!(ctx.param("response_mode"), None | Some("query")) {
        return fail(
            "unsupported_response_mode",
            "The response mode is not supported by the authorization server. Configured response modes: [query].",
        );
    }
    let scopes: Vec<String> = param("scope")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        return fail(
            "invalid_scope",
            "The authentication request must include the 'openid' scope.",
        );
    }
    if scopes
        .iter()
        .any(|s| !server.scopes().contains(&s.as_str()))
    {
        return fail(
            "invalid_scope",
            "One or more scopes are not configured for the authorization server resource.",
        );
    }
    if state.is_empty() {
        return fail(
            "invalid_request",
            "The authentication request has an empty 'state' parameter.",
        );
    }
    if !state
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ',' | '.' | '_' | '-'))
    {
        return fail(
            "invalid_request",
            "The 'state' parameter may hold only alphanumerics, comma, period, underscore and hyphen.",
        );
    }
    let code_challenge = match (
        ctx.param("code_challenge"),
        ctx.param("code_challenge_method"),
    ) {
        (Some(challenge), Some("S256")) if is_pkce_value(challenge) => Some(challenge.to_owned()),
        (Some(_), Some("S256")) => {
            return fail(
                "invalid_request",
                "The 'code_challenge' parameter must be 43 to 128 characters of [A-Za-z0-9-._~].",
            );
        }
        (Some(_), _) => {
            return fail(
                "invalid_request",
                "The 'code_challenge_method' parameter must be 'S256'.",
            );
        }
        (None, _) if app.pkce_required => {
            return fail(
                "invalid_request",
                "PKCE code challenge is required by this client: send 'code_challenge' and 'code_challenge_method=S256'.",
            );
        }
        (None, _) => None,
    };
    if ctx.param("prompt") == Some("none") {
        return fail(
            "login_required",
            "The client specified not to prompt, but the user is not logged in.",
        );
    }
    let transaction = random_token("", 40);
    {
        let mut flows = lock(&o.oidc.flows);
        flows.forget_expired(ctx.now);
        flows.transactions.insert(
            transaction.clone(),
            Transaction {
                server,
                client_id: app.client_id.clone(),
                redirect_uri: redirect_uri.to_owned(),
                scopes,
                state: state.to_owned(),
                nonce: ctx
                    .param("nonce")
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned),
                code_challenge,
                expires: ctx.now + Duration::seconds(TRANSACTION_SECONDS),
            },
        );
    }
    signin_page::sign_in(
        StatusCode::OK,
        &transaction,
        app.label(),
        param("login_hint"),
        None,
    )
}

/// `POST /login/signin`: the sign-in form. Only an ACTIVE user with the right password gets a code; any
/// other answer is the page again with one message, so it tells nobody which part was wrong.
async fn sign_in(State(o): State<Arc<Okta>>, ctx: Ctx, body: Bytes) -> Response {
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let transaction_id = field(TRANSACTION_FIELD);
    let transaction = lock(&o.oidc.flows)
        .transactions
        .get(transaction_id)
        .filter(|t| t.expires > ctx.now)
        .cloned();
    let Some(transaction) = transaction else {
        return signin_page::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "This sign-in has expired or is unknown. Go back to the application and sign in again.",
        );
    };
    let (user_id, label) = {
        let mut inner = o.core.state();
        let label = inner
            .oidc_apps
            .get(&transaction.client_id)
            .map(|app| app.label().to_owned())
            .unwrap_or_default();
        (
            check_password(&mut inner, &ctx, field("username"), field("password")),
            label,
        )
    };
    let Some(user_id) = user_id else {
        return signin_page::sign_in(
            StatusCode::UNAUTHORIZED,
            transaction_id,
            &label,
            field("username"),
            Some("Unable to sign in"),
        );
    };
    let code = random_token("", 43);
    {
        let mut flows = lock(&o.oidc.flows);
        flows.transactions.remove(transaction_id);
        flows.codes.insert(
            code.clone(),
            CodeGrant {
                server: transaction.server,
                client_id: transaction.client_id,
                redirect_uri: transaction.redirect_uri.clone(),
                scopes: transaction.scopes,
                nonce: transaction.nonce,
                code_challenge: transaction.code_challenge,
                user_id,
                auth_time: ctx.now,
                expires: ctx.now + Duration::seconds(CODE_SECONDS),
            },
        );
    }
    redirect_with(
        &transaction.redirect_uri,
        &[("code", &code)],
        &transaction.state,
    )
}

/// The id of the ACTIVE user whose login is `username` and whose password is `password`. A wrong password
/// for an ACTIVE user counts towards the password policy's lockout: at its `maxAttempts`-th in a row the user
/// becomes `LOCKED_OUT` (logged as `user.account.lock`, as Okta does); a right one clears the count.
fn check_password(inner: &mut Inner, ctx: &Ctx, username: &str, password: &str) -> Option<String> {
    let user = inner
        .users
        .values()
        .find(|u| !username.is_empty() && u.login().eq_ignore_ascii_case(username))?;
    let (id, active) = (user.id.clone(), user.status == UserStatus::Active);
    let known = inner.passwords.get(&id)?;
    let matches =
        aws_lc_rs::constant_time::verify_slices_are_equal(known.as_bytes(), password.as_bytes())
            .is_ok();
    if !active {
        return None;
    }
    if matches {
        inner.failed_sign_ins.remove(&id);
        return Some(id);
    }
    let failed = inner.failed_sign_ins.entry(id.clone()).or_default();
    *failed = failed.saturating_add(1);
    if inner.lockout_max_attempts > 0 && *failed >= inner.lockout_max_attempts {
        inner.failed_sign_ins.remove(&id);
        if let Some(user) = inner.users.get_mut(&id) {
            user.set_status(UserStatus::LockedOut, ctx.now);
        }
        let target = vec![inner.user_target(&id)];
        inner.log(
            ctx,
            "user.account.lock",
            "Max sign in attempts exceeded",
            target,
        );
    }
    None
}

/// `GET|POST /v1/userinfo` with `Authorization: Bearer <access token>`.
fn userinfo(o: &Okta, ctx: &Ctx, headers: &HeaderMap, server: AuthServer) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let grant = {
        let flows = lock(&o.oidc.flows);
        flows
            .access_tokens
            .get(presented)
            .filter(|g| g.server == server && g.expires > ctx.now)
            .map(|g| (g.client_id.clone(), g.user_id.clone(), g.scopes.clone()))
    };
    let challenge = |status: StatusCode, error: &str, description: &str| {
        let mut resp = status.into_response();
        let value = format!(
            "Bearer authorization_uri=\"{}\", realm=\"IdpError\", error=\"{error}\", error_description=\"{description}\"",
            server.endpoint(ctx, "authorize")
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    };
    let invalid = || {
        challenge(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The access token is invalid.",
        )
    };
    let Some((client_id, user_id, scopes)) = grant else {
        return invalid();
    };
    if !scopes
        .iter()
        .any(|s| matches!(s.as_str(), "profile" | "email" | "address" | "phone"))
    {
        return challenge(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "The access token must provide access to at least one of these scopes - profile, email, address or phone",
        );
    }
    let inner = o.core.state();
    let (Some(user), Some(app)) = (inner.users.get(&user_id), inner.oidc_apps.get(&client_id))
    else {
        return invalid();
    };
    let mut claims = Map::new();
    claims.insert("sub".into(), user.id.clone().into());
    claims.extend(scope_claims(&inner, user, app, &scopes));
    json_response(StatusCode::OK, &Value::Object(claims))
}

/// The claims the granted scopes bring, as Okta names them.
fn scope_claims(
    inner: &Inner,
    user: &User,
    app: &OidcApp,
    scopes: &[String],
) -> Map<String, Value> {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let profile = |name: &str| user.profile.get(name).cloned().unwrap_or(Value::Null);
    let mut claims = Map::new();
    if has("profile") {
        claims.insert("name".into(), user.display_name().into());
        claims.insert("preferred_username".into(), user.login().into());
        claims.insert("given_name".into(), profile("firstName"));
        claims.insert("family_name".into(), profile("lastName"));
        claims.insert("locale".into(), "en_US".into());
        claims.insert("zoneinfo".into(), "America/Los_Angeles".into());
        claims.insert("updated_at".into(), user.last_updated.timestamp().into());
    }
    if has("email") {
        claims.insert("email".into(), profile("email"));
        claims.insert("email_verified".into(), true.into());
    }
    if has("groups")
        && let Ok(matches) = app.groups_claim.matcher()
    {
        let groups: Vec<Value> = inner
            .groups
            .values()
            .filter(|g| g.members.contains(&user.id) && matches(g.name()))
            .map(|g| Value::from(g.name()))
            .collect();
        claims.insert(app.groups_claim.name.clone(), Value::Array(groups));
    }
    claims
}

fn sign(key: &SigningKey, claims: &Value) -> Option<String> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).ok()
}

fn signing_failed() -> Response {
    oauth_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "The token could not be signed.",
    )
}

/// OIDC Core §3.1.3.6: base64url of the left half of the access token's SHA-256.
fn at_hash(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    let half = &digest.as_ref()[..16];
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(half)
}

/// RFC 7636 §4.2: BASE64URL(SHA256(verifier)).
fn s256(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]` (challenges in S256 are 43 of them).
fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// A 302 to `uri` with `params` and, when there is one, `state` added to its query.
fn redirect_with(uri: &str, params: &[(&str, &str)], state: &str) -> Response {
    let Ok(mut url) = url::Url::parse(uri) else {
        return signin_page::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The redirect URI is not a URL.",
        );
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if !state.is_empty() {
            query.append_pair("state", state);
        }
    }
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        resp.headers_mut().insert(header::LOCATION, location);
    }
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn groups_filters_follow_okta_kinds() {
        let claim = |filter| GroupsClaim {
            name: "groups".into(),
            filter,
        };
        let regex = claim(GroupsFilter::Regex("grantflow-.*".into()));
        let matches = regex.matcher().unwrap();
        assert!(matches("grantflow-admins"));
        assert!(!matches("all-grantflow-admins"));
        let starts = claim(GroupsFilter::StartsWith("gf-".into()));
        assert!(starts.matcher().unwrap()("gf-x"));
        assert!(claim(GroupsFilter::Regex("(".into())).matcher().is_err());
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("my+client:s%3Acret");
        assert_eq!(
            decode_basic(&encoded),
            Some(("my client".to_owned(), "s:cret".to_owned()))
        );
    }
}
