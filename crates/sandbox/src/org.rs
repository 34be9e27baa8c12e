//! The organisation file: one section per emulated system, each the seed type of that system's module (what its
//! emulator starts with, and resets to).

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// A whole organisation, one section per emulated system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Org {
    pub okta: crate::okta::OktaSeed,
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
    /// The BambooHR HRIS; absent means none.
    #[serde(default)]
    pub bamboohr: Option<crate::bamboohr::BamboohrSeed>,
    /// A 1Password Connect server (a service for flows' custom HTTP card, not a connector); absent means none.
    #[serde(default)]
    pub vault: Option<crate::vault::VaultSeed>,
    /// An SMTP sink (a service for flows' email card, not a connector); absent means none.
    #[serde(default)]
    pub smtp: Option<crate::smtp::SmtpSeed>,
}

const DEMO_YAML: &str = include_str!("../orgs/demo.yaml");

/// The demo organisation shipped with the crate.
pub fn demo_org() -> Org {
    // The file is part of the crate and covered by tests; failing here is a build defect, not input error.
    #[allow(
        clippy::expect_used,
        reason = "the YAML is embedded at build time and a test parses it"
    )]
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
        self.vault.as_ref().map_or(Ok(()), |v| v.validate())?;
        self.okta.validate()
    }
}
