//! Google Workspace Admin SDK Directory API emulator: the router, and the middleware applying Google's
//! OAuth bearer check, per-user query quota (403 `userRateLimitExceeded`), and injected faults.

mod admin;
mod directory;
mod errors;
mod pagination;
mod state;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use errors::GoogleError;
pub use state::{Google, GoogleSeed, GoogleSeedGroup, GoogleSeedMember, GoogleSeedUser};

use crate::clock::{Clock, SystemClock};
use state::lock;

/// How to run one emulated Workspace customer.
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    /// The OAuth access token clients must send as `Bearer`; random `ya29.` token when `None`.
    pub token: Option<String>,
    pub clock: Arc<dyn Clock>,
    /// Quota window; Google's is a minute, tests shorten it.
    pub rate_limit_window_seconds: u64,
}

impl Default for GoogleConfig {
    fn default() -> Self {
        Self {
            token: None,
            clock: Arc::new(SystemClock),
            rate_limit_window_seconds: 60,
        }
    }
}

/// Builds the emulator for `seed`; returns the router and the customer handle (its `token` is what clients send).
pub fn google_router(seed: &GoogleSeed, config: GoogleConfig) -> (Router, Arc<Google>) {
    let token = config
        .token
        .unwrap_or_else(|| crate::control::random_token("ya29.", 40));
    let google = Arc::new(Google::new(
        seed.clone(),
        token,
        config.clock,
        config.rate_limit_window_seconds,
    ));
    (router(google.clone()), google)
}

const V1: &str = "/admin/directory/v1";

fn router(google: Arc<Google>) -> Router {
    use directory as d;
    Router::new()
        .route(
            &format!("{V1}/users"),
            get(d::list_users).post(d::insert_user),
        )
        .route(
            &format!("{V1}/users/{{key}}"),
            get(d::get_user).delete(d::delete_user),
        )
        .route(
            &format!("{V1}/groups"),
            get(d::list_groups).post(d::insert_group),
        )
        .route(
            &format!("{V1}/groups/{{key}}"),
            get(d::get_group).delete(d::delete_group),
        )
        .route(
            &format!("{V1}/groups/{{key}}/members"),
            get(d::list_members).post(d::insert_member),
        )
        .route(
            &format!("{V1}/groups/{{key}}/members/{{member}}"),
            get(d::get_member)
                .put(d::update_member)
                .patch(d::update_member)
                .delete(d::delete_member),
        )
        .route(
            &format!("{V1}/groups/{{key}}/hasMember/{{member}}"),
            get(d::has_member),
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
        .fallback(|| async { GoogleError::not_found("path") })
        .method_not_allowed_fallback(|| async { GoogleError::not_allowed() })
        .layer(middleware::from_fn_with_state(google.clone(), google_layer))
        .with_state(google)
}

fn authorized(token: &str, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|presented| !token.is_empty() && presented.trim() == token)
}

async fn google_layer(State(g): State<Arc<Google>>, req: Request, next: Next) -> Response {
    let (req, next) = match crate::control::admin_only_from_loopback(req, next).await {
        Ok(admin) => return admin,
        Err(api) => api,
    };
    if !authorized(&g.token, req.headers()) {
        return GoogleError::unauthenticated().into_response();
    }
    let now = g.clock.now();
    {
        let mut quota = lock(&g.quota);
        if !quota.charge(now) {
            let reason = if quota.reason == "quotaExceeded" {
                "quotaExceeded"
            } else if quota.reason == "rateLimitExceeded" {
                "rateLimitExceeded"
            } else {
                "userRateLimitExceeded"
            };
            return GoogleError::quota(reason).into_response();
        }
    }
    let faults = lock(&g.faults).clone();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if faults.error_rate > 0.0 && rand::random::<f64>() < faults.error_rate {
        return GoogleError::injected(faults.error_status).into_response();
    }
    next.run(req).await
}
