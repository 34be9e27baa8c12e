//! Team handlers: teams, team memberships (member/maintainer, pending for users outside the org) and the
//! permission a team holds on a repository (pull/triage/push/maintain/admin).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::errors::{GithubError, GithubResult};
use super::org::{check_org, parse};
use super::pagination::{Ctx, json, no_content, ok, paged, paged_with};
use super::state::{
    Github, Inner, Membership, PERMISSIONS, Team, TeamMember, permission_json, slugify,
};

fn team<'a>(inner: &'a Inner, slug: &str) -> GithubResult<&'a Team> {
    inner
        .teams
        .get(&slug.to_lowercase())
        .ok_or_else(GithubError::not_found)
}

pub async fn list_teams(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path(org): Path<String>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let inner = o.core.state();
    let items = inner.teams.values().collect();
    paged_with(&ctx, items, |t| inner.team_json(t, &o.org, &ctx.base))
}

#[derive(Deserialize)]
struct NewTeam {
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    maintainers: Vec<String>,
    #[serde(default)]
    repo_names: Vec<String>,
}

pub async fn create_team(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path(org): Path<String>,
    body: Bytes,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let n: NewTeam = parse(&body)?;
    let name = n
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| GithubError::validation("Team", "name", "missing_field"))?;
    let slug = slugify(&name);
    let now = o.core.now();
    let mut inner = o.core.state();
    if inner.teams.contains_key(&slug) {
        return Err(GithubError::validation("Team", "name", "already_exists"));
    }
    let id = inner.new_id();
    let members = n
        .maintainers
        .iter()
        .filter(|m| inner.is_active_member(m))
        .map(|m| {
            (
                m.to_lowercase(),
                TeamMember {
                    role: "maintainer".into(),
                    pending: false,
                },
            )
        })
        .collect();
    let repos = n
        .repo_names
        .iter()
        .filter_map(|r| r.rsplit('/').next())
        .filter(|r| inner.repos.contains_key(&r.to_lowercase()))
        .map(|r| (r.to_lowercase(), "pull".to_owned()))
        .collect();
    let t = Team {
        id,
        name,
        slug: slug.clone(),
        description: n.description.unwrap_or_default(),
        created: now,
        members,
        repos,
    };
    let body = inner.team_json(&t, &o.org, &ctx.base);
    inner.teams.insert(slug.clone(), t);
    inner.writes.count(format!("team/{slug}"));
    Ok(json(StatusCode::CREATED, &body))
}

pub async fn get_team(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path((org, slug)): Path<(String, String)>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let inner = o.core.state();
    let t = team(&inner, &slug)?;
    let mut body = inner.team_json(t, &o.org, &ctx.base);
    body["organization"] = o.org_json(&ctx.base);
    Ok(ok(&body))
}

pub async fn delete_team(
    State(o): State<Arc<Github>>,
    Path((org, slug)): Path<(String, String)>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let mut inner = o.core.state();
    let slug = team(&inner, &slug)?.slug.clone();
    inner.teams.remove(&slug);
    inner.writes.count(format!("team/{slug}"));
    Ok(no_content())
}

pub async fn list_team_members(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path((org, slug)): Path<(String, String)>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let role = ctx.param("role").unwrap_or("all").to_owned();
    if !["all", "member", "maintainer"].contains(&role.as_str()) {
        return Err(GithubError::validation("", "role", "invalid"));
    }
    let inner = o.core.state();
    let items = team(&inner, &slug)?
        .members
        .iter()
        .filter(|(_, m)| !m.pending && (role == "all" || m.role == role))
        .filter_map(|(login, _)| inner.users.get(login))
        .collect();
    paged_with(&ctx, items, |u| inner.user_json(u, &ctx.base))
}

fn team_membership_json(
    ctx: &Ctx,
    org: &str,
    slug: &str,
    login: &str,
    m: &TeamMember,
) -> serde_json::Value {
    json!({
        "url": format!("{}/orgs/{org}/teams/{slug}/memberships/{login}", ctx.base),
        "role": m.role,
        "state": if m.pending { "pending" } else { "active" },
    })
}

pub async fn get_team_membership(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path((org, slug, user)): Path<(String, String, String)>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let inner = o.core.state();
    let t = team(&inner, &slug)?;
    let m = t
        .members
        .get(&user.to_lowercase())
        .ok_or_else(GithubError::not_found)?;
    Ok(ok(&team_membership_json(&ctx, &o.org, &t.slug, &user, m)))
}

