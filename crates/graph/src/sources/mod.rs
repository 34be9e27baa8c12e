//! Reading the files the reachability configuration names into plain records. Each submodule parses
//! one format from text (pure, tested with realistic files); [`load`] reads the configured paths.
//! Nothing here calls a vendor API: the files are API responses or exports saved by a sync.

pub mod aws;
pub mod catalog;
pub mod deploys;
pub mod kubernetes;
pub mod live;
pub mod monitors;

use std::path::{Path, PathBuf};

use crate::config::ReachConfig;

/// A file that could not be read or parsed, with the reason.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct SourceError {
    pub file: String,
    pub message: String,
}

impl SourceError {
    pub fn new(file: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self {
            file: file.into(),
            message: message.to_string(),
        }
    }
}

/// Everything but the Okta snapshot, parsed.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub aws: Option<aws::AwsExport>,
    pub clusters: Vec<kubernetes::ClusterData>,
    pub components: Vec<catalog::Component>,
    pub monitors: Vec<monitors::ServiceMonitor>,
    pub deploys: Vec<deploys::DeployEvent>,
    /// Teams and repositories of the code systems grantflow syncs.
    pub code: Vec<live::CodeAccess>,
}

fn read(base: &Path, path: &PathBuf) -> Result<(String, String), SourceError> {
    let full = base.join(path);
    let name = full.display().to_string();
    let text = std::fs::read_to_string(&full).map_err(|e| SourceError::new(&name, e))?;
    Ok((name, text))
}

/// Reads and parses every file `config` names, relative to `base`.
pub fn load(config: &ReachConfig, base: &Path) -> Result<Inputs, SourceError> {
    let sources = &config.sources;
    let root = sources.root.as_ref().map(|r| base.join(r));
    let base = root.as_deref().unwrap_or(base);
    let mut inputs = Inputs::default();
    if let Some(path) = &sources.aws_identity_center {
        let (name, text) = read(base, path)?;
        inputs.aws = Some(aws::parse(&text).map_err(|e| SourceError::new(name, e))?);
    }
    for cluster in &sources.kubernetes {
        let mut data = kubernetes::ClusterData::new(cluster);
        for path in &cluster.manifests {
            let (name, text) = read(base, path)?;
            kubernetes::parse_manifests(&text, &mut data).map_err(|e| SourceError::new(name, e))?;
        }
        if let Some(path) = &cluster.access_entries {
            let (name, text) = read(base, path)?;
            kubernetes::parse_access_entries(&text, &mut data)
                .map_err(|e| SourceError::new(name, e))?;
        }
        inputs.clusters.push(data);
    }
    inputs.components = parse_each(base, &sources.catalog, catalog::parse)?;
    inputs.monitors = parse_each(base, &sources.datadog_monitors, monitors::parse_datadog)?;
    inputs.monitors.extend(parse_each(
        base,
        &sources.prometheus_rules,
        monitors::parse_prometheus,
    )?);
    inputs.deploys = parse_each(base, &sources.deploys, deploys::parse)?;
    Ok(inputs)
}

/// Reads and parses each file, naming the file in any error.
fn parse_each<T>(
    base: &Path,
    paths: &[PathBuf],
    parse: fn(&str) -> Result<Vec<T>, String>,
) -> Result<Vec<T>, SourceError> {
    let mut out = Vec::new();
    for path in paths {
        let (name, text) = read(base, path)?;
        out.extend(parse(&text).map_err(|e| SourceError::new(name, e))?);
    }
    Ok(out)
}

/// Parses YAML documents (or one JSON document) into values; `List` objects are flattened.
pub(crate) fn documents(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let docs: Vec<serde_json::Value> = if text.trim_start().starts_with('{') {
        vec![serde_json::from_str(text).map_err(|e| e.to_string())?]
    } else {
        serde_saphyr::from_multiple(text).map_err(|e| e.to_string())?
    };
    let mut out = Vec::new();
    for doc in docs {
        if doc.is_null() {
            continue;
        }
        match doc.get("items").and_then(|i| i.as_array()) {
            Some(items)
                if doc
                    .get("kind")
                    .and_then(|k| k.as_str())
                    .is_some_and(|k| k.ends_with("List")) =>
            {
                out.extend(items.iter().cloned());
            }
            _ => out.push(doc),
        }
    }
    Ok(out)
}

pub(crate) fn str_at<'a>(value: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    let mut v = value;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str()
}
