//! Accounts as code in self-managed GitLab through the admin API, for a connection configured with
//! `accounts: admin_api` (an administrator's token): `POST /users` (`email`, `username`, `name`; with
//! `reset_password` when the policy lets GitLab email the person, else `force_random_password`, the
//! person signing in through SSO), and retiring by `POST /users/:id/block` (suspend), `POST
//! /users/:id/deactivate` (deactivate) or `DELETE /users/:id` (delete). The user is found by email (or
//! username) before anything is sent, so a retried creation that took effect is never made twice.
//! Profiles (`name`, `organization`, `location`, `bio`, `external`) change with `PUT /users/:id`, which
//! keeps the fields not sent, after a read that shows whether they already hold.

use grantflow_model::{AccountOptions, AccountRef, RetireMode};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::GitlabClient;
use crate::{Applied, Failure, Observed};

/// The attributes a GitLab user takes here (GitLab's own field names), and grantflow's `login`.
const FIELDS: [&str; 6] = [
    "email",
    "username",
    "name",
    "external",
    "skip_confirmation",
    "login",
];

fn text<'a>(attributes: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    attributes.get(key).and_then(Value::as_str)
}

/// The new user's email: `email`, else the planned account's email, else its login when it is one.
fn email_of(account: &AccountRef, attributes: &Map<String, Value>) -> Option<String> {
    text(attributes, "email")
        .map(str::to_string)
        .or_else(|| account.pending_email().map(str::to_string))
        .or_else(|| account.login.contains('@').then(|| account.login.clone()))
}

/// The new user's username: `username`, else a login that is not an email, else the email's local part
/// with what GitLab refuses in a username (anything but letters, digits, `_`, `-`, `.`) made `-`.
fn username_of(account: &AccountRef, attributes: &Map<String, Value>) -> Option<String> {
    if let Some(username) = text(attributes, "username") {
        return Some(username.to_string());
    }
    if !account.login.contains('@') && account.pending_email() != Some(account.login.as_str()) {
        return Some(account.login.clone());
    }
    let email = email_of(account, attributes)?;
    let local = email.split('@').next().unwrap_or_default();
    let username: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    (!username.is_empty()).then_some(username)
}

/// What `check()` answers for attributes GitLab cannot take: which connection, which account, why.
fn invalid(connection: &str, what: &str, account: &AccountRef, why: String) -> Failure {
    Failure::permanent(
        "invalid_attributes",
        format!("{connection}: gitlab {what} {}: {why}", account.login),
        None,
    )
}

/// Refuses, before planning stores it, what the admin API cannot take: an unknown field, no `name`, no
/// email, and a temporary password (GitLab's admin API has none to hand out here: the person signs in
/// through SSO, or sets a password from GitLab's reset email with `send_email`).
pub fn check_create(
    connection: &str,
    account: &AccountRef,
    attributes: &Map<String, Value>,
    options: &AccountOptions,
) -> Result<(), Failure> {
    let refuse = |why: String| invalid(connection, "account", account, why);
    if let Some(name) = attributes.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(refuse(format!(
            "attribute `{name}` is not a field grantflow sets in GitLab ({})",
            FIELDS[..5].join(", ")
        )));
    }
    if text(attributes, "name").is_none_or(|n| n.trim().is_empty()) {
        return Err(refuse(
            "GitLab needs `name` to create a user; declare it in the policy's attributes".into(),
        ));
    }
    if email_of(account, attributes).is_none_or(|e| !e.contains('@')) {
        return Err(refuse("GitLab needs an `email` to create a user".into()));
    }
    if username_of(account, attributes).is_none() {
        return Err(refuse("no `username` can be made; declare one".into()));
    }
    if options.temporary_password {
        return Err(refuse(
            "temporary_password is not offered for GitLab: use send_email (GitLab's reset email) or neither (SSO sign-in)"
                .into(),
        ));
    }
    if !options.activate {
        return Err(refuse(
            "GitLab creates users active; a staged account is the directory's (activate: true)"
                .into(),
        ));
    }
    Ok(())
}

