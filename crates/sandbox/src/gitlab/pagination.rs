//! GitLab's offset pagination: `page`/`per_page` (default 20, max 100) answered with `X-Page`, `X-Per-Page`,
//! `X-Total`, `X-Total-Pages`, `X-Next-Page`, `X-Prev-Page` and one `Link` header with absolute URLs.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::errors::{GitlabError, GitlabResult};
use crate::emulator::{Ctx, json_response, set_header};

fn page_params(ctx: &Ctx) -> GitlabResult<(usize, usize)> {
    let num = |name: &str, default: usize| -> GitlabResult<usize> {
        match ctx.param(name) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| GitlabError::param(format!("{name} is invalid"))),
        }
    };
    let page = num("page", 1)?.max(1);
    let per_page = num("per_page", 20)?.clamp(1, 100);
    Ok((page, per_page))
}

fn link(ctx: &Ctx, page: usize, per_page: usize) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &ctx.query {
        if k != "page" && k != "per_page" {
            ser.append_pair(k, v);
        }
    }
    ser.append_pair("page", &page.to_string());
    ser.append_pair("per_page", &per_page.to_string());
    format!("{}{}?{}", ctx.base, ctx.path, ser.finish())
}

/// One page of `items` with GitLab's headers.
pub fn paged(ctx: &Ctx, items: Vec<Value>) -> GitlabResult<Response> {
    let (page, per_page) = page_params(ctx)?;
    let total = items.len();
    let pages = total.div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut resp = json_response(StatusCode::OK, &Value::Array(slice));
    let next = (page < pages).then_some(page + 1);
    let prev = (page > 1).then(|| (page - 1).min(pages));
    let opt = |p: Option<usize>| p.map(|p| p.to_string()).unwrap_or_default();
    set_header(&mut resp, "x-page", &page.to_string());
    set_header(&mut resp, "x-per-page", &per_page.to_string());
    set_header(&mut resp, "x-total", &total.to_string());
    set_header(&mut resp, "x-total-pages", &pages.to_string());
    set_header(&mut resp, "x-next-page", &opt(next));
    set_header(&mut resp, "x-prev-page", &opt(prev));
    let mut links = Vec::new();
    if let Some(p) = prev {
        links.push(format!("<{}>; rel=\"prev\"", link(ctx, p, per_page)));
    }
    if let Some(n) = next {
        links.push(format!("<{}>; rel=\"next\"", link(ctx, n, per_page)));
    }
    links.push(format!("<{}>; rel=\"first\"", link(ctx, 1, per_page)));
    links.push(format!("<{}>; rel=\"last\"", link(ctx, pages, per_page)));
    set_header(&mut resp, "link", &links.join(", "));
    Ok(resp)
}
