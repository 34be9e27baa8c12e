//! Okta Management API emulator: the router, and the middleware that applies Okta's auth, rate limits, faults and headers.

mod admin;
mod apps;
mod context;
mod errors;
mod filter;
mod group_push;
mod groups;
mod hooks;
mod ids;
mod lifecycle;
mod logs;
mod oauth;
mod oel;
mod pagination;
mod rate_limit;
mod rules;
mod schemas;
mod state;
mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

pub use errors::OktaError;
pub use oauth::{ServiceApp, ServiceKey, required_scope};
pub use rate_limit::BUCKETS;
pub use state::{ACTOR_ID, Faults, GroupPushTarget, Okta};

use crate::clock::{Clock, SystemClock};
use crate::org::OktaSeed;
use context::Stamp;
use state::lock;

/// How to run one emulated Okta org.
#[derive(Debug, Clone)]
pub struct OktaConfig {
    /// The API token (`SSWS`); a random 42-character `00…` token when `None`.
    pub token: Option<String>,
    pub clock: Arc<dyn Clock>,
    /// Rate-limit window; Okta's is 60 s, tests shorten it.
    pub rate_limit_window_seconds: u64,
}

impl Default for OktaConfig {
    fn default() -> Self {
        Self {
            token: None,
            clock: Arc::new(SystemClock),
            rate_limit_window_seconds: 60,
        }
    }
}

/// Builds the emulator for `seed`; returns the router and the org handle (its `token` is what clients must send).
pub fn okta_router(seed: &OktaSeed, config: OktaConfig) -> (Router, Arc<Okta>) {
    let token = config.token.unwrap_or_else(ids::token);
    let okta = Arc::new(Okta::new(
        seed.clone(),
        token,
        config.clock,
        config.rate_limit_window_seconds,
    ));
    // Deliveries to event hooks run in the background, as Okta's do; tests can also flush them.
    hooks::spawn_delivery(&okta, Duration::from_millis(300));
    (router(okta.clone()), okta)
}

fn router(okta: Arc<Okta>) -> Router {
    let api = Router::new()
        .route("/api/v1/users", get(users::list).post(users::create))
        .route(
            "/api/v1/users/{id}",
            get(users::get)
                .post(users::partial_update)
                .put(users::replace)
                .delete(users::delete),
        )
        .route("/api/v1/users/{id}/groups", get(users::groups))
        .route("/api/v1/users/{id}/appLinks", get(users::app_links))
        .route(
            "/api/v1/users/{id}/lifecycle/{op}",
            post(lifecycle::lifecycle),
        )
        .route(
            "/api/v1/users/{id}/sessions",
            axum::routing::delete(lifecycle::clear_sessions),
        )
        .route("/api/v1/groups", get(groups::list).post(groups::create))
        .route("/api/v1/groups/rules", get(rules::list).post(rules::create))
        .route(
            "/api/v1/groups/rules/{id}",
            get(rules::get).put(rules::replace).delete(rules::delete),
        )
        .route(
            "/api/v1/groups/rules/{id}/lifecycle/{op}",
            post(rules::lifecycle),
        )
        .route(
            "/api/v1/groups/{id}",
            get(groups::get).put(groups::replace).delete(groups::delete),
        )
        .route("/api/v1/groups/{id}/users", get(groups::members))
        .route(
            "/api/v1/groups/{id}/users/{uid}",
            put(groups::add_member).delete(groups::remove_member),
        )
        .route("/api/v1/groups/{id}/apps", get(groups::apps))
        .route("/api/v1/apps", get(apps::list))
        .route("/api/v1/apps/{id}", get(apps::get))
        .route(
            "/api/v1/apps/{id}/users",
            get(apps::list_users).post(apps::assign_user),
        )
        .route(
            "/api/v1/apps/{id}/users/{uid}",
            get(apps::get_user).delete(apps::unassign_user),
        )
        .route("/api/v1/apps/{id}/groups", get(apps::list_groups))
        .route(
            "/api/v1/apps/{id}/groups/{gid}",
            get(apps::get_group)
                .put(apps::assign_group)
                .delete(apps::unassign_group),
        )
        .route("/api/v1/logs", get(logs::list))
        .route("/api/v1/meta/schemas/user/{id}", get(schemas::get))
        .route(
            "/api/v1/apps/{id}/group-push/mappings",
            get(group_push::list).post(group_push::create),
        )
        .route(
            "/api/v1/apps/{id}/group-push/mappings/{mid}",
            get(group_push::get)
                .patch(group_push::update)
                .delete(group_push::delete),
        )
        .route("/api/v1/eventHooks", get(hooks::list).post(hooks::create))
        .route(
            "/api/v1/eventHooks/{id}",
            get(hooks::get).delete(hooks::delete),
        )
        .route(
            "/api/v1/eventHooks/{id}/lifecycle/{op}",
            post(hooks::lifecycle),
        )
        .route("/oauth2/v1/token", post(oauth::token))
        .route("/__sandbox/oauth/clients", post(oauth::register))
        .route("/__sandbox/hooks/deliver", post(hooks::deliver_now))
        .route("/__sandbox/writes", get(admin::writes))
        .route("/__sandbox/counters", get(admin::counters))
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
        .fallback(|| async { OktaError::path_not_found() })
        .method_not_allowed_fallback(|| async { OktaError::method_not_allowed() });
    api.layer(middleware::from_fn_with_state(okta.clone(), okta_layer))
        .with_state(okta)
}

