//! `/api/v4/users` and `/api/v4/user`: listing with `search`/`username`, lookup, and the administrator's
//! user lifecycle: creation, `POST /users/:id/block`, `POST /users/:id/deactivate` (both answer 201 `true`),
//! `PUT /users/:id` (the profile fields below, answered with the user), and `DELETE /users/:id` (204; the
//! user's memberships go with it). Each write counts as `user/{id}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::errors::{GitlabError, GitlabResult, Params};
use super::pagination::paged;
use super::state::{Gitlab, User, UserProfile};
use crate::emulator::{Ctx, json_response};

pub async fn list(State(g): State<Arc<Gitlab>>, ctx: Ctx) -> GitlabResult<Response> {
    let inner = g.core.state();
    let search = ctx.param("search").map(str::to_lowercase);
    let username = ctx.param("username");
    let items = inner
        .users
        .values()
        .filter(|u| username.is_none_or(|n| u.username.eq_ignore_ascii_case(n)))
        .filter(|u| {
            // GitLab matches name and username by substring, but an email only in full.
            search.as_deref().is_none_or(|s| {
                u.email.eq_ignore_ascii_case(s)
                    || u.username.to_lowercase().contains(s)
                    || u.name.to_lowercase().contains(s)
            })
        })
        .filter(|u| ctx.param("active") != Some("true") || u.state == "active")
        .filter(|u| ctx.param("blocked") != Some("true") || u.state == "blocked")
        .map(|u| inner.user_json(u, &ctx))
        .collect();
    paged(&ctx, items)
}

pub async fn get(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> GitlabResult<Response> {
    let inner = g.core.state();
    let user = id
        .parse::<u64>()
        .ok()
        .and_then(|id| inner.users.get(&id))
        .ok_or_else(|| GitlabError::not_found("User"))?;
    Ok(json_response(StatusCode::OK, &inner.user_json(user, &ctx)))
}

/// The token's own user: an administrator that exists only for the API.
pub async fn current(ctx: Ctx) -> Response {
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "id": 1_000_000,
            "username": "sandbox-admin",
            "name": "Sandbox Admin",
            "state": "active",
            "is_admin": true,
            "web_url": format!("{}/sandbox-admin", ctx.base),
        }),
    )
}

pub async fn create(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    headers: HeaderMap,
    body: Bytes,
) -> GitlabResult<Response> {
    let p = Params::from(&ctx, &headers, &body)?;
    p.require(&["email", "name", "username"])?;
    let has_password = ["password", "reset_password", "force_random_password"]
        .iter()
        .any(|k| p.get(k).is_some());
    if !has_password {
        return Err(GitlabError::param(
            "password, reset_password, force_random_password are missing, at least one parameter must be provided"
                .into(),
        ));
    }
    let (email, name, username) = (
        p.get("email").unwrap_or_default(),
        p.get("name").unwrap_or_default(),
        p.get("username").unwrap_or_default(),
    );
    let mut inner = g.core.state();
    if inner
        .users
        .values()
        .any(|u| u.email.eq_ignore_ascii_case(email))
    {
        return Err(GitlabError::conflict("Email has already been taken"));
    }
    if inner
        .users
        .values()
        .any(|u| u.username.eq_ignore_ascii_case(username))
    {
        return Err(GitlabError::conflict("Username has already been taken"));
    }
    let mut profile = UserProfile::default();
    set_profile(&mut profile, &p)?;
    let id = inner.next();
    let user = User {
        id,
        username: username.to_owned(),
        name: name.to_owned(),
        email: email.to_owned(),
        state: "active".into(),
        created_at: ctx.now,
        profile,
    };
    let body = inner.user_json(&user, &ctx);
    inner.pending.remove(&email.to_lowercase());
    inner.users.insert(id, user);
    inner.writes.count(format!("user/{id}"));
    Ok(json_response(StatusCode::CREATED, &body))
}

