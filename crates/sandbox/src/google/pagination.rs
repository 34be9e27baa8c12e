//! `maxResults` / `pageToken` paging with `nextPageToken` in the body, and reading the query string.

use serde_json::{Map, Value};

use super::errors::{GoogleError, GoogleResult};

/// The query string as pairs; Google clients also send `alt=json`, which changes nothing here.
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        Query(
            raw.map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// `maxResults` within `1..=max`; out of range is Google's `Invalid Input`.
    pub fn max_results(&self, default: usize, max: usize) -> GoogleResult<usize> {
        match self.get("maxResults") {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(GoogleError::invalid("maxResults")),
            },
        }
    }
}

/// The page after `token` and the token of the next page (of anything, so a handler turns only the page's
/// items into JSON). Tokens are opaque to clients; an unknown one is
/// `Invalid Input: pageToken`, as Google answers a stale or forged token.
pub fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
    size: usize,
) -> GoogleResult<(Vec<T>, Option<String>)> {
    let start = match token {
        None => 0,
        Some(t) => t
            .strip_prefix("sbx-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| GoogleError::invalid("pageToken"))?,
    };
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| format!("sbx-{end}"));
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}

/// A list body: `kind`, `etag`, the items under `field` (omitted when empty, as the real API does) and
/// `nextPageToken` when more remain.
pub fn list_body(kind: &str, field: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut body = Map::new();
    body.insert("kind".into(), Value::String(kind.into()));
    body.insert("etag".into(), Value::String("\"sandbox-list\"".into()));
    if !items.is_empty() {
        body.insert(field.into(), Value::Array(items));
    }
    if let Some(n) = next {
        body.insert("nextPageToken".into(), Value::String(n));
    }
    Value::Object(body)
}
