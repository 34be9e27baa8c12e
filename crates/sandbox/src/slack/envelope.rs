//! Slack's wire conventions: arguments from query, form or JSON body; the `ok`/`error` envelope (HTTP 200 even for
//! errors); and cursor pagination with `response_metadata.next_cursor` (`""` on the last page).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::emulator::{form_pairs, json_response};

/// A Slack `{"ok": false, "error": …}` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackError {
    pub status: StatusCode,
    pub error: &'static str,
    pub messages: Vec<String>,
}

pub type SlackResult = Result<Map<String, Value>, SlackError>;

impl SlackError {
    pub fn new(error: &'static str) -> Self {
        Self {
            status: StatusCode::OK,
            error,
            messages: Vec::new(),
        }
    }

    /// `invalid_arguments` with Slack's `[ERROR] …` message lines.
    pub fn missing(field: &str) -> Self {
        Self {
            messages: vec![format!("[ERROR] missing required field: {field}")],
            ..Self::new("invalid_arguments")
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn into_response(self) -> Response {
        let mut body = json!({ "ok": false, "error": self.error });
        if !self.messages.is_empty() {
            body["response_metadata"] = json!({ "messages": self.messages });
        }
        json_response(self.status, &body)
    }
}

pub fn ok_response(fields: Map<String, Value>) -> Response {
    let mut body = Map::new();
    body.insert("ok".into(), Value::Bool(true));
    body.extend(fields);
    json_response(StatusCode::OK, &Value::Object(body))
}

/// A method's arguments: query string, then form or JSON body (later sources win), plus how the token came.
#[derive(Debug, Default)]
pub struct Args {
    map: BTreeMap<String, String>,
    /// A JSON body's values as sent: `blocks` arrive as arrays there, but as JSON text in a form.
    raw: BTreeMap<String, Value>,
    pub json_body: bool,
}

impl Args {
    pub fn parse(
        query: Option<&str>,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Self, SlackError> {
        let mut map: BTreeMap<String, String> = query
            .map(form_pairs)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut json_body = false;
        let mut raw = BTreeMap::new();
        if !body.iter().all(u8::is_ascii_whitespace) {
            if content_type.starts_with("application/json") {
                json_body = true;
                let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
                    return Err(SlackError::new("invalid_json"));
                };
                for (k, v) in obj {
                    raw.insert(k.clone(), v.clone());
                    let text = match v {
                        Value::String(s) => s,
                        // `users: ["U1", "U2"]` is accepted as the comma list the form encoding uses.
                        Value::Array(items) => items
                            .iter()
                            .map(|i| {
                                i.as_str()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| i.to_string())
                            })
                            .collect::<Vec<_>>()
                            .join(","),
                        Value::Null => continue,
                        other => other.to_string(),
                    };
                    map.insert(k, text);
                }
            } else {
                map.extend(form_pairs(&String::from_utf8_lossy(body)));
            }
        }
        Ok(Self {
            map,
            raw,
            json_body,
        })
    }

    /// A structured argument (`blocks`, `attachments`, `metadata`): the value of a JSON body, or the JSON text
    /// of a form field. `Ok(None)` when left out; `Err(())` when the form's text is not JSON.
    pub fn json(&self, name: &str) -> Result<Option<Value>, ()> {
        if let Some(v) = self.raw.get(name) {
            return Ok(Some(v.clone()).filter(|v| !v.is_null()));
        }
        match self.get(name) {
            None => Ok(None),
            Some(text) => serde_json::from_str(text).map(Some).map_err(|_| ()),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, SlackError> {
        self.get(name).ok_or_else(|| SlackError::missing(name))
    }

    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1"))
    }
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let v = B64.iter().position(|x| *x == c)? as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(((bits >> count) & 0xff) as u8);
        }
    }
    Some(out)
}

/// Opaque cursors that look like Slack's (`dXNlcjpVMDY…`): base64 of `kind:last-id`.
pub fn cursor_for(kind: &str, last_id: &str) -> String {
    b64_encode(format!("{kind}:{last_id}").as_bytes())
}

/// One page after `cursor` (ids sort in creation order) and the next cursor, `""` at the end.
pub fn page(
    args: &Args,
    kind: &str,
    ids: Vec<String>,
    default_limit: usize,
) -> Result<(Vec<String>, String), SlackError> {
    let limit = match args.get("limit") {
        None => default_limit,
        Some(v) => match v.parse::<usize>() {
            Ok(0) => default_limit,
            Ok(n) if n <= 1000 => n,
            _ => return Err(SlackError::new("invalid_limit")),
        },
    };
    let after = match args.get("cursor") {
        None => None,
        Some(c) => {
            let text = b64_decode(c)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| SlackError::new("invalid_cursor"))?;
            let last = text
                .strip_prefix(kind)
                .and_then(|t| t.strip_prefix(':'))
                .ok_or_else(|| SlackError::new("invalid_cursor"))?;
            Some(last.to_owned())
        }
    };
    let rest: Vec<String> = ids
        .into_iter()
        .filter(|id| after.as_deref().is_none_or(|a| id.as_str() > a))
        .collect();
    if rest.len() > limit {
        let page: Vec<String> = rest.into_iter().take(limit).collect();
        let next = page.last().map(|l| cursor_for(kind, l)).unwrap_or_default();
        Ok((page, next))
    } else {
        Ok((rest, String::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_invalid() {
        let c = cursor_for("user", "U000000001");
        assert_eq!(
            b64_decode(&c)
                .and_then(|b| String::from_utf8(b).ok())
                .as_deref(),
            Some("user:U000000001")
        );
        let args = Args {
            map: [("cursor".to_owned(), "!!".to_owned())].into(),
            ..Args::default()
        };
        assert_eq!(
            page(&args, "user", vec![], 10).map(|_| ()),
            Err(SlackError::new("invalid_cursor"))
        );
    }
}
