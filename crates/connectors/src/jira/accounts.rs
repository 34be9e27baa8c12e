//! Accounts as code in Jira Cloud: an account created with `POST user` (`{"emailAddress", "products"}`), found by
//! its email (`GET user/search?query=`) so a retried creation that took effect is a no-op, and retired only by
//! deletion (`DELETE user?accountId=`), which removes it from the site's user base (the Atlassian account stays).
//! Jira's REST API has no deactivation (`active` is read-only; deactivation lives in Atlassian Administration's
//! own API, with an organisation key this connection does not hold), so `suspend` and `deactivate` are refused
//! before planning, as are options Jira's creation has no counterpart for.

use grantflow_model::{AccountOptions, AccountRef, RetireMode};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::JiraClient;
use crate::{Applied, Failure, Observed};

/// Products a created account gets when the policy names none.
pub const DEFAULT_PRODUCTS: &[&str] = &["jira-software"];

/// The products `POST user` takes (Atlassian's REST v3 reference).
const PRODUCTS: &[&str] = &[
    "jira-core",
    "jira-servicedesk",
    "jira-product-discovery",
    "jira-software",
];

/// The attributes a creation reads: Jira ignores any other (display names come from the Atlassian account).
const ATTRIBUTES: &[&str] = &["emailAddress", "products", "login"];

fn refused(connection: &str, login: &str, why: impl std::fmt::Display) -> Failure {
    Failure::unsupported(format!(
        "{connection}: jira cannot manage the account {login} as planned: {why}"
    ))
}

/// The products of a creation: the `products` attribute (a list of product keys) or the default.
fn products(attributes: &Map<String, Value>) -> Result<Vec<String>, String> {
    let Some(given) = attributes.get("products") else {
        return Ok(DEFAULT_PRODUCTS.iter().map(|p| (*p).to_string()).collect());
    };
    let list = given
        .as_array()
        .ok_or("`products` must be a list of product keys")?;
    list.iter()
        .map(|p| match p.as_str() {
            Some(p) if PRODUCTS.contains(&p) => Ok(p.to_string()),
            _ => Err(format!(
                "{p} is not a Jira product (one of {})",
                PRODUCTS.join(", ")
            )),
        })
        .collect()
}

/// Refuses, before planning, a creation Jira cannot make as asked.
pub fn check_create(
    connection: &str,
    account: &AccountRef,
    attributes: &Map<String, Value>,
    options: &AccountOptions,
) -> Result<(), Failure> {
    let login = account.login.as_str();
    if let Some(other) = attributes
        .keys()
        .find(|k| !ATTRIBUTES.contains(&k.as_str()))
    {
        return Err(refused(
            connection,
            login,
            format!(
                "Jira's user creation takes only `emailAddress` and `products`, not `{other}` (names and the rest come from the Atlassian account)"
            ),
        ));
    }
    products(attributes).map_err(|why| refused(connection, login, why))?;
    if !options.activate {
        return Err(refused(
            connection,
            login,
            "Jira has no staged account: a created account can sign in at once",
        ));
    }
    if options.temporary_password || options.send_email {
        return Err(refused(
            connection,
            login,
            "Jira sets no password and sends its own invitation: drop `temporary_password` / `send_email` for this system",
        ));
    }
    Ok(())
}

/// Refuses a retirement Jira's REST API cannot perform: only deletion exists.
pub fn check_retire(
    connection: &str,
    account: &AccountRef,
    mode: RetireMode,
) -> Result<(), Failure> {
    if mode != RetireMode::Delete {
        return Err(refused(
            connection,
            &account.login,
            format!(
                "Jira Cloud's REST API cannot {mode} an account (deactivation lives in Atlassian Administration); use retire: delete, which removes the user from Jira"
            ),
        ));
    }
    Ok(())
}

/// The email a creation makes the account with: the `emailAddress` attribute, else the planned email or login.
fn email<'a>(account: &'a AccountRef, attributes: &'a Map<String, Value>) -> &'a str {
    attributes
        .get("emailAddress")
        .and_then(Value::as_str)
        .or_else(|| crate::pending_email(account))
        .unwrap_or(account.login.as_str())
}

