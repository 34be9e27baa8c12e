//! A grantflow.yaml for a running sandbox, from the connection details the
//! sandbox publishes (its info file): each system a connection, its
//! credentials in owner-only files, and the demo's reachability data.

use grantflow_sandbox::SandboxInfo;
use grantflow_service::config::{NewConnection, new_config};
use std::collections::BTreeMap;
use std::path::Path;

/// `settings` adds options to the connection of a kind (e.g. a short Jira timeout for the demo).
pub fn for_sandbox(
    info: &SandboxInfo,
    base: &Path,
    settings: &BTreeMap<&str, serde_json::Map<String, serde_json::Value>>,
) -> anyhow::Result<String> {
    let directory = info
        .systems
        .iter()
        .find(|(_, system)| system.kind == "okta")
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| "okta".to_string());
    let connections: Vec<NewConnection> = info
        .systems
        .iter()
        .map(|(name, system)| NewConnection {
            name: name.clone(),
            kind: system.kind.clone(),
            base_url: system.base_url.clone(),
            // By convention a connector's secret settings are named like the sandbox's credentials.
            credentials: system
                .connection_credentials()
                .into_iter()
                .map(|(key, value)| (key, value.into()))
                .collect(),
            ca_certificate: system.ca_certificate.clone(),
            settings: {
                let mut merged = system.settings.clone();
                merged.extend(
                    settings
                        .get(system.kind.as_str())
                        .cloned()
                        .unwrap_or_default(),
                );
                merged
            },
        })
        .collect();
    let mut extra = serde_json::Map::new();
    if info.systems.values().any(|s| s.kind == "datadog") {
        extra.insert("reachability".into(), demo_reachability(base)?);
    }
    new_config(
        &connections,
        &directory,
        base,
        extra,
        "grantflow configuration for a local sandbox (grantflow sandbox up).",
    )
}

/// The sandbox's demo organisation comes with production-reach data: write it under `reach/` and
/// point a `reachability:` section at it.
fn demo_reachability(base: &Path) -> anyhow::Result<serde_json::Value> {
    grantflow_sandbox::demo_reach::write_files(&base.join("reach"))?;
    let mut section: serde_json::Value =
        serde_saphyr::from_str(grantflow_sandbox::demo_reach::CONFIG)
            .map_err(|e| anyhow::anyhow!("the demo's reachability settings: {e}"))?;
    if let Some(sources) = section.get_mut("sources").and_then(|s| s.as_object_mut()) {
        sources.insert("root".into(), "reach".into());
    }
    Ok(section)
}
