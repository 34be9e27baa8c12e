//! The `aws:` section of an organisation file: one IAM Identity Center instance with its identity store (users,
//! groups, memberships), the AWS accounts it assigns access to, its permission sets, and account assignments.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSeed {
    /// `arn:aws:sso:::instance/ssoins-…`.
    pub instance_arn: String,
    /// `d-` and ten hex digits.
    pub identity_store_id: String,
    /// The management account that owns the instance.
    #[serde(default = "default_owner")]
    pub owner_account_id: String,
    /// How many answers about an assignment request (its own create or delete answer included) say
    /// `IN_PROGRESS` before it settles; 0 settles at once, as moto does.
    #[serde(default = "default_in_progress_reads")]
    pub in_progress_reads: u32,
    /// A request also settles this long after it was made, read or not, as AWS's do.
    #[serde(default = "default_in_progress_seconds")]
    pub in_progress_seconds: f64,
    #[serde(default)]
    pub users: Vec<AwsSeedUser>,
    #[serde(default)]
    pub groups: Vec<AwsSeedGroup>,
    #[serde(default)]
    pub accounts: Vec<AwsSeedAccount>,
    #[serde(default)]
    pub permission_sets: Vec<AwsSeedPermissionSet>,
    #[serde(default)]
    pub assignments: Vec<AwsSeedAssignment>,
}

fn default_owner() -> String {
    "999988887777".into()
}

fn default_in_progress_reads() -> u32 {
    1
}

fn default_in_progress_seconds() -> f64 {
    2.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSeedUser {
    /// The primary work email; also the `UserName` unless one is given.
    pub email: String,
    #[serde(default)]
    pub user_name: Option<String>,
    /// Defaults to the name derived from the email.
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSeedGroup {
    pub name: String,
    /// A fixed `GroupId`, so other data (the reachability demo) can refer to it.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Member emails.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSeedAccount {
    /// Twelve digits.
    pub id: String,
    /// The Organizations name; Identity Center's APIs never return it.
    #[serde(default)]
    pub name: Option<String>,
    /// The account's tags in Organizations (`ListTagsForResource`), e.g. `environment: production`.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSeedPermissionSet {
    pub name: String,
    /// `ps-` and 16 hex digits; a generated one when absent.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// ISO-8601 duration, `PT1H` when absent.
    #[serde(default)]
    pub session_duration: Option<String>,
    /// Accounts it is provisioned to besides those it is assigned in.
    #[serde(default)]
    pub provisioned_to: Vec<String>,
}

/// One assignment: exactly one of `user` (an email) or `group` (a name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSeedAssignment {
    pub account: String,
    pub permission_set: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
}

impl AwsSeed {
    pub fn validate(&self) -> anyhow::Result<()> {
        if !self.instance_arn.starts_with("arn:aws:sso:::instance/") {
            anyhow::bail!(
                "aws instance_arn {:?} is not an instance ARN",
                self.instance_arn
            );
        }
        if !(0.0..=86_400.0).contains(&self.in_progress_seconds) {
            anyhow::bail!("aws in_progress_seconds must be between 0 and 86400");
        }
        let mut emails = BTreeSet::new();
        for u in &self.users {
            if !emails.insert(u.email.to_lowercase()) {
                anyhow::bail!("aws user {} is listed twice", u.email);
            }
        }
        let mut groups = BTreeSet::new();
        for g in &self.groups {
            if !groups.insert(g.name.as_str()) {
                anyhow::bail!("aws group {:?} is listed twice", g.name);
            }
            if let Some(m) = g
                .members
                .iter()
                .find(|m| !emails.contains(&m.to_lowercase()))
            {
                anyhow::bail!("aws group {:?} lists unknown member {m}", g.name);
            }
        }
        let mut accounts = BTreeSet::new();
        for a in &self.accounts {
            if a.id.len() != 12 || !a.id.bytes().all(|b| b.is_ascii_digit()) {
                anyhow::bail!("aws account id {:?} is not twelve digits", a.id);
            }
            accounts.insert(a.id.as_str());
        }
        let mut sets = BTreeSet::new();
        for p in &self.permission_sets {
            if !sets.insert(p.name.as_str()) {
                anyhow::bail!("aws permission set {:?} is listed twice", p.name);
            }
            if let Some(a) = p
                .provisioned_to
                .iter()
                .find(|a| !accounts.contains(a.as_str()))
            {
                anyhow::bail!("aws permission set {:?} names unknown account {a}", p.name);
            }
        }
        for a in &self.assignments {
            if !accounts.contains(a.account.as_str()) {
                anyhow::bail!("aws assignment names unknown account {}", a.account);
            }
            if !sets.contains(a.permission_set.as_str()) {
                anyhow::bail!(
                    "aws assignment names unknown permission set {:?}",
                    a.permission_set
                );
            }
            match (&a.user, &a.group) {
                (Some(u), None) if emails.contains(&u.to_lowercase()) => {}
                (None, Some(g)) if groups.contains(g.as_str()) => {}
                _ => anyhow::bail!(
                    "aws assignment of {:?} in {} needs exactly one known user or group",
                    a.permission_set,
                    a.account
                ),
            }
        }
        Ok(())
    }
}
