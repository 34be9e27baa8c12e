//! SCIM 2.0 over HTTP (RFC 7644): Bearer auth, `startIndex`/`count` pagination, ETags, the SCIM error body
//! (`status`, `scimType`, `detail`), 429 + `Retry-After` (RFC 6585; SCIM itself defines no rate limits) and
//! 5xx, turned into classified `Failure`s.

use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::Duration;

use crate::Failure;
use crate::http;

/// The one bucket a SCIM provider's limit is tracked under: SCIM names none.
pub const BUCKET: &str = "scim";

/// Pages a listing may take before it is taken to be looping (a provider ignoring `startIndex`).
const MAX_PAGES: usize = 10_000;

/// A successful answer: its status, `ETag` and JSON body (`Null` for 204).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub body: Value,
}

pub struct ScimClient {
    http: reqwest::Client,
    base: Url,
    token: SecretString,
    /// The app's name in messages.
    app: String,
    page_size: u32,
    max_rate_limit_waits: u32,
}

impl ScimClient {
    pub fn new(
        app: String,
        base_url: &str,
        token: SecretString,
        timeout: Duration,
        page_size: u32,
        max_rate_limit_waits: u32,
    ) -> Result<Self, Failure> {
        let mut base = http::base_url("scim", base_url)?;
        // A bare origin (what `grantflow init --sandbox` writes) means the conventional `/scim/v2`.
        if base.path() == "/" {
            base.set_path("/scim/v2/");
        }
        Ok(Self {
            http: http::client(timeout)?,
            base,
            token,
            app,
            page_size: page_size.max(1),
            max_rate_limit_waits,
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `segments` under the base URL, each percent-encoded as one path segment (ids are the provider's).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
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
        let url = self.url(segments);
        let what = format!("{} {method} /{}", self.app, segments.join("/"));
        let label = format!("SCIM {what}");
        let is_read = method == Method::GET;
        let mut rate_limit_waits = 0;
        let mut transient_retries = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(self.token.expose_secret())
                .header(
                    reqwest::header::ACCEPT,
                    "application/scim+json, application/json",
                )
                .query(query);
            if let Some(body) = body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/scim+json")
                    .body(body.to_string());
            }
            if let Some(etag) = if_match {
                request = request.header(reqwest::header::IF_MATCH, etag);
            }
            let Some((status, headers, body)) =
                http::exchange_json(request, is_read, &mut transient_retries, &label).await?
            else {
                continue;
            };
            if status.is_success() {
                let etag = headers
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                return Ok(Reply { status, etag, body });
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                let reset = http::retry_at(&headers, None);
                if rate_limit_waits < self.max_rate_limit_waits {
                    rate_limit_waits += 1;
                    tracing::info!(message = "SCIM rate limit reached; waiting.", app = %self.app, %reset);
                    http::sleep_until(reset).await;
                    continue;
                }
                return Err(Failure::RateLimited {
                    bucket: BUCKET.into(),
                    reset,
                    message: describe(&what, status, &body),
                });
            }
            if status.is_server_error()
                && http::retry_transient(is_read, &mut transient_retries).await
            {
                continue;
            }
            return Err(classify(&what, status, &body));
        }
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
        mut on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let mut items: Vec<Value> = Vec::new();
        let mut start = 1usize;
        let count = self.page_size.to_string();
        for _ in 0..MAX_PAGES {
            let start_text = start.to_string();
            let mut query = vec![
                ("startIndex", start_text.as_str()),
                ("count", count.as_str()),
            ];
            if let Some(f) = filter {
                query.push(("filter", f));
            }
            let page = self.get(&[endpoint], &query).await?.body;
            let resources: Vec<Value> = page
                .get("Resources")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let total = page
                .get("totalResults")
                .and_then(Value::as_u64)
                .and_then(|t| usize::try_from(t).ok())
                .unwrap_or(0);
            let read = resources.len();
            items.extend(resources);
            on_page(items.len());
            if read == 0 || start - 1 + read >= total {
                return Ok(items);
            }
            start += read;
        }
        Err(Failure::RetryLater {
            at: None,
            vendor_code: None,
            message: format!(
                "SCIM {} /{endpoint}: still paging after {MAX_PAGES} pages",
                self.app
            ),
        })
    }
}

fn scim_type(body: &Value) -> Option<String> {
    body.get("scimType")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `SCIM <app> <METHOD> /<path>: HTTP <status> <scimType>: <detail>`, the provider's words verbatim.
fn describe(what: &str, status: StatusCode, body: &Value) -> String {
    let mut out = format!("SCIM {what}: HTTP {}", status.as_u16());
    if let Some(t) = scim_type(body) {
        out.push_str(&format!(" {t}"));
    }
    if let Some(d) = body.get("detail").and_then(Value::as_str) {
        out.push_str(&format!(": {d}"));
    }
    out
}

/// A SCIM error as a failure: the `scimType` is the vendor code (the HTTP status when there is none).
fn classify(what: &str, status: StatusCode, body: &Value) -> Failure {
    let message = describe(what, status, body);
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
