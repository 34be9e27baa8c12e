//! One change asked for in words (`grantflow do "..."`), turned into the
//! same kind of plan policies produce. The words name people and resources
//! of any connected system as people say them: "add lena to the slack
//! channel platform-oncall", "give sam PowerUserAccess in AWS account
//! prod-payments", "make kim a Developer in gitlab group acme/platform",
//! "remove emma from the github team Platform".

use grantflow_model::{
    Account, AccountRef, ConnectionName, GrantSource, OpKind, Person, Resource, ResourceRef,
    Snapshot,
};
use regex::Regex;
use std::sync::LazyLock;

use crate::{ActualState, correlate};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Add,
    Remove,
}

/// A parsed request: who, what, which way, and (optionally) which
/// entitlement. The target is resolved against the synced systems later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequest {
    pub text: String,
    pub action: Action,
    pub user: String,
    /// The resource as written, possibly naming its system and kind
    /// ("slack channel platform-oncall", "Engineering group").
    pub target: String,
    /// The entitlement as written ("Developer", "PowerUserAccess", "admin").
    pub entitlement: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error(
        "cannot understand the request \"{0}\"; say e.g. \"assign alice@example.com to the Engineering group\", \"add lena to the slack channel platform-oncall\", \"make kim a Developer in gitlab group acme/platform\" or \"remove emma from the github team Platform\""
    )]
    Unparseable(String),
    #[error(
        "no user with login, email or name \"{user}\" in {connection} (as of the last sync){hint}"
    )]
    UnknownUser {
        user: String,
        connection: ConnectionName,
        hint: String,
    },
    #[error("\"{user}\" could be any of: {candidates}; say which (e.g. by email)")]
    AmbiguousUser { user: String, candidates: String },
    #[error("no {kind} named \"{name}\" in {connection} (as of the last sync){hint}")]
    UnknownResource {
        kind: String,
        name: String,
        connection: String,
        hint: String,
    },
    #[error("\"{name}\" could be any of: {candidates}; say which")]
    AmbiguousResource { name: String, candidates: String },
    #[error("the directory connection \"{0}\" has not been synced yet: run `grantflow sync` first")]
    NotSynced(ConnectionName),
    #[error("{0}")]
    Invalid(String),
}

static PATTERNS: LazyLock<Vec<(Regex, Action)>> = LazyLock::new(|| {
    [
        // "assign|add|grant|give|invite USER to|into TARGET [as ENTITLEMENT]"
        (
            r"(?i)\b(?:assign|assigning|add|adding|grant|granting|give|giving|invite|inviting)\s+(?P<user>\S+)\s+(?:to|into)\s+(?P<target>.+?)(?:\s+as\s+(?:an?\s+)?(?P<ent>[^\s].*))?$",
            Action::Add,
        ),
        // "make USER a|an ENTITLEMENT in|on|of TARGET"
        (
            r"(?i)\bmake\s+(?P<user>\S+)\s+(?:an?\s+)?(?P<ent>.+?)\s+(?:in|on|of)\s+(?P<target>.+)$",
            Action::Add,
        ),
        // "give|grant USER ENTITLEMENT in|on|for TARGET"
        (
            r"(?i)\b(?:give|grant)\s+(?P<user>\S+)\s+(?P<ent>.+?)\s+(?:in|on|for)\s+(?P<target>.+)$",
            Action::Add,
        ),
        // "remove|revoke|unassign USER from TARGET [as ENTITLEMENT]"
        (
            r"(?i)\b(?:remove|removing|revoke|revoking|unassign|unassigning)\s+(?P<user>\S+)\s+from\s+(?P<target>.+?)(?:\s+as\s+(?:an?\s+)?(?P<ent>[^\s].*))?$",
            Action::Remove,
        ),
    ]
    .into_iter()
    .filter_map(|(pattern, action)| Regex::new(pattern).ok().map(|r| (r, action)))
    .collect()
});

