//! GitHub REST emulator (organisation, memberships, teams, team repository permissions): the router, and the
//! middleware applying token auth, the primary and secondary rate limits with `x-ratelimit-*` headers, and
//! injected faults.

mod admin;
mod errors;
mod org;
mod pagination;
mod rate_limit;
mod state;
mod teams;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use errors::GithubError;
pub use rate_limit::LimitsConfig;
pub use state::{
    Github, GithubSeed, GithubSeedRepo, GithubSeedTeam, GithubSeedUser, SeedMembership,
};

use crate::clock::{Clock, SystemClock};
use rate_limit::Refusal;
use state::lock;

/// How to run one emulated GitHub organisation.
#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// The token clients send (`token …` or `Bearer …`); a random `ghp_` token when `None`.
    pub token: Option<String>,
    pub clock: Arc<dyn Clock>,
    /// Primary rate-limit window; GitHub's is an hour, tests shorten it.
    pub rate_limit_window_seconds: u64,
}

impl Default for GithubConfig {
    fn default() -> Self {
        Self {
            token: None,
            clock: Arc::new(SystemClock),
            rate_limit_window_seconds: 3600,
        }
    }
}

/// Builds the emulator for `seed`; returns the router and the org handle (its `token` is what clients send).
pub fn github_router(seed: &GithubSeed, config: GithubConfig) -> (Router, Arc<Github>) {
    let token = config
        .token
        .unwrap_or_else(|| crate::control::random_token("ghp_", 36));
    let github = Arc::new(Github::new(
        seed.clone(),
        token,
        config.clock,
        config.rate_limit_window_seconds,
    ));
    (router(github.clone()), github)
}

fn router(github: Arc<Github>) -> Router {
    Router::new()
        .route("/user", get(org::authenticated_user))
        .route("/user/orgs", get(org::user_orgs))
        .route("/users/{user}", get(org::get_user))
        .route("/orgs/{org}", get(org::get_org))
        .route("/orgs/{org}/members", get(org::list_members))
        .route(
            "/orgs/{org}/members/{user}",
            get(org::check_member).delete(org::remove_membership),
        )
        .route(
            "/orgs/{org}/memberships/{user}",
            get(org::get_membership)
                .put(org::set_membership)
                .delete(org::remove_membership),
        )
        .route("/orgs/{org}/invitations", get(org::list_invitations))
        .route("/orgs/{org}/repos", get(org::list_repos))
        .route("/repos/{owner}/{repo}", get(org::get_repo))
        .route(
            "/orgs/{org}/teams",
            get(teams::list_teams).post(teams::create_team),
        )
        .route(
            "/orgs/{org}/teams/{slug}",
            get(teams::get_team).delete(teams::delete_team),
        )
        .route(
            "/orgs/{org}/teams/{slug}/members",
            get(teams::list_team_members),
        )
        .route(
            "/orgs/{org}/teams/{slug}/memberships/{user}",
            get(teams::get_team_membership)
                .put(teams::set_team_membership)
                .delete(teams::remove_team_membership),
        )
        .route(
            "/orgs/{org}/teams/{slug}/repos",
            get(teams::list_team_repos),
        )
        .route(
            "/orgs/{org}/teams/{slug}/repos/{owner}/{repo}",
            get(teams::check_team_repo)
                .put(teams::set_team_repo)
                .delete(teams::remove_team_repo),
        )
        .route("/__sandbox/writes", get(admin::writes))
        .route(
            "/__sandbox/faults",
            get(admin::get_faults).post(admin::set_faults),
        )
        .route(
            "/__sandbox/rate-limits",
            get(admin::get_rate_limits).post(admin::set_rate_limits),
        )
        .route("/__sandbox/reset", post(admin::reset))
        .route("/__sandbox/hand-change", post(admin::hand_change))
        .fallback(|| async { GithubError::not_found() })
        .method_not_allowed_fallback(|| async {
            GithubError::new(StatusCode::NOT_FOUND, "Not Found")
        })
        .layer(middleware::from_fn_with_state(github.clone(), github_layer))
        .with_state(github)
}

/// `Authorization: token …` (PyGithub) or `Bearer …`; `None` when no credentials were sent at all.
fn presented(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
        .then(|| rest.trim().to_owned())
}

fn set(resp: &mut Response, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(name, v);
    }
}

async fn github_layer(State(g): State<Arc<Github>>, req: Request, next: Next) -> Response {
    let (req, next) = match crate::control::admin_only_from_loopback(req, next).await {
        Ok(admin) => return admin,
        Err(api) => api,
    };
    match presented(req.headers()) {
        None => return GithubError::requires_authentication().into_response(),
        Some(t) if g.token.is_empty() || t != g.token => {
            return GithubError::bad_credentials().into_response();
        }
        Some(_) => {}
    }
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let decision = lock(&g.limits).charge(g.clock.now(), write);
    let mut resp = match decision.refused {
        Some(Refusal::Primary { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
            GithubError::primary_limit(status, 1).into_response()
        }
        Some(Refusal::Secondary {
            status,
            retry_after,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
            GithubError::secondary_limit(status, retry_after).into_response()
        }
        None => {
            let faults = lock(&g.faults).clone();
            if faults.latency_ms > 0 {
                tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
            }
            if faults.error_rate > 0.0 && rand::random::<f64>() < faults.error_rate {
                GithubError::injected(faults.error_status).into_response()
            } else {
                next.run(req).await
            }
        }
    };
    set(&mut resp, "x-ratelimit-limit", decision.limit.to_string());
    set(
        &mut resp,
        "x-ratelimit-remaining",
        decision.remaining.to_string(),
    );
    set(&mut resp, "x-ratelimit-used", decision.used.to_string());
    set(&mut resp, "x-ratelimit-reset", decision.reset.to_string());
    set(&mut resp, "x-ratelimit-resource", "core".to_owned());
    set(
        &mut resp,
        "x-github-api-version-selected",
        "2022-11-28".to_owned(),
    );
    resp
}
