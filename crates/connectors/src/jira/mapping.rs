//! Jira's JSON objects to the common model: Atlassian accounts, projects with one entitlement per project role
//! (`role:<Name>`), and groups with the one entitlement `member`.

use grantflow_model::{Account, LifecycleState, Resource, ResourceKind};
use serde_json::{Map, Value};

pub const PROJECT: &str = "project";
pub const GROUP: &str = "group";
pub const MEMBER: &str = "member";
pub const ROLE_PREFIX: &str = "role:";

fn text(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A person's Atlassian account; app and customer (service desk) accounts are not people and are skipped.
/// The email correlates it with the person (visible to an admin token whatever the profile's visibility).
pub fn account(user: &Value) -> Option<Account> {
    let id = text(user, "accountId")?;
    if text(user, "accountType").is_some_and(|t| t != "atlassian") {
        return None;
    }
    let email = text(user, "emailAddress");
    let mut attributes = Map::new();
    for key in ["accountType", "timeZone", "locale"] {
        if let Some(v) = user.get(key) {
            attributes.insert(key.to_string(), v.clone());
        }
    }
    let active = user.get("active").and_then(Value::as_bool).unwrap_or(true);
    Some(Account {
        login: email.clone().unwrap_or_else(|| id.clone()),
        display_name: text(user, "displayName").unwrap_or_else(|| id.clone()),
        id,
        email,
        // Upper case like the other systems' statuses; drift reads INACTIVE as "cannot sign in".
        status: if active { "ACTIVE" } else { "INACTIVE" }.to_string(),
        state: LifecycleState::from_active_flag(active),
        attributes,
    })
}

/// The entitlement for a project role.
pub fn role_entitlement(role: &str) -> String {
    format!("{ROLE_PREFIX}{role}")
}

/// A project; `roles` are its role names. The common vocabulary maps to Jira's default roles where the project
/// has them.
pub fn project(project: &Value, roles: &[String]) -> Option<Resource> {
    let key = text(project, "key")?;
    let mut attributes = Map::new();
    for key in ["id", "projectTypeKey", "style", "isPrivate"] {
        if let Some(v) = project.get(key) {
            attributes.insert(key.to_string(), v.clone());
        }
    }
    let entitlements: Vec<String> = roles.iter().map(|r| role_entitlement(r)).collect();
    let mut entitlement_aliases: std::collections::BTreeMap<String, String> = entitlements
        .iter()
        .map(|e| (e.clone(), e.clone()))
        .collect();
    for (alias, role) in [
        ("read", "Viewers"),
        ("write", "Developers"),
        ("admin", "Administrators"),
    ] {
        if roles.iter().any(|r| r == role) {
            entitlement_aliases.insert(alias.into(), role_entitlement(role));
        }
    }
    Some(Resource {
        name: text(project, "name").unwrap_or_else(|| key.clone()),
        id: key,
        kind: ResourceKind::new(PROJECT),
        entitlements,
        entitlement_aliases,
        writable: true,
        attributes,
    })
}

/// A group, identified by its name (what role actors and the membership calls name it by).
pub fn group(group: &Value) -> Option<Resource> {
    let name = text(group, "name")?;
    let mut attributes = Map::new();
    if let Some(id) = group.get("groupId") {
        attributes.insert("groupId".into(), id.clone());
    }
    Some(Resource {
        id: name.clone(),
        kind: ResourceKind::new(GROUP),
        name,
        entitlements: vec![MEMBER.to_string()],
        entitlement_aliases: [(MEMBER.to_string(), MEMBER.to_string())].into(),
        writable: true,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_project_has_one_entitlement_per_role_and_the_common_aliases() {
        let roles = vec![
            "Administrators".to_string(),
            "Developers".into(),
            "Viewers".into(),
        ];
        let p = project(
            &json!({"id": "10000", "key": "PLAT", "name": "Platform"}),
            &roles,
        )
        .expect("maps");
        assert_eq!(p.id, "PLAT");
        assert_eq!(
            p.entitlements,
            ["role:Administrators", "role:Developers", "role:Viewers"]
        );
        assert_eq!(p.entitlement_aliases["write"], "role:Developers");
        assert_eq!(p.entitlement_aliases["admin"], "role:Administrators");
    }

    #[test]
    fn people_map_by_email_and_app_accounts_are_skipped() {
        let a = account(
            &json!({"accountId": "5b1", "accountType": "atlassian", "emailAddress": "a@example.com",
                                "displayName": "A", "active": false}),
        )
        .expect("maps");
        assert_eq!(a.login, "a@example.com");
        assert_eq!(a.status, "INACTIVE");
        assert!(
            account(&json!({"accountId": "557058:x", "accountType": "app", "displayName": "Bot"}))
                .is_none()
        );
    }
}
