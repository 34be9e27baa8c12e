//! Operations: the closed set of changes grantflow makes in a system, each
//! with a natural key used for idempotency, de-duplication and audit.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

use crate::{AccountOptions, ConnectionName, ResourceKind, RetireMode};

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
    /// A one-off action on an account (suspend, reset MFA, …). `action` is
    /// the system's verb; `params` are its options (never a secret: a
    /// temporary password is returned by the connector, not stored here).
    /// `target` is the account seen as the resource acted on (kind
    /// `account`), built by [`OpKind::account_action`].
    AccountAction {
        account: AccountRef,
        action: String,
        #[serde(default)]
        params: BTreeMap<String, String>,
        target: ResourceRef,
    },
    /// Push a group (and its members) into an app, e.g. an Okta group push
    /// mapping; `target_name` names the group to create or link in the app.
    PushGroup {
        group: ResourceRef,
        resource: ResourceRef,
        #[serde(default)]
        target_name: Option<String>,
    },
    /// Create a resource (a group, a secret folder, a security policy) that
    /// a policy file declares. Until it exists its id is `pending:<name>`;
    /// the connector looks it up by name, so creating twice is a no-op.
    /// `spec` holds the resource's settings in the system's terms.
    CreateResource {
        resource: ResourceRef,
        #[serde(default)]
        spec: serde_json::Map<String, serde_json::Value>,
    },
    /// Change the settings of a declared resource that exists: `spec` is the
    /// whole declaration (what the connector sends), `before` and `after`
    /// only the fields that differ, as the last sync saw them and as the
    /// policy file wants them (what the review shows).
    UpdateResource {
        resource: ResourceRef,
        #[serde(default)]
        spec: serde_json::Map<String, serde_json::Value>,
        #[serde(default)]
        before: serde_json::Map<String, serde_json::Value>,
        #[serde(default)]
        after: serde_json::Map<String, serde_json::Value>,
    },
    /// Delete a resource grantflow created whose declaration is gone; the
    /// connector finds it by name, so deleting twice is a no-op.
    DeleteResource { resource: ResourceRef },
    /// Stop pushing a group into an app (an Okta group push mapping set to
    /// INACTIVE); the first half of removing a push.
    DeactivatePush {
        group: ResourceRef,
        resource: ResourceRef,
    },
    /// Delete an inactive group push mapping (the pushed group stays in the
    /// app); the second half of removing a push.
    DeletePush {
        group: ResourceRef,
        resource: ResourceRef,
    },
    /// Set attributes of an account's profile, the others left as they are
    /// (Okta's partial profile update): `after` holds the values a policy
    /// wants, `before` the same attributes as the last sync saw them (what the
    /// review shows). `target` is the account seen as the resource changed,
    /// built by [`OpKind::update_profile`].
    UpdateProfile {
        account: AccountRef,
        #[serde(default)]
        before: serde_json::Map<String, serde_json::Value>,
        #[serde(default)]
        after: serde_json::Map<String, serde_json::Value>,
        target: ResourceRef,
    },
    /// Create an account a policy's `accounts:` declares for a person who
    /// has none. Until it exists its id is `pending:<email>` (grants on it
    /// wait for it); the connector finds it by `account.login`, so a retried
    /// creation that took effect is never made twice. `attributes` are the
    /// system's profile fields; `options` how it starts (never a password:
    /// a temporary one is returned once by the connector, not stored here).
    /// Built by [`OpKind::create_account`].
    CreateAccount {
        account: AccountRef,
        #[serde(default)]
        attributes: serde_json::Map<String, serde_json::Value>,
        #[serde(default)]
        options: AccountOptions,
        target: ResourceRef,
    },
    /// Switch off or remove a person's account (a leaver): `mode` says how.
    /// Built by [`OpKind::retire_account`].
    RetireAccount {
        account: AccountRef,
        mode: RetireMode,
        target: ResourceRef,
    },
}

