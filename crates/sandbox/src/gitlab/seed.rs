//! The `gitlab:` section of an organisation file: users, people waiting for their first SSO login, nested groups,
//! and the projects each group owns (and which other groups a project is shared with).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// What the GitLab emulator is seeded with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitlabSeed {
    #[serde(default)]
    pub users: Vec<GitlabSeedUser>,
    /// Work emails of people whose GitLab user appears only after their first SSO login
    /// (`POST /__sandbox/first-login`).
    #[serde(default)]
    pub pending_sso: Vec<String>,
    /// Top-level groups, each with its subgroups.
    #[serde(default)]
    pub groups: Vec<GitlabSeedGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitlabSeedUser {
    pub email: String,
    /// Defaults to the email's local part.
    #[serde(default)]
    pub username: Option<String>,
    /// Defaults to the local part in title case ("priya.raman" → "Priya Raman").
    #[serde(default)]
    pub name: Option<String>,
    /// `active` (default) or `blocked`.
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitlabSeedGroup {
    pub name: String,
    /// The URL path segment; defaults to the lower-cased name with spaces as dashes.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Direct members: email or username → access level (10, 20, 30, 40, 50).
    #[serde(default)]
    pub members: BTreeMap<String, u8>,
    #[serde(default)]
    pub subgroups: Vec<GitlabSeedGroup>,
    /// Projects in this group's namespace.
    #[serde(default)]
    pub projects: Vec<GitlabSeedProject>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitlabSeedProject {
    pub name: String,
    /// The URL path segment; defaults to the lower-cased name with spaces as dashes.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// An archived project is read-only in GitLab but still listed (and readable by the group's members).
    #[serde(default)]
    pub archived: bool,
    /// `private` (default), `internal` or `public`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Defaults to `main`.
    #[serde(default)]
    pub default_branch: Option<String>,
    /// Other groups the project is shared with ("Invite group"): group full path → the share's maximum access
    /// level (10, 20, 30, 40, 50).
    #[serde(default)]
    pub shared_with: BTreeMap<String, u8>,
}

pub const VISIBILITIES: [&str; 3] = ["private", "internal", "public"];

pub const ACCESS_LEVELS: [u8; 5] = [10, 20, 30, 40, 50];

impl GitlabSeedUser {
    pub fn username(&self) -> String {
        self.username
            .clone()
            .unwrap_or_else(|| local_part(&self.email).to_owned())
    }

    pub fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| name_from_email(&self.email))
    }
}

impl GitlabSeedGroup {
    pub fn path(&self) -> String {
        self.path
            .clone()
            .unwrap_or_else(|| self.name.to_lowercase().replace(' ', "-"))
    }
}

impl GitlabSeedProject {
    pub fn path(&self) -> String {
        self.path
            .clone()
            .unwrap_or_else(|| self.name.to_lowercase().replace(' ', "-"))
    }
}

pub use crate::emulator::{local_part, name_from_email};

impl GitlabSeed {
    /// Members must name seeded users, levels must be GitLab's, and a pending person must not exist yet.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut known = BTreeSet::new();
        for u in &self.users {
            if !known.insert(u.email.to_lowercase()) {
                anyhow::bail!("gitlab user {} is listed twice", u.email);
            }
            known.insert(u.username().to_lowercase());
        }
        for p in &self.pending_sso {
            if known.contains(&p.to_lowercase()) {
                anyhow::bail!("gitlab pending_sso {p} is already a user");
            }
        }
        // Every group's full path first, so a project may be shared with a group seeded after it.
        fn paths(groups: &[GitlabSeedGroup], prefix: &str, out: &mut BTreeSet<String>) {
            for g in groups {
                let full = format!("{prefix}{}", g.path()).to_lowercase();
                paths(&g.subgroups, &format!("{full}/"), out);
                out.insert(full);
            }
        }
        let mut groups = BTreeSet::new();
        paths(&self.groups, "", &mut groups);
        fn walk(
            groups: &[GitlabSeedGroup],
            known: &BTreeSet<String>,
            all_groups: &BTreeSet<String>,
        ) -> anyhow::Result<()> {
            for g in groups {
                for (m, level) in &g.members {
                    if !known.contains(&m.to_lowercase()) {
                        anyhow::bail!("gitlab group {:?} lists unknown member {m}", g.name);
                    }
                    if !ACCESS_LEVELS.contains(level) {
                        anyhow::bail!(
                            "gitlab group {:?}: {m} has access level {level}, not one of 10, 20, 30, 40, 50",
                            g.name
                        );
                    }
                }
                let mut project_paths = BTreeSet::new();
                for p in &g.projects {
                    if !project_paths.insert(p.path().to_lowercase()) {
                        anyhow::bail!(
                            "gitlab group {:?} lists project path {:?} twice",
                            g.name,
                            p.path()
                        );
                    }
                    // GitLab refuses a project whose path a subgroup of the same namespace already has.
                    if g.subgroups
                        .iter()
                        .any(|s| s.path().eq_ignore_ascii_case(&p.path()))
                    {
                        anyhow::bail!(
                            "gitlab group {:?}: project {:?} has the path of a subgroup",
                            g.name,
                            p.name
                        );
                    }
                    if let Some(v) = &p.visibility
                        && !VISIBILITIES.contains(&v.as_str())
                    {
                        anyhow::bail!(
                            "gitlab project {:?}: visibility {v:?} is not one of private, internal, public",
                            p.name
                        );
                    }
                    for (group, level) in &p.shared_with {
                        if !all_groups.contains(&group.to_lowercase()) {
                            anyhow::bail!(
                                "gitlab project {:?} is shared with unknown group {group}",
                                p.name
                            );
                        }
                        if !ACCESS_LEVELS.contains(level) {
                            anyhow::bail!(
                                "gitlab project {:?}: the share with {group} has access level {level}, not one of 10, 20, 30, 40, 50",
                                p.name
                            );
                        }
                    }
                }
                walk(&g.subgroups, known, all_groups)?;
            }
            Ok(())
        }
        walk(&self.groups, &known, &groups)
    }
}
