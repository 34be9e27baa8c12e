//! The on-disk shape of a policy file. These types are the single source of
//! the shipped JSON Schema (`grantflow policy schema`).

use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

use crate::{Diagnostic, GrantSpec, Located};
use grantflow_model::ConnectionName;

/// A policy file: policies, the resources they need created, and the group pushes that link systems.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    #[serde(default)]
    pub policies: Vec<PolicyDoc>,
    /// Resources that must exist (created when the last sync does not have them).
    #[serde(default)]
    pub resources: Vec<ResourceDoc>,
    /// Directory groups pushed to an app, which creates (and keeps in step) a group in the app's system.
    #[serde(default)]
    pub pushes: Vec<PushDoc>,
    /// Sets of grants people ask for together (and which of them are break-glass).
    #[serde(default)]
    pub bundles: Vec<crate::requests::BundleDoc>,
    /// The reviews a request needs, by what it asks for.
    #[serde(default)]
    pub approvals: Vec<crate::requests::ApprovalDoc>,
    /// Separation-of-duties conflicts: combinations of grants no one may hold.
    #[serde(default)]
    pub conflicts: Vec<crate::requests::ConflictDoc>,
}

/// A resource that must exist, e.g. an Okta group or an OPA secret folder or security policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceDoc {
    /// The connection name from grantflow.yaml.
    pub system: Located<String>,
    /// `<kind>/<name>`, e.g. `group/OPA Payments Secrets` or `secret_folder/payments/payments-prod/payments-secrets`.
    pub resource: Located<String>,
    /// The resource's settings in the system's terms (an OPA security policy's `groups`, `folders`, `privileges`).
    #[serde(default)]
    pub spec: Option<serde_json::Map<String, serde_json::Value>>,
    /// Resources that must exist before this one is created; when grantflow creates or pushes them in the
    /// same plan, this one waits for that.
    #[serde(default)]
    pub requires: Vec<ResourceRefDoc>,
}

/// A resource in a system, by kind and name.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRefDoc {
    pub system: Located<String>,
    /// `<kind>/<name>`.
    pub resource: Located<String>,
}

/// A group push: the directory `group` pushed to `app`, which `creates` a group in the app's system.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushDoc {
    /// The directory connection (e.g. `okta`).
    pub system: Located<String>,
    /// The group's name in the directory.
    pub group: Located<String>,
    /// The app's label in the directory.
    pub app: Located<String>,
    /// The pushed group's name in the app, when not the group's own name.
    #[serde(default)]
    pub target_name: Option<String>,
    /// What the push makes in the target system, so other resources may require it.
    #[serde(default)]
    pub creates: Option<ResourceRefDoc>,
}

/// Splits `<kind>/<name>` at the first `/`, with a located error otherwise.
pub(crate) fn split_resource(
    resource: &Located<String>,
    path: &Path,
) -> Result<(String, String), Diagnostic> {
    let Some((kind, name)) = resource.value.split_once('/') else {
        return Err(resource.diagnostic(
            path,
            format!(
                "resource \"{}\" must be written as <kind>/<name>, e.g. group/Engineering",
                resource.value
            ),
        ));
    };
    if kind.is_empty() || name.is_empty() {
        return Err(resource.diagnostic(
            path,
            format!("resource \"{}\" has an empty kind or name", resource.value),
        ));
    }
    Ok((kind.to_string(), name.to_string()))
}

impl ResourceDoc {
    pub(crate) fn to_ref_parts(&self, path: &Path) -> Result<crate::ResourceSpecRef, Diagnostic> {
        ResourceRefDoc::to_ref_of(&self.system, &self.resource, path)
    }
}

impl ResourceRefDoc {
    pub(crate) fn to_ref(&self, path: &Path) -> Result<crate::ResourceSpecRef, Diagnostic> {
        Self::to_ref_of(&self.system, &self.resource, path)
    }

    fn to_ref_of(
        system: &Located<String>,
        resource: &Located<String>,
        path: &Path,
    ) -> Result<crate::ResourceSpecRef, Diagnostic> {
        let (kind, name) = split_resource(resource, path)?;
        if system.value.trim().is_empty() {
            return Err(system.diagnostic(path, "system must not be empty"));
        }
        Ok(crate::ResourceSpecRef {
            connection: ConnectionName::new(system.value.clone()),
            kind,
            name,
            at: resource.position(),
            system_at: system.position(),
        })
    }
}

