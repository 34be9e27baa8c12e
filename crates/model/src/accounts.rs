//! Accounts as code: how a created account starts and how a leaver's account is retired, the
//! options of [`OpKind::CreateAccount`](crate::OpKind::CreateAccount) and
//! [`OpKind::RetireAccount`](crate::OpKind::RetireAccount).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// How a created account starts. Never a password: when `temporary_password` is set, the
/// connector makes one and hands it out once (the one-time-secret path); it is stored nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOptions {
    /// Activate at once; `false` leaves it staged (a pre-hire, activated on the start date).
    #[serde(default = "activated_by_default")]
    pub activate: bool,
    /// Let the system email the person their activation (otherwise the activation link or the
    /// temporary password is handed out once to whoever applies the plan).
    #[serde(default)]
    pub send_email: bool,
    /// Start with a temporary password the person must change at their first sign-in.
    #[serde(default)]
    pub temporary_password: bool,
}

fn activated_by_default() -> bool {
    true
}

impl Default for AccountOptions {
    /// Activated, no email, no temporary password.
    fn default() -> Self {
        Self {
            activate: true,
            send_email: false,
            temporary_password: false,
        }
    }
}

/// How a leaver's account is retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetireMode {
    /// Switched off, can be switched back on (Okta `SUSPENDED`).
    Suspend,
    /// Deprovisioned: the person has left the system (Okta `DEPROVISIONED`).
    Deactivate,
    /// Removed for good (Okta deletes only a deprovisioned user: the connector deactivates first).
    Delete,
}

impl RetireMode {
    pub const ALL: [RetireMode; 3] = [
        RetireMode::Suspend,
        RetireMode::Deactivate,
        RetireMode::Delete,
    ];

    /// The verb a review line and a natural key use.
    pub fn as_str(self) -> &'static str {
        match self {
            RetireMode::Suspend => "suspend",
            RetireMode::Deactivate => "deactivate",
            RetireMode::Delete => "delete",
        }
    }

    /// The lifecycle state the account is in once retired this way (`None`: it is gone).
    pub fn state_after(self) -> Option<crate::LifecycleState> {
        match self {
            RetireMode::Suspend => Some(crate::LifecycleState::Suspended),
            RetireMode::Deactivate => Some(crate::LifecycleState::Deprovisioned),
            RetireMode::Delete => None,
        }
    }
}

