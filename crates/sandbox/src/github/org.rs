//! Organisation handlers: the org, its members, memberships (member/admin) with pending invitations, users and
//! repositories.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{GithubError, GithubResult};
use super::pagination::{Ctx, no_content, ok, paged, paged_with};
use super::state::{Github, Inner, Membership};

/// The org in the path must be this emulator's (GitHub compares logins case-insensitively).
pub fn check_org(o: &Github, org: &str) -> GithubResult<()> {
    if org.eq_ignore_ascii_case(&o.org) {
        Ok(())
    } else {
        Err(GithubError::not_found())
    }
}

pub fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> GithubResult<T> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|_| GithubError::problems_parsing())
}

pub async fn get_org(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path(org): Path<String>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    Ok(ok(&o.org_json(&ctx.base)))
}

pub async fn list_members(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path(org): Path<String>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let role = ctx.param("role").unwrap_or("all").to_owned();
    if !["all", "admin", "member"].contains(&role.as_str()) {
        return Err(GithubError::validation("", "role", "invalid"));
    }
    let inner = o.core.state();
    let items = inner
        .memberships
        .iter()
        .filter(|(_, m)| !m.pending && (role == "all" || m.role == role))
        .filter_map(|(login, _)| inner.users.get(login))
        .collect();
    paged_with(&ctx, items, |u| inner.user_json(u, &ctx.base))
}

pub async fn check_member(
    State(o): State<Arc<Github>>,
    Path((org, user)): Path<(String, String)>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    if o.core.state().is_active_member(&user) {
        Ok(no_content())
    } else {
        Err(GithubError::not_found())
    }
}

fn membership_json(o: &Github, inner: &Inner, login: &str, m: &Membership, base: &str) -> Value {
    let user = inner
        .users
        .get(login)
        .map(|u| inner.user_json(u, base))
        .unwrap_or(Value::Null);
    let shown = user
        .get("login")
        .and_then(Value::as_str)
        .unwrap_or(login)
        .to_owned();
    json!({
        "url": format!("{base}/orgs/{}/memberships/{shown}", o.org),
        "state": if m.pending { "pending" } else { "active" },
        "role": m.role,
        "organization_url": format!("{base}/orgs/{}", o.org),
        "organization": o.org_json(base),
        "user": user,
    })
}

pub async fn get_membership(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path((org, user)): Path<(String, String)>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let inner = o.core.state();
    let key = user.to_lowercase();
    let m = inner
        .memberships
        .get(&key)
        .ok_or_else(GithubError::not_found)?;
    Ok(ok(&membership_json(&o, &inner, &key, m, &ctx.base)))
}

#[derive(Deserialize)]
struct RoleBody {
    #[serde(default)]
    role: Option<String>,
}

/// Adds a user (as a pending invitation until accepted) or changes an existing member's role.
pub async fn set_membership(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path((org, user)): Path<(String, String)>,
    body: Bytes,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let b: RoleBody = parse(&body)?;
    let role = b.role.unwrap_or_else(|| "member".into());
    if role != "member" && role != "admin" {
        return Err(GithubError::validation("Membership", "role", "invalid"));
    }
    let now = o.core.now();
    let mut inner = o.core.state();
    let key = user.to_lowercase();
    if !inner.users.contains_key(&key) {
        return Err(GithubError::not_found());
    }
    inner.writes.count(format!("org/membership/{key}"));
    let invitation_id = inner.new_id();
    let m = inner
        .memberships
        .entry(key.clone())
        .and_modify(|m| m.role = role.clone())
        .or_insert(Membership {
            role,
            pending: true,
            invitation_id,
            since: now,
        })
        .clone();
    Ok(ok(&membership_json(&o, &inner, &key, &m, &ctx.base)))
}

/// Removes a member or cancels an invitation; the user leaves every team too.
pub async fn remove_membership(
    State(o): State<Arc<Github>>,
    Path((org, user)): Path<(String, String)>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let mut inner = o.core.state();
    let key = user.to_lowercase();
    inner.writes.count(format!("org/membership/{key}"));
    inner
        .memberships
        .remove(&key)
        .ok_or_else(GithubError::not_found)?;
    for t in inner.teams.values_mut() {
        t.members.remove(&key);
    }
    Ok(no_content())
}

pub async fn get_user(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path(user): Path<String>,
) -> GithubResult<Response> {
    let inner = o.core.state();
    let u = inner
        .users
        .get(&user.to_lowercase())
        .ok_or_else(GithubError::not_found)?;
    Ok(ok(&inner.user_json(u, &ctx.base)))
}

/// The token's owner: a sandbox service account.
pub async fn authenticated_user(ctx: Ctx) -> Response {
    ok(&json!({
        "login": "grantflow-sandbox", "id": 1, "node_id": "U_sbx1", "type": "User", "site_admin": false,
        "url": format!("{}/users/grantflow-sandbox", ctx.base), "name": "grantflow sandbox", "email": Value::Null,
    }))
}

/// The organisations the token's owner belongs to: this one.
pub async fn user_orgs(State(o): State<Arc<Github>>, ctx: Ctx) -> GithubResult<Response> {
    paged(&ctx, vec![o.org_json(&ctx.base)])
}

pub async fn list_repos(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path(org): Path<String>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let inner = o.core.state();
    let items = inner.repos.values().collect();
    paged_with(&ctx, items, |r| {
        inner.repo_json(r, &o.org, o.org_id, &ctx.base)
    })
}

pub async fn get_repo(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path((owner, repo)): Path<(String, String)>,
) -> GithubResult<Response> {
    check_org(&o, &owner)?;
    let inner = o.core.state();
    let r = inner
        .repos
        .get(&repo.to_lowercase())
        .ok_or_else(GithubError::not_found)?;
    Ok(ok(&inner.repo_json(r, &o.org, o.org_id, &ctx.base)))
}
