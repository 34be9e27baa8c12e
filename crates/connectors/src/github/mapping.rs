//! GitHub users, teams and repositories to the common model, and GitHub's permission vocabularies.

use std::collections::BTreeMap;

use grantflow_model::{Account, LifecycleState, Resource, ResourceKind};
use serde_json::{Map, Value};

pub const TEAM: &str = "team";
pub const REPOSITORY: &str = "repository";
pub const TEAM_ROLES: [&str; 2] = ["member", "maintainer"];
/// Repository permissions from least to most, as the API takes them.
pub const PERMISSIONS: [&str; 5] = ["pull", "triage", "push", "maintain", "admin"];

/// Account statuses: an org member, someone invited who has not accepted, and a member a GitHub Enterprise
/// Server site administrator suspended.
pub const ACTIVE: &str = "ACTIVE";
pub const INVITED: &str = "INVITED";
pub const SUSPENDED: &str = "SUSPENDED";

/// GitHub's account statuses in the common lifecycle: an invitation not yet
/// accepted is pending.
pub fn lifecycle_state(status: &str) -> LifecycleState {
    match status {
        ACTIVE => LifecycleState::Active,
        INVITED => LifecycleState::Pending,
        _ => LifecycleState::Suspended,
    }
}

/// Whether a user object carries a `suspended_at` timestamp (GitHub Enterprise Server; absent on github.com).
pub fn suspended(user: &Value) -> bool {
    user.get("suspended_at").is_some_and(|v| !v.is_null())
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn aliases(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A GitHub user as an account: id is GitHub's numeric id (stable across renames), login is used in paths,
/// and the email (public profile email) is what correlates the account with a person.
pub fn account(
    user: &Value,
    email: Option<String>,
    status: &str,
    org_role: Option<&str>,
) -> Option<Account> {
    let id = user.get("id").and_then(Value::as_u64)?.to_string();
    let login = text(user, "/login")?;
    let mut attributes = Map::new();
    if let Some(role) = org_role {
        attributes.insert("org_role".into(), Value::String(role.into()));
    }
    let display_name = text(user, "/name")
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| login.clone());
    Some(Account {
        id,
        login,
        email,
        display_name,
        state: lifecycle_state(status),
        status: status.into(),
        attributes,
    })
}

/// An invitation of an email no GitHub user has yet (`login: null`) as a pending account: id
/// `invitation:<id>`, named and correlated by the email.
pub fn email_invitation(invitation: &Value) -> Option<Account> {
    let id = invitation.get("id").and_then(Value::as_u64)?;
    let email = text(invitation, "/email")?;
    let mut attributes = Map::new();
    let role = if text(invitation, "/role").as_deref() == Some("admin") {
        "admin"
    } else {
        "member"
    };
    attributes.insert("org_role".into(), Value::String(role.into()));
    Some(Account {
        id: format!("{}{id}", super::accounts::INVITATION_PREFIX),
        login: email.clone(),
        email: Some(email.clone()),
        display_name: email,
        state: lifecycle_state(INVITED),
        status: INVITED.into(),
        attributes,
    })
}

/// A team, keyed by its slug (what every team path takes).
pub fn team(team: &Value) -> Option<Resource> {
    let slug = text(team, "/slug")?;
    let name = text(team, "/name").unwrap_or_else(|| slug.clone());
    let mut attributes = Map::new();
    for (key, pointer) in [("description", "/description"), ("privacy", "/privacy")] {
        if let Some(v) = text(team, pointer) {
            attributes.insert(key.into(), Value::String(v));
        }
    }
    if let Some(id) = team.get("id").filter(|v| !v.is_null()) {
        attributes.insert("team_id".into(), id.clone());
    }
    Some(Resource {
        id: slug,
        kind: ResourceKind::new(TEAM),
        name,
        entitlements: TEAM_ROLES.iter().map(|e| e.to_string()).collect(),
        entitlement_aliases: aliases(&[("read", "member"), ("admin", "maintainer")]),
        writable: true,
        attributes,
    })
}

/// A repository of the organisation, keyed by its name (paths take `{owner}/{repo}`).
pub fn repository(repo: &Value) -> Option<Resource> {
    let name = text(repo, "/name")?;
    let mut attributes = Map::new();
    for (key, pointer) in [
        ("full_name", "/full_name"),
        ("visibility", "/visibility"),
        ("description", "/description"),
    ] {
        if let Some(v) = text(repo, pointer) {
            attributes.insert(key.into(), Value::String(v));
        }
    }
    let archived = repo
        .get("archived")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Some(Resource {
        id: name.clone(),
        kind: ResourceKind::new(REPOSITORY),
        name,
        entitlements: PERMISSIONS.iter().map(|e| e.to_string()).collect(),
        entitlement_aliases: aliases(&[("read", "pull"), ("write", "push"), ("admin", "admin")]),
        writable: !archived,
        attributes,
    })
}

/// The input-side permission (`pull` … `admin`) a repository response reports: `role_name` first (it keeps
/// triage and maintain apart), else the highest true `permissions` flag.
pub fn permission(repo: &Value) -> Option<String> {
    let from_role = text(repo, "/role_name").and_then(|r| match r.as_str() {
        "read" => Some("pull"),
        "triage" => Some("triage"),
        "write" => Some("push"),
        "maintain" => Some("maintain"),
        "admin" => Some("admin"),
        _ => None,
    });
    from_role
        .or_else(|| {
            PERMISSIONS
                .iter()
                .rev()
                .find(|p| {
                    repo.pointer(&format!("/permissions/{p}"))
                        .and_then(Value::as_bool)
                        == Some(true)
                })
                .copied()
        })
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_name_keeps_triage_and_maintain_apart_from_the_legacy_flags() {
        let repo = json!({"role_name": "maintain", "permissions": {"admin": false, "maintain": true, "push": true, "triage": true, "pull": true}});
        assert_eq!(permission(&repo).as_deref(), Some("maintain"));
        let legacy = json!({"permissions": {"admin": false, "push": true, "pull": true}});
        assert_eq!(permission(&legacy).as_deref(), Some("push"));
    }

    #[test]
    fn repositories_speak_the_common_vocabulary() {
        let repo = repository(&json!({"name": "web", "full_name": "o/web"})).expect("maps");
        assert_eq!(repo.entitlement_aliases["write"], "push");
        assert_eq!(repo.entitlements[0], "pull");
    }
}
