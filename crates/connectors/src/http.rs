//! HTTP plumbing shared by the connectors added after Okta: the client builder, `Link` parsing, backoff,
//! waiting for a reset, and error text that never repeats a URL.

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use std::time::Duration;

use crate::Failure;

/// A reqwest client with grantflow's user agent and the connection's timeout.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("grantflow/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| Failure::Config {
            message: format!("cannot build the HTTP client: {error}"),
        })
}

/// The `rel="next"` URL among `Link` headers, whether sent as one comma-separated header or several.
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(reqwest::header::LINK) {
        let Ok(text) = value.to_str() else { continue };
        for part in text.split(',') {
            let mut pieces = part.split(';');
            let Some(url) = pieces.next().map(str::trim) else {
                continue;
            };
            let is_next = pieces.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            if is_next && url.starts_with('<') && url.ends_with('>') {
                return Some(url[1..url.len() - 1].to_string());
            }
        }
    }
    None
}

pub(crate) fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Sleeps until `at` (plus a little, so the vendor's window has surely turned), at most two minutes.
pub(crate) async fn sleep_until(at: DateTime<Utc>) {
    let wait = (at - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(50);
    tokio::time::sleep(wait.min(Duration::from_secs(120))).await;
}

/// `2^attempt × base_ms` plus up to half again of jitter, capped at a minute.
pub(crate) fn backoff(attempt: u32, base_ms: u64) -> Duration {
    let base = base_ms.saturating_mul(1 << attempt.min(8)).min(60_000);
    Duration::from_millis(base + rand::random_range(0..=base / 2))
}

/// reqwest's errors name the URL; callers name the path already, so keep only the cause.
pub(crate) fn without_url(error: &reqwest::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_in_one_header_or_several() {
        let mut one = HeaderMap::new();
        one.insert(
            "link",
            "<http://x/a?page=2>; rel=\"next\", <http://x/a?page=3>; rel=\"last\""
                .parse()
                .expect("h"),
        );
        assert_eq!(next_link(&one).as_deref(), Some("http://x/a?page=2"));
        let mut several = HeaderMap::new();
        several.append("link", "<http://x/a>; rel=\"self\"".parse().expect("h"));
        several.append(
            "link",
            "<http://x/a?after=2>; rel=\"next\"".parse().expect("h"),
        );
        assert_eq!(next_link(&several).as_deref(), Some("http://x/a?after=2"));
    }
}
