//! Accounts as code in Salesforce: a User created with `POST sobjects/User/` (its profile named by name and
//! resolved to a `ProfileId` with SOQL), found by its `Username` so a retried creation that took effect is a
//! no-op; retired by deactivation (`PATCH sobjects/User/{id}` `{"IsActive": false}`) or by freezing (`PATCH
//! sobjects/UserLogin/{id}` `{"IsFrozen": true}`: the user cannot sign in but stays active). Salesforce has no
//! delete for users, so `retire: delete` is refused before planning. A profile update is a PATCH of the User's
//! fields (`profile` by name, as at creation).

use grantflow_model::{AccountOptions, AccountRef, RetireMode};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::{SalesforceClient, quote};
use crate::{Applied, Failure, Observed};

/// The attribute naming the profile by its name (`Sales Engineer`); the connector looks up its `ProfileId`.
pub const PROFILE: &str = "profile";

/// Fields Salesforce requires at creation and the connector fills when the policy leaves them out: the
/// documented defaults (`docs/lifecycle.md`). `Username`, `Email` and `Alias` come from the login.
const DEFAULTS: &[(&str, &str)] = &[
    ("TimeZoneSidKey", "GMT"),
    ("LocaleSidKey", "en_US"),
    ("LanguageLocaleKey", "en_US"),
    ("EmailEncodingKey", "UTF-8"),
];

/// The generic attribute a policy may set for every system (the planner reads it as the account's login);
/// in Salesforce it is the `Username`, so it is not sent as a field.
const LOGIN: &str = "login";

/// A field's API name (`LastName`, `Department`, `Region__c`): written into SOQL, so nothing else passes.
fn field_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.len() <= 80
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn refused(connection: &str, login: &str, why: impl std::fmt::Display) -> Failure {
    Failure::unsupported(format!(
        "{connection}: salesforce cannot manage the account {login} as planned: {why}"
    ))
}

/// Whether `attributes` can be written as User fields: API names, or `profile` / `login`.
fn check_fields(
    connection: &str,
    login: &str,
    attributes: &Map<String, Value>,
) -> Result<(), Failure> {
    for (name, value) in attributes {
        if name == PROFILE {
            if value.as_str().is_none_or(|p| p.trim().is_empty()) {
                return Err(refused(
                    connection,
                    login,
                    "`profile` must be a profile's name",
                ));
            }
            continue;
        }
        if name == LOGIN {
            continue;
        }
        if !field_name(name) || name.eq_ignore_ascii_case("Id") {
            return Err(refused(
                connection,
                login,
                format!("{name:?} is not a User field's API name"),
            ));
        }
    }
    Ok(())
}

/// Refuses, before planning, what Salesforce cannot do with a creation: a missing `LastName` or profile,
/// an Alias over 8 characters, a welcome email or a temporary password (neither is sent by this connector:
/// the user signs in through single sign-on or an administrator's password reset).
pub fn check_create(
    connection: &str,
    account: &AccountRef,
    attributes: &Map<String, Value>,
    options: &AccountOptions,
) -> Result<(), Failure> {
    let login = account.login.as_str();
    check_fields(connection, login, attributes)?;
    let text = |name: &str| {
        attributes
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
    };
    if text("LastName").is_none() {
        return Err(refused(
            connection,
            login,
            "the required attribute `LastName` is missing",
        ));
    }
    if text(PROFILE).is_none() && text("ProfileId").is_none() {
        return Err(refused(
            connection,
            login,
            "a User needs a profile: give `profile` (its name) or `ProfileId`",
        ));
    }
    if text("Alias").is_some_and(|a| a.chars().count() > 8) {
        return Err(refused(
            connection,
            login,
            "`Alias` has at most 8 characters",
        ));
    }
    if options.send_email || options.temporary_password {
        return Err(refused(
            connection,
            login,
            "the connector sends no welcome email and sets no password (people sign in through single sign-on); drop `send_email` / `temporary_password` for this system",
        ));
    }
    Ok(())
}