/// The profile fields of a creation or an update, each only when sent: an empty text clears one.
fn set_profile(profile: &mut UserProfile, p: &Params) -> GitlabResult<()> {
    for (name, field) in [
        ("organization", &mut profile.organization),
        ("location", &mut profile.location),
        ("bio", &mut profile.bio),
    ] {
        if let Some(value) = p.given(name) {
            *field = value.to_owned();
        }
    }
    if let Some(external) = p.boolean("external")? {
        profile.external = external;
    }
    Ok(())
}

/// `PUT /users/:id`: an administrator changes the user's `name` and profile fields (`organization`,
/// `location`, `bio`, `external`); fields not sent keep their values. Answers 200 with the user.
/// (GitLab takes more, such as `email` and `username`; the sandbox keeps only these.)
pub async fn update(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> GitlabResult<Response> {
    let p = Params::from(&ctx, &headers, &body)?;
    let mut inner = g.core.state();
    let id = user_id(&inner, &id)?;
    if p.given("name").is_some_and(|n| n.trim().is_empty()) {
        return Err(GitlabError::invalid("name", "can't be blank".into()));
    }
    let mut user = inner
        .users
        .get(&id)
        .cloned()
        .ok_or_else(|| GitlabError::not_found("User"))?;
    if let Some(name) = p.get("name") {
        user.name = name.to_owned();
    }
    set_profile(&mut user.profile, &p)?;
    let body = inner.user_json(&user, &ctx);
    inner.users.insert(id, user);
    inner.writes.count(format!("user/{id}"));
    Ok(json_response(StatusCode::OK, &body))
}

/// The user by the id in the path, as GitLab's `find_user` does: 404 `User Not Found` otherwise.
fn user_id(inner: &super::state::Inner, id: &str) -> GitlabResult<u64> {
    id.parse::<u64>()
        .ok()
        .filter(|id| inner.users.contains_key(id))
        .ok_or_else(|| GitlabError::not_found("User"))
}

/// `201 true`, as the block and deactivate endpoints answer.
fn done() -> Response {
    json_response(StatusCode::CREATED, &serde_json::Value::Bool(true))
}

/// Moves a user to `to` as a state-changing admin call does; `refuse` is GitLab's 403 for the state
/// the user is in, if that state forbids the change.
fn set_state(
    g: &Gitlab,
    id: &str,
    to: &str,
    refuse: impl Fn(&str) -> Option<&'static str>,
) -> GitlabResult<Response> {
    let mut inner = g.core.state();
    let id = user_id(&inner, id)?;
    inner.writes.count(format!("user/{id}"));
    let user = inner
        .users
        .get_mut(&id)
        .ok_or_else(|| GitlabError::not_found("User"))?;
    if let Some(message) = refuse(&user.state) {
        return Err(GitlabError::forbidden(message));
    }
    user.state = to.into();
    Ok(done())
}

/// `POST /users/:id/block`: an LDAP-blocked user cannot be changed by the API (403); blocking a blocked
/// user changes nothing and answers the same.
pub async fn block(State(g): State<Arc<Gitlab>>, Path(id): Path<String>) -> GitlabResult<Response> {
    set_state(&g, &id, "blocked", |state| {
        (state == "ldap_blocked").then_some("LDAP blocked users cannot be modified by the API")
    })
}

/// `POST /users/:id/deactivate`: a blocked user cannot be deactivated (403); a deactivated one stays so.
/// (GitLab also refuses a user active within its dormancy period; the sandbox's users have no activity.)
pub async fn deactivate(
    State(g): State<Arc<Gitlab>>,
    Path(id): Path<String>,
) -> GitlabResult<Response> {
    set_state(&g, &id, "deactivated", |state| {
        state
            .contains("blocked")
            .then_some("A blocked user cannot be deactivated by the API")
    })
}

/// `DELETE /users/:id`: 204, the user and their memberships gone.
pub async fn delete(
    State(g): State<Arc<Gitlab>>,
    Path(id): Path<String>,
) -> GitlabResult<Response> {
    let mut inner = g.core.state();
    let id = user_id(&inner, &id)?;
    inner.writes.count(format!("user/{id}"));
    inner.users.remove(&id);
    inner.members.retain(|(_, uid), _| *uid != id);
    Ok(StatusCode::NO_CONTENT.into_response())
}
