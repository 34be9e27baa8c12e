//! Accounts as code in Okta: creating a user (`POST /api/v1/users` with `activate` and, for a temporary
//! password, `nextLogin=changePassword`), retiring one (`lifecycle/suspend`, `lifecycle/deactivate`,
//! `DELETE` once deprovisioned), and finding a user by login, which makes a retried creation that took
//! effect a no-op and resolves the `pending:<email>` account of grants planned with the creation.

use grantflow_model::{AccountOptions, AccountRef, OpKind, Operation, RetireMode};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use super::client::OktaClient;
use super::is_not_found;
use crate::{Applied, Failure, Observed};

/// The user whose login is `login` (Okta accepts a login where a user id goes), or `None`.
pub async fn user_by_login(client: &OktaClient, login: &str) -> Result<Option<Value>, Failure> {
    let mut url = client.url("/api/v1/users", &[])?;
    // Pushed as a path segment so a login's `+`, `/` or `#` are escaped, never read as URL syntax.
    url.path_segments_mut()
        .map_err(|()| Failure::config("the okta base URL cannot take a path"))?
        .push(login);
    match client.send_json(Method::GET, url, None).await {
        Ok(answer) => Ok(Some(answer.body)),
        Err(failure) if is_not_found(&failure) => Ok(None),
        Err(failure) => Err(failure),
    }
}

/// The user a `pending:<email>` account (created in the same plan) became: by its login, else by
/// its email (a policy may give the login another value).
pub async fn pending_user(
    client: &OktaClient,
    account: &AccountRef,
) -> Result<Option<Value>, Failure> {
    if let Some(user) = user_by_login(client, &account.login).await? {
        return Ok(Some(user));
    }
    let Some(email) = account.pending_email() else {
        return Ok(None);
    };
    let filter = format!("profile.email eq \"{}\"", email.replace('"', "\\\""));
    let answer = client
        .get(
            "/api/v1/users",
            &[("filter", filter.as_str()), ("limit", "2")],
        )
        .await?;
    let found = answer.body.as_array().cloned().unwrap_or_default();
    // Two users with one email: nothing is granted on a guess.
    Ok(if found.len() == 1 {
        found.into_iter().next()
    } else {
        None
    })
}

/// An operation on an account a plan created (`pending:<email>`, as the read-your-writes overlay
/// knows it until the next sync) with the user's id put in: an action, a retirement or a profile
/// update must reach the user itself, never a 404 read as "done".
pub async fn with_created_account(
    client: &OktaClient,
    op: &Operation,
) -> Result<CreatedAccount, Failure> {
    let mut resolved = op.clone();
    let (account, target) = match &mut resolved.kind {
        OpKind::AccountAction {
            account, target, ..
        }
        | OpKind::RetireAccount {
            account, target, ..
        }
        | OpKind::UpdateProfile {
            account, target, ..
        } => (account, target),
        _ => return Ok(CreatedAccount::NotPending),
    };
    if account.pending_email().is_none() {
        return Ok(CreatedAccount::NotPending);
    }
    let Some(user) = pending_user(client, account).await? else {
        return Ok(CreatedAccount::Missing);
    };
    let id = super::id_of(&user)
        .ok_or_else(|| Failure::unexpected_response("an okta user without an id", None))?;
    account.id.clone_from(&id);
    target.id = id;
    Ok(CreatedAccount::Found(Box::new(resolved)))
}

/// What [`with_created_account`] found.
pub enum CreatedAccount {
    /// The operation names no `pending:` account: as it is.
    NotPending,
    /// The operation with the user's id in place of `pending:<email>`.
    Found(Box<Operation>),
    /// No user has the login or email.
    Missing,
}

fn status(user: &Value) -> &str {
    user.get("status").and_then(Value::as_str).unwrap_or("")
}

fn id(user: &Value) -> Result<String, Failure> {
    user.get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Failure::unexpected_response("an okta user without an id", None))
}

/// Whether the account a creation wants is there: the login exists and, when it is to be activated,
/// it is no longer STAGED (PROVISIONED is an activated user who has not finished the welcome flow).
pub async fn created(
    client: &OktaClient,
    account: &AccountRef,
    options: &AccountOptions,
) -> Result<Observed, Failure> {
    let done = user_by_login(client, &account.login)
        .await?
        .is_some_and(|user| !options.activate || status(&user) != "STAGED");
    Ok(Observed::from(done))
}

