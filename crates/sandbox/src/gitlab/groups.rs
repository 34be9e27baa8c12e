//! `/api/v4/groups`: groups and subgroups by id or URL-encoded full path, direct and inherited (`members/all`)
//! membership, and GitLab's rules for adding, changing and removing members.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::errors::{GitlabError, GitlabResult, Params};
use super::pagination::paged;
use super::state::{Gitlab, Group, Inner, Membership, role_name};
use crate::emulator::{Ctx, json_response};

const LEVELS: [u8; 9] = [5, 10, 15, 20, 25, 30, 40, 50, 60];

fn group_id(inner: &Inner, id: &str) -> GitlabResult<u64> {
    inner
        .find_group(id)
        .ok_or_else(|| GitlabError::not_found("Group"))
}

fn user_id(inner: &Inner, id: &str) -> GitlabResult<u64> {
    id.parse::<u64>()
        .ok()
        .filter(|id| inner.users.contains_key(id))
        .ok_or_else(|| GitlabError::not_found("User"))
}

fn ordered_json(inner: &Inner, ids: impl Iterator<Item = u64>, ctx: &Ctx) -> Vec<Value> {
    let mut groups: Vec<&Group> = ids.filter_map(|id| inner.groups.get(&id)).collect();
    groups.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.id.cmp(&b.id))
    });
    groups.iter().map(|g| inner.group_json(g, ctx)).collect()
}

fn search_matches(ctx: &Ctx, g: &Group) -> bool {
    ctx.param("search").is_none_or(|s| {
        let s = s.to_lowercase();
        g.name.to_lowercase().contains(&s) || g.path.to_lowercase().contains(&s)
    })
}

pub async fn list(State(g): State<Arc<Gitlab>>, ctx: Ctx) -> GitlabResult<Response> {
    let inner = g.core.state();
    let top_only = ctx.param("top_level_only") == Some("true");
    let ids = inner
        .groups
        .values()
        .filter(|g| !top_only || g.parent_id.is_none())
        .filter(|g| search_matches(&ctx, g))
        .map(|g| g.id)
        .collect::<Vec<_>>();
    paged(&ctx, ordered_json(&inner, ids.into_iter(), &ctx))
}