/// Parses a request; leading words ("map production reachability before
/// assigning …") are allowed.
pub fn parse_request(text: &str) -> Result<ChangeRequest, RequestError> {
    let trimmed = text.trim();
    for (pattern, action) in PATTERNS.iter() {
        let Some(captures) = pattern.captures(trimmed) else {
            continue;
        };
        let part = |name: &str| {
            captures
                .name(name)
                .map(|m| unquote(m.as_str().trim().trim_end_matches(['.', '!'])))
                .filter(|s| !s.is_empty())
        };
        let (Some(user), Some(target)) = (part("user"), part("target")) else {
            continue;
        };
        return Ok(ChangeRequest {
            text: trimmed.to_string(),
            action: action.clone(),
            user,
            target,
            entitlement: part("ent"),
        });
    }
    Err(RequestError::Unparseable(trimmed.to_string()))
}

fn unquote(text: &str) -> String {
    text.trim()
        .trim_matches(|c| c == '"' || c == '\'' || c == '“' || c == '”')
        .to_string()
}

/// Words people use for a resource kind, by the kind connectors name.
const KIND_WORDS: &[(&str, &[&str])] = &[
    (
        "group",
        &["group", "okta group", "google group", "gitlab group"],
    ),
    ("app", &["app", "application", "okta app"]),
    ("channel", &["channel", "slack channel"]),
    ("team", &["team", "github team"]),
    ("repository", &["repository", "repo"]),
    ("project", &["project", "jira project"]),
    ("account", &["account", "aws account"]),
    (
        "permission_set",
        &["permission set", "permission-set", "permissionset"],
    ),
    ("secret_folder", &["secret folder", "folder"]),
    ("security_policy", &["security policy", "policy"]),
];

/// A target as written: which system (when named), which kind (when
/// named) and the name.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    connections: Vec<ConnectionName>,
    kind: Option<&'static str>,
    name: String,
}

/// Splits "the slack channel platform-oncall" or "the Engineering group"
/// into system, kind and name, knowing which connections exist.
fn split_target(text: &str, actual: &ActualState) -> Result<Target, RequestError> {
    let mut rest = text.trim();
    if let Some(stripped) = strip_word(rest, "the") {
        rest = stripped;
    }
    // A leading connection name or system kind.
    let mut connections: Vec<ConnectionName> = vec![];
    let first = rest.split_whitespace().next().unwrap_or_default();
    let by_name: Vec<ConnectionName> = actual
        .snapshots
        .keys()
        .filter(|c| c.as_str().eq_ignore_ascii_case(first))
        .cloned()
        .collect();
    let by_kind: Vec<ConnectionName> = actual
        .snapshots
        .iter()
        .filter(|(_, s)| {
            s.system
                .as_ref()
                .is_some_and(|k| k.as_str().eq_ignore_ascii_case(first))
        })
        .map(|(c, _)| c.clone())
        .collect();
    // "okta group X" names the system; "google group X" is read as one kind word below.
    if !by_name.is_empty() || !by_kind.is_empty() {
        connections = if by_name.is_empty() { by_kind } else { by_name };
        rest = rest[first.len()..].trim_start();
    }
    let (kind, name) = split_kind(rest);
    let name = unquote(name.trim_start_matches('#'));
    if name.is_empty() {
        return Err(RequestError::Invalid(format!(
            "the request names no resource in \"{text}\""
        )));
    }
    Ok(Target {
        connections,
        kind,
        name,
    })
}

fn strip_word<'t>(text: &'t str, word: &str) -> Option<&'t str> {
    let head = text.get(..word.len())?;
    let after = text.get(word.len()..)?;
    (head.eq_ignore_ascii_case(word) && after.starts_with(char::is_whitespace))
        .then(|| after.trim_start())
}

/// A kind word before the name ("channel platform-oncall") or after it
/// ("Engineering group"), longest words first.
fn split_kind(text: &str) -> (Option<&'static str>, &str) {
    let mut words: Vec<(&'static str, &'static str)> = KIND_WORDS
        .iter()
        .flat_map(|(kind, words)| words.iter().map(move |w| (*kind, *w)))
        .collect();
    words.sort_by_key(|(_, w)| std::cmp::Reverse(w.len()));
    for (kind, word) in &words {
        if let Some(rest) = strip_word(text, word) {
            return (Some(kind), rest);
        }
    }
    let lower = text.to_lowercase();
    for (kind, word) in &words {
        if lower.ends_with(&format!(" {word}")) {
            let cut = text.len() - word.len() - 1;
            return (Some(kind), text[..cut].trim_end());
        }
    }
    (None, text)
}

type Resolved = (Option<OpKind>, ConnectionName, Vec<String>);

