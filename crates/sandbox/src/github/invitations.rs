//! Organisation invitations: `GET /orgs/{org}/invitations` (pending memberships of GitHub users and
//! invitations of an email no GitHub user has yet, `login: null`), `POST /orgs/{org}/invitations` (by
//! `invitee_id` or `email`, `role` `admin` | `direct_member` | `billing_manager` | `reinstate`),
//! `DELETE /orgs/{org}/invitations/{invitation_id}` (which also takes the invitee's user id, as PyGithub's
//! `cancel_invitation` sends it), and the sandbox's `POST /__sandbox/invitations/accept`, the invitee
//! accepting (for an email without a user: signing up with a `login`).
//!
//! `team_ids` are accepted and not kept: an invitee's team memberships are set through the team endpoints (which
//! hold a pending one for an invitee), as grantflow does.
//!
//! An invitation of a GitHub user is a pending membership (`org/membership/{login}` in the write counts,
//! like the membership endpoints); one of an email only is `org/invitation/{id}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{GithubError, GithubResult};
use super::org::{check_org, parse};
use super::pagination::{Ctx, no_content, ok, paged};
use super::state::{EmailInvitation, Github, Inner, Membership, User, ts};

/// GitHub's 422 for an invitee who is a member or invited already, word for word (typo included), as
/// reported in github/rest-api-description#4109.
fn already_part() -> GithubError {
    let mut e = GithubError::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    e.errors = vec![json!({
        "resource": "OrganizationInvitation",
        "code": "unprocessable",
        "field": "data",
        "message": "A user with this email addresss is already a part of this organization",
    })];
    e
}

/// The invitation's role as GitHub names it (`direct_member` for a plain member).
fn role_name(role: &str) -> &'static str {
    match role {
        "admin" => "admin",
        "billing_manager" => "billing_manager",
        _ => "direct_member",
    }
}

/// An invitation as GitHub shows it.
struct Shown<'a> {
    id: u64,
    login: Option<&'a str>,
    email: Option<&'a str>,
    role: &'a str,
    since: chrono::DateTime<chrono::Utc>,
    team_count: usize,
}

fn invitation_json(ctx: &Ctx, o: &Github, i: &Shown<'_>) -> Value {
    let id = i.id;
    json!({
        "id": id, "node_id": format!("OI_sbx{id}"),
        "login": i.login, "email": i.email,
        "role": role_name(i.role),
        "created_at": ts(i.since), "failed_at": Value::Null, "failed_reason": Value::Null,
        "inviter": Value::Null, "team_count": i.team_count,
        "invitation_teams_url": format!("{}/organizations/{}/invitations/{id}/teams", ctx.base, o.org_id),
        "invitation_source": "member",
    })
}

fn user_invitation(ctx: &Ctx, o: &Github, inner: &Inner, u: &User, m: &Membership) -> Value {
    let key = u.login.to_lowercase();
    let team_count = inner
        .teams
        .values()
        .filter(|t| t.members.contains_key(&key))
        .count();
    invitation_json(
        ctx,
        o,
        &Shown {
            id: m.invitation_id,
            login: Some(&u.login),
            email: Some(&u.email),
            role: &m.role,
            since: m.since,
            team_count,
        },
    )
}

fn email_invitation(ctx: &Ctx, o: &Github, i: &EmailInvitation) -> Value {
    invitation_json(
        ctx,
        o,
        &Shown {
            id: i.id,
            login: None,
            email: Some(&i.email),
            role: &i.role,
            since: i.since,
            team_count: 0,
        },
    )
}

pub async fn list_invitations(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path(org): Path<String>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let inner = o.core.state();
    let mut items: Vec<Value> = inner
        .memberships
        .iter()
        .filter(|(_, m)| m.pending)
        .filter_map(|(login, m)| inner.users.get(login).map(|u| (u, m)))
        .map(|(u, m)| user_invitation(&ctx, &o, &inner, u, m))
        .collect();
    items.extend(
        inner
            .email_invitations
            .values()
            .map(|i| email_invitation(&ctx, &o, i)),
    );
    paged(&ctx, items)
}