/// The account id of the user whose email is `email` exactly (the search also matches names).
pub async fn account_by_email(client: &JiraClient, email: &str) -> Result<Option<String>, Failure> {
    let found = client.get("user/search", &[("query", email)]).await?;
    let mut ids = found
        .as_array()
        .into_iter()
        .flatten()
        .filter(|u| {
            u.get("emailAddress")
                .and_then(Value::as_str)
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
        .filter_map(|u| u.get("accountId").and_then(Value::as_str))
        .map(str::to_string);
    let first = ids.next();
    // Two accounts with one email: nothing is done on a guess.
    Ok(if ids.next().is_some() { None } else { first })
}

/// Whether the account a creation wants exists (by email).
pub async fn created(
    client: &JiraClient,
    account: &AccountRef,
    attributes: &Map<String, Value>,
) -> Result<Observed, Failure> {
    let found = account_by_email(client, email(account, attributes)).await?;
    Ok(Observed::from(found.is_some()))
}

/// Creates the account unless one with its email exists.
pub async fn create(
    client: &JiraClient,
    connection: &str,
    account: &AccountRef,
    attributes: &Map<String, Value>,
) -> Result<Applied, Failure> {
    let email = email(account, attributes).to_string();
    if account_by_email(client, &email).await?.is_some() {
        return Ok(Applied::AlreadyPresent);
    }
    let products = products(attributes).map_err(|why| refused(connection, &account.login, why))?;
    client
        .send(
            Method::POST,
            "user",
            &[],
            Some(json!({"emailAddress": email, "products": products})),
        )
        .await?;
    Ok(Applied::Changed)
}

/// Whether the account exists (`GET user?accountId=`; 404 is gone).
async fn exists(client: &JiraClient, id: &str) -> Result<bool, Failure> {
    match client.get("user", &[("accountId", id)]).await {
        Ok(_) => Ok(true),
        Err(f) if f.is_status(404) => Ok(false),
        Err(f) => Err(f),
    }
}

/// Whether the account is deleted.
pub async fn retired(client: &JiraClient, account: &AccountRef) -> Result<Observed, Failure> {
    Ok(Observed::from(!exists(client, &account.id).await?))
}

/// Deletes the account, unless it is gone already.
pub async fn retire(
    client: &JiraClient,
    connection: &str,
    account: &AccountRef,
    mode: RetireMode,
) -> Result<Applied, Failure> {
    check_retire(connection, account, mode)?;
    if !exists(client, &account.id).await? {
        return Ok(Applied::AlreadyPresent);
    }
    match client
        .send(
            Method::DELETE,
            "user",
            &[("accountId", account.id.as_str())],
            None,
        )
        .await
    {
        Ok(_) => Ok(Applied::Changed),
        Err(f) if f.is_status(404) => Ok(Applied::AlreadyPresent),
        Err(f) => Err(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_take_jira_products_and_only_deletion_retires() {
        let account = AccountRef::pending("nia@example.com");
        let ok = json!({"products": ["jira-software", "jira-servicedesk"]});
        let ok = ok.as_object().cloned().unwrap_or_default();
        assert!(check_create("jira", &account, &ok, &AccountOptions::default()).is_ok());
        assert_eq!(products(&Map::new()), Ok(vec!["jira-software".to_string()]));
        let bad = json!({"products": ["confluence"]});
        let bad = bad.as_object().cloned().unwrap_or_default();
        assert!(check_create("jira", &account, &bad, &AccountOptions::default()).is_err());
        let named = json!({"displayName": "Nia"});
        let named = named.as_object().cloned().unwrap_or_default();
        assert!(check_create("jira", &account, &named, &AccountOptions::default()).is_err());
        for mode in [RetireMode::Suspend, RetireMode::Deactivate] {
            let why = check_retire("jira", &account, mode)
                .expect_err("refused")
                .to_string();
            assert!(
                why.contains("use retire: delete") && why.contains("nia@example.com"),
                "{why}"
            );
        }
        assert!(check_retire("jira", &account, RetireMode::Delete).is_ok());
    }
}
