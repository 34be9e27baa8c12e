//! GitLab's REST v4 dialect: `PRIVATE-TOKEN` auth, offset pagination by `Link` header, `RateLimit-*` budgets,
//! `Retry-After` on 429, and GitLab's `message`/`error` bodies turned into a classified `Failure`.

use async_trait::async_trait;
use reqwest::header::HeaderName;
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::borrow::Cow;
use std::time::Duration;

use crate::Failure;
use crate::ratelimit::Budget;
use crate::transport::{Answer, Call, Credentials, Ctx, Dialect, Items, Paging, Transport, Wire};

/// GitLab's client: the shared transport with GitLab's dialect.
pub type GitlabClient = Transport<GitlabDialect>;

pub struct GitlabDialect {
    pub(super) token: SecretString,
}

/// GitLab's one API-wide bucket, as its `RateLimit-*` headers describe it.
const API_BUCKET: &str = "api";

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

#[async_trait]
impl Dialect for GitlabDialect {
    async fn credentials(&self, _: &Wire, _: &Call, _: &Ctx<'_>) -> Result<Credentials, Failure> {
        Credentials::header(
            HeaderName::from_static("private-token"),
            self.token.expose_secret(),
        )
    }

    fn bucket(&self, _: &Call) -> Cow<'static, str> {
        Cow::Borrowed(API_BUCKET)
    }

    fn budget(&self, answer: &Answer, ctx: &Ctx<'_>) -> Option<Budget> {
        ctx.budget(
            &answer.headers,
            ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"],
        )
    }

    fn failure(&self, call: &Call, answer: &Answer, ctx: &Ctx<'_>) -> Option<Failure> {
        let (status, body) = (answer.status, &answer.body);
        if status.is_success() {
            return None;
        }
        let message = match error_text(body) {
            m if m.is_empty() => format!("HTTP {status}"),
            m => m,
        };
        Some(if status == StatusCode::TOO_MANY_REQUESTS {
            let reset = ctx
                .retry_after(&answer.headers)
                .or_else(|| ctx.epoch(&answer.headers, "ratelimit-reset"))
                .unwrap_or_else(|| ctx.after(Duration::from_secs(1)));
            Failure::rate_limited(API_BUCKET, reset, format!("429: {message}"))
        } else if status.is_server_error() {
            Failure::retry_later(
                Some(status.as_u16().to_string()),
                format!("{} answered {message}", call.label),
            )
        } else if status == StatusCode::UNAUTHORIZED {
            Failure::unauthorized(Some("401".into()), message)
        } else if body.get("error").and_then(Value::as_str) == Some("insufficient_scope") {
            Failure::InsufficientScope {
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
            }
        } else {
            Failure::permanent(status.as_u16().to_string(), message, Some(status.as_u16()))
        })
    }
}

impl GitlabClient {
    /// A URL under `/api/v4` from a relative path (`groups/3/members`) and query pairs.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, Failure> {
        self.url_path(&format!("api/v4/{path}"), query)
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Answer, Failure> {
        let url = self.url(path, query)?;
        self.send_json(Method::GET, url, None).await
    }

    /// Every item of a paginated list (100 per page), following `Link: <…>; rel="next"`.
    pub async fn get_all(
        &self,
        path: &str,
        query: &[(&str, &str)],
        on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let mut query = query.to_vec();
        query.push(("per_page", "100"));
        let first = Call::json_api(Method::GET, self.url(path, &query)?, None);
        self.list_all(first, Paging::Link, Items::Array, on_page)
            .await
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
