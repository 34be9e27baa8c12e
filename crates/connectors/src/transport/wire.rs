//! The HTTP client and one exchange on it: base URLs that must be `https` outside loopback, no redirect
//! followed by the client (the transport follows those it may, within the origin, so a credential never
//! leaves it), no `Referer`, answers read whole but bounded, and transport errors told without the URL.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url, redirect};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

use super::{Body, Call};
use crate::Failure;

/// The largest answer read; a larger one is refused rather than held in memory.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Parses a configured base URL (ending it with `/`), naming the system when it is not one. Plain `http` is
/// refused outside loopback (127.0.0.0/8, ::1, localhost) unless the connection allows it: the credential
/// would cross the network in clear.
pub fn base_url(system: &str, text: &str, allow_insecure_http: bool) -> Result<Url, Failure> {
    let mut url = Url::parse(text).map_err(|error| {
        Failure::config(format!(
            "{system} base_url \"{text}\" is not a URL: {error}"
        ))
    })?;
    check_scheme(system, &url, allow_insecure_http)?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Refuses a URL that is neither `https` nor `http` on loopback (or allowed).
pub fn check_scheme(system: &str, url: &Url, allow_insecure_http: bool) -> Result<(), Failure> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback(url) => Ok(()),
        "http" => Err(Failure::config(format!(
            "{system} base_url {} is plain http to a host that is not loopback; use https, or set \
             allow_insecure_http: true on the connection",
            origin(url)
        ))),
        other => Err(Failure::config(format!(
            "{system} base_url {} has the scheme {other}; use https",
            origin(url)
        ))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// `scheme://host:port`, without path or query (which may carry names or emails).
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Whether two URLs share scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// A link a server returned (absolute, or relative to `current`), moved onto `base`'s origin: the credential
/// is never sent to a host a response named.
pub fn onto_origin(base: &Url, current: &Url, link: &str) -> Option<Url> {
    let parsed = current.join(link).ok()?;
    let mut url = base.clone();
    url.set_path(parsed.path());
    url.set_query(parsed.query());
    Some(url)
}

/// The `rel="next"` target among `Link` headers (one header with comma-separated entries, or several), read
/// with `parse_link_header`. A header that does not parse is an error: a listing must not end early.
pub fn next_link(headers: &HeaderMap) -> Result<Option<String>, String> {
    for value in headers.get_all(reqwest::header::LINK) {
        let text = value
            .to_str()
            .map_err(|_| "a Link header that is not text".to_string())?;
        let links = parse_link_header::parse(text)
            .map_err(|error| format!("a Link header that does not parse ({error})"))?;
        let next = links
            .into_iter()
            .find(|(rel, _)| {
                rel.as_deref()
                    .is_some_and(|r| r.split_whitespace().any(|r| r == "next"))
            })
            .map(|(_, link)| link.raw_uri);
        if next.is_some() {
            return Ok(next);
        }
    }
    Ok(None)
}

/// reqwest's errors name the URL, which may carry an email in its query; keep only the cause.
pub fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        "request error"
    };
    let mut source = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// Header values that carry a credential; marked sensitive so they never show in debug output.
#[derive(Default)]
pub struct Credentials(Vec<(HeaderName, HeaderValue)>);

impl Credentials {
    pub fn none() -> Self {
        Self::default()
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(token: &SecretString) -> Result<Self, Failure> {
        Self::scheme("Bearer", token)
    }

    /// `Authorization: <scheme> <token>` (Okta's `SSWS`).
    pub fn scheme(scheme: &str, token: &SecretString) -> Result<Self, Failure> {
        Self::header(
            reqwest::header::AUTHORIZATION,
            &format!("{scheme} {}", token.expose_secret()),
        )
    }

    /// `Authorization: Basic base64(user:password)`.
    pub fn basic(user: &SecretString, password: &SecretString) -> Result<Self, Failure> {
        use base64::Engine as _;
        let pair = format!("{}:{}", user.expose_secret(), password.expose_secret());
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        Self::header(reqwest::header::AUTHORIZATION, &format!("Basic {encoded}"))
    }

    /// A header of the vendor's own (GitLab's `PRIVATE-TOKEN`).
    pub fn header(name: HeaderName, value: &str) -> Result<Self, Failure> {
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            Failure::config(format!("the {name} credential is not a valid header value"))
        })?;
        value.set_sensitive(true);
        Ok(Self(vec![(name, value)]))
    }

    /// These credentials and one more header (Datadog's API key and application key go together).
    pub fn and_header(self, name: HeaderName, value: &str) -> Result<Self, Failure> {
        let Self(mut headers) = self;
        let Self(more) = Self::header(name, value)?;
        headers.extend(more);
        Ok(Self(headers))
    }
}

/// An answer read whole: status, headers and body (JSON; `Null` when empty; the text itself, as a JSON
/// string, when it is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// The HTTP client of one connection, with its base URL.
pub struct Wire {
    http: reqwest::Client,
    base: Url,
}