/// Accepts `SSWS <token>` and the Python SDK's `SSWS<token>` (no space).
fn ssws_authorized(token: &str, value: &str) -> bool {
    let Some(rest) = value.strip_prefix("SSWS") else {
        return false;
    };
    let presented = rest.strip_prefix(' ').unwrap_or(rest);
    !token.is_empty() && presented == token
}

/// The API token, or an OAuth Bearer token carrying the scope the call needs; anything else is refused.
async fn authenticate(o: &Okta, req: Request, next: Next) -> Response {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if req.uri().path() == "/oauth2/v1/token" || ssws_authorized(&o.token, &value) {
        return next.run(req).await;
    }
    match o.check_bearer(&value, req.method(), req.uri().path()) {
        Some(oauth::BearerCheck::Allowed) => next.run(req).await,
        Some(oauth::BearerCheck::MissingScope(scope)) => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            oauth::insufficient_scope(&format!("http://{host}"), scope, req.uri().path())
        }
        Some(oauth::BearerCheck::Invalid) | None => OktaError::invalid_token().into_response(),
    }
}

fn set(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// Releases the in-flight slot however the request ends (including a dropped connection).
struct InFlight<'a>(&'a Okta);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(&self.0.limiter).leave();
    }
}

async fn okta_layer(State(o): State<Arc<Okta>>, mut req: Request, next: Next) -> Response {
    let now = o.clock.now();
    let request_id = ids::request_id();
    req.extensions_mut().insert(Stamp {
        request_id: request_id.clone(),
        now,
    });
    let path = req.uri().path().to_owned();
    let writes = req.method() != axum::http::Method::GET;
    let mut resp = if path.starts_with("/__sandbox") {
        let remote_ok = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_none_or(|ConnectInfo(addr)| addr.ip().is_loopback());
        if remote_ok {
            next.run(req).await
        } else {
            StatusCode::FORBIDDEN.into_response()
        }
    } else {
        let bucket = rate_limit::bucket_for(req.method(), &path);
        let (decision, entered) = {
            let mut limiter = lock(&o.limiter);
            let d = limiter.charge(bucket, now);
            (d, d.allowed && limiter.enter())
        };
        let mut decision = decision;
        let mut resp = if !decision.allowed || !entered {
            if decision.allowed {
                // Concurrency violation: Okta reports it with a zero limit and an estimated reset.
                decision.limit = 0;
                decision.remaining = 0;
                decision.reset = now.timestamp() + 1;
            }
            *lock(&o.inner)
                .counters
                .throttled
                .entry(
                    if decision.limit == 0 {
                        "concurrency"
                    } else {
                        bucket
                    }
                    .to_owned(),
                )
                .or_default() += 1;
            OktaError::rate_limited().into_response()
        } else {
            let _slot = InFlight(&o);
            let faults = lock(&o.faults).clone();
            if faults.latency_ms > 0 {
                tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
            }
            if faults.error_rate > 0.0 && rand::random::<f64>() < faults.error_rate {
                OktaError::injected(faults.error_status).into_response()
            } else {
                authenticate(&o, req, next).await
            }
        };
        set(&mut resp, "x-rate-limit-limit", &decision.limit.to_string());
        set(
            &mut resp,
            "x-rate-limit-remaining",
            &decision.remaining.to_string(),
        );
        set(&mut resp, "x-rate-limit-reset", &decision.reset.to_string());
        resp
    };
    if writes && (resp.status().is_success() || path == "/__sandbox/reset") {
        // Group push keeps the target's groups in step with every change that may touch them.
        o.notify_group_push();
    }
    set(&mut resp, "date", &ids::http_date(now));
    set(&mut resp, "x-okta-request-id", &request_id);
    resp
}
