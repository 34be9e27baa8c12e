//! GitHub's REST API over HTTP: token auth, `Link` pagination, `x-ratelimit-*` budgets, the primary and
//! secondary limits (403/429, `Retry-After`), and GitHub's error body turned into a classified `Failure`.

use chrono::{DateTime, TimeZone, Utc};
use reqwest::{Method, StatusCode, Url, header::HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::sync::Mutex;
use std::time::Duration;

use crate::Failure;
use crate::http::{self, header_u64, next_link, sleep_until};
use crate::ratelimit::RateBudgets;
use std::sync::Arc;

/// The REST budget every call here is charged to.
pub const CORE: &str = "core";
/// Content-creating requests are also held to GitHub's secondary limit.
pub const SECONDARY: &str = "secondary";

/// Asks for the repository (with `permissions` and `role_name`) when checking a team's repository.
pub const REPOSITORY_JSON: &str = "application/vnd.github.v3.repository+json";

pub struct GithubClient {
    http: reqwest::Client,
    base: Url,
    token: SecretString,
    max_rate_limit_waits: u32,
    /// When the last response said the core budget is spent: its reset.
    exhausted_until: Mutex<Option<DateTime<Utc>>>,
    /// The connection's name, which keys its shared rate budgets.
    connection: String,
    budgets: Arc<RateBudgets>,
}

pub struct GithubResponse {
    pub status: StatusCode,
    pub next: Option<Url>,
    pub body: Value,
}

fn reset_time(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let epoch = header_u64(headers, "x-ratelimit-reset")?;
    Utc.timestamp_opt(i64::try_from(epoch).ok()?, 0).single()
}

/// GitHub's error: `message`, and the first `errors[].code` when validation failed.
pub fn github_error(body: &Value) -> (Option<String>, String) {
    let code = body
        .pointer("/errors/0/code")
        .and_then(Value::as_str)
        .map(str::to_string);
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    (code, message)
}

/// How a 403/429 is to be waited out, if it is a rate limit at all (GitHub docs, "Rate limits for the REST
/// API": Retry-After first, then a spent budget's reset, then a minute for a secondary limit).
fn rate_limit_wait(headers: &HeaderMap, message: &str) -> Option<(&'static str, DateTime<Utc>)> {
    let now = Utc::now();
    if let Some(seconds) = header_u64(headers, "retry-after") {
        return Some((SECONDARY, now + chrono::Duration::seconds(seconds as i64)));
    }
    if header_u64(headers, "x-ratelimit-remaining") == Some(0) {
        return Some((
            CORE,
            reset_time(headers).unwrap_or(now + chrono::Duration::seconds(60)),
        ));
    }
    let lower = message.to_lowercase();
    if lower.contains("secondary rate limit") || lower.starts_with("api rate limit exceeded") {
        return Some((SECONDARY, now + chrono::Duration::seconds(60)));
    }
    None
}

impl GithubClient {
    pub fn new(
        base_url: &str,
        token: SecretString,
        timeout: Duration,
        max_rate_limit_waits: u32,
        connection: &str,
        budgets: Arc<RateBudgets>,
    ) -> Result<Self, Failure> {
        let base = Url::parse(base_url.trim_end_matches('/')).map_err(|error| Failure::Config {
            message: format!("github base_url \"{base_url}\" is not a URL: {error}"),
        })?;
        let http = http::client(timeout)?;
        Ok(Self {
            http,
            base,
            token,
            max_rate_limit_waits,
            exhausted_until: Mutex::new(None),
            connection: connection.to_string(),
            budgets,
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The base URL plus `segments`, each percent-encoded as one path segment.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, Failure> {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().map_err(|()| Failure::Config {
                message: format!("github base_url {} cannot carry a path", self.base),
            })?;
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    pub async fn get(
        &self,
        segments: &[&str],
        accept: Option<&str>,
    ) -> Result<GithubResponse, Failure> {
        let url = self.url(segments, &[])?;
        self.send(Method::GET, url, None, accept).await
    }

    /// Every item of a paginated list (100 per page), following `Link: <…>; rel="next"`.
    pub async fn get_all(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, Failure> {
        let mut query = query.to_vec();
        query.push(("per_page", "100"));
        let mut items = Vec::new();
        let mut url = Some(self.url(segments, &query)?);
        while let Some(current) = url.take() {
            let response = self.send(Method::GET, current, None, None).await?;
            match response.body {
                Value::Array(page) => items.extend(page),
                _ => {
                    return Err(Failure::Permanent {
                        vendor_code: "unexpected_response".into(),
                        message: format!("expected a JSON array from /{}", segments.join("/")),
                        status: Some(response.status.as_u16()),
                    });
                }
            }
            url = response.next;
        }
        Ok(items)
    }

    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
        accept: Option<&str>,
    ) -> Result<GithubResponse, Failure> {
        let what = format!("{method} {}", url.path());
        let repeatable = method == Method::GET;
        let mut rate_limit_waits = 0;
        let mut transient_retries = 0;
        loop {
            let spent = self
                .exhausted_until
                .lock()
                .ok()
                .and_then(|g| *g)
                .filter(|reset| *reset > Utc::now());
            if let Some(reset) = spent {
                if self.max_rate_limit_waits == 0 {
                    return Err(Failure::RateLimited {
                        bucket: CORE.into(),
                        reset,
                        message: "the core budget is spent until its reset".into(),
                    });
                }
                sleep_until(reset).await;
            }
            if self.max_rate_limit_waits == 0 {
                self.budgets.refuse_if_spent(&self.connection, CORE)?;
            }
            // Held until the response's budget is recorded; GitHub names the
            // bucket (`x-ratelimit-resource`), the REST API's is `core`.
            let _permit = self.budgets.acquire(&self.connection, CORE).await;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(self.token.expose_secret())
                .header(
                    reqwest::header::ACCEPT,
                    accept.unwrap_or("application/vnd.github+json"),
                )
                .header("x-github-api-version", "2022-11-28");
            if let Some(body) = &body {
                request = request.json(body);
            }
            let Some((status, headers, body)) =
                http::exchange(request, repeatable, &mut transient_retries, &what).await?
            else {
                continue;
            };
            if let Ok(mut guard) = self.exhausted_until.lock() {
                *guard = (header_u64(&headers, "x-ratelimit-remaining") == Some(0))
                    .then(|| reset_time(&headers))
                    .flatten();
            }
            if let (Some(limit), Some(remaining), Some(reset)) = (
                header_u64(&headers, "x-ratelimit-limit"),
                header_u64(&headers, "x-ratelimit-remaining"),
                reset_time(&headers),
            ) {
                self.budgets
                    .record(&self.connection, CORE, limit, remaining, reset)
                    .await;
            }
            let next = next_link(&headers).and_then(|link| http::same_origin(&self.base, &link));
            if status.is_success() {
                return Ok(GithubResponse { status, next, body });
            }
            let (code, message) = github_error(&body);
            let message = if message.is_empty() {
                format!("HTTP {status}")
            } else {
                message
            };
            if (status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS)
                && let Some((bucket, reset)) = rate_limit_wait(&headers, &message)
            {
                if rate_limit_waits < self.max_rate_limit_waits {
                    rate_limit_waits += 1;
                    tracing::info!(message = "GitHub rate limit reached; waiting.", bucket, %reset);
                    sleep_until(reset).await;
                    continue;
                }
                return Err(Failure::RateLimited {
                    bucket: bucket.into(),
                    reset,
                    message,
                });
            }
            if status.is_server_error() {
                if http::retry_transient(repeatable, &mut transient_retries).await {
                    continue;
                }
                return Err(Failure::RetryLater {
                    at: None,
                    vendor_code: code,
                    message: format!("{what} answered {status}: {message}"),
                });
            }
            if status == StatusCode::UNAUTHORIZED {
                return Err(Failure::Unauthorized {
                    vendor_code: Some("401".into()),
                    message,
                });
            }
            if status == StatusCode::FORBIDDEN
                && let Some(scopes) = headers
                    .get("x-accepted-oauth-scopes")
                    .and_then(|v| v.to_str().ok())
                && !scopes.trim().is_empty()
            {
                return Err(Failure::InsufficientScope {
                    scope: scopes.trim().to_string(),
                    message,
                });
            }
            return Err(Failure::Permanent {
                vendor_code: code.unwrap_or_else(|| status.as_u16().to_string()),
                message,
                status: Some(status.as_u16()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_after_is_a_secondary_limit_and_a_spent_budget_waits_for_its_reset() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3".parse().expect("h"));
        assert_eq!(
            rate_limit_wait(&headers, "").map(|(b, _)| b),
            Some(SECONDARY)
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", "0".parse().expect("h"));
        headers.insert("x-ratelimit-reset", "2000000000".parse().expect("h"));
        let (bucket, reset) =
            rate_limit_wait(&headers, "API rate limit exceeded").expect("limited");
        assert_eq!((bucket, reset.timestamp()), (CORE, 2_000_000_000));
        assert!(
            rate_limit_wait(&HeaderMap::new(), "Must have admin rights to Repository.").is_none()
        );
    }
}
