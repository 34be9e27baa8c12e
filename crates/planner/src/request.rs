//! One change asked for in words (`grantflow do "..."`), turned into the
//! same kind of plan policies produce.

use grantflow_model::{AccountRef, ConnectionName, OpKind, Resource, ResourceRef, Snapshot};
use regex::Regex;
use std::sync::LazyLock;

use crate::ActualState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Add,
    Remove,
}

/// A parsed request: who, what, and which way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequest {
    pub text: String,
    pub action: Action,
    pub user: String,
    pub target: String,
    /// "group" or "app" when the request says so.
    pub target_kind: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error(
        "cannot understand the request \"{0}\"; say e.g. \"assign alice@example.com to the Engineering group\" or \"remove alice@example.com from Engineering\""
    )]
    Unparseable(String),
    #[error("no user with login or email \"{user}\" in {connection} (as of the last sync)")]
    UnknownUser {
        user: String,
        connection: ConnectionName,
    },
    #[error("no {kind} named \"{name}\" in {connection} (as of the last sync){hint}")]
    UnknownResource {
        kind: String,
        name: String,
        connection: ConnectionName,
        hint: String,
    },
    #[error("the directory connection \"{0}\" has not been synced yet: run `grantflow sync` first")]
    NotSynced(ConnectionName),
    #[error("{0}")]
    Invalid(String),
}

static ADD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:assign|assigning|add|adding|grant|granting)\s+(\S+)\s+(?:to|into)\s+(.+)$",
    )
    .ok()
});
static REMOVE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:remove|removing|revoke|revoking|unassign|unassigning)\s+(\S+)\s+from\s+(.+)$",
    )
    .ok()
});

/// Parses "assign|add USER to [the] GROUP [Okta group]" and
/// "remove USER from [the] GROUP [group]"; leading words ("map production
/// reachability before assigning …") are allowed.
pub fn parse_request(text: &str) -> Result<ChangeRequest, RequestError> {
    let trimmed = text.trim();
    for (pattern, action) in [(&*ADD, Action::Add), (&*REMOVE, Action::Remove)] {
        let Some(pattern) = pattern else { continue };
        if let Some(captures) = pattern.captures(trimmed) {
            let user = captures.get(1).map(|m| m.as_str()).unwrap_or_default();
            let target = captures.get(2).map(|m| m.as_str()).unwrap_or_default();
            let (target, target_kind) = clean_target(target);
            if target.is_empty() {
                break;
            }
            return Ok(ChangeRequest {
                text: trimmed.to_string(),
                action,
                user: user.trim_matches(|c| c == '"' || c == '\'').to_string(),
                target,
                target_kind,
            });
        }
    }
    Err(RequestError::Unparseable(trimmed.to_string()))
}

/// Strips "the", quotes and a trailing "[Okta] group|app" from the target.
fn clean_target(raw: &str) -> (String, Option<String>) {
    let mut target = raw.trim().trim_end_matches(['.', '!']).trim().to_string();
    let lower = target.to_lowercase();
    if lower.starts_with("the ") {
        target = target[4..].trim().to_string();
    }
    let mut kind = None;
    for (suffix, suffix_kind) in [
        (" okta group", "group"),
        (" group", "group"),
        (" okta app", "app"),
        (" app", "app"),
    ] {
        if target.to_lowercase().ends_with(suffix) {
            target.truncate(target.len() - suffix.len());
            kind = Some(suffix_kind.to_string());
            break;
        }
    }
    for prefix in ["okta group ", "group ", "okta app ", "app "] {
        if target.to_lowercase().starts_with(prefix) {
            kind = Some(
                if prefix.contains("app") {
                    "app"
                } else {
                    "group"
                }
                .to_string(),
            );
            target = target[prefix.len()..].to_string();
            break;
        }
    }
    let target = target
        .trim()
        .trim_matches(|c| c == '"' || c == '\'' || c == '“' || c == '”')
        .to_string();
    (target, kind)
}

type Resolved = (Option<OpKind>, ConnectionName, Vec<String>);

pub(crate) fn resolve(
    request: &ChangeRequest,
    actual: &ActualState,
) -> Result<Resolved, RequestError> {
    let connection = actual.directory.clone();
    let snapshot = actual
        .snapshots
        .get(&connection)
        .ok_or_else(|| RequestError::NotSynced(connection.clone()))?;
    let account = snapshot
        .account_by_login_or_email(&request.user)
        .ok_or_else(|| RequestError::UnknownUser {
            user: request.user.clone(),
            connection: connection.clone(),
        })?;
    let resource = find_resource(snapshot, request, &connection)?;
    let entitlement = resource
        .entitlements
        .first()
        .cloned()
        .unwrap_or_else(|| "member".to_string());
    if !resource.writable {
        return Err(RequestError::Invalid(format!(
            "{} \"{}\" is managed by {connection} itself (its membership cannot be changed through the API)",
            resource.kind, resource.name
        )));
    }
    let held = snapshot.grants.iter().any(|g| {
        g.account_id == account.id
            && g.resource_id == resource.id
            && g.entitlement == entitlement
            && g.source == grantflow_model::GrantSource::Direct
    });
    let account_ref = AccountRef {
        id: account.id.clone(),
        login: account.login.clone(),
    };
    let resource_ref = ResourceRef {
        id: resource.id.clone(),
        kind: resource.kind.clone(),
        name: resource.name.clone(),
    };
    let outcome = match (&request.action, held) {
        (Action::Add, true) => (
            None,
            connection,
            vec![format!(
                "{} already holds {} \"{}\": nothing to do",
                account.login, resource.kind, resource.name
            )],
        ),
        (Action::Remove, false) => (
            None,
            connection,
            vec![format!(
                "{} does not hold {} \"{}\" directly: nothing to do",
                account.login, resource.kind, resource.name
            )],
        ),
        (Action::Add, false) => (
            Some(OpKind::AddGrant {
                account: account_ref,
                resource: resource_ref,
                entitlement,
            }),
            connection,
            vec![],
        ),
        (Action::Remove, true) => (
            Some(OpKind::RemoveGrant {
                account: account_ref,
                resource: resource_ref,
                entitlement,
            }),
            connection,
            vec![],
        ),
    };
    Ok(outcome)
}

fn find_resource<'s>(
    snapshot: &'s Snapshot,
    request: &ChangeRequest,
    connection: &ConnectionName,
) -> Result<&'s Resource, RequestError> {
    let kinds: Vec<&str> = match request.target_kind.as_deref() {
        Some(kind) => vec![kind],
        None => vec!["group", "app"],
    };
    let wanted = request.target.to_lowercase();
    for kind in &kinds {
        if let Some(resource) = snapshot
            .resources
            .iter()
            .find(|r| r.kind.as_str() == *kind && r.name.to_lowercase() == wanted)
        {
            return Ok(resource);
        }
    }
    let similar: Vec<String> = snapshot
        .resources
        .iter()
        .filter(|r| kinds.contains(&r.kind.as_str()))
        .filter(|r| {
            let name = r.name.to_lowercase();
            wanted
                .split_whitespace()
                .any(|word| word.len() > 2 && name.contains(word))
        })
        .take(5)
        .map(|r| format!("\"{}\"", r.name))
        .collect();
    Err(RequestError::UnknownResource {
        kind: kinds.join(" or "),
        name: request.target.clone(),
        connection: connection.clone(),
        hint: if similar.is_empty() {
            String::new()
        } else {
            format!("; similar: {}", similar.join(", "))
        },
    })
}
