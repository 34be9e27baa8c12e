//! The `scim:` section of an organisation file: the users and groups of one SCIM service provider (an app
//! that grantflow provisions through SCIM 2.0).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimSeed {
    #[serde(default)]
    pub users: Vec<ScimSeedUser>,
    #[serde(default)]
    pub groups: Vec<ScimSeedGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScimSeedUser {
    pub user_name: String,
    /// The work email; defaults to the userName.
    #[serde(default)]
    pub email: Option<String>,
    pub given_name: String,
    pub family_name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScimSeedGroup {
    pub display_name: String,
    /// Member userNames.
    #[serde(default)]
    pub members: Vec<String>,
}

impl ScimSeed {
    /// userNames are unique (case-insensitively, as SCIM compares them); members must be seeded users.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut names = BTreeSet::new();
        for u in &self.users {
            if !names.insert(u.user_name.to_lowercase()) {
                anyhow::bail!("scim user {} is listed twice", u.user_name);
            }
        }
        for g in &self.groups {
            if let Some(m) = g
                .members
                .iter()
                .find(|m| !names.contains(&m.to_lowercase()))
            {
                anyhow::bail!("scim group {:?} lists unknown member {m}", g.display_name);
            }
        }
        Ok(())
    }
}