/// The kind of the resource an account action acts on: the account itself.
pub const ACCOUNT_KIND: &str = "account";
/// The entitlement a group push gives a group on an app.
pub const PUSH_ENTITLEMENT: &str = "push";
/// What a resource creation reads as in a plan, in place of an entitlement.
pub const CREATE_ENTITLEMENT: &str = "create";
/// What a change of a resource's settings reads as, in place of an entitlement.
pub const UPDATE_ENTITLEMENT: &str = "update";
/// What a change of an account's profile reads as, in place of an entitlement.
pub const PROFILE_ENTITLEMENT: &str = "profile";
/// What a resource deletion reads as, in place of an entitlement.
pub const DELETE_ENTITLEMENT: &str = "delete";
/// The id of a resource a plan creates, or of an account that appears at a
/// first sign-in, until it exists: `pending:<name>`.
pub const PENDING_PREFIX: &str = "pending:";

/// An id as a plan carries it: an object the system knows, or one that does
/// not exist yet and is found by name (a resource by its name, an account by
/// its email) when the operation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlannedId<'a> {
    Existing(&'a str),
    Pending(&'a str),
}

impl<'a> PlannedId<'a> {
    pub fn parse(id: &'a str) -> Self {
        match id.strip_prefix(PENDING_PREFIX) {
            Some(name) => PlannedId::Pending(name),
            None => PlannedId::Existing(id),
        }
    }

    /// The name an object that does not exist yet is found by.
    pub fn pending_name(self) -> Option<&'a str> {
        match self {
            PlannedId::Pending(name) => Some(name),
            PlannedId::Existing(_) => None,
        }
    }
}

/// The id a plan gives an object that does not exist yet: `pending:<name>`.
pub fn pending_id(name: &str) -> String {
    format!("{PENDING_PREFIX}{name}")
}

impl ResourceRef {
    /// A resource the plan creates; its id is `pending:<name>` until it exists.
    pub fn pending(kind: impl Into<String>, name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            id: pending_id(&name),
            kind: ResourceKind::new(kind),
            name,
        }
    }

    /// `true` while the resource is yet to be created.
    pub fn is_pending(&self) -> bool {
        self.planned_id().pending_name().is_some()
    }

    pub fn planned_id(&self) -> PlannedId<'_> {
        PlannedId::parse(&self.id)
    }
}

impl AccountRef {
    /// An account the system makes itself (at a first sign-in), planned by
    /// the person's email until it exists.
    pub fn pending(email: &str) -> Self {
        let email = email.to_lowercase();
        Self {
            id: pending_id(&email),
            login: email,
        }
    }

    pub fn planned_id(&self) -> PlannedId<'_> {
        PlannedId::parse(&self.id)
    }

    /// The email a pending account will be found by, once it exists.
    pub fn pending_email(&self) -> Option<&str> {
        self.planned_id().pending_name()
    }
}

impl OpKind {
    /// An account action whose target is the account itself.
    pub fn account_action(
        account: AccountRef,
        action: impl Into<String>,
        params: BTreeMap<String, String>,
    ) -> Self {
        let target = ResourceRef {
            id: account.id.clone(),
            kind: ResourceKind::new(ACCOUNT_KIND),
            name: account.login.clone(),
        };
        OpKind::AccountAction {
            account,
            action: action.into(),
            params,
            target,
        }
    }

    /// Sets the attributes in `after` on `account`'s profile; `before` is what the last sync saw.
    pub fn update_profile(
        account: AccountRef,
        before: serde_json::Map<String, serde_json::Value>,
        after: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        let target = ResourceRef {
            id: account.id.clone(),
            kind: ResourceKind::new(ACCOUNT_KIND),
            name: account.login.clone(),
        };
        OpKind::UpdateProfile {
            account,
            before,
            after,
            target,
        }
    }

    /// Creates `account` (pending until it exists) with `attributes`, started as `options` say.
    pub fn create_account(
        account: AccountRef,
        attributes: serde_json::Map<String, serde_json::Value>,
        options: AccountOptions,
    ) -> Self {
        let target = account_target(&account);
        OpKind::CreateAccount {
            account,
            attributes,
            options,
            target,
        }
    }

    /// Retires `account` as `mode` says.
    pub fn retire_account(account: AccountRef, mode: RetireMode) -> Self {
        let target = account_target(&account);
        OpKind::RetireAccount {
            account,
            mode,
            target,
        }
    }
}

/// The account seen as the resource an operation acts on (kind `account`).
fn account_target(account: &AccountRef) -> ResourceRef {
    ResourceRef {
        id: account.id.clone(),
        kind: ResourceKind::new(ACCOUNT_KIND),
        name: account.login.clone(),
    }
}

