//! Comparing a declared resource's `spec` with the settings a sync read: only the fields the spec names
//! count, an object in the spec names only its own keys, and a list is a set (its order does not matter).

use serde_json::{Map, Value};

/// How a declared resource differs from what the system holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecDifference {
    /// The differing fields as the system holds them (restricted to what the spec names).
    pub before: Map<String, Value>,
    /// The differing fields as the spec wants them.
    pub after: Map<String, Value>,
    /// Fields the spec names that the sync does not read, so cannot be compared.
    pub not_read: Vec<String>,
}

impl SpecDifference {
    pub fn is_empty(&self) -> bool {
        self.after.is_empty()
    }
}

/// The fields of `spec` whose value differs from `held` (a resource's synced attributes).
pub fn spec_difference(spec: &Map<String, Value>, held: &Map<String, Value>) -> SpecDifference {
    let mut difference = SpecDifference::default();
    for (field, wanted) in spec {
        match held.get(field) {
            None => difference.not_read.push(field.clone()),
            Some(actual) if spec_matches(wanted, actual) => {}
            Some(actual) => {
                difference
                    .before
                    .insert(field.clone(), restrict(wanted, actual));
                difference.after.insert(field.clone(), wanted.clone());
            }
        }
    }
    difference
}

/// Whether `actual` has what `wanted` says: every key of a wanted object, the same members of a list (in
/// any order), an equal scalar.
pub fn spec_matches(wanted: &Value, actual: &Value) -> bool {
    match (wanted, actual) {
        (Value::Object(wanted), Value::Object(actual)) => wanted
            .iter()
            .all(|(k, w)| spec_matches(w, actual.get(k).unwrap_or(&Value::Null))),
        (Value::Array(wanted), Value::Array(actual)) => sorted(wanted) == sorted(actual),
        _ => wanted == actual,
    }
}

fn sorted(values: &[Value]) -> Vec<String> {
    let mut texts: Vec<String> = values.iter().map(Value::to_string).collect();
    texts.sort();
    texts
}

/// `actual` cut down to the keys `wanted` names, when both are objects.
fn restrict(wanted: &Value, actual: &Value) -> Value {
    match (wanted, actual) {
        (Value::Object(wanted), Value::Object(actual)) => Value::Object(
            wanted
                .keys()
                .map(|k| (k.clone(), actual.get(k).cloned().unwrap_or(Value::Null)))
                .collect(),
        ),
        _ => actual.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn only_named_fields_count_lists_are_sets_and_unread_fields_are_said() {
        let spec = map(json!({
            "description": "new",
            "groups": ["b", "a"],
            "privileges": {"secret_create": true},
            "roles": ["end_user"],
        }));
        let held = map(json!({
            "description": "old",
            "groups": ["a", "b"],
            "privileges": {"secret_create": false, "list": true},
            "other": 1,
        }));
        let d = spec_difference(&spec, &held);
        assert_eq!(
            d.after,
            map(json!({"description": "new", "privileges": {"secret_create": true}}))
        );
        assert_eq!(
            d.before,
            map(json!({"description": "old", "privileges": {"secret_create": false}}))
        );
        assert_eq!(d.not_read, ["roles"]);
        let same = spec_difference(&map(json!({"groups": ["a", "b"]})), &held);
        assert!(same.is_empty());
    }
}
