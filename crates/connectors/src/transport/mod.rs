//! The one HTTP transport every HTTP connector sends through. It owns the loop each call goes round: take a
//! place in the bucket's rate budget, add the credentials, send, wait out transient errors (only for calls
//! that are safe to repeat) and rate limits (only as long as [`TransportLimits::max_wait`] allows), record the
//! budget the answer announces, and classify the failure; and the paging loop of every listing.
//!
//! A system supplies a [`Dialect`]: its credentials (minted and minted again after a 401 where the system does
//! that), the bucket a call is charged to, where its budget headers are, and how its answers map to
//! [`Failure`]s. Paging is described per listing ([`Paging`], [`Items`]).
//!
//! Bounds that hold whatever a vendor answers: every wait inside a call is drawn from one
//! [`WaitBudget`]; every announced reset is kept within [`TransportLimits::max_reset`]; a listing stops
//! after [`MAX_PAGES`] pages or a next page equal to the last; redirects are followed only within the
//! origin; bodies are bounded; the per-attempt timeout covers the whole exchange.

mod announce;
pub mod grant;
mod limits;
mod paging;
mod wire;

pub use announce::{Ctx, number, text};
pub use limits::{TransportLimits, WaitBudget, until};
pub use paging::{Items, MAX_PAGES, OffsetEnd, Page, Paging, kind_of};
pub use wire::{
    Answer, Credentials, MAX_BODY_BYTES, Wire, base_url, check_scheme, json_or_text, onto_origin,
    origin, without_url,
};

use async_trait::async_trait;
use grantflow_model::{Clock, ConnectionName};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;
use std::borrow::Cow;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use crate::ratelimit::{Budget, BudgetHandle, Documented};
use crate::{BuildContext, Failure};

/// How often a call that is safe to repeat is tried again after a transport error or a transient answer.
pub const TRANSIENT_RETRIES: u32 = 3;

/// Redirects followed within one call, all on the origin the call went to.
pub const MAX_REDIRECTS: u32 = 5;

/// A body to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Empty,
    Json(Value),
    /// `application/x-www-form-urlencoded` pairs (Slack's Web API).
    Form(Vec<(String, String)>),
    /// Text with its own content type (`application/scim+json`).
    Raw {
        content_type: &'static str,
        text: String,
    },
}

/// One call as a connector asks for it; the transport adds the credentials.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub url: Url,
    pub body: Body,
    /// Headers besides the credentials (`Accept`, `If-Match`, API versions).
    pub headers: HeaderMap,
    /// Whether the call may be sent again after a transport error or a transient answer: a read. A write
    /// might have landed, so the engine observes before it is repeated.
    pub repeatable: bool,
    /// How messages name the call, e.g. `GET /api/v1/users` (never the query, which may carry emails).
    pub label: String,
}

impl Call {
    /// A call labelled `METHOD /path`, repeatable when it is a GET.
    pub fn new(method: Method, url: Url) -> Self {
        let label = format!("{method} {}", url.path());
        Self {
            repeatable: method == Method::GET,
            method,
            url,
            body: Body::Empty,
            headers: HeaderMap::new(),
            label,
        }
    }

    pub fn get(url: Url) -> Self {
        Self::new(Method::GET, url)
    }

    /// A call to a JSON API: `Accept: application/json`, and `body` as JSON when there is one.
    pub fn json_api(method: Method, url: Url, body: Option<Value>) -> Self {
        let call = Self::new(method, url).header(reqwest::header::ACCEPT, "application/json");
        match body {
            Some(body) => call.json(body),
            None => call,
        }
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// Adds a (non-secret) header; a value that is not a valid header is left out.
    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.insert(name, value);
        }
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn repeatable(mut self, repeatable: bool) -> Self {
        self.repeatable = repeatable;
        self
    }

    /// The same call at another URL (a next page).
    pub fn at(&self, url: Url) -> Self {
        Self {
            url,
            ..self.clone()
        }
    }

    /// A parameter's value: in a form body when the call has one, else in the query.
    pub fn param(&self, name: &str) -> Option<String> {
        match &self.body {
            Body::Form(pairs) => pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
            _ => self
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned()),
        }
    }

    /// Sets a parameter (replacing any of the same name): in a form body when the call has one, else in the
    /// query.
    pub fn set_param(&mut self, name: &str, value: &str) {
        if let Body::Form(pairs) = &mut self.body {
            pairs.retain(|(k, _)| k != name);
            pairs.push((name.to_string(), value.to_string()));
            return;
        }
        let kept: Vec<(String, String)> = self
            .url
            .query_pairs()
            .filter(|(k, _)| k != name)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut query = self.url.query_pairs_mut();
        query.clear().extend_pairs(kept).append_pair(name, value);
    }
}

