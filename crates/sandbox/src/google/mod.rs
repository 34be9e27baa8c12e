//! Google Workspace Admin SDK Directory API emulator: the router, and the middleware applying Google's
//! OAuth bearer check, per-user query quota (403 `userRateLimitExceeded`), and injected faults. Changes by
//! hand (`hand_change.rs`) take the shared contract and the older `add_member` / `remove_member` / `set_role` ops.

mod directory;
mod errors;
mod hand_change;
mod pagination;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use errors::GoogleError;
pub use state::{Google, GoogleSeed, GoogleSeedGroup, GoogleSeedMember, GoogleSeedUser};

use crate::emulator::{CoreAdmin, Emulator, EmulatorConfig, credentials, random_token};
use crate::hand_change::HandChange;
use state::Quota;

const V1: &str = "/admin/directory/v1";

impl Emulator for Google {
    const KIND: &'static str = "google";
    const LEGACY_HAND_CHANGES: &'static [&'static str] = hand_change::LEGACY_OPS;
    type Seed = GoogleSeed;

    /// `config.token` is the OAuth access token clients send as `Bearer`.
    fn start(seed: &GoogleSeed, config: EmulatorConfig) -> Arc<Self> {
        Arc::new(Google {
            core: config.core(seed, Quota::new(config.rate_limit_window_seconds)),
            token: config.token_or(|| random_token("ya29.", 40)),
            customer_id: seed.customer_id.clone(),
        })
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([("token", &self.token)])
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn api(this: &Arc<Self>) -> Router<Arc<Self>> {
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
            .fallback(|| async { GoogleError::not_found("path") })
            .method_not_allowed_fallback(|| async { GoogleError::not_allowed() })
            .layer(middleware::from_fn_with_state(this.clone(), google_layer))
    }

    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        hand_change::apply(self, change)
    }

    fn legacy_hand_change(&self, body: &Bytes) -> Result<(), String> {
        hand_change::legacy(self, body)
    }
}

fn authorized(token: &str, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|presented| !token.is_empty() && presented.trim() == token)
}

async fn google_layer(State(g): State<Arc<Google>>, req: Request, next: Next) -> Response {
    if !authorized(&g.token, req.headers()) {
        return GoogleError::unauthenticated().into_response();
    }
    let now = g.core.now();
    {
        let mut quota = g.core.limits();
        if !quota.charge(now) {
            let reason = state::QUOTA_REASONS
                .iter()
                .find(|r| **r == quota.reason)
                .copied()
                .unwrap_or(state::QUOTA_REASONS[0]);
            return GoogleError::quota(reason).into_response();
        }
    }
    if let Some(status) = g
        .core
        .injected_failure(StatusCode::SERVICE_UNAVAILABLE)
        .await
    {
        return GoogleError::injected(status.as_u16()).into_response();
    }
    next.run(req).await
}
