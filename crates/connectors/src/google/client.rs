//! The Directory API's dialect: bearer auth, `pageToken` paging, Google's error body, and quota errors
//! (403 `userRateLimitExceeded` / `quotaExceeded`, no documented `Retry-After`) answered with exponential
//! backoff. Google announces no budget, so the connection paces itself by the documented default quota.

use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use std::borrow::Cow;
use std::ops::ControlFlow;

use super::auth::GoogleAuth;
use crate::Failure;
use crate::ratelimit::Documented;
use crate::transport::{
    Answer, Call, Credentials, Ctx, Dialect, Items, Paging, Transport, Wire, backoff_from,
};

/// The one quota bucket Google reports for the Directory API (queries per minute per user).
pub const BUCKET: &str = "directory";

/// The Directory API's default quota: "2,400 queries per minute per user per Google Cloud project"
/// (https://developers.google.com/workspace/admin/directory/v1/limits, reason `userRateLimitExceeded`).
/// Google announces no budget in its answers, so without this a sync of a large domain would learn the
/// limit only from refusals and their exponential backoff, which overshoots the minute's reset by seconds.
pub const DOCUMENTED_QUOTA: Documented = Documented::per_minute(2400);

/// Reasons Google uses for quota; the documented remedy is exponential backoff.
const QUOTA_REASONS: [&str; 3] = [
    "userRateLimitExceeded",
    "rateLimitExceeded",
    "quotaExceeded",
];

/// The Directory API's client: the shared transport with Google's dialect.
pub type GoogleClient = Transport<GoogleDialect>;

pub struct GoogleDialect {
    pub(super) auth: GoogleAuth,
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

#[async_trait]
impl Dialect for GoogleDialect {
    async fn credentials(&self, _: &Wire, _: &Call, ctx: &Ctx<'_>) -> Result<Credentials, Failure> {
        self.auth.credentials(ctx.now).await
    }

    /// A minted token refused with a 401 (expired early, revoked) is minted again once.
    async fn renew(&self) -> bool {
        self.auth.forget().await
    }

    fn bucket(&self, _: &Call) -> Cow<'static, str> {
        Cow::Borrowed(BUCKET)
    }

    fn documented(&self, bucket: &str) -> Option<Documented> {
        (bucket == BUCKET).then_some(DOCUMENTED_QUOTA)
    }

    fn failure(&self, call: &Call, answer: &Answer, ctx: &Ctx<'_>) -> Option<Failure> {
        let status = answer.status;
        if status.is_success() {
            return None;
        }
        let (reason, message) = google_error(&answer.body);
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
        Some(if quota {
            // No Retry-After is documented (one sent is honoured): back off exponentially.
            let reset = ctx.retry_after(&answer.headers).unwrap_or_else(|| {
                ctx.after(backoff_from(ctx.rate_limit_waits.saturating_add(1), 250))
            });
            Failure::rate_limited(
                BUCKET,
                reset,
                format!("{}: {message}", reason.unwrap_or_default()),
            )
        } else if status.is_server_error() {
            Failure::retry_later(
                reason,
                format!("{} answered {status}: {message}", call.label),
            )
        } else if status == StatusCode::UNAUTHORIZED {
            Failure::unauthorized(reason, message)
        } else if status == StatusCode::FORBIDDEN
            && reason.as_deref() == Some("insufficientPermissions")
        {
            // Named by the call's family: user writes need the user scope, the rest the group scope.
            let users = call.url.path().contains("/directory/v1/users");
            Failure::InsufficientScope {
                scope: if users {
                    super::accounts::USER_SCOPE
                } else {
                    "https://www.googleapis.com/auth/admin.directory.group"
                }
                .into(),
                message,
            }
        } else {
            Failure::permanent(
                reason.unwrap_or_else(|| format!("HTTP {}", status.as_u16())),
                message,
                Some(status.as_u16()),
            )
        })
    }
}

impl GoogleClient {
    /// `admin/directory/v1/` plus `segments`, each percent-encoded as one path segment (an email's `@`
    /// stays inside its segment).
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, Failure> {
        let path: Vec<&str> = ["admin", "directory", "v1"]
            .into_iter()
            .chain(segments.iter().copied())
            .collect();
        self.url_segments(&path, query)
    }

    pub async fn get(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Value, Failure> {
        let url = self.url(segments, query)?;
        Ok(self.send_json(Method::GET, url, None).await?.body)
    }

    /// Each page's items under `field` handed to `visit` as the page arrives, following `nextPageToken`, so a
    /// long list is never held whole.
    pub async fn each_item_page(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        field: &'static str,
        mut visit: impl FnMut(Vec<Value>) -> ControlFlow<()>,
    ) -> Result<(), Failure> {
        let first = Call::json_api(Method::GET, self.url(segments, query)?, None);
        let paging = Paging::Cursor {
            token: "/nextPageToken",
            param: "pageToken",
        };
        self.each_page(first, paging, Items::Field(field), |page| visit(page.items))
            .await
    }

    /// Every item under `field` across pages, following `nextPageToken`.
    pub async fn get_all(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        field: &'static str,
        on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let first = Call::json_api(Method::GET, self.url(segments, query)?, None);
        let paging = Paging::Cursor {
            token: "/nextPageToken",
            param: "pageToken",
        };
        self.list_all(first, paging, Items::Field(field), on_page)
            .await
    }
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
        let config: crate::google::GoogleConfig = serde_json::from_value(serde_json::json!({
            "base_url": "http://127.0.0.1:9/",
            "token": {"env": "UNUSED"},
        }))
        .expect("config");
        let dialect = GoogleDialect {
            auth: GoogleAuth::Token(secrecy::SecretString::from("t")),
        };
        let client = GoogleClient::new(
            crate::google::SYSTEM,
            dialect,
            &config,
            &grantflow_model::ConnectionName::new("google"),
            &crate::BuildContext::new("."),
            None,
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
