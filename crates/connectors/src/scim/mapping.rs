//! SCIM resources to the common model: Users as accounts (userName, the primary email), Groups as resources
//! `group/<displayName>` with the one entitlement `member`.

use grantflow_model::{Account, LifecycleState, Resource, ResourceKind};
use serde_json::{Map, Value};

pub const GROUP: &str = "group";
pub const MEMBER: &str = "member";

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The primary email, else the work one, else the first (RFC 7643 §4.1.2).
pub fn primary_email(user: &Value) -> Option<String> {
    let emails = user.get("emails")?.as_array()?;
    let pick = emails
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| {
            emails
                .iter()
                .find(|e| e.get("type").and_then(Value::as_str) == Some("work"))
        })
        .or_else(|| emails.first())?;
    text(pick, "/value")
}

/// `active` is optional in SCIM; a user without it is taken as active, as providers that omit it mean.
pub fn is_active(user: &Value) -> bool {
    match user.get("active") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.eq_ignore_ascii_case("false"),
        _ => true,
    }
}

pub fn account(user: &Value) -> Option<Account> {
    let id = text(user, "/id")?;
    let login = text(user, "/userName")?;
    let mut attributes = Map::new();
    for key in ["externalId", "title", "userType"] {
        if let Some(v) = user.get(key).filter(|v| !v.is_null()) {
            attributes.insert(key.to_string(), v.clone());
        }
    }
    let display_name = text(user, "/displayName")
        .or_else(|| text(user, "/name/formatted"))
        .or_else(|| {
            let parts: Vec<String> = ["/name/givenName", "/name/familyName"]
                .iter()
                .filter_map(|p| text(user, p))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
        .unwrap_or_else(|| login.clone());
    // userName is often the email itself; when no email is listed it is the best correlation there is.
    let email = primary_email(user).or_else(|| login.contains('@').then(|| login.clone()));
    Some(Account {
        id,
        login,
        email,
        display_name,
        state: LifecycleState::from_active_flag(is_active(user)),
        // Upper case like the other systems' statuses.
        status: if is_active(user) {
            "ACTIVE"
        } else {
            "INACTIVE"
        }
        .to_string(),
        attributes,
    })
}

pub fn group(group: &Value) -> Option<Resource> {
    let id = text(group, "/id")?;
    let name = text(group, "/displayName")?;
    let mut attributes = Map::new();
    if let Some(v) = group.get("externalId").filter(|v| !v.is_null()) {
        attributes.insert("externalId".into(), v.clone());
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

/// The user ids among a group's members; nested groups (`type: Group`) are not accounts.
pub fn user_members(group: &Value) -> Vec<String> {
    group
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| {
            m.get("type")
                .and_then(Value::as_str)
                .is_none_or(|t| t.eq_ignore_ascii_case("User"))
        })
        .filter_map(|m| text(m, "/value"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn users_correlate_by_primary_email_and_inactive_users_say_so() {
        let a = account(&json!({
            "id": "u1", "userName": "priya", "active": false, "name": {"givenName": "Priya", "familyName": "Raman"},
            "emails": [{"value": "p@home.example", "type": "home"}, {"value": "priya@example.com", "primary": true}]
        }))
        .expect("maps");
        assert_eq!(a.email.as_deref(), Some("priya@example.com"));
        assert_eq!(a.display_name, "Priya Raman");
        assert_eq!(a.status, "INACTIVE");
        let b = account(&json!({"id": "u2", "userName": "sam@example.com"})).expect("maps");
        assert_eq!(b.email.as_deref(), Some("sam@example.com"));
        assert_eq!(b.status, "ACTIVE");
    }

    #[test]
    fn groups_are_resources_with_member_and_nested_groups_are_not_accounts() {
        let g = json!({"id": "g1", "displayName": "Platform",
                       "members": [{"value": "u1", "type": "User"}, {"value": "g2", "type": "Group"}, {"value": "u3"}]});
        let r = group(&g).expect("maps");
        assert_eq!((r.kind.0.as_str(), r.name.as_str()), ("group", "Platform"));
        assert_eq!(r.entitlements, ["member"]);
        assert_eq!(user_members(&g), ["u1", "u3"]);
    }
}
