//! Slack's Web API: form-encoded POSTs with a Bearer token, the `ok`/`error` envelope, cursor pagination, and
//! tiered rate limits (429 + `Retry-After`), turned into classified `Failure`s.

use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use std::time::Duration;

use crate::Failure;
use crate::http;

/// Slack's rate-limit tier for a method (per method, per workspace); our own copy of the published table.
pub fn tier_of(method: &str) -> &'static str {
    match method {
        "users.list" | "conversations.list" | "conversations.create" => "tier2",
        "users.lookupByEmail"
        | "conversations.invite"
        | "conversations.kick"
        | "conversations.info" => "tier3",
        _ => "tier4",
    }
}

/// Methods that only read, and so may be repeated after a transport error or a 5xx.
fn is_read(method: &str) -> bool {
    method.starts_with("users.")
        || method == "auth.test"
        || matches!(
            method,
            "conversations.list" | "conversations.members" | "conversations.info"
        )
}

/// Slack's error strings that mean the token, not the request, is the problem.
const AUTH_ERRORS: &[&str] = &[
    "not_authed",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
];

/// Slack's error strings for trouble on Slack's side, worth trying again.
const TRANSIENT_ERRORS: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

pub struct SlackClient {
    http: reqwest::Client,
    api: Url,
    token: SecretString,
    max_rate_limit_waits: u32,
}

impl SlackClient {
    pub fn new(
        base_url: &str,
        token: SecretString,
        timeout: Duration,
        max_rate_limit_waits: u32,
    ) -> Result<Self, Failure> {
        let base = http::base_url("slack", base_url)?;
        let api = if base.path().ends_with("/api/") {
            base
        } else {
            base.join("api/").map_err(|error| Failure::Config {
                message: format!("slack base_url \"{base_url}\": {error}"),
            })?
        };
        Ok(Self {
            http: http::client(timeout)?,
            api,
            token,
            max_rate_limit_waits,
        })
    }

    pub fn api_url(&self) -> &Url {
        &self.api
    }

    /// Calls one method with form arguments; the successful envelope's fields, or the classified failure.
    pub async fn call(
        &self,
        method: &str,
        args: &[(&str, &str)],
    ) -> Result<Map<String, Value>, Failure> {
        let url = self.api.join(method).map_err(|error| Failure::Config {
            message: format!("bad Slack method {method}: {error}"),
        })?;
        let tier = tier_of(method);
        let what = format!("Slack {method}");
        let mut rate_limit_waits = 0;
        let mut transient_retries = 0;
        loop {
            let request = self
                .http
                .post(url.clone())
                .bearer_auth(self.token.expose_secret())
                .form(args);
            let Some((status, headers, body)) =
                http::exchange_json(request, is_read(method), &mut transient_retries, &what)
                    .await?
            else {
                continue;
            };
            let error = body.get("error").and_then(Value::as_str).unwrap_or("");
            if status == StatusCode::TOO_MANY_REQUESTS || error == "ratelimited" {
                let reset = http::retry_at(&headers, None);
                if rate_limit_waits < self.max_rate_limit_waits {
                    rate_limit_waits += 1;
                    tracing::info!(message = "Slack rate limit reached; waiting.", method, %reset);
                    http::sleep_until(reset).await;
                    continue;
                }
                return Err(Failure::RateLimited {
                    bucket: format!("{tier}:{method}"),
                    reset,
                    message: "ratelimited".into(),
                });
            }
            let transient = status.is_server_error() || TRANSIENT_ERRORS.contains(&error);
            if transient {
                if http::retry_transient(is_read(method), &mut transient_retries).await {
                    continue;
                }
                return Err(Failure::RetryLater {
                    at: None,
                    vendor_code: (!error.is_empty()).then(|| error.to_string()),
                    message: format!("{what} answered HTTP {status} {error}"),
                });
            }
            return match body {
                Value::Object(fields) if fields.get("ok") == Some(&Value::Bool(true)) => Ok(fields),
                _ => Err(classify(method, status, &body)),
            };
        }
    }

    /// Every item under `key` across pages, following `response_metadata.next_cursor` until it is empty.
    pub async fn paginate(
        &self,
        method: &str,
        args: &[(&str, &str)],
        key: &str,
        mut on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let mut items = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut page_args = args.to_vec();
            if !cursor.is_empty() {
                page_args.push(("cursor", &cursor));
            }
            let fields = self.call(method, &page_args).await?;
            if let Some(Value::Array(page)) = fields.get(key) {
                items.extend(page.iter().cloned());
            }
            on_page(items.len());
            let next = fields
                .get("response_metadata")
                .and_then(|m| m.get("next_cursor"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if next.is_empty() {
                return Ok(items);
            }
            cursor = next.to_string();
        }
    }
}

/// An `ok: false` answer (or a body that is no envelope) as a failure with Slack's own error string.
fn classify(method: &str, status: StatusCode, body: &Value) -> Failure {
    let error = body
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("invalid_response")
        .to_string();
    let detail: Vec<&str> = body
        .pointer("/response_metadata/messages")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let message = if detail.is_empty() {
        format!("Slack {method}: {error}")
    } else {
        format!("Slack {method}: {error} ({})", detail.join("; "))
    };
    if AUTH_ERRORS.contains(&error.as_str()) {
        return Failure::Unauthorized {
            vendor_code: Some(error),
            message,
        };
    }
    if error == "missing_scope" {
        let scope = body
            .get("needed")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string();
        return Failure::InsufficientScope { scope, message };
    }
    Failure::Permanent {
        vendor_code: error,
        message,
        status: Some(status.as_u16()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slack_errors_keep_slacks_string_and_split_auth_from_permanent() {
        let f = classify(
            "conversations.invite",
            StatusCode::OK,
            &json!({"ok": false, "error": "channel_not_found"}),
        );
        assert_eq!(f.code(), "channel_not_found");
        assert!(matches!(f, Failure::Permanent { .. }));
        let f = classify(
            "users.list",
            StatusCode::OK,
            &json!({"ok": false, "error": "invalid_auth"}),
        );
        assert!(matches!(f, Failure::Unauthorized { .. }));
        let f = classify(
            "users.list",
            StatusCode::OK,
            &json!({"ok": false, "error": "missing_scope", "needed": "users:read.email"}),
        );
        assert!(
            matches!(f, Failure::InsufficientScope { ref scope, .. } if scope == "users:read.email")
        );
    }
}