/// Adds or re-roles a member; a user outside the org is invited and the membership is `pending`.
pub async fn set_team_membership(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path((org, slug, user)): Path<(String, String, String)>,
    body: Bytes,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    #[derive(Deserialize)]
    struct RoleBody {
        #[serde(default)]
        role: Option<String>,
    }
    let b: RoleBody = parse(&body)?;
    let role = b.role.unwrap_or_else(|| "member".into());
    if role != "member" && role != "maintainer" {
        return Err(GithubError::validation("TeamMember", "role", "invalid"));
    }
    let now = o.core.now();
    let mut inner = o.core.state();
    let slug = team(&inner, &slug)?.slug.clone();
    let key = user.to_lowercase();
    if !inner.users.contains_key(&key) {
        return Err(GithubError::not_found());
    }
    inner.writes.count(format!("team/{slug}/membership/{key}"));
    let pending = !inner.is_active_member(&key);
    if pending && !inner.memberships.contains_key(&key) {
        let invitation_id = inner.new_id();
        inner.memberships.insert(
            key.clone(),
            Membership {
                role: "member".into(),
                pending: true,
                invitation_id,
                since: now,
            },
        );
    }
    let t = inner
        .teams
        .get_mut(&slug)
        .ok_or_else(GithubError::not_found)?;
    let m = t
        .members
        .entry(key)
        .and_modify(|m| m.role = role.clone())
        .or_insert(TeamMember { role, pending })
        .clone();
    Ok(ok(&team_membership_json(&ctx, &o.org, &slug, &user, &m)))
}

pub async fn remove_team_membership(
    State(o): State<Arc<Github>>,
    Path((org, slug, user)): Path<(String, String, String)>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let mut inner = o.core.state();
    let slug = team(&inner, &slug)?.slug.clone();
    let key = user.to_lowercase();
    inner.writes.count(format!("team/{slug}/membership/{key}"));
    let t = inner
        .teams
        .get_mut(&slug)
        .ok_or_else(GithubError::not_found)?;
    t.members.remove(&key).ok_or_else(GithubError::not_found)?;
    Ok(no_content())
}

fn repo_with_permission(
    o: &Github,
    inner: &Inner,
    repo: &str,
    permission: &str,
    base: &str,
) -> Option<serde_json::Value> {
    let r = inner.repos.get(repo)?;
    let mut body = inner.repo_json(r, &o.org, o.org_id, base);
    let (permissions, role_name) = permission_json(permission);
    body["permissions"] = permissions;
    body["role_name"] = json!(role_name);
    Some(body)
}

pub async fn list_team_repos(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path((org, slug)): Path<(String, String)>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    let inner = o.core.state();
    let items = team(&inner, &slug)?
        .repos
        .iter()
        .filter_map(|(repo, p)| repo_with_permission(&o, &inner, repo, p, &ctx.base))
        .collect();
    paged(&ctx, items)
}

/// 204 when the team holds the repository, or the repository with `permissions` and `role_name` when asked
/// with `Accept: application/vnd.github.v3.repository+json` (as PyGithub does); 404 otherwise.
pub async fn check_team_repo(
    State(o): State<Arc<Github>>,
    ctx: Ctx,
    Path((org, slug, owner, repo)): Path<(String, String, String, String)>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    check_org(&o, &owner)?;
    let inner = o.core.state();
    let key = repo.to_lowercase();
    let permission = team(&inner, &slug)?
        .repos
        .get(&key)
        .ok_or_else(GithubError::not_found)?;
    if ctx
        .accept
        .contains("application/vnd.github.v3.repository+json")
    {
        let body = repo_with_permission(&o, &inner, &key, permission, &ctx.base)
            .ok_or_else(GithubError::not_found)?;
        Ok(ok(&body))
    } else {
        Ok(no_content())
    }
}

pub async fn set_team_repo(
    State(o): State<Arc<Github>>,
    Path((org, slug, owner, repo)): Path<(String, String, String, String)>,
    body: Bytes,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    check_org(&o, &owner)?;
    #[derive(Deserialize)]
    struct PermissionBody {
        #[serde(default)]
        permission: Option<String>,
    }
    let b: PermissionBody = parse(&body)?;
    let permission = b.permission.unwrap_or_else(|| "push".into());
    if !PERMISSIONS.contains(&permission.as_str()) {
        return Err(GithubError::validation(
            "TeamRepository",
            "permission",
            "invalid",
        ));
    }
    let mut inner = o.core.state();
    let slug = team(&inner, &slug)?.slug.clone();
    let key = repo.to_lowercase();
    if !inner.repos.contains_key(&key) {
        return Err(GithubError::validation("Repository", "repo", "missing"));
    }
    inner.writes.count(format!("team/{slug}/repo/{key}"));
    if let Some(t) = inner.teams.get_mut(&slug) {
        t.repos.insert(key, permission);
    }
    Ok(no_content())
}

pub async fn remove_team_repo(
    State(o): State<Arc<Github>>,
    Path((org, slug, owner, repo)): Path<(String, String, String, String)>,
) -> GithubResult<Response> {
    check_org(&o, &org)?;
    check_org(&o, &owner)?;
    let mut inner = o.core.state();
    let slug = team(&inner, &slug)?.slug.clone();
    let key = repo.to_lowercase();
    if !inner.repos.contains_key(&key) {
        return Err(GithubError::not_found());
    }
    inner.writes.count(format!("team/{slug}/repo/{key}"));
    if let Some(t) = inner.teams.get_mut(&slug) {
        t.repos.remove(&key);
    }
    Ok(no_content())
}
