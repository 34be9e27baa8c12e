//! Account actions (lifecycle calls, password and MFA resets, session revocation) and group push mappings:
//! the Okta calls behind `OpKind::AccountAction` and `OpKind::PushGroup`, and how each is observed.

use std::collections::BTreeMap;

use grantflow_model::{AccountRef, ResourceRef};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::client::OktaClient;
use crate::{Applied, Failure, Observed};

/// The actions the Okta connector performs, with the options each accepts.
pub const ACTIONS: &[(&str, &[&str])] = &[
    ("activate", &["send_email"]),
    ("reactivate", &["send_email"]),
    ("suspend", &[]),
    ("unsuspend", &[]),
    ("unlock", &[]),
    ("deactivate", &["send_email"]),
    ("delete", &["send_email"]),
    (
        "reset_password",
        &["send_email", "temp_password", "revoke_sessions"],
    ),
    ("expire_password", &[]),
    ("reset_mfa", &[]),
    ("clear_sessions", &["oauth_tokens"]),
];

fn invalid(message: String) -> Failure {
    Failure::Permanent {
        vendor_code: "invalid_action".into(),
        message,
        status: None,
    }
}

/// Checks the action's name and options before anything is sent.
pub fn validate(action: &str, params: &BTreeMap<String, String>) -> Result<(), Failure> {
    let Some((_, allowed)) = ACTIONS.iter().find(|(name, _)| *name == action) else {
        let known: Vec<&str> = ACTIONS.iter().map(|(name, _)| *name).collect();
        return Err(invalid(format!(
            "okta has no action \"{action}\" (known: {})",
            known.join(", ")
        )));
    };
    for (key, value) in params {
        if !allowed.contains(&key.as_str()) {
            return Err(invalid(format!(
                "okta action {action} takes no option \"{key}\" (options: {})",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            )));
        }
        if value != "true" && value != "false" {
            return Err(invalid(format!(
                "option {key} of okta action {action} must be true or false, not \"{value}\""
            )));
        }
    }
    Ok(())
}

fn flag(params: &BTreeMap<String, String>, key: &str, default: bool) -> bool {
    params.get(key).map(|v| v == "true").unwrap_or(default)
}

fn lifecycle(user: &str, op: &str) -> String {
    format!("/api/v1/users/{user}/lifecycle/{op}")
}

/// Performs one account action. A temporary password comes back as the secret, never in the result.
pub async fn apply(
    client: &OktaClient,
    account: &AccountRef,
    action: &str,
    params: &BTreeMap<String, String>,
) -> Result<(Applied, Option<SecretString>), Failure> {
    validate(action, params)?;
    let user = account.id.as_str();
    let bool_text = |b: bool| if b { "true" } else { "false" };
    let send_email = |default| bool_text(flag(params, "send_email", default));
    let (method, path, query): (Method, String, Vec<(&str, &str)>) = match action {
        "activate" => (
            Method::POST,
            lifecycle(user, "activate"),
            vec![("sendEmail", send_email(false))],
        ),
        "reactivate" => (
            Method::POST,
            lifecycle(user, "reactivate"),
            vec![("sendEmail", send_email(false))],
        ),
        "deactivate" => (
            Method::POST,
            lifecycle(user, "deactivate"),
            vec![("sendEmail", send_email(false))],
        ),
        "delete" => return delete(client, user, send_email(false)).await,
        "reset_password" if flag(params, "temp_password", false) => (
            Method::POST,
            lifecycle(user, "expire_password_with_temp_password"),
            vec![(
                "revokeSessions",
                bool_text(flag(params, "revoke_sessions", false)),
            )],
        ),
        "reset_password" => (
            Method::POST,
            lifecycle(user, "reset_password"),
            vec![
                ("sendEmail", send_email(true)),
                (
                    "revokeSessions",
                    bool_text(flag(params, "revoke_sessions", false)),
                ),
            ],
        ),
        "reset_mfa" => (Method::POST, lifecycle(user, "reset_factors"), vec![]),
        "clear_sessions" => (
            Method::DELETE,
            format!("/api/v1/users/{user}/sessions"),
            vec![(
                "oauthTokens",
                bool_text(flag(params, "oauth_tokens", false)),
            )],
        ),
        // suspend, unsuspend, unlock, expire_password: the verb is the path.
        other => (Method::POST, lifecycle(user, other), vec![]),
    };
    let url = client.url(&path, &query)?;
    let response = client.send_json(method, url, None).await?;
    let secret = response
        .body
        .get("tempPassword")
        .and_then(Value::as_str)
        .map(|p| SecretString::from(p.to_string()));
    Ok((Applied::Changed, secret))
}

