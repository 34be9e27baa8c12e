//! Datadog's API dialect: the `DD-API-KEY` and `DD-APPLICATION-KEY` headers, `page`/`page_size` paging of the
//! monitors list (0-based pages, at most 1000 a page, ending at a short page), the `X-RateLimit-*` headers
//! (whose reset is seconds from now, not a moment), and `{"errors": [...]}` bodies turned into a classified
//! `Failure`.

use async_trait::async_trait;
use grantflow_model::ConnectionName;
use reqwest::header::HeaderName;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::borrow::Cow;
use std::time::Duration;

use crate::Failure;
use crate::ratelimit::Budget;
use crate::transport::{
    Answer, Call, Credentials, Ctx, Dialect, Items, Paging, Transport, Wire, number,
};

/// Datadog limits each endpoint on its own and names the limit in `X-RateLimit-Name`; these are the two
/// grantflow calls.
pub const MONITOR_BUCKET: &str = "monitor";
pub const VALIDATE_BUCKET: &str = "validate";

/// Datadog's largest page: fewer calls for a large organisation, and its documented maximum.
pub const PAGE_SIZE: u64 = 1000;

const MONITORS: &str = "api/v1/monitor";
const VALIDATE: &str = "api/v1/validate";

/// Datadog's client: the shared transport with Datadog's dialect.
pub type DatadogClient = Transport<DatadogDialect>;

pub struct DatadogDialect {
    pub(super) connection: ConnectionName,
    pub(super) api_key: SecretString,
    pub(super) application_key: SecretString,
}

/// Datadog's error text, verbatim: the `errors` strings joined (an error that is not a string is shown as
/// JSON); a body that is plain text is that text.
pub fn error_text(body: &Value) -> String {
    match body {
        Value::Object(map) => map
            .get("errors")
            .and_then(Value::as_array)
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default(),
        Value::String(text) => text.trim().to_string(),
        _ => String::new(),
    }
}

fn is_validate(call: &Call) -> bool {
    call.url.path().ends_with("/api/v1/validate")
}

/// `X-RateLimit-Reset` counts seconds from now (Datadog's documentation), unlike the epoch resets of GitHub
/// and Okta.
fn reset_in(answer: &Answer, ctx: &Ctx<'_>, header: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    number(&answer.headers, header).map(|seconds| ctx.after(Duration::from_secs(seconds)))
}

#[async_trait]
impl Dialect for DatadogDialect {
    async fn credentials(&self, _: &Wire, _: &Call, _: &Ctx<'_>) -> Result<Credentials, Failure> {
        Credentials::header(
            HeaderName::from_static("dd-api-key"),
            self.api_key.expose_secret(),
        )?
        .and_header(
            HeaderName::from_static("dd-application-key"),
            self.application_key.expose_secret(),
        )
    }

    fn bucket(&self, call: &Call) -> Cow<'static, str> {
        Cow::Borrowed(if is_validate(call) {
            VALIDATE_BUCKET
        } else {
            MONITOR_BUCKET
        })
    }

    fn budget(&self, answer: &Answer, ctx: &Ctx<'_>) -> Option<Budget> {
        Some(Budget {
            limit: number(&answer.headers, "x-ratelimit-limit")?,
            remaining: number(&answer.headers, "x-ratelimit-remaining")?,
            reset: reset_in(answer, ctx, "x-ratelimit-reset")?,
        })
    }

    fn spent(&self, bucket: &str) -> String {
        format!(
            "connection {}: Datadog's {bucket} rate limit is spent until its reset",
            self.connection
        )
    }

    fn failure(&self, call: &Call, answer: &Answer, ctx: &Ctx<'_>) -> Option<Failure> {
        let status = answer.status;
        if status.is_success() {
            return None;
        }
        let said = match error_text(&answer.body) {
            m if m.is_empty() => format!("HTTP {status}"),
            m => m,
        };
        let code = status.as_u16().to_string();
        let connection = &self.connection;
        Some(if status == StatusCode::TOO_MANY_REQUESTS {
            // Datadog sends no Retry-After; its reset header says when the window turns, and its period is
            // the longest that can be.
            let reset = reset_in(answer, ctx, "x-ratelimit-reset")
                .or_else(|| ctx.retry_after(&answer.headers))
                .or_else(|| reset_in(answer, ctx, "x-ratelimit-period"))
                .unwrap_or_else(|| ctx.after(Duration::from_secs(1)));
            Failure::rate_limited(
                self.bucket(call),
                reset,
                format!(
                    "connection {connection}: {} answered 429: {said}",
                    call.label
                ),
            )
        } else if status.is_server_error() {
            Failure::retry_later(
                Some(code),
                format!("connection {connection}: {} answered {said}", call.label),
            )
        } else if status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED {
            // Datadog answers a wrong key with 403, and says no more than "Forbidden"; which key is meant
            // depends on the call, as validate reads only the API key.
            let which = if is_validate(call) {
                "the API key was refused"
            } else {
                "the API key or the application key was refused, or the application key may not read monitors"
            };
            Failure::unauthorized(
                Some(code),
                format!(
                    "connection {connection}: {} answered {said}: {which}",
                    call.label
                ),
            )
        } else {
            Failure::permanent(
                code,
                format!("connection {connection}: {} answered {said}", call.label),
                Some(status.as_u16()),
            )
        })
    }
}