impl fmt::Display for RetireMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `firstName "Ann", lastName "Lee"; activated, no email`: what a reviewer reads of a creation.
/// The login is the account's name on the line already, so it is not repeated.
pub(crate) fn creation_summary(
    attributes: &Map<String, Value>,
    options: &AccountOptions,
) -> String {
    let fields: Vec<String> = attributes
        .iter()
        .filter(|(name, _)| name.as_str() != "login")
        .map(|(name, value)| format!("{name} {value}"))
        .collect();
    let mut how = vec![if options.activate {
        "activated"
    } else {
        "staged"
    }];
    if options.activate {
        how.push(if options.send_email {
            "activation email"
        } else {
            "no email"
        });
        if options.temporary_password {
            how.push("temporary password");
        }
    }
    if fields.is_empty() {
        how.join(", ")
    } else {
        format!("{}; {}", fields.join(", "), how.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        AccountOptions, AccountRef, ConnectionName, LifecycleState, OpKind, Operation, OperationId,
        RetireMode, Snapshot, SystemKind,
    };
    use serde_json::json;

    fn op(kind: OpKind) -> Operation {
        Operation {
            id: OperationId(2),
            connection: ConnectionName::new("okta"),
            kind,
            reasons: vec![],
            depends_on: vec![],
        }
    }

    fn creation(options: AccountOptions) -> Operation {
        let attributes = json!({"login": "Ann@example.com", "firstName": "Ann", "lastName": "Lee"});
        op(OpKind::create_account(
            AccountRef {
                id: crate::pending_id("ann@example.com"),
                login: "Ann@example.com".into(),
            },
            attributes.as_object().cloned().unwrap_or_default(),
            options,
        ))
    }

    #[test]
    fn a_creation_is_keyed_by_login_reviewed_as_an_addition_and_carries_no_password() {
        let create = creation(AccountOptions::default());
        assert_eq!(create.natural_key(), "okta:create_account:ann@example.com");
        let mut elsewhere = creation(AccountOptions::default());
        elsewhere.id = OperationId(9);
        assert_eq!(create.natural_key(), elsewhere.natural_key());
        assert!(create.widens_access());
        assert_eq!(
            create.describe(),
            "+ okta create account Ann@example.com (firstName \"Ann\", lastName \"Lee\"; activated, no email)"
        );
        let staged = creation(AccountOptions {
            activate: false,
            ..AccountOptions::default()
        });
        assert_eq!(
            staged.describe(),
            "+ okta create account Ann@example.com (firstName \"Ann\", lastName \"Lee\"; staged)"
        );
        let temporary = creation(AccountOptions {
            temporary_password: true,
            ..AccountOptions::default()
        });
        assert!(
            temporary
                .describe()
                .ends_with("activated, no email, temporary password)"),
            "{}",
            temporary.describe()
        );
        let json = serde_json::to_value(&temporary).expect("serialize");
        assert_eq!(json["kind"], "create_account");
        assert_eq!(
            json["options"],
            json!({"activate": true, "send_email": false, "temporary_password": true})
        );
        assert!(!json.to_string().to_lowercase().contains("password\":\""));
        let back: Operation = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, temporary);
    }

    #[test]
    fn a_retirement_names_its_mode_and_takes_access_away() {
        let account = AccountRef {
            id: "00u1".into(),
            login: "ann@example.com".into(),
        };
        for mode in RetireMode::ALL {
            let retire = op(OpKind::retire_account(account.clone(), mode));
            assert!(!retire.widens_access());
            assert_eq!(
                retire.natural_key(),
                format!("okta:retire_account:00u1:account/00u1:{mode}")
            );
            assert_eq!(
                retire.describe(),
                format!("- okta {mode} account ann@example.com")
            );
            let json = serde_json::to_value(&retire).expect("serialize");
            assert_eq!(json["mode"], mode.as_str());
            let back: Operation = serde_json::from_value(json).expect("deserialize");
            assert_eq!(back, retire);
        }
    }

    #[test]
    fn applied_creations_and_retirements_show_in_the_snapshot() {
        let mut snapshot = Snapshot::new(ConnectionName::new("okta"), SystemKind::new("okta"));
        let staged = creation(AccountOptions {
            activate: false,
            ..AccountOptions::default()
        });
        snapshot.apply_change(&staged);
        snapshot.apply_change(&staged);
        assert_eq!(snapshot.accounts.len(), 1, "applying twice changes nothing");
        let account = snapshot
            .account_by_login_or_email("ann@example.com")
            .expect("created");
        assert_eq!(account.state, LifecycleState::Pending);
        assert_eq!(account.email.as_deref(), Some("ann@example.com"));
        assert_eq!(account.display_name, "Ann Lee");
        let id = account.id.clone();
        let reference = AccountRef {
            id: id.clone(),
            login: "ann@example.com".into(),
        };
        snapshot.apply_change(&op(OpKind::retire_account(
            reference.clone(),
            RetireMode::Suspend,
        )));
        assert_eq!(
            snapshot.account(&id).map(|a| a.state),
            Some(LifecycleState::Suspended)
        );
        snapshot.apply_change(&op(OpKind::retire_account(
            reference.clone(),
            RetireMode::Deactivate,
        )));
        assert_eq!(
            snapshot.account(&id).map(|a| a.state),
            Some(LifecycleState::Deprovisioned)
        );
        snapshot.grants.push(crate::Grant {
            account_id: id.clone(),
            resource_id: "00g1".into(),
            entitlement: "member".into(),
            source: crate::GrantSource::Direct,
        });
        snapshot.apply_change(&op(OpKind::retire_account(reference, RetireMode::Delete)));
        assert!(snapshot.account(&id).is_none());
        assert!(
            snapshot.grants.is_empty(),
            "a deleted account holds nothing"
        );
    }
}