tokio::task_local! {
    /// Set around calls made while a person waits for the answer (a request's live check): such a call never
    /// waits, for a rate-limit reset or a backoff; a call to a spent bucket is not sent, and a 429 is handed
    /// back at once, so the caller carries on without the answer instead of stalling for the reset.
    static WITHOUT_WAITING: ();
}

/// Runs `calls` so that no call in them waits (see [`WITHOUT_WAITING`]); a call that would have waited fails
/// with [`Failure::RateLimited`] or the transient failure it met.
pub async fn without_waiting<F: std::future::Future>(calls: F) -> F::Output {
    WITHOUT_WAITING.scope((), calls).await
}

pub(crate) fn waiting_allowed() -> bool {
    WITHOUT_WAITING.try_with(|()| ()).is_err()
}

tokio::task_local! {
    /// Set around a full sync's calls. [`TransportLimits::max_wait`] keeps an engine job's call inside its
    /// lease; a sync holds no lease, and a large tenant's sync outlasts a bucket's window by design (Okta's
    /// 100 calls a minute to `/api/v1/apps/*` for 500 apps), so each call may wait up to
    /// [`TransportLimits::max_reset`] for its bucket's reset instead of failing the whole sync at the first
    /// spent window.
    static PATIENT: ();
}

/// Runs `calls` so that each call may wait for its bucket's reset up to [`TransportLimits::max_reset`] (see
/// [`PATIENT`]). [`without_waiting`] inside or around it still wins.
pub async fn patiently<F: std::future::Future>(calls: F) -> F::Output {
    PATIENT.scope((), calls).await
}

fn patient() -> bool {
    PATIENT.try_with(|()| ()).is_ok()
}

/// What one system's HTTP API is like, as far as the transport cares.
#[async_trait]
pub trait Dialect: Send + Sync {
    /// The credential headers for `call`, minting a token first where the system uses minted tokens (the
    /// mint goes through `wire` without credentials).
    async fn credentials(
        &self,
        wire: &Wire,
        call: &Call,
        ctx: &Ctx<'_>,
    ) -> Result<Credentials, Failure>;

    /// After a 401: forgets a minted token, `true` when a new one may succeed (the call is then tried once
    /// more). A fixed credential cannot be renewed.
    async fn renew(&self) -> bool {
        false
    }

    /// Where the API is, from the configured base URL (`/api/` under Slack's, `services/data/vXX.X/` under
    /// Salesforce's); every call's URL and every next page stays on its origin.
    fn api_base(&self, base: Url) -> Result<Url, Failure> {
        Ok(base)
    }

    /// The rate-limit bucket `call` is charged to.
    fn bucket(&self, call: &Call) -> Cow<'static, str>;

    /// The budget `bucket` is documented to have when the system does not announce it in its answers
    /// (Slack's method tiers, GitHub's secondary limit): the connection paces itself by it from the first
    /// call instead of learning it from a 429.
    fn documented(&self, _bucket: &str) -> Option<Documented> {
        None
    }

    /// Buckets `call` is charged to besides [`Dialect::bucket`], each with a documented budget (GitHub's
    /// secondary limit on content-creating requests).
    fn also_charged(&self, _call: &Call) -> &'static [&'static str] {
        &[]
    }

    /// What an answer says about its bucket's budget, when the system announces one (Okta, GitHub, GitLab
    /// and Salesforce do; Google and Slack do not).
    fn budget(&self, _answer: &Answer, _ctx: &Ctx<'_>) -> Option<Budget> {
        None
    }

    /// The failure an answer stands for, in the system's own words; `None` for a success. A `RateLimited`
    /// is waited out (its reset permitting) and a `RetryLater` of a repeatable call is retried, by the
    /// transport; an `Unauthorized` is retried once when [`Dialect::renew`] says so.
    fn failure(&self, call: &Call, answer: &Answer, ctx: &Ctx<'_>) -> Option<Failure>;

    /// The message when a call is not sent because the bucket's budget is known to be spent.
    fn spent(&self, bucket: &str) -> String {
        format!("the {bucket} budget is spent until its reset")
    }
}

