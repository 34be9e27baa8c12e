//! GitLab's JSON objects to the common model: users as accounts, groups (by full path) as resources whose
//! entitlements are access levels, and the common vocabulary mapped onto them; projects (by
//! `path_with_namespace`) as read-only resources a group reaches.

use grantflow_model::{Account, LifecycleState, Resource, ResourceKind};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const GROUP: &str = "group";
pub const PROJECT: &str = "project";

/// What a group holds on a project it lists (its own or one shared with it): its members reach the project with
/// their group access level (for a shared project, at most the share's `group_access_level`).
pub const PROJECT_MEMBER: &str = "member";

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
    // The profile fields a policy's `profile:` may set (`name` too), so a plan compares with them.
    for key in [
        "web_url",
        "is_admin",
        "bot",
        "name",
        "external",
        "organization",
        "location",
        "bio",
    ] {
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

/// A project's resource id: GitLab's global id (`gid://gitlab/Project/42`). Projects and groups are numbered
/// apart in GitLab, so the bare number of a project is often a group's too; resource ids must be unique within a
/// snapshot (planning, drift and requests look resources up by id alone).
pub fn project_id(id: u64) -> String {
    format!("gid://gitlab/Project/{id}")
}

/// A project, as `GET /groups/:id/projects` lists it, as a read-only resource named by `path_with_namespace`
/// (`acme/payments/checkout-api`, what a Backstage `gitlab.com/project-slug` annotation holds). Read-only
/// because grantflow does not manage project membership: access to it comes through the groups that list it.
pub fn project(project: &Value) -> Option<Resource> {
    let number = project.get("id").and_then(Value::as_u64)?;
    let path_with_namespace = text(project, "path_with_namespace").filter(|p| !p.is_empty())?;
    let mut attributes = Map::new();
    attributes.insert("project_id".into(), Value::from(number));
    attributes.insert(
        "path_with_namespace".into(),
        Value::String(path_with_namespace.clone()),
    );
    for key in ["web_url", "visibility", "default_branch", "description"] {
        if let Some(v) = project.get(key).filter(|v| !v.is_null()) {
            attributes.insert(key.to_string(), v.clone());
        }
    }
    attributes.insert(
        "archived".into(),
        Value::Bool(
            project
                .get("archived")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
    );
    if let Some(namespace) = project.pointer("/namespace/id").and_then(Value::as_u64) {
        attributes.insert("namespace_id".into(), Value::String(namespace.to_string()));
    }
    // Which other groups reach it, and at most at what level (the share caps their members' levels).
    let shares: Vec<Value> = project
        .get("shared_with_groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some(serde_json::json!({
                "group_id": s.get("group_id").and_then(Value::as_u64)?.to_string(),
                "group_access_level": s.get("group_access_level").and_then(Value::as_u64)?,
            }))
        })
        .collect();
    if !shares.is_empty() {
        attributes.insert("shared_with_groups".into(), Value::Array(shares));
    }
    Some(Resource {
        id: project_id(number),
        kind: ResourceKind::new(PROJECT),
        name: path_with_namespace,
        entitlements: vec![PROJECT_MEMBER.to_string()],
        entitlement_aliases: BTreeMap::new(),
        writable: false,
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
    fn a_project_is_a_read_only_resource_named_by_its_path_with_namespace() {
        let p = project(&json!({
            "id": 3, "name": "checkout-api", "path": "checkout-api",
            "path_with_namespace": "acme/payments/checkout-api",
            "web_url": "https://gitlab.example.com/acme/payments/checkout-api",
            "archived": false, "visibility": "private", "default_branch": "main", "avatar_url": null,
            "namespace": {"id": 5, "name": "Payments", "path": "payments", "kind": "group",
                          "full_path": "acme/payments"},
            "shared_with_groups": [{"group_id": 4, "group_name": "Engineering",
                                    "group_full_path": "acme/engineering", "group_access_level": 20,
                                    "expires_at": null}]
        }))
        .expect("maps");
        assert_eq!(p.id, "gid://gitlab/Project/3");
        assert_eq!(p.kind.as_str(), PROJECT);
        assert_eq!(p.name, "acme/payments/checkout-api");
        assert!(!p.writable);
        assert_eq!(p.entitlements, [PROJECT_MEMBER]);
        assert!(p.entitlement_aliases.is_empty());
        assert_eq!(
            p.attributes["path_with_namespace"],
            "acme/payments/checkout-api"
        );
        assert_eq!(
            p.attributes["web_url"],
            "https://gitlab.example.com/acme/payments/checkout-api"
        );
        assert_eq!(p.attributes["archived"], false);
        assert_eq!(p.attributes["namespace_id"], "5");
        assert_eq!(p.attributes["project_id"], 3);
        assert_eq!(
            p.attributes["shared_with_groups"],
            json!([{"group_id": "4", "group_access_level": 20}])
        );
        assert!(!p.attributes.contains_key("avatar_url"));
        // A project and a group may have the same number in GitLab; their resource ids differ.
        let g = group(&json!({"id": 3, "full_path": "acme"})).expect("maps");
        assert_ne!(g.id, p.id);

        let archived =
            project(&json!({"id": 9, "path_with_namespace": "acme/old", "archived": true}))
                .expect("maps");
        assert_eq!(archived.attributes["archived"], true);
        assert!(!archived.attributes.contains_key("namespace_id"));
        // Without a number or a path there is nothing to name it by.
        assert!(project(&json!({"id": "9", "path_with_namespace": "acme/old"})).is_none());
        assert!(project(&json!({"id": 9})).is_none());
        assert!(project(&json!({"id": 9, "path_with_namespace": ""})).is_none());
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
