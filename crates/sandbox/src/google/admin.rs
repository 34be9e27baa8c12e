//! `/__sandbox/*`: test-only control of the Google emulator (write counts, faults, quota, reset, changes by hand).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::directory::ok;
use super::state::{Faults, Google, Member, Quota, ROLES, lock};
use crate::control::{bad_request, check_faults, parse};
use crate::hand_change::{self, HandChange};

pub async fn writes(State(o): State<Arc<Google>>) -> Response {
    ok(&json!({ "writes": lock(&o.inner).writes }))
}

pub async fn get_faults(State(o): State<Arc<Google>>) -> Response {
    ok(&json!(*lock(&o.faults)))
}

pub async fn set_faults(State(o): State<Arc<Google>>, body: Bytes) -> Response {
    let f: Faults = match parse(&body) {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    if let Err(e) = check_faults(f.error_rate, f.error_status) {
        return bad_request(e);
    }
    *lock(&o.faults) = f.clone();
    ok(&json!(f))
}

pub async fn get_rate_limits(State(o): State<Arc<Google>>) -> Response {
    ok(&json!(*lock(&o.quota)))
}

/// `{"window_seconds": 1, "limit": 2, "reason": "userRateLimitExceeded" | "quotaExceeded"}`.
pub async fn set_rate_limits(State(o): State<Arc<Google>>, body: Bytes) -> Response {
    let q: Quota = match parse(&body) {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    if ![
        "userRateLimitExceeded",
        "rateLimitExceeded",
        "quotaExceeded",
    ]
    .contains(&q.reason.as_str())
    {
        return bad_request(
            "reason must be userRateLimitExceeded, rateLimitExceeded or quotaExceeded".into(),
        );
    }
    *lock(&o.quota) = q.clone();
    ok(&json!(q))
}

pub async fn reset(State(o): State<Arc<Google>>) -> Response {
    o.reset();
    StatusCode::NO_CONTENT.into_response()
}

/// Ops this emulator took before the shared contract; tests still use them.
const LEGACY_OPS: [&str; 3] = ["add_member", "remove_member", "set_role"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyChange {
    /// `add_member`, `remove_member` or `set_role`.
    op: String,
    group: String,
    user: String,
    #[serde(default)]
    role: Option<String>,
}

/// A change made "directly in the Admin console": not counted as an API write, visible at once. Takes the shared
/// contract (`crate::hand_change`: `group/<group email>`, entitlements `member`, `manager`, `owner`) and the
/// older `add_member` / `remove_member` / `set_role` bodies.
pub async fn hand_change(State(o): State<Arc<Google>>, body: Bytes) -> Response {
    match hand_change::parse(&body, &LEGACY_OPS) {
        Ok(Some(change)) => hand_change::respond(apply(&o, &change)),
        Ok(None) => legacy(&o, &body),
        Err(e) => hand_change::error(e),
    }
}

fn apply(o: &Google, change: &HandChange) -> Result<(), String> {
    let now = o.clock.now();
    let mut inner = lock(&o.inner);
    let user = change.user();
    let Some(uid) = inner.find_user(user).map(|u| u.id.clone()) else {
        return Err(format!("unknown user {user}"));
    };
    // The connector's entitlements are the member roles in lower case, `member` first.
    let Some((resource, entitlement)) = change.target("member") else {
        if let Some(u) = inner.users.get_mut(&uid) {
            u.suspended = true;
        }
        return Ok(());
    };
    if resource.kind != "group" {
        return Err(hand_change::unknown_kind(resource, &["group"]));
    }
    let role = entitlement.map(str::to_uppercase);
    if let Some(role) = role.as_deref().filter(|r| !ROLES.contains(r)) {
        return Err(hand_change::unknown_entitlement(
            &role.to_lowercase(),
            resource,
            &["member", "manager", "owner"],
        ));
    }
    let Some(group) = inner
        .group_key(&resource.name)
        .ok()
        .and_then(|gid| inner.groups.get_mut(&gid))
    else {
        return Err(format!("unknown group {}", resource.name));
    };
    match role {
        Some(role) => {
            group.members.insert(
                uid,
                Member {
                    role,
                    visible_at: now,
                },
            );
        }
        None => {
            group.members.remove(&uid);
        }
    }
    Ok(())
}

fn legacy(o: &Google, body: &Bytes) -> Response {
    let c: LegacyChange = match parse(body) {
        Ok(c) => c,
        Err(e) => return bad_request(e),
    };
    let role = c.role.unwrap_or_else(|| "MEMBER".into()).to_uppercase();
    if !ROLES.contains(&role.as_str()) {
        return bad_request(format!("unknown role {role}"));
    }
    let now = o.clock.now();
    let mut inner = lock(&o.inner);
    let Ok(gid) = inner.group_key(&c.group) else {
        return bad_request(format!("unknown group {}", c.group));
    };
    let Some(uid) = inner.find_user(&c.user).map(|u| u.id.clone()) else {
        return bad_request(format!("unknown user {}", c.user));
    };
    let Some(group) = inner.groups.get_mut(&gid) else {
        return bad_request(format!("unknown group {}", c.group));
    };
    match c.op.as_str() {
        "add_member" | "set_role" => {
            group.members.insert(
                uid,
                Member {
                    role,
                    visible_at: now,
                },
            );
        }
        "remove_member" => {
            group.members.remove(&uid);
        }
        other => return bad_request(format!("unknown op {other}")),
    }
    StatusCode::NO_CONTENT.into_response()
}
