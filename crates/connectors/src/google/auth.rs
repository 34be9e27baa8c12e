//! How requests to Google are authenticated: a fixed access token, or a service account with domain-wide
//! delegation, as google-auth's `service_account.Credentials.with_subject` does it (wave2-vendors.md §3.1):
//! an RS256 JWT with `kid` = `private_key_id`, `iss` = `client_email`, `sub` = the administrator, `scope`,
//! `aud` = Google's token endpoint, `iat` and `exp` = `iat` + 1 h, exchanged at the key file's `token_uri`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use grantflow_model::ConnectionName;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::Failure;
use crate::transport::Credentials;
use crate::transport::grant::{GrantSettings, JwtGrant};

/// The audience google-auth always claims, whatever `token_uri` says (`_GOOGLE_OAUTH2_TOKEN_ENDPOINT`).
pub const GOOGLE_TOKEN_AUDIENCE: &str = "https://oauth2.googleapis.com/token";

/// Google allows an assertion at most an hour, and google-auth asks for exactly that.
const ASSERTION_SECONDS: i64 = 3600;

pub enum GoogleAuth {
    Token(SecretString),
    ServiceAccount(Box<JwtGrant>),
}

/// What the connector needs from a service account key file.
pub struct ServiceAccountKey {
    pub client_email: String,
    pub private_key: SecretString,
    pub private_key_id: Option<String>,
    pub token_uri: Url,
}

impl ServiceAccountKey {
    /// Reads the key file's JSON. Errors name the field, never a value: the file holds the private key.
    pub fn parse(connection: &ConnectionName, json: &SecretString) -> Result<Self, Failure> {
        let what = format!("connection {connection}: service_account_key");
        // serde_json's syntax errors give a position, not the text.
        let value: Value = serde_json::from_str(json.expose_secret()).map_err(|error| {
            Failure::config(format!(
                "{what} is not a JSON key file (line {} column {})",
                error.line(),
                error.column()
            ))
        })?;
        let field = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Failure::config(format!("{what} has no \"{name}\"")))
        };
        if let Some(kind) = value.get("type").and_then(Value::as_str)
            && kind != "service_account"
        {
            return Err(Failure::config(format!(
                "{what} is a \"{kind}\" key file, not a service account's"
            )));
        }
        let client_email = field("client_email")?.to_string();
        let private_key = SecretString::from(field("private_key")?.to_string());
        let token_uri = Url::parse(field("token_uri")?)
            .map_err(|error| Failure::config(format!("{what}: token_uri is not a URL: {error}")))?;
        let private_key_id = value
            .get("private_key_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(Self {
            client_email,
            private_key,
            private_key_id,
            token_uri,
        })
    }
}

impl GoogleAuth {
    /// The service account of `key`, acting as `subject` with `scopes`.
    pub fn service_account(
        connection: &ConnectionName,
        key: ServiceAccountKey,
        subject: &str,
        scopes: &[String],
        allow_insecure_http: bool,
        timeout: Duration,
    ) -> Result<Self, Failure> {
        let mut claims = Map::new();
        claims.insert("iss".into(), key.client_email.clone().into());
        claims.insert("sub".into(), subject.into());
        claims.insert("scope".into(), scopes.join(" ").into());
        claims.insert("aud".into(), GOOGLE_TOKEN_AUDIENCE.into());
        let grant = JwtGrant::new(GrantSettings {
            system: super::SYSTEM,
            connection: connection.clone(),
            principal: format!("service account {} acting as {subject}", key.client_email),
            token_url: key.token_uri,
            allow_insecure_http,
            timeout,
            extra_ca_pem: None,
            private_key: key.private_key,
            key_id: key.private_key_id,
            claims,
            issued_at: true,
            assertion_lifetime: chrono::Duration::seconds(ASSERTION_SECONDS),
            // Google always sends expires_in; were it missing, google-auth would not know either.
            default_lifetime: chrono::Duration::seconds(ASSERTION_SECONDS),
        })?;
        Ok(GoogleAuth::ServiceAccount(Box::new(grant)))
    }

    pub async fn credentials(&self, now: DateTime<Utc>) -> Result<Credentials, Failure> {
        match self {
            GoogleAuth::Token(token) => Credentials::bearer(token),
            GoogleAuth::ServiceAccount(grant) => {
                Credentials::bearer(&grant.token(now).await?.token)
            }
        }
    }

    /// After a 401: drops a minted token (`true`: a new one may work); a fixed token cannot be renewed.
    pub async fn forget(&self) -> bool {
        match self {
            GoogleAuth::Token(_) => false,
            GoogleAuth::ServiceAccount(grant) => {
                grant.forget().await;
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_read_and_its_errors_name_fields_not_values() {
        let connection = ConnectionName::new("gw");
        let key = ServiceAccountKey::parse(
            &connection,
            &SecretString::from(
                serde_json::json!({
                    "type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com",
                    "private_key": "-----BEGIN PRIVATE KEY-----\nX\n-----END PRIVATE KEY-----\n",
                    "private_key_id": "k1", "token_uri": "https://oauth2.googleapis.com/token"
                })
                .to_string(),
            ),
        )
        .expect("parses");
        assert_eq!(key.client_email, "sa@p.iam.gserviceaccount.com");
        assert_eq!(key.private_key_id.as_deref(), Some("k1"));
        for (json, expected) in [
            (
                r#"{"client_email": "a@b", "private_key": "SECRET-PEM"}"#,
                "no \"token_uri\"",
            ),
            (
                r#"{"private_key": "SECRET-PEM", "token_uri": "x"}"#,
                "no \"client_email\"",
            ),
            (r#"{"private_key": "SECRET-PEM" "#, "not a JSON key file"),
            (
                r#"{"type": "authorized_user", "private_key": "SECRET-PEM"}"#,
                "authorized_user",
            ),
        ] {
            let failure =
                ServiceAccountKey::parse(&connection, &SecretString::from(json.to_string()))
                    .err()
                    .expect("refused");
            let text = failure.to_string();
            assert!(
                text.contains(expected) && text.contains("connection gw"),
                "{text}"
            );
            assert!(!text.contains("SECRET-PEM"), "{text}");
        }
    }
}
