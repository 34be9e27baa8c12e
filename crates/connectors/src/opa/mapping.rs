//! OPA's JSON objects to the common model: users as accounts (keyed by user name, which OPA's paths use),
//! groups as resources with the entitlement `member`, top-level secret folders named
//! `<resource group>/<project>/<folder>`, and security policies, whose principal groups hold them.

use grantflow_model::{Account, LifecycleState, Resource, ResourceKind};
use serde_json::{Map, Value};

pub const GROUP: &str = "group";
pub const SECRET_FOLDER: &str = "secret_folder";
pub const SECURITY_POLICY: &str = "security_policy";
pub const MEMBER: &str = "member";
/// What a policy's principal group holds on the policy.
pub const PRINCIPAL: &str = "principal";

pub fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A user; `details.email` correlates it with the person.
pub fn account(user: &Value) -> Option<Account> {
    let name = text(user, "/name")?;
    let mut attributes = Map::new();
    for key in ["id", "user_type"] {
        if let Some(v) = user.get(key) {
            attributes.insert(key.to_string(), v.clone());
        }
    }
    let status = text(user, "/status")
        .unwrap_or_else(|| "ACTIVE".into())
        .to_uppercase();
    Some(Account {
        id: name.clone(),
        login: name.clone(),
        email: text(user, "/details/email"),
        display_name: text(user, "/details/full_name").unwrap_or_else(|| name.clone()),
        // OPA's own words (ACTIVE, DISABLED, DELETED), upper case like the other systems' statuses.
        state: lifecycle_state(&status),
        status,
        attributes,
    })
}

/// Okta Privileged Access user statuses in the common lifecycle.
pub fn lifecycle_state(status: &str) -> LifecycleState {
    match status {
        "ACTIVE" => LifecycleState::Active,
        "DELETED" => LifecycleState::Deprovisioned,
        _ => LifecycleState::Suspended,
    }
}

pub fn group(group: &Value) -> Option<Resource> {
    let id = text(group, "/id")?;
    let name = text(group, "/name")?;
    if group.get("deleted_at").is_some_and(|d| !d.is_null()) {
        return None;
    }
    let mut attributes = Map::new();
    if let Some(roles) = group.get("roles") {
        attributes.insert("roles".into(), roles.clone());
    }
    Some(Resource {
        id,
        kind: ResourceKind::new(GROUP),
        name,
        entitlements: vec![MEMBER.to_string()],
        entitlement_aliases: [(MEMBER.to_string(), MEMBER.to_string())].into(),
        writable: true,
        attributes,
    })
}

/// A folder's name in grantflow: its place, `<resource group>/<project>/<folder>`.
pub fn folder_name(resource_group: &str, project: &str, folder: &str) -> String {
    format!("{resource_group}/{project}/{folder}")
}

pub fn folder(folder: &Value, resource_group: &str, project: &str) -> Option<Resource> {
    let id = text(folder, "/id")?;
    let name = text(folder, "/name")?;
    let mut attributes = Map::new();
    // Read even when empty, so a declaration's description is compared with it.
    attributes.insert(
        "description".into(),
        text(folder, "/description").map_or(Value::Null, Value::String),
    );
    Some(Resource {
        id,
        kind: ResourceKind::new(SECRET_FOLDER),
        name: folder_name(resource_group, project, &name),
        // Access to a folder is given by security policies, not to accounts directly.
        entitlements: vec![],
        entitlement_aliases: Default::default(),
        writable: false,
        attributes,
    })
}

pub fn policy(
    policy: &Value,
    folder_names: &std::collections::BTreeMap<String, String>,
) -> Option<Resource> {
    let id = text(policy, "/id")?;
    let name = text(policy, "/name")?;
    let mut attributes = Map::new();
    if let Some(active) = policy.get("active") {
        attributes.insert("active".into(), active.clone());
    }
    let folders: Vec<Value> = policy
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            r.pointer("/resource_selector/selectors")
                .and_then(Value::as_array)
        })
        .flatten()
        .filter_map(|s| {
            s.pointer("/selector/secret_folder/id")
                .and_then(Value::as_str)
        })
        .map(|id| {
            Value::String(
                folder_names
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| id.to_string()),
            )
        })
        .collect();
    attributes.insert("secret_folders".into(), Value::Array(folders.clone()));
    // The settings a declaration names, under the spec's own field names.
    attributes.insert("folders".into(), Value::Array(folders));
    attributes.insert(
        "description".into(),
        text(policy, "/description").map_or(Value::Null, Value::String),
    );
    let groups: Vec<Value> = policy
        .pointer("/principals/user_groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("name").cloned())
        .collect();
    attributes.insert("groups".into(), Value::Array(groups));
    if let Some(privileges) = policy
        .pointer("/rules/0/privileges")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|p| p.get("privilege_type").and_then(Value::as_str) == Some("secret"))
        .and_then(|p| p.get("privilege_value"))
    {
        attributes.insert("privileges".into(), privileges.clone());
    }
    Some(Resource {
        id,
        kind: ResourceKind::new(SECURITY_POLICY),
        name,
        entitlements: vec![],
        entitlement_aliases: Default::default(),
        writable: false,
        attributes,
    })
}

/// The ids of a policy's principal groups.
pub fn principal_groups(policy: &Value) -> Vec<String> {
    policy
        .pointer("/principals/user_groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("id").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn users_are_keyed_by_name_and_correlate_by_email() {
        let a = account(
            &json!({"id": "u1", "name": "ravi.patel", "status": "ACTIVE",
                                "details": {"email": "ravi.patel@example.com"}}),
        )
        .expect("maps");
        assert_eq!(a.id, "ravi.patel");
        assert_eq!(a.email.as_deref(), Some("ravi.patel@example.com"));
        assert_eq!(a.status, "ACTIVE");
    }

    #[test]
    fn policies_name_their_folders_and_principals() {
        let names = [("f1".to_string(), "payments/prod/secrets".to_string())].into();
        let p = json!({"id": "p1", "name": "access", "active": true,
            "principals": {"user_groups": [{"id": "g1", "name": "G", "type": "user_group"}]},
            "rules": [{"resource_selector": {"selectors": [
                {"selector_type": "secret_folder", "selector": {"secret_folder": {"id": "f1"}}}]}}]});
        let r = policy(&p, &names).expect("maps");
        assert_eq!(
            r.attributes["secret_folders"],
            json!(["payments/prod/secrets"])
        );
        assert_eq!(principal_groups(&p), ["g1"]);
        assert!(
            group(&json!({"id": "g", "name": "x", "deleted_at": "2024-01-01T00:00:00Z"})).is_none()
        );
    }
}