impl Wire {
    /// A client with grantflow's user agent and `timeout` for each attempt (connect to last byte), trusting
    /// `extra_ca_pem` besides the system's roots.
    pub fn new(
        system: &str,
        base: Url,
        timeout: Duration,
        extra_ca_pem: Option<&[u8]>,
    ) -> Result<Self, Failure> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("grantflow/", env!("CARGO_PKG_VERSION")))
            .referer(false)
            // reqwest would follow a redirect anywhere with every header but `Authorization`, and turn a
            // POST into a GET on a 301-303; the transport decides instead.
            .redirect(redirect::Policy::none());
        if let Some(pem) = extra_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|error| {
                Failure::config(format!(
                    "{system} ca_certificate is not a PEM certificate: {error}"
                ))
            })?;
            if certs.is_empty() {
                return Err(Failure::config(format!(
                    "{system} ca_certificate holds no PEM certificate"
                )));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|error| Failure::config(format!("cannot build the HTTP client: {error}")))?;
        Ok(Self { http, base })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Sends `call` once with `credentials` and reads the whole answer. A transport error or an answer that
    /// breaks off is `RetryLater` (whether the call took effect is unknown); an answer over
    /// [`MAX_BODY_BYTES`] is refused.
    pub async fn exchange(&self, call: &Call, credentials: Credentials) -> Result<Answer, Failure> {
        if !same_origin(&self.base, &call.url) {
            return Err(Failure::config(format!(
                "{}: refused to send a credential to {}, which is not the configured {}",
                call.label,
                origin(&call.url),
                origin(&self.base)
            )));
        }
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .headers(call.headers.clone());
        for (name, value) in credentials.0 {
            request = request.header(name, value);
        }
        request = match &call.body {
            Body::Empty => request,
            Body::Json(value) => request.json(value),
            Body::Form(pairs) => request.form(pairs),
            Body::Raw { content_type, text } => request
                .header(reqwest::header::CONTENT_TYPE, *content_type)
                .body(text.clone()),
        };
        let mut response = request.send().await.map_err(|error| {
            Failure::retry_later(
                None,
                format!("{} failed: {}", call.label, without_url(&error)),
            )
        })?;
        let (status, headers) = (response.status(), response.headers().clone());
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if bytes.len() + chunk.len() > MAX_BODY_BYTES => {
                    return Err(Failure::unexpected_response(
                        format!(
                            "{} answered more than {} MiB",
                            call.label,
                            MAX_BODY_BYTES / (1024 * 1024)
                        ),
                        Some(status.as_u16()),
                    ));
                }
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(error) => {
                    return Err(Failure::retry_later(
                        None,
                        format!("{} lost its answer: {}", call.label, without_url(&error)),
                    ));
                }
            }
        }
        Ok(Answer {
            status,
            headers,
            body: json_or_text(&bytes),
        })
    }
}

/// A body as JSON: `Null` when empty, the text itself (as a JSON string) when it is not JSON.
pub fn json_or_text(bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(bytes);
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_is_refused_outside_loopback_unless_allowed() {
        for loopback in [
            "http://127.0.0.1:9",
            "http://127.8.0.1/",
            "http://[::1]:9/x",
            "http://localhost:9",
            "https://example.com",
        ] {
            assert!(base_url("okta", loopback, false).is_ok(), "{loopback}");
        }
        for remote in ["http://example.com", "http://10.0.0.1:9", "ftp://127.0.0.1"] {
            assert!(
                matches!(base_url("okta", remote, false), Err(Failure::Config { .. })),
                "{remote}"
            );
        }
        assert!(base_url("okta", "http://example.com", true).is_ok());
        assert_eq!(
            base_url("jira", "https://x.example/a", false)
                .expect("url")
                .as_str(),
            "https://x.example/a/"
        );
    }

    #[test]
    fn links_are_found_among_one_or_several_headers_and_moved_onto_the_origin() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            "<http://x/api/v4/users?page=1&per_page=2>; rel=\"prev\", <http://x/api/v4/users?page=3&per_page=2>; rel=\"next\""
                .parse()
                .expect("header"),
        );
        assert_eq!(
            next_link(&headers).expect("parses").as_deref(),
            Some("http://x/api/v4/users?page=3&per_page=2")
        );
        let mut several = HeaderMap::new();
        several.append(
            "link",
            "<http://x/u?limit=2>; rel=\"self\"".parse().expect("h"),
        );
        several.append(
            "link",
            "<http://x/u?after=00u2&limit=2>; rel=\"next\""
                .parse()
                .expect("h"),
        );
        assert_eq!(
            next_link(&several).expect("parses").as_deref(),
            Some("http://x/u?after=00u2&limit=2")
        );
        assert_eq!(next_link(&HeaderMap::new()), Ok(None));
        let base = Url::parse("http://127.0.0.1:9/").expect("url");
        let moved = onto_origin(
            &base,
            &base,
            "https://elsewhere.example/api/v4/users?page=3",
        )
        .expect("url");
        assert_eq!(moved.as_str(), "http://127.0.0.1:9/api/v4/users?page=3");
        let relative =
            onto_origin(&base, &base.join("a/b").expect("url"), "/a/c?x=1").expect("url");
        assert_eq!(relative.as_str(), "http://127.0.0.1:9/a/c?x=1");
    }
}
