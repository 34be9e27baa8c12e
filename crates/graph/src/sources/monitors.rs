//! Monitors: the body of Datadog's `GET /api/v1/monitor` (joined to services by their
//! `service:<name>` tag) and Prometheus alerting-rule files (joined by the `service` label).

use serde::Deserialize;
use serde_json::Value;

use super::documents;
use crate::graph::Monitor;

/// A monitor and the service it watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceMonitor {
    pub service: String,
    pub monitor: Monitor,
}

#[derive(Deserialize)]
struct DatadogMonitor {
    id: i64,
    name: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    overall_state: Option<String>,
}

/// Monitors without a `service:` tag are not joined to anything and so are dropped.
pub fn parse_datadog(text: &str) -> Result<Vec<ServiceMonitor>, String> {
    let monitors: Vec<DatadogMonitor> =
        serde_json::from_str(text).map_err(|e| format!("not a Datadog monitor list: {e}"))?;
    Ok(monitors
        .into_iter()
        .flat_map(|m| datadog_monitor(&m.id.to_string(), &m.name, &m.tags, m.overall_state))
        .collect())
}

/// One Datadog monitor, once per service its `service:<name>` tags name.
pub fn datadog_monitor(
    id: &str,
    name: &str,
    tags: &[String],
    state: Option<String>,
) -> Vec<ServiceMonitor> {
    tags.iter()
        .filter_map(|t| t.strip_prefix("service:"))
        .map(|service| ServiceMonitor {
            service: service.to_string(),
            monitor: Monitor {
                source: "datadog".to_string(),
                id: id.to_string(),
                name: name.to_string(),
                state: state.clone(),
                tags: tags.to_vec(),
            },
        })
        .collect()
}

/// Alerting rules (`alert:`) with a `service` label, from `groups:` files or `PrometheusRule`
/// objects; recording rules are not monitors and are skipped.
pub fn parse_prometheus(text: &str) -> Result<Vec<ServiceMonitor>, String> {
    let mut out = Vec::new();
    for doc in documents(text)? {
        let groups = doc
            .get("groups")
            .or_else(|| doc.pointer("/spec/groups"))
            .and_then(Value::as_array)
            .ok_or("no rule groups (expected `groups:` or a PrometheusRule's `spec.groups`)")?;
        for group in groups {
            let group_name = group
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            for rule in group
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(alert), Some(service)) = (
                    rule.get("alert").and_then(Value::as_str),
                    rule.pointer("/labels/service").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let tags = rule
                    .get("labels")
                    .and_then(Value::as_object)
                    .map(|labels| {
                        labels
                            .iter()
                            .filter_map(|(k, v)| Some(format!("{k}:{}", v.as_str()?)))
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(ServiceMonitor {
                    service: service.to_string(),
                    monitor: Monitor {
                        source: "prometheus".to_string(),
                        id: format!("{group_name}/{alert}"),
                        name: alert.to_string(),
                        state: None,
                        tags,
                    },
                });
            }
        }
    }
    Ok(out)
}
