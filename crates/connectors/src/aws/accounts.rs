//! IAM Identity Center users as accounts (Identity Store): `CreateUser` unless `GetUserId` finds the login as
//! `userName` (or the person's email as `emails.value`), so a retried creation that took effect is never a
//! second user; `DeleteUser` to retire (the Identity Store API has no call that disables a user, so suspend and
//! deactivate are refused before a plan is stored); `UpdateUser` operations (`AttributePath`, `AttributeValue`)
//! for a profile update.
//!
//! Attributes are named by the Identity Store's attribute paths, as `UpdateUser` and `GetUserId` take them:
//! `userName`, `displayName`, `name.givenName`, `name.familyName`, `name.formatted`, `nickName`, `title`,
//! `userType`, `preferredLanguage`, `locale`, `timezone`, `profileUrl`. A creation needs `name.givenName` and
//! `name.familyName` (IAM Identity Center requires `Name` and `DisplayName`); the connector fills `userName`
//! (the login), `displayName` (given and family name) and the primary work email (the person's email).

use aws_sdk_identitystore::operation::describe_user::DescribeUserOutput;
use aws_sdk_identitystore::types::{
    AlternateIdentifier, AttributeOperation, Email, Name, UniqueAttribute,
};
use aws_smithy_types::Document;
use grantflow_model::{AccountRef, RetireMode};
use serde_json::{Map, Value};

use super::client::{Api, AwsClient, unless_code};
use crate::{Applied, Failure};

/// The attribute paths a policy may set, as the Identity Store names them.
pub const ATTRIBUTES: &[&str] = &[
    "userName",
    "displayName",
    "name.givenName",
    "name.familyName",
    "name.formatted",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "profileUrl",
];

/// Why a creation's attributes cannot be sent, naming the system and the account.
pub fn check_creation(
    connection: &str,
    account: &AccountRef,
    attributes: &Map<String, Value>,
) -> Result<(), Failure> {
    check_attributes(connection, account, attributes)?;
    for required in ["name.givenName", "name.familyName"] {
        if text(attributes, required).is_none() {
            return Err(Failure::permanent(
                "ValidationException",
                format!(
                    "{connection}: aws cannot create account {}: IAM Identity Center requires `{required}` \
                     (a user's Name and DisplayName)",
                    account.login
                ),
                None,
            ));
        }
    }
    Ok(())
}

/// Refuses attributes the Identity Store does not have and values that are not text.
pub fn check_attributes(
    connection: &str,
    account: &AccountRef,
    attributes: &Map<String, Value>,
) -> Result<(), Failure> {
    for (path, value) in attributes {
        if !ATTRIBUTES.contains(&path.as_str()) {
            return Err(Failure::permanent(
                "ValidationException",
                format!(
                    "{connection}: aws has no user attribute `{path}` for account {} (known: {})",
                    account.login,
                    ATTRIBUTES.join(", ")
                ),
                None,
            ));
        }
        if !value.is_string() {
            return Err(Failure::permanent(
                "ValidationException",
                format!(
                    "{connection}: aws attribute `{path}` of account {} must be text, not {value}",
                    account.login
                ),
                None,
            ));
        }
    }
    Ok(())
}

/// Identity Store users cannot be disabled through its API: only a deletion retires one.
pub fn check_retirement(
    connection: &str,
    account: &AccountRef,
    mode: RetireMode,
) -> Result<(), Failure> {
    if mode == RetireMode::Delete {
        return Ok(());
    }
    Err(Failure::unsupported(format!(
        "{connection}: aws cannot {mode} account {}: the IAM Identity Center identity store has no call that \
         disables a user; retire it with delete",
        account.login
    )))
}

fn text<'a>(attributes: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    attributes
        .get(path)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// An attribute of a described user, by path (`None`: not set).
fn attribute(user: &DescribeUserOutput, path: &str) -> Option<String> {
    let name = user.name();
    let value = match path {
        "userName" => user.user_name(),
        "displayName" => user.display_name(),
        "name.givenName" => name.and_then(Name::given_name),
        "name.familyName" => name.and_then(Name::family_name),
        "name.formatted" => name.and_then(Name::formatted),
        "nickName" => user.nick_name(),
        "title" => user.title(),
        "userType" => user.user_type(),
        "preferredLanguage" => user.preferred_language(),
        "locale" => user.locale(),
        "timezone" => user.timezone(),
        "profileUrl" => user.profile_url(),
        _ => None,
    };
    value.map(str::to_string)
}

