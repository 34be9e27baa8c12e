//! Who is acting, as every operation of the service and every audit event
//! records it, and what they may do.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// What someone may do in grantflow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including tokens and configuration.
    Admin,
    /// Approves plans and requests (never their own).
    Approver,
    /// Asks for access and actions.
    Requester,
    /// Reads the audit trail and verifies it.
    Auditor,
    /// Reads people, plans, findings and reach.
    Viewer,
    /// Syncs, plans and applies in one connection.
    Operator(String),
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Admin => f.write_str("admin"),
            Role::Approver => f.write_str("approver"),
            Role::Requester => f.write_str("requester"),
            Role::Auditor => f.write_str("auditor"),
            Role::Viewer => f.write_str("viewer"),
            Role::Operator(connection) => write!(f, "operator of {connection}"),
        }
    }
}

/// An authenticated actor: the name the audit trail records (`cli:alice`,
/// `token:ci-deploy`, `oidc:alice@example.com`, `grantflow:drift`) and the
/// roles they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: String,
    pub roles: BTreeSet<Role>,
    /// The person acting, when known (an email): a signed-in person, or a
    /// token made for one. Reviews of requests are by people.
    pub person: Option<String>,
}

impl Actor {
    pub fn new(id: impl Into<String>, roles: impl IntoIterator<Item = Role>) -> Self {
        Self {
            id: id.into(),
            roles: roles.into_iter().collect(),
            person: None,
        }
    }

    /// The same actor, known to be the person with `email`.
    pub fn for_person(mut self, email: &str) -> Self {
        self.person = Some(email.trim().to_lowercase());
        self
    }

    /// Whether `email` is this actor's person.
    pub fn is_person(&self, email: &str) -> bool {
        self.person
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(email.trim()))
    }

    /// The person running the command line against a local store: whoever
    /// can open the database file can do anything with it, so the local
    /// operator is an administrator, recorded by their login name.
    pub fn local_operator() -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .ok()
            .filter(|u| !u.trim().is_empty())
            .or_else(login_name)
            .unwrap_or_else(|| format!("uid-{}", uid()));
        Self::new(format!("cli:{user}"), [Role::Admin])
    }

    /// grantflow itself acting on a schedule (drift checks, timers).
    pub fn system(name: &str) -> Self {
        Self::new(format!("grantflow:{name}"), [Role::Admin])
    }

    pub fn has(&self, role: &Role) -> bool {
        self.roles.contains(&Role::Admin) || self.roles.contains(role)
    }

    /// Whether the actor may change things in `connection`.
    pub fn may_operate(&self, connection: &str) -> bool {
        self.roles.contains(&Role::Admin) || self.roles.contains(&Role::Operator(connection.into()))
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// The login name of the process's user, when the environment does not say.
fn login_name() -> Option<String> {
    let uid = uid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?;
        (id == uid).then(|| name.to_string())
    })
}

fn uid() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().next().map(str::to_string))
        })
        .unwrap_or_else(|| "unknown".to_string())
}
