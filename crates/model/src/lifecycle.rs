//! The common lifecycle states of people and accounts.
//!
//! Every vendor names its statuses differently (Okta has eight, Google has
//! `suspended` and `archived`, Slack `deleted`, Salesforce `IsActive`, SCIM
//! `active`). Policies, drift and the planner reason about these few states;
//! each connector maps its vendor's raw status to one of them and keeps the
//! raw value beside it for people to read.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an account (or the person behind the directory account) is in its
/// life. A closed set: the planner and drift decide on these, never on a
/// vendor's raw status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleState {
    /// Signs in and uses what they hold.
    #[default]
    Active,
    /// Created but not yet activated: Okta `STAGED`, `PROVISIONED` or
    /// `ACTIVATING`, a pending invitation.
    Pending,
    /// Locked out after failed sign-ins. Still the person's account and
    /// still active for access: an unlock brings them back as they were.
    Locked,
    /// The password expired; the person sets a new one at the next sign-in.
    /// Still active for access.
    PasswordExpired,
    /// A password or factor reset is in progress. Still active for access.
    Recovery,
    /// Switched off by an administrator; can be switched back on.
    Suspended,
    /// Deactivated, deleted or archived: the person has left the system.
    Deprovisioned,
}

impl LifecycleState {
    /// Every state, in order.
    pub const ALL: [LifecycleState; 7] = [
        LifecycleState::Active,
        LifecycleState::Pending,
        LifecycleState::Locked,
        LifecycleState::PasswordExpired,
        LifecycleState::Recovery,
        LifecycleState::Suspended,
        LifecycleState::Deprovisioned,
    ];

    /// Whether the person keeps their access in this state. A lockout, an
    /// expired password or a reset in progress never takes access away:
    /// only a suspension or deprovisioning does (and a pending account has
    /// not been given its access yet).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            LifecycleState::Active
                | LifecycleState::Locked
                | LifecycleState::PasswordExpired
                | LifecycleState::Recovery
        )
    }

    /// Switched off by someone, as opposed to gone or never started.
    pub fn is_suspended(self) -> bool {
        self == LifecycleState::Suspended
    }

    pub fn is_deprovisioned(self) -> bool {
        self == LifecycleState::Deprovisioned
    }

    /// The name conditions compare `person.state` with.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleState::Active => "active",
            LifecycleState::Pending => "pending",
            LifecycleState::Locked => "locked",
            LifecycleState::PasswordExpired => "password_expired",
            LifecycleState::Recovery => "recovery",
            LifecycleState::Suspended => "suspended",
            LifecycleState::Deprovisioned => "deprovisioned",
        }
    }

    pub fn parse(text: &str) -> Option<LifecycleState> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A plain active/suspended flag, as Salesforce (`IsActive`), SCIM
    /// (`active`) and Jira (`active`) report accounts.
    pub fn from_active_flag(active: bool) -> LifecycleState {
        if active {
            LifecycleState::Active
        } else {
            LifecycleState::Suspended
        }
    }
}

impl fmt::Display for LifecycleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_expired_passwords_and_recovery_keep_access() {
        let keeps: Vec<_> = LifecycleState::ALL
            .into_iter()
            .filter(|s| s.is_active())
            .collect();
        assert_eq!(
            keeps,
            vec![
                LifecycleState::Active,
                LifecycleState::Locked,
                LifecycleState::PasswordExpired,
                LifecycleState::Recovery
            ]
        );
    }

    #[test]
    fn names_round_trip() {
        for state in LifecycleState::ALL {
            assert_eq!(LifecycleState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).expect("serialize");
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
        assert_eq!(LifecycleState::parse("ACTIVE"), None);
    }
}
