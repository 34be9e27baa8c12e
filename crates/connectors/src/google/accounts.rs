//! Accounts as code in Google Workspace, through the Directory API's user calls: `users.insert` (a
//! generated password, to be changed at the first sign-in, handed out once), `users.update` (a
//! suspension, or the declared profile fields; Google's update keeps the fields not sent), `users.delete`,
//! and `users.get` by primary email, which makes a retried creation that took effect a no-op and resolves
//! the `pending:<email>` account of grants planned with the creation.
//!
//! The attributes a policy gives are Google's own field names: `givenName` and `familyName` (the
//! `name` object's fields; both required to create), `orgUnitPath`, `primaryEmail` (defaults to the
//! account's login) and custom schema fields as `customSchemas.<schema>.<field>`. A sync reads the same
//! names into the account's attributes, so a profile the policy already holds plans nothing.

use grantflow_model::{AccountOptions, AccountRef, RetireMode};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use super::client::GoogleClient;
use crate::{Applied, Failure, Observed};

/// The scope the user calls need (`.readonly` reads only).
pub const USER_SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user";

const GIVEN: &str = "givenName";
const FAMILY: &str = "familyName";
const ORG_UNIT: &str = "orgUnitPath";
const PRIMARY: &str = "primaryEmail";
const LOGIN: &str = "login";
const CUSTOM: &str = "customSchemas";
/// `name.givenName` and `name.familyName` are at most 60 characters (Directory API reference).
const NAME_MAX: usize = 60;

/// Why an attribute cannot be sent, or `None` when Google takes it. `creating` allows `login` and
/// `primaryEmail`, which only a creation sets.
fn attribute_problem(name: &str, value: &Value, creating: bool) -> Option<String> {
    match name {
        LOGIN | PRIMARY if creating => (!value.is_string()).then(|| "is not a text".to_string()),
        GIVEN | FAMILY => match value.as_str() {
            Some(text) if text.trim().is_empty() => Some("is empty".into()),
            Some(text) if text.chars().count() > NAME_MAX => {
                Some(format!("is longer than Google's {NAME_MAX} characters"))
            }
            Some(_) => None,
            None => Some("is not a text".into()),
        },
        ORG_UNIT => match value.as_str() {
            Some(path) if path.starts_with('/') => None,
            _ => Some("is not an organisational unit path (\"/Sales\")".into()),
        },
        _ => match custom_field(name) {
            Some(_) => None,
            None => Some(format!(
                "is not a field grantflow sets in Google (givenName, familyName, orgUnitPath, customSchemas.<schema>.<field>{})",
                if creating {
                    ", primaryEmail, login"
                } else {
                    ""
                }
            )),
        },
    }
}

/// `customSchemas.<schema>.<field>` as (schema, field).
fn custom_field(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(CUSTOM)?.strip_prefix('.')?;
    let (schema, field) = rest.split_once('.')?;
    (!schema.is_empty() && !field.is_empty() && !field.contains('.')).then_some((schema, field))
}

/// Refuses, before planning stores it, what Google cannot take: an unknown field, a missing name on a
/// creation, a `primaryEmail` that is not the account's login.
pub fn check(
    connection: &str,
    account: &AccountRef,
    attributes: &Map<String, Value>,
    creating: bool,
) -> Result<(), Failure> {
    let refuse = |why: String| {
        Failure::permanent(
            "invalid_attributes",
            format!("{connection}: google account {}: {why}", account.login),
            None,
        )
    };
    for (name, value) in attributes {
        if let Some(why) = attribute_problem(name, value, creating) {
            return Err(refuse(format!("attribute `{name}` {why}")));
        }
    }
    if creating {
        for required in [GIVEN, FAMILY] {
            if !attributes.contains_key(required) {
                return Err(refuse(format!(
                    "Google needs `{required}` to create a user; declare it in the policy's attributes"
                )));
            }
        }
        if let Some(primary) = attributes.get(PRIMARY).and_then(Value::as_str)
            && !primary.eq_ignore_ascii_case(&account.login)
        {
            return Err(refuse(format!(
                "`primaryEmail` {primary} differs from the login; give the login as `login` (the key the account is found by)"
            )));
        }
    }
    Ok(())
}

