//! Salesforce records to the common model: Users as accounts, permission sets (not those a profile owns) as
//! resources with the one entitlement `assigned`.

use grantflow_model::{Account, LifecycleState, Resource, ResourceKind};
use serde_json::{Map, Value};

pub const PERMISSION_SET: &str = "permission_set";
pub const ASSIGNED: &str = "assigned";

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A User; `Email` correlates it with the person (the `Username` is globally unique and often differs).
pub fn account(user: &Value) -> Option<Account> {
    let id = text(user, "/Id")?;
    let login = text(user, "/Username").unwrap_or_else(|| id.clone());
    let mut attributes = Map::new();
    if let Some(profile) = text(user, "/Profile/Name") {
        attributes.insert("profile".into(), Value::String(profile));
    }
    for key in ["ProfileId", "FederationIdentifier"] {
        if let Some(v) = user.get(key).filter(|v| !v.is_null()) {
            attributes.insert(key.to_string(), v.clone());
        }
    }
    let active = user
        .get("IsActive")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    Some(Account {
        display_name: text(user, "/Name").unwrap_or_else(|| login.clone()),
        id,
        email: text(user, "/Email"),
        login,
        // Upper case like the other systems' statuses; drift reads INACTIVE as "cannot sign in".
        status: if active { "ACTIVE" } else { "INACTIVE" }.to_string(),
        // A deactivated user is Salesforce's leaver (users are never deleted): deprovisioned, which is what
        // `retire: deactivate` leaves. Suspended is a frozen user (`freeze`).
        state: if active {
            LifecycleState::Active
        } else {
            LifecycleState::Deprovisioned
        },
        attributes,
    })
}

/// A frozen user (`UserLogin.IsFrozen`): active, but unable to sign in, so suspended.
pub fn freeze(account: &mut Account) {
    if account.state == LifecycleState::Active {
        account.status = "FROZEN".to_string();
        account.state = LifecycleState::Suspended;
    }
}

/// A permission set by its API name; `None` for one a profile owns (it changes only with the profile).
pub fn permission_set(set: &Value) -> Option<Resource> {
    if set.get("IsOwnedByProfile").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let name = text(set, "/Name")?;
    let mut attributes = Map::new();
    for key in ["Id", "Label", "Type"] {
        if let Some(v) = set.get(key).filter(|v| !v.is_null()) {
            attributes.insert(key.to_string(), v.clone());
        }
    }
    Some(Resource {
        id: name.clone(),
        kind: ResourceKind::new(PERMISSION_SET),
        name,
        entitlements: vec![ASSIGNED.to_string()],
        entitlement_aliases: [(ASSIGNED.to_string(), ASSIGNED.to_string())].into(),
        writable: true,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn profile_owned_permission_sets_are_not_resources() {
        assert!(
            permission_set(&json!({"Id": "0PS1", "Name": "X00e", "IsOwnedByProfile": true}))
                .is_none()
        );
        let p = permission_set(
            &json!({"Id": "0PS2", "Name": "Sandbox_Deploy", "Label": "Sandbox Deploy",
                                       "IsOwnedByProfile": false}),
        )
        .expect("maps");
        assert_eq!(
            (p.id.as_str(), p.entitlements.as_slice()),
            ("Sandbox_Deploy", &["assigned".to_string()][..])
        );
    }

    #[test]
    fn a_user_correlates_by_email_and_keeps_its_username_as_login() {
        let a = account(
            &json!({"Id": "005x", "Username": "liam@example.com.prod", "Email": "liam@example.com",
                                "IsActive": false, "Profile": {"Name": "Sales User"}}),
        )
        .expect("maps");
        assert_eq!(a.login, "liam@example.com.prod");
        assert_eq!(a.email.as_deref(), Some("liam@example.com"));
        assert_eq!(a.status, "INACTIVE");
        assert_eq!(a.attributes["profile"], "Sales User");
    }
}
