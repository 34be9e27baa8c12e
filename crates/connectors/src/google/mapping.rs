//! Directory API users, groups and members to the common model.

use std::collections::BTreeMap;

use grantflow_model::{Account, LifecycleState, Resource, ResourceKind};
use serde_json::{Map, Value};

pub const GROUP: &str = "group";
/// A group's entitlements are its member roles, lower case; the first is the default.
pub const ENTITLEMENTS: [&str; 3] = ["member", "manager", "owner"];

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A Workspace user as an account; the primary email is both login and correlation key.
pub fn account(user: &Value) -> Option<Account> {
    let id = text(user, "/id")?;
    let email = text(user, "/primaryEmail")?;
    let suspended = user
        .get("suspended")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let archived = user
        .get("archived")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let status = if archived {
        "ARCHIVED"
    } else if suspended {
        "SUSPENDED"
    } else {
        "ACTIVE"
    };
    let mut attributes = Map::new();
    for (name, pointer) in [
        ("org_unit_path", "/orgUnitPath"),
        ("is_admin", "/isAdmin"),
        ("customer_id", "/customerId"),
    ] {
        if let Some(v) = user.pointer(pointer).filter(|v| !v.is_null()) {
            attributes.insert(name.into(), v.clone());
        }
    }
    // The fields accounts and profiles as code set, under the names policies give them, so a profile
    // that already holds plans nothing.
    attributes.extend(super::accounts::profile_values(user));
    let display_name = text(user, "/name/fullName")
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| email.clone());
    Some(Account {
        id,
        login: email.clone(),
        email: Some(email),
        display_name,
        // An archived user has left (Google keeps the data, not the access).
        state: if archived {
            LifecycleState::Deprovisioned
        } else if suspended {
            LifecycleState::Suspended
        } else {
            LifecycleState::Active
        },
        status: status.into(),
        attributes,
    })
}

/// The common vocabulary on a Google group: reading is membership, writing is managing members, admin is
/// ownership (docs/access-levels.md).
pub fn aliases() -> BTreeMap<String, String> {
    [("read", "member"), ("write", "manager"), ("admin", "owner")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A group as a resource named by its email (unique, unlike display names); the display name is kept as an
/// attribute.
pub fn group(group: &Value) -> Option<Resource> {
    let id = text(group, "/id")?;
    let email = text(group, "/email")?;
    let mut attributes = Map::new();
    for (name, pointer) in [("display_name", "/name"), ("description", "/description")] {
        if let Some(v) = text(group, pointer) {
            attributes.insert(name.into(), Value::String(v));
        }
    }
    Some(Resource {
        id,
        kind: ResourceKind::new(GROUP),
        name: email,
        entitlements: ENTITLEMENTS.iter().map(|e| e.to_string()).collect(),
        entitlement_aliases: aliases(),
        writable: true,
        attributes,
    })
}

/// A member entry as (user id, entitlement); groups nested in groups and customer-wide members are not
/// accounts and are skipped.
pub fn member(member: &Value) -> Option<(String, String)> {
    if text(member, "/type").is_some_and(|t| t != "USER") {
        return None;
    }
    let id = text(member, "/id")?;
    let role = text(member, "/role")
        .unwrap_or_else(|| "MEMBER".into())
        .to_lowercase();
    ENTITLEMENTS.contains(&role.as_str()).then_some((id, role))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_suspended_user_keeps_its_email_for_correlation() {
        let user = json!({"id": "1", "primaryEmail": "a@example.com", "suspended": true, "name": {"fullName": "Ann Lee"}});
        let a = account(&user).expect("maps");
        assert_eq!(
            (a.status.as_str(), a.email.as_deref()),
            ("SUSPENDED", Some("a@example.com"))
        );
    }

    #[test]
    fn member_roles_become_lower_case_entitlements_and_nested_groups_are_skipped() {
        assert_eq!(
            member(&json!({"id": "1", "role": "MANAGER", "type": "USER"})),
            Some(("1".into(), "manager".into()))
        );
        assert_eq!(
            member(&json!({"id": "2", "role": "MEMBER", "type": "GROUP"})),
            None
        );
    }
}
