//! Okta's HTTP API: authentication, pagination by `Link` header, rate-limit
//! headers, and Okta's error body turned into a classified `Failure`.

use chrono::{DateTime, TimeZone, Utc};
use reqwest::{Method, StatusCode, Url, header::HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

use super::auth::Auth;
use crate::Failure;
use crate::http::{self, header_u64, next_link, sleep_until};
use crate::ratelimit::RateBudgets;

pub struct OktaClient {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    max_rate_limit_waits: u32,
    /// The connection's name, which keys its rate budgets.
    connection: String,
    budgets: Arc<RateBudgets>,
}

/// A successful response: status, the `rel="next"` link if any, and the JSON
/// body (`Null` for 204).
pub struct OktaResponse {
    pub status: StatusCode,
    pub next: Option<Url>,
    pub body: Value,
}

/// Okta's rate-limit bucket for a request, after Okta's published table
/// (notes/okta.md §3): the budget a response reports belongs to this bucket,
/// so waiting for one bucket's reset must not hold back calls to another.
/// The sandbox's emulator keeps its own copy of this table on purpose: an
/// emulator that imported the client's idea of the vendor could not catch
/// the client's mistakes.
pub fn bucket_for(method: &Method, path: &str) -> &'static str {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(rest) = segments.strip_prefix(&["api", "v1"]) else {
        return "other";
    };
    let read_or_create = method == Method::GET || method == Method::POST;
    match rest {
        ["logs", ..] => "logs",
        ["apps", _] => "app",
        ["apps", ..] => "apps",
        ["groups", id] if *id != "rules" => "group",
        ["groups", ..] => "groups",
        ["users"] if read_or_create => "users",
        ["users", _] if method == Method::GET => "user-get",
        ["users", _] if matches!(*method, Method::POST | Method::PUT | Method::DELETE) => {
            "user-write"
        }
        _ => "other",
    }
}

fn reset_time(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let epoch = header_u64(headers, "x-rate-limit-reset")?;
    Utc.timestamp_opt(i64::try_from(epoch).ok()?, 0).single()
}

/// Okta's error body: `errorCode`, `errorSummary`, `errorCauses[].errorSummary`.
fn okta_error(body: &Value) -> (Option<String>, String) {
    let code = body
        .get("errorCode")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut summary = body
        .get("errorSummary")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(causes) = body.get("errorCauses").and_then(Value::as_array) {
        let causes: Vec<&str> = causes
            .iter()
            .filter_map(|c| c.get("errorSummary").and_then(Value::as_str))
            .collect();
        if !causes.is_empty() {
            summary = format!("{summary} ({})", causes.join("; "));
        }
    }
    (code, summary)
}

impl OktaClient {
    /// A client that authenticates with an API token.
    pub fn new(
        base_url: &str,
        token: SecretString,
        timeout: Duration,
        max_rate_limit_waits: u32,
        connection: &str,
        budgets: Arc<RateBudgets>,
    ) -> Result<Self, Failure> {
        Self::with_auth(
            base_url,
            Auth::Ssws(token),
            timeout,
            max_rate_limit_waits,
            connection,
            budgets,
        )
    }