/// The profile fields grantflow changes (`PUT /users/:id`, which python-gitlab's `User.save()` sends
/// too). `email` and `username` are left out on purpose: a new email waits for the person to confirm
/// it, and a new username moves every URL of theirs; both are who the account is, not its profile.
const PROFILE_FIELDS: [&str; 5] = ["name", "organization", "location", "bio", "external"];

/// Refuses, before planning stores it, a profile field grantflow does not change here, a blank `name`
/// and a value of the wrong type (`external` is true or false, the others text).
pub fn check_profile(
    connection: &str,
    account: &AccountRef,
    after: &Map<String, Value>,
) -> Result<(), Failure> {
    let refuse = |why: String| invalid(connection, "profile of", account, why);
    for (field, value) in after {
        match (field.as_str(), value) {
            ("external", Value::Bool(_)) => {}
            ("external", other) => {
                return Err(refuse(format!("`external` is true or false, not {other}")));
            }
            ("name", Value::String(name)) if name.trim().is_empty() => {
                return Err(refuse("GitLab refuses a blank `name`".into()));
            }
            (field, Value::String(_)) if PROFILE_FIELDS.contains(&field) => {}
            (field, other) if PROFILE_FIELDS.contains(&field) => {
                return Err(refuse(format!("`{field}` is text, not {other}")));
            }
            (field, _) => {
                return Err(refuse(format!(
                    "`{field}` is not a profile field grantflow changes in GitLab ({})",
                    PROFILE_FIELDS.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// Whether `user` (as `GET /users/:id` answers it) holds every field of `after`; an unset text field
/// reads as `""` or `null`, which are the same.
fn holds(user: &Value, after: &Map<String, Value>) -> bool {
    after.iter().all(|(field, wanted)| {
        let held = user.get(field).unwrap_or(&Value::Null);
        held == wanted
            || (wanted.as_str() == Some("") && held.is_null())
            || (held.as_str() == Some("") && wanted.is_null())
    })
}

/// The user as `GET /users/:id` answers it, `None` when there is no such user.
async fn user_by_id(client: &GitlabClient, id: u64) -> Result<Option<Value>, Failure> {
    match client.get(&format!("users/{id}"), &[]).await {
        Ok(answer) => Ok(Some(answer.body)),
        Err(failure) if failure.is_status(404) => Ok(None),
        Err(failure) => Err(failure),
    }
}

pub async fn profile_updated(
    client: &GitlabClient,
    id: u64,
    after: &Map<String, Value>,
) -> Result<Observed, Failure> {
    let user = user_by_id(client, id).await?;
    Ok(Observed::from(user.is_some_and(|u| holds(&u, after))))
}

/// Sends the fields of `after` that differ (GitLab keeps the others); a profile that holds them
/// already is `already_present`.
pub async fn update_profile(
    connection: &str,
    client: &GitlabClient,
    id: u64,
    after: &Map<String, Value>,
) -> Result<Applied, Failure> {
    let Some(user) = user_by_id(client, id).await? else {
        return Err(Failure::permanent(
            "not_found",
            format!("{connection}: gitlab user {id} does not exist"),
            Some(404),
        ));
    };
    if holds(&user, after) {
        return Ok(Applied::AlreadyPresent);
    }
    let url = client.url(&format!("users/{id}"), &[])?;
    client
        .send_json(Method::PUT, url, Some(Value::Object(after.clone())))
        .await?;
    Ok(Applied::Changed)
}

/// The user with `email` (GitLab matches a search by email only in full), or with `username`.
async fn find(
    client: &GitlabClient,
    email: Option<&str>,
    username: Option<&str>,
) -> Result<Option<Value>, Failure> {
    if let Some(email) = email {
        let users = client
            .get_all("users", &[("search", email)], |_| {})
            .await?;
        let found = users.into_iter().find(|u| {
            ["email", "public_email"].iter().any(|k| {
                u.get(*k)
                    .and_then(Value::as_str)
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            })
        });
        if found.is_some() {
            return Ok(found);
        }
    }
    if let Some(username) = username {
        let users = client
            .get_all("users", &[("username", username)], |_| {})
            .await?;
        return Ok(users.into_iter().next());
    }
    Ok(None)
}

/// The user a creation is about, by its email, else its username.
pub async fn created_user(
    client: &GitlabClient,
    account: &AccountRef,
    attributes: &Map<String, Value>,
) -> Result<Option<Value>, Failure> {
    let email = email_of(account, attributes);
    let username = username_of(account, attributes);
    find(client, email.as_deref(), username.as_deref()).await
}

pub async fn created(
    client: &GitlabClient,
    account: &AccountRef,
    attributes: &Map<String, Value>,
) -> Result<Observed, Failure> {
    Ok(Observed::from(
        created_user(client, account, attributes).await?.is_some(),
    ))
}

/// Creates the user unless one has its email or username.
pub async fn create(
    client: &GitlabClient,
    account: &AccountRef,
    attributes: &Map<String, Value>,
    options: &AccountOptions,
) -> Result<Applied, Failure> {
    if created_user(client, account, attributes).await?.is_some() {
        return Ok(Applied::AlreadyPresent);
    }
    let mut body = json!({
        "email": email_of(account, attributes),
        "username": username_of(account, attributes),
        "name": text(attributes, "name"),
    });
    for flag in ["external", "skip_confirmation"] {
        if let Some(value) = attributes.get(flag) {
            body[flag] = value.clone();
        }
    }
    // GitLab needs one of password / reset_password / force_random_password.
    if options.send_email {
        body["reset_password"] = Value::Bool(true);
    } else {
        body["force_random_password"] = Value::Bool(true);
    }
    let url = client.url("users", &[])?;
    match client.send_json(Method::POST, url, Some(body)).await {
        Ok(_) => Ok(Applied::Changed),
        // 409 "Email has already been taken": another run (or a person) made it meanwhile.
        Err(failure) if failure.is_status(409) => {
            match created_user(client, account, attributes).await? {
                Some(_) => Ok(Applied::AlreadyPresent),
                None => Err(failure),
            }
        }
        Err(failure) => Err(failure),
    }
}

/// The user's `state`, `None` when there is no such user.
async fn state(client: &GitlabClient, id: u64) -> Result<Option<String>, Failure> {
    Ok(user_by_id(client, id).await?.map(|user| {
        user.get("state")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }))
}

/// Whether `state` is what `mode` leaves (every kind of block counts for a suspension).
fn retired_as(mode: RetireMode, state: &str) -> bool {
    match mode {
        RetireMode::Suspend => state.contains("blocked") || state == "banned",
        RetireMode::Deactivate => state == "deactivated",
        RetireMode::Delete => false,
    }
}

pub async fn retired(
    client: &GitlabClient,
    id: u64,
    mode: RetireMode,
) -> Result<Observed, Failure> {
    Ok(Observed::from(match state(client, id).await? {
        None => true,
        Some(state) => retired_as(mode, &state),
    }))
}

/// Blocks, deactivates or deletes the user; one already so (or gone) is `already_present`.
pub async fn retire(client: &GitlabClient, id: u64, mode: RetireMode) -> Result<Applied, Failure> {
    let Some(current) = state(client, id).await? else {
        return Ok(Applied::AlreadyPresent);
    };
    if retired_as(mode, &current) {
        return Ok(Applied::AlreadyPresent);
    }
    let (method, path) = match mode {
        RetireMode::Suspend => (Method::POST, format!("users/{id}/block")),
        // GitLab refuses (403) to deactivate a blocked user, or one active recently; its words are kept.
        RetireMode::Deactivate => (Method::POST, format!("users/{id}/deactivate")),
        RetireMode::Delete => (Method::DELETE, format!("users/{id}")),
    };
    let url = client.url(&path, &[])?;
    match client.send_json(method, url, None).await {
        Ok(_) => Ok(Applied::Changed),
        Err(failure) if mode == RetireMode::Delete && failure.is_status(404) => {
            Ok(Applied::AlreadyPresent)
        }
        Err(failure) => Err(failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn usernames_come_from_the_attributes_the_login_or_the_email() {
        let pending = AccountRef::pending("nia.o'park+x@example.com");
        assert_eq!(
            username_of(&pending, &Map::new()).as_deref(),
            Some("nia.o-park-x")
        );
        assert_eq!(
            username_of(&pending, &attributes(json!({"username": "nia"}))).as_deref(),
            Some("nia")
        );
        let by_login = AccountRef {
            id: "pending:nia@example.com".into(),
            login: "npark".into(),
        };
        assert_eq!(
            username_of(&by_login, &Map::new()).as_deref(),
            Some("npark")
        );
        assert_eq!(
            email_of(&by_login, &Map::new()).as_deref(),
            Some("nia@example.com")
        );
    }

    #[test]
    fn a_creation_needs_a_name_and_no_temporary_password() {
        let pending = AccountRef::pending("nia@example.com");
        let named = attributes(json!({"name": "Nia Park"}));
        assert!(check_create("gitlab", &pending, &named, &AccountOptions::default()).is_ok());
        let why = check_create("gitlab", &pending, &Map::new(), &AccountOptions::default())
            .err()
            .map(|f| f.message())
            .unwrap_or_default();
        assert!(
            why.contains("name") && why.contains("nia@example.com"),
            "{why}"
        );
        let temporary = AccountOptions {
            temporary_password: true,
            ..AccountOptions::default()
        };
        assert!(check_create("gitlab", &pending, &named, &temporary).is_err());
        assert!(
            check_create(
                "gitlab",
                &pending,
                &attributes(json!({"name": "N", "bio": "x"})),
                &AccountOptions::default()
            )
            .is_err()
        );
    }

    #[test]
    fn a_profile_takes_only_its_fields_with_their_types_and_unset_text_is_empty() {
        let nia = AccountRef {
            id: "7".into(),
            login: "nia".into(),
        };
        let check = |after: Value| check_profile("gitlab", &nia, &attributes(after));
        assert!(
            check(json!({"name": "Nia Park", "organization": "Acme", "external": true})).is_ok()
        );
        for (refused, says) in [
            (json!({"email": "n@example.com"}), "organization, location"),
            (json!({"external": "yes"}), "true or false"),
            (json!({"location": 7}), "text"),
            (json!({"name": " "}), "blank"),
        ] {
            let why = check(refused)
                .err()
                .map(|f| f.message())
                .unwrap_or_default();
            assert!(why.contains(says) && why.contains("nia"), "{why}");
        }
        let user = json!({"name": "Nia", "bio": "", "location": null, "external": false});
        assert!(holds(
            &user,
            &attributes(json!({"bio": null, "location": ""}))
        ));
        assert!(holds(
            &user,
            &attributes(json!({"external": false, "name": "Nia"}))
        ));
        assert!(!holds(&user, &attributes(json!({"external": true}))));
        assert!(!holds(&user, &attributes(json!({"organization": "Acme"}))));
    }

    #[test]
    fn every_kind_of_block_is_suspended() {
        assert!(retired_as(RetireMode::Suspend, "blocked"));
        assert!(retired_as(RetireMode::Suspend, "ldap_blocked"));
        assert!(!retired_as(RetireMode::Suspend, "deactivated"));
        assert!(retired_as(RetireMode::Deactivate, "deactivated"));
    }
}
