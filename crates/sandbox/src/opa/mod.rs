//! Okta Privileged Access (OPA) emulator: `/v1/teams/{team}/…` with service-token auth (key id and secret for a
//! bearer token that expires), `{"list":[…]}` pages with a `Link: rel="next"` carrying `offset`, 429 with
//! `X-RateLimit-Retry-At`, injected faults, and the shared `/__sandbox` admin endpoints.
//!
//! Sources: https://developer.okta.com/docs/api/openapi/opa/ and Okta's Terraform provider
//! (`okta/terraform-provider-oktapam`, `oktapam/client/*.go`). Error bodies carry `code` and `message`; their
//! exact shape is not documented publicly.

mod handlers;
mod seed;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use rand::distr::Alphanumeric;

pub use seed::{
    OpaSeed, OpaSeedGroup, OpaSeedPolicy, OpaSeedProject, OpaSeedResourceGroup, OpaSeedUser,
    valid_folder_name,
};
pub use state::Opa;

use crate::emulator::{
    AdminState, Controls, EmulatorConfig, Now, admin_routes, from_loopback, injected_failure,
    json_response, lock, set_header,
};

/// How to run one emulated OPA team; `token` is the service user's key secret.
pub type OpaConfig = EmulatorConfig;

/// The team's id in objects that name it.
pub(crate) const TEAM_ID: &str = "6f3d2b1a-0000-4000-8000-00000000team";
/// The service user the key belongs to; it creates whatever the API creates.
pub(crate) const SERVICE_USER: &str = "grantflow-service";

/// One bucket for the whole team (OPA publishes no per-endpoint limits).
const BUCKETS: &[(&str, u32)] = &[("api", 600)];

fn random(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// Builds the emulator for `seed`; returns the router and the team (its `key_id`/`key_secret` are what clients
/// exchange for a bearer token).
pub fn opa_router(seed: &OpaSeed, config: OpaConfig) -> (Router, Arc<Opa>) {
    let opa = Arc::new(Opa {
        inner: std::sync::Mutex::new(state::Inner::seeded(seed, config.clock.now())),
        controls: Controls::new(config.rate_limit_window_seconds, BUCKETS),
        clock: config.clock,
        team: seed.team.clone(),
        key_id: uuid::Uuid::new_v4().to_string(),
        key_secret: config.token.unwrap_or_else(|| random(40)),
        token_ttl: chrono::Duration::hours(1),
        seed: seed.clone(),
    });
    (router(opa.clone()), opa)
}

impl AdminState for Opa {
    fn controls(&self) -> &Controls {
        &self.controls
    }
    fn writes(&self) -> BTreeMap<String, u64> {
        lock(&self.inner).writes.clone()
    }
    fn reset(&self) {
        Opa::reset(self);
    }
}

/// An OPA error answer: the status, a machine code and a message.
#[derive(Debug)]
pub struct OpaError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl OpaError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "resource_not_found",
            format!("{what} not found"),
        )
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
}

impl IntoResponse for OpaError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &serde_json::json!({"code": self.code, "message": self.message}),
        )
    }
}

fn router(opa: Arc<Opa>) -> Router {
    use handlers as h;
    let t = "/v1/teams/{team}";
    let rg = format!("{t}/resource_groups/{{rg}}/projects/{{project}}");
    Router::new()
        .route(&format!("{t}/service_token"), post(h::service_token))
        .route(&format!("{t}/users"), get(h::list_users))
        .route(&format!("{t}/users/{{user}}"), get(h::get_user))
        .route(
            &format!("{t}/groups"),
            get(h::list_groups).post(h::create_group),
        )
        .route(
            &format!("{t}/groups/{{group}}"),
            get(h::get_group)
                .put(h::update_group)
                .delete(h::delete_group),
        )
        .route(
            &format!("{t}/groups/{{group}}/users"),
            get(h::group_members).post(h::add_member),
        )
        .route(
            &format!("{t}/groups/{{group}}/users/{{user}}"),
            axum::routing::delete(h::remove_member),
        )
        .route(
            &format!("{t}/resource_groups"),
            get(h::list_resource_groups).post(h::create_resource_group),
        )
        .route(
            &format!("{t}/resource_groups/{{rg}}"),
            get(h::get_resource_group),
        )
        .route(
            &format!("{t}/resource_groups/{{rg}}/projects"),
            get(h::list_projects).post(h::create_project),
        )
        .route(&rg, get(h::get_project))
        .route(
            &format!("{rg}/secret_folders"),
            get(h::list_folders).post(h::create_folder),
        )
        .route(
            &format!("{rg}/secret_folders/{{folder}}"),
            get(h::get_folder)
                .put(h::update_folder)
                .delete(h::delete_folder),
        )
        .route(
            &format!("{t}/security_policy"),
            get(h::list_policies).post(h::create_policy),
        )
        .route(
            &format!("{t}/security_policy/{{policy}}"),
            get(h::get_policy)
                .put(h::update_policy)
                .delete(h::delete_policy),
        )
        .route("/__sandbox/expire-tokens", post(h::expire_tokens))
        .route("/__sandbox/pushed", get(h::pushed_counts))
        .route(
            "/__sandbox/hand-change",
            post(
                |State(o): State<Arc<Opa>>, body: axum::body::Bytes| async move {
                    crate::hand_change::handle(&body, |change| lock(&o.inner).hand_change(change))
                },
            ),
        )
        .merge(admin_routes::<Opa>())
        .fallback(|| async { OpaError::not_found("path") })
        .layer(middleware::from_fn_with_state(opa.clone(), opa_layer))
        .with_state(opa)
}

