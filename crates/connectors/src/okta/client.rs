//! Okta's HTTP dialect: SSWS or OAuth authentication (a new access token after a 401), Okta's rate-limit
//! buckets and `X-Rate-Limit-*` headers, pagination by `Link` header, and Okta's error body turned into a
//! classified `Failure`. The loop itself is the shared [`Transport`]'s.

use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url, header::HeaderMap};
use serde_json::Value;
use std::borrow::Cow;
use std::ops::ControlFlow;
use std::time::Duration;

use super::auth::Auth;
use crate::Failure;
use crate::ratelimit::Budget;
use crate::transport::{
    Answer, Call, Credentials, Ctx, Dialect, Items, Page, Paging, Transport, Wire,
};

/// Okta's client: the shared transport with Okta's dialect.
pub type OktaClient = Transport<OktaDialect>;

pub struct OktaDialect {
    pub(super) auth: Auth,
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

#[async_trait]
impl Dialect for OktaDialect {
    async fn credentials(
        &self,
        wire: &Wire,
        call: &Call,
        ctx: &Ctx<'_>,
    ) -> Result<Credentials, Failure> {
        self.auth.credentials(wire, call, ctx).await
    }

    /// A cached access token may have been revoked: get a new one, once.
    async fn renew(&self) -> bool {
        self.auth.forget().await
    }

    fn bucket(&self, call: &Call) -> Cow<'static, str> {
        Cow::Borrowed(bucket_for(&call.method, call.url.path()))
    }

    fn budget(&self, answer: &Answer, ctx: &Ctx<'_>) -> Option<Budget> {
        ctx.budget(
            &answer.headers,
            [
                "x-rate-limit-limit",
                "x-rate-limit-remaining",
                "x-rate-limit-reset",
            ],
        )
    }

    fn failure(&self, call: &Call, answer: &Answer, ctx: &Ctx<'_>) -> Option<Failure> {
        let status = answer.status;
        if status.is_success() {
            return None;
        }
        let (code, summary) = okta_error(&answer.body);
        let summary = if summary.is_empty() {
            format!("HTTP {status}")
        } else {
            summary
        };
        Some(if status == StatusCode::TOO_MANY_REQUESTS {
            let reset = ctx
                .epoch(&answer.headers, "x-rate-limit-reset")
                .or_else(|| ctx.retry_after(&answer.headers))
                .unwrap_or_else(|| ctx.after(Duration::from_secs(1)));
            Failure::rate_limited(
                self.bucket(call),
                reset,
                format!("{}: {summary}", code.unwrap_or_default()),
            )
        } else if status.is_server_error() {
            Failure::retry_later(code, format!("{} answered {status}: {summary}", call.label))
        } else if status == StatusCode::UNAUTHORIZED {
            Failure::unauthorized(code, summary)
        } else if let Some(scope) =
            missing_scope(&answer.headers).filter(|_| status == StatusCode::FORBIDDEN)
        {
            let message = format!(
                "{}: {summary} (the token lacks the scope {scope})",
                code.unwrap_or_default()
            );
            Failure::InsufficientScope { scope, message }
        } else {
            Failure::permanent(
                code.unwrap_or_else(|| format!("HTTP {}", status.as_u16())),
                summary,
                Some(status.as_u16()),
            )
        })
    }

    fn spent(&self, _bucket: &str) -> String {
        "E0000047: the bucket's budget is spent until its reset".to_string()
    }
}

impl OktaClient {
    /// A URL on the org from a path (`/api/v1/users`) and query pairs.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, Failure> {
        self.url_path(path, query)
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Answer, Failure> {
        let url = self.url(path, query)?;
        self.send_json(Method::GET, url, None).await
    }

    /// Every item of a paginated list, following `Link: <…>; rel="next"`.
    pub async fn get_all(
        &self,
        path: &str,
        query: &[(&str, &str)],
        on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let first = Call::json_api(Method::GET, self.url(path, query)?, None);
        self.list_all(first, Paging::Link, Items::Array, on_page)
            .await
    }

    /// The pages of a list from `url`, each handed to `visit` until it breaks.
    pub async fn pages(
        &self,
        url: Url,
        visit: impl FnMut(Page<'_>) -> ControlFlow<()>,
    ) -> Result<(), Failure> {
        let first = Call::json_api(Method::GET, url, None);
        self.each_page(first, Paging::Link, Items::Array, visit)
            .await
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