pub async fn get(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> GitlabResult<Response> {
    let inner = g.core.state();
    let gid = group_id(&inner, &id)?;
    let body = inner
        .groups
        .get(&gid)
        .map(|g| inner.group_json(g, &ctx))
        .unwrap_or(Value::Null);
    Ok(json_response(StatusCode::OK, &body))
}

pub async fn subgroups(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> GitlabResult<Response> {
    let inner = g.core.state();
    let gid = group_id(&inner, &id)?;
    let ids: Vec<u64> = inner
        .groups
        .values()
        .filter(|g| g.parent_id == Some(gid) && search_matches(&ctx, g))
        .map(|g| g.id)
        .collect();
    paged(&ctx, ordered_json(&inner, ids.into_iter(), &ctx))
}

pub async fn descendants(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> GitlabResult<Response> {
    let inner = g.core.state();
    let gid = group_id(&inner, &id)?;
    let ids = inner.descendants(gid);
    paged(&ctx, ordered_json(&inner, ids.into_iter(), &ctx))
}

pub async fn create(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    headers: HeaderMap,
    body: Bytes,
) -> GitlabResult<Response> {
    let p = Params::from(&ctx, &headers, &body)?;
    p.require(&["name", "path"])?;
    let parent_id = p.int("parent_id")?;
    let mut inner = g.core.state();
    if let Some(parent) = parent_id
        && !inner.groups.contains_key(&parent)
    {
        return Err(GitlabError::not_found("Parent Group"));
    }
    let path = p.get("path").unwrap_or_default().to_owned();
    let taken = inner
        .groups
        .values()
        .any(|g| g.parent_id == parent_id && g.path.eq_ignore_ascii_case(&path));
    if taken {
        return Err(GitlabError::invalid(
            "path",
            "has already been taken".into(),
        ));
    }
    let id = inner.next();
    let group = Group {
        id,
        name: p.get("name").unwrap_or_default().to_owned(),
        path,
        description: p.get("description").unwrap_or_default().to_owned(),
        parent_id,
        created_at: ctx.now,
    };
    inner.groups.insert(id, group);
    inner.writes.count(format!("group/{id}"));
    let body = inner
        .groups
        .get(&id)
        .map(|g| inner.group_json(g, &ctx))
        .unwrap_or(Value::Null);
    Ok(json_response(StatusCode::CREATED, &body))
}

fn member_list(
    inner: &Inner,
    ctx: &Ctx,
    members: impl Iterator<Item = (u64, Membership)>,
) -> Vec<Value> {
    let query = ctx.param("query").map(str::to_lowercase);
    let wanted: Vec<u64> = ctx
        .query
        .iter()
        .filter(|(k, _)| k == "user_ids[]" || k == "user_ids")
        .flat_map(|(_, v)| {
            v.split(',')
                .filter_map(|x| x.trim().parse().ok())
                .collect::<Vec<_>>()
        })
        .collect();
    members
        .filter(|(uid, _)| wanted.is_empty() || wanted.contains(uid))
        .filter(|(uid, _)| {
            query.as_deref().is_none_or(|q| {
                inner.users.get(uid).is_some_and(|u| {
                    u.username.to_lowercase().contains(q)
                        || u.name.to_lowercase().contains(q)
                        || u.email.eq_ignore_ascii_case(q)
                })
            })
        })
        .map(|(uid, m)| inner.member_json(uid, &m, ctx))
        .collect()
}

pub async fn members(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> GitlabResult<Response> {
    let inner = g.core.state();
    let gid = group_id(&inner, &id)?;
    let direct = inner
        .members
        .range((gid, 0)..=(gid, u64::MAX))
        .map(|((_, uid), m)| (*uid, *m));
    paged(&ctx, member_list(&inner, &ctx, direct))
}

pub async fn members_all(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> GitlabResult<Response> {
    let inner = g.core.state();
    let gid = group_id(&inner, &id)?;
    let all = inner.effective(gid);
    paged(&ctx, member_list(&inner, &ctx, all.into_iter()))
}

pub async fn member_all(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    Path((id, uid)): Path<(String, String)>,
) -> GitlabResult<Response> {
    let inner = g.core.state();
    let gid = group_id(&inner, &id)?;
    let uid = user_id(&inner, &uid)?;
    let m = inner
        .effective(gid)
        .get(&uid)
        .copied()
        .ok_or_else(|| GitlabError::not_found("Member"))?;
    Ok(json_response(
        StatusCode::OK,
        &inner.member_json(uid, &m, &ctx),
    ))
}

pub async fn member(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    Path((id, uid)): Path<(String, String)>,
) -> GitlabResult<Response> {
    let inner = g.core.state();
    let gid = group_id(&inner, &id)?;
    let uid = user_id(&inner, &uid)?;
    let m = inner
        .members
        .get(&(gid, uid))
        .copied()
        .ok_or_else(|| GitlabError::not_found("Member"))?;
    Ok(json_response(
        StatusCode::OK,
        &inner.member_json(uid, &m, &ctx),
    ))
}

fn access_level(p: &Params) -> GitlabResult<u8> {
    p.require(&["access_level"])?;
    p.int("access_level")?
        .and_then(|l| u8::try_from(l).ok())
        .filter(|l| LEVELS.contains(l))
        .ok_or_else(|| GitlabError::param("access_level does not have a valid value".into()))
}

/// GitLab refuses a direct level below what the user inherits from an ancestor group.
fn check_inherited(inner: &Inner, gid: u64, uid: u64, level: u8) -> GitlabResult<()> {
    if let Some((from, m)) = inner.inherited(gid, uid)
        && level < m.access_level
    {
        let group_name = inner
            .groups
            .get(&from)
            .map(|g| g.name.clone())
            .unwrap_or_default();
        return Err(GitlabError::invalid(
            "access_level",
            format!(
                "should be greater than or equal to {} inherited membership from group {group_name}",
                role_name(m.access_level)
            ),
        ));
    }
    Ok(())
}

pub async fn add_member(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> GitlabResult<Response> {
    let p = Params::from(&ctx, &headers, &body)?;
    let mut inner = g.core.state();
    let gid = group_id(&inner, &id)?;
    let uid = match (p.get("user_id"), p.get("username")) {
        (Some(u), _) => user_id(&inner, u)?,
        (None, Some(name)) => inner
            .find_user(name)
            .map(|u| u.id)
            .ok_or_else(|| GitlabError::not_found("User"))?,
        (None, None) => {
            return Err(GitlabError::param(
                "user_id, username are missing, exactly one parameter must be provided".into(),
            ));
        }
    };
    let level = access_level(&p)?;
    if inner.members.contains_key(&(gid, uid)) {
        return Err(GitlabError::conflict("Member already exists"));
    }
    check_inherited(&inner, gid, uid, level)?;
    let m = Membership {
        access_level: level,
        created_at: ctx.now,
    };
    inner.members.insert((gid, uid), m);
    inner.writes.count(format!("group/{gid}/member/{uid}"));
    Ok(json_response(
        StatusCode::CREATED,
        &inner.member_json(uid, &m, &ctx),
    ))
}

pub async fn edit_member(
    State(g): State<Arc<Gitlab>>,
    ctx: Ctx,
    Path((id, uid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> GitlabResult<Response> {
    let p = Params::from(&ctx, &headers, &body)?;
    let mut inner = g.core.state();
    let gid = group_id(&inner, &id)?;
    let uid = user_id(&inner, &uid)?;
    let level = access_level(&p)?;
    if !inner.members.contains_key(&(gid, uid)) {
        return Err(GitlabError::not_found("Member"));
    }
    check_inherited(&inner, gid, uid, level)?;
    let m = inner.members.get_mut(&(gid, uid)).map(|m| {
        m.access_level = level;
        *m
    });
    inner.writes.count(format!("group/{gid}/member/{uid}"));
    let body = m
        .map(|m| inner.member_json(uid, &m, &ctx))
        .unwrap_or(Value::Null);
    Ok(json_response(StatusCode::OK, &body))
}

pub async fn remove_member(
    State(g): State<Arc<Gitlab>>,
    Path((id, uid)): Path<(String, String)>,
) -> GitlabResult<Response> {
    let mut inner = g.core.state();
    let gid = group_id(&inner, &id)?;
    let uid = user_id(&inner, &uid)?;
    if inner.members.remove(&(gid, uid)).is_none() {
        return Err(GitlabError::not_found("Member"));
    }
    inner.writes.count(format!("group/{gid}/member/{uid}"));
    Ok(StatusCode::NO_CONTENT.into_response())
}
