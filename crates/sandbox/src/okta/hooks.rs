//! Event hooks: `/api/v1/eventHooks` (create, list, get, delete, activate/deactivate/verify) and delivery of
//! System Log events to verified hooks with Okta's envelope, auth header and one retry on 5xx or timeout
//! (notes/okta.md §1.7).

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::context::{Ctx, no_content, ok, parse_body};
use super::errors::{OktaError, OktaResult};
use super::ids::{self, ts};
use super::state::Okta;
use crate::emulator::lock;

/// Okta gives the hook 3 s to answer and retries once.
const HOOK_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct Hook {
    id: String,
    name: String,
    events: Vec<String>,
    uri: String,
    headers: Vec<(String, String)>,
    auth: Option<(String, String)>,
    active: bool,
    verified: bool,
    created: DateTime<Utc>,
    last_updated: DateTime<Utc>,
    /// The System Log position up to which events were handed to this hook.
    delivered_seq: u64,
}

/// One delivery attempt, kept for tests (`/__sandbox/hooks/deliveries`).
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub hook_id: String,
    pub event_id: String,
    pub attempt: u32,
    pub status: Option<u16>,
    pub events: usize,
}

#[derive(Debug, Default)]
pub struct Hooks {
    hooks: std::collections::BTreeMap<String, Hook>,
    deliveries: Vec<Delivery>,
    /// The org URL as clients last reached it (for the envelope's `source`).
    base: String,
}

impl Hook {
    fn to_json(&self, ctx: &Ctx) -> Value {
        let me = format!("/api/v1/eventHooks/{}", self.id);
        let headers: Vec<Value> = self
            .headers
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let mut config = json!({"uri": self.uri, "headers": headers, "method": "POST"});
        if let Some((key, _)) = &self.auth {
            // Okta never echoes the secret back.
            config["authScheme"] = json!({"type": "HEADER", "key": key});
        }
        json!({
            "id": self.id,
            "name": self.name,
            "status": if self.active { "ACTIVE" } else { "INACTIVE" },
            "verificationStatus": if self.verified { "VERIFIED" } else { "UNVERIFIED" },
            "events": {"type": "EVENT_TYPE", "items": self.events},
            "channel": {"type": "HTTP", "version": "1.0.0", "config": config},
            "created": ts(self.created),
            "createdBy": super::state::ACTOR_ID,
            "lastUpdated": ts(self.last_updated),
            "description": Value::Null,
            "_links": {
                "self": ctx.href(&me),
                "verify": ctx.href(&format!("{me}/lifecycle/verify")),
                "deactivate": ctx.href(&format!("{me}/lifecycle/deactivate")),
            },
        })
    }
}