pub(crate) fn resolve(
    request: &ChangeRequest,
    actual: &ActualState,
) -> Result<Resolved, RequestError> {
    resolve_as(request, actual, false)
}

/// The grant `request` asks to add, whether or not it is held already (an
/// extension of time-bound access asks for what is held); `None` for a removal.
pub fn requested_grant(
    request: &ChangeRequest,
    actual: &ActualState,
) -> Result<Option<(OpKind, ConnectionName)>, RequestError> {
    if request.action != Action::Add {
        return Ok(None);
    }
    let (kind, connection, _) = resolve_as(request, actual, true)?;
    Ok(kind.map(|kind| (kind, connection)))
}

fn resolve_as(
    request: &ChangeRequest,
    actual: &ActualState,
    even_if_held: bool,
) -> Result<Resolved, RequestError> {
    let directory = actual
        .snapshots
        .get(&actual.directory)
        .ok_or_else(|| RequestError::NotSynced(actual.directory.clone()))?;
    let target = split_target(&request.target, actual)?;
    let (connection, resource) = find_resource(&target, actual)?;
    let snapshot = actual
        .snapshots
        .get(&connection)
        .ok_or_else(|| RequestError::NotSynced(connection.clone()))?;
    if !resource.writable {
        return Err(RequestError::Invalid(format!(
            "{} \"{}\" is managed by {connection} itself (it cannot be granted through its API)",
            resource.kind, resource.name
        )));
    }
    let account = find_account(request, &connection, snapshot, directory, actual)?;
    let held: Vec<&str> = snapshot
        .grants
        .iter()
        .filter(|g| {
            g.account_id == account.id
                && g.resource_id == resource.id
                && g.source == GrantSource::Direct
        })
        .map(|g| g.entitlement.as_str())
        .collect();
    let entitlement = match &request.entitlement {
        Some(wanted) => entitlement_named(resource, wanted)?,
        // Taking away without naming the entitlement: the one held.
        None if request.action == Action::Remove && held.len() == 1 => held[0].to_string(),
        None => resource.entitlements.first().cloned().ok_or_else(|| {
            RequestError::Invalid(format!(
                "{} \"{}\" in {connection} offers no entitlement to grant",
                resource.kind, resource.name
            ))
        })?,
    };
    let holds = held.contains(&entitlement.as_str()) && !even_if_held;
    let resource_ref = ResourceRef {
        id: resource.id.clone(),
        kind: resource.kind.clone(),
        name: resource.name.clone(),
    };
    let what = format!(
        "{} \"{}\" ({entitlement}) in {connection}",
        resource.kind, resource.name
    );
    Ok(match (&request.action, holds) {
        (Action::Add, true) => (
            None,
            connection,
            vec![format!(
                "{} already holds {what}: nothing to do",
                account.login
            )],
        ),
        (Action::Remove, false) => (
            None,
            connection,
            vec![format!(
                "{} does not hold {what} directly: nothing to do",
                account.login
            )],
        ),
        (Action::Add, false) => (
            Some(OpKind::AddGrant {
                account,
                resource: resource_ref,
                entitlement,
            }),
            connection,
            vec![],
        ),
        (Action::Remove, true) => (
            Some(OpKind::RemoveGrant {
                account,
                resource: resource_ref,
                entitlement,
            }),
            connection,
            vec![],
        ),
    })
}

/// What giving `user` one declared grant (of a bundle) takes: resolved like
/// a request, against the same snapshots, by the policy's resource words.
pub(crate) fn resolve_grant(
    user: &str,
    grant: &grantflow_policy::GrantSpec,
    actual: &ActualState,
    even_if_held: bool,
) -> Result<Resolved, RequestError> {
    let directory = actual
        .snapshots
        .get(&actual.directory)
        .ok_or_else(|| RequestError::NotSynced(actual.directory.clone()))?;
    let (resource, entitlement) =
        grantflow_policy::resolve(grant, &actual.snapshots).map_err(RequestError::Invalid)?;
    let connection = grant.connection.clone();
    let snapshot = actual
        .snapshots
        .get(&connection)
        .ok_or_else(|| RequestError::NotSynced(connection.clone()))?;
    let request = ChangeRequest {
        text: format!("add {user} to {} {}", resource.kind, resource.name),
        action: Action::Add,
        user: user.to_string(),
        target: resource.name.clone(),
        entitlement: Some(entitlement.clone()),
    };
    let account = find_account(&request, &connection, snapshot, directory, actual)?;
    let holds = snapshot.grants.iter().any(|g| {
        g.account_id == account.id
            && g.resource_id == resource.id
            && g.entitlement == entitlement
            && g.source == GrantSource::Direct
    });
    if holds && !even_if_held {
        return Ok((
            None,
            connection.clone(),
            vec![format!(
                "{} already holds {} \"{}\" ({entitlement}) in {connection}: nothing to do",
                account.login, resource.kind, resource.name
            )],
        ));
    }
    Ok((
        Some(OpKind::AddGrant {
            account,
            resource: ResourceRef {
                id: resource.id.clone(),
                kind: resource.kind.clone(),
                name: resource.name.clone(),
            },
            entitlement,
        }),
        connection,
        vec![],
    ))
}