/// What a connection's settings say about its transport; each HTTP system's config implements it (most
/// with [`http_settings!`]).
pub trait HttpSettings {
    /// The configured base URL.
    fn base_url(&self) -> &str;
    /// Allows plain `http` to a host that is not loopback.
    fn allow_insecure_http(&self) -> bool;
    /// Per-attempt timeout (connect to last byte).
    fn timeout(&self) -> Duration;
    /// How many times one call may wait out a rate limit before reporting it to the engine; with 0, a call
    /// to a bucket known to be spent is not sent at all.
    fn max_rate_limit_waits(&self) -> u32;
}

/// The per-attempt timeout of a connection that names none.
pub fn default_timeout_seconds() -> u64 {
    30
}

/// How many rate-limit waits one call makes on a connection that names no number.
pub fn default_rate_limit_waits() -> u32 {
    5
}

/// Implements [`HttpSettings`] for a config with `base_url`, `allow_insecure_http`, `timeout_seconds` and
/// `max_rate_limit_waits` fields (or a function of the config giving the number of waits).
#[macro_export]
macro_rules! http_settings {
    ($config:ty) => {
        $crate::http_settings!($config, |config: &$config| config.max_rate_limit_waits);
    };
    ($config:ty, $waits:expr) => {
        impl $crate::transport::HttpSettings for $config {
            fn base_url(&self) -> &str {
                &self.base_url
            }
            fn allow_insecure_http(&self) -> bool {
                self.allow_insecure_http
            }
            fn timeout(&self) -> std::time::Duration {
                std::time::Duration::from_secs(self.timeout_seconds)
            }
            fn max_rate_limit_waits(&self) -> u32 {
                ($waits)(self)
            }
        }
    };
}
pub use http_settings;

/// One connection's transport: its client, its dialect and its budgets.
pub struct Transport<D> {
    system: &'static str,
    wire: Wire,
    dialect: D,
    budgets: BudgetHandle,
    clock: Arc<dyn Clock>,
    limits: TransportLimits,
    max_rate_limit_waits: u32,
}

impl<D: Dialect> Transport<D> {
    /// The transport of `connection` to `system` as `settings` configure it (its base URL checked by
    /// [`base_url`], then placed by [`Dialect::api_base`]), with the context's budgets, clock and limits;
    /// `extra_ca_pem` is trusted besides the system's roots.
    pub fn new(
        system: &'static str,
        dialect: D,
        settings: &impl HttpSettings,
        connection: &ConnectionName,
        context: &BuildContext,
        extra_ca_pem: Option<&[u8]>,
    ) -> Result<Self, Failure> {
        let base = base_url(system, settings.base_url(), settings.allow_insecure_http())?;
        let base = dialect.api_base(base)?;
        Ok(Self {
            system,
            wire: Wire::new(system, base, settings.timeout(), extra_ca_pem)?,
            dialect,
            budgets: context.budget_handle(connection),
            clock: context.clock.clone(),
            limits: context.limits,
            max_rate_limit_waits: settings.max_rate_limit_waits(),
        })
    }

