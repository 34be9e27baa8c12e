//! How requests to Salesforce are authenticated: a fixed session id, or the OAuth 2.0 JWT bearer flow of a
//! connected app (wave2-vendors.md §4.1): an RS256 JWT with `iss` = the consumer key, `sub` = the username,
//! `aud` = the login URL and `exp` three minutes ahead, posted to `{login_url}/services/oauth2/token`. The
//! answer has no refresh token and no `expires_in`: the session is opened again when the org's session timeout
//! is near, or when the API answers 401 `INVALID_SESSION_ID`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use grantflow_model::ConnectionName;
use reqwest::Url;
use secrecy::SecretString;
use serde_json::Map;

use super::SalesforceConfig;
use crate::Failure;
use crate::transport::grant::{GrantSettings, JwtGrant};
use crate::transport::{Credentials, Wire, origin};

/// Salesforce takes an assertion valid for at most three minutes.
const ASSERTION_SECONDS: i64 = 180;

pub enum SalesforceAuth {
    Token(SecretString),
    Jwt {
        connection: ConnectionName,
        grant: Box<JwtGrant>,
    },
}

impl SalesforceAuth {
    /// The JWT bearer flow of `config`'s connected app, signed with `private_key`.
    pub fn jwt(
        connection: &ConnectionName,
        config: &SalesforceConfig,
        private_key: SecretString,
        extra_ca_pem: Option<&[u8]>,
    ) -> Result<Self, Failure> {
        let (Some(consumer_key), Some(username)) = (&config.consumer_key, &config.username) else {
            return Err(Failure::config(format!(
                "connection {connection}: private_key needs `consumer_key` (the connected app's) and `username` (the integration user's)"
            )));
        };
        let login = Url::parse(&config.login_url).map_err(|error| {
            Failure::config(format!(
                "connection {connection}: login_url \"{}\" is not a URL: {error}",
                config.login_url
            ))
        })?;
        let token_url = login.join("/services/oauth2/token").map_err(|error| {
            Failure::config(format!("connection {connection}: login_url: {error}"))
        })?;
        let mut claims = Map::new();
        claims.insert("iss".into(), consumer_key.clone().into());
        claims.insert("sub".into(), username.clone().into());
        // The login URL as written, without a trailing slash: what the connected app is told to expect.
        claims.insert(
            "aud".into(),
            config.login_url.trim_end_matches('/').to_string().into(),
        );
        let grant = JwtGrant::new(GrantSettings {
            system: super::SYSTEM,
            connection: connection.clone(),
            principal: format!("user {username} of connected app {consumer_key}"),
            token_url,
            allow_insecure_http: config.allow_insecure_http,
            timeout: Duration::from_secs(config.timeout_seconds),
            extra_ca_pem: extra_ca_pem.map(<[u8]>::to_vec),
            private_key,
            key_id: None,
            claims,
            issued_at: false,
            assertion_lifetime: chrono::Duration::seconds(ASSERTION_SECONDS),
            default_lifetime: chrono::Duration::seconds(
                i64::try_from(config.session_timeout_seconds).unwrap_or(7200),
            ),
        })?;
        Ok(SalesforceAuth::Jwt {
            connection: connection.clone(),
            grant: Box::new(grant),
        })
    }

    /// The session to send to the API on `wire`. A session for another instance than the configured
    /// `base_url` is refused: the API's URL and every next page are fixed at start.
    pub async fn credentials(
        &self,
        wire: &Wire,
        now: DateTime<Utc>,
    ) -> Result<Credentials, Failure> {
        match self {
            SalesforceAuth::Token(token) => Credentials::bearer(token),
            SalesforceAuth::Jwt { connection, grant } => {
                let minted = grant.token(now).await?;
                if let Some(instance) = &minted.instance_url {
                    let same =
                        Url::parse(instance).is_ok_and(|url| url.origin() == wire.base().origin());
                    if !same {
                        grant.forget().await;
                        return Err(Failure::config(format!(
                            "connection {connection}: Salesforce opened the session on instance {instance}, not on base_url {}; set base_url to the org's instance URL",
                            origin(wire.base())
                        )));
                    }
                }
                Credentials::bearer(&minted.token)
            }
        }
    }

    /// After a 401 `INVALID_SESSION_ID`: drops the session (`true`: a new one may work).
    pub async fn forget(&self) -> bool {
        match self {
            SalesforceAuth::Token(_) => false,
            SalesforceAuth::Jwt { grant, .. } => {
                grant.forget().await;
                true
            }
        }
    }
}
