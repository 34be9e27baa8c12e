//! Jira Cloud REST emulator: the same handlers under `/rest/api/2`, `/3` and `latest` (the `jira` library uses
//! `2` and `latest`, Atlassian documents `3`), Basic auth with email and API token, Jira's error body, and 429s
//! with an integer `Retry-After` and the `X-RateLimit-*` headers. Users are created and deleted as `users.rs` says.

mod errors;
mod handlers;
mod issues;
mod seed;
mod state;
mod users;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;

pub use errors::JiraError;
pub use issues::hub_signature;
pub use seed::{JiraSeed, JiraSeedActors, JiraSeedGroup, JiraSeedProject, JiraSeedUser};
pub use state::{ADMIN_EMAIL, Jira};

use crate::emulator::{CoreAdmin, Emulator, EmulatorConfig, credentials, random_token, set_header};
use crate::hand_change::HandChange;

impl Emulator for Jira {
    const KIND: &'static str = "jira";
    type Seed = JiraSeed;

    fn start(seed: &JiraSeed, config: EmulatorConfig) -> Arc<Self> {
        Arc::new(Jira {
            core: config.core(seed, config.windows(state::BUCKETS)),
            email: ADMIN_EMAIL.into(),
            // Atlassian API tokens are opaque; this one looks like them.
            token: config.token_or(|| random_token("ATATT3xFfGF0", 48)),
        })
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([("email", &self.email), ("token", &self.token)])
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn api(this: &Arc<Self>) -> Router<Arc<Self>> {
        use handlers as h;
        let mut r = Router::new();
        for version in ["2", "3", "latest"] {
            let p = format!("/rest/api/{version}");
            r = r
                .route(&format!("{p}/serverInfo"), get(h::server_info))
                .route(&format!("{p}/myself"), get(h::myself))
                .route(&format!("{p}/project"), get(h::projects))
                .route(&format!("{p}/project/search"), get(h::project_search))
                .route(&format!("{p}/project/{{key}}"), get(h::project))
                .route(&format!("{p}/project/{{key}}/role"), get(h::project_roles))
                .route(
                    &format!("{p}/project/{{key}}/role/{{id}}"),
                    get(h::project_role)
                        .post(h::add_actors)
                        .put(h::set_actors)
                        .delete(h::remove_actor),
                )
                .route(&format!("{p}/role"), get(h::roles))
                .route(
                    &format!("{p}/group"),
                    get(h::group_legacy)
                        .post(h::create_group)
                        .delete(h::delete_group),
                )
                .route(&format!("{p}/group/bulk"), get(h::group_bulk))
                .route(&format!("{p}/groups/picker"), get(h::groups_picker))
                .route(&format!("{p}/group/member"), get(h::group_members))
                .route(
                    &format!("{p}/group/user"),
                    axum::routing::post(h::add_group_user).delete(h::remove_group_user),
                )
                .route(
                    &format!("{p}/user"),
                    get(h::user)
                        .post(users::create_user)
                        .delete(users::delete_user),
                )
                // The `jira` library's delete_user asks for `user/?username=`.
                .route(
                    &format!("{p}/user/"),
                    axum::routing::delete(users::delete_user),
                )
                .route(&format!("{p}/user/search"), get(h::user_search))
                .route(&format!("{p}/users/search"), get(h::users))
                .route(&format!("{p}/users"), get(h::users))
                .route(
                    &format!("{p}/issue"),
                    axum::routing::post(issues::create_issue),
                )
                .route(&format!("{p}/issue/{{id}}"), get(issues::get_issue));
        }
        r.fallback(|| async { JiraError::not_found("Not Found") })
            .method_not_allowed_fallback(|| async {
                JiraError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
            })
            .layer(middleware::from_fn_with_state(this.clone(), jira_layer))
    }

    fn admin_routes() -> Router<Arc<Self>> {
        Router::new().route(
            "/__sandbox/webhooks",
            get(issues::get_webhooks).post(issues::set_webhook),
        )
    }

    /// Project role actors, group membership and deactivation, as an administrator changes them in Jira's own
    /// pages.
    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        self.core.state().hand_change(change)
    }
}

/// `Authorization: Basic base64(email:api_token)`.
fn authorized(j: &Jira, req: &Request) -> bool {
    let Some(encoded) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    match text.split_once(':') {
        Some((email, token)) => {
            !j.token.is_empty() && email.eq_ignore_ascii_case(&j.email) && token == j.token
        }
        None => false,
    }
}

async fn jira_layer(State(j): State<Arc<Jira>>, req: Request, next: Next) -> Response {
    let now = j.core.now();
    let decision = j.core.limits().charge("api", now);
    if !decision.allowed {
        j.core.state().throttled += 1;
        let mut resp = JiraError::rate_limited().into_response();
        set_header(&mut resp, "retry-after", &decision.retry_after.to_string());
        set_header(&mut resp, "x-ratelimit-limit", &decision.limit.to_string());
        set_header(&mut resp, "x-ratelimit-remaining", "0");
        if let Some(reset) = chrono::DateTime::from_timestamp(decision.reset, 0) {
            set_header(
                &mut resp,
                "x-ratelimit-reset",
                &reset.format("%Y-%m-%dT%H:%MZ").to_string(),
            );
        }
        set_header(&mut resp, "ratelimit-reason", "jira-burst-based");
        return resp;
    }
    if let Some(status) = j
        .core
        .injected_failure(StatusCode::INTERNAL_SERVER_ERROR)
        .await
    {
        return JiraError::server(status).into_response();
    }
    // Jira Cloud answers serverInfo anonymously.
    let anonymous = req.uri().path().ends_with("/serverInfo");
    if !anonymous && !authorized(&j, &req) {
        return JiraError::unauthorized().into_response();
    }
    let mut resp = next.run(req).await;
    // Jira only warns when a caller is close to its limit.
    if u64::from(decision.remaining) * 5 < u64::from(decision.limit) {
        set_header(&mut resp, "x-ratelimit-nearlimit", "true");
    }
    resp
}