    /// `path` (relative to the base URL, or absolute on its origin) with `query`.
    pub fn url_path(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, Failure> {
        let mut url = self.base().join(path).map_err(|error| {
            Failure::config(format!("bad {} path {path}: {error}", self.system))
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// The base URL plus `segments`, each percent-encoded as one path segment (an email's `@` or a group
    /// name's `/` stays inside its segment), with `query`.
    pub fn url_segments(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, Failure> {
        let mut url = self.base().clone();
        url.path_segments_mut()
            .map_err(|()| {
                Failure::config(format!(
                    "{} base_url {} cannot carry a path",
                    self.system,
                    self.base()
                ))
            })?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    pub fn base(&self) -> &Url {
        self.wire.base()
    }

    pub fn dialect(&self) -> &D {
        &self.dialect
    }

    pub fn budgets(&self) -> &BudgetHandle {
        &self.budgets
    }

    pub fn limits(&self) -> &TransportLimits {
        &self.limits
    }

    /// The injected clock's reading.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Sends one call: the successful answer, or the classified failure.
    pub async fn request(&self, call: &Call) -> Result<Answer, Failure> {
        let bucket = self.dialect.bucket(call);
        let (mut waits, max_rate_limit_waits) = if waiting_allowed() {
            let max_wait = if patient() {
                self.limits.max_wait.max(self.limits.max_reset)
            } else {
                self.limits.max_wait
            };
            (WaitBudget::new(max_wait), self.max_rate_limit_waits)
        } else {
            (WaitBudget::new(Duration::ZERO), 0)
        };
        let mut rate_limit_waits = 0;
        let mut transient_retries = 0;
        let mut redirects = 0;
        let mut renewed = false;
        let mut moved: Option<Call> = None;
        loop {
            let call = moved.as_ref().unwrap_or(call);
            if max_rate_limit_waits == 0 {
                self.budgets
                    .refuse_if_spent(&bucket, || self.dialect.spent(&bucket))?;
            }
            // The scarcer documented buckets first, so the call holds no place in its main bucket while it
            // waits for them. Each permit is held until the answer's budget is recorded.
            let mut _also = Vec::new();
            for also in self.dialect.also_charged(call) {
                if max_rate_limit_waits == 0 {
                    self.budgets
                        .refuse_if_spent(also, || self.dialect.spent(also))?;
                }
                _also.push(
                    self.budgets
                        .acquire_documented(also, self.dialect.documented(also), &mut waits, || {
                            self.dialect.spent(also)
                        })
                        .await?,
                );
            }
            let _permit = self
                .budgets
                .acquire_documented(
                    &bucket,
                    self.dialect.documented(&bucket),
                    &mut waits,
                    || self.dialect.spent(&bucket),
                )
                .await?;
            let ctx = Ctx::new(self.clock.now(), rate_limit_waits, &self.limits);
            let credentials = self.dialect.credentials(&self.wire, call, &ctx).await?;
            let failure = match self.wire.exchange(call, credentials).await {
                Ok(answer) => {
                    let ctx = Ctx::new(self.clock.now(), rate_limit_waits, &self.limits);
                    if let Some(budget) = self.dialect.budget(&answer, &ctx) {
                        self.budgets.record(&bucket, budget).await;
                    }
                    if answer.status.is_redirection() {
                        match follow(call, &answer) {
                            Ok(next) if redirects < MAX_REDIRECTS => {
                                redirects += 1;
                                moved = Some(next);
                                continue;
                            }
                            Ok(_) => redirected(call, &answer, "too many redirects"),
                            Err(failure) => failure,
                        }
                    } else {
                        match self.dialect.failure(call, &answer, &ctx) {
                            None => return Ok(answer),
                            Some(failure) => failure,
                        }
                    }
                }
                Err(failure) => failure,
            };
            if let Failure::RateLimited {
                reset,
                bucket: refused,
                ..
            } = &failure
            {
                // The connection's other calls to this bucket would meet the same refusal: they wait too.
                self.budgets.hold(&bucket, *reset);
                if refused.as_str() != bucket.as_ref()
                    && self.dialect.also_charged(call).contains(&refused.as_str())
                {
                    self.budgets.hold(refused, *reset);
                }
            }
            let again = match &failure {
                Failure::RateLimited { reset, bucket, .. }
                    if rate_limit_waits < max_rate_limit_waits =>
                {
                    // A little past the reset, so the call lands in the new window.
                    let wait = until(self.clock.now(), *reset) + Duration::from_millis(50);
                    let waited = waits.sleep(wait).await;
                    if waited {
                        rate_limit_waits += 1;
                        tracing::info!(message = "Rate limit reached; waited for the reset.", call = %call.label, bucket, ?wait);
                    }
                    waited
                }
                Failure::RetryLater { .. }
                    if call.repeatable && transient_retries < TRANSIENT_RETRIES =>
                {
                    let waited = waits.sleep(backoff(transient_retries + 1)).await;
                    transient_retries += u32::from(waited);
                    waited
                }
                Failure::Unauthorized { .. } if !renewed => {
                    renewed = true;
                    self.dialect.renew().await
                }
                _ => false,
            };
            if !again {
                return Err(failure);
            }
        }
    }

    /// Sends one call to a JSON API ([`Call::json_api`]).
    pub async fn send_json(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<Answer, Failure> {
        self.request(&Call::json_api(method, url, body)).await
    }

    /// Reads a listing page by page, handing each to `visit` until it breaks or the listing ends. The
    /// listing is an error when it pages past [`MAX_PAGES`] or a next page is the page just read.
    pub async fn each_page(
        &self,
        first: Call,
        paging: Paging,
        items: Items,
        mut visit: impl FnMut(Page<'_>) -> ControlFlow<()>,
    ) -> Result<(), Failure> {
        let mut call = paging.first(first);
        for _ in 0..MAX_PAGES {
            let mut answer = self.request(&call).await?;
            let page = items.take(&mut answer.body, &call.label)?;
            let read = page.len();
            let next = paging.next(self.wire.base(), &call, &answer, read)?;
            let flow = visit(Page {
                items: page,
                next: next.as_ref().map(|n| &n.url),
            });
            match next {
                _ if flow.is_break() => return Ok(()),
                None => return Ok(()),
                Some(next) if next.url == call.url && next.body == call.body => {
                    return Err(Failure::unexpected_response(
                        format!("{}: the next page is the page just read", call.label),
                        Some(answer.status.as_u16()),
                    ));
                }
                Some(next) => call = next,
            }
        }
        Err(Failure::retry_later(
            None,
            format!("{}: still paging after {MAX_PAGES} pages", call.label),
        ))
    }

    /// Every item of a listing; `on_page` hears the count read so far after each page.
    pub async fn list_all(
        &self,
        first: Call,
        paging: Paging,
        items: Items,
        mut on_page: impl FnMut(usize),
    ) -> Result<Vec<Value>, Failure> {
        let mut all = Vec::new();
        self.each_page(first, paging, items, |page| {
            all.extend(page.items);
            on_page(all.len());
            ControlFlow::Continue(())
        })
        .await?;
        Ok(all)
    }
}

/// The call a redirect leads to, when it may be followed: to the same origin, and either a read or a
/// redirect that keeps the method and body (307, 308). Anything else is a failure: a credential never
/// follows a redirect to another origin, and a write is never turned into a read.
fn follow(call: &Call, answer: &Answer) -> Result<Call, Failure> {
    let target = answer
        .headers
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| call.url.join(l).ok());
    let Some(target) = target else {
        return Err(redirected(call, answer, "to nowhere readable"));
    };
    if !wire::same_origin(&call.url, &target) {
        return Err(redirected(
            call,
            answer,
            &format!("to {}, another origin", origin(&target)),
        ));
    }
    let keeps_method = matches!(answer.status.as_u16(), 307 | 308);
    if call.method != Method::GET && !keeps_method {
        return Err(redirected(call, answer, "which would turn it into a GET"));
    }
    Ok(call.at(target))
}

/// A redirect that is not followed, as a permanent failure.
fn redirected(call: &Call, answer: &Answer, why: &str) -> Failure {
    Failure::permanent(
        "redirect",
        format!(
            "{} was redirected ({}) {why}; not followed",
            call.label,
            answer.status.as_u16()
        ),
        Some(answer.status.as_u16()),
    )
}

/// Exponential backoff with jitter from a 200 ms base.
pub fn backoff(attempt: u32) -> Duration {
    backoff_from(attempt, 200)
}

/// Exponential backoff with jitter from `base_ms`, capped at a minute.
pub fn backoff_from(attempt: u32, base_ms: u64) -> Duration {
    let base = base_ms.saturating_mul(1 << attempt.min(8)).min(60_000);
    Duration::from_millis(base + rand::random_range(0..=base / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(status: u16, location: &str) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::LOCATION, location.parse().expect("header"));
        Answer {
            status: reqwest::StatusCode::from_u16(status).expect("status"),
            headers,
            body: Value::Null,
        }
    }

    #[test]
    fn redirects_are_followed_only_within_the_origin_and_never_turn_a_write_into_a_read() {
        let url = Url::parse("http://127.0.0.1:9/api/v1/users?limit=1").expect("url");
        let read = Call::get(url.clone());
        let moved = follow(&read, &redirect(301, "/api/v1/people?limit=1")).expect("followed");
        assert_eq!(
            moved.url.as_str(),
            "http://127.0.0.1:9/api/v1/people?limit=1"
        );
        for elsewhere in [
            "http://127.0.0.2:9/x",
            "https://127.0.0.1:9/x",
            "http://127.0.0.1:10/x",
        ] {
            let failure = follow(&read, &redirect(302, elsewhere)).expect_err(elsewhere);
            assert!(failure.is_vendor_code("redirect"), "{failure:?}");
        }
        let write = Call::new(Method::POST, url);
        assert!(follow(&write, &redirect(302, "/api/v1/people")).is_err());
        assert!(follow(&write, &redirect(307, "/api/v1/people")).is_ok());
    }

    #[test]
    fn parameters_go_to_the_form_when_there_is_one_else_to_the_query() {
        let url = Url::parse("http://127.0.0.1:9/x?a=1&cursor=old").expect("url");
        let mut get = Call::get(url.clone());
        get.set_param("cursor", "new");
        assert_eq!(get.url.query(), Some("a=1&cursor=new"));
        assert_eq!(get.param("cursor").as_deref(), Some("new"));
        let mut post =
            Call::new(Method::POST, url).body(Body::Form(vec![("limit".into(), "2".into())]));
        post.set_param("cursor", "c2");
        assert_eq!(post.param("cursor").as_deref(), Some("c2"));
        assert_eq!(post.url.query(), Some("a=1&cursor=old"));
        assert!(!post.repeatable);
    }
}
