//! How requests to Okta are authenticated: an API token (`SSWS`), or an OAuth 2.0 service app that signs a
//! `private_key_jwt` client assertion (RS256) and caches each access token until shortly before it expires.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::Failure;
use crate::transport::{Body, Call, Credentials, Ctx, Wire};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Renew this long before the token's expiry, so no call carries a token that dies in flight.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

pub enum Auth {
    Ssws(SecretString),
    OAuth(Box<ServiceApp>),
}

pub struct ServiceApp {
    client_id: String,
    key: EncodingKey,
    key_id: Option<String>,
    scopes: Option<Vec<String>>,
    /// Access tokens by scope set, with their expiry by the injected clock.
    cache: tokio::sync::Mutex<HashMap<String, (SecretString, DateTime<Utc>)>>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: String,
    iat: u64,
    exp: u64,
    jti: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// The scopes a call needs, after Okta's spec (notes/okta.md §5). This is the connector's own copy: the
/// emulator keeps another so it can catch a mistake here. A `.manage` scope also allows reads.
pub fn scopes_for(method: &Method, path: &str) -> Vec<&'static str> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(rest) = segs.strip_prefix(&["api", "v1"]) else {
        return vec![];
    };
    let read = *method == Method::GET;
    let pick = |r: &'static str, m: &'static str| if read { r } else { m };
    let mut scopes = match rest.first().copied() {
        Some("users") => vec![pick("okta.users.read", "okta.users.manage")],
        Some("groups") => vec![pick("okta.groups.read", "okta.groups.manage")],
        Some("apps") => vec![pick("okta.apps.read", "okta.apps.manage")],
        Some("logs") => vec!["okta.logs.read"],
        Some("eventHooks") => vec![pick("okta.eventHooks.read", "okta.eventHooks.manage")],
        _ => vec![],
    };
    if rest.contains(&"group-push") {
        scopes.push(pick("okta.groups.read", "okta.groups.manage"));
    }
    scopes
}

impl ServiceApp {
    pub fn new(
        client_id: String,
        private_key_pem: &SecretString,
        key_id: Option<String>,
        scopes: Option<Vec<String>>,
    ) -> Result<Self, Failure> {
        let key = EncodingKey::from_rsa_pem(private_key_pem.expose_secret().as_bytes()).map_err(
            |error| Failure::Config {
                message: format!(
                    "okta oauth client {client_id}: the private key is not an RSA PEM key ({error})"
                ),
            },
        )?;
        Ok(Self {
            client_id,
            key,
            key_id,
            scopes,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    fn assertion(&self, audience: String, now: DateTime<Utc>) -> Result<String, Failure> {
        let now = u64::try_from(now.timestamp()).unwrap_or_default();
        let claims = Claims {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: audience,
            iat: now,
            // Okta allows at most an hour; stay well inside it.
            exp: now + 300,
            jti: format!("{:032x}", rand::random::<u128>()),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|error| Failure::Config {
            message: format!("cannot sign the client assertion: {error}"),
        })
    }

    /// The scope set a call asks for: the configured list, or just what the call needs.
    fn wanted(&self, method: &Method, path: &str) -> Vec<String> {
        match &self.scopes {
            Some(scopes) => scopes.clone(),
            None => scopes_for(method, path)
                .into_iter()
                .map(str::to_string)
                .collect(),
        }
    }

    pub async fn forget(&self) {
        self.cache.lock().await.clear();
    }

    async fn token(
        &self,
        wire: &Wire,
        scopes: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<SecretString, Failure> {
        let key = scopes.join(" ");
        let mut cache = self.cache.lock().await;
        let renew_before = chrono::Duration::from_std(RENEW_BEFORE).unwrap_or_default();
        if let Some((token, expires)) = cache.get(&key)
            && *expires > now + renew_before
        {
            return Ok(token.clone());
        }
        let url = wire
            .base()
            .join("/oauth2/v1/token")
            .map_err(|error| Failure::config(format!("bad Okta token URL: {error}")))?;
        let assertion = self.assertion(url.to_string(), now)?;
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", key.as_str()),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let call = Call::new(Method::POST, url)
            .header(reqwest::header::ACCEPT, "application/json")
            .body(Body::Form(form.to_vec()));
        let answer = wire.exchange(&call, Credentials::none()).await?;
        let status = answer.status;
        if status.is_success() {
            let parsed: TokenResponse = serde_json::from_value(answer.body).map_err(|error| {
                Failure::unexpected_response(
                    format!("the token response is not Okta's shape: {error}"),
                    Some(status.as_u16()),
                )
            })?;
            let token = SecretString::from(parsed.access_token);
            let lifetime = chrono::Duration::seconds(
                i64::try_from(parsed.expires_in.unwrap_or(3600)).unwrap_or(3600),
            );
            let expires = now.checked_add_signed(lifetime).unwrap_or(now);
            cache.insert(key, (token.clone(), expires));
            return Ok(token);
        }
        let error: OAuthError = serde_json::from_value(answer.body).unwrap_or(OAuthError {
            error: format!("HTTP {}", status.as_u16()),
            error_description: String::new(),
        });
        let message = format!(
            "client {}: {}: {}",
            self.client_id, error.error, error.error_description
        );
        if error.error == "invalid_scope" {
            return Err(Failure::InsufficientScope {
                scope: key,
                message,
            });
        }
        if status.is_server_error() {
            return Err(Failure::retry_later(Some(error.error), message));
        }
        if status == StatusCode::UNAUTHORIZED || error.error == "invalid_client" {
            return Err(Failure::unauthorized(Some(error.error), message));
        }
        Err(Failure::permanent(
            error.error,
            message,
            Some(status.as_u16()),
        ))
    }
}

impl Auth {
    /// The credential for one call: the API token, or an access token with the scopes the call needs.
    pub async fn credentials(
        &self,
        wire: &Wire,
        call: &Call,
        ctx: &Ctx<'_>,
    ) -> Result<Credentials, Failure> {
        match self {
            Auth::Ssws(token) => Credentials::scheme("SSWS", token),
            Auth::OAuth(app) => {
                let scopes = app.wanted(&call.method, call.url.path());
                Credentials::bearer(&app.token(wire, scopes, ctx.now).await?)
            }
        }
    }

    /// Drops cached tokens after Okta refused one (revoked, or the org's clock disagrees with ours); `true`
    /// when there was a token to mint again.
    pub async fn forget(&self) -> bool {
        match self {
            Auth::OAuth(app) => {
                app.forget().await;
                true
            }
            Auth::Ssws(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_call_asks_for_the_scope_it_needs() {
        assert_eq!(
            scopes_for(&Method::DELETE, "/api/v1/users/00u1/sessions"),
            vec!["okta.users.manage"]
        );
        assert_eq!(
            scopes_for(&Method::GET, "/api/v1/users"),
            vec!["okta.users.read"]
        );
        assert_eq!(
            scopes_for(&Method::POST, "/api/v1/apps/0oa1/group-push/mappings"),
            vec!["okta.apps.manage", "okta.groups.manage"]
        );
    }
}
