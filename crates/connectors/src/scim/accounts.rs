//! Accounts through SCIM 2.0 Users (RFC 7643 §4.1, RFC 7644 §3.3-3.6), shared by the generic SCIM connector
//! and Slack's SCIM API: a user created with `POST /Users` unless one with its userName or email exists (so a
//! retried creation that took effect is never a second user), retired with `PATCH replace active: false` or
//! `DELETE /Users/{id}` (Slack's DELETE deactivates), its profile changed with `PATCH replace` of the
//! declared attributes only.

use grantflow_model::{AccountOptions, AccountRef, RetireMode};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::ScimClient;
use super::{PATCH_OP, eq_filter};
use crate::{Applied, Failure, Observed};

/// The SCIM core User schema (RFC 7643 §8.7.1).
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// What a provider's `DELETE /Users/{id}` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteMeans {
    /// The user is gone (RFC 7644 §3.6).
    Gone,
    /// The user stays, deactivated (`active: false`): Slack never deletes a user.
    Deactivated,
}

/// A SCIM id of a user: its id when the plan knows it, else the user found by the account's login (as userName,
/// then as an email) and by the person's email.
pub async fn find(client: &ScimClient, account: &AccountRef) -> Result<Option<Value>, Failure> {
    if account.pending_email().is_none() {
        return match client.get(&["Users", &account.id], &[]).await {
            Ok(reply) => Ok(Some(reply.body)),
            Err(failure) if is_not_found(&failure) => Ok(None),
            Err(failure) => Err(failure),
        };
    }
    let email = crate::pending_email(account).unwrap_or(&account.login);
    let mut tries = vec![("userName", account.login.as_str())];
    for value in [account.login.as_str(), email] {
        if value.contains('@') && !tries.contains(&("emails.value", value)) {
            tries.push(("emails.value", value));
        }
    }
    for (attr, value) in tries {
        let found = match client
            .list("Users", Some(&eq_filter(attr, value)), |_| {})
            .await
        {
            Ok(found) => found,
            // Not every provider filters on emails.value; for this lookup that only means "not found".
            Err(Failure::Permanent { vendor_code, .. })
                if attr != "userName" && vendor_code == "invalidFilter" =>
            {
                continue;
            }
            Err(failure) => return Err(failure),
        };
        // Two users with one email: nothing is done on a guess.
        if found.len() == 1 {
            return Ok(found.into_iter().next());
        }
    }
    Ok(None)
}

pub fn is_not_found(failure: &Failure) -> bool {
    matches!(
        failure,
        Failure::Permanent {
            status: Some(404),
            ..
        }
    )
}

fn id_of(user: &Value) -> Result<String, Failure> {
    user.get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Failure::unexpected_response("a SCIM user without an id", None))
}

/// `active` is optional in SCIM; a user without it is active.
fn is_active(user: &Value) -> bool {
    super::mapping::is_active(user)
}

/// `{"name.givenName": "Ann"}` as `{"name": {"givenName": "Ann"}}`: a policy names sub-attributes with SCIM's
/// attribute paths (RFC 7644 §3.10); the body of a POST nests them.
fn nested(attributes: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (path, value) in attributes {
        match path.split_once('.') {
            Some((parent, child)) => {
                let slot = out
                    .entry(parent.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = slot {
                    map.insert(child.to_string(), value.clone());
                }
            }
            None => {
                out.insert(path.clone(), value.clone());
            }
        }
    }
    out
}

/// The attribute at SCIM path `path` (`title`, `name.givenName`) of a user as the provider shows it.
fn at<'a>(user: &'a Value, path: &str) -> &'a Value {
    let pointer = format!("/{}", path.replace('.', "/"));
    user.pointer(&pointer).unwrap_or(&Value::Null)
}

/// The body a creation sends: the policy's attributes (SCIM names), with what the connector fills in:
/// `userName` (`user_name` of the login), `emails` (the person's email as the primary work address) when
/// it has one, and `active` as the options say.
pub fn creation_body(
    account: &AccountRef,
    attributes: &Map<String, Value>,
    options: &AccountOptions,
    user_name: impl Fn(&str) -> String,
) -> Value {
    let mut body = nested(attributes);
    body.insert("schemas".into(), json!([USER_SCHEMA]));
    body.entry("userName")
        .or_insert_with(|| Value::String(user_name(&account.login)));
    let email = crate::pending_email(account)
        .map(str::to_string)
        .or_else(|| account.login.contains('@').then(|| account.login.clone()));
    if let Some(email) = email {
        body.entry("emails")
            .or_insert_with(|| json!([{"value": email, "type": "work", "primary": true}]));
    }
    body.entry("active")
        .or_insert_with(|| Value::Bool(options.activate));
    Value::Object(body)
}

/// Creates the user unless it exists (found by userName or email); a 409 `uniqueness` (made meanwhile by
/// another run or a person) is the creation having taken effect when the user is then found.
pub async fn create(
    client: &ScimClient,
    account: &AccountRef,
    body: &Value,
) -> Result<Applied, Failure> {
    if find(client, account).await?.is_some() {
        return Ok(Applied::AlreadyPresent);
    }
    match client
        .call(Method::POST, &["Users"], &[], Some(body), None)
        .await
    {
        Ok(_) => Ok(Applied::Changed),
        Err(failure) if failure.is_vendor_code("uniqueness") => {
            match find(client, account).await? {
                Some(_) => Ok(Applied::AlreadyPresent),
                None => Err(failure),
            }
        }
        Err(failure) => Err(failure),
    }
}

