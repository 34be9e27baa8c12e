//! The demo organisation's production-reach data (`orgs/demo-reach/`): AWS Identity Center export,
//! Kubernetes manifests and access entries, Backstage catalog, monitors and deploy events, plus the
//! `reachability` configuration that ties them to the demo's Okta apps. Built in, so `grantflow
//! demo` and `grantflow init --sandbox` can write them out from any folder.

use crate::datadog::DatadogSeed;

/// The configuration section (paths relative to the folder the files are written to).
pub const CONFIG: &str = include_str!("../orgs/demo-reach/reachability.yaml");

/// Every data file, by its path relative to that folder.
pub const FILES: [(&str, &str); 10] = [
    ("reachability.yaml", CONFIG),
    (
        "aws-identity-center.json",
        include_str!("../orgs/demo-reach/aws-identity-center.json"),
    ),
    (
        "k8s/prod-eks.yaml",
        include_str!("../orgs/demo-reach/k8s/prod-eks.yaml"),
    ),
    (
        "k8s/prod-eks-access-entries.json",
        include_str!("../orgs/demo-reach/k8s/prod-eks-access-entries.json"),
    ),
    (
        "k8s/staging-eks.yaml",
        include_str!("../orgs/demo-reach/k8s/staging-eks.yaml"),
    ),
    (
        "k8s/staging-eks-access-entries.json",
        include_str!("../orgs/demo-reach/k8s/staging-eks-access-entries.json"),
    ),
    (
        "catalog-info.yaml",
        include_str!("../orgs/demo-reach/catalog-info.yaml"),
    ),
    ("datadog-monitors.json", DATADOG_MONITORS),
    (
        "prometheus-rules.yaml",
        include_str!("../orgs/demo-reach/prometheus-rules.yaml"),
    ),
    (
        "deploys.json",
        include_str!("../orgs/demo-reach/deploys.json"),
    ),
];

const DATADOG_MONITORS: &str = include_str!("../orgs/demo-reach/datadog-monitors.json");

/// The Datadog emulator's seed: the same monitors the graph ingests from `datadog-monitors.json`.
pub fn datadog_seed() -> DatadogSeed {
    DatadogSeed {
        // Part of the crate and covered by tests; failing here is a build defect, not input error.
        #[allow(
            clippy::expect_used,
            reason = "the JSON is embedded at build time and a test parses it"
        )]
        monitors: serde_json::from_str(DATADOG_MONITORS)
            .expect("embedded datadog-monitors.json must parse"),
    }
}

/// Writes every file under `dir`, creating folders.
pub fn write_files(dir: &std::path::Path) -> std::io::Result<()> {
    for (path, text) in FILES {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, text)?;
    }
    Ok(())
}
