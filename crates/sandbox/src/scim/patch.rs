//! PATCH (RFC 7644 §3.5.2) on a resource's stored attributes: `add`, `remove` and `replace`, matched
//! case-insensitively (Entra sends `"Replace"`); paths parsed by the `scim_v2` crate, including value-path
//! filters (`members[value eq "x"]`, `emails[type eq "work"].value`); `add`/`replace` without a path; and
//! `remove` of `members` with a `value` list, the form several identity providers use instead of a filter.

use scim_v2::filter::{AttrPath, PatchPath, PatchValuePath};
use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::filter;
use super::schema::{Attr, Kind, PATCH_OP, Type};
use super::values::{coerce, coerce_single};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Remove,
    Replace,
}

/// Applies a PatchOp body to `attrs`; on an error nothing is meant to be kept (the caller works on a copy).
pub fn apply(kind: Kind, attrs: &mut Map<String, Value>, body: &Value) -> ScimResult<()> {
    let listed = body["schemas"].as_array().is_some_and(|a| {
        a.iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP)))
    });
    if !listed {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("schemas must be [\"{PATCH_OP}\"]"),
        ));
    }
    let Some(ops) = body
        .get("Operations")
        .or_else(|| body.get("operations"))
        .and_then(Value::as_array)
    else {
        return Err(ScimError::bad("invalidSyntax", "Operations must be a list"));
    };
    for o in ops {
        let op = match o
            .get("op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("add") => Op::Add,
            Some("remove") => Op::Remove,
            Some("replace") => Op::Replace,
            _ => {
                return Err(ScimError::bad(
                    "invalidSyntax",
                    format!("unknown op in {o}"),
                ));
            }
        };
        let path = o
            .get("path")
            .and_then(Value::as_str)
            .filter(|p| !p.trim().is_empty());
        let value = o.get("value").filter(|v| !v.is_null());
        match path {
            Some(p) => {
                let parsed = filter::parse_path(p).map_err(|e| {
                    ScimError::bad("invalidPath", format!("invalid path {p:?}: {e}"))
                })?;
                at_path(kind, attrs, op, &parsed, value)?;
            }
            None if op == Op::Remove => {
                return Err(ScimError::bad("noTarget", "remove needs a path"));
            }
            None => {
                let Some(Value::Object(obj)) = value else {
                    return Err(ScimError::bad(
                        "invalidValue",
                        "an op without a path needs an object value",
                    ));
                };
                for (k, v) in obj {
                    if k.eq_ignore_ascii_case(kind.urn()) {
                        if let Value::Object(inner) = v {
                            for (ik, iv) in inner {
                                keyed(kind, attrs, op, ik, iv)?;
                            }
                        }
                        continue;
                    }
                    keyed(kind, attrs, op, k, v)?;
                }
            }
        }
    }
    Ok(())
}

/// One member of a path-less value: its key is itself a path (`"name.givenName"`, `"urn:…:User:active"`).
fn keyed(
    kind: Kind,
    attrs: &mut Map<String, Value>,
    op: Op,
    key: &str,
    v: &Value,
) -> ScimResult<()> {
    if key.eq_ignore_ascii_case("schemas") {
        return Ok(());
    }
    let parsed = filter::parse_path(key)
        .map_err(|e| ScimError::bad("invalidPath", format!("invalid path {key:?}: {e}")))?;
    // Extension schemas the emulator does not serve are ignored, as on create.
    if let PatchPath::Attr(AttrPath { uri: Some(uri), .. }) = &parsed
        && !uri.eq_ignore_ascii_case(kind.urn())
    {
        return Ok(());
    }
    at_path(kind, attrs, op, &parsed, Some(v))
}

fn definition(kind: Kind, path: &AttrPath) -> ScimResult<(&'static Attr, Option<&'static Attr>)> {
    let (attr, sub) =
        filter::resolve(kind, path).map_err(|e| ScimError::bad("invalidPath", e.0))?;
    if !attr.writable() || sub.is_some_and(|s| !s.writable()) {
        return Err(ScimError::bad("mutability", format!("{path} is read-only")));
    }
    Ok((attr, sub))
}

fn need<'a>(value: Option<&'a Value>, path: &str) -> ScimResult<&'a Value> {
    value.ok_or_else(|| {
        ScimError::bad(
            "invalidValue",
            format!("{path}: add and replace need a value"),
        )
    })
}

