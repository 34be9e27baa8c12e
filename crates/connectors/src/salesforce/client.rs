//! Salesforce's REST API: Bearer session auth, SOQL with `nextRecordsUrl` paging, sObject calls, errors as
//! `[{message, errorCode, fields}]`, and the org's request budget from `Sforce-Limit-Info` (403
//! `REQUEST_LIMIT_EXCEEDED` once spent; Salesforce sends no 429).

use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

use super::SalesforceConfig;
use crate::Failure;
use crate::http;
use crate::ratelimit::RateBudgets;

/// The org's one budget (`DailyApiRequests`).
pub const API_BUCKET: &str = "api";

pub struct SalesforceClient {
    http: reqwest::Client,
    /// `https://instance/services/data/vXX.X/`.
    api: Url,
    token: SecretString,
    limit_retry: chrono::Duration,
    connection: String,
    budgets: Arc<RateBudgets>,
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

impl SalesforceClient {
    /// A client for the connection `config` describes; `extra_ca_pem` is the content of its `ca_certificate`.
    pub fn new(
        config: &SalesforceConfig,
        token: SecretString,
        extra_ca_pem: Option<&[u8]>,
        connection: &str,
        budgets: Arc<RateBudgets>,
    ) -> Result<Self, Failure> {
        let (base_url, api_version) = (config.base_url.as_str(), config.api_version.as_str());
        let timeout = Duration::from_secs(config.timeout_seconds);
        let limit_retry = Duration::from_secs(config.limit_retry_seconds);
        let base = http::base_url("salesforce", base_url)?;
        let api = base
            .join(&format!("services/data/v{api_version}/"))
            .map_err(|error| Failure::Config {
                message: format!("salesforce api_version {api_version:?}: {error}"),
            })?;
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("grantflow/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = extra_ca_pem {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|error| Failure::Config {
                    message: format!("salesforce ca_certificate is not a PEM certificate: {error}"),
                })?;
            if certs.is_empty() {
                return Err(Failure::Config {
                    message: "salesforce ca_certificate holds no PEM certificate".into(),
                });
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|error| Failure::Config {
            message: format!("cannot build the HTTP client: {error}"),
        })?;
        Ok(Self {
            http,
            api,
            token,
            limit_retry: chrono::Duration::from_std(limit_retry)
                .unwrap_or_else(|_| chrono::Duration::hours(1)),
            connection: connection.to_string(),
            budgets,
        })
    }

    pub fn api_url(&self) -> &Url {
        &self.api
    }

    fn url(&self, path: &str) -> Result<Url, Failure> {
        // `nextRecordsUrl` is an absolute path on the same instance; everything else is under the API root.
        let joined = if path.starts_with('/') {
            let mut url = self.api.clone();
            url.set_path(path.split('?').next().unwrap_or(path));
            url.set_query(path.split_once('?').map(|(_, q)| q));
            Ok(url)
        } else {
            self.api.join(path)
        };
        joined.map_err(|error| Failure::Config {
            message: format!("bad Salesforce path {path}: {error}"),
        })
    }

    /// Every record of a SOQL query, following `nextRecordsUrl`.
    pub async fn query(
        &self,
        soql: &str,
        mut on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let mut url = self.url("query/")?;
        url.query_pairs_mut().append_pair("q", soql);
        let mut records = Vec::new();
        let mut next = Some(url);
        while let Some(current) = next.take() {
            let body = self.send(Method::GET, current, None).await?;
            if let Some(Value::Array(page)) = body.get("records") {
                records.extend(page.iter().cloned());
            }
            on_page(records.len());
            let done = body.get("done").and_then(Value::as_bool).unwrap_or(true);
            if !done && let Some(path) = body.get("nextRecordsUrl").and_then(Value::as_str) {
                next = Some(self.url(path)?);
            }
        }
        Ok(records)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let url = self.url(path)?;
        self.send(method, url, body).await
    }

    async fn send(&self, method: Method, url: Url, body: Option<Value>) -> Result<Value, Failure> {
        let what = format!("Salesforce {method} {}", url.path());
        let repeatable = method == Method::GET;
        let mut transient_retries = 0;
        loop {
            self.budgets.refuse_if_spent(&self.connection, API_BUCKET)?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(self.token.expose_secret())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(body) = &body {
                request = request.json(body);
            }
            let Some((status, headers, body)) =
                http::exchange(request, repeatable, &mut transient_retries, &what).await?
            else {
                continue;
            };
            if let Some((used, limit)) = headers
                .get("sforce-limit-info")
                .and_then(|v| v.to_str().ok())
                .and_then(api_usage)
            {
                self.budgets
                    .record(
                        &self.connection,
                        API_BUCKET,
                        limit,
                        limit.saturating_sub(used),
                        chrono::Utc::now() + self.limit_retry,
                    )
                    .await;
            }
            if status.is_success() {
                return Ok(body);
            }
            let (code, message) = error_of(&body);
            let code = code.unwrap_or_else(|| status.as_u16().to_string());
            let described = format!("{what}: {code}: {message}");
            if code == "REQUEST_LIMIT_EXCEEDED" {
                return Err(Failure::RateLimited {
                    bucket: API_BUCKET.into(),
                    reset: chrono::Utc::now() + self.limit_retry,
                    message: format!("{code}: {message}"),
                });
            }
            if status.is_server_error() {
                if http::retry_transient(repeatable, &mut transient_retries).await {
                    continue;
                }
                return Err(Failure::RetryLater {
                    at: None,
                    vendor_code: Some(code),
                    message: described,
                });
            }
            if status == StatusCode::UNAUTHORIZED {
                return Err(Failure::Unauthorized {
                    vendor_code: Some(code),
                    message: described,
                });
            }
            return Err(Failure::Permanent {
                vendor_code: code,
                message: described,
                status: Some(status.as_u16()),
            });
        }
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
