//! `/api/v1/users/{id}/lifecycle/*` and `DELETE /api/v1/users/{id}/sessions`: status transitions with Okta's per-operation error codes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::context::{Ctx, no_content, ok, ok_empty};
use super::errors::{OktaError, OktaResult};
use super::ids;
use super::state::{Inner, Okta, UserStatus};
use super::users::{deactivate, status_error};

pub async fn lifecycle(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path((id, op)): Path<(String, String)>,
) -> OktaResult<Response> {
    let send_email = ctx.bool_param("sendEmail", op == "activate" || op == "reset_password")?;
    let revoke_sessions = ctx.bool_param("revokeSessions", false)?;
    let mut inner = o.core.state();
    let user = inner
        .find_user(&id)
        .ok_or_else(|| OktaError::not_found(&id, "User"))?;
    let uid = user.id.clone();
    let status = user.status;
    let has_password = user.has_password;
    let now = ctx.now;
    let token = || {
        let t = ids::request_id();
        json!({"activationToken": t, "activationUrl": ctx.url(&format!("/tokens/{t}/verify"))})
    };
    let (event, message, body): (&str, &str, Value) = match op.as_str() {
        "activate" => {
            match status {
                UserStatus::Staged | UserStatus::Deprovisioned => {}
                UserStatus::Active => return Err(status_error("E0000016")),
                _ => return Err(OktaError::wrong_status()),
            }
            // Without a password the user stays PROVISIONED until they finish the activation flow.
            let next = if has_password {
                UserStatus::Active
            } else {
                UserStatus::Provisioned
            };
            set_status(&mut inner, &uid, next, now);
            let body = if send_email { json!({}) } else { token() };
            ("user.lifecycle.activate", "Activate Okta user", body)
        }
        "reactivate" => {
            if !matches!(status, UserStatus::Provisioned | UserStatus::Recovery) {
                return Err(OktaError::wrong_status());
            }
            set_status(&mut inner, &uid, UserStatus::Provisioned, now);
            let body = if send_email { json!({}) } else { token() };
            ("user.lifecycle.reactivate", "Reactivate Okta user", body)
        }
        "deactivate" => {
            if status == UserStatus::Deprovisioned {
                return Err(OktaError::wrong_status());
            }
            deactivate(&mut inner, &ctx, &uid);
            inner.writes.count(format!("user/{uid}"));
            return Ok(ok_empty());
        }
        "suspend" => {
            if status != UserStatus::Active {
                return Err(OktaError::validation(
                    "suspendUser",
                    vec!["Cannot suspend a user that is not active".into()],
                ));
            }
            set_status(&mut inner, &uid, UserStatus::Suspended, now);
            ("user.lifecycle.suspend", "Suspend Okta user", Value::Null)
        }
        "unsuspend" => {
            if status != UserStatus::Suspended {
                return Err(OktaError::validation(
                    "unsuspendUser",
                    vec!["Cannot unsuspend a user that is not suspended".into()],
                ));
            }
            set_status(&mut inner, &uid, UserStatus::Active, now);
            (
                "user.lifecycle.unsuspend",
                "Unsuspend Okta user",
                Value::Null,
            )
        }
        "unlock" => {
            // ACTIVE is allowed too: it clears an unknown-device block and changes nothing visible.
            match status {
                UserStatus::LockedOut => {
                    set_status(&mut inner, &uid, UserStatus::Active, now);
                    inner.failed_sign_ins.remove(&uid);
                }
                UserStatus::Active => {
                    inner.failed_sign_ins.remove(&uid);
                }
                _ => return Err(status_error("E0000032")),
            }
            ("user.account.unlock", "Unlock user account", Value::Null)
        }
        "reset_password" => {
            if matches!(
                status,
                UserStatus::Staged | UserStatus::Deprovisioned | UserStatus::Suspended
            ) {
                return Err(OktaError::wrong_status());
            }
            count_password_reset(&mut inner, &uid, revoke_sessions);
            set_status(&mut inner, &uid, UserStatus::Recovery, now);
            let body = if send_email {
                json!({})
            } else {
                json!({"resetPasswordUrl": ctx.url(&format!("/signin/reset-password/{}", ids::request_id()))})
            };
            (
                "user.account.reset_password",
                "Fires when an Okta user resets password",
                body,
            )
        }
        "expire_password" => {
            if !matches!(status, UserStatus::Active | UserStatus::PasswordExpired) {
                return Err(OktaError::wrong_status());
            }
            set_status(&mut inner, &uid, UserStatus::PasswordExpired, now);
            let body = inner
                .users
                .get(&uid)
                .map(|u| u.to_json(&ctx))
                .unwrap_or(Value::Null);
            ("user.account.expire_password", "Expire user password", body)
        }
        "expire_password_with_temp_password" => {
            if !matches!(status, UserStatus::Active | UserStatus::PasswordExpired) {
                return Err(OktaError::wrong_status());
            }
            count_password_reset(&mut inner, &uid, revoke_sessions);
            set_status(&mut inner, &uid, UserStatus::PasswordExpired, now);
            // Shown to the caller once; the emulator keeps no copy.
            let temp: String = ids::request_id().chars().take(10).collect();
            (
                "user.account.expire_password",
                "Expire user password",
                json!({ "tempPassword": temp }),
            )
        }
        "reset_factors" => {
            if status == UserStatus::Deprovisioned {
                return Err(OktaError::wrong_status());
            }
            *inner.counters.factors_reset.entry(uid.clone()).or_default() += 1;
            (
                "user.mfa.factor.reset_all",
                "Reset all factors for user",
                Value::Null,
            )
        }
        _ => return Err(OktaError::path_not_found()),
    };
    inner.writes.count(format!("user/{uid}"));
    let t = vec![inner.user_target(&uid)];
    inner.log(&ctx, event, message, t);
    // Operations whose spec response has no content answer with an empty body.
    Ok(if body.is_null() {
        ok_empty()
    } else {
        ok(&body)
    })
}

/// Password resets leave nothing readable through the API; count them (and any sessions revoked with them).
fn count_password_reset(inner: &mut Inner, uid: &str, revoke_sessions: bool) {
    *inner
        .counters
        .passwords_reset
        .entry(uid.to_owned())
        .or_default() += 1;
    if revoke_sessions {
        *inner
            .counters
            .sessions_cleared
            .entry(uid.to_owned())
            .or_default() += 1;
    }
}

fn set_status(
    inner: &mut Inner,
    uid: &str,
    status: UserStatus,
    now: chrono::DateTime<chrono::Utc>,
) {
    if let Some(u) = inner.users.get_mut(uid) {
        u.set_status(status, now);
    }
}

pub async fn clear_sessions(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> OktaResult<Response> {
    let oauth = ctx.bool_param("oauthTokens", false)?;
    ctx.bool_param("forgetDevices", true)?;
    let mut inner = o.core.state();
    let uid = inner
        .find_user(&id)
        .map(|u| u.id.clone())
        .ok_or_else(|| OktaError::not_found(&id, "User"))?;
    *inner
        .counters
        .sessions_cleared
        .entry(uid.clone())
        .or_default() += 1;
    if oauth {
        *inner
            .counters
            .oauth_tokens_revoked
            .entry(uid.clone())
            .or_default() += 1;
    }
    inner.writes.count(format!("user/{uid}"));
    let t = vec![inner.user_target(&uid)];
    inner.log(&ctx, "user.session.clear", "Clear user session", t);
    Ok(no_content())
}
