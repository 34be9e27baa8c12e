//! GitHub's REST dialect: token auth, `Link` pagination, `x-ratelimit-*` budgets, the primary and secondary
//! limits (403/429, `Retry-After`), and GitHub's error body turned into a classified `Failure`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode, Url, header::HeaderMap};
use secrecy::SecretString;
use serde_json::Value;
use std::borrow::Cow;
use std::ops::ControlFlow;
use std::time::Duration;

use crate::Failure;
use crate::ratelimit::{Budget, Documented};
use crate::transport::{
    Answer, Call, Credentials, Ctx, Dialect, Items, Paging, Transport, Wire, number,
};

/// The REST budget every call here is charged to.
pub const CORE: &str = "core";
/// Content-creating requests are also held to GitHub's secondary limit.
pub const SECONDARY: &str = "secondary";

/// The hourly side of the secondary limit on content-creating requests.
pub const SECONDARY_HOURLY: &str = "secondary:hourly";

/// The secondary limit's points of reads, per REST endpoint (see [`read_points_bucket`]).
pub const POINTS_ORG_MEMBERS: &str = "points:org-members";
pub const POINTS_TEAM_MEMBERS: &str = "points:team-members";
pub const POINTS_TEAM_REPOS: &str = "points:team-repos";
pub const POINTS_TEAM_MEMBERSHIP: &str = "points:team-membership";
pub const POINTS_TEAM_REPO: &str = "points:team-repo";
pub const POINTS_USER: &str = "points:user";
/// Every other read, counted together (fewer calls allowed than GitHub allows, never more).
pub const POINTS_OTHER: &str = "points:other";

/// Points a minute GitHub allows one REST endpoint; a GET costs one.
pub const POINTS_PER_MINUTE: u64 = 900;

/// GitHub documents its secondary limits but announces only the primary budget in its headers
/// (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits):
/// "in general, no more than 80 content-generating requests per minute and no more than 500
/// content-generating requests per hour", and "no more than 900 points per minute are allowed for REST API
/// endpoints" (per endpoint; most GETs are 1 point, most writes 5, and writes are held to the 80 a minute).
pub fn documented_budget(bucket: &str) -> Option<Documented> {
    match bucket {
        SECONDARY => Some(Documented::per_minute(80)),
        SECONDARY_HOURLY => Some(Documented::per_hour(500)),
        points if points.starts_with("points:") => Some(Documented::per_minute(POINTS_PER_MINUTE)),
        _ => None,
    }
}

/// The endpoint a read is charged to for the secondary limit's points. The primary budget (5,000 an hour)
/// allows a burst of 5,000 reads when a window opens, far beyond 900 a minute to one endpoint: a full sync
/// reads mostly team member lists. Matched on the path's end, so a GitHub Enterprise Server prefix
/// (`/api/v3`) does not matter.
pub fn read_points_bucket(url: &Url) -> &'static str {
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    match segments.as_slice() {
        [.., "orgs", _, "members"] => POINTS_ORG_MEMBERS,
        [.., "orgs", _, "teams", _, "members"] => POINTS_TEAM_MEMBERS,
        [.., "orgs", _, "teams", _, "repos"] => POINTS_TEAM_REPOS,
        [.., "orgs", _, "teams", _, "memberships", _] => POINTS_TEAM_MEMBERSHIP,
        [.., "orgs", _, "teams", _, "repos", _, _] => POINTS_TEAM_REPO,
        [.., "users", _] => POINTS_USER,
        _ => POINTS_OTHER,
    }
}

