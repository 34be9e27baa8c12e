//! Slack Web API emulator: `/api/{method}` with arguments from query, form or JSON body, Bearer (or `token`
//! argument) auth, per-method tiered rate limits (429 + `Retry-After` + `ratelimited`; chat.postMessage's
//! special limit counted per channel), and injected faults. `chat.rs` holds the messages the app posts;
//! `app.rs` plays Slack towards the app (signed slash commands and button clicks, `response_url`s) and its
//! admin endpoints; `scim.rs` is Slack's SCIM API (`/scim/v1|v2/Users`), with its own token.

mod app;
mod chat;
mod envelope;
mod events;
mod methods;
mod scim;
mod seed;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use rand::Rng;

pub use seed::{SlackSeed, SlackSeedChannel, SlackSeedUser};
pub use state::Slack;

use crate::emulator::{
    CoreAdmin, Emulator, EmulatorConfig, Now, credentials, random_token, set_header,
};
use crate::hand_change::{self, HandChange};
use envelope::{Args, SlackError, ok_response};

/// A bot token shaped like Slack's: `xoxb-<team number>-<bot number>-<secret>`.
fn bot_token() -> String {
    let mut rng = rand::rng();
    let team = rng.random_range(100_000_000_000u64..999_999_999_999);
    let bot = rng.random_range(100_000_000_000u64..999_999_999_999);
    random_token(&format!("xoxb-{team}-{bot}-"), 24)
}

/// A user token shaped like Slack's (`xoxp-…`): the SCIM API takes a Workspace Owner's or Admin's token with
/// the `admin` scope, not the bot token.
fn user_token() -> String {
    let mut rng = rand::rng();
    let team = rng.random_range(100_000_000_000u64..999_999_999_999);
    let user = rng.random_range(100_000_000_000u64..999_999_999_999);
    random_token(&format!("xoxp-{team}-{user}-"), 32)
}

/// A signing secret shaped like Slack's: 32 lower-case hex digits.
fn signing_secret() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Emulator for Slack {
    const KIND: &'static str = "slack";
    type Seed = SlackSeed;

    fn start(seed: &SlackSeed, config: EmulatorConfig) -> Arc<Self> {
        Arc::new(Slack {
            core: config.core(seed, config.windows(state::TIERS)),
            token: config.token_or(bot_token),
            scim_token: user_token(),
            signing_secret: signing_secret(),
            verification_token: random_token("", 24),
        })
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([
            ("token", &self.token),
            ("scim_token", &self.scim_token),
            ("signing_secret", &self.signing_secret),
        ])
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    fn api(_: &Arc<Self>) -> Router<Arc<Self>> {
        Router::new()
            .route("/api/{method}", any(call))
            .route("/actions/{team}/{id}/{key}", post(app::response_url))
            .merge(scim::routes())
            .fallback(|| async { (StatusCode::NOT_FOUND, "Not Found").into_response() })
    }

    fn admin_routes() -> Router<Arc<Self>> {
        Router::new()
            .route("/__sandbox/app", get(app::get_app).post(app::set_app))
            .route("/__sandbox/slash-command", post(app::slash_command))
            .route("/__sandbox/click", post(app::click))
            .route("/__sandbox/messages", get(app::messages))
            .route("/__sandbox/responses", get(app::responses))
            .route("/__sandbox/events", get(events::list))
            .route("/__sandbox/events/redeliver", post(events::redeliver))
    }

    /// A workspace admin adds someone to or removes them from `channel/<name>` (entitlement `member`), or
    /// deactivates them (`deleted: true`).
    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        let mut inner = self.core.state();
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
            return Err(hand_change::unknown_kind(resource, &["channel"]));
        }
        if let Some(e) = entitlement.filter(|e| *e != "member") {
            return Err(hand_change::unknown_entitlement(e, resource, &["member"]));
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
    }
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
    Now(now): Now,
    Path(method): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let body: Bytes = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
        Ok(b) => b,
        Err(_) => {
            return SlackError::new("request_too_large")
                .with_status(StatusCode::PAYLOAD_TOO_LARGE)
                .into_response();
        }
    };
    let args = Args::parse(uri.query(), &headers, &body);
    // chat.postMessage's budget is per channel; every other method's is the method's.
    let key = match (method.as_str(), &args) {
        ("chat.postMessage", Ok(a)) => format!("{method}:{}", a.get("channel").unwrap_or("")),
        _ => method.clone(),
    };
    let decision = s
        .core
        .limits()
        .charge_keyed(state::tier_of(&method), &key, now);
    if !decision.allowed {
        *s.core.state().throttled.entry(method).or_default() += 1;
        let mut resp = SlackError::new("ratelimited")
            .with_status(StatusCode::TOO_MANY_REQUESTS)
            .into_response();
        set_header(&mut resp, "retry-after", &decision.retry_after.to_string());
        return resp;
    }
    if let Some(status) = s
        .core
        .injected_failure(StatusCode::INTERNAL_SERVER_ERROR)
        .await
    {
        let error = if status == StatusCode::SERVICE_UNAVAILABLE {
            "service_unavailable"
        } else {
            "internal_error"
        };
        return SlackError::new(error).with_status(status).into_response();
    }
    let args = match args {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    if let Some(e) = auth_error(&s.token, &headers, &args) {
        return e.into_response();
    }
    let mut inner = s.core.state();
    match methods::dispatch(&method, &mut inner, &args, now.timestamp()) {
        Ok(fields) => {
            // A new public channel is an Events API `channel_created` for the app.
            let created = (method == "conversations.create")
                .then(|| fields.get("channel").and_then(|c| c.get("id")))
                .flatten()
                .and_then(|id| id.as_str())
                .and_then(|id| inner.channels.get(id).cloned());
            drop(inner);
            if let Some(channel) = created {
                events::channel_created(&s, &channel);
            }
            ok_response(fields)
        }
        Err(e) => e.into_response(),
    }
}
