//! Changes made by hand in the Google emulator (`/__sandbox/hand-change`): the shared contract and the older ops.

use axum::body::Bytes;
use serde::Deserialize;

use super::state::{Google, Member, ROLES};
use crate::hand_change::{self, HandChange};

/// Ops this emulator took before the shared contract; tests still use them.
pub(super) const LEGACY_OPS: &[&str] = &["add_member", "remove_member", "set_role"];

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

/// A change made "directly in the Admin console": not counted as an API write, visible at once. The shared
/// contract (`crate::hand_change`): `group/<group email>`, entitlements `member`, `manager`, `owner`.
pub(super) fn apply(o: &Google, change: &HandChange) -> Result<(), String> {
    let now = o.core.now();
    let mut inner = o.core.state();
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

/// `{"op": "add_member" | "remove_member" | "set_role", "group": "<email>", "user": "<email>", "role": "OWNER"}`.
pub(super) fn legacy(o: &Google, body: &Bytes) -> Result<(), String> {
    let c: LegacyChange = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let role = c.role.unwrap_or_else(|| "MEMBER".into()).to_uppercase();
    if !ROLES.contains(&role.as_str()) {
        return Err(format!("unknown role {role}"));
    }
    let now = o.core.now();
    let mut inner = o.core.state();
    let Ok(gid) = inner.group_key(&c.group) else {
        return Err(format!("unknown group {}", c.group));
    };
    let Some(uid) = inner.find_user(&c.user).map(|u| u.id.clone()) else {
        return Err(format!("unknown user {}", c.user));
    };
    let Some(group) = inner.groups.get_mut(&gid) else {
        return Err(format!("unknown group {}", c.group));
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
        _ => {
            group.members.remove(&uid);
        }
    }
    Ok(())
}
