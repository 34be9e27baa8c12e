//! `/api/v1/groups`: group CRUD, listing with q/search/filter, idempotent membership, members and assigned apps.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::apps::app_json;
use super::context::{Ctx, no_content, ok, parse_body};
use super::errors::{OktaError, OktaResult};
use super::filter::{self, Op};
use super::pagination::{list_response, page, page_from, past};
use super::state::{Group, GroupType, Inner, Okta};

#[derive(Debug, Deserialize, Default)]
struct GroupBody {
    #[serde(default)]
    profile: Option<Map<String, Value>>,
}

fn validate(inner: &Inner, profile: &Map<String, Value>, self_id: Option<&str>) -> OktaResult<()> {
    let name = profile
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if name.is_empty() {
        return Err(OktaError::validation(
            "name",
            vec!["name: The field cannot be left blank".into()],
        ));
    }
    let taken = inner
        .groups
        .values()
        .any(|g| Some(g.id.as_str()) != self_id && g.name().eq_ignore_ascii_case(name));
    if taken {
        return Err(OktaError::validation(
            "name",
            vec![
                "name: An object with this field already exists in the current organization".into(),
            ],
        ));
    }
    Ok(())
}

fn not_okta_group(what: &str) -> OktaError {
    OktaError::new(
        StatusCode::BAD_REQUEST,
        "E0000001",
        format!("Api validation failed: {what}"),
    )
    .with_causes(vec![
        "Only OKTA_GROUP groups can be modified through this API.".into(),
    ])
}

pub async fn create(State(o): State<Arc<Okta>>, ctx: Ctx, body: Bytes) -> OktaResult<Response> {
    let req: GroupBody = parse_body(&body, "addGroup")?;
    let mut inner = o.core.state();
    let profile = req.profile.unwrap_or_default();
    validate(&inner, &profile, None)?;
    let id = inner.new_id("00g");
    let now = ctx.now;
    inner.groups.insert(
        id.clone(),
        Group {
            id: id.clone(),
            kind: GroupType::OktaGroup,
            created: now,
            last_updated: now,
            last_membership_updated: now,
            profile,
            members: BTreeSet::new(),
        },
    );
    inner.writes.count(format!("group/{id}"));
    let t = vec![inner.group_target(&id)];
    inner.log(&ctx, "group.lifecycle.create", "Create okta group", t);
    let body = inner
        .groups
        .get(&id)
        .map(|g| g.to_json(&ctx, None))
        .unwrap_or(Value::Null);
    Ok(ok(&body))
}

fn apps_count(inner: &Inner, gid: &str) -> usize {
    inner
        .apps
        .values()
        .filter(|a| a.groups.contains_key(gid))
        .count()
}

fn stats(ctx: &Ctx) -> bool {
    ctx.param("expand")
        .is_some_and(|e| e.split(',').any(|x| x == "stats"))
}

