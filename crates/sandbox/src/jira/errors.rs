//! Jira's error body (`{"errorMessages": […], "errors": {…}}`) and the request helpers every handler shares.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::emulator::{Ctx, json_response};

#[derive(Debug, Clone, PartialEq)]
pub struct JiraError {
    pub status: StatusCode,
    pub messages: Vec<String>,
    pub errors: Map<String, Value>,
}

pub type JiraResult<T> = Result<T, JiraError>;

impl JiraError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            messages: vec![message.into()],
            errors: Map::new(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// A field error: `{"errorMessages": [], "errors": {"field": "message"}}`.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Map::new();
        errors.insert(field.to_owned(), Value::String(message.into()));
        Self {
            status: StatusCode::BAD_REQUEST,
            messages: Vec::new(),
            errors,
        }
    }

    pub fn project(key: &str) -> Self {
        Self::not_found(format!("No project could be found with key '{key}'."))
    }

    pub fn group() -> Self {
        Self::not_found("Specified group does not exist.")
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "You are not authenticated. Authentication required to perform this operation.",
        )
    }

    pub fn rate_limited() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded.")
    }

    pub fn server(status: StatusCode) -> Self {
        Self::new(
            status,
            status.canonical_reason().unwrap_or("Internal server error"),
        )
    }
}

impl IntoResponse for JiraError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &json!({ "errorMessages": self.messages, "errors": self.errors }),
        )
    }
}

/// The API root the request came in under (`http://host/rest/api/3`), for `self` links.
pub fn api_root(ctx: &Ctx) -> String {
    let version = ctx
        .path
        .strip_prefix("/rest/api/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("3");
    format!("{}/rest/api/{version}", ctx.base)
}

/// A JSON object body; an empty body is `{}`.
pub fn json_body(body: &Bytes) -> JiraResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JiraError::bad_request(
            "Unrecognized token: the request body is not a JSON object.",
        )),
    }
}

/// `startAt`/`maxResults` query parameters, with Jira's defaults.
pub fn page_params(ctx: &Ctx, default_max: usize) -> JiraResult<(usize, usize)> {
    let int = |name: &str, default: usize| -> JiraResult<usize> {
        match ctx.param(name) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                JiraError::bad_request(format!("The {name} parameter is not a number."))
            }),
        }
    };
    Ok((
        int("startAt", 0)?,
        int("maxResults", default_max)?.clamp(1, 1000),
    ))
}

/// A PageBean: `{self, nextPage, maxResults, startAt, total, isLast, values}`.
pub fn page_bean(ctx: &Ctx, items: Vec<Value>, start: usize, max: usize) -> Value {
    let total = items.len();
    let values: Vec<Value> = items.into_iter().skip(start).take(max).collect();
    let is_last = start + values.len() >= total;
    let link = |at: usize| {
        let mut query: Vec<(String, String)> = ctx
            .query
            .iter()
            .filter(|(k, _)| k != "startAt" && k != "maxResults")
            .cloned()
            .collect();
        query.push(("startAt".into(), at.to_string()));
        query.push(("maxResults".into(), max.to_string()));
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        format!("{}{}?{q}", ctx.base, ctx.path)
    };
    let mut bean = json!({
        "self": link(start),
        "maxResults": max,
        "startAt": start,
        "total": total,
        "isLast": is_last,
        "values": values,
    });
    if !is_last {
        bean["nextPage"] = Value::String(link(start + max));
    }
    bean
}