/// The resource the target names: in the named system, or in the directory,
/// or in whichever single system has it.
fn find_resource<'s>(
    target: &Target,
    actual: &'s ActualState,
) -> Result<(ConnectionName, &'s Resource), RequestError> {
    let searched: Vec<&ConnectionName> = if target.connections.is_empty() {
        // The directory first, as people mostly mean it, then everything else.
        std::iter::once(&actual.directory)
            .chain(actual.snapshots.keys().filter(|c| **c != actual.directory))
            .collect()
    } else {
        target.connections.iter().collect()
    };
    let wanted = target.name.to_lowercase();
    let fits_kind = |r: &Resource| target.kind.is_none_or(|k| r.kind.as_str() == k);
    let mut found: Vec<(ConnectionName, &'s Resource)> = vec![];
    for connection in &searched {
        let Some(snapshot) = actual.snapshots.get(*connection) else {
            continue;
        };
        found.extend(
            snapshot
                .resources
                .iter()
                .filter(|r| fits_kind(r) && r.name.trim_start_matches('#').to_lowercase() == wanted)
                .map(|r| ((*connection).clone(), r)),
        );
        if found.is_empty() {
            // Known by its vendor id (an AWS account's 12 digits) when nothing has that name.
            found.extend(
                snapshot
                    .resources
                    .iter()
                    .filter(|r| fits_kind(r) && r.id.to_lowercase() == wanted)
                    .map(|r| ((*connection).clone(), r)),
            );
        }
        // The directory's own resource wins when the system was not named.
        if target.connections.is_empty() && **connection == actual.directory && !found.is_empty() {
            break;
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => {
            let candidates: Vec<(ConnectionName, &Resource)> = searched
                .iter()
                .filter_map(|c| actual.snapshots.get(*c).map(|s| (*c, s)))
                .flat_map(|(c, s)| {
                    s.resources
                        .iter()
                        .filter(|r| fits_kind(r))
                        .map(move |r| (c.clone(), r))
                })
                .collect();
            let names: Vec<String> = candidates
                .iter()
                .map(|(c, r)| format!("{c} {} \"{}\"", r.kind, r.name))
                .collect();
            let close = close_matches(
                &target.name,
                candidates.iter().map(|(_, r)| r.name.as_str()),
                &names,
            );
            Err(RequestError::UnknownResource {
                kind: target.kind.unwrap_or("resource").replace('_', " "),
                name: target.name.clone(),
                connection: if target.connections.is_empty() {
                    "any connected system".to_string()
                } else {
                    target
                        .connections
                        .iter()
                        .map(ConnectionName::as_str)
                        .collect::<Vec<_>>()
                        .join(" or ")
                },
                hint: hint(&close),
            })
        }
        _ => Err(RequestError::AmbiguousResource {
            name: target.name.clone(),
            candidates: found
                .iter()
                .map(|(c, r)| format!("{c} {} \"{}\"", r.kind, r.name))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The entitlement as the resource names it, by its own name, an alias of
/// the common vocabulary or a role name (`Developers` for `role:Developers`),
/// case-insensitively.
fn entitlement_named(resource: &Resource, wanted: &str) -> Result<String, RequestError> {
    let lower = wanted.to_lowercase();
    let bare = |e: &str| {
        e.rsplit_once(':')
            .map_or(e, |(_, name)| name)
            .to_lowercase()
    };
    if let Some(own) = resource
        .entitlements
        .iter()
        .find(|e| e.to_lowercase() == lower || bare(e) == lower || bare(e) == format!("{lower}s"))
    {
        return Ok(own.clone());
    }
    if let Some((_, native)) = resource
        .entitlement_aliases
        .iter()
        .find(|(alias, _)| alias.to_lowercase() == lower)
    {
        return Ok(native.clone());
    }
    let mut offered: Vec<String> = resource.entitlements.clone();
    offered.extend(resource.entitlement_aliases.keys().cloned());
    Err(RequestError::Invalid(format!(
        "{} \"{}\" has no entitlement \"{wanted}\" (it has: {})",
        resource.kind,
        resource.name,
        offered.join(", ")
    )))
}

/// The account the request's user holds in `connection`: named directly by
/// its login or email there, or through the person it belongs to (an email,
/// a login, or a first name that fits one person only).
fn find_account(
    request: &ChangeRequest,
    connection: &ConnectionName,
    snapshot: &Snapshot,
    directory: &Snapshot,
    actual: &ActualState,
) -> Result<AccountRef, RequestError> {
    let as_ref = |a: &Account| AccountRef {
        id: a.id.clone(),
        login: a.login.clone(),
    };
    if let Some(account) = snapshot.account_by_login_or_email(&request.user) {
        return Ok(as_ref(account));
    }
    let people = directory.people();
    let person = find_person(&request.user, &people, &actual.directory)?;
    let matches = correlate(snapshot, &people, &actual.correlation);
    if let Some(account) = matches.account_for(&person.email) {
        return Ok(as_ref(account));
    }
    if snapshot.accounts_created_on_first_login && request.action == Action::Add {
        return Ok(AccountRef::pending(&person.email));
    }
    Err(RequestError::UnknownUser {
        user: request.user.clone(),
        connection: connection.clone(),
        hint: format!(
            "; {} has no account there{}",
            person.email,
            if matches.is_ambiguous(&person.email) {
                " that matches them alone"
            } else {
                ""
            }
        ),
    })
}

fn find_person<'p>(
    who: &str,
    people: &'p [Person],
    directory: &ConnectionName,
) -> Result<&'p Person, RequestError> {
    let lower = who.to_lowercase();
    let exact: Vec<&Person> = people
        .iter()
        .filter(|p| p.email.to_lowercase() == lower || p.login.to_lowercase() == lower)
        .collect();
    if let [one] = exact.as_slice() {
        return Ok(one);
    }
    // "lena", "lena.fischer": the email's local part, or the first name.
    let loose: Vec<&Person> = people
        .iter()
        .filter(|p| {
            let local = p.email.split('@').next().unwrap_or_default().to_lowercase();
            let first = p
                .display_name
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_lowercase();
            local == lower
                || local.split(['.', '_', '-']).next() == Some(lower.as_str())
                || first == lower
        })
        .collect();
    match loose.as_slice() {
        [one] => Ok(one),
        [] => {
            let names: Vec<String> = people.iter().map(|p| p.email.clone()).collect();
            let close = close_matches(who, people.iter().map(|p| p.email.as_str()), &names);
            Err(RequestError::UnknownUser {
                user: who.to_string(),
                connection: directory.clone(),
                hint: hint(&close),
            })
        }
        many => Err(RequestError::AmbiguousUser {
            user: who.to_string(),
            candidates: many
                .iter()
                .map(|p| format!("{} ({})", p.email, p.display_name))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Up to five of `labels` whose `names` are closest to `wanted`.
fn close_matches<'a>(
    wanted: &str,
    names: impl Iterator<Item = &'a str>,
    labels: &[String],
) -> Vec<String> {
    let wanted = wanted.to_lowercase();
    let mut scored: Vec<(f64, &String)> = names
        .zip(labels)
        .map(|(name, label)| {
            let name = name.to_lowercase();
            let contains = name.contains(&wanted) || wanted.contains(&name);
            let score = strsim::jaro_winkler(&wanted, &name) + if contains { 0.5 } else { 0.0 };
            (score, label)
        })
        .filter(|(score, _)| *score > 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(5).map(|(_, l)| l.clone()).collect()
}

fn hint(close: &[String]) -> String {
    if close.is_empty() {
        String::new()
    } else {
        format!("; did you mean: {}?", close.join(", "))
    }
}