/// Account actions that give access back (the rest take it away or leave
/// it as it is, e.g. a password reset).
const WIDENING_ACTIONS: &[&str] = &["activate", "reactivate", "unsuspend", "unlock"];

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
        match &self.kind {
            // Named, not by id: the id does not exist until the creation.
            OpKind::CreateResource { resource, .. } | OpKind::DeleteResource { resource } => {
                return format!(
                    "{}:{}:{}/{}",
                    self.connection,
                    self.verb(),
                    resource.kind,
                    resource.name
                );
            }
            // The settings wanted are part of the change: two plans wanting the same settings make one change.
            OpKind::UpdateResource {
                resource, after, ..
            } => {
                return format!(
                    "{}:update_resource:{}/{}:{}",
                    self.connection,
                    resource.kind,
                    resource.name,
                    serde_json::Value::Object(after.clone())
                );
            }
            // By login: the account has no id until it exists, and one login is one account.
            OpKind::CreateAccount { account, .. } => {
                return format!(
                    "{}:create_account:{}",
                    self.connection,
                    account.login.to_lowercase()
                );
            }
            OpKind::UpdateProfile { account, after, .. } => {
                return format!(
                    "{}:update_profile:{}:{}",
                    self.connection,
                    account.id,
                    serde_json::Value::Object(after.clone())
                );
            }
            _ => {}
        }
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
            OpKind::AccountAction { .. } => "account_action",
            OpKind::PushGroup { .. } => "push_group",
            OpKind::CreateResource { .. } => "create_resource",
            OpKind::UpdateResource { .. } => "update_resource",
            OpKind::DeleteResource { .. } => "delete_resource",
            OpKind::DeactivatePush { .. } => "deactivate_push",
            OpKind::DeletePush { .. } => "delete_push",
            OpKind::UpdateProfile { .. } => "update_profile",
            OpKind::CreateAccount { .. } => "create_account",
            OpKind::RetireAccount { .. } => "retire_account",
        }
    }

    /// `true` when the operation gives access rather than taking it away. A
    /// change of settings counts as widening: it may give more (a policy's
    /// privileges, a profile attribute a group rule reads), so it is reviewed
    /// like an addition.
    pub fn widens_access(&self) -> bool {
        match &self.kind {
            OpKind::AddGrant { .. }
            | OpKind::AddGroupGrant { .. }
            | OpKind::PushGroup { .. }
            | OpKind::CreateResource { .. }
            | OpKind::UpdateResource { .. }
            | OpKind::UpdateProfile { .. }
            | OpKind::CreateAccount { .. } => true,
            OpKind::AccountAction { action, .. } => WIDENING_ACTIONS.contains(&action.as_str()),
            OpKind::RemoveGrant { .. }
            | OpKind::RemoveGroupGrant { .. }
            | OpKind::DeleteResource { .. }
            | OpKind::DeactivatePush { .. }
            | OpKind::DeletePush { .. }
            | OpKind::RetireAccount { .. } => false,
        }
    }

    pub fn holder(&self) -> Holder<'_> {
        match &self.kind {
            OpKind::AddGrant { account, .. }
            | OpKind::RemoveGrant { account, .. }
            | OpKind::AccountAction { account, .. }
            | OpKind::UpdateProfile { account, .. }
            | OpKind::CreateAccount { account, .. }
            | OpKind::RetireAccount { account, .. } => Holder::Account(account),
            OpKind::AddGroupGrant { group, .. }
            | OpKind::RemoveGroupGrant { group, .. }
            | OpKind::PushGroup { group, .. }
            | OpKind::DeactivatePush { group, .. }
            | OpKind::DeletePush { group, .. } => Holder::Group(group),
            // The resource being created, changed or deleted stands for itself.
            OpKind::CreateResource { resource, .. }
            | OpKind::UpdateResource { resource, .. }
            | OpKind::DeleteResource { resource } => Holder::Group(resource),
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
            | OpKind::RemoveGroupGrant { resource, .. }
            | OpKind::PushGroup { resource, .. }
            | OpKind::CreateResource { resource, .. }
            | OpKind::UpdateResource { resource, .. }
            | OpKind::DeleteResource { resource }
            | OpKind::DeactivatePush { resource, .. }
            | OpKind::DeletePush { resource, .. } => resource,
            OpKind::AccountAction { target, .. }
            | OpKind::UpdateProfile { target, .. }
            | OpKind::CreateAccount { target, .. }
            | OpKind::RetireAccount { target, .. } => target,
        }
    }

    pub fn entitlement(&self) -> &str {
        match &self.kind {
            OpKind::AddGrant { entitlement, .. }
            | OpKind::RemoveGrant { entitlement, .. }
            | OpKind::AddGroupGrant { entitlement, .. }
            | OpKind::RemoveGroupGrant { entitlement, .. } => entitlement,
            OpKind::AccountAction { action, .. } => action,
            OpKind::PushGroup { .. }
            | OpKind::DeactivatePush { .. }
            | OpKind::DeletePush { .. } => PUSH_ENTITLEMENT,
            OpKind::CreateResource { .. } => CREATE_ENTITLEMENT,
            OpKind::UpdateResource { .. } => UPDATE_ENTITLEMENT,
            OpKind::UpdateProfile { .. } => PROFILE_ENTITLEMENT,
            OpKind::DeleteResource { .. } => DELETE_ENTITLEMENT,
            OpKind::CreateAccount { .. } => CREATE_ENTITLEMENT,
            OpKind::RetireAccount { mode, .. } => mode.as_str(),
        }
    }

    /// `+`, `-`, or `~` for a change of settings, as a reviewer reads a plan.
    pub fn sign(&self) -> char {
        if matches!(
            self.kind,
            OpKind::UpdateResource { .. } | OpKind::UpdateProfile { .. }
        ) {
            '~'
        } else if self.widens_access() {
            '+'
        } else {
            '-'
        }
    }

    /// One line a person can read: `+ okta group "Eng" member for alice@x`.
    pub fn describe(&self) -> String {
        if let OpKind::AccountAction {
            account,
            action,
            params,
            ..
        } = &self.kind
        {
            let options: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let options = if options.is_empty() {
                String::new()
            } else {
                format!(" ({})", options.join(", "))
            };
            return format!(
                "{} {} {action} account {}{options}",
                self.sign(),
                self.connection,
                account.login
            );
        }
        let resource = self.resource();
        match &self.kind {
            OpKind::CreateAccount {
                account,
                attributes,
                options,
                ..
            } => {
                return format!(
                    "{} {} create account {} ({})",
                    self.sign(),
                    self.connection,
                    account.login,
                    crate::accounts::creation_summary(attributes, options)
                );
            }
            OpKind::RetireAccount { account, mode, .. } => {
                return format!(
                    "{} {} {} account {}",
                    self.sign(),
                    self.connection,
                    mode.as_str(),
                    account.login
                );
            }
            OpKind::CreateResource { .. } | OpKind::DeleteResource { .. } => {
                return format!(
                    "{} {} {} {} \"{}\"",
                    self.sign(),
                    self.connection,
                    self.entitlement(),
                    resource.kind,
                    resource.name
                );
            }
            OpKind::UpdateResource { before, after, .. } => {
                return format!(
                    "{} {} update {} \"{}\": {}",
                    self.sign(),
                    self.connection,
                    resource.kind,
                    resource.name,
                    changes(before, after)
                );
            }
            OpKind::UpdateProfile {
                account,
                before,
                after,
                ..
            } => {
                return format!(
                    "{} {} update profile of {}: {}",
                    self.sign(),
                    self.connection,
                    account.login,
                    changes(before, after)
                );
            }
            OpKind::DeactivatePush { group, .. } | OpKind::DeletePush { group, .. } => {
                let step = if matches!(self.kind, OpKind::DeactivatePush { .. }) {
                    "deactivate"
                } else {
                    "delete"
                };
                return format!(
                    "- {} {step} push of {} \"{}\" to {} \"{}\"",
                    self.connection, group.kind, group.name, resource.kind, resource.name
                );
            }
            _ => {}
        }
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

/// `field was → wanted` for each field `after` names, as a reviewer reads a change of settings.
fn changes(
    before: &serde_json::Map<String, serde_json::Value>,
    after: &serde_json::Map<String, serde_json::Value>,
) -> String {
    let changes: Vec<String> = after
        .iter()
        .map(|(field, wanted)| {
            let was = before.get(field).unwrap_or(&serde_json::Value::Null);
            format!("{field} {was} \u{2192} {wanted}")
        })
        .collect();
    changes.join("; ")
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
    fn account_actions_have_a_key_a_description_and_a_direction() {
        let account = AccountRef {
            id: "00u1".into(),
            login: "a@example.com".into(),
        };
        let params = BTreeMap::from([("oauth_tokens".to_string(), "true".to_string())]);
        let op = Operation {
            id: OperationId(0),
            connection: ConnectionName::new("okta"),
            kind: OpKind::account_action(account.clone(), "clear_sessions", params),
            reasons: vec![],
            depends_on: vec![],
        };
        assert_eq!(
            op.natural_key(),
            "okta:account_action:00u1:account/00u1:clear_sessions"
        );
        assert_eq!(
            op.describe(),
            "- okta clear_sessions account a@example.com (oauth_tokens=true)"
        );
        assert!(!op.widens_access());
        let unsuspend = OpKind::account_action(account, "unsuspend", BTreeMap::new());
        let op = Operation {
            kind: unsuspend,
            ..op
        };
        assert!(op.widens_access());
        let json = serde_json::to_string(&op).expect("serialize");
        let back: Operation = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(op, back);
    }

    #[test]
    fn a_created_resource_is_keyed_by_name_and_widens_access() {
        let resource = ResourceRef::pending("secret_folder", "payments-secrets");
        assert!(resource.is_pending());
        let spec = serde_json::json!({"resource_group": "payments"});
        let op = Operation {
            id: OperationId(3),
            connection: ConnectionName::new("opa"),
            kind: OpKind::CreateResource {
                resource,
                spec: spec.as_object().cloned().unwrap_or_default(),
            },
            reasons: vec![],
            depends_on: vec![],
        };
        assert_eq!(
            op.natural_key(),
            "opa:create_resource:secret_folder/payments-secrets"
        );
        assert!(op.widens_access());
        assert_eq!(
            op.describe(),
            "+ opa create secret_folder \"payments-secrets\""
        );
        let json = serde_json::to_string(&op).expect("serialize");
        let back: Operation = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(op, back);
    }

    #[test]
    fn lifecycle_operations_have_keys_directions_and_review_lines() {
        let folder = ResourceRef {
            id: "f1".into(),
            kind: ResourceKind::new("secret_folder"),
            name: "rg/p/secrets".into(),
        };
        let map = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        let at = |kind: OpKind| Operation {
            id: OperationId(1),
            connection: ConnectionName::new("opa"),
            kind,
            reasons: vec![],
            depends_on: vec![],
        };
        let update = at(OpKind::UpdateResource {
            resource: folder.clone(),
            spec: map(serde_json::json!({"description": "new", "other": 1})),
            before: map(serde_json::json!({"description": "old"})),
            after: map(serde_json::json!({"description": "new"})),
        });
        assert_eq!(
            update.natural_key(),
            "opa:update_resource:secret_folder/rg/p/secrets:{\"description\":\"new\"}"
        );
        assert_eq!(
            update.describe(),
            "~ opa update secret_folder \"rg/p/secrets\": description \"old\" \u{2192} \"new\""
        );
        assert!(update.widens_access(), "a change of settings is reviewed");
        let delete = at(OpKind::DeleteResource {
            resource: folder.clone(),
        });
        assert_eq!(
            delete.natural_key(),
            "opa:delete_resource:secret_folder/rg/p/secrets"
        );
        assert_eq!(
            delete.describe(),
            "- opa delete secret_folder \"rg/p/secrets\""
        );
        assert!(!delete.widens_access());
        let group = ResourceRef {
            id: "00g1".into(),
            kind: ResourceKind::new("group"),
            name: "G".into(),
        };
        let app = ResourceRef {
            id: "0oa1".into(),
            kind: ResourceKind::new("app"),
            name: "A".into(),
        };
        let deactivate = at(OpKind::DeactivatePush {
            group: group.clone(),
            resource: app.clone(),
        });
        let remove = at(OpKind::DeletePush {
            group,
            resource: app,
        });
        assert_ne!(deactivate.natural_key(), remove.natural_key());
        assert_eq!(
            remove.describe(),
            "- opa delete push of group \"G\" to app \"A\""
        );
        for op in [update, delete, deactivate, remove] {
            let json = serde_json::to_string(&op).expect("serialize");
            let back: Operation = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(op, back);
        }
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