pub async fn get(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> OktaResult<Response> {
    let inner = o.core.state();
    let g = inner
        .groups
        .get(&id)
        .ok_or_else(|| OktaError::not_found(&id, "UserGroup"))?;
    let count = stats(&ctx).then(|| apps_count(&inner, &id));
    Ok(ok(&g.to_json(&ctx, count)))
}

fn group_expr(ctx: &Ctx) -> OktaResult<Option<filter::Expr>> {
    let (text, filter_only) = match (ctx.param("search"), ctx.param("filter")) {
        (Some(s), _) if !s.is_empty() => (s, false),
        (_, Some(f)) if !f.is_empty() => (f, true),
        _ => return Ok(None),
    };
    let e = filter::parse(text).map_err(|_| OktaError::invalid_search())?;
    let allowed = |attr: &str, op: Op| {
        if filter_only {
            ["id", "type", "lastUpdated", "lastMembershipUpdated"].contains(&attr)
        } else {
            op != Op::Co || attr == "profile.name" || attr == "profile.description"
        }
    };
    if !e.check(&allowed) || e.uses_not() {
        return Err(OktaError::invalid_search());
    }
    Ok(Some(e))
}

pub async fn list(State(o): State<Arc<Okta>>, ctx: Ctx) -> OktaResult<Response> {
    let q = ctx
        .param("q")
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let limit = ctx.limit(if q.is_some() { 10 } else { 10_000 }, 10_000)?;
    let expr = group_expr(&ctx)?;
    let with_stats = stats(&ctx);
    let inner = o.core.state();
    let items: Vec<Value> = inner
        .groups
        .values()
        .filter(|g| {
            q.as_ref()
                .is_none_or(|q| g.name().to_lowercase().starts_with(q))
        })
        .map(|g| g.to_json(&ctx, with_stats.then(|| apps_count(&inner, &g.id))))
        .filter(|j| expr.as_ref().is_none_or(|e| e.matches(j)))
        .collect();
    let (items, next) = page(items, ctx.param("after"), limit, |v| {
        v["id"].as_str().unwrap_or_default().to_owned()
    });
    Ok(list_response(&ctx, items, next.as_deref(), limit))
}

pub async fn replace(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> OktaResult<Response> {
    let req: GroupBody = parse_body(&body, "replaceGroup")?;
    let mut inner = o.core.state();
    let g = inner
        .groups
        .get(&id)
        .ok_or_else(|| OktaError::not_found(&id, "UserGroup"))?;
    if g.kind != GroupType::OktaGroup {
        return Err(not_okta_group("replaceGroup"));
    }
    let profile = req.profile.unwrap_or_default();
    validate(&inner, &profile, Some(&id))?;
    if let Some(g) = inner.groups.get_mut(&id) {
        g.profile = profile;
        g.last_updated = ctx.now;
    }
    inner.writes.count(format!("group/{id}"));
    let t = vec![inner.group_target(&id)];
    inner.log(&ctx, "group.profile.update", "Update group profile", t);
    let body = inner
        .groups
        .get(&id)
        .map(|g| g.to_json(&ctx, None))
        .unwrap_or(Value::Null);
    Ok(ok(&body))
}

pub async fn delete(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> OktaResult<Response> {
    let mut inner = o.core.state();
    let g = inner
        .groups
        .get(&id)
        .ok_or_else(|| OktaError::not_found(&id, "UserGroup"))?;
    if g.kind != GroupType::OktaGroup {
        return Err(not_okta_group("deleteGroup"));
    }
    let members: Vec<String> = g.members.iter().cloned().collect();
    let befores: Vec<_> = members
        .iter()
        .map(|u| (u.clone(), inner.user_apps(u)))
        .collect();
    let t = vec![inner.group_target(&id)];
    inner.groups.remove(&id);
    for app in inner.apps.values_mut() {
        app.groups.remove(&id);
    }
    inner.writes.count(format!("group/{id}"));
    inner.log(&ctx, "group.lifecycle.delete", "Delete okta group", t);
    for (uid, before) in befores {
        inner.log_app_access_diff(&ctx, &uid, &before);
    }
    Ok(no_content())
}

/// Shared checks for membership writes: both objects exist and the group's members are Okta-managed.
fn membership_target(inner: &Inner, gid: &str, uid: &str) -> OktaResult<String> {
    let g = inner
        .groups
        .get(gid)
        .ok_or_else(|| OktaError::not_found(gid, "UserGroup"))?;
    let user = inner
        .find_user(uid)
        .ok_or_else(|| OktaError::not_found(uid, "User"))?;
    if g.kind != GroupType::OktaGroup {
        return Err(not_okta_group("assignUserToGroup"));
    }
    Ok(user.id.clone())
}

pub async fn add_member(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path((gid, uid)): Path<(String, String)>,
) -> OktaResult<Response> {
    let mut inner = o.core.state();
    let uid = membership_target(&inner, &gid, &uid)?;
    let before = inner.user_apps(&uid);
    let added = inner
        .groups
        .get_mut(&gid)
        .is_some_and(|g| g.members.insert(uid.clone()));
    // Counted even when nothing changed: tests use this to prove a PUT was sent exactly once.
    inner.writes.count(format!("group/{gid}/user/{uid}"));
    if added {
        if let Some(g) = inner.groups.get_mut(&gid) {
            g.last_membership_updated = ctx.now;
        }
        let t = vec![inner.user_target(&uid), inner.group_target(&gid)];
        inner.log(
            &ctx,
            "group.user_membership.add",
            "Add user to group membership",
            t,
        );
        inner.log_app_access_diff(&ctx, &uid, &before);
    }
    Ok(no_content())
}

pub async fn remove_member(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path((gid, uid)): Path<(String, String)>,
) -> OktaResult<Response> {
    let mut inner = o.core.state();
    let uid = membership_target(&inner, &gid, &uid)?;
    let before = inner.user_apps(&uid);
    let removed = inner
        .groups
        .get_mut(&gid)
        .is_some_and(|g| g.members.remove(&uid));
    inner.writes.count(format!("group/{gid}/user/{uid}"));
    if removed {
        if let Some(g) = inner.groups.get_mut(&gid) {
            g.last_membership_updated = ctx.now;
        }
        let t = vec![inner.user_target(&uid), inner.group_target(&gid)];
        inner.log(
            &ctx,
            "group.user_membership.remove",
            "Remove user from group membership",
            t,
        );
        inner.log_app_access_diff(&ctx, &uid, &before);
    }
    Ok(no_content())
}

pub async fn members(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(gid): Path<String>,
) -> OktaResult<Response> {
    let limit = ctx.limit(1000, 10_000)?;
    let inner = o.core.state();
    let g = inner
        .groups
        .get(&gid)
        .ok_or_else(|| OktaError::not_found(&gid, "UserGroup"))?;
    let rest = g
        .members
        .range::<str, _>(past(ctx.param("after")))
        .filter_map(|u| inner.users.get(u))
        .map(|u| u.to_json(&ctx));
    let (items, next) = page_from(rest, limit, |v| {
        v["id"].as_str().unwrap_or_default().to_owned()
    });
    Ok(list_response(&ctx, items, next.as_deref(), limit))
}

pub async fn apps(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(gid): Path<String>,
) -> OktaResult<Response> {
    let limit = ctx.limit(20, 200)?;
    let inner = o.core.state();
    if !inner.groups.contains_key(&gid) {
        return Err(OktaError::not_found(&gid, "UserGroup"));
    }
    let items: Vec<Value> = inner
        .apps
        .values()
        .filter(|a| a.groups.contains_key(&gid))
        .map(|a| app_json(a, &ctx))
        .collect();
    let (items, next) = page(items, ctx.param("after"), limit, |v| {
        v["id"].as_str().unwrap_or_default().to_owned()
    });
    Ok(list_response(&ctx, items, next.as_deref(), limit))
}
