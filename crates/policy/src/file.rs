//! The on-disk shape of a policy file. These types are the single source of
//! the shipped JSON Schema (`grantflow policy schema`).

use schemars::JsonSchema;
use serde::Deserialize;
use std::path::Path;

use crate::{Diagnostic, GrantSpec, Located};
use grantflow_model::ConnectionName;

/// A policy file: a list of policies.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub policies: Vec<PolicyDoc>,
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
    pub grants: Vec<GrantDoc>,
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
}

impl GrantDoc {
    pub(crate) fn to_spec(&self, path: &Path) -> Result<GrantSpec, Diagnostic> {
        let Some((kind, name)) = self.resource.value.split_once('/') else {
            return Err(self.resource.diagnostic(
                path,
                format!(
                    "resource \"{}\" must be written as <kind>/<name>, e.g. group/Engineering",
                    self.resource.value
                ),
            ));
        };
        if kind.is_empty() || name.is_empty() {
            return Err(self.resource.diagnostic(
                path,
                format!(
                    "resource \"{}\" has an empty kind or name",
                    self.resource.value
                ),
            ));
        }
        if self.system.value.trim().is_empty() {
            return Err(self.system.diagnostic(path, "system must not be empty"));
        }
        Ok(GrantSpec {
            connection: ConnectionName::new(self.system.value.clone()),
            resource_kind: kind.to_string(),
            resource_name: name.to_string(),
            entitlement: self.entitlement.as_ref().map(|e| e.value.clone()),
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
