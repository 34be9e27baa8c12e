//! What the Okta emulator is seeded with (the `okta:` section of an organisation file).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    /// OpenID Connect web apps people sign in to through the emulator's authorization servers.
    #[serde(default)]
    pub oidc_apps: Vec<super::oidc::OidcApp>,
    /// The default password policy's lockout rule.
    #[serde(default)]
    pub password_lockout: PasswordLockout,
}

/// Okta's password policy lockout setting (`settings.password.lockout` of a `PASSWORD` policy): after
/// `maxAttempts` wrong passwords in a row the user is `LOCKED_OUT` until unlocked. Okta's default policy
/// locks after 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PasswordLockout {
    pub max_attempts: u32,
}

impl Default for PasswordLockout {
    fn default() -> Self {
        Self { max_attempts: 10 }
    }
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
    /// The password the user signs in with at the emulator's sign-in page; a user who has one (any status
    /// but STAGED and PROVISIONED) gets [`super::oidc::SANDBOX_PASSWORD`] when absent.
    #[serde(default)]
    pub password: Option<String>,
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

impl OktaSeed {
    /// Cross-references that YAML typing can't check: member logins and app labels must exist.
    pub fn validate(&self) -> anyhow::Result<()> {
        let seed = self;
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
        let mut client_ids = std::collections::BTreeSet::new();
        for app in &seed.oidc_apps {
            if !client_ids.insert(app.client_id.as_str()) {
                anyhow::bail!("okta oidc app {} is listed twice", app.client_id);
            }
            app.validate()?;
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
