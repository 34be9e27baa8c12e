//! `/__sandbox/*`: test-only control of the Okta emulator (write counts, faults, rate limits, reset, counters); no Okta auth.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::context::{Ctx, json_response, ok};
use super::state::{Faults, GroupType, Inner, Okta, UserStatus, lock};
use crate::hand_change::HandChange;

fn bad_request(msg: String) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({ "error": msg }))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, String> {
    let text: &[u8] = if body.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|e| e.to_string())
}

pub async fn writes(State(o): State<Arc<Okta>>) -> Response {
    ok(&json!({ "writes": lock(&o.inner).writes }))
}

pub async fn counters(State(o): State<Arc<Okta>>) -> Response {
    ok(&json!(lock(&o.inner).counters))
}

pub async fn get_faults(State(o): State<Arc<Okta>>) -> Response {
    ok(&json!(*lock(&o.faults)))
}

pub async fn set_faults(State(o): State<Arc<Okta>>, body: Bytes) -> Response {
    let f: Faults = match parse(&body) {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    if !(0.0..=1.0).contains(&f.error_rate) {
        return bad_request("error_rate must be between 0 and 1".into());
    }
    if f.error_status != 0 && !(500..=599).contains(&f.error_status) {
        return bad_request("error_status must be a 5xx status".into());
    }
    *lock(&o.faults) = f.clone();
    ok(&json!(f))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitBody {
    #[serde(default)]
    window_seconds: Option<u64>,
    #[serde(default)]
    buckets: BTreeMap<String, u32>,
    #[serde(default)]
    all: Option<u32>,
    #[serde(default)]
    concurrency: Option<u32>,
}

pub async fn get_rate_limits(State(o): State<Arc<Okta>>) -> Response {
    ok(&json!(lock(&o.limiter).config()))
}

pub async fn set_rate_limits(State(o): State<Arc<Okta>>, body: Bytes) -> Response {
    let b: RateLimitBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(e),
    };
    let mut limiter = lock(&o.limiter);
    match limiter.configure(b.window_seconds, b.all, &b.buckets, b.concurrency) {
        Ok(()) => ok(&json!(limiter.config())),
        Err(e) => bad_request(e),
    }
}

pub async fn reset(State(o): State<Arc<Okta>>) -> Response {
    o.reset();
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /__sandbox/hand-change` (`crate::hand_change`): an administrator changes `group/<name>` membership
/// (entitlement `member`), a direct `app/<label>` assignment (entitlement `assigned`), or suspends an ACTIVE user
/// in the Admin Console. Not counted as API writes; recorded in the System Log with the event types the API
/// handlers use, so incremental sync sees them.
pub async fn hand_change(State(o): State<Arc<Okta>>, ctx: Ctx, body: Bytes) -> Response {
    crate::hand_change::handle(&body, |change| {
        let mut inner = lock(&o.inner);
        apply_hand_change(&mut inner, &ctx, change)
    })
}

fn apply_hand_change(inner: &mut Inner, ctx: &Ctx, change: &HandChange) -> Result<(), String> {
    let who = change.user();
    let Some(uid) = inner
        .find_user(who)
        .or_else(|| {
            inner.users.values().find(|u| {
                u.profile
                    .get("email")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|e| e.eq_ignore_ascii_case(who))
            })
        })
        .map(|u| u.id.clone())
    else {
        return Err(format!("unknown user {who}"));
    };
    let Some((resource, entitlement)) = change.target(match change {
        HandChange::Add { resource, .. } if resource.kind == "app" => "assigned",
        _ => "member",
    }) else {
        let status = inner.users.get(&uid).map(|u| u.status);
        if status != Some(UserStatus::Active) {
            return Err(format!(
                "cannot suspend {who}: only an ACTIVE user can be suspended, not {}",
                status.map_or("unknown", UserStatus::as_str)
            ));
        }
        if let Some(u) = inner.users.get_mut(&uid) {
            u.set_status(UserStatus::Suspended, ctx.now);
        }
        let t = vec![inner.user_target(&uid)];
        inner.log(ctx, "user.lifecycle.suspend", "Suspend Okta user", t);
        return Ok(());
    };
    let known: &[&str] = match resource.kind.as_str() {
        "group" => &["member"],
        "app" => &["assigned"],
        _ => {
            return Err(crate::hand_change::unknown_kind(
                resource,
                &["group", "app"],
            ));
        }
    };
    if let Some(e) = entitlement.filter(|e| !known.contains(e)) {
        return Err(crate::hand_change::unknown_entitlement(e, resource, known));
    }
    if resource.kind == "app" {
        let Some(app) = inner.apps.values_mut().find(|a| a.label == resource.name) else {
            return Err(format!("unknown app {}", resource.name));
        };
        let aid = app.id.clone();
        let changed = if entitlement.is_some() {
            app.users.insert(uid.clone(), ctx.now).is_none()
        } else {
            app.users.remove(&uid).is_some()
        };
        if changed {
            app.last_updated = ctx.now;
            let t = vec![inner.app_target(&aid), inner.user_target(&uid)];
            let (event, message) = if entitlement.is_some() {
                (
                    "application.user_membership.add",
                    "Add user to application membership",
                )
            } else {
                (
                    "application.user_membership.remove",
                    "Remove user's application membership",
                )
            };
            inner.log(ctx, event, message, t);
        }
        return Ok(());
    }
    let Some(group) = inner.groups.values().find(|g| g.name() == resource.name) else {
        return Err(format!("unknown group {}", resource.name));
    };
    if group.kind != GroupType::OktaGroup {
        return Err(format!(
            "group {} is {}: only OKTA_GROUP memberships can be changed",
            resource.name,
            group.kind.as_str()
        ));
    }
    let gid = group.id.clone();
    let before = inner.user_apps(&uid);
    let changed = inner.groups.get_mut(&gid).is_some_and(|g| {
        let changed = if entitlement.is_some() {
            g.members.insert(uid.clone())
        } else {
            g.members.remove(&uid)
        };
        if changed {
            g.last_membership_updated = ctx.now;
        }
        changed
    });
    if changed {
        let t = vec![inner.user_target(&uid), inner.group_target(&gid)];
        let (event, message) = if entitlement.is_some() {
            ("group.user_membership.add", "Add user to group membership")
        } else {
            (
                "group.user_membership.remove",
                "Remove user from group membership",
            )
        };
        inner.log(ctx, event, message, t);
        inner.log_app_access_diff(ctx, &uid, &before);
    }
    Ok(())
}
