//! Slack's Web API: form-encoded POSTs with a Bearer token, the `ok`/`error` envelope, cursor pagination, and
//! tiered rate limits (429 + `Retry-After`), turned into classified `Failure`s.

use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use secrecy::SecretString;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::time::Duration;

use crate::Failure;
use crate::ratelimit::{Budget, Documented};
use crate::transport::{
    Answer, Body, Call, Credentials, Ctx, Dialect, Items, Paging, Transport, Wire,
};

/// Slack's rate-limit tier for a method (per method, per workspace); our own copy of the published table.
/// chat.postMessage is in the `special` tier: about one message a second per channel (short bursts allowed),
/// under a workspace-wide limit.
pub fn tier_of(method: &str) -> &'static str {
    match method {
        "chat.postMessage" => "special",
        "users.list" | "conversations.list" | "conversations.create" => "tier2",
        "users.lookupByEmail"
        | "conversations.invite"
        | "conversations.kick"
        | "conversations.info"
        | "chat.update" => "tier3",
        _ => "tier4",
    }
}

/// The budget of a tier's bucket (`tier3:conversations.invite`): the floor of the tier's documented range,
/// per method, per workspace (https://api.slack.com/docs/rate-limits: Tier 1 1+, Tier 2 20+, Tier 3 50+,
/// Tier 4 100+ per minute). Slack announces no budget in its answers, so without it the connection learns
/// the limit from a 429 each window. The `special` tier has no single figure (chat.postMessage is paced
/// per channel instead).
pub fn documented_budget(bucket: &str) -> Option<Documented> {
    let tier = bucket.split_once(':').map_or(bucket, |(tier, _)| tier);
    match tier {
        "tier1" => Some(Documented::per_minute(1)),
        "tier2" => Some(Documented::per_minute(20)),
        "tier3" => Some(Documented::per_minute(50)),
        "tier4" => Some(Documented::per_minute(100)),
        _ => None,
    }
}

/// chat.postMessage's budget is per channel, so its bucket names the channel.
pub fn post_bucket(channel: &str) -> String {
    format!("special:chat.postMessage:{channel}")
}

/// How long Slack wants between two messages to one channel.
const POST_INTERVAL: Duration = Duration::from_secs(1);

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

/// Slack's client: the shared transport with Slack's dialect.
pub type SlackClient = Transport<SlackDialect>;

pub struct SlackDialect {
    pub(super) token: SecretString,
}

/// The Web API method a call is to (the last segment of its URL).
fn method_of(call: &Call) -> &str {
    call.url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("")
}

#[async_trait]
impl Dialect for SlackDialect {
    async fn credentials(&self, _: &Wire, _: &Call, _: &Ctx<'_>) -> Result<Credentials, Failure> {
        Credentials::bearer(&self.token)
    }

    /// Web API methods are under `/api/`.
    fn api_base(&self, base: Url) -> Result<Url, Failure> {
        if base.path().ends_with("/api/") {
            return Ok(base);
        }
        base.join("api/")
            .map_err(|error| Failure::config(format!("slack base_url {base}: {error}")))
    }

    /// Slack limits each method per workspace by its tier (chat.postMessage per channel), and announces no
    /// budget.
    fn bucket(&self, call: &Call) -> Cow<'static, str> {
        let method = method_of(call);
        if method == "chat.postMessage" {
            let channel = match &call.body {
                Body::Json(body) => body
                    .get("channel")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                _ => call.param("channel"),
            };
            return Cow::Owned(post_bucket(&channel.unwrap_or_default()));
        }
        Cow::Owned(format!("{}:{method}", tier_of(method)))
    }

    fn documented(&self, bucket: &str) -> Option<Documented> {
        documented_budget(bucket)
    }

    fn failure(&self, call: &Call, answer: &Answer, ctx: &Ctx<'_>) -> Option<Failure> {
        let (status, body) = (answer.status, &answer.body);
        let error = body.get("error").and_then(Value::as_str).unwrap_or("");
        if status == StatusCode::TOO_MANY_REQUESTS || error == "ratelimited" {
            let reset = ctx
                .retry_after(&answer.headers)
                .unwrap_or_else(|| ctx.after(Duration::from_secs(1)));
            return Some(Failure::rate_limited(
                self.bucket(call),
                reset,
                "ratelimited",
            ));
        }
        if status.is_server_error() || TRANSIENT_ERRORS.contains(&error) {
            return Some(Failure::retry_later(
                (!error.is_empty()).then(|| error.to_string()),
                format!("{} answered HTTP {status} {error}", call.label),
            ));
        }
        match body {
            Value::Object(fields) if fields.get("ok") == Some(&Value::Bool(true)) => None,
            _ => Some(classify(method_of(call), status, body)),
        }
    }
}

