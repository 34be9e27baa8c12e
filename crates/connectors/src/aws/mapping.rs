//! Identity Center objects to the common model: identity store users as accounts, groups as resources with the
//! one entitlement `member`, AWS accounts as resources whose entitlements are permission set names.

use aws_sdk_identitystore::types::{Group, User};
use grantflow_model::{Account, LifecycleState, Resource, ResourceKind};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const GROUP: &str = "group";
pub const ACCOUNT: &str = "account";
pub const MEMBER: &str = "member";

/// The primary email, else the first work email, else any.
fn email_of(user: &User) -> Option<String> {
    let emails = user.emails();
    emails
        .iter()
        .find(|e| e.primary())
        .or_else(|| emails.iter().find(|e| e.r#type() == Some("work")))
        .or_else(|| emails.first())
        .and_then(|e| e.value())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// A user as an account; `UserName` is the login and the primary email correlates it with the person.
pub fn account(user: &User) -> Account {
    let id = user.user_id().to_string();
    let login = user
        .user_name()
        .filter(|n| !n.is_empty())
        .map_or_else(|| id.clone(), str::to_string);
    let mut attributes = Map::new();
    if let Some(status) = user.user_status() {
        attributes.insert("user_status".into(), Value::String(status.as_str().into()));
    }
    let external: Vec<Value> = user
        .external_ids()
        .iter()
        .map(|x| Value::String(format!("{}:{}", x.issuer(), x.id())))
        .collect();
    if !external.is_empty() {
        attributes.insert("external_ids".into(), Value::Array(external));
    }
    let disabled = user
        .user_status()
        .is_some_and(|s| s.as_str().eq_ignore_ascii_case("DISABLED"));
    Account {
        display_name: user
            .display_name()
            .filter(|n| !n.is_empty())
            .map_or_else(|| login.clone(), str::to_string),
        email: email_of(user),
        id,
        login,
        // Identity Center says ENABLED; ACTIVE is the word the other systems use for a usable account.
        status: if disabled { "DISABLED" } else { "ACTIVE" }.into(),
        state: LifecycleState::from_active_flag(!disabled),
        attributes,
    }
}

/// A group; `external_ids` says an IdP (SCIM) provisions it.
pub fn group(group: &Group) -> Option<Resource> {
    let name = group.display_name().filter(|n| !n.is_empty())?;
    let mut attributes = Map::new();
    if let Some(d) = group.description().filter(|d| !d.is_empty()) {
        attributes.insert("description".into(), Value::String(d.into()));
    }
    let external: Vec<Value> = group
        .external_ids()
        .iter()
        .map(|x| Value::String(format!("{}:{}", x.issuer(), x.id())))
        .collect();
    if !external.is_empty() {
        attributes.insert("external_ids".into(), Value::Array(external));
    }
    Some(Resource {
        id: group.group_id().to_string(),
        kind: ResourceKind::new(GROUP),
        name: name.to_string(),
        entitlements: vec![MEMBER.to_string()],
        entitlement_aliases: [(MEMBER.to_string(), MEMBER.to_string())].into(),
        writable: true,
        attributes,
    })
}

/// An AWS account; its entitlements are the names of the permission sets that can be assigned in it.
/// Its `tags` (from Organizations) classify it for production reach; `tags_unavailable` says why there are none.
pub fn aws_account(
    id: &str,
    name: Option<&str>,
    permission_sets: &[String],
    tags: Result<&BTreeMap<String, String>, &str>,
) -> Resource {
    let mut attributes = Map::new();
    attributes.insert("account_id".into(), Value::String(id.into()));
    match tags {
        Ok(tags) => {
            let tags: Map<String, Value> = tags
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            attributes.insert("tags".into(), Value::Object(tags));
        }
        Err(reason) => {
            attributes.insert("tags_unavailable".into(), Value::String(reason.into()));
        }
    }
    Resource {
        id: id.to_string(),
        kind: ResourceKind::new(ACCOUNT),
        name: name.unwrap_or(id).to_string(),
        entitlements: permission_sets.to_vec(),
        entitlement_aliases: Default::default(),
        writable: true,
        attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_identitystore::types::Email;

    #[test]
    fn a_user_correlates_by_its_primary_email_and_logs_in_by_user_name() {
        let user = User::builder()
            .identity_store_id("d-1")
            .user_id("u-1")
            .user_name("lena")
            .emails(Email::builder().value("other@example.com").build())
            .emails(
                Email::builder()
                    .value("lena.fischer@example.com")
                    .primary(true)
                    .build(),
            )
            .build()
            .expect("user");
        let a = account(&user);
        assert_eq!(a.email.as_deref(), Some("lena.fischer@example.com"));
        assert_eq!(a.login, "lena");
        assert_eq!(a.display_name, "lena");
        assert_eq!(a.status, "ACTIVE");
    }

    #[test]
    fn a_disabled_user_is_an_inactive_account() {
        let user = User::builder()
            .identity_store_id("d-1")
            .user_id("u-1")
            .user_status(aws_sdk_identitystore::types::UserStatus::Disabled)
            .build()
            .expect("user");
        let a = account(&user);
        assert_eq!(a.status, "DISABLED");
        assert_eq!(a.attributes["user_status"], "DISABLED");
    }

    #[test]
    fn an_account_is_named_by_its_alias_or_id_and_offers_permission_sets() {
        let sets = vec!["PowerUserAccess".to_string()];
        let r = aws_account(
            "111122223333",
            Some("prod-payments"),
            &sets,
            Ok(&[("environment".to_string(), "production".to_string())].into()),
        );
        assert_eq!(
            (r.kind.as_str(), r.name.as_str()),
            ("account", "prod-payments")
        );
        assert_eq!(r.entitlements, ["PowerUserAccess"]);
        assert_eq!(r.attributes["tags"]["environment"], "production");
        let untagged = aws_account("111122223333", None, &sets, Err("AccessDeniedException"));
        assert_eq!(untagged.name, "111122223333");
        assert_eq!(
            untagged.attributes["tags_unavailable"],
            "AccessDeniedException"
        );
        assert_eq!(
            aws_account("111122223333", None, &sets, Err("off")).name,
            "111122223333"
        );
    }
}
