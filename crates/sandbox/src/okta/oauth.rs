//! OAuth 2.0 for service apps: `POST /oauth2/v1/token` (client credentials with a `private_key_jwt`
//! assertion checked against the client's registered JWKS), the Bearer tokens it issues, and the scope each
//! Management API endpoint needs (notes/okta.md §5).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use super::context::{Ctx, json_response};
use super::errors::OktaError;
use super::ids;
use super::state::Okta;
use crate::emulator::lock;

/// Okta's access tokens for service apps live one hour, fixed.
const TOKEN_SECONDS: i64 = 3600;
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A registered service app: its public keys and the Okta scopes granted to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceApp {
    pub client_id: String,
    pub jwks: JwkSet,
    pub scopes: BTreeSet<String>,
}

#[derive(Debug, Clone)]
struct Issued {
    scopes: BTreeSet<String>,
    expires: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct OAuthState {
    apps: BTreeMap<String, ServiceApp>,
    tokens: BTreeMap<String, Issued>,
    /// Assertion ids already used: a replayed assertion is refused, as Okta does.
    used_jti: BTreeSet<String>,
}

impl OAuthState {
    pub fn register(&mut self, app: ServiceApp) {
        self.apps.insert(app.client_id.clone(), app);
    }
}

/// How a Bearer token fared against the scope an endpoint needs.
pub enum BearerCheck {
    Allowed,
    Invalid,
    MissingScope(&'static str),
}

/// The scope a Management API call needs. A `.manage` scope also allows reads, as in Okta.
pub fn required_scope(method: &Method, path: &str) -> Option<&'static str> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = segs.strip_prefix(&["api", "v1"])?;
    let read = *method == Method::GET;
    let pick = |r: &'static str, m: &'static str| Some(if read { r } else { m });
    match rest.first().copied()? {
        "users" => pick("okta.users.read", "okta.users.manage"),
        "groups" => pick("okta.groups.read", "okta.groups.manage"),
        "apps" => pick("okta.apps.read", "okta.apps.manage"),
        "logs" => Some("okta.logs.read"),
        "eventHooks" => pick("okta.eventHooks.read", "okta.eventHooks.manage"),
        "meta" if rest.get(1) == Some(&"schemas") => {
            pick("okta.schemas.read", "okta.schemas.manage")
        }
        _ => None,
    }
}

/// Group push needs the groups scope besides the apps one (spec: `okta.apps.*` + `okta.groups.*`).
fn extra_scope(method: &Method, path: &str) -> Option<&'static str> {
    path.contains("/group-push/")
        .then_some(if *method == Method::GET {
            "okta.groups.read"
        } else {
            "okta.groups.manage"
        })
}

fn covers(granted: &BTreeSet<String>, needed: &str) -> bool {
    granted.contains(needed)
        || needed
            .strip_suffix(".read")
            .is_some_and(|family| granted.contains(&format!("{family}.manage")))
}

impl Okta {
    /// Checks `Bearer <token>` for the call; `None` when the header is not a Bearer token.
    pub(crate) fn check_bearer(
        &self,
        value: &str,
        method: &Method,
        path: &str,
    ) -> Option<BearerCheck> {
        let token = value.strip_prefix("Bearer ")?;
        let now = self.core.now();
        let state = lock(&self.oauth);
        let Some(issued) = state.tokens.get(token).filter(|t| t.expires > now) else {
            return Some(BearerCheck::Invalid);
        };
        let needed = [required_scope(method, path), extra_scope(method, path)];
        for scope in needed.into_iter().flatten() {
            if !covers(&issued.scopes, scope) {
                return Some(BearerCheck::MissingScope(scope));
            }
        }
        Some(BearerCheck::Allowed)
    }
}

