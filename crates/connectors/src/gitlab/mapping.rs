//! GitLab's JSON objects to the common model: users as accounts, groups (by full path) as resources whose
//! entitlements are access levels, and the common vocabulary mapped onto them.

use grantflow_model::{Account, LifecycleState, Resource, ResourceKind};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const GROUP: &str = "group";

/// GitLab's grantable group levels, lowest first (the first is the default when a policy names none).
pub const LEVELS: [u8; 5] = [10, 20, 30, 40, 50];

/// The common vocabulary and GitLab's role names, to access levels (documented in docs/access-levels.md).
pub const ALIASES: &[(&str, u8)] = &[
    ("read", 20),
    ("write", 30),
    ("maintain", 40),
    ("admin", 50),
    ("guest", 10),
    ("reporter", 20),
    ("developer", 30),
    ("maintainer", 40),
    ("owner", 50),
];

pub fn entitlement(level: u8) -> String {
    format!("access_level:{level}")
}

/// The access level an entitlement names: `access_level:30`, or an alias such as `write`.
pub fn level_of(entitlement: &str) -> Option<u8> {
    if let Some(n) = entitlement.strip_prefix("access_level:") {
        return n.parse().ok().filter(|l| LEVELS.contains(l));
    }
    ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(entitlement))
        .map(|(_, level)| *level)
}

fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A GitLab user as an account; the email (visible to administrators) correlates it with the person.
pub fn account(user: &Value) -> Option<Account> {
    let id = text(user, "id")?;
    let login = text(user, "username")?;
    let email = text(user, "email")
        .or_else(|| text(user, "public_email"))
        .filter(|e| !e.is_empty());
    let mut attributes = Map::new();
    for key in ["web_url", "is_admin", "bot", "external"] {
        if let Some(v) = user.get(key) {
            attributes.insert(key.to_string(), v.clone());
        }
    }
    Some(Account {
        id,
        display_name: text(user, "name").unwrap_or_else(|| login.clone()),
        login,
        email,
        state: lifecycle_state(text(user, "state").as_deref()),
        status: status(text(user, "state").as_deref()),
        attributes,
    })
}

/// GitLab's user `state` in the common upper-case vocabulary: every kind of block (by an administrator, by LDAP,
/// awaiting approval, banned) is BLOCKED, a dormant account an administrator deactivated is DEACTIVATED.
pub fn status(state: Option<&str>) -> String {
    match state {
        Some("active") => "ACTIVE".into(),
        Some("blocked" | "ldap_blocked" | "blocked_pending_approval" | "banned") => {
            "BLOCKED".into()
        }
        Some("deactivated") => "DEACTIVATED".into(),
        Some(other) => other.to_uppercase(),
        None => "UNKNOWN".into(),
    }
}

/// GitLab's user `state` in the common lifecycle: a block or a deactivation
/// keeps the person from signing in; one awaiting approval has not started.
pub fn lifecycle_state(state: Option<&str>) -> LifecycleState {
    match state {
        Some("active") => LifecycleState::Active,
        Some("blocked_pending_approval") => LifecycleState::Pending,
        _ => LifecycleState::Suspended,
    }
}

/// A group or subgroup as a resource named by its full path (`acme/platform`), which is unique.
pub fn group(group: &Value) -> Option<Resource> {
    let id = text(group, "id")?;
    let full_path = text(group, "full_path")?;
    let mut attributes = Map::new();
    for key in [
        "name",
        "full_name",
        "description",
        "visibility",
        "web_url",
        "parent_id",
    ] {
        if let Some(v) = group.get(key) {
            attributes.insert(key.to_string(), v.clone());
        }
    }
    let entitlement_aliases: BTreeMap<String, String> = ALIASES
        .iter()
        .map(|(alias, level)| ((*alias).to_string(), entitlement(*level)))
        .collect();
    Some(Resource {
        id,
        kind: ResourceKind::new(GROUP),
        name: full_path,
        entitlements: LEVELS.iter().map(|l| entitlement(*l)).collect(),
        entitlement_aliases,
        writable: true,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_common_vocabulary_maps_to_gitlab_levels() {
        let g = group(&json!({"id": 3, "full_path": "acme/platform", "name": "Platform"}))
            .expect("maps");
        assert_eq!(g.name, "acme/platform");
        assert_eq!(g.entitlement_aliases["read"], "access_level:20");
        assert_eq!(g.entitlement_aliases["write"], "access_level:30");
        assert_eq!(g.entitlement_aliases["maintain"], "access_level:40");
        assert_eq!(g.entitlement_aliases["admin"], "access_level:50");
        assert_eq!(
            g.entitlements.first().map(String::as_str),
            Some("access_level:10")
        );
        assert_eq!(level_of("access_level:40"), Some(40));
        assert_eq!(level_of("write"), Some(30));
        assert_eq!(level_of("access_level:60"), None);
    }

    #[test]
    fn a_user_correlates_by_email() {
        let a = account(
            &json!({"id": 7, "username": "priya.raman", "name": "Priya Raman",
                                "email": "priya.raman@example.com", "state": "active"}),
        )
        .expect("maps");
        assert_eq!(a.id, "7");
        assert_eq!(a.email.as_deref(), Some("priya.raman@example.com"));
        assert_eq!(a.status, "ACTIVE");
        assert_eq!(status(Some("ldap_blocked")), "BLOCKED");
        assert_eq!(status(Some("deactivated")), "DEACTIVATED");
    }
}
