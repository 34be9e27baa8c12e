//! The `jira:` section of an organisation file: the site's users, groups, and projects with their role actors.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSeed {
    /// The site's display title; "Example Jira" when absent.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub users: Vec<JiraSeedUser>,
    #[serde(default)]
    pub groups: Vec<JiraSeedGroup>,
    /// Project roles every project has, besides those the projects name; Jira's defaults when absent.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub projects: Vec<JiraSeedProject>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSeedUser {
    pub email: String,
    /// Atlassian account id; derived from the user's position when absent.
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// A deactivated account (Jira keeps it with `active: false`).
    #[serde(default)]
    pub inactive: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSeedGroup {
    pub name: String,
    /// Member emails.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSeedProject {
    pub key: String,
    pub name: String,
    /// Role name → its actors in this project.
    #[serde(default)]
    pub roles: BTreeMap<String, JiraSeedActors>,
    /// The issue types issues of this project may have; [`DEFAULT_ISSUE_TYPES`] when absent.
    #[serde(default)]
    pub issue_types: Vec<String>,
}

/// The issue types of a new Jira Software project.
pub const DEFAULT_ISSUE_TYPES: &[&str] = &["Task", "Bug", "Story", "Epic"];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSeedActors {
    /// User emails.
    #[serde(default)]
    pub users: Vec<String>,
    /// Group names.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// The roles a new Jira Cloud site has.
pub const DEFAULT_ROLES: &[&str] = &["Administrators", "Developers", "Viewers"];

impl JiraSeed {
    /// Actors must be seeded users and groups; project keys are Jira keys (upper case letters and digits).
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut emails = BTreeSet::new();
        for u in &self.users {
            if !emails.insert(u.email.to_lowercase()) {
                anyhow::bail!("jira user {} is listed twice", u.email);
            }
        }
        let mut groups = BTreeSet::new();
        for g in &self.groups {
            if !groups.insert(g.name.to_lowercase()) {
                anyhow::bail!("jira group {} is listed twice", g.name);
            }
            if let Some(m) = g
                .members
                .iter()
                .find(|m| !emails.contains(&m.to_lowercase()))
            {
                anyhow::bail!("jira group {} lists unknown member {m}", g.name);
            }
        }
        let mut keys = BTreeSet::new();
        for p in &self.projects {
            let valid = p.key.len() >= 2
                && p.key.starts_with(|c: char| c.is_ascii_uppercase())
                && p.key
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if !valid {
                anyhow::bail!("jira project key {:?} is not a valid Jira key", p.key);
            }
            if !keys.insert(p.key.as_str()) {
                anyhow::bail!("jira project {} is listed twice", p.key);
            }
            for (role, actors) in &p.roles {
                if let Some(u) = actors
                    .users
                    .iter()
                    .find(|u| !emails.contains(&u.to_lowercase()))
                {
                    anyhow::bail!("jira project {} role {role} lists unknown user {u}", p.key);
                }
                if let Some(g) = actors
                    .groups
                    .iter()
                    .find(|g| !groups.contains(&g.to_lowercase()))
                {
                    anyhow::bail!("jira project {} role {role} lists unknown group {g}", p.key);
                }
            }
        }
        Ok(())
    }

    /// Every role name, in id order: the configured (or default) roles, then any a project names.
    pub fn role_names(&self) -> Vec<String> {
        let mut names: Vec<String> = if self.roles.is_empty() {
            DEFAULT_ROLES.iter().map(|r| (*r).to_owned()).collect()
        } else {
            self.roles.clone()
        };
        for p in &self.projects {
            for r in p.roles.keys() {
                if !names.contains(r) {
                    names.push(r.clone());
                }
            }
        }
        names
    }
}
