//! The OAuth 2.0 JWT bearer grant (RFC 7523) as an emulator's token endpoint answers it: a key pair the
//! sandbox made and publishes (the private half, as the vendor's console would hand it over), the signature
//! check of an assertion against it, and access tokens that expire after a lifetime tests can shorten
//! (`/__sandbox/tokens`) so a run crosses an expiry. What the claims must say is each vendor's rule, in its
//! module (Google's service accounts, Salesforce's connected apps).

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::admin::{AdminBody, AdminError};
use super::lock;
use crate::okta::ServiceKey;

/// Tokens live an hour unless the sandbox is told otherwise (Google's access tokens do; Salesforce's
/// sessions end with the org's timeout, two hours by default).
pub const DEFAULT_LIFETIME_SECONDS: u64 = 3600;

/// The longest lifetime the admin API takes: a day.
const MAX_LIFETIME_SECONDS: u64 = 86_400;

/// The grant type of RFC 7523 §2.1.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// One token issued: whom it acts as, with which scopes, until when.
#[derive(Debug, Clone)]
pub struct Issued {
    pub subject: String,
    pub scopes: Vec<String>,
    pub expires: DateTime<Utc>,
}

/// What a presented access token is.
#[derive(Debug, Clone)]
pub enum Presented {
    Valid(Issued),
    /// Issued here, past its expiry (or expired through the admin API).
    Expired,
    Unknown,
}

#[derive(Debug)]
struct Ledger {
    lifetime_seconds: u64,
    tokens: BTreeMap<String, Issued>,
    issued: u64,
    refused: u64,
    /// Tokens presented after their expiry (each answered 401).
    expired_presented: u64,
}

/// The key pair of one emulator's service account or connected app, and the tokens issued against it.
pub struct TokenIssuer {
    key: ServiceKey,
    default_lifetime_seconds: u64,
    ledger: Mutex<Ledger>,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// A new RSA key (`kid` = `key_id`) and no tokens; each token lives `lifetime_seconds`.
    pub fn new(key_id: &str, lifetime_seconds: u64) -> anyhow::Result<Self> {
        let lifetime_seconds = lifetime_seconds.clamp(1, MAX_LIFETIME_SECONDS);
        Ok(Self {
            key: ServiceKey::generate(key_id)?,
            default_lifetime_seconds: lifetime_seconds,
            ledger: Mutex::new(Ledger {
                lifetime_seconds,
                tokens: BTreeMap::new(),
                issued: 0,
                refused: 0,
                expired_presented: 0,
            }),
        })
    }

    /// The PKCS#8 PEM private key a client signs with.
    pub fn private_pem(&self) -> &str {
        &self.key.private_pem
    }

    /// The assertion's claims when its RS256 signature is the key's; `None` otherwise (another key, another
    /// algorithm, not a JWT). Claims are returned as JSON so each vendor's rules read them as it does (a
    /// numeric-string `exp`, which simple-salesforce sends, is not refused here).
    pub fn verify(&self, assertion: &str) -> Option<Value> {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(self.key.jwk.clone()).ok()?;
        let key = DecodingKey::from_jwk(&jwk).ok()?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        jsonwebtoken::decode::<Value>(assertion, &key, &validation)
            .ok()
            .map(|data| data.claims)
    }

    /// How long tokens issued now live.
    pub fn lifetime_seconds(&self) -> u64 {
        lock(&self.ledger).lifetime_seconds
    }

    /// Counts a refused token request.
    pub fn refuse(&self) {
        lock(&self.ledger).refused += 1;
    }

    /// Records `token` for `subject`; answers its lifetime in seconds.
    pub fn issue(
        &self,
        token: &str,
        subject: &str,
        scopes: Vec<String>,
        now: DateTime<Utc>,
    ) -> u64 {
        let mut ledger = lock(&self.ledger);
        let lifetime = ledger.lifetime_seconds;
        let seconds = i64::try_from(lifetime).unwrap_or(i64::MAX);
        ledger.issued += 1;
        ledger.tokens.insert(
            token.to_owned(),
            Issued {
                subject: subject.to_owned(),
                scopes,
                expires: now + Duration::seconds(seconds),
            },
        );
        lifetime
    }