/// Okta's 403 for a token without the scope: E0000006 plus a `WWW-Authenticate` challenge naming it.
pub fn insufficient_scope(base: &str, scope: &str, path: &str) -> Response {
    let mut resp = OktaError::new(
        StatusCode::FORBIDDEN,
        "E0000006",
        "You do not have permission to perform the requested action",
    )
    .into_response();
    let challenge = format!(
        "Bearer authorization_uri=\"{base}/oauth2/v1/authorize\", realm=\"IdpError\", scope=\"{scope}\", \
         error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\", \
         resource=\"{path}\""
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    jti: Option<String>,
}

/// `POST /oauth2/v1/token`: form fields `grant_type`, `scope`, `client_assertion_type`, `client_assertion`.
pub async fn token(State(o): State<Arc<Okta>>, ctx: Ctx, body: Bytes) -> Response {
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if field("grant_type") != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
    }
    if field("client_assertion_type") != ASSERTION_TYPE || field("client_assertion").is_empty() {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed. Either the client or the client credentials are invalid.",
        );
    }
    let assertion = field("client_assertion");
    let claimed = jsonwebtoken::dangerous::insecure_decode::<Claims>(assertion)
        .map(|d| d.claims)
        .ok();
    let mut state = lock(&o.oauth);
    let Some(app) = claimed
        .as_ref()
        .and_then(|c| state.apps.get(&c.iss))
        .cloned()
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client_assertion token is invalid.",
        );
    };
    let audience = ctx.url("/oauth2/v1/token");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience.as_str()]);
    validation.set_issuer(&[app.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let verified = app.jwks.keys.iter().find_map(|jwk| {
        let key = DecodingKey::from_jwk(jwk).ok()?;
        jsonwebtoken::decode::<Claims>(assertion, &key, &validation).ok()
    });
    let Some(claims) = verified.map(|d| d.claims) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client_assertion signature is invalid.",
        );
    };
    if claims.sub != app.client_id
        || claims.exp > jsonwebtoken::get_current_timestamp() as i64 + TOKEN_SECONDS + 60
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client_assertion token has an invalid subject or an expiration too far in the future.",
        );
    }
    if let Some(jti) = claims.jti
        && !state.used_jti.insert(jti)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client_assertion token has already been used.",
        );
    }
    let requested: BTreeSet<String> = field("scope")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if requested.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
        );
    }
    let refused: Vec<&str> = requested
        .iter()
        .filter(|s| !app.scopes.contains(*s))
        .map(String::as_str)
        .collect();
    if !refused.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!(
                "The following scopes are not granted to the client: {}",
                refused.join(" ")
            ),
        );
    }
    *o.core
        .state()
        .counters
        .tokens_issued
        .entry(app.client_id.clone())
        .or_default() += 1;
    let access_token = format!("eyJ{}", ids::token());
    state.tokens.insert(
        access_token.clone(),
        Issued {
            scopes: requested.clone(),
            expires: ctx.now + Duration::seconds(TOKEN_SECONDS),
        },
    );
    let scope: Vec<&str> = requested.iter().map(String::as_str).collect();
    json_response(
        StatusCode::OK,
        &json!({
            "token_type": "Bearer",
            "expires_in": TOKEN_SECONDS,
            "access_token": access_token,
            "scope": scope.join(" "),
        }),
    )
}

/// `POST /__sandbox/oauth/clients`: registers a service app `{client_id, jwks, scopes}`.
pub async fn register(State(o): State<Arc<Okta>>, body: Bytes) -> Response {
    match serde_json::from_slice::<ServiceApp>(&body) {
        Ok(app) => {
            let id = app.client_id.clone();
            lock(&o.oauth).register(app);
            json_response(StatusCode::CREATED, &json!({ "client_id": id }))
        }
        Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({ "error": e.to_string() })),
    }
}

/// A fresh RSA key for a test service app: its PKCS#8 PEM and public JWK. Test-only by nature: the sandbox
/// is never used by production code paths.
pub struct ServiceKey {
    pub private_pem: String,
    pub jwk: Value,
}

impl ServiceKey {
    pub fn generate(kid: &str) -> anyhow::Result<ServiceKey> {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::rsa::{KeyPair, KeySize};
        use aws_lc_rs::signature::KeyPair as _;
        use base64::Engine;
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| anyhow::anyhow!("cannot generate an RSA key"))?;
        let der = pair
            .as_der()
            .map_err(|_| anyhow::anyhow!("cannot encode the RSA key"))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        let public = pair.public_key();
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwk = json!({
            "kty": "RSA",
            "kid": kid,
            "use": "sig",
            "alg": "RS256",
            "n": url.encode(public.modulus().big_endian_without_leading_zero()),
            "e": url.encode(public.exponent().big_endian_without_leading_zero()),
        });
        Ok(ServiceKey {
            private_pem: pem,
            jwk,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_the_resource_family_and_manage_covers_read() {
        assert_eq!(
            required_scope(&Method::DELETE, "/api/v1/users/00u1/sessions"),
            Some("okta.users.manage")
        );
        assert_eq!(
            required_scope(&Method::GET, "/api/v1/logs"),
            Some("okta.logs.read")
        );
        let granted = BTreeSet::from(["okta.users.manage".to_string()]);
        assert!(covers(&granted, "okta.users.read"));
        assert!(!covers(&granted, "okta.groups.read"));
        let read_only = BTreeSet::from(["okta.users.read".to_string()]);
        assert!(!covers(&read_only, "okta.users.manage"));
    }
}
