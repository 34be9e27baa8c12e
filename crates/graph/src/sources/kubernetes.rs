//! Kubernetes and EKS: the `aws-auth` ConfigMap (`mapRoles`), EKS access entries, RBAC bindings with
//! `Group` subjects, namespaces and workloads, from manifests or `kubectl get -o yaml|json` exports.
//!
//! Access entries are the EKS API's shapes, one object per principal, in a JSON file:
//! ```json
//! { "accessEntries": [ { "accessEntry": { "clusterName": "prod-eks", "principalArn": "arn:aws:iam::…:role/…",
//!                                          "kubernetesGroups": ["payments-oncall"], "type": "STANDARD" },     // DescribeAccessEntry
//!                        "associatedAccessPolicies": [ { "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
//!                                                        "accessScope": { "type": "namespace", "namespaces": ["payments"] } } ] } ] }  // ListAssociatedAccessPolicies
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::aws::normalise_role_arn;
use super::{documents, str_at};
use crate::config::ClusterSource;

/// Where a role-to-Kubernetes mapping came from; both join on the path-normalised role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingSource {
    AwsAuth,
    AccessEntry,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMapping {
    pub account: String,
    pub role_name: String,
    /// The ARN as the cluster has it, for the review.
    pub arn: String,
    pub groups: Vec<String>,
    pub source: MappingSource,
    pub access_policies: Vec<AccessPolicy>,
}

/// An EKS access policy association; `namespaces` is `None` for cluster scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    pub policy: String,
    pub namespaces: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// `RoleBinding` or `ClusterRoleBinding`.
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// `roleRef.name`, e.g. `edit`.
    pub role: String,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// Everything read about one cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterData {
    pub cluster: String,
    pub account: Option<String>,
    pub environment: Option<String>,
    pub role_mappings: Vec<RoleMapping>,
    pub bindings: Vec<Binding>,
    /// Namespace name → labels.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub workloads: Vec<Workload>,
}

impl ClusterData {
    pub fn new(source: &ClusterSource) -> Self {
        Self {
            cluster: source.cluster.clone(),
            account: source.account.clone(),
            environment: source.environment.clone(),
            ..Self::default()
        }
    }
}

fn labels(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct MapRole {
    rolearn: String,
    #[serde(default)]
    groups: Vec<String>,
}

/// Adds the objects of one manifest file to `data`. Kinds grantflow does not follow are ignored.
pub fn parse_manifests(text: &str, data: &mut ClusterData) -> Result<(), String> {
    for object in documents(text)? {
        let kind = str_at(&object, &["kind"]).unwrap_or_default();
        let name = str_at(&object, &["metadata", "name"])
            .unwrap_or_default()
            .to_string();
        let namespace = str_at(&object, &["metadata", "namespace"]).map(str::to_string);
        match kind {
            "ConfigMap" if name == "aws-auth" => {
                // `mapRoles` is a YAML document inside a string.
                if let Some(map_roles) = str_at(&object, &["data", "mapRoles"]) {
                    let roles: Vec<MapRole> = serde_saphyr::from_str(map_roles)
                        .map_err(|e| format!("aws-auth mapRoles: {e}"))?;
                    for role in roles {
                        let Some((account, role_name)) = normalise_role_arn(&role.rolearn) else {
                            return Err(format!(
                                "aws-auth mapRoles: {} is not an IAM role ARN",
                                role.rolearn
                            ));
                        };
                        data.role_mappings.push(RoleMapping {
                            account,
                            role_name,
                            arn: role.rolearn,
                            groups: role.groups,
                            source: MappingSource::AwsAuth,
                            access_policies: Vec::new(),
                        });
                    }
                }
            }
            "Namespace" => {
                data.namespaces.insert(name, labels(&object));
            }
            "RoleBinding" | "ClusterRoleBinding" => {
                let groups = object
                    .get("subjects")
                    .and_then(Value::as_array)
                    .map(|subjects| {
                        subjects
                            .iter()
                            .filter(|s| str_at(s, &["kind"]) == Some("Group"))
                            .filter_map(|s| str_at(s, &["name"]).map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                data.bindings.push(Binding {
                    kind: kind.to_string(),
                    namespace: if kind == "RoleBinding" {
                        namespace
                    } else {
                        None
                    },
                    name,
                    role: str_at(&object, &["roleRef", "name"])
                        .unwrap_or_default()
                        .to_string(),
                    groups,
                });
            }
            "Deployment" | "StatefulSet" => {
                let namespace = namespace.unwrap_or_else(|| "default".to_string());
                data.namespaces.entry(namespace.clone()).or_default();
                data.workloads.push(Workload {
                    kind: kind.to_string(),
                    namespace,
                    name,
                    labels: labels(&object),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessEntriesFile {
    access_entries: Vec<AccessEntryItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessEntryItem {
    access_entry: AccessEntry,
    #[serde(default)]
    associated_access_policies: Vec<AssociatedPolicy>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessEntry {
    principal_arn: String,
    #[serde(default)]
    kubernetes_groups: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssociatedPolicy {
    policy_arn: String,
    access_scope: AccessScope,
}

#[derive(Deserialize)]
struct AccessScope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    namespaces: Vec<String>,
}

/// Adds the access entries of one export file to `data`. Entries for IAM users are skipped: the
/// chain from Okta runs through Identity Center roles.
pub fn parse_access_entries(text: &str, data: &mut ClusterData) -> Result<(), String> {
    let file: AccessEntriesFile =
        serde_json::from_str(text).map_err(|e| format!("not an access-entries export: {e}"))?;
    for item in file.access_entries {
        let Some((account, role_name)) = normalise_role_arn(&item.access_entry.principal_arn)
        else {
            continue;
        };
        let access_policies = item
            .associated_access_policies
            .into_iter()
            .map(|p| AccessPolicy {
                policy: p
                    .policy_arn
                    .rsplit('/')
                    .next()
                    .unwrap_or(&p.policy_arn)
                    .to_string(),
                namespaces: (p.access_scope.kind == "namespace")
                    .then_some(p.access_scope.namespaces),
            })
            .collect();
        data.role_mappings.push(RoleMapping {
            account,
            role_name,
            arn: item.access_entry.principal_arn,
            groups: item.access_entry.kubernetes_groups,
            source: MappingSource::AccessEntry,
            access_policies,
        });
    }
    Ok(())
}