/// The team named in the path, if the path is an API path.
fn path_team(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/teams/")?.split('/').next()
}

async fn opa_layer(State(o): State<Arc<Opa>>, mut req: Request, next: Next) -> Response {
    let now = o.clock.now();
    req.extensions_mut().insert(Now(now));
    let path = req.uri().path().to_owned();
    if path.starts_with("/__sandbox") {
        if !from_loopback(&req) {
            return StatusCode::FORBIDDEN.into_response();
        }
        return next.run(req).await;
    }
    let decision = lock(&o.controls.limiter).charge("api", now);
    if !decision.allowed {
        lock(&o.inner).throttled += 1;
        let mut resp = OpaError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests",
        )
        .into_response();
        set_header(
            &mut resp,
            "x-ratelimit-retry-at",
            &decision.reset.to_string(),
        );
        return resp;
    }
    let faults = lock(&o.controls.faults).clone();
    if let Some(status) = injected_failure(&faults).await {
        return OpaError::new(status, "internal_error", "An unexpected error occurred")
            .into_response();
    }
    // Team names are plain ([A-Za-z0-9-_.]); the provider compares them case-insensitively.
    let team_ok = path_team(&path).is_some_and(|t| t.eq_ignore_ascii_case(&o.team));
    if !team_ok {
        return OpaError::not_found("team").into_response();
    }
    if !path.ends_with("/service_token") {
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let valid = lock(&o.inner)
            .tokens
            .get(bearer)
            .is_some_and(|expires| *expires > now);
        if !valid {
            return OpaError::new(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "Authentication failed: the bearer token is missing, unknown or expired",
            )
            .into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn team() -> Arc<Opa> {
        let seed = OpaSeed {
            team: "t".into(),
            users: vec![OpaSeedUser {
                email: "ravi.patel@example.com".into(),
                name: None,
                disabled: false,
            }],
            groups: vec![OpaSeedGroup {
                name: "local".into(),
                roles: vec![],
                members: vec!["ravi.patel@example.com".into()],
            }],
            ..OpaSeed::default()
        };
        opa_router(&seed, OpaConfig::default()).1
    }

    #[test]
    fn a_pushed_group_follows_okta_membership_and_new_members_become_users() {
        let opa = team();
        let pushed = |members: &[&str]| {
            BTreeMap::from([(
                "OPA Payments Secrets".to_string(),
                members.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
            )])
        };
        opa.sync_pushed_groups(&pushed(&["RAVI.PATEL@example.com", "new.hire@example.com"]));
        let members = |opa: &Opa| {
            let inner = lock(&opa.inner);
            let group = inner.group_by_name("OPA Payments Secrets").expect("pushed");
            assert!(group.pushed);
            group.members.iter().cloned().collect::<Vec<_>>()
        };
        assert_eq!(members(&opa), ["new.hire", "ravi.patel"]);
        assert_eq!(
            lock(&opa.inner).users["new.hire"].email,
            "new.hire@example.com"
        );
        opa.sync_pushed_groups(&pushed(&["ravi.patel@example.com"]));
        assert_eq!(members(&opa), ["ravi.patel"]);
        let inner = lock(&opa.inner);
        assert!(inner.writes.is_empty(), "pushes are not API writes");
        assert_eq!(inner.pushed["group/OPA Payments Secrets"], 2);
        assert!(!inner.group_by_name("local").expect("seeded").pushed);
    }

    #[test]
    fn a_change_by_hand_to_a_pushed_group_is_refused_like_the_api_refuses_it() {
        let opa = team();
        opa.sync_pushed_groups(&BTreeMap::from([(
            "OPA Payments Secrets".to_string(),
            vec!["ravi.patel@example.com".to_string()],
        )]));
        let change = |body: &str| {
            crate::hand_change::parse(&axum::body::Bytes::from(body.to_owned()), &[])
                .expect("parses")
                .expect("shared op")
        };
        let mut inner = lock(&opa.inner);
        let err = inner
            .hand_change(&change(
                r#"{"op": "remove", "user": "ravi.patel", "resource": "group/OPA Payments Secrets"}"#,
            ))
            .expect_err("pushed");
        assert!(err.contains("managed by Okta group push"), "{err}");
        assert!(
            inner
                .group_by_name("OPA Payments Secrets")
                .expect("pushed")
                .members
                .contains("ravi.patel")
        );
        inner
            .hand_change(&change(
                r#"{"op": "remove", "user": "ravi.patel@example.com", "resource": "group/local"}"#,
            ))
            .expect("a local group changes");
        assert!(
            inner
                .group_by_name("local")
                .expect("seeded")
                .members
                .is_empty()
        );
        assert!(
            inner.writes.is_empty(),
            "changes by hand are not API writes"
        );
    }
}
