//! How a listing continues from one page to the next, for every way the vendors page: a `Link` header
//! (Okta, GitHub, GitLab, OPA), a cursor in the body (Google's `nextPageToken`, Slack's `next_cursor`), an
//! offset (SCIM's `startIndex`/`count`, Jira's `startAt`/`maxResults`), a page number (Datadog's
//! `page`/`page_size`) and a next URL in the body (Salesforce's `nextRecordsUrl`); and where a page's items are.

use serde_json::Value;

use super::Call;
use super::wire::{Answer, next_link, onto_origin};
use crate::Failure;

/// How a listing pages.
#[derive(Debug, Clone, Copy)]
pub enum Paging {
    /// One page only.
    Single,
    /// `Link: <…>; rel="next"`, moved onto the configured origin.
    Link,
    /// A token in the body (at a JSON pointer) sent back as a parameter; absent or empty at the end.
    Cursor {
        token: &'static str,
        param: &'static str,
    },
    /// `start` and `size` parameters counting items from `first` (1 for SCIM, 0 for Jira).
    Offset {
        start: &'static str,
        size: &'static str,
        first: u64,
        page_size: u64,
        end: OffsetEnd,
    },
    /// A page number (`page`, counting from `first`) and a page size (`size`); the listing ends at a page
    /// shorter than `page_size`, as Datadog's monitors API has no total and no next link.
    Number {
        page: &'static str,
        size: &'static str,
        first: u64,
        page_size: u64,
    },
    /// A path or URL in the body (at a JSON pointer) to read next, while the `done` flag is false.
    NextUrl {
        url: &'static str,
        done: &'static str,
    },
}

/// When an offset listing ends, besides an empty page.
#[derive(Debug, Clone, Copy)]
pub enum OffsetEnd {
    /// When the items read reach the total at this pointer (SCIM's `/totalResults`; absent is 0).
    Total(&'static str),
    /// When an object page's flag at this pointer is true (Jira's `/isLast`; absent is true), or an array
    /// page is short.
    LastFlagOrShort(&'static str),
}

/// Where a page's items are.
#[derive(Debug, Clone, Copy)]
pub enum Items {
    /// The body is the array of items; anything else is an unexpected answer.
    Array,
    /// The array under this key (absent: no items; vendors omit empty arrays).
    Field(&'static str),
    /// An array body, or an object with the array under this key (Jira's plain lists and PageBeans).
    ArrayOrField(&'static str),
}

/// One page of a listing as it is read.
pub struct Page<'a> {
    pub items: Vec<Value>,
    /// The URL the next page is read from, if there is one.
    pub next: Option<&'a reqwest::Url>,
}

/// Pages a listing may take before it is taken to be looping (a vendor ignoring the paging parameters).
pub const MAX_PAGES: usize = 10_000;

impl Items {
    /// Takes the page's items out of `body`.
    pub fn take(self, body: &mut Value, label: &str) -> Result<Vec<Value>, Failure> {
        let field = match (self, &mut *body) {
            (Items::Array | Items::ArrayOrField(_), Value::Array(items)) => {
                return Ok(std::mem::take(items));
            }
            (Items::Field(key) | Items::ArrayOrField(key), Value::Object(map)) => map.remove(key),
            (Items::Field(_), _) => None,
            (_, other) => {
                return Err(Failure::unexpected_response(
                    format!("expected a JSON array from {label}, got {}", kind_of(other)),
                    None,
                ));
            }
        };
        match field {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(Failure::unexpected_response(
                format!(
                    "expected a list of items from {label}, got {}",
                    kind_of(&other)
                ),
                None,
            )),
        }
    }
}

impl Paging {
    /// The first call of a listing: an offset listing asks for its first page.
    pub fn first(&self, mut call: Call) -> Call {
        if let Paging::Offset {
            start,
            size,
            first,
            page_size,
            ..
        } = self
        {
            call.set_param(start, &first.to_string());
            call.set_param(size, &page_size.to_string());
        }
        if let Paging::Number {
            page,
            size,
            first,
            page_size,
        } = self
        {
            call.set_param(page, &first.to_string());
            call.set_param(size, &page_size.to_string());
        }
        call
    }

    /// The call that reads the page after `answer` (whose items, `read` of them, were taken out of its
    /// body), or `None` at the end. `base` is the origin every next page is read from.
    pub fn next(
        &self,
        base: &reqwest::Url,
        call: &Call,
        answer: &Answer,
        read: usize,
    ) -> Result<Option<Call>, Failure> {
        let unexpected = |what: String| {
            Failure::unexpected_response(
                format!("{}: {what}", call.label),
                Some(answer.status.as_u16()),
            )
        };
        let next = match *self {
            Paging::Single => None,
            Paging::Link => next_link(&answer.headers)
                .map_err(unexpected)?
                .map(|link| {
                    onto_origin(base, &call.url, &link)
                        .ok_or_else(|| unexpected(format!("a next link that is not a URL: {link}")))
                })
                .transpose()?
                .map(|url| call.at(url)),
            Paging::Cursor { token, param } => answer
                .body
                .pointer(token)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(|t| {
                    let mut next = call.clone();
                    next.set_param(param, t);
                    next
                }),
            Paging::Offset {
                start,
                size: _,
                first,
                page_size,
                end,
            } => {
                let current: u64 = call
                    .param(start)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(first);
                let read = read as u64;
                let after = current.saturating_add(read);
                let ended = read == 0
                    || match end {
                        OffsetEnd::Total(pointer) => {
                            let total = answer.body.pointer(pointer).and_then(Value::as_u64);
                            after.saturating_sub(first) >= total.unwrap_or(0)
                        }
                        OffsetEnd::LastFlagOrShort(pointer) => match &answer.body {
                            Value::Object(_) => answer
                                .body
                                .pointer(pointer)
                                .and_then(Value::as_bool)
                                .unwrap_or(true),
                            _ => read < page_size,
                        },
                    };
                (!ended).then(|| {
                    let mut next = call.clone();
                    next.set_param(start, &after.to_string());
                    next
                })
            }
            Paging::Number {
                page,
                size: _,
                first,
                page_size,
            } => {
                let current: u64 = call
                    .param(page)
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(first);
                ((read as u64) >= page_size && page_size > 0).then(|| {
                    let mut next = call.clone();
                    next.set_param(page, &current.saturating_add(1).to_string());
                    next
                })
            }
            Paging::NextUrl { url, done } => {
                let finished = answer
                    .body
                    .pointer(done)
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                match answer.body.pointer(url).and_then(Value::as_str) {
                    Some(link) if !finished => {
                        Some(call.at(onto_origin(base, &call.url, link).ok_or_else(|| {
                            unexpected(format!("a next page that is not a URL: {link}"))
                        })?))
                    }
                    _ => None,
                }
            }
        };
        Ok(next)
    }
}

pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Object(_) => "an object",
        Value::Array(_) => "an array",
        Value::String(_) => "text",
        _ => "a scalar",
    }
}