/// Content-creating requests, for the secondary limit: every call that is not a read.
fn creates_content(call: &Call) -> bool {
    !matches!(call.method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Asks for the repository (with `permissions` and `role_name`) when checking a team's repository.
pub const REPOSITORY_JSON: &str = "application/vnd.github.v3.repository+json";

/// How long a secondary limit without `Retry-After` is waited out (GitHub's docs: at least a minute).
const SECONDARY_WAIT: Duration = Duration::from_secs(60);

/// GitHub's client: the shared transport with GitHub's dialect.
pub type GithubClient = Transport<GithubDialect>;

pub struct GithubDialect {
    pub(super) token: SecretString,
}

/// GitHub's error: `message`, and the first `errors[].code` when validation failed.
pub fn github_error(body: &Value) -> (Option<String>, String) {
    let code = body
        .pointer("/errors/0/code")
        .and_then(Value::as_str)
        .map(str::to_string);
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    (code, message)
}

/// How a 403/429 is to be waited out, if it is a rate limit at all (GitHub docs, "Rate limits for the REST
/// API": Retry-After first, then a spent budget's reset, then a minute for a secondary limit; a 429 is always
/// a limit).
fn rate_limit_wait(
    status: StatusCode,
    headers: &HeaderMap,
    message: &str,
    ctx: &Ctx<'_>,
) -> Option<(&'static str, DateTime<Utc>)> {
    if let Some(at) = ctx.retry_after(headers) {
        return Some((SECONDARY, at));
    }
    if number(headers, "x-ratelimit-remaining") == Some(0) {
        let reset = ctx.epoch(headers, "x-ratelimit-reset");
        return Some((CORE, reset.unwrap_or_else(|| ctx.after(SECONDARY_WAIT))));
    }
    let lower = message.to_lowercase();
    if lower.contains("secondary rate limit")
        || lower.starts_with("api rate limit exceeded")
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        return Some((SECONDARY, ctx.after(SECONDARY_WAIT)));
    }
    None
}

#[async_trait]
impl Dialect for GithubDialect {
    async fn credentials(&self, _: &Wire, _: &Call, _: &Ctx<'_>) -> Result<Credentials, Failure> {
        Credentials::bearer(&self.token)
    }

    /// GitHub names the bucket (`x-ratelimit-resource`); the REST API's is `core`.
    fn bucket(&self, _: &Call) -> Cow<'static, str> {
        Cow::Borrowed(CORE)
    }

    fn documented(&self, bucket: &str) -> Option<Documented> {
        documented_budget(bucket)
    }

    fn also_charged(&self, call: &Call) -> &'static [&'static str] {
        if creates_content(call) {
            return &[SECONDARY, SECONDARY_HOURLY];
        }
        match read_points_bucket(&call.url) {
            POINTS_ORG_MEMBERS => &[POINTS_ORG_MEMBERS],
            POINTS_TEAM_MEMBERS => &[POINTS_TEAM_MEMBERS],
            POINTS_TEAM_REPOS => &[POINTS_TEAM_REPOS],
            POINTS_TEAM_MEMBERSHIP => &[POINTS_TEAM_MEMBERSHIP],
            POINTS_TEAM_REPO => &[POINTS_TEAM_REPO],
            POINTS_USER => &[POINTS_USER],
            _ => &[POINTS_OTHER],
        }
    }

    fn budget(&self, answer: &Answer, ctx: &Ctx<'_>) -> Option<Budget> {
        ctx.budget(
            &answer.headers,
            [
                "x-ratelimit-limit",
                "x-ratelimit-remaining",
                "x-ratelimit-reset",
            ],
        )
    }

    fn failure(&self, call: &Call, answer: &Answer, ctx: &Ctx<'_>) -> Option<Failure> {
        let (status, headers) = (answer.status, &answer.headers);
        if status.is_success() {
            return None;
        }
        let (code, message) = github_error(&answer.body);
        let message = if message.is_empty() {
            format!("HTTP {status}")
        } else {
            message
        };
        let limited = matches!(
            status,
            StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
        )
        .then(|| rate_limit_wait(status, headers, &message, ctx))
        .flatten();
        Some(if let Some((bucket, reset)) = limited {
            Failure::rate_limited(bucket, reset, message)
        } else if status.is_server_error() {
            Failure::retry_later(code, format!("{} answered {status}: {message}", call.label))
        } else if status == StatusCode::UNAUTHORIZED {
            Failure::unauthorized(Some("401".into()), message)
        } else if let Some(scopes) = headers
            .get("x-accepted-oauth-scopes")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| status == StatusCode::FORBIDDEN && !s.is_empty())
        {
            Failure::InsufficientScope {
                scope: scopes.to_string(),
                message,
            }
        } else {
            Failure::permanent(
                code.unwrap_or_else(|| status.as_u16().to_string()),
                message,
                Some(status.as_u16()),
            )
        })
    }
}