fn at_path(
    kind: Kind,
    attrs: &mut Map<String, Value>,
    op: Op,
    path: &PatchPath,
    value: Option<&Value>,
) -> ScimResult<()> {
    match path {
        PatchPath::Attr(a) => {
            let (def, sub) = definition(kind, a)?;
            match sub {
                None => whole(attrs, op, def, value, &a.to_string()),
                Some(sub) => sub_attr(attrs, op, def, sub, value, &a.to_string()),
            }
        }
        PatchPath::Value(vp) => selected(kind, attrs, op, vp, value),
    }
}

fn whole(
    attrs: &mut Map<String, Value>,
    op: Op,
    def: &Attr,
    value: Option<&Value>,
    path: &str,
) -> ScimResult<()> {
    if op == Op::Remove {
        if def.required {
            return Err(ScimError::bad(
                "invalidValue",
                format!("{path} is required and cannot be removed"),
            ));
        }
        // `{"op":"remove","path":"members","value":[{"value":id}]}` removes just those values.
        if let (true, Some(v)) = (def.multi, value)
            && let Some(Value::Array(gone)) = coerce(def, v)?
        {
            if let Some(Value::Array(items)) = attrs.get_mut(def.name) {
                items.retain(|i| !gone.iter().any(|g| same_value(g, i)));
                if items.is_empty() {
                    attrs.remove(def.name);
                }
            }
            return Ok(());
        }
        attrs.remove(def.name);
        return Ok(());
    }
    let Some(new) = coerce(def, need(value, path)?)? else {
        if op == Op::Replace {
            attrs.remove(def.name);
        }
        return Ok(());
    };
    match (op, def.multi, def.ty, attrs.get_mut(def.name)) {
        (Op::Add, true, _, Some(Value::Array(items))) => {
            for n in new.as_array().into_iter().flatten() {
                if !items.iter().any(|i| same_value(i, n)) {
                    items.push(n.clone());
                }
            }
        }
        // Replacing a single complex attribute changes the sub-attributes given and keeps the rest (§3.5.2.3).
        (_, false, Type::Complex, Some(Value::Object(old))) => {
            if let Value::Object(n) = new {
                old.extend(n);
            }
        }
        _ => {
            attrs.insert(def.name.to_owned(), new);
        }
    }
    Ok(())
}

/// Members and other multi-valued complex values are the same value when their `value`s are.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn sub_attr(
    attrs: &mut Map<String, Value>,
    op: Op,
    def: &Attr,
    sub: &Attr,
    value: Option<&Value>,
    path: &str,
) -> ScimResult<()> {
    let new = match op {
        Op::Remove => None,
        _ => coerce_single(sub, need(value, path)?)?,
    };
    let set = |el: &mut Map<String, Value>| match &new {
        Some(v) => {
            el.insert(sub.name.to_owned(), v.clone());
        }
        None => {
            el.remove(sub.name);
        }
    };
    if def.multi {
        let items = attrs
            .entry(def.name)
            .or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(items) = items {
            if items.is_empty() && new.is_some() {
                items.push(Value::Object(Map::new()));
            }
            items
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(set);
        }
    } else {
        let el = attrs
            .entry(def.name)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(el) = el {
            set(el);
        }
    }
    prune(attrs, def.name);
    Ok(())
}

/// Drops empty elements and an attribute left with nothing.
fn prune(attrs: &mut Map<String, Value>, name: &str) {
    let empty = match attrs.get_mut(name) {
        Some(Value::Array(items)) => {
            items.retain(|i| !matches!(i, Value::Object(o) if o.is_empty()));
            items.is_empty()
        }
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        attrs.remove(name);
    }
}

