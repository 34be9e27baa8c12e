//! GitLab's REST v4 API: `PRIVATE-TOKEN` auth, offset pagination by `Link` header, `Retry-After`/`RateLimit-*`
//! on 429, and GitLab's `message`/`error` bodies turned into a classified `Failure`.

use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::Duration;

use crate::Failure;
use crate::http;
use crate::ratelimit::RateBudgets;
use chrono::DateTime;
use std::sync::Arc;

pub struct GitlabClient {
    http: reqwest::Client,
    base: Url,
    token: SecretString,
    max_rate_limit_waits: u32,
    /// The connection's name, which keys its shared rate budgets.
    connection: String,
    budgets: Arc<RateBudgets>,
}

/// GitLab's one API-wide bucket, as its `RateLimit-*` headers describe it.
const API_BUCKET: &str = "api";

/// A successful response: status, the `rel="next"` link if any, and the JSON body (`Null` for 204).
pub struct GitlabResponse {
    pub status: StatusCode,
    pub next: Option<Url>,
    pub body: Value,
}

/// GitLab's error text: `message` as a string (`404 Group Not Found`), as field errors
/// (`{"access_level": ["should be …"]}` → `access_level should be …`), or `{"error": …}`; else Grape's `error`.
pub fn error_text(body: &Value) -> String {
    fn flatten(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Object(map) => map
                .iter()
                .map(|(field, msgs)| {
                    let msgs = match msgs {
                        Value::Array(items) => {
                            items.iter().map(flatten).collect::<Vec<_>>().join(", ")
                        }
                        other => flatten(other),
                    };
                    if field == "error" || field == "base" {
                        msgs
                    } else {
                        format!("{field} {msgs}")
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }
    body.get("message")
        .or_else(|| body.get("error"))
        .map(flatten)
        .unwrap_or_else(|| flatten(body))
}

impl GitlabClient {
    pub fn new(
        base_url: &str,
        token: SecretString,
        timeout: Duration,
        max_rate_limit_waits: u32,
        connection: &str,
        budgets: Arc<RateBudgets>,
    ) -> Result<Self, Failure> {
        Ok(Self {
            http: http::client(timeout)?,
            base: http::base_url("gitlab", base_url)?,
            token,
            max_rate_limit_waits,
            connection: connection.to_string(),
            budgets,
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// A URL under `/api/v4` from a relative path (`groups/3/members`) and query pairs.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, Failure> {
        let mut url =
            self.base
                .join(&format!("api/v4/{path}"))
                .map_err(|error| Failure::Config {
                    message: format!("bad GitLab path {path}: {error}"),
                })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<GitlabResponse, Failure> {
        let url = self.url(path, query)?;
        self.send(Method::GET, url, None).await
    }

    /// Every item of a paginated list (100 per page), following `Link: <…>; rel="next"`.
    pub async fn get_all(
        &self,
        path: &str,
        query: &[(&str, &str)],
        mut on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let mut query = query.to_vec();
        query.push(("per_page", "100"));
        let mut items = Vec::new();
        let mut url = Some(self.url(path, &query)?);
        while let Some(current) = url.take() {
            let response = self.send(Method::GET, current, None).await?;
            match response.body {
                Value::Array(page) => items.extend(page),
                _ => {
                    return Err(Failure::Permanent {
                        vendor_code: "unexpected_response".into(),
                        message: format!("expected a JSON array from GitLab {path}"),
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
    ) -> Result<GitlabResponse, Failure> {
        let what = format!("GitLab {method} {}", url.path());
        let repeatable = method == Method::GET;
        let mut rate_limit_waits = 0;
        let mut transient_retries = 0;
        loop {
            if self.max_rate_limit_waits == 0 {
                self.budgets.refuse_if_spent(&self.connection, API_BUCKET)?;
            }
            // Held until the response's `RateLimit-*` budget is recorded.
            let _permit = self.budgets.acquire(&self.connection, API_BUCKET).await;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header("PRIVATE-TOKEN", self.token.expose_secret())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(body) = &body {
                request = request.json(body);
            }
            let Some((status, headers, body)) =
                http::exchange(request, repeatable, &mut transient_retries, &what).await?
            else {
                continue;
            };
            if let (Some(limit), Some(remaining), Some(reset)) = (
                http::header_u64(&headers, "ratelimit-limit"),
                http::header_u64(&headers, "ratelimit-remaining"),
                http::header_i64(&headers, "ratelimit-reset")
                    .and_then(|epoch| DateTime::from_timestamp(epoch, 0)),
            ) {
                self.budgets
                    .record(&self.connection, API_BUCKET, limit, remaining, reset)
                    .await;
            }
            let next = http::link(&headers, "next").and_then(|l| http::same_origin(&self.base, &l));
            if status.is_success() {
                return Ok(GitlabResponse { status, next, body });
            }
            let message = match error_text(&body) {
                m if m.is_empty() => format!("HTTP {status}"),
                m => m,
            };
            if status == StatusCode::TOO_MANY_REQUESTS {
                let reset = http::retry_at(&headers, Some("ratelimit-reset"));
                if rate_limit_waits < self.max_rate_limit_waits {
                    rate_limit_waits += 1;
                    tracing::info!(message = "GitLab rate limit reached; waiting.", %reset);
                    http::sleep_until(reset).await;
                    continue;
                }
                return Err(Failure::RateLimited {
                    bucket: "api".into(),
                    reset,
                    message: format!("429: {message}"),
                });
            }
            if status.is_server_error() {
                if http::retry_transient(repeatable, &mut transient_retries).await {
                    continue;
                }
                return Err(Failure::RetryLater {
                    at: None,
                    vendor_code: Some(status.as_u16().to_string()),
                    message: format!("{what} answered {message}"),
                });
            }
            if status == StatusCode::UNAUTHORIZED {
                return Err(Failure::Unauthorized {
                    vendor_code: Some("401".into()),
                    message,
                });
            }
            if body.get("error").and_then(Value::as_str) == Some("insufficient_scope") {
                return Err(Failure::InsufficientScope {
                    scope: body
                        .get("scope")
                        .and_then(Value::as_str)
                        .unwrap_or("api")
                        .to_string(),
                    message: body
                        .get("error_description")
                        .and_then(Value::as_str)
                        .unwrap_or("insufficient_scope")
                        .to_string(),
                });
            }
            return Err(Failure::Permanent {
                vendor_code: status.as_u16().to_string(),
                message,
                status: Some(status.as_u16()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gitlab_error_bodies_read_as_gitlab_wrote_them() {
        assert_eq!(
            error_text(&json!({"message": "404 Group Not Found"})),
            "404 Group Not Found"
        );
        assert_eq!(
            error_text(
                &json!({"message": {"access_level": ["should be greater than or equal to Developer inherited membership from group Acme"]}})
            ),
            "access_level should be greater than or equal to Developer inherited membership from group Acme"
        );
        assert_eq!(
            error_text(&json!({"error": "access_level is missing"})),
            "access_level is missing"
        );
        assert_eq!(
            error_text(
                &json!({"message": {"error": "This endpoint has been requested too many times. Try again later."}})
            ),
            "This endpoint has been requested too many times. Try again later."
        );
    }
}
