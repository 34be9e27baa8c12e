//! Who may do what: the one table of permissions the HTTP API (and any
//! other door) asks before it calls an operation, and role names as tokens
//! and configuration write them (`admin`, `operator:okta`).
//!
//! The operations check again where the rule depends on the data (applying
//! a plan needs an operator of every connection it changes; nobody approves
//! their own request); this table is what can be decided from the call alone.

use crate::{Actor, Result, Role, Service, ServiceError};

/// What a call asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission<'a> {
    /// Who am I: anyone authenticated.
    ReadSelf,
    /// People and their access in every system.
    ReadPeople,
    /// Connections and their last sync.
    ReadConnections,
    /// Plans, their review and progress.
    ReadPlans,
    /// Open drift findings.
    ReadDrift,
    /// A drift check now, which may remediate (policies in `auto` mode).
    CheckDrift,
    /// Production reach queries.
    ReadReach,
    /// Audit events, verification, export.
    ReadAudit,
    /// A plan from one change in words (`do`).
    PlanFromRequest,
    /// A plan from every policy.
    PlanFromPolicies,
    /// Approving somebody else's plan.
    Approve,
    /// Syncing one connection now.
    Sync(&'a str),
    /// Applying a plan (the operation then checks each connection it changes).
    Apply,
    /// Creating, listing and revoking API tokens.
    ManageTokens,
    /// Flows, their runs and each run's history.
    ReadFlows,
    /// Starting a flow by hand or through the API.
    RunFlows,
}

impl Permission<'_> {
    /// Who holds it, as a refusal explains.
    pub fn who(&self) -> String {
        match self {
            Permission::ReadSelf => "anyone signed in".into(),
            Permission::ReadPeople | Permission::ReadDrift | Permission::ReadReach => {
                "viewers and administrators".into()
            }
            Permission::ReadConnections => "viewers, operators and administrators".into(),
            Permission::ReadPlans => {
                "viewers, requesters, approvers, operators and administrators".into()
            }
            Permission::ReadAudit => "auditors and administrators".into(),
            Permission::PlanFromRequest => "requesters and administrators".into(),
            Permission::PlanFromPolicies | Permission::ManageTokens | Permission::CheckDrift => {
                "administrators".into()
            }
            Permission::Approve => "approvers and administrators".into(),
            Permission::Sync(connection) => {
                format!("operators of {connection} and administrators")
            }
            Permission::Apply => "operators and administrators".into(),
            Permission::ReadFlows => "viewers, auditors and administrators".into(),
            Permission::RunFlows => "administrators".into(),
        }
    }
}

fn any_operator(actor: &Actor) -> bool {
    actor.roles.iter().any(|r| matches!(r, Role::Operator(_)))
}

/// Whether `actor` holds `permission`.
pub fn allows(actor: &Actor, permission: &Permission<'_>) -> bool {
    match permission {
        Permission::ReadSelf => true,
        Permission::ReadPeople | Permission::ReadDrift | Permission::ReadReach => {
            actor.has(&Role::Viewer)
        }
        Permission::ReadConnections => actor.has(&Role::Viewer) || any_operator(actor),
        Permission::ReadPlans => {
            actor.has(&Role::Viewer)
                || actor.has(&Role::Requester)
                || actor.has(&Role::Approver)
                || any_operator(actor)
        }
        Permission::ReadAudit => actor.has(&Role::Auditor),
        Permission::PlanFromRequest => actor.has(&Role::Requester),
        Permission::PlanFromPolicies | Permission::ManageTokens | Permission::CheckDrift => {
            actor.has(&Role::Admin)
        }
        Permission::Approve => actor.has(&Role::Approver),
        Permission::Sync(connection) => actor.may_operate(connection),
        Permission::Apply => actor.has(&Role::Admin) || any_operator(actor),
        Permission::ReadFlows => actor.has(&Role::Viewer) || actor.has(&Role::Auditor),
        Permission::RunFlows => actor.has(&Role::Admin),
    }
}

