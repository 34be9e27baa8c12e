//! Okta's JSON objects to the common model.

use grantflow_model::{
    Account, AttributeDecl, AttributeType, LifecycleState, ProfileSchema, Resource, ResourceKind,
};
use serde_json::{Map, Value};

pub const GROUP: &str = "group";
pub const APP: &str = "app";
pub const MEMBER: &str = "member";
pub const ASSIGNED: &str = "assigned";

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// An Okta user as an account; the profile becomes the attributes policies
/// see, plus the canonical names (department, title, manager, location,
/// employment_status, employee_number) mapped from Okta's profile fields.
pub fn account(user: &Value) -> Option<Account> {
    let id = text(user, "/id")?;
    let login = text(user, "/profile/login")?;
    let email = text(user, "/profile/email");
    let first = text(user, "/profile/firstName").unwrap_or_default();
    let last = text(user, "/profile/lastName").unwrap_or_default();
    let status = text(user, "/status").unwrap_or_else(|| "UNKNOWN".to_string());
    let profile = user
        .get("profile")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut attributes: Map<String, Value> = profile.clone();
    let canonical = [
        ("department", &["department"][..]),
        ("title", &["title"][..]),
        ("manager", &["manager", "managerId"][..]),
        ("location", &["city", "location", "countryCode"][..]),
        ("employment_status", &["employmentStatus", "userType"][..]),
        ("employee_number", &["employeeNumber"][..]),
    ];
    for (name, sources) in canonical {
        let value = sources
            .iter()
            .find_map(|source| profile.get(*source).filter(|v| !v.is_null()).cloned());
        if let Some(value) = value {
            attributes.insert(name.to_string(), value);
        }
    }
    let display_name = format!("{first} {last}").trim().to_string();
    Some(Account {
        id,
        display_name: if display_name.is_empty() {
            login.clone()
        } else {
            display_name
        },
        login,
        email,
        state: lifecycle_state(&status),
        status,
        attributes,
    })
}

/// Okta's user schema (`/api/v1/meta/schemas/user/default`): the `#base` and
/// `#custom` properties with their JSON Schema types, and which are required
/// (a property's own `required: true`, or the subschema's `required` list).
pub fn profile_schema(schema: &Value) -> ProfileSchema {
    let mut attributes = std::collections::BTreeMap::new();
    for part in ["base", "custom"] {
        let Some(definition) = schema.pointer(&format!("/definitions/{part}")) else {
            continue;
        };
        let listed: Vec<&str> = definition
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(properties) = definition.get("properties").and_then(Value::as_object) else {
            continue;
        };
        for (name, property) in properties {
            let required = listed.contains(&name.as_str())
                || property.get("required").and_then(Value::as_bool) == Some(true);
            attributes.insert(
                name.clone(),
                AttributeDecl {
                    ty: attribute_type(property),
                    required,
                },
            );
        }
    }
    ProfileSchema { attributes }
}

fn attribute_type(property: &Value) -> AttributeType {
    let kind = |v: &Value| v.get("type").and_then(Value::as_str).map(str::to_string);
    match kind(property).as_deref() {
        Some("string") => AttributeType::String,
        Some("boolean") => AttributeType::Boolean,
        Some("integer") => AttributeType::Integer,
        Some("number") => AttributeType::Number,
        Some("array") => match property.get("items").and_then(kind).as_deref() {
            Some("integer") => AttributeType::IntegerArray,
            Some("number") => AttributeType::NumberArray,
            Some("string") | None => AttributeType::StringArray,
            Some(_) => AttributeType::Any,
        },
        _ => AttributeType::Any,
    }
}

/// Okta's user statuses in the common lifecycle. A lockout, an expired
/// password or a recovery in progress leave the person's access as it is.
pub fn lifecycle_state(status: &str) -> LifecycleState {
    match status {
        "ACTIVE" => LifecycleState::Active,
        "STAGED" | "PROVISIONED" | "ACTIVATING" => LifecycleState::Pending,
        "LOCKED_OUT" => LifecycleState::Locked,
        "PASSWORD_EXPIRED" => LifecycleState::PasswordExpired,
        "RECOVERY" => LifecycleState::Recovery,
        "SUSPENDED" => LifecycleState::Suspended,
        "DEPROVISIONED" => LifecycleState::Deprovisioned,
        // A status Okta adds later: not known to keep access.
        _ => LifecycleState::Suspended,
    }
}

/// An Okta group as a resource. Only OKTA_GROUP memberships can be changed
/// through the API; APP_GROUP and BUILT_IN groups are read-only.
pub fn group(group: &Value) -> Option<Resource> {
    let id = text(group, "/id")?;
    let name = text(group, "/profile/name")?;
    let group_type = text(group, "/type").unwrap_or_default();
    let mut attributes = Map::new();
    attributes.insert("type".into(), Value::String(group_type.clone()));
    // Read even when empty, so a declaration's description is compared with it.
    attributes.insert(
        "description".into(),
        text(group, "/profile/description").map_or(Value::Null, Value::String),
    );
    Some(Resource {
        id,
        kind: ResourceKind::new(GROUP),
        name,
        entitlements: vec![MEMBER.to_string()],
        entitlement_aliases: Default::default(),
        writable: group_type == "OKTA_GROUP",
        attributes,
    })
}

/// An Okta app instance as a resource, named by its label (what people see).
pub fn app(app: &Value) -> Option<Resource> {
    let id = text(app, "/id")?;
    let label = text(app, "/label").or_else(|| text(app, "/name"))?;
    let status = text(app, "/status").unwrap_or_default();
    let mut attributes = Map::new();
    attributes.insert("status".into(), Value::String(status.clone()));
    if let Some(name) = text(app, "/name") {
        attributes.insert("app_name".into(), Value::String(name));
    }
    Some(Resource {
        id,
        kind: ResourceKind::new(APP),
        name: label,
        entitlements: vec![ASSIGNED.to_string()],
        entitlement_aliases: Default::default(),
        writable: status == "ACTIVE",
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_user_profile_gives_canonical_attributes() {
        let user = json!({
            "id": "00u1", "status": "ACTIVE",
            "profile": {"login": "a@example.com", "email": "a@example.com", "firstName": "Ann",
                        "lastName": "Lee", "department": "Platform", "city": "Berlin", "costCenter": "42"}
        });
        let account = account(&user).expect("maps");
        assert_eq!(account.display_name, "Ann Lee");
        assert_eq!(account.attributes["department"], "Platform");
        assert_eq!(account.attributes["location"], "Berlin");
        assert_eq!(account.attributes["costCenter"], "42");
    }

    #[test]
    fn only_okta_groups_and_active_apps_are_writable() {
        let built_in = json!({"id": "00g1", "type": "BUILT_IN", "profile": {"name": "Everyone"}});
        assert!(!group(&built_in).expect("maps").writable);
        let okta = json!({"id": "00g2", "type": "OKTA_GROUP", "profile": {"name": "Eng"}});
        assert!(group(&okta).expect("maps").writable);
        let inactive = json!({"id": "0oa1", "label": "Old", "status": "INACTIVE"});
        assert!(!app(&inactive).expect("maps").writable);
    }
}