/// Okta deletes only DEPROVISIONED users; the first DELETE of any other user deactivates them, so a second
/// one finishes the job.
async fn delete(
    client: &OktaClient,
    user: &str,
    send_email: &str,
) -> Result<(Applied, Option<SecretString>), Failure> {
    let path = format!("/api/v1/users/{user}");
    for _ in 0..2 {
        let url = client.url(&path, &[("sendEmail", send_email)])?;
        client.send_json(Method::DELETE, url, None).await?;
        match client.get(&path, &[]).await {
            Err(failure) if super::is_not_found(&failure) => {
                return Ok((Applied::Changed, None));
            }
            Err(failure) => return Err(failure),
            Ok(_) => continue,
        }
    }
    Err(Failure::Permanent {
        vendor_code: "not_deleted".into(),
        message: format!("okta user {user} still exists after two DELETE calls"),
        status: None,
    })
}

/// Whether the action's end state holds (without a call for an action that has none). Actions with no readable end state (MFA reset, session revocation,
/// password resets) are never "done", so they are repeated rather than silently skipped.
pub async fn observe(
    client: &OktaClient,
    account: &AccountRef,
    action: &str,
) -> Result<Observed, Failure> {
    let wanted: &[&str] = match action {
        "activate" | "reactivate" => &["ACTIVE", "PROVISIONED"],
        "unsuspend" | "unlock" => &["ACTIVE"],
        "suspend" => &["SUSPENDED"],
        "deactivate" => &["DEPROVISIONED"],
        "expire_password" => &["PASSWORD_EXPIRED"],
        "delete" => &[],
        _ => return Ok(Observed::NotDone),
    };
    let path = format!("/api/v1/users/{}", account.id);
    let status = match client.get(&path, &[]).await {
        Ok(response) => response
            .body
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_string),
        Err(failure) if super::is_not_found(&failure) => None,
        Err(failure) => return Err(failure),
    };
    let done = match status {
        None => action == "delete",
        Some(status) => wanted.contains(&status.as_str()),
    };
    Ok(if done {
        Observed::Done
    } else {
        Observed::NotDone
    })
}

fn mappings_path(app: &ResourceRef) -> String {
    format!("/api/v1/apps/{}/group-push/mappings", app.id)
}

/// The active mapping pushing `group` into `app`, if any.
async fn mapping(
    client: &OktaClient,
    group: &ResourceRef,
    app: &ResourceRef,
) -> Result<Option<Value>, Failure> {
    let mappings = client
        .get_all(
            &mappings_path(app),
            &[("sourceGroupId", group.id.as_str()), ("limit", "1000")],
            |_| {},
        )
        .await?;
    Ok(mappings
        .into_iter()
        .find(|m| m.get("sourceGroupId").and_then(Value::as_str) == Some(group.id.as_str())))
}

