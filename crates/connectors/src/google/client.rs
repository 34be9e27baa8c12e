//! The Directory API over HTTP: bearer auth, `pageToken` paging, Google's error body, and quota errors
//! (403 `userRateLimitExceeded` / `quotaExceeded`, no `Retry-After`) answered with exponential backoff.

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::Duration;

use crate::Failure;
use crate::http::{self, backoff_from};

/// The one quota bucket Google reports for the Directory API (queries per minute per user).
pub const BUCKET: &str = "directory";

/// Reasons Google uses for quota; the documented remedy is exponential backoff.
const QUOTA_REASONS: [&str; 3] = [
    "userRateLimitExceeded",
    "rateLimitExceeded",
    "quotaExceeded",
];

pub struct GoogleClient {
    http: reqwest::Client,
    base: Url,
    token: SecretString,
    max_rate_limit_waits: u32,
}

/// Google's error: `error.errors[0].reason` (the code to act on) and `error.message`.
pub fn google_error(body: &Value) -> (Option<String>, String) {
    let error = body.get("error");
    let reason = error
        .and_then(|e| e.pointer("/errors/0/reason"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    (reason, message)
}

impl GoogleClient {
    pub fn new(
        base_url: &str,
        token: SecretString,
        timeout: Duration,
        max_rate_limit_waits: u32,
    ) -> Result<Self, Failure> {
        let base = Url::parse(base_url).map_err(|error| Failure::Config {
            message: format!("google base_url \"{base_url}\" is not a URL: {error}"),
        })?;
        let http = http::client(timeout)?;
        Ok(Self {
            http,
            base,
            token,
            max_rate_limit_waits,
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `admin/directory/v1/` plus `segments`, each percent-encoded as one path segment (an email's `@`
    /// stays inside its segment).
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, Failure> {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().map_err(|()| Failure::Config {
                message: format!("google base_url {} cannot carry a path", self.base),
            })?;
            path.pop_if_empty()
                .extend(["admin", "directory", "v1"])
                .extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    pub async fn get(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Value, Failure> {
        let url = self.url(segments, query)?;
        self.send(Method::GET, url, None).await
    }

    /// Every item under `field` across pages, following `nextPageToken`.
    pub async fn get_all(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        field: &str,
        mut on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            if let Some(t) = &token {
                q.push(("pageToken", t));
            }
            let body = self.get(segments, &q).await?;
            // An empty page omits the field altogether.
            if let Some(page) = body.get(field).and_then(Value::as_array) {
                items.extend(page.iter().cloned());
            }
            on_page(items.len());
            match body.get("nextPageToken").and_then(Value::as_str) {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(items),
            }
        }
    }

    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let what = format!("{method} {}", url.path());
        let repeatable = method == Method::GET;
        let mut quota_waits = 0;
        let mut transient_retries = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(self.token.expose_secret())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(body) = &body {
                request = request.json(body);
            }
            let Some((status, _, body)) =
                http::exchange(request, repeatable, &mut transient_retries, &what).await?
            else {
                continue;
            };
            if status.is_success() {
                return Ok(body);
            }
            let (reason, message) = google_error(&body);
            let message = if message.is_empty() {
                format!("HTTP {status}")
            } else {
                message
            };
            let quota = status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::FORBIDDEN
                    && reason
                        .as_deref()
                        .is_some_and(|r| QUOTA_REASONS.contains(&r)));
            if quota {
                // No Retry-After is documented: back off exponentially, then hand the wait to the engine.
                let wait = backoff_from(quota_waits + 1, 250);
                if quota_waits < self.max_rate_limit_waits {
                    quota_waits += 1;
                    tracing::info!(message = "Google quota reached; backing off.", ?wait);
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Err(Failure::RateLimited {
                    bucket: BUCKET.to_string(),
                    reset: reset_after(wait),
                    message: format!("{}: {message}", reason.unwrap_or_default()),
                });
            }
            if status.is_server_error() {
                if http::retry_transient(repeatable, &mut transient_retries).await {
                    continue;
                }
                return Err(Failure::RetryLater {
                    at: None,
                    vendor_code: reason,
                    message: format!("{what} answered {status}: {message}"),
                });
            }
            if status == StatusCode::UNAUTHORIZED {
                return Err(Failure::Unauthorized {
                    vendor_code: reason,
                    message,
                });
            }
            if status == StatusCode::FORBIDDEN
                && reason.as_deref() == Some("insufficientPermissions")
            {
                return Err(Failure::InsufficientScope {
                    scope: "https://www.googleapis.com/auth/admin.directory.group".into(),
                    message,
                });
            }
            return Err(Failure::Permanent {
                vendor_code: reason.unwrap_or_else(|| format!("HTTP {}", status.as_u16())),
                message,
                status: Some(status.as_u16()),
            });
        }
    }
}

fn reset_after(wait: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_errors_give_the_reason_and_message() {
        let body = serde_json::json!({"error": {"code": 409, "message": "Member already exists.",
            "errors": [{"message": "Member already exists.", "domain": "global", "reason": "duplicate"}]}});
        assert_eq!(
            google_error(&body),
            (Some("duplicate".into()), "Member already exists.".into())
        );
    }

    #[test]
    fn emails_stay_inside_one_path_segment() {
        let client = GoogleClient::new(
            "http://127.0.0.1:9/",
            SecretString::from("t"),
            Duration::from_secs(1),
            0,
        )
        .expect("client");
        let url = client
            .url(
                &["groups", "eng@example.com", "members", "a/b@example.com"],
                &[],
            )
            .expect("url");
        assert_eq!(
            url.path(),
            "/admin/directory/v1/groups/eng@example.com/members/a%2Fb@example.com"
        );
    }
}
