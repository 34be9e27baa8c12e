//! Changes made on github.com rather than through the API (`/__sandbox/hand-change`): the shared contract and
//! the older ops, such as a user accepting an invitation.

use axum::body::Bytes;
use serde::Deserialize;

use super::state::{Github, PERMISSIONS, TeamMember};
use crate::hand_change::{self, HandChange};

/// A team's roles, as the connector names its entitlements.
const TEAM_ROLES: [&str; 2] = ["member", "maintainer"];

/// Ops this emulator took before the shared contract; tests still use them.
pub(super) const LEGACY_OPS: &[&str] = &[
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

/// A change made on github.com rather than through the API: not counted as a write. The shared contract
/// (`crate::hand_change`): `team/<team name or slug>`, entitlements `member`, `maintainer`; suspend sets
/// `suspended_at`.
pub(super) fn apply(o: &Github, change: &HandChange) -> Result<(), String> {
    let now = o.core.now();
    let mut inner = o.core.state();
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

/// One of [`LEGACY_OPS`]: `{"op", "user", "team", "repo", "role"}` as the op needs them.
pub(super) fn legacy(o: &Github, body: &Bytes) -> Result<(), String> {
    let c: LegacyChange = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut inner = o.core.state();
    let user = c.user.as_deref().unwrap_or("").to_lowercase();
    if c.op == "accept_invitation" {
        let Some(m) = inner.memberships.get_mut(&user) else {
            return Err(format!("{user} has no invitation"));
        };
        m.pending = false;
        for t in inner.teams.values_mut() {
            if let Some(tm) = t.members.get_mut(&user) {
                tm.pending = false;
            }
        }
        return Ok(());
    }
    let slug = c.team.as_deref().unwrap_or("").to_lowercase();
    let repo = c.repo.as_deref().unwrap_or("").to_lowercase();
    let user_known = inner.users.contains_key(&user);
    let repo_known = inner.repos.contains_key(&repo);
    let Some(team) = inner.teams.get_mut(&slug) else {
        return Err(format!("unknown team {slug}"));
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
                return Err(format!("unknown permission {permission}"));
            }
            team.repos.insert(repo, permission);
        }
        "remove_team_repo" => {
            team.repos.remove(&repo);
        }
        other => return Err(format!("cannot {other} (unknown op, user or repository)")),
    }
    Ok(())
}
