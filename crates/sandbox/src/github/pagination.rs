//! Request context (absolute base URL from Host, query) and `per_page`/`page` paging with `Link` headers.

use axum::extract::FromRequestParts;
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::errors::{GithubError, GithubResult};

/// What handlers need from the request besides path and body.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `http://host:port` from the Host header: PyGithub follows `url` fields and `Link`s and asserts they
    /// stay on the host and port it was given.
    pub base: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub accept: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = GithubError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let text = |name: header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let host = text(header::HOST);
        let host = if !host.is_empty() && host.chars().all(|c| c.is_ascii_graphic()) {
            host
        } else {
            "127.0.0.1".to_owned()
        };
        Ok(Ctx {
            base: format!("http://{host}"),
            path: parts.uri.path().to_owned(),
            query: parts
                .uri
                .query()
                .map(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .into_owned()
                        .collect()
                })
                .unwrap_or_default(),
            accept: text(header::ACCEPT),
        })
    }
}

impl Ctx {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn page_url(&self, page: usize) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.query.iter().filter(|(k, _)| k != "page") {
            ser.append_pair(k, v);
        }
        ser.append_pair("page", &page.to_string());
        format!("{}{}?{}", self.base, self.path, ser.finish())
    }
}

pub fn json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

pub fn ok(body: &Value) -> Response {
    json(StatusCode::OK, body)
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// One page of `items` as a JSON array, with `Link` rel next/prev/first/last as GitHub sends them
/// (one header, comma-separated, absolute URLs).
pub fn paged(ctx: &Ctx, items: Vec<Value>) -> GithubResult<Response> {
    paged_with(ctx, items, Value::clone)
}

/// [`paged`], turning only the page's items into JSON: a list of 20,000 members read 100 at a time would
/// otherwise build every member's JSON for each of its 200 pages.
pub fn paged_with<T>(
    ctx: &Ctx,
    items: Vec<T>,
    to_json: impl Fn(&T) -> Value,
) -> GithubResult<Response> {
    let per_page = match ctx.param("per_page") {
        None => 30,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| GithubError::validation("", "per_page", "invalid"))?
            .clamp(1, 100),
    };
    let page = match ctx.param("page") {
        None => 1,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| GithubError::validation("", "page", "invalid"))?
            .max(1),
    };
    let last = items.len().div_ceil(per_page).max(1);
    let start = ((page - 1) * per_page).min(items.len());
    let end = (start + per_page).min(items.len());
    let mut resp = ok(&Value::Array(
        items[start..end].iter().map(to_json).collect(),
    ));
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!(
            "<{}>; rel=\"prev\"",
            ctx.page_url((page - 1).min(last))
        ));
    }
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", ctx.page_url(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", ctx.page_url(last)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"first\"", ctx.page_url(1)));
    }
    if !links.is_empty()
        && let Ok(v) = HeaderValue::from_str(&links.join(", "))
    {
        resp.headers_mut().insert(header::LINK, v);
    }
    Ok(resp)
}
