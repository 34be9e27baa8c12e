//! Incoming attribute values: names matched case-insensitively to their definitions (RFC 7643 §2.1), types
//! checked, read-only and unknown attributes dropped (RFC 7644 §3.3: the server ignores read-only values),
//! and the string booleans some identity providers send (`"False"`) read as booleans.

use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::schema::{Attr, Kind, Type};

/// One value of `def` (an element, for a multi-valued attribute); `None` when it holds nothing.
pub fn coerce_single(def: &Attr, v: &Value) -> ScimResult<Option<Value>> {
    let wrong = || {
        ScimError::bad(
            "invalidValue",
            format!("{} has the wrong type: {v}", def.name),
        )
    };
    match (def.ty, v) {
        (_, Value::Null) => Ok(None),
        (Type::Complex, Value::Object(obj)) => {
            let mut out = Map::new();
            for (k, sv) in obj {
                let Some(sub) = def.sub_attr(k) else { continue };
                if !sub.writable() {
                    continue;
                }
                if let Some(sv) = coerce_single(sub, sv)? {
                    out.insert(sub.name.to_owned(), sv);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        (Type::Boolean, Value::Bool(_)) => Ok(Some(v.clone())),
        (Type::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Ok(Some(Value::Bool(true)))
        }
        (Type::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Ok(Some(Value::Bool(false)))
        }
        (Type::String | Type::Reference | Type::DateTime, Value::String(_)) => Ok(Some(v.clone())),
        _ => Err(wrong()),
    }
}

/// A whole attribute value: an array for a multi-valued attribute (a lone value is taken as one element).
pub fn coerce(def: &Attr, v: &Value) -> ScimResult<Option<Value>> {
    if !def.multi {
        return coerce_single(def, v);
    }
    let items: Vec<&Value> = match v {
        Value::Null => return Ok(None),
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in items {
        if let Some(c) = coerce_single(def, item)?
            && !out.contains(&c)
        {
            out.push(c);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// The writable attributes of a create or replace body, under their schema names.
pub fn from_body(kind: Kind, body: &Value) -> ScimResult<Map<String, Value>> {
    let Value::Object(obj) = body else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the request body must be a JSON object",
        ));
    };
    if let Some(schemas) = obj.get("schemas") {
        let listed = schemas.as_array().is_some_and(|a| {
            a.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(kind.urn()))
            })
        });
        if !listed {
            return Err(ScimError::bad(
                "invalidSyntax",
                format!("schemas must include {}", kind.urn()),
            ));
        }
    }
    let mut out = Map::new();
    for (k, v) in obj {
        // Attributes written with their schema's URN as an object (`"urn:…:User": {…}`) are the same attributes.
        if k.eq_ignore_ascii_case(kind.urn()) {
            if let Value::Object(inner) = v {
                for (ik, iv) in inner {
                    put(kind, &mut out, ik, iv)?;
                }
            }
            continue;
        }
        put(kind, &mut out, k, v)?;
    }
    Ok(out)
}

fn put(kind: Kind, out: &mut Map<String, Value>, key: &str, v: &Value) -> ScimResult<()> {
    let Some(def) = kind.attr(key) else {
        return Ok(());
    };
    if !def.writable() {
        return Ok(());
    }
    if let Some(v) = coerce(def, v)? {
        out.insert(def.name.to_owned(), v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_matched_case_insensitively_and_read_only_or_unknown_values_dropped() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "USERNAME": "a@example.com", "Active": "False", "id": "mine", "groups": [{"value": "g"}],
            "nope": 1, "Emails": [{"VALUE": "a@example.com", "primary": true, "x": 1}],
            "name": {"givenName": "A", "familyName": null},
        });
        let out = from_body(Kind::User, &body).expect("valid");
        assert_eq!(
            Value::Object(out),
            json!({"userName": "a@example.com", "active": false,
                   "emails": [{"value": "a@example.com", "primary": true}], "name": {"givenName": "A"}})
        );
        let err = from_body(Kind::User, &json!({"userName": 5})).expect_err("wrong type");
        assert_eq!(err.scim_type, Some("invalidValue"));
    }
}
