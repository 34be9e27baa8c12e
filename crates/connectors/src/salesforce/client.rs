//! Salesforce's REST dialect: Bearer session auth, SOQL with `nextRecordsUrl` paging, sObject calls, errors as
//! `[{message, errorCode, fields}]`, and the org's request budget from `Sforce-Limit-Info` (403
//! `REQUEST_LIMIT_EXCEEDED` once spent; Salesforce sends no 429, so a call never waits for it).

use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use std::borrow::Cow;
use std::time::Duration;

use super::SalesforceConfig;
use super::auth::SalesforceAuth;
use crate::Failure;
use crate::ratelimit::Budget;
use crate::transport::{
    Answer, Call, Credentials, Ctx, Dialect, Items, Paging, Transport, Wire, text,
};

/// The org's one budget (`DailyApiRequests`).
pub const API_BUCKET: &str = "api";

/// Salesforce's client: the shared transport with Salesforce's dialect.
pub type SalesforceClient = Transport<SalesforceDialect>;

pub struct SalesforceDialect {
    auth: SalesforceAuth,
    /// The REST API version, without the `v`.
    api_version: String,
    /// How long a spent request limit is taken to last: Salesforce does not say.
    limit_retry: chrono::Duration,
}

impl SalesforceDialect {
    /// The dialect of the org `config` describes.
    pub(super) fn new(config: &SalesforceConfig, auth: SalesforceAuth) -> Self {
        Self {
            auth,
            api_version: config.api_version.clone(),
            limit_retry: chrono::Duration::from_std(Duration::from_secs(
                config.limit_retry_seconds,
            ))
            .unwrap_or_else(|_| chrono::Duration::hours(1)),
        }
    }

    fn limit_reset(&self, ctx: &Ctx<'_>) -> chrono::DateTime<chrono::Utc> {
        ctx.now
            .checked_add_signed(self.limit_retry)
            .unwrap_or(ctx.now)
    }
}

/// The first error of Salesforce's error array: (errorCode, message); other bodies as text.
pub fn error_of(body: &Value) -> (Option<String>, String) {
    let first = body.as_array().and_then(|a| a.first()).unwrap_or(body);
    let code = first
        .get("errorCode")
        .and_then(Value::as_str)
        .map(str::to_string);
    let message = first
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| body.as_str().map(str::to_string))
        .unwrap_or_default();
    (code, message)
}

/// `api-usage=18/5000` → (18, 5000).
pub fn api_usage(header: &str) -> Option<(u64, u64)> {
    let usage = header
        .split(';')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("api-usage="))?;
    let (used, limit) = usage.split_once('/')?;
    Some((used.trim().parse().ok()?, limit.trim().parse().ok()?))
}

/// A SOQL string literal: backslash and quote escaped.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[async_trait]
impl Dialect for SalesforceDialect {
    async fn credentials(
        &self,
        wire: &Wire,
        _: &Call,
        ctx: &Ctx<'_>,
    ) -> Result<Credentials, Failure> {
        self.auth.credentials(wire, ctx.now).await
    }

    /// A session refused with 401 `INVALID_SESSION_ID` (timed out, logged out) is opened again once.
    async fn renew(&self) -> bool {
        self.auth.forget().await
    }

    /// The REST API's root, `services/data/vXX.X/`.
    fn api_base(&self, base: Url) -> Result<Url, Failure> {
        let version = &self.api_version;
        base.join(&format!("services/data/v{version}/"))
            .map_err(|error| {
                Failure::config(format!("salesforce api_version {version:?}: {error}"))
            })
    }

    fn bucket(&self, _: &Call) -> Cow<'static, str> {
        Cow::Borrowed(API_BUCKET)
    }

    fn budget(&self, answer: &Answer, ctx: &Ctx<'_>) -> Option<Budget> {
        let (used, limit) = api_usage(text(&answer.headers, "sforce-limit-info")?)?;
        Some(Budget {
            limit,
            remaining: limit.saturating_sub(used),
            reset: self.limit_reset(ctx),
        })
    }

    fn failure(&self, call: &Call, answer: &Answer, ctx: &Ctx<'_>) -> Option<Failure> {
        let status = answer.status;
        if status.is_success() {
            return None;
        }
        let (code, message) = error_of(&answer.body);
        let code = code.unwrap_or_else(|| status.as_u16().to_string());
        let described = format!("{}: {code}: {message}", call.label);
        Some(if code == "REQUEST_LIMIT_EXCEEDED" {
            Failure::rate_limited(
                API_BUCKET,
                self.limit_reset(ctx),
                format!("{code}: {message}"),
            )
        } else if status.is_server_error() {
            Failure::retry_later(Some(code), described)
        } else if status == StatusCode::UNAUTHORIZED {
            Failure::unauthorized(Some(code), described)
        } else {
            Failure::permanent(code, described, Some(status.as_u16()))
        })
    }
}

impl SalesforceClient {
    fn api_call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Call, Failure> {
        let url = self.url_path(path, &[])?;
        let label = format!("Salesforce {method} {}", url.path());
        Ok(Call::json_api(method, url, body).label(label))
    }

    /// Every record of a SOQL query, following `nextRecordsUrl`.
    pub async fn query(
        &self,
        soql: &str,
        on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let mut first = self.api_call(Method::GET, "query/", None)?;
        first.url.query_pairs_mut().append_pair("q", soql);
        let paging = Paging::NextUrl {
            url: "/nextRecordsUrl",
            done: "/done",
        };
        self.list_all(first, paging, Items::Field("records"), on_page)
            .await
    }

    /// One call to a path under the API root.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let call = self.api_call(method, path, body)?;
        Ok(self.request(&call).await?.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn salesforce_errors_limits_and_literals_read_as_salesforce_writes_them() {
        let (code, message) = error_of(
            &json!([{"message": "duplicate value found: <unknown> duplicates value on record with id: <unknown>", "errorCode": "DUPLICATE_VALUE", "fields": []}]),
        );
        assert_eq!(code.as_deref(), Some("DUPLICATE_VALUE"));
        assert!(message.starts_with("duplicate value found"));
        assert_eq!(api_usage("api-usage=18/5000"), Some((18, 5000)));
        assert_eq!(
            api_usage("api-usage=25/5000; per-app-api-usage=17/250(appName=sample)"),
            Some((25, 5000))
        );
        assert_eq!(quote("o'brien\\x"), "'o\\'brien\\\\x'");
    }
}
