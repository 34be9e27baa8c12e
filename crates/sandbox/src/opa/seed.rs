//! The `opa:` section of an organisation file: one Okta Privileged Access team, its users (named as Okta's
//! provisioning names them), groups, resource groups with projects and secret folders, and security policies.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpaSeed {
    /// The team name every path carries (`/v1/teams/{team}/…`).
    pub team: String,
    /// The Okta app (its `name`) whose group push mappings feed this team's groups, when the sandbox runs both.
    #[serde(default)]
    pub okta_app: Option<String>,
    #[serde(default)]
    pub users: Vec<OpaSeedUser>,
    #[serde(default)]
    pub groups: Vec<OpaSeedGroup>,
    #[serde(default)]
    pub resource_groups: Vec<OpaSeedResourceGroup>,
    #[serde(default)]
    pub security_policies: Vec<OpaSeedPolicy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpaSeedUser {
    /// The Okta login; the OPA user name is its local part, as Okta's provisioning names users.
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpaSeedGroup {
    pub name: String,
    /// `end_user`, `pam_admin`, `resource_admin`, `security_admin`; `end_user` when empty.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Member emails.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpaSeedResourceGroup {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub projects: Vec<OpaSeedProject>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpaSeedProject {
    pub name: String,
    /// Top-level secret folder names.
    #[serde(default)]
    pub folders: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpaSeedPolicy {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Principal group names.
    pub groups: Vec<String>,
    /// Folders as `<resource group>/<project>/<folder>`.
    #[serde(default)]
    pub folders: Vec<String>,
}

impl OpaSeedUser {
    pub fn user_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| crate::emulator::local_part(&self.email).to_owned())
    }
}

/// OPA's rule for secret folder names (help.okta.com, "Create a secret folder").
pub fn valid_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl OpaSeed {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.team.trim().is_empty() {
            anyhow::bail!("opa team must not be empty");
        }
        let mut emails = BTreeSet::new();
        for u in &self.users {
            if !emails.insert(u.email.to_lowercase()) {
                anyhow::bail!("opa user {} is listed twice", u.email);
            }
        }
        let mut groups = BTreeSet::new();
        for g in &self.groups {
            if !groups.insert(g.name.as_str()) {
                anyhow::bail!("opa group {} is listed twice", g.name);
            }
            if let Some(m) = g
                .members
                .iter()
                .find(|m| !emails.contains(&m.to_lowercase()))
            {
                anyhow::bail!("opa group {} lists unknown member {m}", g.name);
            }
        }
        let mut folders = BTreeSet::new();
        for rg in &self.resource_groups {
            for p in &rg.projects {
                for f in &p.folders {
                    if !valid_folder_name(f) {
                        anyhow::bail!("opa secret folder name {f:?} has characters OPA refuses");
                    }
                    folders.insert(format!("{}/{}/{f}", rg.name, p.name));
                }
            }
        }
        for p in &self.security_policies {
            if let Some(g) = p.groups.iter().find(|g| !groups.contains(g.as_str())) {
                anyhow::bail!("opa security policy {} names unknown group {g}", p.name);
            }
            if let Some(f) = p.folders.iter().find(|f| !folders.contains(*f)) {
                anyhow::bail!("opa security policy {} names unknown folder {f}", p.name);
            }
        }
        Ok(())
    }
}
