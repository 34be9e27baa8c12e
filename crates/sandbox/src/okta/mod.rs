//! Okta Management API emulator: the router, and the middleware that applies Okta's auth (API token or OAuth
//! service app), rate-limit buckets and concurrency limit, injected faults and headers. Admin endpoints of its
//! own besides the shared ones (`crate::emulator`): `/__sandbox/oauth/clients` (register a service app),
//! `/__sandbox/hooks/deliver` (flush event hook deliveries) and `/__sandbox/counters`.

mod apps;
mod context;
mod errors;
mod filter;
mod group_push;
mod groups;
mod hand_change;
mod hooks;
mod ids;
mod lifecycle;
mod logs;
mod oauth;
mod oel;
mod oidc;
mod pagination;
mod rate_limit;
mod rules;
mod schemas;
mod seed;
mod signin_page;
mod state;
mod users;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::json;

pub use errors::OktaError;
pub use oauth::{ServiceApp, ServiceKey, required_scope};
pub use oidc::{GroupsClaim, OidcApp, SANDBOX_PASSWORD, TokenAuthMethod};
pub use rate_limit::BUCKETS;
pub use seed::{OktaSeed, SeedApp, SeedGroup, SeedStatus, SeedUser};
pub use state::{ACTOR_ID, GroupPushTarget, Okta};

use crate::emulator::{CoreAdmin, Emulator, EmulatorConfig, credentials};
use crate::hand_change::HandChange;
use context::{Stamp, ok};
use rate_limit::OktaLimits;

/// How to run one emulated Okta org; its token is the API token (`SSWS`), a random 42-character `00…` token
/// when `None`.
pub type OktaConfig = EmulatorConfig;

/// Builds the emulator for `seed`; returns the router and the org handle (its `token` is what clients must send).
pub fn okta_router(seed: &OktaSeed, config: OktaConfig) -> (Router, Arc<Okta>) {
    let okta = Okta::start(seed, config);
    (crate::emulator::router(&okta), okta)
}

impl Emulator for Okta {
    const KIND: &'static str = "okta";
    type Seed = OktaSeed;

    fn start(seed: &OktaSeed, config: EmulatorConfig) -> Arc<Self> {
        let okta = Arc::new(Okta {
            core: config.core(seed, OktaLimits::new(config.rate_limit_window_seconds)),
            oauth: Default::default(),
            oidc: Default::default(),
            hooks: Default::default(),
            push_targets: Default::default(),
            token: config.token_or(ids::token),
        });
        // Deliveries to event hooks run in the background, as Okta's do; tests can also flush them.
        hooks::spawn_delivery(&okta, Duration::from_millis(300));
        okta
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([("token", &self.token)])
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn api(this: &Arc<Self>) -> Router<Arc<Self>> {
        api_routes().layer(middleware::from_fn_with_state(this.clone(), okta_layer))
    }

    fn admin_routes() -> Router<Arc<Self>> {
        Router::new()
            .route("/__sandbox/oauth/clients", post(oauth::register))
            .route("/__sandbox/hooks/deliver", post(hooks::deliver_now))
            .route("/__sandbox/counters", get(counters))
    }

    /// See [`hand_change::apply`]; push targets hear of the change.
    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        hand_change::apply(self, change)?;
        self.notify_group_push();
        Ok(())
    }

    fn reset(&self) {
        Okta::reset(self);
    }
}

/// `GET /__sandbox/counters`: 429s answered per bucket, and OAuth tokens issued per client.
async fn counters(State(o): State<Arc<Okta>>) -> Response {
    ok(&json!(o.core.state().counters))
}

fn api_routes() -> Router<Arc<Okta>> {
    Router::new()
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
        .merge(oidc::routes())
        .fallback(|| async { OktaError::path_not_found() })
        .method_not_allowed_fallback(|| async { OktaError::method_not_allowed() })
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
    // The authorization servers' endpoints authenticate clients and people their own way.
    if oidc::is_authorization_server_path(req.uri().path()) || ssws_authorized(&o.token, &value) {
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
        self.0.core.limits().leave();
    }
}

async fn okta_layer(State(o): State<Arc<Okta>>, mut req: Request, next: Next) -> Response {
    let now = o.core.now();
    let request_id = ids::request_id();
    req.extensions_mut().insert(Stamp {
        request_id: request_id.clone(),
        now,
    });
    let writes = req.method() != axum::http::Method::GET;
    let bucket = rate_limit::bucket_for(req.method(), req.uri().path());
    let (mut decision, entered) = {
        let mut limiter = o.core.limits();
        let d = limiter.charge(bucket, now);
        (d, d.allowed && limiter.enter())
    };
    let mut resp = if !decision.allowed || !entered {
        if decision.allowed {
            // Concurrency violation: Okta reports it with a zero limit and an estimated reset.
            decision.limit = 0;
            decision.remaining = 0;
            decision.reset = now.timestamp() + 1;
        }
        let bucket = if decision.limit == 0 {
            "concurrency"
        } else {
            bucket
        };
        *o.core
            .state()
            .counters
            .throttled
            .entry(bucket.to_owned())
            .or_default() += 1;
        OktaError::rate_limited().into_response()
    } else {
        let _slot = InFlight(&o);
        match o
            .core
            .injected_failure(StatusCode::INTERNAL_SERVER_ERROR)
            .await
        {
            Some(status) => OktaError::injected(status.as_u16()).into_response(),
            None => authenticate(&o, req, next).await,
        }
    };
    set(&mut resp, "x-rate-limit-limit", &decision.limit.to_string());
    set(
        &mut resp,
        "x-rate-limit-remaining",
        &decision.remaining.to_string(),
    );
    set(&mut resp, "x-rate-limit-reset", &decision.reset.to_string());
    if writes && resp.status().is_success() {
        // Group push keeps the target's groups in step with every change that may touch them.
        o.notify_group_push();
    }
    set(&mut resp, "date", &ids::http_date(now));
    set(&mut resp, "x-okta-request-id", &request_id);
    resp
}
