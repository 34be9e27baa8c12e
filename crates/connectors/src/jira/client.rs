//! Jira Cloud's REST v3 API: Basic auth with email and API token, `startAt`/`maxResults` pagination (PageBeans
//! and plain arrays), 429 with `Retry-After`, and Jira's `errorMessages`/`errors` bodies turned into a
//! classified `Failure`.

use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::Duration;

use crate::Failure;
use crate::http;

/// Jira Cloud's one cost-based budget, as far as its headers tell.
pub const API_BUCKET: &str = "api";

pub struct JiraClient {
    http: reqwest::Client,
    base: Url,
    email: SecretString,
    token: SecretString,
    max_rate_limit_waits: u32,
}

/// Jira's error text, verbatim: `errorMessages` joined, then each field error as `field: message`; the library
/// also knows `message` and `errorMessage`.
pub fn error_text(body: &Value) -> String {
    let mut parts: Vec<String> = body
        .get("errorMessages")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(errors) = body.get("errors").and_then(Value::as_object) {
        for (field, message) in errors {
            let text = message
                .as_str()
                .map_or_else(|| message.to_string(), str::to_string);
            parts.push(format!("{field}: {text}"));
        }
    }
    for key in ["message", "errorMessage"] {
        if let Some(m) = body.get(key).and_then(Value::as_str) {
            parts.push(m.to_string());
        }
    }
    if parts.is_empty()
        && let Value::String(text) = body
    {
        parts.push(text.clone());
    }
    parts.join("; ")
}

impl JiraClient {
    pub fn new(
        base_url: &str,
        email: SecretString,
        token: SecretString,
        timeout: Duration,
        max_rate_limit_waits: u32,
    ) -> Result<Self, Failure> {
        Ok(Self {
            http: http::client(timeout)?,
            base: http::base_url("jira", base_url)?,
            email,
            token,
            max_rate_limit_waits,
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, Failure> {
        let mut url = self
            .base
            .join(&format!("rest/api/3/{path}"))
            .map_err(|error| Failure::Config {
                message: format!("bad Jira path {path}: {error}"),
            })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, Failure> {
        self.send(Method::GET, path, query, None).await
    }

    /// Every item of a paged list: `values` of PageBeans, or the elements of plain arrays (user search),
    /// asking for `startAt` until a page is the last (`isLast`) or short.
    pub async fn get_all(
        &self,
        path: &str,
        query: &[(&str, &str)],
        mut on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        const PAGE: usize = 100;
        let mut items = Vec::new();
        loop {
            let start = items.len().to_string();
            let max = PAGE.to_string();
            let mut q = query.to_vec();
            q.push(("startAt", &start));
            q.push(("maxResults", &max));
            let body = self.get(path, &q).await?;
            let (page, last) = match body {
                Value::Array(page) => {
                    let short = page.len() < PAGE;
                    (page, short)
                }
                Value::Object(mut bean) => {
                    let page = match bean.remove("values") {
                        Some(Value::Array(page)) => page,
                        _ => Vec::new(),
                    };
                    let last = bean.get("isLast").and_then(Value::as_bool).unwrap_or(true);
                    (page, last)
                }
                _ => {
                    return Err(Failure::Permanent {
                        vendor_code: "unexpected_response".into(),
                        message: format!("expected a page of results from Jira {path}"),
                        status: None,
                    });
                }
            };
            let empty = page.is_empty();
            items.extend(page);
            on_page(items.len());
            if last || empty {
                return Ok(items);
            }
        }
    }

    /// One call; 429s are waited out (up to the configured number), reads are repeated after a 5xx or a
    /// transport error, and writes are not (the engine observes first).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let url = self.url(path, query)?;
        let what = format!("Jira {method} {}", url.path());
        let repeatable = method == Method::GET;
        let mut rate_limit_waits = 0;
        let mut transient_retries = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .basic_auth(self.email.expose_secret(), Some(self.token.expose_secret()))
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(body) = &body {
                request = request.json(body);
            }
            let Some((status, headers, body)) =
                http::exchange(request, repeatable, &mut transient_retries, &what).await?
            else {
                continue;
            };
            if status.is_success() {
                return Ok(body);
            }
            let message = match error_text(&body) {
                m if m.is_empty() => format!("HTTP {status}"),
                m => m,
            };
            if status == StatusCode::TOO_MANY_REQUESTS {
                let reset = http::retry_at(&headers, None);
                if rate_limit_waits < self.max_rate_limit_waits {
                    rate_limit_waits += 1;
                    tracing::info!(message = "Jira rate limit reached; waiting.", %reset);
                    http::sleep_until(reset).await;
                    continue;
                }
                return Err(Failure::RateLimited {
                    bucket: API_BUCKET.into(),
                    reset,
                    message: format!("429: {message}"),
                });
            }
            if status.is_server_error() {
                if http::retry_transient(repeatable, &mut transient_retries).await {
                    continue;
                }
                // Jira sends Retry-After on some 503s.
                let at = headers
                    .contains_key(reqwest::header::RETRY_AFTER)
                    .then(|| http::retry_at(&headers, None));
                return Err(Failure::RetryLater {
                    at,
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
            return Err(Failure::Permanent {
                vendor_code: status.as_u16().to_string(),
                message: format!("{what}: {message}"),
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
    fn jira_error_bodies_read_as_jira_wrote_them() {
        assert_eq!(
            error_text(
                &json!({"errorMessages": ["No project could be found with key 'X'."], "errors": {}})
            ),
            "No project could be found with key 'X'."
        );
        assert_eq!(
            error_text(
                &json!({"errorMessages": [], "errors": {"accountId": "You must specify the accountId."}})
            ),
            "accountId: You must specify the accountId."
        );
        assert_eq!(
            error_text(&json!({"message": "Client must be authenticated"})),
            "Client must be authenticated"
        );
    }
}