/// The declared attributes whose values differ from the user's.
fn differing<'a>(
    user: &DescribeUserOutput,
    after: &'a Map<String, Value>,
) -> Vec<(&'a str, &'a Value)> {
    after
        .iter()
        .filter(|(path, wanted)| {
            let held = attribute(user, path);
            match wanted.as_str() {
                Some(wanted) => held.as_deref() != Some(wanted),
                None => held.is_some(),
            }
        })
        .map(|(path, value)| (path.as_str(), value))
        .collect()
}

fn build_failure(what: &str, error: impl std::fmt::Display) -> Failure {
    Failure::permanent("ValidationException", format!("{what}: {error}"), None)
}

impl AwsClient {
    /// The user whose unique attribute `path` (`userName` or `emails.value`) is `value`.
    async fn user_id_by(&self, path: &str, value: &str) -> Result<Option<String>, Failure> {
        let store = self.store_id().await?;
        let what = format!("GetUserId by {path} {value}");
        let unique = UniqueAttribute::builder()
            .attribute_path(path)
            .attribute_value(Document::String(value.to_string()))
            .build()
            .map_err(|e| build_failure(&what, e))?;
        let read = self
            .store()
            .get_user_id()
            .identity_store_id(&store)
            .alternate_identifier(AlternateIdentifier::UniqueAttribute(unique))
            .send()
            .await
            .map(|out| Some(out.user_id().to_string()))
            .map_err(|e| self.fail(Api::IdentityStore, &what, e));
        unless_code(read, "ResourceNotFoundException", None)
    }

    /// The user an account names: its id when the plan knows it, else the one whose `userName` is the login
    /// or whose email is the person's.
    pub async fn account_user(&self, account: &AccountRef) -> Result<Option<String>, Failure> {
        if account.pending_email().is_none() {
            return Ok(self
                .describe_user(&account.id)
                .await?
                .map(|_| account.id.clone()));
        }
        if let Some(id) = self.user_id_by("userName", &account.login).await? {
            return Ok(Some(id));
        }
        match crate::pending_email(account) {
            Some(email) => self.user_id_by("emails.value", email).await,
            None => Ok(None),
        }
    }

    pub async fn describe_user(&self, user: &str) -> Result<Option<DescribeUserOutput>, Failure> {
        let store = self.store_id().await?;
        let read = self
            .store()
            .describe_user()
            .identity_store_id(&store)
            .user_id(user)
            .send()
            .await
            .map(Some)
            .map_err(|e| self.fail(Api::IdentityStore, &format!("DescribeUser {user}"), e));
        unless_code(read, "ResourceNotFoundException", None)
    }

    /// Creates the user unless it exists; a `ConflictException` (made meanwhile) is the creation having taken
    /// effect when the user is then found.
    pub async fn create_user(
        &self,
        account: &AccountRef,
        attributes: &Map<String, Value>,
    ) -> Result<Applied, Failure> {
        if self.account_user(account).await?.is_some() {
            return Ok(Applied::AlreadyPresent);
        }
        let store = self.store_id().await?;
        let given = text(attributes, "name.givenName").unwrap_or_default();
        let family = text(attributes, "name.familyName").unwrap_or_default();
        let formatted = format!("{given} {family}");
        let mut name = Name::builder().given_name(given).family_name(family);
        name = name.formatted(text(attributes, "name.formatted").unwrap_or(&formatted));
        let mut call = self
            .store()
            .create_user()
            .identity_store_id(&store)
            .user_name(text(attributes, "userName").unwrap_or(&account.login))
            .display_name(text(attributes, "displayName").unwrap_or(&formatted))
            .name(name.build());
        let email = crate::pending_email(account)
            .map(str::to_string)
            .or_else(|| account.login.contains('@').then(|| account.login.clone()));
        if let Some(email) = email {
            call = call.emails(
                Email::builder()
                    .value(email)
                    .r#type("work")
                    .primary(true)
                    .build(),
            );
        }
        let optional = |path| text(attributes, path).map(str::to_string);
        call = call
            .set_nick_name(optional("nickName"))
            .set_title(optional("title"))
            .set_user_type(optional("userType"))
            .set_preferred_language(optional("preferredLanguage"))
            .set_locale(optional("locale"))
            .set_timezone(optional("timezone"))
            .set_profile_url(optional("profileUrl"));
        let what = format!("CreateUser {}", account.login);
        match call.send().await {
            Ok(_) => Ok(Applied::Changed),
            Err(e) => {
                let failure = self.fail(Api::IdentityStore, &what, e);
                if failure.is_vendor_code("ConflictException")
                    && self.account_user(account).await?.is_some()
                {
                    return Ok(Applied::AlreadyPresent);
                }
                Err(failure)
            }
        }
    }

