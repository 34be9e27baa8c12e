//! Changes an administrator makes in Okta's Admin Console (`/__sandbox/hand-change`, `crate::hand_change`).

use super::context::Ctx;
use super::ids;
use super::state::{GroupType, Inner, Okta, UserStatus};
use crate::hand_change::HandChange;

/// `group/<name>` membership (entitlement `member`), a direct `app/<label>` assignment (entitlement
/// `assigned`), or suspending an ACTIVE user. Not counted as API writes; recorded in the System Log with the
/// event types the API handlers use, so incremental sync sees them.
pub(super) fn apply(o: &Okta, change: &HandChange) -> Result<(), String> {
    let ctx = Ctx {
        request_id: ids::request_id(),
        base: "http://127.0.0.1".to_owned(),
        path: "/__sandbox/hand-change".to_owned(),
        query: Vec::new(),
        user_agent: String::new(),
        now: o.core.now(),
    };
    apply_to(&mut o.core.state(), &ctx, change)
}

fn apply_to(inner: &mut Inner, ctx: &Ctx, change: &HandChange) -> Result<(), String> {
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
