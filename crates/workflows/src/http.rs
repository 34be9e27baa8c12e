//! The custom HTTP card: a call to a system grantflow has no connector for, through an HTTP connection of
//! the organisation (`flows.http_connections` in grantflow.yaml). The connection holds the credentials —
//! OAuth 2.0 client credentials, Basic, a bearer token or a custom header, each read from the environment
//! or a file — and the hosts the flows may reach through it; a URL outside them is refused before anything
//! is sent, and redirects are not followed (they could leave the allowed hosts).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use grantflow_connectors::SecretSource;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value as Json;

use crate::host::CardError;

/// The most of a response body a card keeps.
const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpConnection {
    /// Hosts the flows may call through this connection: `vault.example.com`, `api.example.com:8443`, or
    /// `*.example.com` for its subdomains.
    pub allowed_hosts: Vec<String>,
    /// Where a card's relative URL (`/v1/vaults`) points, so flows do not name hosts themselves.
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub auth: Option<HttpAuth>,
    /// Seconds before a call is given up (default 30).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Calls through this connection in flight at once, across every run of every flow (default 8): a
    /// burst of runs must not overwhelm a system that has no published rate limit.
    #[serde(default)]
    pub max_in_flight: Option<u32>,
}

/// Calls a connection has in flight at once unless it says otherwise.
const DEFAULT_IN_FLIGHT: u32 = 8;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HttpAuth {
    Bearer {
        token: SecretSource,
    },
    Basic {
        username: String,
        password: SecretSource,
    },
    Header {
        name: String,
        value: SecretSource,
    },
    OauthClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: SecretSource,
        #[serde(default)]
        scope: Option<String>,
    },
}

/// Runs HTTP cards for the connections of one configuration.
pub struct HttpCards {
    client: reqwest::Client,
    connections: BTreeMap<String, HttpConnection>,
    /// Where relative secret files are.
    base: PathBuf,
    /// OAuth access tokens per connection, until shortly before they expire.
    tokens: Mutex<BTreeMap<String, (SecretString, Instant)>>,
    /// Each connection's bound on calls in flight.
    in_flight: BTreeMap<String, tokio::sync::Semaphore>,
}

