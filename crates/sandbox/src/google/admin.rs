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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandChange {
    /// `add_member`, `remove_member` or `set_role`.
    op: String,
    group: String,
    user: String,
    #[serde(default)]
    role: Option<String>,
}

/// A change made "directly in the Admin console": not counted as an API write, visible at once.
pub async fn hand_change(State(o): State<Arc<Google>>, body: Bytes) -> Response {
    let c: HandChange = match parse(&body) {
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
