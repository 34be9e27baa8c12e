//! Google Workspace Admin SDK Directory API emulator (users in `users.rs`, groups and members in
//! `directory.rs`): the router, and the middleware applying Google's
//! OAuth bearer check, per-user query quota (403 `userRateLimitExceeded`), and injected faults. Changes by
//! hand (`hand_change.rs`) take the shared contract and the older `add_member` / `remove_member` / `set_role` ops.

mod directory;
mod errors;
mod hand_change;
mod oauth;
mod pagination;
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

pub use errors::GoogleError;
pub use oauth::{AUDIENCE, CLIENT_EMAIL, DELEGATED_SCOPES};
pub use state::{Google, GoogleSeed, GoogleSeedGroup, GoogleSeedMember, GoogleSeedUser};

use crate::emulator::tokens::TokenIssuer;
use crate::emulator::{
    CoreAdmin, Emulator, EmulatorConfig, credentials, json_response, random_token,
};
use crate::hand_change::HandChange;
use state::Quota;

const V1: &str = "/admin/directory/v1";

impl Emulator for Google {
    const KIND: &'static str = "google";
    const LEGACY_HAND_CHANGES: &'static [&'static str] = hand_change::LEGACY_OPS;
    type Seed = GoogleSeed;

    /// `config.token` is the fixed OAuth access token clients may send as `Bearer`; the service account's
    /// grants mint tokens that live `config.token_lifetime_seconds`.
    fn start(seed: &GoogleSeed, config: EmulatorConfig) -> Arc<Self> {
        let key_id = random_token("", 40).to_lowercase();
        Arc::new(Google {
            core: config.core(seed, Quota::new(config.rate_limit_window_seconds)),
            token: config.token_or(|| random_token("ya29.", 40)),
            customer_id: seed.customer_id.clone(),
            issuer: TokenIssuer::new(&key_id, config.token_lifetime_seconds).ok(),
            key_id,
        })
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([("token", &self.token)])
    }

    /// The fixed token, and the service account's key file with `token_uri` here.
    fn credentials_at(&self, base_url: &str) -> BTreeMap<String, String> {
        let mut published = self.credentials();
        if let Some(issuer) = &self.issuer {
            published.insert(
                "service_account_key".into(),
                oauth::key_file(issuer, &self.key_id, base_url),
            );
        }
        published
    }

    /// The administrator the service account acts as: the seed's first admin.
    fn settings(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut settings = serde_json::Map::new();
        let state = self.core.state();
        let admin = state
            .users
            .values()
            .filter(|u| u.is_admin && !u.suspended)
            .min_by_key(|u| u.created);
        if let Some(admin) = admin {
            settings.insert("subject".into(), admin.primary_email.clone().into());
        }
        settings
    }

    fn admin_routes() -> Router<Arc<Self>> {
        Router::new().route("/__sandbox/tokens", get(tokens).post(set_tokens))
    }

    fn reset(&self) {
        self.core.reset();
        if let Some(issuer) = &self.issuer {
            issuer.reset();
        }
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn api(this: &Arc<Self>) -> Router<Arc<Self>> {
        use directory as d;
        use users as u;
        Router::new()
            .route(
                &format!("{V1}/users"),
                get(u::list_users).post(u::insert_user),
            )
            .route(
                &format!("{V1}/users/{{key}}"),
                get(u::get_user)
                    .put(u::update_user)
                    .patch(u::update_user)
                    .delete(u::delete_user),
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
            // The token endpoint takes no access token (it is where one comes from).
            .merge(Router::new().route("/token", post(oauth::token)))
    }

    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        hand_change::apply(self, change)
    }

    fn legacy_hand_change(&self, body: &Bytes) -> Result<(), String> {
        hand_change::legacy(self, body)
    }
}

fn presented(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// `GET /__sandbox/tokens`: the minted tokens' lifetime and counts.
async fn tokens(State(g): State<Arc<Google>>) -> Response {
    match &g.issuer {
        Some(issuer) => json_response(StatusCode::OK, &issuer.settings_json()),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `POST /__sandbox/tokens`: `{"lifetime_seconds": n, "expire_now": true}`.
async fn set_tokens(State(g): State<Arc<Google>>, body: Bytes) -> Response {
    let Some(issuer) = &g.issuer else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match issuer.configure(&body, g.core.now()) {
        Ok(settings) => json_response(StatusCode::OK, &settings),
        Err(e) => e.into_response(),
    }
}

async fn google_layer(State(g): State<Arc<Google>>, req: Request, next: Next) -> Response {
    let verdict =
        presented(req.headers()).map(|token| g.bearer(token, req.method(), req.uri().path()));
    match verdict {
        Some(oauth::Bearer::Allowed) => {}
        Some(oauth::Bearer::MissingScope) => {
            return GoogleError::new(
                StatusCode::FORBIDDEN,
                "insufficientPermissions",
                "Request had insufficient authentication scopes.",
            )
            .into_response();
        }
        Some(oauth::Bearer::Invalid) | None => {
            return GoogleError::unauthenticated().into_response();
        }
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