impl SlackClient {
    fn method_call(&self, method: &str, args: &[(&str, &str)]) -> Result<Call, Failure> {
        let form = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(Call::new(Method::POST, self.url_path(method, &[])?)
            .body(Body::Form(form))
            .repeatable(is_read(method))
            .label(format!("Slack {method}")))
    }

    /// Calls one method with form arguments; the successful envelope's fields, or the classified failure.
    pub async fn call(
        &self,
        method: &str,
        args: &[(&str, &str)],
    ) -> Result<Map<String, Value>, Failure> {
        let answer = self.request(&self.method_call(method, args)?).await?;
        match answer.body {
            Value::Object(fields) => Ok(fields),
            _ => Err(classify(method, answer.status, &Value::Null)),
        }
    }

    /// Calls a `chat.*` method with a JSON body (`blocks` as arrays, as Slack's own SDK sends them).
    /// `repeatable`: whether sending it twice does no harm (an update does; a post would post twice).
    pub async fn call_json(
        &self,
        method: &str,
        body: Value,
        repeatable: bool,
    ) -> Result<Map<String, Value>, Failure> {
        let call = Call::new(Method::POST, self.url_path(method, &[])?)
            .json(body)
            .repeatable(repeatable)
            .label(format!("Slack {method}"));
        let answer = self.request(&call).await?;
        match answer.body {
            Value::Object(fields) => Ok(fields),
            _ => Err(classify(method, answer.status, &Value::Null)),
        }
    }

    /// chat.postMessage, then paces the channel: Slack announces no budget, so the documented one message a
    /// second is recorded as the channel bucket's, and the next post to it waits for its turn.
    pub async fn post(&self, channel: &str, body: Value) -> Result<Map<String, Value>, Failure> {
        let fields = self.call_json("chat.postMessage", body, false).await?;
        let reset = self.now()
            + chrono::Duration::from_std(POST_INTERVAL).unwrap_or(chrono::Duration::seconds(1));
        self.budgets()
            .record(
                &post_bucket(channel),
                Budget {
                    limit: 1,
                    remaining: 0,
                    reset,
                },
            )
            .await;
        Ok(fields)
    }

    /// Every item under `key` across pages, following `response_metadata.next_cursor` until it is empty.
    pub async fn paginate(
        &self,
        method: &str,
        args: &[(&str, &str)],
        key: &'static str,
        on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let paging = Paging::Cursor {
            token: "/response_metadata/next_cursor",
            param: "cursor",
        };
        self.list_all(
            self.method_call(method, args)?,
            paging,
            Items::Field(key),
            on_page,
        )
        .await
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
    Failure::permanent(error, message, Some(status.as_u16()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn posts_are_charged_per_channel_and_other_methods_per_tier() {
        let dialect = SlackDialect {
            token: SecretString::from("xoxb-test".to_owned()),
        };
        let url = |m: &str| Url::parse(&format!("https://slack.com/api/{m}")).expect("url");
        let post = Call::new(Method::POST, url("chat.postMessage"))
            .json(json!({"channel": "C1", "text": "hi"}));
        assert_eq!(dialect.bucket(&post), "special:chat.postMessage:C1");
        let form = Call::new(Method::POST, url("chat.postMessage"))
            .body(Body::Form(vec![("channel".into(), "U2".into())]));
        assert_eq!(dialect.bucket(&form), post_bucket("U2"));
        let update = Call::new(Method::POST, url("chat.update")).json(json!({"channel": "C1"}));
        assert_eq!(dialect.bucket(&update), "tier3:chat.update");
    }

    #[test]
    fn a_tiers_bucket_starts_from_the_tiers_documented_budget() {
        let dialect = SlackDialect {
            token: SecretString::from("xoxb-test".to_owned()),
        };
        let url = Url::parse("https://slack.com/api/conversations.invite").expect("url");
        let invite = Call::new(Method::POST, url);
        let bucket = dialect.bucket(&invite);
        assert_eq!(
            dialect.documented(&bucket),
            Some(Documented::per_minute(50)),
            "conversations.invite is Tier 3: 50 a minute"
        );
        assert_eq!(
            dialect.documented("tier2:users.list"),
            Some(Documented::per_minute(20))
        );
        // chat.postMessage is paced per channel, not by a tier's figure.
        assert_eq!(dialect.documented(&post_bucket("C1")), None);
    }

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