/// The `User` fields to send for `attributes` (names nested, custom fields under their schema).
fn user_body(attributes: &Map<String, Value>) -> Map<String, Value> {
    let mut body = Map::new();
    let mut name = Map::new();
    let mut custom: Map<String, Value> = Map::new();
    for (key, value) in attributes {
        match key.as_str() {
            GIVEN | FAMILY => {
                name.insert(key.clone(), value.clone());
            }
            ORG_UNIT => {
                body.insert(key.clone(), value.clone());
            }
            _ => {
                if let Some((schema, field)) = custom_field(key)
                    && let Value::Object(fields) = custom
                        .entry(schema.to_string())
                        .or_insert_with(|| Value::Object(Map::new()))
                {
                    fields.insert(field.to_string(), value.clone());
                }
            }
        }
    }
    if !name.is_empty() {
        body.insert("name".into(), Value::Object(name));
    }
    if !custom.is_empty() {
        body.insert(CUSTOM.into(), Value::Object(custom));
    }
    body
}

/// A user's profile under the attribute names policies use: `givenName`, `familyName`,
/// `orgUnitPath`, `customSchemas.<schema>.<field>`.
pub fn profile_values(user: &Value) -> Map<String, Value> {
    let mut values = Map::new();
    for (name, pointer) in [
        (GIVEN, "/name/givenName"),
        (FAMILY, "/name/familyName"),
        (ORG_UNIT, "/orgUnitPath"),
    ] {
        if let Some(value) = user.pointer(pointer).filter(|v| !v.is_null()) {
            values.insert(name.into(), value.clone());
        }
    }
    if let Some(schemas) = user.get(CUSTOM).and_then(Value::as_object) {
        for (schema, fields) in schemas {
            for (field, value) in fields.as_object().into_iter().flatten() {
                values.insert(format!("{CUSTOM}.{schema}.{field}"), value.clone());
            }
        }
    }
    values
}

/// The user whose primary email (or id) is `key`, with its custom schemas; `None` when there is none.
pub async fn user(client: &GoogleClient, key: &str) -> Result<Option<Value>, Failure> {
    match client.get(&["users", key], &[("projection", "full")]).await {
        Ok(user) => Ok(Some(user)),
        Err(failure) if failure.is_vendor_code("notFound") => Ok(None),
        Err(failure) => Err(failure),
    }
}

/// The user a `pending:<email>` account (created in the same plan) became: by its login, else by its
/// email (Google takes either as a user key).
pub async fn pending_user(
    client: &GoogleClient,
    account: &AccountRef,
) -> Result<Option<Value>, Failure> {
    if let Some(found) = user(client, &account.login).await? {
        return Ok(Some(found));
    }
    match account.pending_email() {
        Some(email) if !email.eq_ignore_ascii_case(&account.login) => user(client, email).await,
        _ => Ok(None),
    }
}

