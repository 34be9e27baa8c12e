//! `/__sandbox/*`: test-only control of the GitHub emulator (write counts, faults, rate limits, reset, changes
//! made by hand such as a user accepting an invitation).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::pagination::ok;
use super::rate_limit::LimitsConfig;
use super::state::{Faults, Github, PERMISSIONS, TeamMember, lock};
use crate::control::{bad_request, check_faults, parse};
use crate::hand_change::{self, HandChange};

/// A team's roles, as the connector names its entitlements.
const TEAM_ROLES: [&str; 2] = ["member", "maintainer"];

pub async fn writes(State(o): State<Arc<Github>>) -> Response {
    ok(&json!({ "writes": lock(&o.inner).writes }))
}

pub async fn get_faults(State(o): State<Arc<Github>>) -> Response {
    ok(&json!(*lock(&o.faults)))
}

pub async fn set_faults(State(o): State<Arc<Github>>, body: Bytes) -> Response {
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

pub async fn get_rate_limits(State(o): State<Arc<Github>>) -> Response {
    ok(&json!(lock(&o.limits).config))
}

/// Fields left out keep their current values.
pub async fn set_rate_limits(State(o): State<Arc<Github>>, body: Bytes) -> Response {
    let mut current = serde_json::to_value(&lock(&o.limits).config).unwrap_or_default();
    let patch: serde_json::Map<String, serde_json::Value> = match parse(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    for (k, v) in patch {
        current[k] = v;
    }
    let config: LimitsConfig = match serde_json::from_value(current) {
        Ok(c) => c,
        Err(e) => return bad_request(e.to_string()),
    };
    if let Err(e) = config.check() {
        return bad_request(e);
    }
    lock(&o.limits).configure(config.clone());
    ok(&json!(config))
}

pub async fn reset(State(o): State<Arc<Github>>) -> Response {
    o.reset();
    StatusCode::NO_CONTENT.into_response()
}

/// Ops this emulator took before the shared contract; tests still use them.
const LEGACY_OPS: [&str; 5] = [
    "accept_invitation",
    "add_team_member",
    "remove_team_member",
    "set_team_repo",
    "remove_team_repo",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyChange {
    /// `accept_invitation`, `add_team_member`, `remove_team_member`, `set_team_repo` or `remove_team_repo`.
    op: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    repo: Option<String>,
    /// A team role (member, maintainer) or a repository permission.
    #[serde(default)]
    role: Option<String>,
}

/// A change made on github.com rather than through the API: not counted as a write. Takes the shared contract
/// (`crate::hand_change`: `team/<team name or slug>`, entitlements `member`, `maintainer`; suspend sets
/// `suspended_at`) and the older ops in [`LEGACY_OPS`].
pub async fn hand_change(State(o): State<Arc<Github>>, body: Bytes) -> Response {
    match hand_change::parse(&body, &LEGACY_OPS) {
        Ok(Some(change)) => hand_change::respond(apply(&o, &change)),
        Ok(None) => legacy(&o, &body),
        Err(e) => hand_change::error(e),
    }
}

fn apply(o: &Github, change: &HandChange) -> Result<(), String> {
    let now = o.clock.now();
    let mut inner = lock(&o.inner);
    let Some(login) = inner.find_user(change.user()) else {
        return Err(format!("unknown user {}", change.user()));
    };
    let Some((resource, entitlement)) = change.target("member") else {
        if let Some(u) = inner.users.get_mut(&login) {
            u.suspended_at.get_or_insert(now);
        }
        return Ok(());
    };
    // Repository grants are held by teams, not people, so a person cannot be given one here.
    if resource.kind != "team" {
        return Err(hand_change::unknown_kind(resource, &["team"]));
    }
    if let Some(role) = entitlement.filter(|r| !TEAM_ROLES.contains(r)) {
        return Err(hand_change::unknown_entitlement(
            role,
            resource,
            &TEAM_ROLES,
        ));
    }
    let pending = !inner.is_active_member(&login);
    let Some(team) = inner.teams.values_mut().find(|t| {
        t.name.eq_ignore_ascii_case(&resource.name) || t.slug.eq_ignore_ascii_case(&resource.name)
    }) else {
        return Err(format!("unknown team {}", resource.name));
    };
    match entitlement {
        Some(role) => {
            team.members.insert(
                login,
                TeamMember {
                    role: role.to_owned(),
                    pending,
                },
            );
        }
        None => {
            team.members.remove(&login);
        }
    }
    Ok(())
}

fn legacy(o: &Github, body: &Bytes) -> Response {
    let c: LegacyChange = match parse(body) {
        Ok(c) => c,
        Err(e) => return bad_request(e),
    };
    let mut inner = lock(&o.inner);
    let user = c.user.as_deref().unwrap_or("").to_lowercase();
    if c.op == "accept_invitation" {
        let Some(m) = inner.memberships.get_mut(&user) else {
            return bad_request(format!("{user} has no invitation"));
        };
        m.pending = false;
        for t in inner.teams.values_mut() {
            if let Some(tm) = t.members.get_mut(&user) {
                tm.pending = false;
            }
        }
        return StatusCode::NO_CONTENT.into_response();
    }
    let slug = c.team.as_deref().unwrap_or("").to_lowercase();
    let repo = c.repo.as_deref().unwrap_or("").to_lowercase();
    let user_known = inner.users.contains_key(&user);
    let repo_known = inner.repos.contains_key(&repo);
    let Some(team) = inner.teams.get_mut(&slug) else {
        return bad_request(format!("unknown team {slug}"));
    };
    match c.op.as_str() {
        "add_team_member" if user_known => {
            let role = c.role.unwrap_or_else(|| "member".into());
            team.members.insert(
                user,
                TeamMember {
                    role,
                    pending: false,
                },
            );
        }
        "remove_team_member" => {
            team.members.remove(&user);
        }
        "set_team_repo" if repo_known => {
            let permission = c.role.unwrap_or_else(|| "pull".into());
            if !PERMISSIONS.contains(&permission.as_str()) {
                return bad_request(format!("unknown permission {permission}"));
            }
            team.repos.insert(repo, permission);
        }
        "remove_team_repo" => {
            team.repos.remove(&repo);
        }
        other => return bad_request(format!("cannot {other} (unknown op, user or repository)")),
    }
    StatusCode::NO_CONTENT.into_response()
}