impl DatadogClient {
    fn call(&self, path: &str, query: &[(&str, &str)]) -> Result<Call, Failure> {
        let url = self.url_path(path, query)?;
        let label = format!("Datadog GET /{path}");
        Ok(Call::json_api(Method::GET, url, None).label(label))
    }

    /// `GET /api/v1/validate`: whether Datadog accepts the API key (it does not look at the application key).
    /// Datadog refuses a wrong key with a 403, so any success is an acceptance unless it says otherwise.
    pub async fn validate(&self) -> Result<(), Failure> {
        let answer = self.request(&self.call(VALIDATE, &[])?).await?;
        if answer.body.get("valid") == Some(&Value::Bool(false)) {
            return Err(Failure::unauthorized(
                None,
                format!(
                    "connection {}: Datadog GET /{VALIDATE} answered that the API key is not valid",
                    self.dialect().connection
                ),
            ));
        }
        Ok(())
    }

    /// One page of at most `page_size` monitors: a cheap read that needs both keys.
    pub async fn monitor_page(&self, page_size: u64) -> Result<Vec<Value>, Failure> {
        let size = page_size.to_string();
        let call = self.call(MONITORS, &[("page", "0"), ("page_size", &size)])?;
        let mut answer = self.request(&call).await?;
        Items::Array.take(&mut answer.body, &call.label)
    }

    /// Every monitor, page by page until a page is short.
    pub async fn monitors(&self, on_page: impl FnMut(usize)) -> Result<Vec<Value>, Failure> {
        let paging = Paging::Number {
            page: "page",
            size: "page_size",
            first: 0,
            page_size: PAGE_SIZE,
        };
        self.list_all(self.call(MONITORS, &[])?, paging, Items::Array, on_page)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn datadog_error_bodies_read_as_datadog_wrote_them() {
        assert_eq!(error_text(&json!({"errors": ["Forbidden"]})), "Forbidden");
        assert_eq!(
            error_text(
                &json!({"errors": ["page_size must be less than or equal to 1000", {"x": 1}]})
            ),
            r#"page_size must be less than or equal to 1000; {"x":1}"#
        );
        assert_eq!(error_text(&json!("Bad Gateway\n")), "Bad Gateway");
        assert_eq!(error_text(&json!({"status": "error"})), "");
    }

    #[test]
    fn pages_are_numbered_from_zero_and_end_at_a_short_page() {
        let base = reqwest::Url::parse("https://api.datadoghq.com/").expect("url");
        let paging = Paging::Number {
            page: "page",
            size: "page_size",
            first: 0,
            page_size: 2,
        };
        let first = paging.first(Call::get(base.join(MONITORS).expect("url")));
        assert_eq!(first.param("page").as_deref(), Some("0"));
        assert_eq!(first.param("page_size").as_deref(), Some("2"));
        let answer = Answer {
            status: StatusCode::OK,
            headers: Default::default(),
            body: json!([]),
        };
        let second = paging
            .next(&base, &first, &answer, 2)
            .expect("pages")
            .expect("a full page has a next");
        assert_eq!(second.param("page").as_deref(), Some("1"));
        assert_eq!(second.param("page_size").as_deref(), Some("2"));
        assert!(
            paging
                .next(&base, &second, &answer, 1)
                .expect("pages")
                .is_none()
        );
        assert!(
            paging
                .next(&base, &second, &answer, 0)
                .expect("pages")
                .is_none()
        );
    }
}
