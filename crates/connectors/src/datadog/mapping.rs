//! Datadog's monitor JSON to the common model: each monitor is a read-only `monitor` resource with no
//! entitlements. The reach graph joins monitors to services by their `service:<name>` tag and shows their
//! `overall_state`, so those are kept as Datadog wrote them.

use grantflow_model::{Resource, ResourceKind};
use serde_json::{Map, Value};

pub const MONITOR: &str = "monitor";

/// The monitor's id as text: Datadog's ids are integers; a string id is taken as it is.
fn id(monitor: &Value) -> Option<String> {
    match monitor.get("id")? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A monitor; `None` for an object without an id, which nothing could refer to.
pub fn monitor(monitor: &Value) -> Option<Resource> {
    let id = id(monitor)?;
    let mut attributes = Map::new();
    // Only the tags that are strings: the graph splits them on `:`, and Datadog's tags are always text.
    let tags: Vec<Value> = monitor
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| t.is_string())
        .cloned()
        .collect();
    attributes.insert("tags".into(), Value::Array(tags));
    for key in ["type", "query", "overall_state", "priority"] {
        match monitor.get(key) {
            None | Some(Value::Null) => {}
            Some(v) => {
                attributes.insert(key.to_string(), v.clone());
            }
        }
    }
    let name = monitor
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map_or_else(|| id.clone(), str::to_string);
    Some(Resource {
        id,
        kind: ResourceKind::new(MONITOR),
        name,
        entitlements: Vec::new(),
        entitlement_aliases: Default::default(),
        writable: false,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_monitor_is_a_read_only_resource_with_its_tags_and_state() {
        let r = monitor(&json!({
            "id": 4012871,
            "org_id": 1200001,
            "name": "Checkout API error rate above 2%",
            "type": "query alert",
            "query": "sum(last_5m):sum:trace.http.request.errors{service:checkout-api,env:prod}.as_count() > 2",
            "message": "Checkout is failing payments. @pagerduty-payments-platform",
            "tags": ["service:checkout-api", "env:prod", "team:payments-platform"],
            "options": {"thresholds": {"critical": 0.02}},
            "overall_state": "Alert",
            "priority": 1,
            "restricted_roles": null
        }))
        .expect("maps");
        assert_eq!(r.id, "4012871");
        assert_eq!(r.kind.as_str(), "monitor");
        assert_eq!(r.name, "Checkout API error rate above 2%");
        assert!(r.entitlements.is_empty());
        assert!(r.entitlement_aliases.is_empty());
        assert!(!r.writable);
        assert_eq!(
            Value::Object(r.attributes),
            json!({
                "tags": ["service:checkout-api", "env:prod", "team:payments-platform"],
                "type": "query alert",
                "query": "sum(last_5m):sum:trace.http.request.errors{service:checkout-api,env:prod}.as_count() > 2",
                "overall_state": "Alert",
                "priority": 1
            }),
            "the message, options and other fields are not kept"
        );
    }

    #[test]
    fn missing_fields_are_left_out_and_a_monitor_without_an_id_is_skipped() {
        let r = monitor(&json!({"id": 7, "name": "", "priority": null, "tags": ["a", 3]}))
            .expect("maps");
        assert_eq!(r.name, "7", "a monitor without a name goes by its id");
        assert_eq!(Value::Object(r.attributes), json!({"tags": ["a"]}));
        let bare = monitor(&json!({"id": "abc"})).expect("maps");
        assert_eq!(bare.attributes["tags"], json!([]));
        assert!(monitor(&json!({"name": "no id"})).is_none());
        assert!(monitor(&json!({"id": null})).is_none());
    }
}
