//! Accounts as code: the `accounts:` of a policy — which accounts a matching person must have, per
//! connection, with their attributes computed from the person (CEL, like `profile:`), how a new one
//! starts (`activate`, `send_email`, `temporary_password`) and how it is retired when the person
//! leaves (`retire`, with a grace period before a deletion).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use grantflow_model::{AccountOptions, ConnectionName, RetireMode};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::{Condition, Diagnostic, Located, ProfileValue};

/// An account a policy says each matching person must have in one system, e.g.
/// `{system: okta, attributes: {login: person.hris.work_email, firstName: person.hris.first_name}}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountDoc {
    /// The connection name from grantflow.yaml (e.g. `okta`).
    pub system: Located<String>,
    /// Attribute name → CEL expression over `person` giving its value (the system's profile
    /// fields: for Okta `login`, `email`, `firstName`, `lastName`, …). `login` defaults to the
    /// person's email.
    #[serde(default)]
    pub attributes: BTreeMap<String, Located<String>>,
    /// Activate the account when it is created (default true). A person whose HRIS start date is
    /// still ahead gets a staged account either way, activated on the start date.
    #[serde(default)]
    pub activate: Option<bool>,
    /// Let the system email the person their activation (default false: the activation link or
    /// temporary password is shown once to whoever applies the plan).
    #[serde(default)]
    pub send_email: Option<bool>,
    /// Start with a temporary password to change at the first sign-in (default false); shown once,
    /// stored nowhere. Needs `activate`.
    #[serde(default)]
    pub temporary_password: Option<bool>,
    /// How the account is retired when the person leaves (default `deactivate`).
    #[serde(default)]
    pub retire: Option<RetireDoc>,
    /// With `retire: delete`: days the account stays deactivated before it is deleted (default 0).
    #[serde(default)]
    pub delete_after_days: Option<u32>,
}

/// How a leaver's account is retired.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetireDoc {
    /// Switched off; can be switched back on.
    Suspend,
    /// Deprovisioned (the person has left the system).
    Deactivate,
    /// Deactivated, then deleted once `delete_after_days` have passed.
    Delete,
}

impl From<RetireDoc> for RetireMode {
    fn from(doc: RetireDoc) -> Self {
        match doc {
            RetireDoc::Suspend => RetireMode::Suspend,
            RetireDoc::Deactivate => RetireMode::Deactivate,
            RetireDoc::Delete => RetireMode::Delete,
        }
    }
}

/// The account a policy declares in one system, compiled.
#[derive(Debug)]
pub struct AccountSpec {
    pub connection: ConnectionName,
    /// Each attribute with the expression over `person` that gives its value.
    pub attributes: Vec<ProfileValue>,
    /// How a new account starts.
    pub options: AccountOptions,
    /// How the account is retired when the person leaves.
    pub retire: RetireMode,
    /// With `retire: delete`, days between the deactivation and the deletion.
    pub delete_after_days: u32,
    /// Where the system was written.
    pub system_at: Located<()>,
}

/// Compiles a policy's `accounts:`; every problem is pushed to `problems` at its `file:line:column`.
pub(crate) fn compile(
    docs: &[AccountDoc],
    path: &Path,
    problems: &mut Vec<Diagnostic>,
) -> Vec<AccountSpec> {
    let mut accounts = Vec::new();
    let mut systems = BTreeSet::new();
    for doc in docs {
        if !systems.insert(doc.system.value.as_str()) {
            problems.push(doc.system.diagnostic(
                path,
                format!(
                    "the policy declares a {} account twice: one entry per system",
                    doc.system.value
                ),
            ));
            continue;
        }
        let mut attributes = Vec::new();
        for (attribute, source) in &doc.attributes {
            if attribute.trim().is_empty() {
                problems.push(source.diagnostic(path, "an account attribute needs a name"));
                continue;
            }
            match Condition::compile(&source.value) {
                Ok(expression) => attributes.push(ProfileValue {
                    name: attribute.clone(),
                    expression,
                    at: source.position(),
                }),
                Err(message) => problems.push(
                    source.diagnostic(path, format!("account attribute `{attribute}`: {message}")),
                ),
            }
        }
        let options = AccountOptions {
            activate: doc.activate.unwrap_or(true),
            send_email: doc.send_email.unwrap_or(false),
            temporary_password: doc.temporary_password.unwrap_or(false),
        };
        // The same rules Okta applies (E0000125: a password expired at creation needs activation),
        // said at load rather than at the first apply.
        if options.temporary_password && !options.activate {
            problems.push(doc.system.diagnostic(
                path,
                "a temporary password needs `activate: true` (the account is activated with it)",
            ));
        }
        if options.temporary_password && options.send_email {
            problems.push(doc.system.diagnostic(
                path,
                "choose `send_email` or `temporary_password`: an account started with a password gets no activation email",
            ));
        }
        let retire = doc.retire.map_or(RetireMode::Deactivate, RetireMode::from);
        if doc.delete_after_days.is_some() && retire != RetireMode::Delete {
            problems.push(doc.system.diagnostic(
                path,
                "`delete_after_days` is the grace period before a deletion: it needs `retire: delete`",
            ));
        }
        accounts.push(AccountSpec {
            connection: ConnectionName::new(doc.system.value.clone()),
            attributes,
            options,
            retire,
            delete_after_days: doc.delete_after_days.unwrap_or(0),
            system_at: doc.system.position(),
        });
    }
    accounts
}