#[derive(Deserialize)]
struct NewInvitation {
    #[serde(default)]
    invitee_id: Option<u64>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

pub async fn create_invitation(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path(org): Path<String>,
    body: Bytes,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let b: NewInvitation = parse(&body)?;
    let role = b.role.unwrap_or_else(|| "direct_member".into());
    if !["admin", "direct_member", "billing_manager", "reinstate"].contains(&role.as_str()) {
        return Err(GithubError::validation(
            "OrganizationInvitation",
            "role",
            "invalid",
        ));
    }
    let stored_role = if role == "admin" { "admin" } else { "member" };
    let now = o.core.now();
    let mut inner = o.core.state();
    // Exactly one of invitee_id and email.
    let user = match (b.invitee_id, b.email.as_deref()) {
        (Some(id), None) => Some(
            inner
                .users
                .iter()
                .find(|(_, u)| u.id == id)
                .map(|(k, _)| k.clone())
                .ok_or_else(|| {
                    GithubError::validation("OrganizationInvitation", "invitee_id", "invalid")
                })?,
        ),
        (None, Some(email)) if email.contains('@') => inner
            .users
            .iter()
            .find(|(_, u)| u.email.eq_ignore_ascii_case(email))
            .map(|(k, _)| k.clone()),
        (None, Some(_)) => {
            return Err(GithubError::validation(
                "OrganizationInvitation",
                "email",
                "invalid",
            ));
        }
        _ => {
            return Err(GithubError::validation(
                "OrganizationInvitation",
                "invitee_id",
                "missing_field",
            ));
        }
    };
    let body = match user {
        Some(key) => {
            if inner.memberships.contains_key(&key) {
                return Err(already_part());
            }
            inner.writes.count(format!("org/membership/{key}"));
            let invitation_id = inner.new_id();
            let m = Membership {
                role: stored_role.into(),
                pending: true,
                invitation_id,
                since: now,
            };
            inner.memberships.insert(key.clone(), m.clone());
            let u = inner
                .users
                .get(&key)
                .cloned()
                .ok_or_else(GithubError::not_found)?;
            user_invitation(&ctx, &o, &inner, &u, &m)
        }
        None => {
            let email = b.email.unwrap_or_default();
            if inner
                .email_invitations
                .values()
                .any(|i| i.email.eq_ignore_ascii_case(&email))
            {
                return Err(already_part());
            }
            let id = inner.new_id();
            inner.writes.count(format!("org/invitation/{id}"));
            let invitation = EmailInvitation {
                id,
                email,
                role: if role == "billing_manager" {
                    role.clone()
                } else {
                    stored_role.into()
                },
                since: now,
            };
            let body = email_invitation(&ctx, &o, &invitation);
            inner.email_invitations.insert(id, invitation);
            body
        }
    };
    Ok((StatusCode::CREATED, ok(&body)).into_response())
}

/// Cancels an invitation by its id, or (PyGithub's `cancel_invitation`) by the invitee's user id.
pub async fn cancel_invitation(
    State(o): State<Arc<Github>>,
    Path((org, id)): Path<(String, String)>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let id: u64 = id.parse().map_err(|_| GithubError::not_found())?;
    let mut inner = o.core.state();
    if inner.email_invitations.remove(&id).is_some() {
        inner.writes.count(format!("org/invitation/{id}"));
        return Ok(no_content());
    }
    let key = inner
        .memberships
        .iter()
        .filter(|(_, m)| m.pending)
        .find(|(login, m)| {
            m.invitation_id == id || inner.users.get(*login).is_some_and(|u| u.id == id)
        })
        .map(|(login, _)| login.clone())
        .ok_or_else(GithubError::not_found)?;
    inner.writes.count(format!("org/membership/{key}"));
    inner.memberships.remove(&key);
    for t in inner.teams.values_mut() {
        t.members.remove(&key);
    }
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Acceptance {
    /// The invited email (or, for a GitHub user's invitation, their login).
    #[serde(default)]
    email: Option<String>,
    /// A GitHub user's login; for an email without a user, the login they sign up with.
    #[serde(default)]
    login: Option<String>,
}

/// `POST /__sandbox/invitations/accept`: the invitee accepts; the membership (and its pending team
/// memberships) becomes active. An email nobody on GitHub has is first a new user named `login`.
pub async fn accept(State(o): State<Arc<Github>>, body: Bytes) -> Response {
    match accepted(&o, &body) {
        Ok(user) => (StatusCode::OK, ok(&user)).into_response(),
        Err(why) => (StatusCode::BAD_REQUEST, ok(&json!({ "error": why }))).into_response(),
    }
}

fn accepted(o: &Github, body: &Bytes) -> Result<Value, String> {
    let a: Acceptance = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut inner = o.core.state();
    let email_invitation = a.email.as_deref().and_then(|email| {
        inner
            .email_invitations
            .values()
            .find(|i| i.email.eq_ignore_ascii_case(email))
            .map(|i| i.id)
    });
    let key = match email_invitation {
        Some(id) => {
            let login = a
                .login
                .clone()
                .ok_or("an email without a GitHub user needs the `login` they sign up with")?;
            let key = login.to_lowercase();
            if inner.users.contains_key(&key) {
                return Err(format!("login {login} is taken"));
            }
            let invitation = inner
                .email_invitations
                .remove(&id)
                .ok_or("no such invitation")?;
            let user_id = inner.new_id();
            inner.users.insert(
                key.clone(),
                User {
                    id: user_id,
                    login: login.clone(),
                    name: login,
                    email: invitation.email,
                    suspended_at: None,
                },
            );
            let role = if invitation.role == "admin" {
                "admin"
            } else {
                "member"
            };
            inner.memberships.insert(
                key.clone(),
                Membership {
                    role: role.into(),
                    pending: true,
                    invitation_id: id,
                    since: invitation.since,
                },
            );
            key
        }
        None => {
            let who = a.login.or(a.email).ok_or("give `email` or `login`")?;
            inner
                .find_user(&who)
                .ok_or_else(|| format!("{who} has no invitation"))?
        }
    };
    let m = inner
        .memberships
        .get_mut(&key)
        .filter(|m| m.pending)
        .ok_or_else(|| format!("{key} has no invitation"))?;
    m.pending = false;
    for t in inner.teams.values_mut() {
        if let Some(tm) = t.members.get_mut(&key) {
            tm.pending = false;
        }
    }
    let u = inner.users.get(&key).ok_or("no such user")?;
    Ok(json!({ "login": u.login, "id": u.id }))
}