#[derive(Debug, Deserialize)]
struct KeyValue {
    key: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelConfig {
    uri: String,
    #[serde(default)]
    headers: Vec<KeyValue>,
    #[serde(default)]
    auth_scheme: Option<KeyValue>,
}

#[derive(Debug, Deserialize)]
struct Channel {
    config: ChannelConfig,
}

#[derive(Debug, Deserialize)]
struct Events {
    items: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct CreateHook {
    name: String,
    events: Events,
    channel: Channel,
}

pub async fn create(State(o): State<Arc<Okta>>, ctx: Ctx, body: Bytes) -> OktaResult<Response> {
    let req: CreateHook = parse_body(&body, "eventHook")?;
    if req.name.trim().is_empty() || req.events.items.is_empty() {
        return Err(OktaError::validation(
            "eventHook",
            vec!["name and events.items are required".into()],
        ));
    }
    if req.events.items.len() > 300 {
        return Err(OktaError::validation(
            "events",
            vec!["events: at most 300 event types".into()],
        ));
    }
    let seq = o.core.state().log_seq;
    let id = o.core.state().new_id("who");
    let hook = Hook {
        id: id.clone(),
        name: req.name,
        events: req.events.items,
        uri: req.channel.config.uri,
        headers: req
            .channel
            .config
            .headers
            .into_iter()
            .map(|h| (h.key, h.value))
            .collect(),
        auth: req.channel.config.auth_scheme.map(|a| (a.key, a.value)),
        active: true,
        verified: false,
        created: ctx.now,
        last_updated: ctx.now,
        delivered_seq: seq,
    };
    let body = hook.to_json(&ctx);
    let mut hooks = lock(&o.hooks);
    hooks.base = ctx.base.clone();
    hooks.hooks.insert(id, hook);
    Ok(ok(&body))
}

pub async fn list(State(o): State<Arc<Okta>>, ctx: Ctx) -> OktaResult<Response> {
    let hooks = lock(&o.hooks);
    let items: Vec<Value> = hooks.hooks.values().map(|h| h.to_json(&ctx)).collect();
    Ok(ok(&Value::Array(items)))
}

fn not_found(id: &str) -> OktaError {
    OktaError::not_found(id, "EventHook")
}

pub async fn get(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> OktaResult<Response> {
    let hooks = lock(&o.hooks);
    let hook = hooks.hooks.get(&id).ok_or_else(|| not_found(&id))?;
    Ok(ok(&hook.to_json(&ctx)))
}

pub async fn delete(State(o): State<Arc<Okta>>, Path(id): Path<String>) -> OktaResult<Response> {
    let mut hooks = lock(&o.hooks);
    match hooks.hooks.get(&id) {
        None => Err(not_found(&id)),
        Some(h) if h.active => Err(OktaError::validation(
            "eventHook",
            vec!["Cannot delete an ACTIVE event hook; deactivate it first".into()],
        )),
        Some(_) => {
            hooks.hooks.remove(&id);
            Ok(no_content())
        }
    }
}

pub async fn lifecycle(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path((id, op)): Path<(String, String)>,
) -> OktaResult<Response> {
    let hook = lock(&o.hooks)
        .hooks
        .get(&id)
        .cloned()
        .ok_or_else(|| not_found(&id))?;
    let (active, verified) = match op.as_str() {
        "activate" => (true, hook.verified),
        "deactivate" => (false, hook.verified),
        "verify" => {
            if !challenge(&hook).await {
                return Err(OktaError::validation(
                    "eventHook",
                    vec![format!(
                        "Verification of the event hook endpoint {} failed",
                        hook.uri
                    )],
                ));
            }
            (hook.active, true)
        }
        _ => return Err(OktaError::path_not_found()),
    };
    let mut hooks = lock(&o.hooks);
    let hook = hooks.hooks.get_mut(&id).ok_or_else(|| not_found(&id))?;
    hook.active = active;
    hook.verified = verified;
    hook.last_updated = ctx.now;
    Ok(ok(&hook.to_json(&ctx)))
}

fn client() -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(HOOK_TIMEOUT)
        .build()
        .ok()
}

/// The one-time GET with `x-okta-verification-challenge`; the hook must echo it as `{"verification": …}`.
async fn challenge(hook: &Hook) -> bool {
    let Some(http) = client() else { return false };
    for _ in 0..2 {
        let value = ids::request_id();
        let mut req = http
            .get(&hook.uri)
            .header("x-okta-verification-challenge", &value);
        for (k, v) in &hook.headers {
            req = req.header(k, v);
        }
        if let Some((k, v)) = &hook.auth {
            req = req.header(k, v);
        }
        if let Ok(resp) = req.send().await
            && resp.status().is_success()
            && let Ok(body) = resp.json::<Value>().await
            && body.get("verification").and_then(Value::as_str) == Some(value.as_str())
        {
            return true;
        }
    }
    false
}

/// Delivers every System Log event not yet handed to each active, verified hook that subscribes to its type.
/// A 5xx or timeout is retried once with the same `eventId`; a 4xx is not retried.
pub async fn deliver_pending(o: &Okta, base: &str) {
    // Taken and marked delivered under one lock, so a concurrent flush cannot send the same events twice.
    let work: Vec<(Hook, Vec<Value>)> = {
        let inner = o.core.state();
        let mut hooks = lock(&o.hooks);
        hooks
            .hooks
            .values_mut()
            .filter(|h| h.active && h.verified)
            .map(|h| {
                let events: Vec<Value> = inner
                    .logs
                    .iter()
                    .filter(|r| r.seq > h.delivered_seq)
                    .filter(|r| {
                        r.event
                            .get("eventType")
                            .and_then(Value::as_str)
                            .is_some_and(|t| h.events.iter().any(|e| e == t))
                    })
                    .map(|r| r.event.clone())
                    .collect();
                h.delivered_seq = inner.log_seq;
                (h.clone(), events)
            })
            .collect()
    };
    let Some(http) = client() else { return };
    for (hook, events) in work {
        if events.is_empty() {
            continue;
        }
        let event_id = ids::uuid();
        let payload = json!({
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "source": format!("{base}/api/v1/eventHooks/{}", hook.id),
            "eventId": event_id,
            "eventTime": ts(o.core.now()),
            "contentType": "application/json",
            "data": {"events": events},
        });
        for attempt in 1..=2 {
            let mut req = http
                .post(&hook.uri)
                .header("Accept", "application/json")
                .json(&payload);
            for (k, v) in &hook.headers {
                req = req.header(k, v);
            }
            if let Some((k, v)) = &hook.auth {
                req = req.header(k, v);
            }
            let status = req.send().await.ok().map(|r| r.status().as_u16());
            lock(&o.hooks).deliveries.push(Delivery {
                hook_id: hook.id.clone(),
                event_id: event_id.clone(),
                attempt,
                status,
                events: events.len(),
            });
            if !retried(status) {
                break;
            }
        }
    }
}

/// Delivers in the background every `every`, for as long as the org exists.
pub fn spawn_delivery(o: &Arc<Okta>, every: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak: Weak<Okta> = Arc::downgrade(o);
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(o) = weak.upgrade() else { return };
            let base = lock(&o.hooks).base.clone();
            deliver_pending(&o, &base).await;
        }
    });
}

/// `POST /__sandbox/hooks/deliver`: delivers now and returns every attempt so far.
pub async fn deliver_now(State(o): State<Arc<Okta>>, headers: axum::http::HeaderMap) -> Response {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or("127.0.0.1");
    deliver_pending(&o, &format!("http://{host}")).await;
    ok(&json!({ "deliveries": lock(&o.hooks).deliveries }))
}

/// Whether a delivery answered with `status` (`None`: no answer in time) is tried again.
fn retried(status: Option<u16>) -> bool {
    status.is_none_or(|s| s >= 500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_server_errors_and_timeouts_are_retried() {
        assert!(retried(None));
        assert!(retried(Some(503)));
        assert!(!retried(Some(401)));
        assert!(!retried(Some(204)));
    }
}
