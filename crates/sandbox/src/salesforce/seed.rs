//! The `salesforce:` section of an organisation file: profiles, permission sets, users with their profile and
//! permission-set assignments.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceSeed {
    #[serde(default)]
    pub profiles: Vec<String>,
    #[serde(default)]
    pub permission_sets: Vec<SalesforceSeedPermissionSet>,
    #[serde(default)]
    pub users: Vec<SalesforceSeedUser>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceSeedPermissionSet {
    /// The API name (`Name`): letters, digits and underscores.
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceSeedUser {
    pub email: String,
    /// Defaults to the email (Salesforce usernames are email-shaped and globally unique).
    #[serde(default)]
    pub username: Option<String>,
    pub profile: String,
    #[serde(default)]
    pub inactive: bool,
    /// Names of the permission sets assigned to the user.
    #[serde(default)]
    pub permission_sets: Vec<String>,
}

impl SalesforceSeed {
    /// Users must name seeded profiles and permission sets; names and usernames are unique.
    pub fn validate(&self) -> anyhow::Result<()> {
        let profiles: BTreeSet<&str> = self.profiles.iter().map(String::as_str).collect();
        if profiles.len() != self.profiles.len() {
            anyhow::bail!("salesforce profiles are listed twice");
        }
        let mut sets = BTreeSet::new();
        for p in &self.permission_sets {
            if p.name.is_empty()
                || !p.name.starts_with(|c: char| c.is_ascii_alphabetic())
                || !p
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                anyhow::bail!(
                    "salesforce permission set name {:?} is not an API name",
                    p.name
                );
            }
            if !sets.insert(p.name.as_str()) {
                anyhow::bail!("salesforce permission set {} is listed twice", p.name);
            }
        }
        let mut usernames = BTreeSet::new();
        for u in &self.users {
            let username = u.username.as_deref().unwrap_or(&u.email).to_lowercase();
            if !usernames.insert(username) {
                anyhow::bail!("salesforce username of {} is listed twice", u.email);
            }
            if !profiles.contains(u.profile.as_str()) {
                anyhow::bail!(
                    "salesforce user {} has unknown profile {}",
                    u.email,
                    u.profile
                );
            }
            if let Some(p) = u
                .permission_sets
                .iter()
                .find(|p| !sets.contains(p.as_str()))
            {
                anyhow::bail!("salesforce user {} has unknown permission set {p}", u.email);
            }
        }
        Ok(())
    }
}