/// Creates an ACTIVE group push mapping (or activates an existing inactive one).
pub async fn push_group(
    client: &OktaClient,
    group: &ResourceRef,
    app: &ResourceRef,
    target_name: Option<&str>,
) -> Result<Applied, Failure> {
    if let Some(existing) = mapping(client, group, app).await? {
        if existing.get("status").and_then(Value::as_str) == Some("ACTIVE") {
            return Ok(Applied::AlreadyPresent);
        }
        let id = existing.get("id").and_then(Value::as_str).unwrap_or("");
        let url = client.url(&format!("{}/{id}", mappings_path(app)), &[])?;
        client
            .send_json(Method::PATCH, url, Some(json!({"status": "ACTIVE"})))
            .await?;
        return Ok(Applied::Changed);
    }
    let url = client.url(&mappings_path(app), &[])?;
    let body = json!({
        "sourceGroupId": group.id,
        "targetGroupName": target_name.unwrap_or(&group.name),
        "status": "ACTIVE",
    });
    client.send_json(Method::POST, url, Some(body)).await?;
    Ok(Applied::Changed)
}

pub async fn pushed(
    client: &OktaClient,
    group: &ResourceRef,
    app: &ResourceRef,
) -> Result<Observed, Failure> {
    let active = mapping(client, group, app)
        .await?
        .is_some_and(|m| m.get("status").and_then(Value::as_str) == Some("ACTIVE"));
    Ok(if active {
        Observed::Done
    } else {
        Observed::NotDone
    })
}

/// Sets the mapping pushing `group` into `app` to INACTIVE (`PATCH … {"status": "INACTIVE"}`): the app keeps
/// the pushed group, Okta stops updating it.
pub async fn deactivate_push(
    client: &OktaClient,
    group: &ResourceRef,
    app: &ResourceRef,
) -> Result<Applied, Failure> {
    let Some(existing) = mapping(client, group, app).await? else {
        return Ok(Applied::AlreadyPresent);
    };
    if existing.get("status").and_then(Value::as_str) == Some("INACTIVE") {
        return Ok(Applied::AlreadyPresent);
    }
    let id = existing.get("id").and_then(Value::as_str).unwrap_or("");
    let url = client.url(&format!("{}/{id}", mappings_path(app)), &[])?;
    client
        .send_json(Method::PATCH, url, Some(json!({"status": "INACTIVE"})))
        .await?;
    Ok(Applied::Changed)
}

/// Deletes the (INACTIVE: Okta refuses an active one) mapping pushing `group` into `app`, leaving the group
/// in the app (`deleteTargetGroup=false`).
pub async fn delete_push(
    client: &OktaClient,
    group: &ResourceRef,
    app: &ResourceRef,
) -> Result<Applied, Failure> {
    let Some(existing) = mapping(client, group, app).await? else {
        return Ok(Applied::AlreadyPresent);
    };
    let id = existing.get("id").and_then(Value::as_str).unwrap_or("");
    let url = client.url(
        &format!("{}/{id}", mappings_path(app)),
        &[("deleteTargetGroup", "false")],
    )?;
    match client.send_json(Method::DELETE, url, None).await {
        Ok(_) => Ok(Applied::Changed),
        Err(failure) if super::is_not_found(&failure) => Ok(Applied::AlreadyPresent),
        Err(failure) => Err(failure),
    }
}

/// Whether the mapping pushing `group` into `app` is no longer active (`deleted`: no longer there at all).
pub async fn push_stopped(
    client: &OktaClient,
    group: &ResourceRef,
    app: &ResourceRef,
    deleted: bool,
) -> Result<Observed, Failure> {
    let found = mapping(client, group, app).await?;
    let done = match found {
        None => true,
        Some(_) if deleted => false,
        Some(m) => m.get("status").and_then(Value::as_str) != Some("ACTIVE"),
    };
    Ok(Observed::from(done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_actions_and_options_are_refused_before_any_call() {
        let none = BTreeMap::new();
        assert!(validate("suspend", &none).is_ok());
        let error = validate("explode", &none).expect_err("unknown action");
        assert!(error.message().contains("no action \"explode\""));
        let bad = BTreeMap::from([("oauth_tokens".to_string(), "true".to_string())]);
        assert!(validate("suspend", &bad).is_err());
        assert!(validate("clear_sessions", &bad).is_ok());
        let not_bool = BTreeMap::from([("oauth_tokens".to_string(), "yes".to_string())]);
        assert!(validate("clear_sessions", &not_bool).is_err());
    }
}
