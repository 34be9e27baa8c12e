//! Okta Privileged Access (OPA) emulator: `/v1/teams/{team}/…` with service-token auth (key id and secret for a
//! bearer token that expires), `{"list":[…]}` pages with a `Link: rel="next"` carrying `offset`, 429 with
//! `X-RateLimit-Retry-At`, and injected faults. Admin endpoints of its own besides the shared ones
//! (`crate::emulator`): `/__sandbox/expire-tokens` and `/__sandbox/pushed` (what Okta's group push changed).
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

pub use seed::{
    OpaSeed, OpaSeedGroup, OpaSeedPolicy, OpaSeedProject, OpaSeedResourceGroup, OpaSeedUser,
    valid_folder_name,
};
pub use state::Opa;

use crate::emulator::{
    CoreAdmin, Emulator, EmulatorConfig, credentials, json_response, random_token, set_header,
};
use crate::hand_change::HandChange;

/// The team's id in objects that name it.
pub(crate) const TEAM_ID: &str = "6f3d2b1a-0000-4000-8000-00000000team";
/// The service user the key belongs to; it creates whatever the API creates.
pub(crate) const SERVICE_USER: &str = "grantflow-service";

/// One bucket for the whole team (OPA publishes no per-endpoint limits).
const BUCKETS: &[(&str, u32)] = &[("api", 600)];

impl Emulator for Opa {
    const KIND: &'static str = "opa";
    type Seed = OpaSeed;

    /// The team's `key_id`/`key_secret` are what clients exchange for a bearer token; `config.token` is the secret.
    fn start(seed: &OpaSeed, config: EmulatorConfig) -> Arc<Self> {
        Arc::new(Opa {
            core: config.core(seed, config.windows(BUCKETS)),
            team: seed.team.clone(),
            key_id: uuid::Uuid::new_v4().to_string(),
            key_secret: config.token_or(|| random_token("", 40)),
            token_ttl: chrono::Duration::hours(1),
        })
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([
            ("team", &self.team),
            ("key_id", &self.key_id),
            ("key_secret", &self.key_secret),
        ])
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn api(this: &Arc<Self>) -> Router<Arc<Self>> {
        router(this)
    }

    fn admin_routes() -> Router<Arc<Self>> {
        Router::new()
            .route("/__sandbox/expire-tokens", post(handlers::expire_tokens))
            .route("/__sandbox/pushed", get(handlers::pushed_counts))
    }

    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        self.core.state().hand_change(change)
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

fn router(opa: &Arc<Opa>) -> Router<Arc<Opa>> {
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
        .fallback(|| async { OpaError::not_found("path") })
        .layer(middleware::from_fn_with_state(opa.clone(), opa_layer))
}

/// The team named in the path, if the path is an API path.
fn path_team(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/teams/")?.split('/').next()
}

async fn opa_layer(State(o): State<Arc<Opa>>, req: Request, next: Next) -> Response {
    let now = o.core.now();
    let path = req.uri().path().to_owned();
    let decision = o.core.limits().charge("api", now);
    if !decision.allowed {
        o.core.state().throttled += 1;
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
    if let Some(status) = o
        .core
        .injected_failure(StatusCode::INTERNAL_SERVER_ERROR)
        .await
    {
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
        let valid = o
            .core
            .state()
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
        Opa::start(&seed, EmulatorConfig::default())
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
            let inner = opa.core.state();
            let group = inner.group_by_name("OPA Payments Secrets").expect("pushed");
            assert!(group.pushed);
            group.members.iter().cloned().collect::<Vec<_>>()
        };
        assert_eq!(members(&opa), ["new.hire", "ravi.patel"]);
        assert_eq!(
            opa.core.state().users["new.hire"].email,
            "new.hire@example.com"
        );
        opa.sync_pushed_groups(&pushed(&["ravi.patel@example.com"]));
        assert_eq!(members(&opa), ["ravi.patel"]);
        let inner = opa.core.state();
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
        let mut inner = opa.core.state();
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
