//! `POST /__sandbox/hand-change`: a change an administrator makes directly in the vendor's console, the same
//! body for every emulator so drift tests can change any system the same way. The shared admin route
//! (`crate::emulator`) parses it here and hands it to `Emulator::hand_change`, which applies the three
//! operations to the emulator's own state; none counts as an API write.
//!
//! ```text
//! {"op": "add",     "user": "<login or email>", "resource": "<kind>/<name>", "entitlement": "<optional>"}
//! {"op": "remove",  "user": "<login or email>", "resource": "<kind>/<name>"}
//! {"op": "suspend", "user": "<login or email>"}
//! ```
//!
//! `<kind>/<name>` is how the system's connector names the resource in a sync; the name may itself contain `/`
//! (GitLab full paths), so only the first `/` separates.

use axum::body::Bytes;
use serde::Deserialize;

/// One resource named as the connector names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    pub kind: String,
    pub name: String,
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandChange {
    /// Grants `entitlement` (the resource's default when `None`); replaces a different one already held.
    Add {
        user: String,
        resource: ResourceRef,
        entitlement: Option<String>,
    },
    Remove {
        user: String,
        resource: ResourceRef,
    },
    /// Makes the account unusable the way the vendor does.
    Suspend {
        user: String,
    },
}

impl HandChange {
    pub fn user(&self) -> &str {
        match self {
            Self::Add { user, .. } | Self::Remove { user, .. } | Self::Suspend { user } => user,
        }
    }

    /// The resource an add or remove is about, with the entitlement an add asks for (`default` when it names
    /// none) and `None` for a remove; `None` altogether for a suspension.
    pub fn target<'a>(&'a self, default: &'a str) -> Option<(&'a ResourceRef, Option<&'a str>)> {
        match self {
            Self::Add {
                resource,
                entitlement,
                ..
            } => Some((resource, Some(entitlement.as_deref().unwrap_or(default)))),
            Self::Remove { resource, .. } => Some((resource, None)),
            Self::Suspend { .. } => None,
        }
    }
}

#[derive(Deserialize)]
struct Op {
    op: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    op: String,
    user: String,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    entitlement: Option<String>,
}

fn resource_ref(text: Option<String>, op: &str) -> Result<ResourceRef, String> {
    let text = text.ok_or_else(|| format!("{op} needs a resource (\"<kind>/<name>\")"))?;
    match text.split_once('/') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() => Ok(ResourceRef {
            kind: kind.to_owned(),
            name: name.to_owned(),
        }),
        _ => Err(format!(
            "resource {text:?} is not \"<kind>/<name>\" (for example group/Engineering)"
        )),
    }
}

/// The change in `body`; `Ok(None)` when its `op` is one of `legacy` (an emulator's older ops, which it parses
/// itself). Any other op is an error.
pub fn parse(body: &Bytes, legacy: &[&str]) -> Result<Option<HandChange>, String> {
    let op: Op = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if legacy.contains(&op.op.as_str()) {
        return Ok(None);
    }
    if !["add", "remove", "suspend"].contains(&op.op.as_str()) {
        return Err(format!(
            "unknown op {:?}: expected add, remove or suspend",
            op.op
        ));
    }
    let b: Body = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if b.user.trim().is_empty() {
        return Err("user must not be empty".into());
    }
    Ok(Some(match b.op.as_str() {
        "add" => HandChange::Add {
            resource: resource_ref(b.resource, "add")?,
            user: b.user,
            entitlement: b.entitlement.filter(|e| !e.is_empty()),
        },
        "remove" => {
            if b.entitlement.is_some() {
                return Err(
                    "remove takes no entitlement: it removes whatever the user holds".into(),
                );
            }
            HandChange::Remove {
                resource: resource_ref(b.resource, "remove")?,
                user: b.user,
            }
        }
        _ => {
            if b.resource.is_some() || b.entitlement.is_some() {
                return Err("suspend takes only a user".into());
            }
            HandChange::Suspend { user: b.user }
        }
    }))
}

/// The error for a resource kind the system does not have (or cannot grant to a user by hand).
pub fn unknown_kind(resource: &ResourceRef, kinds: &[&str]) -> String {
    format!(
        "unknown resource kind {:?} in {resource}: expected {}",
        resource.kind,
        kinds
            .iter()
            .map(|k| format!("{k}/<name>"))
            .collect::<Vec<_>>()
            .join(" or ")
    )
}

/// The error for an entitlement a resource does not offer.
pub fn unknown_entitlement(entitlement: &str, resource: &ResourceRef, known: &[&str]) -> String {
    format!(
        "unknown entitlement {entitlement:?} for {resource}: expected one of {}",
        known.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(body: &str) -> Result<Option<HandChange>, String> {
        parse(&Bytes::from(body.to_owned()), &["add_member"])
    }

    #[test]
    fn the_kind_ends_at_the_first_slash_so_full_paths_survive() {
        assert_eq!(
            p(
                r#"{"op": "add", "user": "a@x.com", "resource": "group/acme/platform", "entitlement": "access_level:30"}"#
            ),
            Ok(Some(HandChange::Add {
                user: "a@x.com".into(),
                resource: ResourceRef {
                    kind: "group".into(),
                    name: "acme/platform".into()
                },
                entitlement: Some("access_level:30".into()),
            }))
        );
    }

    #[test]
    fn bad_bodies_say_what_is_wrong_and_legacy_ops_are_left_to_the_emulator() {
        assert_eq!(p(r#"{"op": "add_member", "group": "g"}"#), Ok(None));
        let err = |b: &str| p(b).expect_err("rejected");
        assert!(err(r#"{"op": "grant", "user": "a"}"#).contains("unknown op \"grant\""));
        assert!(
            err(r#"{"op": "add", "user": "a", "resource": "group"}"#).contains("<kind>/<name>")
        );
        assert!(err(r#"{"op": "add", "user": "a"}"#).contains("needs a resource"));
        assert!(
            err(r#"{"op": "suspend", "user": "a", "resource": "group/x"}"#).contains("only a user")
        );
        assert!(
            err(r#"{"op": "add", "user": "a", "resource": "g/x", "role": "x"}"#).contains("role")
        );
    }
}
