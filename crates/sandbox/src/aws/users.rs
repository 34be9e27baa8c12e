//! Identity store user writes (`AWSIdentityStore.CreateUser`, `UpdateUser`, `DeleteUser`) with the shapes and
//! exceptions of botocore's model: `CreateUser` answers `UserId` and `IdentityStoreId`; a `UserName` taken (any
//! case) is a `ConflictException`; IAM Identity Center requires `UserName`, `DisplayName` and `Name` (given and
//! family name); `UpdateUser` takes `Operations` of `AttributePath` and `AttributeValue` (none removes the
//! attribute); an unknown user is `ResourceNotFoundException`. Each write is counted as `user/<id>`. Deleting a
//! user also ends their group memberships [unverified: whether AWS cascades them].

use serde_json::{Map, Value, json};

use super::ops::{AwsError, OpResult, text};
use super::state::{Inner, User};

/// `UpdateUser` attribute paths and where `DescribeUser` shows each.
const PATHS: &[(&str, &[&str])] = &[
    ("displayName", &["DisplayName"]),
    ("userName", &["UserName"]),
    ("name.givenName", &["Name", "GivenName"]),
    ("name.familyName", &["Name", "FamilyName"]),
    ("name.formatted", &["Name", "Formatted"]),
    ("name.middleName", &["Name", "MiddleName"]),
    ("nickName", &["NickName"]),
    ("title", &["Title"]),
    ("userType", &["UserType"]),
    ("preferredLanguage", &["PreferredLanguage"]),
    ("locale", &["Locale"]),
    ("timezone", &["Timezone"]),
    ("profileUrl", &["ProfileUrl"]),
];

/// Fields of `CreateUser` kept as the user's profile, as given.
const PROFILE_FIELDS: &[&str] = &[
    "Name",
    "NickName",
    "Title",
    "UserType",
    "PreferredLanguage",
    "Locale",
    "Timezone",
    "ProfileUrl",
];

/// The user write `op` names, or `None` when `op` is not one.
pub fn write(op: &str, inner: &mut Inner, body: &Value) -> Option<OpResult> {
    Some(match op {
        "CreateUser" => create(inner, body),
        "UpdateUser" => update(inner, body),
        "DeleteUser" => delete(inner, body),
        _ => return None,
    })
}

fn conflict(user_name: &str) -> AwsError {
    AwsError::new(
        "ConflictException",
        format!("Duplicate UserName: a user named {user_name} already exists"),
    )
}

fn taken(inner: &Inner, user_name: &str, except: Option<&str>) -> bool {
    inner
        .users
        .values()
        .any(|u| Some(u.id.as_str()) != except && u.user_name.eq_ignore_ascii_case(user_name))
}

fn create(inner: &mut Inner, body: &Value) -> OpResult {
    let user_name = text(body, "UserName")?.to_owned();
    let display_name = text(body, "DisplayName")?.to_owned();
    let name = body.get("Name").and_then(Value::as_object);
    let named = |key: &str| {
        name.and_then(|n| n.get(key))
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
    };
    if !named("GivenName") || !named("FamilyName") {
        return Err(AwsError::validation(
            "Name.GivenName and Name.FamilyName are required for a user in IAM Identity Center",
        ));
    }
    if user_name.eq_ignore_ascii_case("Administrator")
        || user_name.eq_ignore_ascii_case("AWSAdministrators")
    {
        return Err(AwsError::validation(format!(
            "UserName {user_name} is reserved"
        )));
    }
    if taken(inner, &user_name, None) {
        return Err(conflict(&user_name));
    }
    let emails = body.get("Emails").and_then(Value::as_array);
    let email = emails
        .and_then(|list| {
            list.iter()
                .find(|e| e.get("Primary").and_then(Value::as_bool) == Some(true))
                .or_else(|| list.first())
        })
        .and_then(|e| e.get("Value"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut profile = Map::new();
    for field in PROFILE_FIELDS {
        if let Some(value) = body.get(*field).filter(|v| !v.is_null()) {
            profile.insert((*field).to_owned(), value.clone());
        }
    }
    let id = inner.new_store_id(1);
    inner.users.insert(
        id.clone(),
        User {
            id: id.clone(),
            user_name,
            display_name,
            email,
            disabled: false,
            profile,
        },
    );
    inner.writes.count(format!("user/{id}"));
    Ok(json!({"UserId": id, "IdentityStoreId": inner.identity_store_id}))
}

fn update(inner: &mut Inner, body: &Value) -> OpResult {
    let id = text(body, "UserId")?.to_owned();
    let operations = body
        .get("Operations")
        .and_then(Value::as_array)
        .filter(|ops| !ops.is_empty())
        .ok_or_else(|| AwsError::validation("Operations must list at least one operation"))?;
    let Some(mut user) = inner.users.get(&id).cloned() else {
        return Err(AwsError::not_found(format!("USER not found: {id}")));
    };
    for operation in operations {
        let path = operation
            .get("AttributePath")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let value = operation.get("AttributeValue").filter(|v| !v.is_null());
        let Some((_, fields)) = PATHS.iter().find(|(p, _)| p.eq_ignore_ascii_case(path)) else {
            return Err(AwsError::validation(format!(
                "Invalid AttributePath {path}"
            )));
        };
        let text_value = value.and_then(Value::as_str).map(str::to_owned);
        match *fields {
            ["DisplayName"] => user.display_name = text_value.unwrap_or_default(),
            ["UserName"] => {
                let Some(name) = text_value.filter(|n| !n.is_empty()) else {
                    return Err(AwsError::validation("UserName cannot be removed"));
                };
                if taken(inner, &name, Some(&id)) {
                    return Err(conflict(&name));
                }
                user.user_name = name;
            }
            [field] => match value {
                Some(v) => {
                    user.profile.insert((*field).to_owned(), v.clone());
                }
                None => {
                    user.profile.remove(*field);
                }
            },
            [parent, child] => {
                let slot = user
                    .profile
                    .entry((*parent).to_owned())
                    .or_insert_with(|| json!({}));
                if let Some(obj) = slot.as_object_mut() {
                    match value {
                        Some(v) => {
                            obj.insert((*child).to_owned(), v.clone());
                        }
                        None => {
                            obj.remove(*child);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    inner.users.insert(id.clone(), user);
    inner.writes.count(format!("user/{id}"));
    Ok(json!({}))
}

fn delete(inner: &mut Inner, body: &Value) -> OpResult {
    let id = text(body, "UserId")?.to_owned();
    if inner.users.remove(&id).is_none() {
        return Err(AwsError::not_found(format!("USER not found: {id}")));
    }
    inner.memberships.retain(|_, m| m.user_id != id);
    inner.writes.count(format!("user/{id}"));
    Ok(json!({}))
}
