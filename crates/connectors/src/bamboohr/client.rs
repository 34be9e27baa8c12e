//! BambooHR's API dialect: HTTP Basic with the API key as the user name and `x` as the password,
//! `Accept: application/json` on every call (BambooHR answers XML otherwise), errors explained in the
//! `X-BambooHR-Error-Message` header, and rate limits answered with 429 and a `Retry-After` (503 before
//! September 2026, and still "temporarily unavailable" today, retried as such).
//!
//! The calls: the employee directory (`GET /api/v1/employees/directory`), one employee's fields
//! (`GET /api/v1/employees/{id}?fields=…`) and the change feed (`GET /api/v1/employees/changed?since=…`),
//! whose `employees` is an object keyed by employee id, not an array.

use async_trait::async_trait;
use grantflow_model::ConnectionName;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::Value;
use std::borrow::Cow;
use std::time::Duration;

use crate::Failure;
use crate::transport::{Answer, Call, Credentials, Ctx, Dialect, Items, Transport, Wire, text};

/// BambooHR publishes no per-endpoint limits: one bucket for the API key.
pub const API_BUCKET: &str = "api";

/// The employee fields grantflow reads, by BambooHR's field names (the classic names, which `fields=`
/// accepts beside the OpenAPI aliases `jobTitleName` and `reportsToId`).
pub const FIELDS: &[&str] = &[
    "employeeNumber",
    "firstName",
    "lastName",
    "preferredName",
    "displayName",
    "workEmail",
    "status",
    "employmentStatus",
    "hireDate",
    "terminationDate",
    "department",
    "division",
    "jobTitle",
    "location",
    "supervisorEId",
    "supervisor",
];

const DIRECTORY: &str = "api/v1/employees/directory";
const CHANGED: &str = "api/v1/employees/changed";

/// BambooHR's client: the shared transport with BambooHR's dialect.
pub type BamboohrClient = Transport<BamboohrDialect>;

pub struct BamboohrDialect {
    pub(super) connection: ConnectionName,
    pub(super) api_key: SecretString,
}

/// What BambooHR said about a failure: its `X-BambooHR-Error-Message` header, else a text or JSON body's
/// message.
pub fn error_text(answer: &Answer) -> String {
    if let Some(said) = text(&answer.headers, "x-bamboohr-error-message") {
        let said = said.trim();
        if !said.is_empty() {
            return said.to_string();
        }
    }
    match &answer.body {
        Value::String(t) => t.trim().chars().take(300).collect(),
        Value::Object(map) => map
            .get("message")
            .or_else(|| map.get("error"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    }
}

#[async_trait]
impl Dialect for BamboohrDialect {
    async fn credentials(&self, _: &Wire, _: &Call, _: &Ctx<'_>) -> Result<Credentials, Failure> {
        // The password is ignored by BambooHR; its SDK sends "x".
        Credentials::basic(&self.api_key, &SecretString::from("x"))
    }

    fn bucket(&self, _: &Call) -> Cow<'static, str> {
        Cow::Borrowed(API_BUCKET)
    }

    fn spent(&self, bucket: &str) -> String {
        format!(
            "connection {}: BambooHR's {bucket} rate limit is spent until its Retry-After",
            self.connection
        )
    }

    fn failure(&self, call: &Call, answer: &Answer, ctx: &Ctx<'_>) -> Option<Failure> {
        let status = answer.status;
        if status.is_success() {
            return None;
        }
        let said = match error_text(answer) {
            m if m.is_empty() => format!("HTTP {status}"),
            m => format!("HTTP {status}: {m}"),
        };
        let code = status.as_u16().to_string();
        let connection = &self.connection;
        let label = &call.label;
        Some(if status == StatusCode::TOO_MANY_REQUESTS {
            let reset = ctx
                .retry_after(&answer.headers)
                .unwrap_or_else(|| ctx.after(Duration::from_secs(1)));
            Failure::rate_limited(
                API_BUCKET,
                reset,
                format!("connection {connection}: {label} answered {said}"),
            )
        } else if status.is_server_error() {
            Failure::RetryLater {
                at: ctx.retry_after(&answer.headers),
                vendor_code: Some(code),
                message: format!("connection {connection}: {label} answered {said}"),
            }
        } else if status == StatusCode::UNAUTHORIZED {
            Failure::unauthorized(
                Some(code),
                format!(
                    "connection {connection}: {label} answered {said}: the API key is missing or was refused"
                ),
            )
        } else if status == StatusCode::FORBIDDEN {
            Failure::unauthorized(
                Some(code),
                format!(
                    "connection {connection}: {label} answered {said}: the API key's user may not read this (or the directory is not shared)"
                ),
            )
        } else {
            Failure::permanent(
                code,
                format!("connection {connection}: {label} answered {said}"),
                Some(status.as_u16()),
            )
        })
    }
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: String,
    /// `Inserted`, `Updated` or `Deleted`, as BambooHR wrote it.
    pub action: String,
}

/// The change feed's answer: what changed, and the moment to ask from next time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    pub latest: Option<String>,
    pub changes: Vec<Change>,
}

