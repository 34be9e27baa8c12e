//! The reachability configuration: which files to ingest, how Okta apps lead into AWS, Kubernetes
//! and Datadog, and what counts as production. Paths are relative to a base folder the caller gives.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReachConfig {
    /// How each Okta app (by label) leads further; apps not listed lead nowhere beyond themselves.
    #[serde(default)]
    pub okta_apps: Vec<AppLink>,
    #[serde(default)]
    pub environments: EnvironmentRules,
    #[serde(default)]
    pub sources: Sources,
}

/// One Okta app and what holding it gives. Exactly one of the link kinds is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppLink {
    /// The app's label in Okta.
    pub app: String,
    /// The app is the AWS IAM Identity Center app: Okta pushes every group assigned to it into
    /// Identity Center under the same display name, and a user assigned directly is provisioned
    /// under their Okta login.
    #[serde(default)]
    pub identity_center: Option<IdentityCenterLink>,
    /// The app is the OIDC identity provider of an EKS cluster: its `groups` claim carries the Okta
    /// group names, which Kubernetes sees with `groups_prefix` in front.
    #[serde(default)]
    pub kubernetes_oidc: Option<OidcLink>,
    /// The app signs into Datadog with access to the dashboards of the services whose monitors
    /// carry every one of these tags.
    #[serde(default)]
    pub datadog_dashboards: Option<DashboardLink>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityCenterLink {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcLink {
    pub cluster: String,
    #[serde(default)]
    pub groups_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardLink {
    pub monitor_tags: Vec<String>,
}

/// What counts as production. Anything not classified otherwise is production: a review should
/// over-report rather than hide reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentRules {
    /// The AWS account tag that names the environment.
    #[serde(default = "default_account_tag")]
    pub account_tag: String,
    /// Values of that tag (case-insensitive) that are production; other values are not.
    #[serde(default = "default_production_values")]
    pub production_values: Vec<String>,
    /// Namespace names that are not production; `*` matches any run of characters.
    #[serde(default)]
    pub non_production_namespaces: Vec<String>,
    /// The namespace label that names the environment (checked against `production_values`).
    #[serde(default = "default_namespace_label")]
    pub namespace_label: String,
    /// Backstage `spec.lifecycle` values that are production.
    #[serde(default = "default_production_lifecycles")]
    pub production_lifecycles: Vec<String>,
}

fn default_account_tag() -> String {
    "environment".to_string()
}
fn default_namespace_label() -> String {
    "environment".to_string()
}
fn default_production_values() -> Vec<String> {
    vec!["production".to_string(), "prod".to_string()]
}
fn default_production_lifecycles() -> Vec<String> {
    vec!["production".to_string()]
}

impl Default for EnvironmentRules {
    fn default() -> Self {
        Self {
            account_tag: default_account_tag(),
            production_values: default_production_values(),
            non_production_namespaces: Vec::new(),
            namespace_label: default_namespace_label(),
            production_lifecycles: default_production_lifecycles(),
        }
    }
}

impl EnvironmentRules {
    pub fn is_production_value(&self, value: &str) -> bool {
        self.production_values
            .iter()
            .any(|v| v.eq_ignore_ascii_case(value))
    }

    pub fn namespace_is_listed_non_production(&self, namespace: &str) -> bool {
        self.non_production_namespaces
            .iter()
            .any(|pattern| glob(pattern, namespace))
    }
}

/// `*` matches any run of characters; everything else literally.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, rest) = match parts.split_first() {
        Some(split) => split,
        None => return false,
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let (last, middle) = match rest.split_last() {
        Some(split) => split,
        None => return true,
    };
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.ends_with(last)
}

/// The files to ingest, relative to the configuration's folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    /// The folder the paths below are relative to, itself relative to the configuration's folder.
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// The AWS IAM Identity Center export (JSON; see `sources::aws`).
    #[serde(default)]
    pub aws_identity_center: Option<PathBuf>,
    #[serde(default)]
    pub kubernetes: Vec<ClusterSource>,
    /// Backstage `catalog-info.yaml` files (several documents each).
    #[serde(default)]
    pub catalog: Vec<PathBuf>,
    /// Bodies of Datadog's `GET /api/v1/monitor` (a JSON array of monitors).
    #[serde(default)]
    pub datadog_monitors: Vec<PathBuf>,
    /// Prometheus rule files (`groups:`) or `PrometheusRule` objects.
    #[serde(default)]
    pub prometheus_rules: Vec<PathBuf>,
    /// Deploy-event files (JSON; see `sources::deploys`).
    #[serde(default)]
    pub deploys: Vec<PathBuf>,
}

/// One EKS cluster: where it runs and what to read about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSource {
    pub cluster: String,
    /// The AWS account the cluster is in; the cluster is as production as the account.
    #[serde(default)]
    pub account: Option<String>,
    /// Overrides the account's environment (a value checked against `production_values`).
    #[serde(default)]
    pub environment: Option<String>,
    /// Manifest files or `kubectl get -o yaml|json` exports (YAML documents or a `List`).
    #[serde(default)]
    pub manifests: Vec<PathBuf>,
    /// EKS access entries (JSON; see `sources::kubernetes`).
    #[serde(default)]
    pub access_entries: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn namespace_patterns_match_prefixes_suffixes_and_exact_names() {
        assert!(glob("*-staging", "payments-staging"));
        assert!(!glob("*-staging", "payments"));
        assert!(glob("dev-*", "dev-alice"));
        assert!(glob("staging", "staging"));
        assert!(!glob("staging", "staging-2"));
        assert!(glob("a*b*c", "a-x-b-y-c"));
    }
}
