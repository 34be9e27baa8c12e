//! GitLab REST v4 emulator (users, nested groups and their members, and the projects a group lists): the router,
//! and the middleware that applies `PRIVATE-TOKEN` auth, the `RateLimit-*` headers and 429s, and injected faults.
//!
//! Its own admin endpoint, besides the shared ones (`crate::emulator`): `POST /__sandbox/first-login {"email"}`.
//!
//! Routes match on the raw path, so `groups/acme%2Fplatform/members` keeps the encoded full path in one segment
//! as GitLab (and python-gitlab, which sends it) expect.

mod errors;
mod groups;
mod pagination;
mod projects;
mod seed;
mod state;
mod users;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use errors::GitlabError;
pub use seed::{GitlabSeed, GitlabSeedGroup, GitlabSeedProject, GitlabSeedUser};
pub use state::Gitlab;

use crate::emulator::{
    AdminBody, AdminError, CoreAdmin, Emulator, EmulatorConfig, credentials, json_response,
    random_token, set_header,
};
use crate::hand_change::{self, HandChange};

impl Emulator for Gitlab {
    const KIND: &'static str = "gitlab";
    type Seed = GitlabSeed;

    fn start(seed: &GitlabSeed, config: EmulatorConfig) -> Arc<Self> {
        Arc::new(Gitlab {
            core: config.core(seed, config.windows(state::BUCKETS)),
            token: config.token_or(|| random_token("glpat-", 20)),
        })
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([("token", &self.token)])
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn api(this: &Arc<Self>) -> Router<Arc<Self>> {
        const G: &str = "/api/v4/groups/{id}";
        Router::new()
            .route("/api/v4/user", get(users::current))
            .route("/api/v4/users", get(users::list).post(users::create))
            .route(
                "/api/v4/users/{id}",
                get(users::get).put(users::update).delete(users::delete),
            )
            .route("/api/v4/users/{id}/block", post(users::block))
            .route("/api/v4/users/{id}/deactivate", post(users::deactivate))
            .route("/api/v4/groups", get(groups::list).post(groups::create))
            .route(G, get(groups::get))
            .route(&format!("{G}/subgroups"), get(groups::subgroups))
            .route(&format!("{G}/descendant_groups"), get(groups::descendants))
            .route(&format!("{G}/projects"), get(projects::list))
            .route(
                &format!("{G}/members"),
                get(groups::members).post(groups::add_member),
            )
            .route(&format!("{G}/members/all"), get(groups::members_all))
            .route(&format!("{G}/members/all/{{uid}}"), get(groups::member_all))
            .route(
                &format!("{G}/members/{{uid}}"),
                get(groups::member)
                    .put(groups::edit_member)
                    .delete(groups::remove_member),
            )
            .fallback(|| async { GitlabError::route_not_found() })
            .method_not_allowed_fallback(|| async { GitlabError::method_not_allowed() })
            .layer(middleware::from_fn_with_state(this.clone(), gitlab_layer))
    }

    fn admin_routes() -> Router<Arc<Self>> {
        Router::new().route("/__sandbox/first-login", post(first_login))
    }

    /// An administrator changes a direct membership of `group/<full path>` (entitlements `access_level:10` …
    /// `access_level:50`, default 10) or blocks a user in the Admin Area.
    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        let now = self.core.now();
        let mut inner = self.core.state();
        let user = change.user();
        let Some(uid) = inner.find_user(user).map(|u| u.id) else {
            return Err(format!("unknown user {user}"));
        };
        let Some((resource, entitlement)) = change.target("access_level:10") else {
            if let Some(u) = inner.users.get_mut(&uid) {
                u.state = "blocked".into();
            }
            return Ok(());
        };
        if resource.kind != "group" {
            return Err(hand_change::unknown_kind(resource, &["group"]));
        }
        let Some(gid) = inner.find_group(&resource.name) else {
            return Err(format!("unknown group {}", resource.name));
        };
        let Some(e) = entitlement else {
            inner.members.remove(&(gid, uid));
            return Ok(());
        };
        const LEVELS: [&str; 5] = [
            "access_level:10",
            "access_level:20",
            "access_level:30",
            "access_level:40",
            "access_level:50",
        ];
        let Some(level) = e
            .strip_prefix("access_level:")
            .and_then(|l| l.parse::<u8>().ok())
            .filter(|l| [10, 20, 30, 40, 50].contains(l))
        else {
            return Err(hand_change::unknown_entitlement(e, resource, &LEVELS));
        };
        let created_at = inner.members.get(&(gid, uid)).map_or(now, |m| m.created_at);
        inner.members.insert(
            (gid, uid),
            state::Membership {
                access_level: level,
                created_at,
            },
        );
        Ok(())
    }
}

