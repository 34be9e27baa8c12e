//! HTTP helpers the connectors share: building the client, `Link` headers, `Retry-After`,
//! backoff, waiting for a reset, transport errors without the URL, sending with transient retries,
//! and reading an answer. Each connector keeps its vendor's own classification of errors.

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode, Url};
use serde_json::Value;
use std::time::Duration;

use crate::Failure;

/// A reqwest client with grantflow's user agent and the connection's timeout.
pub fn client(timeout: Duration) -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("grantflow/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| Failure::Config {
            message: format!("cannot build the HTTP client: {error}"),
        })
}

/// Parses a configured base URL, naming the system when it is not one.
pub fn base_url(system: &str, text: &str) -> Result<Url, Failure> {
    let mut url = Url::parse(text).map_err(|error| Failure::Config {
        message: format!("{system} base_url \"{text}\" is not a URL: {error}"),
    })?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The URL of `rel` among `Link` headers (one header with comma-separated entries, or several headers).
pub fn link(headers: &HeaderMap, rel: &str) -> Option<String> {
    let wanted = format!("rel=\"{rel}\"");
    for value in headers.get_all(reqwest::header::LINK) {
        let Ok(text) = value.to_str() else { continue };
        for part in text.split(',') {
            let mut pieces = part.split(';');
            let Some(url) = pieces.next().map(str::trim) else {
                continue;
            };
            let matches = pieces.any(|p| {
                let p = p.trim().replace(' ', "");
                p == wanted || p == format!("rel={rel}")
            });
            if matches && url.starts_with('<') && url.ends_with('>') {
                return Some(url[1..url.len() - 1].to_string());
            }
        }
    }
    None
}

/// A link a server returned, moved onto the configured origin: the token is never sent to a host a response named.
pub fn same_origin(base: &Url, link: &str) -> Option<Url> {
    let parsed = Url::parse(link).ok()?;
    let mut url = base.clone();
    url.set_path(parsed.path());
    url.set_query(parsed.query());
    Some(url)
}

/// The `rel="next"` URL among `Link` headers.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    link(headers, "next")
}

pub fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

pub fn header_i64(headers: &HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// When a 429 says to come back: `Retry-After` seconds, else an epoch `reset_header`, else one second.
pub fn retry_at(headers: &HeaderMap, reset_header: Option<&str>) -> DateTime<Utc> {
    let now = Utc::now();
    if let Some(seconds) = header_i64(headers, "retry-after") {
        return now + chrono::Duration::seconds(seconds.max(0));
    }
    reset_header
        .and_then(|name| header_i64(headers, name))
        .and_then(|epoch| DateTime::from_timestamp(epoch, 0))
        .filter(|reset| *reset > now)
        .unwrap_or(now + chrono::Duration::seconds(1))
}

pub async fn sleep_until(at: DateTime<Utc>) {
    let wait = (at - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(50);
    tokio::time::sleep(wait.min(Duration::from_secs(120))).await;
}

/// Exponential backoff with jitter from a 200 ms base.
pub fn backoff(attempt: u32) -> Duration {
    backoff_from(attempt, 200)
}

/// Exponential backoff with jitter from `base_ms`, capped at a minute.
pub fn backoff_from(attempt: u32, base_ms: u64) -> Duration {
    let base = base_ms.saturating_mul(1 << attempt.min(8)).min(60_000);
    Duration::from_millis(base + rand::random_range(0..=base / 2))
}

/// reqwest's errors name the URL, which may carry an email in its query; keep only the cause.
pub fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request error"
    };
    let mut source = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// How often a call that is safe to repeat is tried again after a transport error or a 5xx.
pub const TRANSIENT_RETRIES: u32 = 3;

/// Whether to try a call again after a transport error or a 5xx, having waited the backoff: only a call that
/// is safe to repeat (a read; a write might have landed, so the engine observes first), and only while
/// `retries` (shared by both kinds of error) is below [`TRANSIENT_RETRIES`].
pub async fn retry_transient(repeatable: bool, retries: &mut u32) -> bool {
    if !repeatable || *retries >= TRANSIENT_RETRIES {
        return false;
    }
    *retries += 1;
    tokio::time::sleep(backoff(*retries)).await;
    true
}

/// Sends one request. `Ok(None)` after a transport error the caller should try again after (see
/// [`retry_transient`], whose backoff has been waited); otherwise the error as `RetryLater`, its message
/// `"{what} failed: {cause}"`.
pub async fn send(
    request: RequestBuilder,
    repeatable: bool,
    retries: &mut u32,
    what: &str,
) -> Result<Option<Response>, Failure> {
    match request.send().await {
        Ok(response) => Ok(Some(response)),
        Err(_) if retry_transient(repeatable, retries).await => Ok(None),
        Err(error) => Err(Failure::RetryLater {
            at: None,
            vendor_code: None,
            message: format!("{what} failed: {}", without_url(&error)),
        }),
    }
}

/// An answer read whole: status, headers and body.
pub type Answer = (StatusCode, HeaderMap, Value);

/// A body as JSON: `Null` when empty, the text itself (as a JSON string) when it is not JSON.
pub fn json_or_text(text: String) -> Value {
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// [`send`], then the answer read whole, its body as [`json_or_text`] (a body that cannot be read counts as
/// empty). `Ok(None)`: try again, as with [`send`].
pub async fn exchange(
    request: RequestBuilder,
    repeatable: bool,
    retries: &mut u32,
    what: &str,
) -> Result<Option<Answer>, Failure> {
    exchange_parsed(request, repeatable, retries, what, json_or_text).await
}

/// [`exchange`] for an API whose bodies are JSON or nothing to us: a body that is not JSON is `Null`.
pub async fn exchange_json(
    request: RequestBuilder,
    repeatable: bool,
    retries: &mut u32,
    what: &str,
) -> Result<Option<Answer>, Failure> {
    exchange_parsed(request, repeatable, retries, what, |text| {
        serde_json::from_str(&text).unwrap_or(Value::Null)
    })
    .await
}

async fn exchange_parsed(
    request: RequestBuilder,
    repeatable: bool,
    retries: &mut u32,
    what: &str,
    parse: fn(String) -> Value,
) -> Result<Option<Answer>, Failure> {
    let Some(response) = send(request, repeatable, retries, what).await? else {
        return Ok(None);
    };
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.unwrap_or_default();
    Ok(Some((status, headers, parse(text))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_in_gitlabs_single_comma_separated_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            "<http://x/api/v4/users?page=1&per_page=2>; rel=\"prev\", <http://x/api/v4/users?page=3&per_page=2>; rel=\"next\""
                .parse()
                .expect("header"),
        );
        assert_eq!(
            link(&headers, "next").as_deref(),
            Some("http://x/api/v4/users?page=3&per_page=2")
        );
        let base = Url::parse("http://127.0.0.1:9/").expect("url");
        let moved =
            same_origin(&base, "https://elsewhere.example/api/v4/users?page=3").expect("url");
        assert_eq!(moved.as_str(), "http://127.0.0.1:9/api/v4/users?page=3");
    }

    #[test]
    fn retry_after_seconds_win_over_the_reset_header() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3".parse().expect("header"));
        headers.insert("ratelimit-reset", "1".parse().expect("header"));
        let at = retry_at(&headers, Some("ratelimit-reset"));
        let secs = (at - Utc::now()).num_seconds();
        assert!((2..=3).contains(&secs), "{secs}");
    }
}
