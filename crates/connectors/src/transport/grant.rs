//! The OAuth 2.0 JWT bearer grant (RFC 7523 §2.1) as Google's service accounts and Salesforce's connected apps
//! use it: sign an RS256 assertion with the private key, `POST` it to the token endpoint as
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`, and keep the access token until
//! shortly before it expires. No refresh token exists in this flow: a new assertion is the renewal.
//!
//! The token endpoint is often on another origin than the API (`oauth2.googleapis.com` vs
//! `admin.googleapis.com`, `login.salesforce.com` vs the org's instance), so the grant has a [`Wire`] of its own
//! that only ever sends the assertion there, never an access token.

use std::time::Duration;

use chrono::{DateTime, Utc};
use grantflow_model::ConnectionName;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::{Body, Call, Credentials, Wire, check_scheme};
use crate::Failure;

/// The grant type of RFC 7523 §2.1.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Renew at most this long before a token's expiry, so no call carries a token that dies in flight.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// One vendor's JWT bearer grant: where to send it and what to claim.
pub struct GrantSettings {
    /// `google`, `salesforce`: names the vendor in messages.
    pub system: &'static str,
    pub connection: ConnectionName,
    /// Who is asking, for messages (the service account's email, the consumer key and user); never a secret.
    pub principal: String,
    pub token_url: Url,
    pub allow_insecure_http: bool,
    pub timeout: Duration,
    /// A PEM bundle to trust besides the system's roots (the sandbox's CA).
    pub extra_ca_pem: Option<Vec<u8>>,
    /// The PEM private key (PKCS#8 or PKCS#1 RSA).
    pub private_key: SecretString,
    /// The `kid` header, where the vendor uses one (Google's `private_key_id`).
    pub key_id: Option<String>,
    /// The fixed claims (`iss`, `sub`, `aud`, `scope`); `exp` (and `iat`) are added per assertion.
    pub claims: Map<String, Value>,
    /// Whether to claim `iat` (Google requires it; Salesforce does not ask for it).
    pub issued_at: bool,
    /// How long each assertion is valid (Google allows an hour, Salesforce three minutes).
    pub assertion_lifetime: chrono::Duration,
    /// How long a token lives when the answer does not say (`expires_in` absent: Salesforce never sends it).
    pub default_lifetime: chrono::Duration,
}

/// An access token as the endpoint issued it.
#[derive(Clone)]
pub struct Minted {
    pub token: SecretString,
    /// When it is renewed: shortly before its expiry by our clock.
    pub renew_at: DateTime<Utc>,
    /// Salesforce's `instance_url`: where the org's API is.
    pub instance_url: Option<String>,
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("token", &"[redacted]")
            .field("renew_at", &self.renew_at)
            .field("instance_url", &self.instance_url)
            .finish()
    }
}

/// A JWT bearer grant and the token it last minted.
pub struct JwtGrant {
    system: &'static str,
    connection: ConnectionName,
    principal: String,
    wire: Wire,
    token_url: Url,
    key: EncodingKey,
    key_id: Option<String>,
    claims: Map<String, Value>,
    issued_at: bool,
    assertion_lifetime: chrono::Duration,
    default_lifetime: chrono::Duration,
    cache: tokio::sync::Mutex<Option<Minted>>,
}

impl std::fmt::Debug for JwtGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtGrant")
            .field("system", &self.system)
            .field("connection", &self.connection)
            .field("principal", &self.principal)
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

/// `expires_in` as a number, or a numeric string (google-auth accepts both: `_parse_expiry`).
fn expires_in(body: &Value) -> Option<i64> {
    match body.get("expires_in")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text<'a>(body: &'a Value, field: &str) -> &'a str {
    body.get(field).and_then(Value::as_str).unwrap_or("")
}

impl JwtGrant {
    pub fn new(settings: GrantSettings) -> Result<Self, Failure> {
        let GrantSettings {
            system,
            connection,
            principal,
            token_url,
            allow_insecure_http,
            timeout,
            extra_ca_pem,
            private_key,
            key_id,
            claims,
            issued_at,
            assertion_lifetime,
            default_lifetime,
        } = settings;
        check_scheme(system, &token_url, allow_insecure_http).map_err(|failure| {
            Failure::config(format!(
                "connection {connection}: the token endpoint: {failure}"
            ))
        })?;
        // The error of a key that does not parse says why, never what the key holds.
        let key = EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes()).map_err(
            |error| {
                Failure::config(format!(
                    "connection {connection}: the {system} private key of {principal} is not an RSA PEM key ({error})"
                ))
            },
        )?;
        let mut origin = token_url.clone();
        origin.set_path("/");
        origin.set_query(None);
        let wire = Wire::new(system, origin, timeout, extra_ca_pem.as_deref())?;
        Ok(Self {
            system,
            connection,
            principal,
            wire,
            token_url,
            key,
            key_id,
            claims,
            issued_at,
            assertion_lifetime,
            default_lifetime,
            cache: tokio::sync::Mutex::new(None),
        })
    }

    fn assertion(&self, now: DateTime<Utc>) -> Result<String, Failure> {
        let mut claims = self.claims.clone();
        if self.issued_at {
            claims.insert("iat".into(), now.timestamp().into());
        }
        let exp = now
            .checked_add_signed(self.assertion_lifetime)
            .unwrap_or(now);
        claims.insert("exp".into(), exp.timestamp().into());
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|error| {
            Failure::config(format!(
                "connection {}: cannot sign the {} assertion: {error}",
                self.connection, self.system
            ))
        })
    }

    /// Drops the cached token (after the API refused it: expired early, revoked).
    pub async fn forget(&self) {
        *self.cache.lock().await = None;
    }

    /// The cached token while it is not due for renewal, else a new one. The lock is held while minting, so
    /// concurrent calls wait for one mint instead of each making their own.
    pub async fn token(&self, now: DateTime<Utc>) -> Result<Minted, Failure> {
        let mut cache = self.cache.lock().await;
        if let Some(minted) = cache.as_ref()
            && now < minted.renew_at
        {
            return Ok(minted.clone());
        }
        let minted = self.mint(now).await?;
        *cache = Some(minted.clone());
        Ok(minted)
    }

    async fn mint(&self, now: DateTime<Utc>) -> Result<Minted, Failure> {
        let assertion = self.assertion(now)?;
        let form = vec![
            ("grant_type".to_string(), JWT_BEARER.to_string()),
            ("assertion".to_string(), assertion),
        ];
        let call = Call::new(Method::POST, self.token_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .body(Body::Form(form))
            .label(format!("{} token request", self.system));
        let answer = self
            .wire
            .exchange(&call, Credentials::none())
            .await
            .map_err(|failure| self.named(failure))?;
        let status = answer.status;
        if status.is_success() {
            let token = text(&answer.body, "access_token");
            if token.is_empty() {
                return Err(Failure::unexpected_response(
                    format!(
                        "connection {}: the {} token endpoint answered {status} without an access_token",
                        self.connection, self.system
                    ),
                    Some(status.as_u16()),
                ));
            }
            let lifetime = expires_in(&answer.body)
                .filter(|seconds| *seconds > 0)
                .map(chrono::Duration::seconds)
                .unwrap_or(self.default_lifetime);
            // A minute early, or a quarter of the lifetime for tokens shorter than four minutes.
            let margin = chrono::Duration::from_std(RENEW_BEFORE)
                .unwrap_or_default()
                .min(lifetime / 4);
            let renew_at = now.checked_add_signed(lifetime - margin).unwrap_or(now);
            let instance_url = Some(text(&answer.body, "instance_url"))
                .filter(|url| !url.is_empty())
                .map(str::to_string);
            return Ok(Minted {
                token: SecretString::from(token.to_string()),
                renew_at,
                instance_url,
            });
        }
        Err(self.refused(status, &answer.body))
    }

    /// Adds the connection to a transport failure of the token request.
    fn named(&self, failure: Failure) -> Failure {
        match failure {
            Failure::RetryLater {
                at,
                vendor_code,
                message,
            } => Failure::RetryLater {
                at,
                vendor_code,
                message: format!("connection {}: {message}", self.connection),
            },
            other => other,
        }
    }

    /// The endpoint's `{error, error_description}` (RFC 6749 §5.2, which both vendors follow) as a failure that
    /// names the connection, who asked, and the vendor's code.
    fn refused(&self, status: StatusCode, body: &Value) -> Failure {
        let code = Some(text(body, "error"))
            .filter(|c| !c.is_empty())
            .map_or_else(|| format!("HTTP {}", status.as_u16()), str::to_string);
        let message = format!(
            "connection {}: the {} token endpoint refused {}: {code}: {}",
            self.connection,
            self.system,
            self.principal,
            text(body, "error_description")
        );
        // google-auth retries these statuses and codes (`_can_retry`); so do we, later.
        let transient = matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
            || matches!(
                code.as_str(),
                "internal_failure" | "server_error" | "temporarily_unavailable"
            );
        if transient {
            Failure::retry_later(Some(code), message)
        } else if code == "invalid_scope" {
            Failure::InsufficientScope {
                scope: self
                    .claims
                    .get("scope")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                message,
            }
        } else {
            // invalid_grant (a bad signature, an unknown subject, a clock out of step), invalid_client,
            // unauthorized_client (delegation not granted): the credentials are not accepted.
            Failure::unauthorized(Some(code), message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_read_from_a_number_or_a_numeric_string() {
        assert_eq!(
            expires_in(&serde_json::json!({"expires_in": 3599})),
            Some(3599)
        );
        assert_eq!(
            expires_in(&serde_json::json!({"expires_in": "3599"})),
            Some(3599)
        );
        assert_eq!(expires_in(&serde_json::json!({"expires_in": "soon"})), None);
        assert_eq!(expires_in(&serde_json::json!({})), None);
    }

    #[test]
    fn a_key_that_is_not_pem_is_a_config_error_that_does_not_quote_it() {
        let settings = GrantSettings {
            system: "google",
            connection: ConnectionName::new("gw"),
            principal: "sa@example.iam.gserviceaccount.com".into(),
            token_url: Url::parse("http://127.0.0.1:9/token").expect("url"),
            allow_insecure_http: false,
            timeout: Duration::from_secs(1),
            extra_ca_pem: None,
            private_key: SecretString::from("not-a-key-SECRET-MATERIAL".to_string()),
            key_id: None,
            claims: Map::new(),
            issued_at: true,
            assertion_lifetime: chrono::Duration::seconds(3600),
            default_lifetime: chrono::Duration::seconds(3600),
        };
        let failure = JwtGrant::new(settings).expect_err("refused");
        let text = format!("{failure} {failure:?}");
        assert!(matches!(failure, Failure::Config { .. }), "{text}");
        assert!(text.contains("connection gw"), "{text}");
        assert!(!text.contains("SECRET-MATERIAL"), "{text}");
    }
}