/// Creates the user unless its login exists, as `options` say: staged; activated with Okta's email;
/// activated without one (the activation link comes back as the one-time secret); or activated with
/// a temporary password that expires at the first sign-in (the password is the one-time secret).
/// A user found STAGED that should be active (a retry after the creation took effect) is activated.
pub async fn create(
    client: &OktaClient,
    account: &AccountRef,
    attributes: &Map<String, Value>,
    options: &AccountOptions,
) -> Result<(Applied, Option<SecretString>), Failure> {
    if let Some(user) = user_by_login(client, &account.login).await? {
        if options.activate && status(&user) == "STAGED" {
            let secret = activate(client, &id(&user)?, options.send_email).await?;
            return Ok((Applied::Changed, secret));
        }
        return Ok((Applied::AlreadyPresent, None));
    }
    let mut profile = attributes.clone();
    profile
        .entry("login")
        .or_insert_with(|| Value::String(account.login.clone()));
    let mut body = json!({ "profile": profile });
    let mut secret = None;
    // Without an email, Okta only hands out the activation token from the activate call, so the user is
    // created staged and then activated.
    let activate_now = options.activate && (options.send_email || options.temporary_password);
    let mut query = vec![("activate", if activate_now { "true" } else { "false" })];
    if options.activate && options.temporary_password {
        let password = crate::secret::temporary_password();
        body["credentials"] = json!({ "password": { "value": password } });
        query.push(("nextLogin", "changePassword"));
        secret = Some(SecretString::from(password));
    }
    let url = client.url("/api/v1/users", &query)?;
    let user = match client.send_json(Method::POST, url, Some(body)).await {
        Ok(answer) => answer.body,
        // E0000001 for a login that exists: another run (or a person) made it meanwhile.
        Err(failure) if failure.is_vendor_code("E0000001") => {
            return match user_by_login(client, &account.login).await? {
                Some(_) => Ok((Applied::AlreadyPresent, None)),
                None => Err(failure),
            };
        }
        Err(failure) => return Err(failure),
    };
    if options.activate && !activate_now {
        secret = activate(client, &id(&user)?, false).await?;
    }
    Ok((Applied::Changed, secret))
}

/// Activates a STAGED user; without an email, the activation link Okta returns is the secret.
async fn activate(
    client: &OktaClient,
    user: &str,
    send_email: bool,
) -> Result<Option<SecretString>, Failure> {
    let url = client.url(
        &format!("/api/v1/users/{user}/lifecycle/activate"),
        &[("sendEmail", if send_email { "true" } else { "false" })],
    )?;
    let answer = client.send_json(Method::POST, url, None).await?;
    Ok(answer
        .body
        .get("activationUrl")
        .and_then(Value::as_str)
        .map(|link| SecretString::from(link.to_string())))
}

/// Whether the account is retired as `mode` says: SUSPENDED, DEPROVISIONED, or gone.
pub async fn retired(
    client: &OktaClient,
    account: &AccountRef,
    mode: RetireMode,
) -> Result<Observed, Failure> {
    let user = match client
        .get(&format!("/api/v1/users/{}", account.id), &[])
        .await
    {
        Ok(answer) => Some(answer.body),
        Err(failure) if is_not_found(&failure) => None,
        Err(failure) => return Err(failure),
    };
    let done = match (mode, &user) {
        (RetireMode::Delete, user) => user.is_none(),
        (_, None) => true,
        (RetireMode::Suspend, Some(user)) => status(user) == "SUSPENDED",
        (RetireMode::Deactivate, Some(user)) => status(user) == "DEPROVISIONED",
    };
    Ok(Observed::from(done))
}

/// Retires the account as `mode` says. Okta deletes only a DEPROVISIONED user, so a deletion
/// deactivates first; each step is skipped when its end state already holds.
pub async fn retire(
    client: &OktaClient,
    account: &AccountRef,
    mode: RetireMode,
) -> Result<Applied, Failure> {
    let path = format!("/api/v1/users/{}", account.id);
    let user = match client.get(&path, &[]).await {
        Ok(answer) => answer.body,
        // Gone is as retired as an account gets.
        Err(failure) if is_not_found(&failure) => return Ok(Applied::AlreadyPresent),
        Err(failure) => return Err(failure),
    };
    let lifecycle = |verb: &str| -> Result<reqwest::Url, Failure> {
        client.url(
            &format!("{path}/lifecycle/{verb}"),
            &[("sendEmail", "false")],
        )
    };
    match (mode, status(&user)) {
        (RetireMode::Suspend, "SUSPENDED") | (RetireMode::Deactivate, "DEPROVISIONED") => {
            Ok(Applied::AlreadyPresent)
        }
        (RetireMode::Suspend, _) => {
            let url = client.url(&format!("{path}/lifecycle/suspend"), &[])?;
            client.send_json(Method::POST, url, None).await?;
            Ok(Applied::Changed)
        }
        (RetireMode::Deactivate, _) => {
            client
                .send_json(Method::POST, lifecycle("deactivate")?, None)
                .await?;
            Ok(Applied::Changed)
        }
        (RetireMode::Delete, current) => {
            if current != "DEPROVISIONED" {
                client
                    .send_json(Method::POST, lifecycle("deactivate")?, None)
                    .await?;
            }
            let url = client.url(&path, &[("sendEmail", "false")])?;
            match client.send_json(Method::DELETE, url, None).await {
                Ok(_) => Ok(Applied::Changed),
                Err(failure) if is_not_found(&failure) => Ok(Applied::Changed),
                Err(failure) => Err(failure),
            }
        }
    }
}
