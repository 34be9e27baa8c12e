//! The organisation file: a serde description of the people, groups and apps an emulator starts with.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// A whole organisation, one section per emulated system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Org {
    pub okta: OktaSeed,
    #[serde(default)]
    pub google: Option<crate::google::GoogleSeed>,
    #[serde(default)]
    pub github: Option<crate::github::GithubSeed>,
    #[serde(default)]
    pub gitlab: Option<crate::gitlab::GitlabSeed>,
    #[serde(default)]
    pub slack: Option<crate::slack::SlackSeed>,
    /// Okta Privileged Access; absent means no OPA.
    #[serde(default)]
    pub opa: Option<crate::opa::OpaSeed>,
    /// The Datadog Monitors emulator; absent means no Datadog.
    #[serde(default)]
    pub datadog: Option<crate::datadog::DatadogSeed>,
    /// AWS IAM Identity Center (identity store and sso-admin); absent means no AWS.
    #[serde(default)]
    pub aws: Option<crate::aws::AwsSeed>,
    /// A generic SCIM 2.0 service provider; absent means none.
    #[serde(default)]
    pub scim: Option<crate::scim::ScimSeed>,
    #[serde(default)]
    pub jira: Option<crate::jira::JiraSeed>,
    #[serde(default)]
    pub salesforce: Option<crate::salesforce::SalesforceSeed>,
}

/// What the Okta emulator is seeded with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaSeed {
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub groups: Vec<SeedGroup>,
    #[serde(default)]
    pub apps: Vec<SeedApp>,
}

/// Okta user statuses that a seed may start a user in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SeedStatus {
    #[default]
    Active,
    Staged,
    Provisioned,
    Suspended,
    Deprovisioned,
    LockedOut,
    PasswordExpired,
    Recovery,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedUser {
    pub login: String,
    /// Defaults to the login.
    #[serde(default)]
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// The manager's login; stored in `profile.manager` as Okta's base profile has it.
    #[serde(default)]
    pub manager: Option<String>,
    #[serde(default, alias = "location")]
    pub city: Option<String>,
    #[serde(default)]
    pub employee_number: Option<String>,
    #[serde(default)]
    pub employment_status: Option<String>,
    #[serde(default)]
    pub status: SeedStatus,
    /// Any further profile attributes, copied into the profile as they are.
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedGroup {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Member logins.
    #[serde(default)]
    pub members: Vec<String>,
    /// Labels of the apps assigned to this group.
    #[serde(default)]
    pub apps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedApp {
    /// The app's key name in Okta (`name`), e.g. `slack`.
    pub name: String,
    /// The display label; groups refer to apps by it.
    pub label: String,
    /// Logins assigned directly (scope USER).
    #[serde(default)]
    pub users: Vec<String>,
}

const DEMO_YAML: &str = include_str!("../orgs/demo.yaml");

/// The demo organisation shipped with the crate.
pub fn demo_org() -> Org {
    // The file is part of the crate and covered by tests; failing here is a build defect, not input error.
    let mut org = parse_org(DEMO_YAML, "orgs/demo.yaml").expect("embedded demo org must parse");
    // One copy of the monitors: the emulator serves what the demo's reach data ingests.
    org.datadog
        .get_or_insert_with(crate::demo_reach::datadog_seed);
    org
}

/// Reads an organisation file; YAML errors carry the line and column.
pub fn load_org(path: &Path) -> anyhow::Result<Org> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading organisation file {}", path.display()))?;
    parse_org(&text, &path.display().to_string())
}

fn parse_org(text: &str, name: &str) -> anyhow::Result<Org> {
    let org: Org = serde_saphyr::from_str(text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    org.validate()
        .with_context(|| format!("{name}: inconsistent organisation"))?;
    Ok(org)
}

impl Org {
    /// Cross-references that YAML typing can't check: member logins and app labels must exist.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.google.as_ref().map_or(Ok(()), |g| g.validate())?;
        self.github.as_ref().map_or(Ok(()), |g| g.validate())?;
        self.gitlab.as_ref().map_or(Ok(()), |g| g.validate())?;
        self.slack.as_ref().map_or(Ok(()), |s| s.validate())?;
        self.aws.as_ref().map_or(Ok(()), |a| a.validate())?;
        self.scim.as_ref().map_or(Ok(()), |s| s.validate())?;
        self.opa.as_ref().map_or(Ok(()), |s| s.validate())?;
        self.jira.as_ref().map_or(Ok(()), |j| j.validate())?;
        self.salesforce.as_ref().map_or(Ok(()), |s| s.validate())?;
        let seed = &self.okta;
        let mut logins = std::collections::BTreeSet::new();
        for u in &seed.users {
            if !logins.insert(u.login.to_lowercase()) {
                anyhow::bail!("okta user {} is listed twice", u.login);
            }
        }
        let labels: std::collections::BTreeSet<&str> =
            seed.apps.iter().map(|a| a.label.as_str()).collect();
        for g in &seed.groups {
            for m in &g.members {
                if !logins.contains(&m.to_lowercase()) {
                    anyhow::bail!("okta group {:?} lists unknown member {m}", g.name);
                }
            }
            for a in &g.apps {
                if !labels.contains(a.as_str()) {
                    anyhow::bail!("okta group {:?} lists unknown app {a:?}", g.name);
                }
            }
        }
        for a in &seed.apps {
            for u in &a.users {
                if !logins.contains(&u.to_lowercase()) {
                    anyhow::bail!("okta app {:?} lists unknown user {u}", a.label);
                }
            }
        }
        Ok(())
    }
}