/// Refuses a retirement Salesforce cannot perform: users have no delete.
pub fn check_retire(
    connection: &str,
    account: &AccountRef,
    mode: RetireMode,
) -> Result<(), Failure> {
    if mode == RetireMode::Delete {
        return Err(refused(
            connection,
            &account.login,
            "Salesforce users cannot be deleted; use retire: deactivate",
        ));
    }
    Ok(())
}

/// Refuses a profile update naming something other than User fields.
pub fn check_update(
    connection: &str,
    account: &AccountRef,
    after: &Map<String, Value>,
) -> Result<(), Failure> {
    if after.contains_key(LOGIN) {
        return Err(refused(
            connection,
            &account.login,
            "the login (`Username`) is not changed by a profile update",
        ));
    }
    check_fields(connection, &account.login, after)
}

/// The Username a creation makes: the policy's `Username`, else the account's login.
fn username<'a>(account: &'a AccountRef, attributes: &'a Map<String, Value>) -> &'a str {
    attributes
        .get("Username")
        .and_then(Value::as_str)
        .unwrap_or(account.login.as_str())
}

/// The first 8 letters and digits of the login's local part: Salesforce's own UI suggests an alias from
/// the name; any unique-enough short name will do, and a policy may set `Alias`.
fn alias(login: &str) -> String {
    let local = login.split('@').next().unwrap_or(login);
    let alias: String = local
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    if alias.is_empty() {
        "user".into()
    } else {
        alias
    }
}

fn id_of(record: &Value) -> Option<String> {
    record.get("Id").and_then(Value::as_str).map(str::to_string)
}

/// The User whose Username is `username` (Salesforce compares usernames case-insensitively).
pub async fn user_by_username(
    client: &SalesforceClient,
    username: &str,
) -> Result<Option<Value>, Failure> {
    let soql = format!(
        "SELECT Id, Username, IsActive FROM User WHERE Username = {} LIMIT 1",
        quote(username)
    );
    Ok(client.query(&soql, |_| {}).await?.into_iter().next())
}

/// The Id of the profile named `name`.
async fn profile_id(
    client: &SalesforceClient,
    connection: &str,
    name: &str,
) -> Result<String, Failure> {
    let soql = format!(
        "SELECT Id FROM Profile WHERE Name = {} LIMIT 1",
        quote(name)
    );
    client
        .query(&soql, |_| {})
        .await?
        .first()
        .and_then(id_of)
        .ok_or_else(|| {
            Failure::permanent(
                "NOT_FOUND",
                format!("{connection}: salesforce has no profile named {name:?}"),
                None,
            )
        })
}

/// `attributes` as User fields: `profile` resolved to `ProfileId`, `login` dropped.
async fn user_fields(
    client: &SalesforceClient,
    connection: &str,
    attributes: &Map<String, Value>,
) -> Result<Map<String, Value>, Failure> {
    let mut fields = Map::new();
    for (name, value) in attributes {
        match name.as_str() {
            LOGIN => {}
            PROFILE => {
                let profile = value.as_str().unwrap_or_default();
                fields.insert(
                    "ProfileId".into(),
                    Value::String(profile_id(client, connection, profile).await?),
                );
            }
            _ => {
                fields.insert(name.clone(), value.clone());
            }
        }
    }
    Ok(fields)
}

/// Whether the User a creation wants exists (by Username).
pub async fn created(
    client: &SalesforceClient,
    account: &AccountRef,
    attributes: &Map<String, Value>,
) -> Result<Observed, Failure> {
    let found = user_by_username(client, username(account, attributes)).await?;
    Ok(Observed::from(found.is_some()))
}