fn selected(
    kind: Kind,
    attrs: &mut Map<String, Value>,
    op: Op,
    vp: &PatchValuePath,
    value: Option<&Value>,
) -> ScimResult<()> {
    let label = vp.to_string();
    let (def, sub) = definition(kind, &vp.attr)?;
    if sub.is_some() || !def.multi || def.ty != Type::Complex {
        return Err(ScimError::bad(
            "invalidPath",
            format!("{label}: a value filter needs a multi-valued complex attribute"),
        ));
    }
    filter::check_val(kind, def, &vp.filter).map_err(|e| ScimError::bad("invalidFilter", e.0))?;
    let target_sub = match &vp.sub_attr {
        None => None,
        Some(s) => {
            let d = def.sub_attr(s).ok_or_else(|| {
                ScimError::bad("invalidPath", format!("{label}: unknown sub-attribute {s}"))
            })?;
            if !d.writable() {
                return Err(ScimError::bad(
                    "mutability",
                    format!("{label} is read-only"),
                ));
            }
            Some(d)
        }
    };
    let new = match (op, target_sub) {
        (Op::Remove, _) => None,
        (_, Some(d)) => coerce_single(d, need(value, &label)?)?,
        (_, None) => coerce_single(def, need(value, &label)?)?,
    };
    let items = match attrs.get_mut(def.name) {
        Some(Value::Array(items)) => items,
        _ => {
            return if op == Op::Remove {
                Ok(())
            } else {
                Err(ScimError::bad(
                    "noTarget",
                    format!("{label} matched no value"),
                ))
            };
        }
    };
    let hits: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, el)| filter::matches_val(kind, def, &vp.filter, el))
        .map(|(i, _)| i)
        .collect();
    if hits.is_empty() {
        return if op == Op::Remove {
            Ok(())
        } else {
            Err(ScimError::bad(
                "noTarget",
                format!("{label} matched no value"),
            ))
        };
    }
    for &i in hits.iter().rev() {
        match (op, target_sub) {
            (Op::Remove, None) => {
                items.remove(i);
            }
            (_, Some(d)) => {
                if let Some(el) = items[i].as_object_mut() {
                    match &new {
                        Some(v) => {
                            el.insert(d.name.to_owned(), v.clone());
                        }
                        None => {
                            el.remove(d.name);
                        }
                    }
                }
            }
            (_, None) => {
                if let (Some(el), Some(Value::Object(n))) = (items[i].as_object_mut(), &new) {
                    el.extend(n.clone());
                }
            }
        }
    }
    prune(attrs, def.name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(kind: Kind, attrs: Value, ops: Value) -> ScimResult<Value> {
        let mut map = attrs.as_object().cloned().expect("object");
        apply(
            kind,
            &mut map,
            &json!({"schemas": [PATCH_OP], "Operations": ops}),
        )?;
        Ok(Value::Object(map))
    }

    #[test]
    fn members_are_added_once_and_removed_by_filter_or_by_value_list() {
        let start = json!({"displayName": "eng", "members": [{"value": "a"}]});
        let added = patch(
            Kind::Group,
            start.clone(),
            json!([{"op": "Add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}]),
        )
        .expect("add");
        assert_eq!(added["members"], json!([{"value": "a"}, {"value": "b"}]));
        let removed = patch(
            Kind::Group,
            added.clone(),
            json!([{"op": "remove", "path": "members[value eq \"a\"]"}]),
        )
        .expect("remove");
        assert_eq!(removed["members"], json!([{"value": "b"}]));
        let removed = patch(
            Kind::Group,
            added,
            json!([{"op": "REMOVE", "path": "members", "value": [{"value": "b"}, {"value": "a"}]}]),
        )
        .expect("remove");
        assert_eq!(removed, json!({"displayName": "eng"}));
    }

    #[test]
    fn replace_without_a_path_deactivates_and_sub_attribute_paths_reach_into_values() {
        let start = json!({"userName": "u", "active": true,
                           "emails": [{"value": "u@x", "type": "work"}, {"value": "u@y", "type": "home"}]});
        let out = patch(
            Kind::User,
            start,
            json!([
                {"op": "Replace", "value": {"active": "False", "name.givenName": "U"}},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "v@x"},
                {"op": "remove", "path": "emails[type eq \"home\"]"},
            ]),
        )
        .expect("patch");
        assert_eq!(
            out,
            json!({"userName": "u", "active": false,
                               "emails": [{"value": "v@x", "type": "work"}], "name": {"givenName": "U"}})
        );
    }

    #[test]
    fn errors_carry_the_rfc_scim_types() {
        let start = json!({"userName": "u"});
        let cases = [
            (json!([{"op": "remove"}]), "noTarget"),
            (
                json!([{"op": "replace", "path": "nope", "value": 1}]),
                "invalidPath",
            ),
            (
                json!([{"op": "replace", "path": "id", "value": "x"}]),
                "mutability",
            ),
            (
                json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x"}]),
                "noTarget",
            ),
            (
                json!([{"op": "replace", "path": "emails[[", "value": "x"}]),
                "invalidPath",
            ),
            (
                json!([{"op": "remove", "path": "userName"}]),
                "invalidValue",
            ),
            (json!([{"op": "move", "path": "userName"}]), "invalidSyntax"),
        ];
        for (ops, want) in cases {
            let err = patch(Kind::User, start.clone(), ops.clone()).expect_err("error");
            assert_eq!(err.scim_type, Some(want), "{ops}");
        }
    }
}
