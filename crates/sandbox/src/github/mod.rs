//! GitHub REST emulator (organisation, memberships, invitations, teams, team repository permissions): the router, and the
//! middleware applying token auth, the primary and secondary rate limits (content-creating requests, and
//! points per endpoint) with `x-ratelimit-*` headers, and injected faults. Changes by hand (`hand_change.rs`) take the shared contract and older ops such as a user
//! accepting an invitation.

mod errors;
mod hand_change;
mod invitations;
mod org;
mod pagination;
mod rate_limit;
mod state;
mod teams;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use errors::GithubError;
pub use rate_limit::LimitsConfig;
pub use state::{
    Github, GithubSeed, GithubSeedRepo, GithubSeedTeam, GithubSeedUser, SeedMembership,
};

use crate::emulator::{CoreAdmin, Emulator, EmulatorConfig, credentials, random_token};
use crate::hand_change::HandChange;
use rate_limit::{Limits, Refusal};

impl Emulator for Github {
    const KIND: &'static str = "github";
    const LEGACY_HAND_CHANGES: &'static [&'static str] = hand_change::LEGACY_OPS;
    type Seed = GithubSeed;

    /// `config.token` is what clients send (`token …` or `Bearer …`).
    fn start(seed: &GithubSeed, config: EmulatorConfig) -> Arc<Self> {
        Arc::new(Github {
            core: config.core(seed, Limits::new(config.rate_limit_window_seconds)),
            token: config.token_or(|| random_token("ghp_", 36)),
            org: seed.org.clone(),
            org_id: 9_000_001,
        })
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([("token", &self.token)])
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn admin_routes() -> Router<Arc<Self>> {
        Router::new().route(
            "/__sandbox/invitations/accept",
            axum::routing::post(invitations::accept),
        )
    }

    fn api(this: &Arc<Self>) -> Router<Arc<Self>> {
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
            .route(
                "/orgs/{org}/invitations",
                get(invitations::list_invitations).post(invitations::create_invitation),
            )
            .route(
                "/orgs/{org}/invitations/{id}",
                axum::routing::delete(invitations::cancel_invitation),
            )
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
            .fallback(|| async { GithubError::not_found() })
            .method_not_allowed_fallback(|| async {
                GithubError::new(StatusCode::NOT_FOUND, "Not Found")
            })
            .layer(middleware::from_fn_with_state(this.clone(), github_layer))
    }

    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        hand_change::apply(self, change)
    }

    fn legacy_hand_change(&self, body: &Bytes) -> Result<(), String> {
        hand_change::legacy(self, body)
    }
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
    match presented(req.headers()) {
        None => return GithubError::requires_authentication().into_response(),
        Some(t) if g.token.is_empty() || t != g.token => {
            return GithubError::bad_credentials().into_response();
        }
        Some(_) => {}
    }
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let endpoint = rate_limit::endpoint(req.uri().path());
    let decision = g.core.limits().charge(g.core.now(), write, &endpoint);
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
            match g
                .core
                .injected_failure(StatusCode::SERVICE_UNAVAILABLE)
                .await
            {
                Some(status) => GithubError::injected(status.as_u16()).into_response(),
                None => next.run(req).await,
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