impl BamboohrClient {
    fn call(&self, path: &str, query: &[(&str, &str)], label: &str) -> Result<Call, Failure> {
        let url = self.url_path(path, query)?;
        Ok(Call::json_api(Method::GET, url, None).label(format!("BambooHR GET /{label}")))
    }

    /// The employee directory, current and former (`onlyCurrent=false`). BambooHR answers 404 when it is
    /// empty, which is an empty directory here.
    pub async fn directory(&self) -> Result<Vec<Value>, Failure> {
        let call = self.call(DIRECTORY, &[("onlyCurrent", "false")], DIRECTORY)?;
        match self.request(&call).await {
            Ok(mut answer) => Items::Field("employees").take(&mut answer.body, &call.label),
            Err(Failure::Permanent {
                status: Some(404), ..
            }) => Ok(Vec::new()),
            Err(failure) => Err(failure),
        }
    }

    /// One employee's [`FIELDS`], whether current or not; `None` when BambooHR does not know the id.
    pub async fn employee(&self, id: &str) -> Result<Option<Value>, Failure> {
        let fields = FIELDS.join(",");
        let url = self.url_segments(
            &["api", "v1", "employees", id],
            &[("fields", &fields), ("onlyCurrent", "false")],
        )?;
        let call = Call::json_api(Method::GET, url, None)
            .label("BambooHR GET /api/v1/employees/{id}".to_string());
        match self.request(&call).await {
            Ok(answer) if answer.body.is_object() => Ok(Some(answer.body)),
            Ok(answer) => Err(Failure::unexpected_response(
                format!(
                    "connection {}: {} answered something that is not an employee",
                    self.dialect().connection,
                    call.label
                ),
                Some(answer.status.as_u16()),
            )),
            Err(Failure::Permanent {
                status: Some(404), ..
            }) => Ok(None),
            Err(failure) => Err(failure),
        }
    }

    /// Employees inserted, updated or deleted since `since` (ISO 8601). The feed is an object keyed by
    /// employee id; an array is read too.
    pub async fn changed(&self, since: &str) -> Result<Changes, Failure> {
        let call = self.call(CHANGED, &[("since", since), ("type", "all")], CHANGED)?;
        let answer = self.request(&call).await?;
        let latest = answer
            .body
            .get("latest")
            .and_then(Value::as_str)
            .map(str::to_string);
        let entries: Vec<(String, &Value)> = match answer.body.get("employees") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
            Some(Value::Array(items)) => {
                items.iter().filter_map(|v| Some((id_of(v)?, v))).collect()
            }
            Some(_) => {
                return Err(Failure::unexpected_response(
                    format!(
                        "connection {}: {} answered employees that are neither an object nor a list",
                        self.dialect().connection,
                        call.label
                    ),
                    Some(answer.status.as_u16()),
                ));
            }
        };
        let changes = entries
            .into_iter()
            .map(|(key, entry)| Change {
                id: id_of(entry).unwrap_or(key),
                action: entry
                    .get("action")
                    .and_then(Value::as_str)
                    .unwrap_or("Updated")
                    .to_string(),
            })
            .collect();
        Ok(Changes { latest, changes })
    }
}

/// An employee id as text: BambooHR writes it as a string, some answers as a number.
pub fn id_of(value: &Value) -> Option<String> {
    match value.get("id")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};
    use serde_json::json;

    #[test]
    fn the_error_header_is_preferred_to_the_body() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-bamboohr-error-message",
            HeaderValue::from_static("Invalid field: favouriteColour"),
        );
        let answer = Answer {
            status: StatusCode::BAD_REQUEST,
            headers,
            body: json!("<html>Bad Request</html>"),
        };
        assert_eq!(error_text(&answer), "Invalid field: favouriteColour");
        let bare = Answer {
            status: StatusCode::BAD_GATEWAY,
            headers: HeaderMap::new(),
            body: json!("Bad Gateway\n"),
        };
        assert_eq!(error_text(&bare), "Bad Gateway");
        assert_eq!(id_of(&json!({"id": 7})).as_deref(), Some("7"));
        assert_eq!(id_of(&json!({"id": " 41 "})).as_deref(), Some("41"));
        assert_eq!(id_of(&json!({"id": ""})), None);
    }
}
