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

/// One page of a list that is read from the cursor on (`rest`, in cursor order, past `after` already), plus
/// the cursor for the next page if any remain. Only the page's items (and one more) are drawn, so a page of
/// a tenant's 100,000 users costs what the page holds, not what the tenant holds.
pub fn page_from<T>(
    mut rest: impl Iterator<Item = T>,
    limit: usize,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let items: Vec<T> = rest.by_ref().take(limit).collect();
    let next = if items.len() == limit && rest.next().is_some() {
        items.last().map(&key)
    } else {
        None
    };
    (items, next)
}

/// The key range past an `after` cursor (all keys when there is none).
pub fn past(after: Option<&str>) -> (std::ops::Bound<&str>, std::ops::Bound<&str>) {
    use std::ops::Bound;
    match after {
        Some(a) if !a.is_empty() => (Bound::Excluded(a), Bound::Unbounded),
        _ => (Bound::Unbounded, Bound::Unbounded),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading from the cursor on gives the pages filtering the whole list gives, for every cursor and
    /// limit: a client walking the `next` links sees every item once, and the last page has no `next`.
    #[test]
    fn pages_read_from_the_cursor_match_the_whole_list() {
        let ids: std::collections::BTreeSet<String> =
            (0..23).map(|n| format!("00u{:03}", n * 7)).collect();
        let cursors = std::iter::once(None).chain(ids.iter().map(|i| Some(i.as_str())));
        for after in cursors.chain([Some("00u050"), Some("zzz"), Some("")]) {
            for limit in [1, 5, 22, 23, 200] {
                let whole = page(ids.iter().cloned().collect(), after, limit, String::clone);
                let from = page_from(
                    ids.range::<str, _>(past(after)).cloned(),
                    limit,
                    String::clone,
                );
                assert_eq!(from, whole, "after {after:?}, limit {limit}");
            }
        }
    }
}