    pub(super) fn with_auth(
        base_url: &str,
        auth: Auth,
        timeout: Duration,
        max_rate_limit_waits: u32,
        connection: &str,
        budgets: Arc<RateBudgets>,
    ) -> Result<Self, Failure> {
        let base = Url::parse(base_url).map_err(|error| Failure::Config {
            message: format!("okta base_url \"{base_url}\" is not a URL: {error}"),
        })?;
        let http = http::client(timeout)?;
        Ok(Self {
            http,
            base,
            auth,
            max_rate_limit_waits,
            connection: connection.to_string(),
            budgets,
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// A URL on the org from a path (`/api/v1/users`) and query pairs.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, Failure> {
        let mut url = self.base.join(path).map_err(|error| Failure::Config {
            message: format!("bad Okta path {path}: {error}"),
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Follows a `next` link, but only on the configured org: the token is
    /// never sent to a host the response named.
    fn same_origin(&self, link: &str) -> Option<Url> {
        http::same_origin(&self.base, link)
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<OktaResponse, Failure> {
        let url = self.url(path, query)?;
        self.send(Method::GET, url, None).await
    }

    /// Every item of a paginated list, following `Link: <…>; rel="next"`.
    pub async fn get_all(
        &self,
        path: &str,
        query: &[(&str, &str)],
        mut on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let mut items = Vec::new();
        let mut url = Some(self.url(path, query)?);
        while let Some(current) = url.take() {
            let response = self.send(Method::GET, current, None).await?;
            match response.body {
                Value::Array(page) => items.extend(page),
                other => {
                    return Err(Failure::Permanent {
                        vendor_code: "unexpected_response".into(),
                        message: format!(
                            "expected a JSON array from {path}, got {}",
                            kind_of(&other)
                        ),
                        status: Some(response.status.as_u16()),
                    });
                }
            }
            on_page(items.len());
            url = response.next;
        }
        Ok(items)
    }

    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<OktaResponse, Failure> {
        let bucket = bucket_for(&method, url.path());
        let what = format!("{method} {}", url.path());
        let repeatable = method == Method::GET;
        let mut rate_limit_waits = 0;
        let mut transient_retries = 0;
        let mut renewed_token = false;
        loop {
            self.refuse_when_exhausted(bucket)?;
            // Held until the response's headers are recorded.
            let _permit = self.budgets.acquire(&self.connection, bucket).await;
            let authorization = self
                .auth
                .header(&self.http, &self.base, &method, url.path())
                .await?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header(
                    reqwest::header::AUTHORIZATION,
                    authorization.expose_secret(),
                )
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(body) = &body {
                request = request.json(body);
            }
            let Some(response) =
                http::send(request, repeatable, &mut transient_retries, &what).await?
            else {
                continue;
            };
            let status = response.status();
            let headers = response.headers().clone();
            self.record_budget(bucket, &headers).await;
            let next = next_link(&headers).and_then(|link| self.same_origin(&link));
            let text = match response.text().await {
                Ok(text) => text,
                Err(error) => {
                    // The answer was lost mid-way: the call may have taken
                    // effect, so only a read is repeated here.
                    if http::retry_transient(repeatable, &mut transient_retries).await {
                        continue;
                    }
                    return Err(Failure::RetryLater {
                        at: None,
                        vendor_code: None,
                        message: format!("{what} lost its answer: {}", http::without_url(&error)),
                    });
                }
            };
            let body = http::json_or_text(text);
            if status.is_success() {
                return Ok(OktaResponse { status, next, body });
            }
            let (code, summary) = okta_error(&body);
            let summary = if summary.is_empty() {
                format!("HTTP {status}")
            } else {
                summary
            };
            if status == StatusCode::TOO_MANY_REQUESTS {
                let reset = reset_time(&headers)
                    .unwrap_or_else(|| Utc::now() + chrono::Duration::seconds(1));
                if rate_limit_waits < self.max_rate_limit_waits {
                    rate_limit_waits += 1;
                    tracing::info!(message = "Okta rate limit reached; waiting for the reset.", bucket, %reset);
                    sleep_until(reset).await;
                    continue;
                }
                return Err(Failure::RateLimited {
                    bucket: bucket.to_string(),
                    reset,
                    message: format!("{}: {summary}", code.unwrap_or_default()),
                });
            }
            if status.is_server_error() {
                if http::retry_transient(repeatable, &mut transient_retries).await {
                    continue;
                }
                return Err(Failure::RetryLater {
                    at: None,
                    vendor_code: code,
                    message: format!("{what} answered {status}: {summary}"),
                });
            }
            if status == StatusCode::UNAUTHORIZED {
                // A cached access token may have been revoked: get a new one, once.
                if self.auth.is_oauth() && !renewed_token {
                    renewed_token = true;
                    self.auth.forget().await;
                    continue;
                }
                return Err(Failure::Unauthorized {
                    vendor_code: code,
                    message: summary,
                });
            }
            if status == StatusCode::FORBIDDEN
                && let Some(scope) = missing_scope(&headers)
            {
                let message = format!(
                    "{}: {summary} (the token lacks the scope {scope})",
                    code.unwrap_or_default()
                );
                return Err(Failure::InsufficientScope { scope, message });
            }
            return Err(Failure::Permanent {
                vendor_code: code.unwrap_or_else(|| format!("HTTP {}", status.as_u16())),
                message: summary,
                status: Some(status.as_u16()),
            });
        }
    }

    async fn record_budget(&self, bucket: &'static str, headers: &HeaderMap) {
        if let (Some(limit), Some(remaining), Some(reset)) = (
            header_u64(headers, "x-rate-limit-limit"),
            header_u64(headers, "x-rate-limit-remaining"),
            reset_time(headers),
        ) {
            self.budgets
                .record(&self.connection, bucket, limit, remaining, reset)
                .await;
        }
    }

    /// With no waiting allowed, a bucket known to be spent is reported to
    /// the engine instead of being called (and waited for).
    fn refuse_when_exhausted(&self, bucket: &'static str) -> Result<(), Failure> {
        if self.max_rate_limit_waits > 0 {
            return Ok(());
        }
        self.budgets
            .refuse_if_spent(&self.connection, bucket)
            .map_err(|failure| match failure {
                Failure::RateLimited { bucket, reset, .. } => Failure::RateLimited {
                    bucket,
                    reset,
                    message: "E0000047: the bucket's budget is spent until its reset".to_string(),
                },
                other => other,
            })
    }
}

/// The scope named in a `WWW-Authenticate: Bearer error="insufficient_scope",
/// scope="…"` challenge, when Okta refuses a bearer token for lack of it.
fn missing_scope(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(reqwest::header::WWW_AUTHENTICATE)?
        .to_str()
        .ok()?;
    if !value.contains("insufficient_scope") {
        return None;
    }
    let start = value.find("scope=\"")? + "scope=\"".len();
    let end = value[start..].find('"')? + start;
    Some(value[start..end].to_string())
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Object(_) => "an object",
        Value::Array(_) => "an array",
        Value::String(_) => "text",
        _ => "a scalar",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_okta_published_table() {
        assert_eq!(bucket_for(&Method::GET, "/api/v1/apps/0oa1/users"), "apps");
        assert_eq!(bucket_for(&Method::GET, "/api/v1/apps/0oa1"), "app");
        assert_eq!(
            bucket_for(&Method::PUT, "/api/v1/groups/00g1/users/00u1"),
            "groups"
        );
        assert_eq!(bucket_for(&Method::GET, "/api/v1/groups/00g1"), "group");
        assert_eq!(bucket_for(&Method::GET, "/api/v1/users/00u1"), "user-get");
        assert_eq!(
            bucket_for(&Method::POST, "/api/v1/users/00u1"),
            "user-write"
        );
        assert_eq!(
            bucket_for(&Method::POST, "/api/v1/users/00u1/lifecycle/suspend"),
            "other"
        );
        assert_eq!(bucket_for(&Method::GET, "/api/v1/users"), "users");
    }

    #[test]
    fn the_next_link_is_found_among_several_link_headers() {
        let mut headers = HeaderMap::new();
        headers.append(
            "link",
            "<http://x/api/v1/users?limit=2>; rel=\"self\""
                .parse()
                .expect("h"),
        );
        headers.append(
            "link",
            "<http://x/api/v1/users?after=00u2&limit=2>; rel=\"next\""
                .parse()
                .expect("h"),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("http://x/api/v1/users?after=00u2&limit=2")
        );
    }

    #[test]
    fn a_next_link_to_another_host_is_rewritten_to_the_org() {
        let client = OktaClient::new(
            "http://127.0.0.1:9/",
            SecretString::from("t"),
            Duration::from_secs(1),
            1,
            "okta",
            Arc::default(),
        )
        .expect("client");
        let url = client
            .same_origin("https://evil.example/api/v1/users?after=x")
            .expect("url");
        assert_eq!(url.as_str(), "http://127.0.0.1:9/api/v1/users?after=x");
    }

    #[test]
    fn okta_errors_keep_the_code_summary_and_causes() {
        let body = serde_json::json!({"errorCode": "E0000001", "errorSummary": "Api validation failed: login",
            "errorCauses": [{"errorSummary": "login: An object with this field already exists"}]});
        let (code, summary) = okta_error(&body);
        assert_eq!(code.as_deref(), Some("E0000001"));
        assert_eq!(
            summary,
            "Api validation failed: login (login: An object with this field already exists)"
        );
    }
}