/// `Ok` when `actor` holds `permission`; else a `forbidden` refusal naming
/// who does.
pub fn authorize(actor: &Actor, permission: &Permission<'_>) -> Result<()> {
    if allows(actor, permission) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!(
            "{actor} may not do this: only {} may",
            permission.who()
        )))
    }
}

/// A role as tokens and configuration name it: `admin`, `approver`,
/// `requester`, `auditor`, `viewer`, `operator:<connection>`.
pub fn role_name(role: &Role) -> String {
    match role {
        Role::Operator(connection) => format!("operator:{connection}"),
        other => other.to_string(),
    }
}

/// The role a name gives; an error lists the names there are.
pub fn parse_role(name: &str) -> Result<Role> {
    let name = name.trim();
    Ok(match name {
        "admin" => Role::Admin,
        "approver" => Role::Approver,
        "requester" => Role::Requester,
        "auditor" => Role::Auditor,
        "viewer" => Role::Viewer,
        _ => match name.strip_prefix("operator:") {
            Some(connection)
                if !connection.is_empty()
                    && connection
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                Role::Operator(connection.to_string())
            }
            _ => {
                return Err(ServiceError::Invalid(format!(
                    "unknown role \"{name}\": use admin, approver, requester, auditor, viewer or operator:<connection>"
                )));
            }
        },
    })
}

impl Service {
    /// One change in words, asked for by `actor`: planned and stored like
    /// `grantflow do`; when the one asking is not an administrator, the plan
    /// waits for an approver (somebody else) before anyone may apply it.
    pub async fn request_change(&self, actor: &Actor, text: &str) -> Result<crate::Proposal> {
        self.refuse_what_a_rule_covers(
            actor,
            &crate::requests::Asked::Change {
                text: text.to_string(),
            },
        )
        .await?;
        self.propose_request_awaiting(actor, text, approval_reason(actor))
            .await
    }

    /// One account action (reset MFA, unlock, suspend, …), asked for by
    /// `actor`: like [`Service::request_change`], it waits for an approver
    /// unless an administrator asked.
    pub async fn request_action(
        &self,
        actor: &Actor,
        action: &crate::ActionRequest,
    ) -> Result<crate::Proposal> {
        self.refuse_what_a_rule_covers(actor, &crate::requests::Asked::Action(action.clone()))
            .await?;
        self.propose_action_awaiting(actor, action, approval_reason(actor))
            .await
    }
}

/// Why a plan `actor` asked for waits for an approver (stored with the plan,
/// in its transaction); `None` for an administrator.
fn approval_reason(actor: &Actor) -> Option<&'static str> {
    (!actor.roles.contains(&Role::Admin))
        .then_some("asked for by someone who is not an administrator")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_read_back() {
        for name in [
            "admin",
            "approver",
            "requester",
            "auditor",
            "viewer",
            "operator:okta",
        ] {
            let role = parse_role(name).expect("known role");
            assert_eq!(role_name(&role), name);
        }
        assert!(parse_role("root").is_err());
        assert!(parse_role("operator:").is_err());
        assert!(parse_role("operator:a b").is_err());
    }

    #[test]
    fn an_operator_syncs_only_their_connection_and_a_viewer_changes_nothing() {
        let operator = Actor::new("token:ops", [Role::Operator("okta".into())]);
        assert!(allows(&operator, &Permission::Sync("okta")));
        assert!(!allows(&operator, &Permission::Sync("github")));
        assert!(allows(&operator, &Permission::Apply));
        assert!(!allows(&operator, &Permission::ReadAudit));
        let viewer = Actor::new("token:v", [Role::Viewer]);
        for permission in [
            Permission::PlanFromRequest,
            Permission::PlanFromPolicies,
            Permission::Approve,
            Permission::Sync("okta"),
            Permission::Apply,
            Permission::ManageTokens,
            Permission::ReadAudit,
        ] {
            let refused = authorize(&viewer, &permission).expect_err("viewer refused");
            assert_eq!(refused.code(), "forbidden");
        }
    }
}