    /// What `token` is at `now`.
    pub fn check(&self, token: &str, now: DateTime<Utc>) -> Presented {
        let mut ledger = lock(&self.ledger);
        match ledger.tokens.get(token).cloned() {
            Some(issued) if issued.expires > now => Presented::Valid(issued),
            Some(_) => {
                ledger.expired_presented += 1;
                Presented::Expired
            }
            None => Presented::Unknown,
        }
    }

    /// Back to the start: no tokens, the configured lifetime, counts at zero.
    pub fn reset(&self) {
        let mut ledger = lock(&self.ledger);
        ledger.tokens.clear();
        ledger.lifetime_seconds = self.default_lifetime_seconds;
        ledger.issued = 0;
        ledger.refused = 0;
        ledger.expired_presented = 0;
    }

    /// `GET /__sandbox/tokens`: the lifetime and the counts.
    pub fn settings_json(&self) -> Value {
        let ledger = lock(&self.ledger);
        json!({
            "lifetime_seconds": ledger.lifetime_seconds,
            "issued": ledger.issued,
            "refused": ledger.refused,
            "expired_presented": ledger.expired_presented,
            "live": ledger.tokens.len(),
        })
    }

    /// `POST /__sandbox/tokens`: `lifetime_seconds` for tokens issued from now on, and `expire_now: true` to
    /// end every token already issued (as a revoked session or a server-side timeout would).
    pub fn configure(&self, body: &[u8], now: DateTime<Utc>) -> Result<Value, AdminError> {
        let body = AdminBody::parse(body, &["lifetime_seconds", "expire_now"])?;
        let lifetime = body.uint("lifetime_seconds", 1..=MAX_LIFETIME_SECONDS)?;
        let expire_now = body.flag("expire_now")?.unwrap_or(false);
        {
            let mut ledger = lock(&self.ledger);
            if let Some(seconds) = lifetime {
                ledger.lifetime_seconds = seconds;
            }
            if expire_now {
                for issued in ledger.tokens.values_mut() {
                    issued.expires = issued.expires.min(now);
                }
            }
        }
        Ok(self.settings_json())
    }
}

/// The `exp`/`iat` claim as seconds: a number, or a numeric string.
pub fn seconds_claim(claims: &Value, name: &str) -> Option<i64> {
    match claims.get(name)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(pem: &str, claims: &Value) -> String {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).expect("key");
        jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::RS256), claims, &key)
            .expect("signs")
    }

    #[test]
    fn only_the_issuers_key_verifies_and_tokens_expire() {
        let issuer = TokenIssuer::new("k1", 2).expect("issuer");
        let other = TokenIssuer::new("k2", 2).expect("issuer");
        // simple-salesforce sends exp as a numeric string: the signature check must not refuse it.
        let claims = json!({"iss": "app", "sub": "u@example.com", "exp": "1712345678"});
        let signed = sign(issuer.private_pem(), &claims);
        assert_eq!(issuer.verify(&signed), Some(claims.clone()));
        assert_eq!(seconds_claim(&claims, "exp"), Some(1_712_345_678));
        assert_eq!(other.verify(&signed), None);
        assert_eq!(issuer.verify("not.a.jwt"), None);
        let now = Utc::now();
        assert_eq!(issuer.issue("t1", "u@example.com", vec![], now), 2);
        assert!(matches!(issuer.check("t1", now), Presented::Valid(_)));
        assert!(matches!(
            issuer.check("t1", now + Duration::seconds(2)),
            Presented::Expired
        ));
        assert!(matches!(issuer.check("t2", now), Presented::Unknown));
        issuer
            .configure(br#"{"lifetime_seconds": 30}"#, now)
            .expect("configures");
        assert_eq!(issuer.issue("t3", "u@example.com", vec![], now), 30);
        issuer
            .configure(br#"{"expire_now": true}"#, now)
            .expect("configures");
        assert!(matches!(issuer.check("t3", now), Presented::Expired));
        assert!(
            issuer
                .configure(br#"{"lifetime_seconds": 0}"#, now)
                .is_err()
        );
        assert!(issuer.configure(br#"{"expire_now": "yes"}"#, now).is_err());
        assert!(issuer.configure(br#"{"other": 1}"#, now).is_err());
        assert_eq!(issuer.settings_json()["issued"], 2);
    }
}