/// Creates the User unless its Username exists: the policy's fields, the profile by name, and the
/// defaults for required fields it leaves out. `activate: false` creates it inactive.
pub async fn create(
    client: &SalesforceClient,
    connection: &str,
    account: &AccountRef,
    attributes: &Map<String, Value>,
    options: &AccountOptions,
) -> Result<Applied, Failure> {
    let username = username(account, attributes).to_string();
    if user_by_username(client, &username).await?.is_some() {
        return Ok(Applied::AlreadyPresent);
    }
    let mut fields = user_fields(client, connection, attributes).await?;
    let email = crate::pending_email(account).unwrap_or(account.login.as_str());
    fields
        .entry("Username")
        .or_insert_with(|| Value::String(username.clone()));
    fields
        .entry("Email")
        .or_insert_with(|| Value::String(email.to_string()));
    fields
        .entry("Alias")
        .or_insert_with(|| Value::String(alias(&username)));
    for (name, value) in DEFAULTS {
        fields
            .entry(*name)
            .or_insert_with(|| Value::String((*value).to_string()));
    }
    if !options.activate {
        fields.insert("IsActive".into(), Value::Bool(false));
    }
    match client
        .call(Method::POST, "sobjects/User/", Some(Value::Object(fields)))
        .await
    {
        Ok(_) => Ok(Applied::Changed),
        // Another run (or a person) made it meanwhile; a Username taken in another org stays refused.
        Err(failure) if failure.is_vendor_code("DUPLICATE_USERNAME") => {
            match user_by_username(client, &username).await? {
                Some(_) => Ok(Applied::AlreadyPresent),
                None => Err(failure),
            }
        }
        Err(failure) => Err(failure),
    }
}

/// The user's `IsActive` and its UserLogin (`Id`, `IsFrozen`); `None` when the user is not there.
async fn login_state(
    client: &SalesforceClient,
    user: &str,
) -> Result<Option<(bool, Option<Value>)>, Failure> {
    let soql = format!(
        "SELECT Id, IsActive FROM User WHERE Id = {} LIMIT 1",
        quote(user)
    );
    let Some(found) = client.query(&soql, |_| {}).await?.into_iter().next() else {
        return Ok(None);
    };
    let active = found
        .get("IsActive")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let soql = format!(
        "SELECT Id, IsFrozen FROM UserLogin WHERE UserId = {} LIMIT 1",
        quote(user)
    );
    let login = client.query(&soql, |_| {}).await?.into_iter().next();
    Ok(Some((active, login)))
}

