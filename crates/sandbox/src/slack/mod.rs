//! Slack Web API emulator: `/api/{method}` with arguments from query, form or JSON body, Bearer (or `token`
//! argument) auth, per-method tiered rate limits (429 + `Retry-After` + `ratelimited`), and injected faults.

mod envelope;
mod methods;
mod seed;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use rand::Rng;

pub use seed::{SlackSeed, SlackSeedChannel, SlackSeedUser};
pub use state::Slack;

use crate::emulator::{
    AdminState, Controls, EmulatorConfig, Now, admin_routes, from_loopback, injected_failure, lock,
    set_header,
};
use envelope::{Args, SlackError, ok_response};

/// How to run one emulated Slack instance.
pub type SlackConfig = EmulatorConfig;

fn random_token() -> String {
    let mut rng = rand::rng();
    let tail: String = (&mut rng)
        .sample_iter(&rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!(
        "xoxb-{}-{}-{tail}",
        rng.random_range(100_000_000_000u64..999_999_999_999),
        rng.random_range(100_000_000_000u64..999_999_999_999)
    )
}

/// Builds the emulator for `seed`; returns the router and the workspace (its `token` is what clients send).
pub fn slack_router(seed: &SlackSeed, config: SlackConfig) -> (Router, Arc<Slack>) {
    let token = config.token.unwrap_or_else(random_token);
    let slack = Arc::new(Slack::new(
        seed.clone(),
        token,
        config.clock,
        config.rate_limit_window_seconds,
    ));
    (router(slack.clone()), slack)
}

impl AdminState for Slack {
    fn controls(&self) -> &Controls {
        &self.controls
    }
    fn writes(&self) -> BTreeMap<String, u64> {
        lock(&self.inner).writes.clone()
    }
    fn reset(&self) {
        Slack::reset(self);
    }
}

fn router(slack: Arc<Slack>) -> Router {
    Router::new()
        .route("/api/{method}", any(call))
        .route("/__sandbox/hand-change", axum::routing::post(hand_change))
        .merge(admin_routes::<Slack>())
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not Found").into_response() })
        .layer(middleware::from_fn_with_state(slack.clone(), slack_layer))
        .with_state(slack)
}

async fn slack_layer(State(s): State<Arc<Slack>>, mut req: Request, next: Next) -> Response {
    req.extensions_mut().insert(Now(s.clock.now()));
    if req.uri().path().starts_with("/__sandbox") && !from_loopback(&req) {
        return StatusCode::FORBIDDEN.into_response();
    }
    next.run(req).await
}

/// `Authorization: Bearer …`, or a `token` argument (not inside a JSON body, which Slack refuses).
fn auth_error(token: &str, headers: &HeaderMap, args: &Args) -> Option<SlackError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let presented = bearer.or(if args.json_body {
        None
    } else {
        args.get("token")
    });
    match presented {
        None => Some(SlackError::new("not_authed")),
        Some(t) if token.is_empty() || t != token => Some(SlackError::new("invalid_auth")),
        Some(_) => None,
    }
}

async fn call(
    State(s): State<Arc<Slack>>,
    Path(method): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let now = req
        .extensions()
        .get::<Now>()
        .map(|n| n.0)
        .unwrap_or_else(|| s.clock.now());
    let body: Bytes = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
        Ok(b) => b,
        Err(_) => {
            return SlackError::new("request_too_large")
                .with_status(StatusCode::PAYLOAD_TOO_LARGE)
                .into_response();
        }
    };
    let decision = lock(&s.controls.limiter).charge_keyed(state::tier_of(&method), &method, now);
    if !decision.allowed {
        *lock(&s.inner).throttled.entry(method).or_default() += 1;
        let mut resp = SlackError::new("ratelimited")
            .with_status(StatusCode::TOO_MANY_REQUESTS)
            .into_response();
        set_header(&mut resp, "retry-after", &decision.retry_after.to_string());
        return resp;
    }
    let faults = lock(&s.controls.faults).clone();
    if let Some(status) = injected_failure(&faults).await {
        let error = if status == StatusCode::SERVICE_UNAVAILABLE {
            "service_unavailable"
        } else {
            "internal_error"
        };
        return SlackError::new(error).with_status(status).into_response();
    }
    let args = match Args::parse(uri.query(), &headers, &body) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    if let Some(e) = auth_error(&s.token, &headers, &args) {
        return e.into_response();
    }
    let mut inner = lock(&s.inner);
    match methods::dispatch(&method, &mut inner, &args, now.timestamp()) {
        Ok(fields) => ok_response(fields),
        Err(e) => e.into_response(),
    }
}

/// `POST /__sandbox/hand-change` (`crate::hand_change`): a workspace admin adds someone to or removes them from
/// `channel/<name>` (entitlement `member`), or deactivates them (`deleted: true`). Not counted as API writes.
async fn hand_change(State(s): State<Arc<Slack>>, body: Bytes) -> Response {
    crate::hand_change::handle(&body, |change| {
        let mut inner = lock(&s.inner);
        let who = change.user();
        let Some(uid) = inner
            .users
            .values()
            .find(|u| u.name.eq_ignore_ascii_case(who) || u.email.eq_ignore_ascii_case(who))
            .map(|u| u.id.clone())
        else {
            return Err(format!("unknown user {who}"));
        };
        let Some((resource, entitlement)) = change.target("member") else {
            if let Some(u) = inner.users.get_mut(&uid) {
                u.deleted = true;
            }
            return Ok(());
        };
        if resource.kind != "channel" {
            return Err(crate::hand_change::unknown_kind(resource, &["channel"]));
        }
        if let Some(e) = entitlement.filter(|e| *e != "member") {
            return Err(crate::hand_change::unknown_entitlement(
                e,
                resource,
                &["member"],
            ));
        }
        let name = resource.name.trim_start_matches('#');
        let Some(channel) = inner.channels.values_mut().find(|c| c.name == name) else {
            return Err(format!("unknown channel {}", resource.name));
        };
        if channel.is_archived {
            return Err(format!("channel {name} is archived"));
        }
        if entitlement.is_some() {
            channel.members.insert(uid);
        } else {
            channel.members.remove(&uid);
        }
        Ok(())
    })
}
