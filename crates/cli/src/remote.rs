//! A typed client of a grantflow server's `/api/v1`: the transport behind
//! `--server URL`. It sends the bearer token (never over plain HTTP to
//! another machine), follows list pagination, and turns RFC 9457 problem
//! details into [`Problem`] errors. No rule lives here: the server decides.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The environment variable holding the token.
pub const TOKEN_ENV: &str = "GRANTFLOW_TOKEN";

/// Time to connect, and for a whole call (a sync answers when it is done).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// The largest page the API gives.
const PAGE: &str = "500";

/// A refusal or failure the server described (RFC 9457 problem details).
#[derive(Debug, Clone, Deserialize)]
pub struct Problem {
    pub status: u16,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let detail = if self.detail.is_empty() {
            &self.title
        } else {
            &self.detail
        };
        if self.status == StatusCode::UNAUTHORIZED.as_u16() {
            write!(
                f,
                "the server did not accept the token (HTTP 401, code {}): {detail}",
                self.code
            )
        } else {
            write!(
                f,
                "the server answered HTTP {} (code {}): {detail}",
                self.status, self.code
            )
        }
    }
}

impl std::error::Error for Problem {}

/// A client of one server, with one token.
pub struct Remote {
    base: Url,
    token: SecretString,
    http: reqwest::Client,
}

/// One page of a list.
#[derive(Debug, Deserialize)]
struct Page<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

impl Remote {
    /// Checks the server's URL (https, or http only to this machine) and
    /// reads the token (from `--token-file`, else `GRANTFLOW_TOKEN`) before
    /// anything is sent.
    pub fn connect(server: &str, token_file: Option<&Path>) -> anyhow::Result<Remote> {
        let base = server_url(server)?;
        let token = match token_file {
            Some(path) => read_token_file(path)?,
            None => match std::env::var(TOKEN_ENV) {
                Ok(token) if !token.trim().is_empty() => SecretString::from(token.trim()),
                _ => anyhow::bail!(
                    "--server needs an API token: set {TOKEN_ENV} or pass --token-file PATH \
                     (make one with `grantflow token create` on the server's store)"
                ),
            },
        };
        if token.expose_secret().chars().any(char::is_control) {
            anyhow::bail!("the API token holds control characters; is it the right file?");
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            // The API never redirects; following one could carry the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("grantflow-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot make the HTTP client")?;
        Ok(Remote { base, token, http })
    }

    /// The server, for messages.
    pub fn server(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// `/api/v1/` and the path segments (each percent-encoded), with a query.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> anyhow::Result<Url> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| anyhow::anyhow!("the server URL {} cannot hold a path", self.base))?;
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends one call and returns the successful response, or the problem.
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let url = self.url(segments, query)?;
        let what = format!("{method} {}", url.path());
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| anyhow::anyhow!("{what} on {}: {}", self.server(), cause(&error)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let problem = serde_json::from_str::<Problem>(&text).unwrap_or_else(|_| Problem {
            status: status.as_u16(),
            code: String::new(),
            title: status.canonical_reason().unwrap_or("error").to_string(),
            detail: format!(
                "{what} did not answer with a problem document (is {} a grantflow server?)",
                self.server()
            ),
        });
        Err(anyhow::Error::new(problem))
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<T> {
        let path = segments.join("/");
        let response = self.send(method, segments, query, body).await?;
        response
            .json::<T>()
            .await
            .with_context(|| format!("reading the server's answer to /api/v1/{path}"))
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> anyhow::Result<T> {
        self.json(Method::GET, segments, query, None).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<T> {
        self.json(Method::POST, segments, &[], body).await
    }

    /// A POST with query parameters (options of an action, such as `full`).
    pub async fn post_with<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> anyhow::Result<T> {
        self.json(Method::POST, segments, query, None).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, segments: &[&str]) -> anyhow::Result<T> {
        self.json(Method::DELETE, segments, &[], None).await
    }

    /// A text answer (the audit export's JSON Lines).
    pub async fn get_text(&self, segments: &[&str]) -> anyhow::Result<String> {
        let response = self.send(Method::GET, segments, &[], None).await?;
        response
            .text()
            .await
            .with_context(|| format!("reading /api/v1/{}", segments.join("/")))
    }

    /// Every item of a paged list, page after page.
    pub async fn list<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        filters: &[(&str, &str)],
    ) -> anyhow::Result<Vec<T>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query: Vec<(&str, &str)> = filters.to_vec();
            query.push(("limit", PAGE));
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor));
            }
            let page: Page<T> = self.get(segments, &query).await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                _ => return Ok(items),
            }
        }
    }
}

/// The error's chain in one line (reqwest's own message is terse).
fn cause(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "cannot connect".to_string()
    } else {
        "the call failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// The server's base URL: `https://…`, or `http://` only to this machine
/// (127.0.0.0/8, ::1, localhost), so the token never crosses a network in
/// the clear. No credentials, query or fragment in it.
pub fn server_url(server: &str) -> anyhow::Result<Url> {
    let url = Url::parse(server.trim()).with_context(|| {
        format!("--server {server:?} is not a URL (e.g. https://grantflow.example.com)")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        anyhow::bail!(
            "--server must not hold credentials; the token comes from {TOKEN_ENV} or --token-file"
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        anyhow::bail!("--server is the server's base URL, without a query or fragment");
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => anyhow::bail!(
            "refusing to send the API token over plain http to {}: use https:// (plain http is allowed only \
             to 127.0.0.1 or localhost)",
            url.host_str().unwrap_or_default()
        ),
        other => anyhow::bail!("--server must be an https:// URL, not {other}://"),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The token in a file only its owner can read (a trailing newline is fine).
fn read_token_file(path: &Path) -> anyhow::Result<SecretString> {
    let metadata = std::fs::metadata(path)
        .with_context(|| format!("reading the token file {}", path.display()))?;
    if !metadata.is_file() {
        anyhow::bail!("the token file {} is not a file", path.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "refusing the token file {}: its mode is {mode:04o}, so others can read it; \
                 make it owner-only (chmod 600 {})",
                path.display(),
                path.display()
            );
        }
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the token file {}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        anyhow::bail!("the token file {} is empty", path.display());
    }
    Ok(SecretString::from(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_this_machine() {
        for ok in [
            "https://grantflow.example.com",
            "https://10.0.0.1:8443/base",
            "http://127.0.0.1:8787",
            "http://localhost:8787",
            "http://[::1]:8787",
        ] {
            assert!(server_url(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://example.com",
            "http://10.0.0.1:8787",
            "http://127.0.0.1.example.com",
            "ftp://localhost",
            "https://user:pw@example.com",
            "not a url",
        ] {
            assert!(server_url(refused).is_err(), "{refused}");
        }
    }
}