pub async fn created(client: &ScimClient, account: &AccountRef) -> Result<Observed, Failure> {
    Ok(Observed::from(find(client, account).await?.is_some()))
}

/// Whether the account is retired as `mode` wants: inactive (or gone) for suspend and deactivate; gone for a
/// deletion where DELETE deletes.
pub async fn retired(
    client: &ScimClient,
    account: &AccountRef,
    mode: RetireMode,
    delete: DeleteMeans,
) -> Result<Observed, Failure> {
    let user = find(client, account).await?;
    let done = match (mode, delete, &user) {
        (_, _, None) => true,
        (RetireMode::Delete, DeleteMeans::Gone, Some(_)) => false,
        (_, _, Some(user)) => !is_active(user),
    };
    Ok(Observed::from(done))
}

/// Retires the account: suspend and deactivate switch `active` off (`DELETE` where that is what the provider's
/// DELETE does), a deletion DELETEs. A user already in that state, or gone, is left alone.
pub async fn retire(
    client: &ScimClient,
    account: &AccountRef,
    mode: RetireMode,
    delete: DeleteMeans,
) -> Result<Applied, Failure> {
    let Some(user) = find(client, account).await? else {
        return Ok(Applied::AlreadyPresent);
    };
    let id = id_of(&user)?;
    let deleting = mode == RetireMode::Delete || delete == DeleteMeans::Deactivated;
    // An inactive user is retired, unless the deletion wanted is one that removes it.
    let removes = deleting && delete == DeleteMeans::Gone;
    if !is_active(&user) && !removes {
        return Ok(Applied::AlreadyPresent);
    }
    if deleting {
        return match client
            .call(Method::DELETE, &["Users", &id], &[], None, None)
            .await
        {
            Ok(_) => Ok(Applied::Changed),
            Err(failure) if is_not_found(&failure) => Ok(Applied::AlreadyPresent),
            Err(failure) => Err(failure),
        };
    }
    let body = json!({
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "active", "value": false}],
    });
    client
        .call(Method::PATCH, &["Users", &id], &[], Some(&body), None)
        .await?;
    Ok(Applied::Changed)
}

/// The declared attributes whose values differ from the user's.
fn differing<'a>(user: &Value, after: &'a Map<String, Value>) -> Vec<(&'a String, &'a Value)> {
    after
        .iter()
        .filter(|(path, wanted)| at(user, path) != *wanted)
        .collect()
}

pub async fn profile_updated(
    client: &ScimClient,
    account: &AccountRef,
    after: &Map<String, Value>,
) -> Result<Observed, Failure> {
    let done = match find(client, account).await? {
        Some(user) => differing(&user, after).is_empty(),
        None => false,
    };
    Ok(Observed::from(done))
}

/// `PATCH replace` of the declared attributes that differ, the others left as they are.
pub async fn update_profile(
    client: &ScimClient,
    account: &AccountRef,
    after: &Map<String, Value>,
    missing: impl FnOnce() -> Failure,
) -> Result<Applied, Failure> {
    let Some(user) = find(client, account).await? else {
        return Err(missing());
    };
    let changes = differing(&user, after);
    if changes.is_empty() {
        return Ok(Applied::AlreadyPresent);
    }
    let operations: Vec<Value> = changes
        .into_iter()
        .map(|(path, value)| json!({"op": "replace", "path": path, "value": value}))
        .collect();
    let body = json!({ "schemas": [PATCH_OP], "Operations": operations });
    client
        .call(
            Method::PATCH,
            &["Users", &id_of(&user)?],
            &[],
            Some(&body),
            None,
        )
        .await?;
    Ok(Applied::Changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_creation_fills_user_name_email_and_active_and_nests_sub_attributes() {
        let attributes = json!({"name.givenName": "Ann", "name.familyName": "Lee", "title": "SE"});
        let body = creation_body(
            &AccountRef::pending("Ann.Lee@example.com"),
            attributes.as_object().unwrap_or(&Map::new()),
            &AccountOptions::default(),
            str::to_string,
        );
        assert_eq!(body["userName"], "ann.lee@example.com");
        assert_eq!(
            body["name"],
            json!({"givenName": "Ann", "familyName": "Lee"})
        );
        assert_eq!(body["emails"][0]["value"], "ann.lee@example.com");
        assert_eq!(body["emails"][0]["primary"], true);
        assert_eq!(body["active"], true);
        assert_eq!(body["title"], "SE");
        let staged = creation_body(
            &AccountRef::pending("x@example.com"),
            &Map::new(),
            &AccountOptions {
                activate: false,
                ..AccountOptions::default()
            },
            |login| login.split('@').next().unwrap_or(login).to_string(),
        );
        assert_eq!(staged["active"], false);
        assert_eq!(staged["userName"], "x");
    }

    #[test]
    fn profile_paths_read_sub_attributes() {
        let user = json!({"title": "SE", "name": {"givenName": "Ann"}});
        assert_eq!(at(&user, "name.givenName"), "Ann");
        let after = json!({"title": "SE", "name.givenName": "Anna"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let diff = differing(&user, &after);
        assert_eq!(diff.len(), 1);
        assert_eq!(diff[0].0, "name.givenName");
    }
}
