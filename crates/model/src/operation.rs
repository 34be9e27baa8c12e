//! Operations: the closed set of changes grantflow makes in a system, each
//! with a natural key used for idempotency, de-duplication and audit.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::{ConnectionName, ResourceKind};

/// The position of an operation inside its plan (stable once the plan is stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OperationId(pub u32);

impl fmt::Display for OperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op{}", self.0)
    }
}

/// Who an operation acts on, as the system knows them and as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRef {
    pub id: String,
    pub login: String,
}

/// What an operation acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    pub id: String,
    pub kind: ResourceKind,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpKind {
    /// Give an account an entitlement on a resource.
    AddGrant {
        account: AccountRef,
        resource: ResourceRef,
        entitlement: String,
    },
    /// Take an entitlement away from an account.
    RemoveGrant {
        account: AccountRef,
        resource: ResourceRef,
        entitlement: String,
    },
    /// Give a group an entitlement on another resource, which its members
    /// inherit (an Okta group assigned to an app).
    AddGroupGrant {
        group: ResourceRef,
        resource: ResourceRef,
        entitlement: String,
    },
    /// Take a group's entitlement on another resource away.
    RemoveGroupGrant {
        group: ResourceRef,
        resource: ResourceRef,
        entitlement: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub id: OperationId,
    pub connection: ConnectionName,
    #[serde(flatten)]
    pub kind: OpKind,
    /// Why the operation exists: the policies or request that want it.
    pub reasons: Vec<String>,
    /// Operations that must succeed before this one may run.
    #[serde(default)]
    pub depends_on: Vec<OperationId>,
}

/// Who receives or loses the entitlement: an account or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder<'a> {
    Account(&'a AccountRef),
    Group(&'a ResourceRef),
}

impl Holder<'_> {
    pub fn id(&self) -> &str {
        match self {
            Holder::Account(account) => &account.id,
            Holder::Group(group) => &group.id,
        }
    }

    /// How a reviewer reads the holder: a login, or `group "Name"`.
    pub fn label(&self) -> String {
        match self {
            Holder::Account(account) => account.login.clone(),
            Holder::Group(group) => format!("{} \"{}\"", group.kind, group.name),
        }
    }
}

impl Operation {
    /// The identity of the change itself, independent of the plan it is in:
    /// two plans that both add alice to a group have the same natural key.
    pub fn natural_key(&self) -> String {
        format!(
            "{}:{}:{}:{}/{}:{}",
            self.connection,
            self.verb(),
            self.holder().id(),
            self.resource().kind,
            self.resource().id,
            self.entitlement()
        )
    }

    pub fn verb(&self) -> &'static str {
        match self.kind {
            OpKind::AddGrant { .. } => "add_grant",
            OpKind::RemoveGrant { .. } => "remove_grant",
            OpKind::AddGroupGrant { .. } => "add_group_grant",
            OpKind::RemoveGroupGrant { .. } => "remove_group_grant",
        }
    }

    /// `true` when the operation gives access rather than taking it away.
    pub fn widens_access(&self) -> bool {
        matches!(
            self.kind,
            OpKind::AddGrant { .. } | OpKind::AddGroupGrant { .. }
        )
    }

    pub fn holder(&self) -> Holder<'_> {
        match &self.kind {
            OpKind::AddGrant { account, .. } | OpKind::RemoveGrant { account, .. } => {
                Holder::Account(account)
            }
            OpKind::AddGroupGrant { group, .. } | OpKind::RemoveGroupGrant { group, .. } => {
                Holder::Group(group)
            }
        }
    }

    /// The account the operation acts on, when it acts on an account.
    pub fn account(&self) -> Option<&AccountRef> {
        match self.holder() {
            Holder::Account(account) => Some(account),
            Holder::Group(_) => None,
        }
    }

    pub fn resource(&self) -> &ResourceRef {
        match &self.kind {
            OpKind::AddGrant { resource, .. }
            | OpKind::RemoveGrant { resource, .. }
            | OpKind::AddGroupGrant { resource, .. }
            | OpKind::RemoveGroupGrant { resource, .. } => resource,
        }
    }

    pub fn entitlement(&self) -> &str {
        match &self.kind {
            OpKind::AddGrant { entitlement, .. }
            | OpKind::RemoveGrant { entitlement, .. }
            | OpKind::AddGroupGrant { entitlement, .. }
            | OpKind::RemoveGroupGrant { entitlement, .. } => entitlement,
        }
    }

    /// `+` or `-`, as a reviewer reads a plan.
    pub fn sign(&self) -> char {
        if self.widens_access() { '+' } else { '-' }
    }

    /// One line a person can read: `+ okta group "Eng" member for alice@x`.
    pub fn describe(&self) -> String {
        let resource = self.resource();
        format!(
            "{} {} {} \"{}\" {} for {}",
            self.sign(),
            self.connection,
            resource.kind,
            resource.name,
            self.entitlement(),
            self.holder().label()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind_add: bool) -> Operation {
        let account = AccountRef {
            id: "00u1".into(),
            login: "a@example.com".into(),
        };
        let resource = ResourceRef {
            id: "00g1".into(),
            kind: ResourceKind::new("group"),
            name: "Eng".into(),
        };
        let kind = if kind_add {
            OpKind::AddGrant {
                account,
                resource,
                entitlement: "member".into(),
            }
        } else {
            OpKind::RemoveGrant {
                account,
                resource,
                entitlement: "member".into(),
            }
        };
        Operation {
            id: OperationId(0),
            connection: ConnectionName::new("okta"),
            kind,
            reasons: vec!["p".into()],
            depends_on: vec![],
        }
    }

    #[test]
    fn natural_key_distinguishes_add_from_remove_and_ignores_plan_position() {
        let add = op(true);
        let mut add_elsewhere = op(true);
        add_elsewhere.id = OperationId(7);
        assert_eq!(add.natural_key(), add_elsewhere.natural_key());
        assert_ne!(add.natural_key(), op(false).natural_key());
        assert_eq!(add.natural_key(), "okta:add_grant:00u1:group/00g1:member");
    }

    #[test]
    fn operations_round_trip_through_json() {
        let original = op(false);
        let json = serde_json::to_string(&original).expect("serialize");
        let back: Operation = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(original, back);
        assert_eq!(
            back.describe(),
            "- okta group \"Eng\" member for a@example.com"
        );
    }
}
