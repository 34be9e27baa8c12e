//! Slack's JSON objects to the common model: workspace members as accounts, channels as resources with the
//! one entitlement `member`.

use grantflow_model::{Account, LifecycleState, Resource, ResourceKind};
use serde_json::{Map, Value};

pub const CHANNEL: &str = "channel";
pub const MEMBER: &str = "member";

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn flag(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A workspace member as an account; `profile.email` (scope users:read.email) correlates it with the person.
pub fn account(user: &Value) -> Option<Account> {
    let id = text(user, "/id")?;
    let login = text(user, "/name").unwrap_or_else(|| id.clone());
    let mut attributes = Map::new();
    for key in ["is_admin", "is_owner", "is_bot", "is_restricted", "team_id"] {
        if let Some(v) = user.get(key) {
            attributes.insert(key.to_string(), v.clone());
        }
    }
    Some(Account {
        display_name: text(user, "/real_name")
            .or_else(|| text(user, "/profile/real_name"))
            .unwrap_or_else(|| login.clone()),
        id,
        login,
        email: text(user, "/profile/email"),
        // Slack's deactivation sets `deleted`; the account stays listed so grants on it can be seen.
        state: if flag(user, "deleted") {
            LifecycleState::Deprovisioned
        } else {
            LifecycleState::Active
        },
        status: if flag(user, "deleted") {
            "DELETED"
        } else {
            "ACTIVE"
        }
        .to_string(),
        attributes,
    })
}

/// A public or private channel. Archived channels and #general (everyone is in it, nobody can be removed)
/// are read-only.
pub fn channel(channel: &Value) -> Option<Resource> {
    let id = text(channel, "/id")?;
    let name = text(channel, "/name")?;
    let mut attributes = Map::new();
    for key in ["is_private", "is_archived", "is_general", "num_members"] {
        if let Some(v) = channel.get(key) {
            attributes.insert(key.to_string(), v.clone());
        }
    }
    if let Some(purpose) = text(channel, "/purpose/value") {
        attributes.insert("purpose".into(), Value::String(purpose));
    }
    Some(Resource {
        id,
        kind: ResourceKind::new(CHANNEL),
        name,
        entitlements: vec![MEMBER.to_string()],
        entitlement_aliases: [(MEMBER.to_string(), MEMBER.to_string())].into(),
        writable: !flag(channel, "is_archived") && !flag(channel, "is_general"),
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn channels_map_with_member_and_general_or_archived_are_read_only() {
        let c = channel(&json!({"id": "C1", "name": "eng", "is_private": false})).expect("maps");
        assert_eq!(c.entitlements, ["member"]);
        assert_eq!(c.entitlement_aliases["member"], "member");
        assert!(c.writable);
        assert!(
            !channel(&json!({"id": "C2", "name": "general", "is_general": true}))
                .expect("maps")
                .writable
        );
        assert!(
            !channel(&json!({"id": "C3", "name": "old", "is_archived": true}))
                .expect("maps")
                .writable
        );
    }

    #[test]
    fn a_member_correlates_by_profile_email() {
        let a = account(
            &json!({"id": "U1", "name": "priya", "real_name": "Priya Raman", "deleted": true,
                                "profile": {"email": "priya.raman@example.com"}}),
        )
        .expect("maps");
        assert_eq!(a.email.as_deref(), Some("priya.raman@example.com"));
        assert_eq!(a.status, "DELETED");
    }
}
