//! Jira Cloud's REST v3 dialect: Basic auth with email and API token, `startAt`/`maxResults` pagination
//! (PageBeans and plain arrays), 429 with `Retry-After`, and Jira's `errorMessages`/`errors` bodies turned into
//! a classified `Failure`.

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::Value;
use std::borrow::Cow;
use std::time::Duration;

use crate::Failure;
use crate::transport::{
    Answer, Call, Credentials, Ctx, Dialect, Items, OffsetEnd, Paging, Transport, Wire,
};

/// Jira Cloud's one cost-based budget, as far as its headers tell.
pub const API_BUCKET: &str = "api";

/// Items asked for per page.
const PAGE: u64 = 100;

/// Jira's client: the shared transport with Jira's dialect.
pub type JiraClient = Transport<JiraDialect>;

pub struct JiraDialect {
    pub(super) email: SecretString,
    pub(super) token: SecretString,
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

#[async_trait]
impl Dialect for JiraDialect {
    async fn credentials(&self, _: &Wire, _: &Call, _: &Ctx<'_>) -> Result<Credentials, Failure> {
        Credentials::basic(&self.email, &self.token)
    }

    fn bucket(&self, _: &Call) -> Cow<'static, str> {
        Cow::Borrowed(API_BUCKET)
    }

    fn failure(&self, call: &Call, answer: &Answer, ctx: &Ctx<'_>) -> Option<Failure> {
        let status = answer.status;
        if status.is_success() {
            return None;
        }
        let message = match error_text(&answer.body) {
            m if m.is_empty() => format!("HTTP {status}"),
            m => m,
        };
        let code = status.as_u16().to_string();
        Some(if status == StatusCode::TOO_MANY_REQUESTS {
            let reset = ctx
                .retry_after(&answer.headers)
                .unwrap_or_else(|| ctx.after(Duration::from_secs(1)));
            Failure::rate_limited(API_BUCKET, reset, format!("429: {message}"))
        } else if status.is_server_error() {
            // Jira sends Retry-After on some 503s.
            let message = format!("{} answered {message}", call.label);
            match ctx.retry_after(&answer.headers) {
                Some(at) => Failure::retry_at(at, Some(code), message),
                None => Failure::retry_later(Some(code), message),
            }
        } else if status == StatusCode::UNAUTHORIZED {
            Failure::unauthorized(Some(code), message)
        } else {
            Failure::permanent(
                code,
                format!("{}: {message}", call.label),
                Some(status.as_u16()),
            )
        })
    }
}

impl JiraClient {
    fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Call, Failure> {
        let url = self.url_path(&format!("rest/api/3/{path}"), query)?;
        let label = format!("Jira {method} {}", url.path());
        Ok(Call::json_api(method, url, body).label(label))
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
        on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let paging = Paging::Offset {
            start: "startAt",
            size: "maxResults",
            first: 0,
            page_size: PAGE,
            end: OffsetEnd::LastFlagOrShort("/isLast"),
        };
        let first = self.call(Method::GET, path, query, None)?;
        self.list_all(first, paging, Items::ArrayOrField("values"), on_page)
            .await
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
        let call = self.call(method, path, query, body)?;
        Ok(self.request(&call).await?.body)
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