impl GithubClient {
    /// The base URL plus `segments`, each percent-encoded as one path segment.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, Failure> {
        self.url_segments(segments, query)
    }

    fn call(method: Method, url: Url, body: Option<Value>, accept: Option<&str>) -> Call {
        let call = Call::json_api(method, url, body).header(
            reqwest::header::HeaderName::from_static("x-github-api-version"),
            "2022-11-28",
        );
        call.header(
            reqwest::header::ACCEPT,
            accept.unwrap_or("application/vnd.github+json"),
        )
    }

    pub async fn get(&self, segments: &[&str], accept: Option<&str>) -> Result<Answer, Failure> {
        let url = self.url(segments, &[])?;
        self.send(Method::GET, url, None, accept).await
    }

    /// Every item of a paginated list (100 per page), following `Link: <…>; rel="next"`.
    pub async fn get_all(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, Failure> {
        let mut query = query.to_vec();
        query.push(("per_page", "100"));
        let first = Self::call(Method::GET, self.url(segments, &query)?, None, None);
        self.list_all(first, Paging::Link, Items::Array, |_| {})
            .await
    }

    /// The first page's URL of a paginated list (100 per page).
    pub fn list_url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, Failure> {
        let mut query = query.to_vec();
        query.push(("per_page", "100"));
        self.url(segments, &query)
    }

    /// Each page of the list at `first` (from [`GithubClient::list_url`]) handed to `visit` as it arrives,
    /// so a long list is never held whole.
    pub async fn each_item_page(
        &self,
        first: Url,
        mut visit: impl FnMut(Vec<Value>) -> ControlFlow<()>,
    ) -> Result<(), Failure> {
        let first = Self::call(Method::GET, first, None, None);
        self.each_page(first, Paging::Link, Items::Array, |page| visit(page.items))
            .await
    }

    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
        accept: Option<&str>,
    ) -> Result<Answer, Failure> {
        self.request(&Self::call(method, url, body, accept)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TransportLimits;

    #[test]
    fn a_retry_after_is_a_secondary_limit_and_a_spent_budget_waits_for_its_reset() {
        let limits = TransportLimits {
            max_reset: Duration::from_secs(u32::MAX.into()),
            ..TransportLimits::default()
        };
        let ctx = Ctx::new(Utc::now(), 0, &limits);
        let forbidden = StatusCode::FORBIDDEN;
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3".parse().expect("h"));
        assert_eq!(
            rate_limit_wait(forbidden, &headers, "", &ctx).map(|(b, _)| b),
            Some(SECONDARY)
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", "0".parse().expect("h"));
        headers.insert("x-ratelimit-reset", "2000000000".parse().expect("h"));
        let (bucket, reset) =
            rate_limit_wait(forbidden, &headers, "API rate limit exceeded", &ctx).expect("limited");
        assert_eq!((bucket, reset.timestamp()), (CORE, 2_000_000_000));
        assert!(
            rate_limit_wait(
                forbidden,
                &HeaderMap::new(),
                "Must have admin rights to Repository.",
                &ctx
            )
            .is_none()
        );
    }

    #[test]
    fn calls_are_also_charged_to_the_documented_secondary_limits() {
        let dialect = GithubDialect {
            token: SecretString::from("ghp-test".to_owned()),
        };
        let url =
            Url::parse("https://api.github.com/orgs/acme/teams/dev/memberships/ann").expect("url");
        assert_eq!(
            dialect.also_charged(&Call::new(Method::PUT, url.clone())),
            &[SECONDARY, SECONDARY_HOURLY]
        );
        assert!(
            dialect
                .also_charged(&Call::new(Method::DELETE, url.clone()))
                .contains(&SECONDARY)
        );
        assert_eq!(
            dialect.also_charged(&Call::get(url)),
            &[POINTS_TEAM_MEMBERSHIP]
        );
        let members =
            Url::parse("https://ghe.example.com/api/v3/orgs/acme/teams/dev/members?role=member")
                .expect("url");
        assert_eq!(
            dialect.also_charged(&Call::get(members)),
            &[POINTS_TEAM_MEMBERS]
        );
        assert_eq!(
            dialect.documented(POINTS_TEAM_MEMBERS),
            Some(Documented::per_minute(900))
        );
        assert_eq!(
            dialect.documented(SECONDARY),
            Some(Documented::per_minute(80))
        );
        assert_eq!(
            dialect.documented(SECONDARY_HOURLY),
            Some(Documented::per_hour(500))
        );
        // The primary budget is announced in every answer's headers.
        assert_eq!(dialect.documented(CORE), None);
    }
}