    /// Deletes the user; one already gone is retired.
    pub async fn delete_user(&self, account: &AccountRef) -> Result<Applied, Failure> {
        let Some(user) = self.account_user(account).await? else {
            return Ok(Applied::AlreadyPresent);
        };
        let store = self.store_id().await?;
        let sent = self
            .store()
            .delete_user()
            .identity_store_id(&store)
            .user_id(&user)
            .send()
            .await
            .map(|_| Applied::Changed)
            .map_err(|e| {
                let what = format!("DeleteUser {user} ({})", account.login);
                self.fail(Api::IdentityStore, &what, e)
            });
        unless_code(sent, "ResourceNotFoundException", Applied::AlreadyPresent)
    }

    /// Whether the user holds every declared attribute (`None`: there is no such user).
    pub async fn profile_holds(
        &self,
        account: &AccountRef,
        after: &Map<String, Value>,
    ) -> Result<Option<bool>, Failure> {
        let Some(user) = self.account_user(account).await? else {
            return Ok(None);
        };
        Ok(self
            .describe_user(&user)
            .await?
            .map(|described| differing(&described, after).is_empty()))
    }

    /// `UpdateUser` with one operation per declared attribute that differs (a null value removes it).
    pub async fn update_user(
        &self,
        account: &AccountRef,
        after: &Map<String, Value>,
    ) -> Result<Option<Applied>, Failure> {
        let Some(user) = self.account_user(account).await? else {
            return Ok(None);
        };
        let Some(described) = self.describe_user(&user).await? else {
            return Ok(None);
        };
        let changes = differing(&described, after);
        if changes.is_empty() {
            return Ok(Some(Applied::AlreadyPresent));
        }
        let what = format!("UpdateUser {user} ({})", account.login);
        let mut operations = Vec::new();
        for (path, value) in changes {
            let mut operation = AttributeOperation::builder().attribute_path(path);
            if let Some(value) = value.as_str() {
                operation = operation.attribute_value(Document::String(value.to_string()));
            }
            operations.push(operation.build().map_err(|e| build_failure(&what, e))?);
        }
        let store = self.store_id().await?;
        self.store()
            .update_user()
            .identity_store_id(&store)
            .user_id(&user)
            .set_operations(Some(operations))
            .send()
            .await
            .map_err(|e| self.fail(Api::IdentityStore, &what, e))?;
        Ok(Some(Applied::Changed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attributes(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_creation_needs_a_name_and_known_text_attributes_and_only_deletion_retires() {
        let ann = AccountRef::pending("ann@example.com");
        let ok =
            attributes(json!({"name.givenName": "Ann", "name.familyName": "Lee", "title": "SE"}));
        check_creation("aws", &ann, &ok).expect("complete");
        let nameless = attributes(json!({"title": "SE"}));
        let refused = check_creation("aws", &ann, &nameless).expect_err("no name");
        assert!(
            refused.message().contains("name.givenName"),
            "{}",
            refused.message()
        );
        assert!(refused.message().contains("ann@example.com"));
        let unknown =
            attributes(json!({"name.givenName": "A", "name.familyName": "L", "shoeSize": "9"}));
        assert!(check_creation("aws", &ann, &unknown).is_err());
        check_retirement("aws", &ann, RetireMode::Delete).expect("delete");
        for mode in [RetireMode::Suspend, RetireMode::Deactivate] {
            let refused = check_retirement("aws", &ann, mode).expect_err("no disable");
            assert!(refused.message().contains("retire it with delete"));
        }
    }
}