fn frozen(login: Option<&Value>) -> bool {
    login
        .and_then(|l| l.get("IsFrozen"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Whether the account is retired as `mode` says: inactive, or frozen (an inactive user cannot sign in
/// either, so it counts as suspended too).
pub async fn retired(
    client: &SalesforceClient,
    account: &AccountRef,
    mode: RetireMode,
) -> Result<Observed, Failure> {
    let done = match login_state(client, &account.id).await? {
        None => true,
        Some((active, login)) => match mode {
            RetireMode::Deactivate | RetireMode::Delete => !active,
            RetireMode::Suspend => !active || frozen(login.as_ref()),
        },
    };
    Ok(Observed::from(done))
}

/// Deactivates (`IsActive: false`) or freezes (`UserLogin.IsFrozen: true`) the user, unless it already is.
pub async fn retire(
    client: &SalesforceClient,
    connection: &str,
    account: &AccountRef,
    mode: RetireMode,
) -> Result<Applied, Failure> {
    check_retire(connection, account, mode)?;
    let Some((active, login)) = login_state(client, &account.id).await? else {
        return Err(Failure::permanent(
            "NOT_FOUND",
            format!(
                "{connection}: salesforce user {} ({}) does not exist",
                account.login, account.id
            ),
            Some(404),
        ));
    };
    match mode {
        RetireMode::Suspend => {
            if !active || frozen(login.as_ref()) {
                return Ok(Applied::AlreadyPresent);
            }
            let id = login.as_ref().and_then(id_of).ok_or_else(|| {
                Failure::unexpected_response(
                    format!(
                        "{connection}: salesforce user {} has no UserLogin to freeze",
                        account.login
                    ),
                    None,
                )
            })?;
            client
                .call(
                    Method::PATCH,
                    &format!("sobjects/UserLogin/{id}"),
                    Some(json!({"IsFrozen": true})),
                )
                .await?;
            Ok(Applied::Changed)
        }
        RetireMode::Deactivate | RetireMode::Delete => {
            if !active {
                return Ok(Applied::AlreadyPresent);
            }
            client
                .call(
                    Method::PATCH,
                    &format!("sobjects/User/{}", account.id),
                    Some(json!({"IsActive": false})),
                )
                .await?;
            Ok(Applied::Changed)
        }
    }
}

/// Whether the user's fields hold `after` (`profile` compared by the profile's name).
pub async fn updated(
    client: &SalesforceClient,
    account: &AccountRef,
    after: &Map<String, Value>,
) -> Result<Observed, Failure> {
    let mut selected: Vec<String> = after
        .keys()
        .filter(|k| k.as_str() != PROFILE && field_name(k))
        .cloned()
        .collect();
    selected.push("Id".into());
    if after.contains_key(PROFILE) {
        selected.push("Profile.Name".into());
    }
    selected.sort();
    selected.dedup();
    let soql = format!(
        "SELECT {} FROM User WHERE Id = {} LIMIT 1",
        selected.join(", "),
        quote(&account.id)
    );
    let Some(user) = client.query(&soql, |_| {}).await?.into_iter().next() else {
        return Ok(Observed::NotDone);
    };
    let done = after.iter().all(|(name, wanted)| {
        let held = if name == PROFILE {
            user.pointer("/Profile/Name")
        } else {
            user.get(name)
        };
        held.unwrap_or(&Value::Null) == wanted
    });
    Ok(Observed::from(done))
}

/// PATCHes the user's fields to `after`, unless they already hold it.
pub async fn update(
    client: &SalesforceClient,
    connection: &str,
    account: &AccountRef,
    after: &Map<String, Value>,
) -> Result<Applied, Failure> {
    if updated(client, account, after).await? == Observed::Done {
        return Ok(Applied::AlreadyPresent);
    }
    let fields = user_fields(client, connection, after).await?;
    client
        .call(
            Method::PATCH,
            &format!("sobjects/User/{}", account.id),
            Some(Value::Object(fields)),
        )
        .await?;
    Ok(Applied::Changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_creation_needs_a_last_name_and_a_profile_and_no_password() {
        let account = AccountRef::pending("nia.park@example.com");
        let ok = attrs(json!({"LastName": "Park", "profile": "Sales Engineer"}));
        assert!(check_create("sf", &account, &ok, &AccountOptions::default()).is_ok());
        let no_last = attrs(json!({"profile": "Sales Engineer"}));
        let why = check_create("sf", &account, &no_last, &AccountOptions::default())
            .expect_err("no LastName")
            .to_string();
        assert!(
            why.contains("LastName") && why.contains("nia.park@example.com"),
            "{why}"
        );
        let no_profile = attrs(json!({"LastName": "Park"}));
        assert!(check_create("sf", &account, &no_profile, &AccountOptions::default()).is_err());
        let bad_field = attrs(json!({"LastName": "Park", "profile": "X", "Last Name": "x"}));
        assert!(check_create("sf", &account, &bad_field, &AccountOptions::default()).is_err());
        let password = AccountOptions {
            temporary_password: true,
            ..AccountOptions::default()
        };
        assert!(check_create("sf", &account, &ok, &password).is_err());
    }

    #[test]
    fn users_cannot_be_deleted_and_aliases_come_from_the_login() {
        let account = AccountRef {
            id: "005x".into(),
            login: "nia@example.com".into(),
        };
        let why = check_retire("sf", &account, RetireMode::Delete)
            .expect_err("no delete")
            .to_string();
        assert!(
            why.contains("Salesforce users cannot be deleted; use retire: deactivate"),
            "{why}"
        );
        assert!(check_retire("sf", &account, RetireMode::Suspend).is_ok());
        assert_eq!(alias("nia.park-lee@example.com"), "niaparkl");
        assert_eq!(alias("@x"), "user");
    }
}