impl HttpCards {
    pub fn new(connections: BTreeMap<String, HttpConnection>, base: PathBuf) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let in_flight = connections
            .iter()
            .map(|(name, connection)| {
                let most = connection.max_in_flight.unwrap_or(DEFAULT_IN_FLIGHT).max(1);
                (name.clone(), tokio::sync::Semaphore::new(most as usize))
            })
            .collect();
        Self {
            client,
            connections,
            base,
            tokens: Mutex::new(BTreeMap::new()),
            in_flight,
        }
    }

    pub fn connection_names(&self) -> impl Iterator<Item = &String> {
        self.connections.keys()
    }

    /// Sends the card's request. `idempotency_key` goes in the `Idempotency-Key` header, so a call sent
    /// again after an interruption is recognised by servers that honour it.
    pub async fn call(&self, input: &Json, idempotency_key: &str) -> Result<Json, CardError> {
        let text = |name: &str| input.get(name).and_then(Json::as_str);
        let connection_name = text("connection").unwrap_or_default();
        let connection = self.connections.get(connection_name).ok_or_else(|| {
            let known: Vec<&str> = self.connections.keys().map(String::as_str).collect();
            CardError::new(
                "unknown_connection",
                format!(
                    "no HTTP connection `{connection_name}` (configured: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })?;
        let raw_url = text("url").unwrap_or_default();
        let joined = match (&connection.base_url, raw_url.starts_with('/')) {
            (Some(base), true) => format!("{}{raw_url}", base.trim_end_matches('/')),
            _ => raw_url.to_string(),
        };
        let mut url = url::Url::parse(&joined)
            .map_err(|e| CardError::new("invalid_url", format!("`{raw_url}` is not a URL: {e}")))?;
        allowed(connection_name, connection, &url)?;
        if let Some(query) = input.get("query").and_then(Json::as_object) {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                match value {
                    Json::String(s) => pairs.append_pair(key, s),
                    other => pairs.append_pair(key, &other.to_string()),
                };
            }
        }
        let method = text("method").unwrap_or("GET").to_ascii_uppercase();
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
            CardError::new(
                "invalid_method",
                format!("`{method}` is not an HTTP method"),
            )
        })?;
        let timeout = Duration::from_secs(connection.timeout_seconds.unwrap_or(30).clamp(1, 300));
        let mut request = self
            .client
            .request(method.clone(), url.clone())
            .timeout(timeout)
            .header("Idempotency-Key", idempotency_key);
        if let Some(headers) = input.get("headers").and_then(Json::as_object) {
            for (name, value) in headers {
                let value = match value {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                request = request.header(name.as_str(), value);
            }
        }
        match input.get("body") {
            None | Some(Json::Null) => {}
            Some(Json::String(text)) => request = request.body(text.clone()),
            Some(body) => request = request.json(body),
        }
        request = self
            .authenticate(connection_name, connection, request)
            .await?;
        let host = url.host_str().unwrap_or_default().to_string();
        // Held until the response's body is read (the call is in flight until then).
        let _turn = match self.in_flight.get(connection_name) {
            Some(bound) => bound.acquire().await.ok(),
            None => None,
        };
        let response = request.send().await.map_err(|e| {
            CardError::new(
                "http_unreachable",
                format!("{method} {host}{}: {}", url.path(), without_url(&e)),
            )
            .in_system(connection_name)
            .retryable()
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let headers: serde_json::Map<String, Json> = response
            .headers()
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "set-cookie" | "authorization"))
            .filter_map(|(name, value)| {
                Some((
                    name.as_str().to_string(),
                    Json::String(value.to_str().ok()?.to_string()),
                ))
            })
            .collect();
        let is_json = headers
            .get("content-type")
            .and_then(Json::as_str)
            .is_some_and(|t| t.contains("json"));
        let bytes = read_limited(response).await.map_err(|e| {
            CardError::new("http_read", format!("{method} {host}{}: {e}", url.path()))
                .in_system(connection_name)
                .retryable()
        })?;
        let body = if is_json {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&bytes).into_owned()))
        } else {
            Json::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        if !status.is_success() {
            let detail = match &body {
                Json::String(s) => s.chars().take(300).collect::<String>(),
                other => other.to_string().chars().take(300).collect(),
            };
            let mut error = CardError::new(
                status.as_u16().to_string(),
                format!("{method} {host}{} answered {status}: {detail}", url.path()),
            )
            .in_system(connection_name);
            if status.as_u16() == 429 || status.is_server_error() {
                error = error.retryable();
                error.retry_after = retry_after;
            }
            return Err(error);
        }
        Ok(serde_json::json!({
            "status": status.as_u16(),
            "headers": headers,
            "body": body,
        }))
    }

    async fn authenticate(
        &self,
        name: &str,
        connection: &HttpConnection,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, CardError> {
        let read = |source: &SecretSource, what: &str| {
            source
                .read(&format!("HTTP connection {name}: {what}"), &self.base)
                .map_err(|f| CardError::new("config", f.message()))
        };
        Ok(match &connection.auth {
            None => request,
            Some(HttpAuth::Bearer { token }) => {
                request.bearer_auth(read(token, "token")?.expose_secret())
            }
            Some(HttpAuth::Basic { username, password }) => {
                request.basic_auth(username, Some(read(password, "password")?.expose_secret()))
            }
            Some(HttpAuth::Header {
                name: header,
                value,
            }) => request.header(
                header.as_str(),
                read(value, "header value")?.expose_secret(),
            ),
            Some(HttpAuth::OauthClientCredentials {
                token_url,
                client_id,
                client_secret,
                scope,
            }) => {
                let token = self
                    .access_token(
                        name,
                        token_url,
                        client_id,
                        &read(client_secret, "client secret")?,
                        scope.as_deref(),
                    )
                    .await?;
                request.bearer_auth(token.expose_secret())
            }
        })
    }

    async fn access_token(
        &self,
        name: &str,
        token_url: &str,
        client_id: &str,
        secret: &SecretString,
        scope: Option<&str>,
    ) -> Result<SecretString, CardError> {
        if let Ok(tokens) = self.tokens.lock()
            && let Some((token, until)) = tokens.get(name)
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let url = url::Url::parse(token_url).map_err(|e| {
            CardError::new("config", format!("HTTP connection {name}: token_url: {e}"))
        })?;
        if url.scheme() != "https" && !is_loopback(&url) {
            return Err(CardError::new(
                "config",
                format!("HTTP connection {name}: token_url must be https"),
            ));
        }
        let mut form = vec![("grant_type", "client_credentials".to_string())];
        if let Some(scope) = scope {
            form.push(("scope", scope.to_string()));
        }
        let response = self
            .client
            .post(url)
            .basic_auth(client_id, Some(secret.expose_secret()))
            .form(&form)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| {
                CardError::new(
                    "oauth_unreachable",
                    format!(
                        "HTTP connection {name}: token endpoint: {}",
                        without_url(&e)
                    ),
                )
                .retryable()
            })?;
        let status = response.status();
        let body: Json = response.json().await.unwrap_or_default();
        if !status.is_success() {
            let code = body
                .get("error")
                .and_then(Json::as_str)
                .unwrap_or("oauth_error");
            return Err(CardError::new(
                code,
                format!("HTTP connection {name}: the token endpoint answered {status}"),
            )
            .in_system(name));
        }
        let token = body
            .get("access_token")
            .and_then(Json::as_str)
            .ok_or_else(|| {
                CardError::new(
                    "oauth_error",
                    format!("HTTP connection {name}: the token endpoint gave no access_token"),
                )
            })?;
        let lifetime = body.get("expires_in").and_then(Json::as_u64).unwrap_or(300);
        let token = SecretString::from(token.to_string());
        // Renewed a minute before the endpoint said it ends, so no call carries a token that just expired.
        let until = Instant::now() + Duration::from_secs(lifetime.saturating_sub(60).max(1));
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(name.to_string(), (token.clone(), until));
        }
        Ok(token)
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// Refuses a URL whose host is not among the connection's allowed hosts, or that is not https (except to
/// this machine).
fn allowed(name: &str, connection: &HttpConnection, url: &url::Url) -> Result<(), CardError> {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let with_port = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let matches = connection.allowed_hosts.iter().any(|allowed| {
        let allowed = allowed.trim().to_ascii_lowercase();
        if let Some(suffix) = allowed.strip_prefix("*.") {
            host.ends_with(&format!(".{suffix}"))
        } else {
            allowed == host || allowed == with_port
        }
    });
    if !matches {
        return Err(CardError::new(
            "host_not_allowed",
            format!(
                "HTTP connection {name} may not reach {with_port}: its allowed hosts are {}",
                connection.allowed_hosts.join(", ")
            ),
        ));
    }
    if url.scheme() != "https" && !is_loopback(url) {
        return Err(CardError::new(
            "insecure_url",
            format!(
                "{} is not https; only this machine may be called over plain HTTP",
                url.scheme()
            ),
        ));
    }
    Ok(())
}

/// reqwest's error text may carry the URL with its query (where a secret might sit); the card names the
/// host and path itself.
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    kind.to_string()
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| without_url(&e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("the response is over {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
