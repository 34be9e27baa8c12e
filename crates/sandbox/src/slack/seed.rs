//! The `slack:` section of an organisation file: the workspace's people and its public and private channels.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSeed {
    /// Workspace name; "Example" when absent.
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub users: Vec<SlackSeedUser>,
    #[serde(default)]
    pub channels: Vec<SlackSeedChannel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSeedUser {
    pub email: String,
    /// The handle; defaults to the email's local part.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub real_name: Option<String>,
    /// A deactivated account (Slack keeps it with `deleted: true`).
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub is_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSeedChannel {
    pub name: String,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub archived: bool,
    /// The workspace's #general: everyone is in it and nobody can be kicked.
    #[serde(default)]
    pub general: bool,
    #[serde(default)]
    pub purpose: Option<String>,
    /// Member emails.
    #[serde(default)]
    pub members: Vec<String>,
}

impl SlackSeedUser {
    pub fn handle(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| crate::emulator::local_part(&self.email).to_owned())
    }
}

impl SlackSeed {
    /// Members must be seeded users; channel names are unique, lower case, at most 80 characters.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut emails = BTreeSet::new();
        for u in &self.users {
            if !emails.insert(u.email.to_lowercase()) {
                anyhow::bail!("slack user {} is listed twice", u.email);
            }
        }
        let mut names = BTreeSet::new();
        for c in &self.channels {
            if !names.insert(c.name.as_str()) {
                anyhow::bail!("slack channel {} is listed twice", c.name);
            }
            if c.name.len() > 80 || c.name != c.name.to_lowercase() || c.name.contains(' ') {
                anyhow::bail!("slack channel name {:?} is not a valid Slack name", c.name);
            }
            if let Some(m) = c
                .members
                .iter()
                .find(|m| !emails.contains(&m.to_lowercase()))
            {
                anyhow::bail!("slack channel {} lists unknown member {m}", c.name);
            }
        }
        Ok(())
    }
}
