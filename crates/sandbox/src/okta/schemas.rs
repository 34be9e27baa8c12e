//! `/api/v1/meta/schemas/user/{schemaId}`: the user profile schema, as Okta publishes it (a JSON Schema draft-04
//! document with `#base` and `#custom` definitions). The base properties are Okta's default profile; the custom
//! ones are whatever the seeded users carry beyond it, typed by their values.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::context::{Ctx, ok};
use super::errors::{OktaError, OktaResult};
use super::state::{Okta, USER_TYPE_ID};

/// Okta's default user profile (the `#base` subschema): every property is a string; these four are required.
const BASE_PROPERTIES: [(&str, &str); 31] = [
    ("login", "Username"),
    ("firstName", "First name"),
    ("lastName", "Last name"),
    ("middleName", "Middle name"),
    ("honorificPrefix", "Honorific prefix"),
    ("honorificSuffix", "Honorific suffix"),
    ("email", "Primary email"),
    ("title", "Title"),
    ("displayName", "Display name"),
    ("nickName", "Nickname"),
    ("profileUrl", "Profile Url"),
    ("secondEmail", "Secondary email"),
    ("mobilePhone", "Mobile phone"),
    ("primaryPhone", "Primary phone"),
    ("streetAddress", "Street address"),
    ("city", "City"),
    ("state", "State"),
    ("zipCode", "Zip code"),
    ("countryCode", "Country code"),
    ("postalAddress", "Postal Address"),
    ("preferredLanguage", "Preferred language"),
    ("locale", "Locale"),
    ("timezone", "Time zone"),
    ("userType", "User type"),
    ("employeeNumber", "Employee number"),
    ("costCenter", "Cost center"),
    ("organization", "Organization"),
    ("division", "Division"),
    ("department", "Department"),
    ("managerId", "ManagerId"),
    ("manager", "Manager"),
];
const REQUIRED: [&str; 4] = ["login", "firstName", "lastName", "email"];

pub async fn get(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(schema_id): Path<String>,
) -> OktaResult<Response> {
    // `default` names the default user type's schema; its own id is the other accepted name.
    if schema_id != "default" && schema_id != schema_id_of_default_type() {
        return Err(OktaError::not_found(&schema_id, "UserSchema"));
    }
    Ok(ok(&user_schema(&o, &ctx)))
}

fn schema_id_of_default_type() -> String {
    format!("osc{}", USER_TYPE_ID.trim_start_matches("oty"))
}

fn user_schema(o: &Okta, ctx: &Ctx) -> Value {
    let base: Map<String, Value> = BASE_PROPERTIES
        .iter()
        .map(|(name, title)| {
            let mut property = json!({
                "title": title,
                "type": "string",
                "mutability": "READ_WRITE",
                "scope": "NONE",
                "permissions": [{"principal": "SELF", "action": "READ_WRITE"}],
                "master": {"type": "PROFILE_MASTER"},
            });
            if REQUIRED.contains(name) {
                property["required"] = json!(true);
            }
            if *name == "email" || *name == "secondEmail" {
                property["format"] = json!("email");
            }
            ((*name).to_string(), property)
        })
        .collect();
    let custom: Map<String, Value> = custom_properties(o)
        .into_iter()
        .map(|(name, kind)| {
            let title = name.clone();
            let mut property = json!({
                "title": title,
                "type": kind.0,
                "mutability": "READ_WRITE",
                "scope": "NONE",
                "permissions": [{"principal": "SELF", "action": "READ_ONLY"}],
                "master": {"type": "PROFILE_MASTER"},
            });
            if let Some(items) = kind.1 {
                property["items"] = json!({ "type": items });
            }
            (name, property)
        })
        .collect();
    json!({
        "id": ctx.url("/meta/schemas/user/default"),
        "$schema": "http://json-schema.org/draft-04/schema#",
        "name": "user",
        "title": "Default Okta user",
        "description": "Okta user profile template with default permission settings",
        "lastUpdated": "2024-01-01T00:00:00.000Z",
        "created": "2024-01-01T00:00:00.000Z",
        "definitions": {
            "base": {"id": "#base", "type": "object", "properties": base, "required": REQUIRED},
            "custom": {"id": "#custom", "type": "object", "properties": custom, "required": []},
        },
        "type": "object",
        "properties": {"profile": {"allOf": [{"$ref": "#/definitions/custom"}, {"$ref": "#/definitions/base"}]}},
        "_links": {
            "self": ctx.href("/api/v1/meta/schemas/user/default"),
            "type": ctx.href(&format!("/api/v1/meta/types/user/{USER_TYPE_ID}")),
        },
    })
}

/// Properties the org's users carry beyond the base profile, typed as their values are (JSON Schema's `string`,
/// `integer`, `number`, `boolean`, or `array` with its item type).
fn custom_properties(o: &Okta) -> BTreeMap<String, (&'static str, Option<&'static str>)> {
    let inner = o.core.state();
    let mut found = BTreeMap::new();
    for user in inner.users.values() {
        for (name, value) in &user.profile {
            if BASE_PROPERTIES.iter().any(|(base, _)| base == name) {
                continue;
            }
            if let Some(kind) = json_schema_type(value) {
                found.entry(name.clone()).or_insert(kind);
            }
        }
    }
    found
}

fn json_schema_type(value: &Value) -> Option<(&'static str, Option<&'static str>)> {
    Some(match value {
        Value::Null | Value::Object(_) => return None,
        Value::Bool(_) => ("boolean", None),
        Value::Number(n) if n.is_i64() || n.is_u64() => ("integer", None),
        Value::Number(_) => ("number", None),
        Value::String(_) => ("string", None),
        Value::Array(items) => {
            let item = items
                .iter()
                .find_map(json_schema_type)
                .map_or("string", |(kind, _)| kind);
            ("array", Some(item))
        }
    })
}