/// Who should have what: people matching `when` hold every grant.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// Unique across all policy files; shown in plans as the reason for a change.
    pub name: Located<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// A CEL expression over `person` (email, login, status, department,
    /// title, manager, location, employment_status, employee_number, and
    /// every directory attribute). Omitted means every person.
    #[serde(default)]
    pub when: Option<Located<String>>,
    #[serde(default)]
    pub grants: Vec<GrantDoc>,
    /// Attributes set on the profile of a matching person's account, per system.
    #[serde(default)]
    pub profile: Vec<ProfileDoc>,
    /// The accounts each matching person must have, per system: created when missing (a
    /// pre-hire's staged until the HRIS start date), retired as `retire` says when they leave.
    #[serde(default)]
    pub accounts: Vec<crate::AccountDoc>,
    /// What `grantflow drift` does when access to this policy's resources
    /// differs from it: `report` (the default), `approval` (a remediation
    /// plan waits for an approver) or `auto` (remediated through the engine).
    /// A system set more cautiously in grantflow.yaml caps it.
    #[serde(default)]
    pub drift: Option<RemediationMode>,
}

/// What drift detection does about a finding.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    serde::Serialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RemediationMode {
    /// Report the finding; change nothing.
    #[default]
    Report,
    /// Plan the fix and wait for a person to approve it.
    Approval,
    /// Plan the fix and apply it through the engine.
    Auto,
}

impl RemediationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RemediationMode::Report => "report",
            RemediationMode::Approval => "approval",
            RemediationMode::Auto => "auto",
        }
    }
}

/// Profile attributes a policy sets in one system: each a CEL expression over `person`, e.g.
/// `isMemberOfGroup: "true"` or `costCenter: 'person.department + "-01"'`. Only the named
/// attributes change (a partial update); what the expression gives is written as it is (a text, a
/// number, a flag, a list).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileDoc {
    /// The connection name from grantflow.yaml (e.g. `okta`).
    pub system: Located<String>,
    /// Attribute name → CEL expression over `person` giving its value.
    pub set: BTreeMap<String, Located<String>>,
}

/// One grant: a resource in a system, and the entitlement on it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantDoc {
    /// The connection name from grantflow.yaml (e.g. `okta`).
    pub system: Located<String>,
    /// `<kind>/<name>`, e.g. `group/Production Access Demo` or `app/Production Monitors`.
    pub resource: Located<String>,
    /// Defaults to the resource's first entitlement (`member` for an Okta
    /// group, `assigned` for an Okta app).
    #[serde(default)]
    pub entitlement: Option<Located<String>>,
    /// `true` (the default): the policy manages the resource, so grants on
    /// it that no policy wants are removed (and judged by drift). `false`:
    /// the policy only adds this grant for the people it matches; other
    /// holders of a shared resource (the #eng channel, the Engineering
    /// group) are left alone.
    #[serde(default = "authoritative_by_default")]
    pub authoritative: bool,
}

fn authoritative_by_default() -> bool {
    true
}

impl GrantDoc {
    pub(crate) fn to_spec(&self, path: &Path) -> Result<GrantSpec, Diagnostic> {
        let (kind, name) = split_resource(&self.resource, path)?;
        if self.system.value.trim().is_empty() {
            return Err(self.system.diagnostic(path, "system must not be empty"));
        }
        Ok(GrantSpec {
            connection: ConnectionName::new(self.system.value.clone()),
            resource_kind: kind,
            resource_name: name,
            entitlement: self.entitlement.as_ref().map(|e| e.value.clone()),
            authoritative: self.authoritative,
            at: self.resource.position(),
        })
    }
}

pub(crate) fn parse(path: &Path, text: &str) -> Result<PolicyFile, Diagnostic> {
    serde_saphyr::from_str::<PolicyFile>(text).map_err(|error| {
        let (line, column) = error
            .location()
            .map(|location| (location.line(), location.column()))
            .unwrap_or((0, 0));
        Diagnostic {
            file: path.to_path_buf(),
            line,
            column,
            message: first_line(&error.without_snippet().to_string()),
        }
    })
}

/// serde-saphyr's messages may end in a rendered snippet; the diagnostic
/// carries its own position, so keep the message itself.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}