fn suspended(user: &Value) -> bool {
    user.get("suspended")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Whether the account a creation wants is there (found by its primary email).
pub async fn created(client: &GoogleClient, account: &AccountRef) -> Result<Observed, Failure> {
    Ok(Observed::from(
        user(client, &account.login).await?.is_some(),
    ))
}

/// Creates the user unless its primary email exists. Google requires a password at creation and sends
/// no welcome email through the API, so a generated one (to be changed at the first sign-in) is the
/// one-time secret whatever the options; `activate: false` creates the user suspended.
pub async fn create(
    client: &GoogleClient,
    account: &AccountRef,
    attributes: &Map<String, Value>,
    options: &AccountOptions,
) -> Result<(Applied, Option<SecretString>), Failure> {
    if user(client, &account.login).await?.is_some() {
        return Ok((Applied::AlreadyPresent, None));
    }
    let password = crate::secret::temporary_password();
    let mut body = user_body(attributes);
    body.insert(PRIMARY.into(), Value::String(account.login.clone()));
    body.insert("password".into(), Value::String(password.clone()));
    body.insert("changePasswordAtNextLogin".into(), Value::Bool(true));
    if !options.activate {
        body.insert("suspended".into(), Value::Bool(true));
    }
    let url = client.url(&["users"], &[])?;
    match client
        .send_json(Method::POST, url, Some(Value::Object(body)))
        .await
    {
        Ok(_) => Ok((Applied::Changed, Some(SecretString::from(password)))),
        // 409 `duplicate`: another run (or a person) made it meanwhile.
        Err(failure) if failure.is_vendor_code("duplicate") => {
            match user(client, &account.login).await? {
                Some(_) => Ok((Applied::AlreadyPresent, None)),
                None => Err(failure),
            }
        }
        Err(failure) => Err(failure),
    }
}

/// Whether the account is retired as `mode` says: suspended (Google's only off state, so also for
/// `deactivate`), or gone.
pub async fn retired(
    client: &GoogleClient,
    account: &AccountRef,
    mode: RetireMode,
) -> Result<Observed, Failure> {
    let found = user(client, &account.id).await?;
    let done = match (mode, &found) {
        (_, None) => true,
        (RetireMode::Delete, Some(_)) => false,
        (RetireMode::Suspend | RetireMode::Deactivate, Some(user)) => suspended(user),
    };
    Ok(Observed::from(done))
}

/// Suspends (`users.update {"suspended": true}`, for `suspend` and `deactivate` alike) or deletes the
/// user; a user already in that state (or gone) is `already_present`.
pub async fn retire(
    client: &GoogleClient,
    account: &AccountRef,
    mode: RetireMode,
) -> Result<Applied, Failure> {
    let Some(found) = user(client, &account.id).await? else {
        return Ok(Applied::AlreadyPresent);
    };
    let url = client.url(&["users", &account.id], &[])?;
    match mode {
        RetireMode::Suspend | RetireMode::Deactivate => {
            if suspended(&found) {
                return Ok(Applied::AlreadyPresent);
            }
            client
                .send_json(Method::PUT, url, Some(json!({ "suspended": true })))
                .await?;
            Ok(Applied::Changed)
        }
        RetireMode::Delete => match client.send_json(Method::DELETE, url, None).await {
            Ok(_) => Ok(Applied::Changed),
            Err(failure) if failure.is_vendor_code("notFound") => Ok(Applied::AlreadyPresent),
            Err(failure) => Err(failure),
        },
    }
}

/// Whether every attribute in `after` holds its value on the user.
pub async fn profile_updated(
    client: &GoogleClient,
    account: &AccountRef,
    after: &Map<String, Value>,
) -> Result<Observed, Failure> {
    let Some(found) = user(client, &account.id).await? else {
        return Err(Failure::permanent(
            "notFound",
            format!("google has no user {} to update", account.login),
            Some(404),
        ));
    };
    let held = profile_values(&found);
    let done = after
        .iter()
        .all(|(name, wanted)| held.get(name).unwrap_or(&Value::Null) == wanted);
    Ok(Observed::from(done))
}

/// `users.update` of the declared fields, unless they hold already (read first, so a retry sends
/// nothing).
pub async fn update_profile(
    client: &GoogleClient,
    account: &AccountRef,
    after: &Map<String, Value>,
) -> Result<Applied, Failure> {
    if profile_updated(client, account, after).await? == Observed::Done {
        return Ok(Applied::AlreadyPresent);
    }
    let url = client.url(&["users", &account.id], &[])?;
    client
        .send_json(Method::PUT, url, Some(Value::Object(user_body(after))))
        .await?;
    Ok(Applied::Changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountRef {
        AccountRef::pending("ann@example.com")
    }

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_creation_needs_both_names_and_known_fields() {
        let ok = map(
            json!({"givenName": "Ann", "familyName": "Lee", "orgUnitPath": "/Sales",
            "customSchemas.Employment.costCenter": "S-1", "login": "ann@example.com"}),
        );
        assert!(check("google", &account(), &ok, true).is_ok());
        let missing = map(json!({"givenName": "Ann"}));
        let why = check("google", &account(), &missing, true)
            .err()
            .map(|f| f.message())
            .unwrap_or_default();
        assert!(
            why.contains("familyName") && why.contains("ann@example.com"),
            "{why}"
        );
        let unknown = map(json!({"givenName": "Ann", "familyName": "Lee", "title": "x"}));
        assert!(check("google", &account(), &unknown, true).is_err());
        let other =
            map(json!({"givenName": "A", "familyName": "L", "primaryEmail": "b@example.com"}));
        assert!(check("google", &account(), &other, true).is_err());
        // A profile update never sets the primary email.
        let primary = map(json!({"primaryEmail": "ann@example.com"}));
        assert!(check("google", &account(), &primary, false).is_err());
        assert!(
            check(
                "google",
                &account(),
                &map(json!({"orgUnitPath": "Sales"})),
                false
            )
            .is_err()
        );
    }

    #[test]
    fn fields_nest_as_google_takes_them_and_read_back_flat() {
        let attributes = map(
            json!({"givenName": "Ann", "familyName": "Lee", "orgUnitPath": "/Sales",
            "customSchemas.Employment.costCenter": "S-1"}),
        );
        let body = Value::Object(user_body(&attributes));
        assert_eq!(
            body,
            json!({"name": {"givenName": "Ann", "familyName": "Lee"}, "orgUnitPath": "/Sales",
                "customSchemas": {"Employment": {"costCenter": "S-1"}}})
        );
        assert_eq!(
            Value::Object(profile_values(&body)),
            Value::Object(attributes)
        );
    }
}