/// `POST /__sandbox/first-login {"email"}`: the person signs in through SSO for the first time, which creates
/// their GitLab user. Repeating it is harmless; a person not pending (and not a user) is a 404.
async fn first_login(State(g): State<Arc<Gitlab>>, headers: HeaderMap, body: Bytes) -> Response {
    let email = match AdminBody::parse(&body, &["email"]).and_then(|b| {
        b.string("email", &[])?
            .ok_or_else(|| AdminError::field("email", "is required"))
    }) {
        Ok(email) => email,
        Err(e) => return e.into_response(),
    };
    let now = g.core.now();
    let mut inner = g.core.state();
    let Some(id) = inner.first_login(&email, now) else {
        return json_response(
            StatusCode::NOT_FOUND,
            &serde_json::json!({ "error": format!("{email} is not waiting for a first login") }),
        );
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let ctx = crate::emulator::Ctx {
        base: format!("http://{host}"),
        path: String::new(),
        query: Vec::new(),
        now,
    };
    let body = inner
        .users
        .get(&id)
        .map(|u| inner.user_json(u, &ctx))
        .unwrap_or_default();
    json_response(StatusCode::OK, &body)
}

/// `PRIVATE-TOKEN`, `Authorization: Bearer`, or the `private_token` query parameter.
fn authorized(token: &str, req: &Request) -> bool {
    let headers = req.headers();
    let presented = headers
        .get("private-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
        })
        .or_else(|| {
            req.uri().query().and_then(|q| {
                crate::emulator::form_pairs(q)
                    .into_iter()
                    .find(|(k, _)| k == "private_token")
                    .map(|(_, v)| v)
            })
        });
    !token.is_empty() && presented.as_deref() == Some(token)
}

async fn gitlab_layer(State(g): State<Arc<Gitlab>>, req: Request, next: Next) -> Response {
    let now = g.core.now();
    let decision = g.core.limits().charge("api", now);
    let mut resp = if !decision.allowed {
        g.core.state().throttled += 1;
        let mut resp = GitlabError::rate_limited().into_response();
        set_header(&mut resp, "retry-after", &decision.retry_after.to_string());
        resp
    } else {
        if let Some(status) = g
            .core
            .injected_failure(StatusCode::INTERNAL_SERVER_ERROR)
            .await
        {
            GitlabError::server(status).into_response()
        } else if !authorized(&g.token, &req) {
            GitlabError::unauthorized().into_response()
        } else {
            next.run(req).await
        }
    };
    set_header(&mut resp, "ratelimit-limit", &decision.limit.to_string());
    set_header(&mut resp, "ratelimit-observed", &decision.used.to_string());
    set_header(
        &mut resp,
        "ratelimit-remaining",
        &decision.remaining.to_string(),
    );
    set_header(&mut resp, "ratelimit-reset", &decision.reset.to_string());
    if let Some(reset) = chrono::DateTime::from_timestamp(decision.reset, 0) {
        set_header(
            &mut resp,
            "ratelimit-resettime",
            &reset.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        );
    }
    resp
}
