//! Cursor pagination: opaque `after`, `limit`, and `Link` headers with `rel="self"` / `rel="next"` as separate lines.

use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::Value;

use super::context::{Ctx, ok};

/// One page of `items` (already in cursor order) after `after`, plus the cursor for the next page if any remain.
pub fn page<T>(
    items: Vec<T>,
    after: Option<&str>,
    limit: usize,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let mut rest: Vec<T> = match after {
        Some(a) if !a.is_empty() => items.into_iter().filter(|i| key(i).as_str() > a).collect(),
        _ => items,
    };
    if rest.len() > limit {
        rest.truncate(limit);
        let next = rest.last().map(&key);
        (rest, next)
    } else {
        (rest, None)
    }
}

/// The request's own URL with `after` replaced (or removed), as Okta builds its links.
pub fn link_url(ctx: &Ctx, after: Option<&str>, limit: Option<usize>) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    let mut has_limit = false;
    for (k, v) in &ctx.query {
        match k.as_str() {
            "after" => {}
            "limit" => {
                has_limit = true;
                ser.append_pair(k, &limit.map(|l| l.to_string()).unwrap_or(v.clone()));
            }
            _ => {
                ser.append_pair(k, v);
            }
        }
    }
    if let (false, Some(l)) = (has_limit, limit) {
        ser.append_pair("limit", &l.to_string());
    }
    if let Some(a) = after {
        ser.append_pair("after", a);
    }
    let q = ser.finish();
    if q.is_empty() {
        ctx.url(&ctx.path)
    } else {
        format!("{}?{}", ctx.url(&ctx.path), q)
    }
}

pub fn add_links(resp: &mut Response, ctx: &Ctx, next: Option<&str>, limit: Option<usize>) {
    let self_url = link_url(ctx, ctx.param("after"), None);
    let mut lines = vec![format!("<{self_url}>; rel=\"self\"")];
    if let Some(n) = next {
        lines.push(format!("<{}>; rel=\"next\"", link_url(ctx, Some(n), limit)));
    }
    for l in lines {
        if let Ok(v) = HeaderValue::from_str(&l) {
            resp.headers_mut().append(header::LINK, v);
        }
    }
}

/// A JSON array response with its Link headers.
pub fn list_response(ctx: &Ctx, items: Vec<Value>, next: Option<&str>, limit: usize) -> Response {
    let mut resp = ok(&Value::Array(items));
    add_links(&mut resp, ctx, next, Some(limit));
    resp
}
