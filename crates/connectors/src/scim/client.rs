//! SCIM 2.0's dialect (RFC 7644): Bearer auth, `startIndex`/`count` pagination, ETags, the SCIM error body
//! (`status`, `scimType`, `detail`), 429 + `Retry-After` (RFC 6585; SCIM itself defines no rate limits) and
//! 5xx, turned into classified `Failure`s.

use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use secrecy::SecretString;
use serde_json::Value;
use std::borrow::Cow;
use std::time::Duration;

use super::ScimConfig;
use crate::Failure;
use crate::transport::{
    Answer, Body, Call, Credentials, Ctx, Dialect, Items, OffsetEnd, Paging, Transport, Wire,
};

/// The one bucket a SCIM provider's limit is tracked under: SCIM names none.
pub const BUCKET: &str = "scim";

/// A successful answer: its status, `ETag` and JSON body (`Null` for 204).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub body: Value,
}

/// A SCIM app's client: the shared transport with the SCIM dialect.
pub type ScimClient = Transport<ScimDialect>;

pub struct ScimDialect {
    token: SecretString,
    /// The app's name in messages.
    app: String,
    /// Resources asked for per list page.
    page_size: u32,
}

impl ScimDialect {
    /// The dialect of the app `config` describes, named `app` in messages.
    pub(crate) fn new(app: String, config: &ScimConfig, token: SecretString) -> Self {
        Self {
            token,
            app,
            page_size: config.page_size.max(1),
        }
    }
}

#[async_trait]
impl Dialect for ScimDialect {
    async fn credentials(&self, _: &Wire, _: &Call, _: &Ctx<'_>) -> Result<Credentials, Failure> {
        Credentials::bearer(&self.token)
    }

    /// A bare origin (what `grantflow init --sandbox` writes) means the conventional `/scim/v2`.
    fn api_base(&self, mut base: Url) -> Result<Url, Failure> {
        if base.path() == "/" {
            base.set_path("/scim/v2/");
        }
        Ok(base)
    }

    fn bucket(&self, _: &Call) -> Cow<'static, str> {
        Cow::Borrowed(BUCKET)
    }

    fn failure(&self, call: &Call, answer: &Answer, ctx: &Ctx<'_>) -> Option<Failure> {
        let (status, body) = (answer.status, &answer.body);
        if status.is_success() {
            return None;
        }
        Some(if status == StatusCode::TOO_MANY_REQUESTS {
            let reset = ctx
                .retry_after(&answer.headers)
                .unwrap_or_else(|| ctx.after(Duration::from_secs(1)));
            Failure::rate_limited(BUCKET, reset, describe(&call.label, status, body))
        } else {
            classify(&call.label, status, body)
        })
    }
}

impl ScimClient {
    /// `segments` under the base URL, each percent-encoded as one path segment (ids are the provider's),
    /// labelled `SCIM <app> <METHOD> /<segments>`.
    fn scim_call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Call, Failure> {
        let url = self.url_segments(segments, query)?;
        let label = format!(
            "SCIM {} {method} /{}",
            self.dialect().app,
            segments.join("/")
        );
        Ok(Call::new(method, url)
            .header(
                reqwest::header::ACCEPT,
                "application/scim+json, application/json",
            )
            .label(label))
    }

    /// One call; reads are retried on transport errors and 5xx, every call waits out a few 429s.
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Reply, Failure> {
        let mut call = self.scim_call(method, segments, query)?;
        if let Some(body) = body {
            call = call.body(Body::Raw {
                content_type: "application/scim+json",
                text: body.to_string(),
            });
        }
        if let Some(etag) = if_match {
            call = call.header(reqwest::header::IF_MATCH, etag);
        }
        let answer = self.request(&call).await?;
        let etag = answer
            .headers
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Reply {
            status: answer.status,
            etag,
            body: answer.body,
        })
    }

    pub async fn get(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Reply, Failure> {
        self.call(Method::GET, segments, query, None, None).await
    }

    /// Every resource under `endpoint` matching `filter`, following `startIndex`/`count` (RFC 7644 §3.4.2.4)
    /// until `totalResults` are read or a page comes back empty.
    pub async fn list(
        &self,
        endpoint: &str,
        filter: Option<&str>,
        on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let query: Vec<(&str, &str)> = filter.map(|f| ("filter", f)).into_iter().collect();
        let paging = Paging::Offset {
            start: "startIndex",
            size: "count",
            first: 1,
            page_size: self.dialect().page_size.into(),
            end: OffsetEnd::Total("/totalResults"),
        };
        let first = self.scim_call(Method::GET, &[endpoint], &query)?;
        self.list_all(first, paging, Items::Field("Resources"), on_page)
            .await
    }
}

fn scim_type(body: &Value) -> Option<String> {
    body.get("scimType")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `SCIM <app> <METHOD> /<path>: HTTP <status> <scimType>: <detail>`, the provider's words verbatim.
fn describe(label: &str, status: StatusCode, body: &Value) -> String {
    let mut out = format!("{label}: HTTP {}", status.as_u16());
    if let Some(t) = scim_type(body) {
        out.push_str(&format!(" {t}"));
    }
    if let Some(d) = body.get("detail").and_then(Value::as_str) {
        out.push_str(&format!(": {d}"));
    }
    out
}

/// A SCIM error as a failure: the `scimType` is the vendor code (the HTTP status when there is none).
fn classify(label: &str, status: StatusCode, body: &Value) -> Failure {
    let message = describe(label, status, body);
    let code = scim_type(body).unwrap_or_else(|| status.as_u16().to_string());
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Failure::Unauthorized {
            vendor_code: Some(code),
            message,
        },
        // Someone changed the resource between our read and write: read again, then decide.
        StatusCode::PRECONDITION_FAILED => Failure::RetryLater {
            at: None,
            vendor_code: Some(code),
            message,
        },
        s if s.is_server_error() => Failure::RetryLater {
            at: None,
            vendor_code: Some(code),
            message,
        },
        _ => Failure::Permanent {
            vendor_code: code,
            message,
            status: Some(status.as_u16()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scim_errors_keep_the_scim_type_and_detail_verbatim() {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
                          "scimType": "invalidValue", "detail": "member x is not a User"});
        let f = classify("app PATCH /Groups/g", StatusCode::BAD_REQUEST, &body);
        assert_eq!(f.code(), "invalidValue");
        assert!(matches!(
            f,
            Failure::Permanent {
                status: Some(400),
                ..
            }
        ));
        assert!(
            f.message()
                .ends_with("invalidValue: member x is not a User"),
            "{}",
            f.message()
        );
        let f = classify(
            "app GET /Users",
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "503"}),
        );
        assert!(f.is_transient());
        assert_eq!(f.code(), "503");
        let f = classify(
            "app PATCH /Groups/g",
            StatusCode::PRECONDITION_FAILED,
            &json!({"status": "412"}),
        );
        assert!(
            f.is_transient(),
            "a changed ETag is read again, not given up on"
        );
        let f = classify("app GET /Users", StatusCode::UNAUTHORIZED, &Value::Null);
        assert!(matches!(f, Failure::Unauthorized { .. }));
    }
}
