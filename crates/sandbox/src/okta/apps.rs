//! `/api/v1/apps`: app listing, direct user assignments (scope USER), group assignments and the app users they imply (scope GROUP).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::context::{Ctx, no_content, ok, parse_body};
use super::errors::{OktaError, OktaResult};
use super::filter::{self, Op};
use super::ids::ts;
use super::pagination::{list_response, page, page_from, past};
use super::state::{App, GroupAssignment, Inner, Okta, UserStatus};

/// Apps are Secure Web Authentication (`AUTO_LOGIN`) instances, whose `name` is a free key, so seeds keep theirs.
pub fn app_json(a: &App, ctx: &Ctx) -> Value {
    let me = format!("/api/v1/apps/{}", a.id);
    let status = if a.active { "ACTIVE" } else { "INACTIVE" };
    json!({
        "id": a.id,
        "name": a.name,
        "label": a.label,
        "status": status,
        "lastUpdated": ts(a.last_updated),
        "created": ts(a.created),
        "accessibility": {"selfService": false},
        "visibility": {
            "autoSubmitToolbar": false,
            "hide": {"iOS": false, "web": false},
            "appLinks": {"login": true},
        },
        "features": [],
        "signOnMode": "AUTO_LOGIN",
        "credentials": {
            "scheme": "EDIT_USERNAME_AND_PASSWORD",
            "userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
            "revealPassword": false,
            "signing": {},
        },
        "settings": {
            "app": {},
            "notifications": {"vpn": {"network": {"connection": "DISABLED"}}},
            "signOn": {"loginUrl": format!("https://{}.example.com/login", a.name)},
        },
        "_links": {
            "self": ctx.href(&me),
            "users": ctx.href(&format!("{me}/users")),
            "groups": ctx.href(&format!("{me}/groups")),
            "logo": [{"name": "medium", "href": ctx.url("/img/logos/default.png"), "type": "image/png"}],
            "appLinks": [{"name": "login", "href": ctx.url(&format!("/home/{}/{}/login", a.name, a.id)), "type": "text/html"}],
            "deactivate": ctx.href(&format!("{me}/lifecycle/deactivate")),
        },
    })
}

fn app_user_json(inner: &Inner, app: &App, uid: &str, scope: &str, ctx: &Ctx) -> Value {
    let user = inner.users.get(uid);
    let created = app
        .users
        .get(uid)
        .copied()
        .or_else(|| user.map(|u| u.created))
        .unwrap_or(ctx.now);
    let login = user.map(|u| u.login().to_owned()).unwrap_or_default();
    let mut v = json!({
        "id": uid,
        "created": ts(created),
        "lastUpdated": ts(created),
        "scope": scope,
        "status": "ACTIVE",
        "statusChanged": ts(created),
        "syncState": "DISABLED",
        "credentials": {"userName": login},
        "profile": {},
        "_links": {
            "app": ctx.href(&format!("/api/v1/apps/{}", app.id)),
            "user": ctx.href(&format!("/api/v1/users/{uid}")),
        },
    });
    if ctx.param("expand") == Some("user")
        && let Some(u) = user
    {
        v["_embedded"] = json!({"user": u.to_json(ctx)});
    }
    v
}

fn assignment_json(app: &App, gid: &str, a: &GroupAssignment, ctx: &Ctx) -> Value {
    json!({
        "id": gid,
        "lastUpdated": ts(a.last_updated),
        "priority": a.priority,
        "profile": a.profile,
        "_links": {
            "app": ctx.href(&format!("/api/v1/apps/{}", app.id)),
            "group": ctx.href(&format!("/api/v1/groups/{gid}")),
        },
    })
}

pub fn find_app<'a>(inner: &'a Inner, id: &str) -> OktaResult<&'a App> {
    inner
        .apps
        .get(id)
        .ok_or_else(|| OktaError::not_found(id, "AppInstance"))
}

pub async fn list(State(o): State<Arc<Okta>>, ctx: Ctx) -> OktaResult<Response> {
    let limit = ctx.limit(20, 200)?;
    let q = ctx
        .param("q")
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let expr = match ctx.param("filter").filter(|f| !f.is_empty()) {
        None => None,
        Some(f) => {
            let e = filter::parse(f).map_err(|_| OktaError::invalid_search())?;
            let allowed = |attr: &str, op: Op| {
                op == Op::Eq && ["id", "status", "name", "user.id", "group.id"].contains(&attr)
            };
            if !e.check(&allowed) || e.uses_not() {
                return Err(OktaError::invalid_search());
            }
            Some(e)
        }
    };
    let inner = o.core.state();
    let items: Vec<Value> = inner
        .apps
        .values()
        .filter(|a| {
            q.as_ref().is_none_or(|q| {
                a.name.to_lowercase().starts_with(q) || a.label.to_lowercase().starts_with(q)
            })
        })
        .filter_map(|a| {
            let j = app_json(a, &ctx);
            let Some(e) = &expr else { return Some(j) };
            // `user.id` / `group.id` are virtual attributes: the app's assigned users and groups.
            let users: Vec<Value> = inner
                .users
                .keys()
                .filter(|u| inner.app_user_scope(a, u).is_some())
                .map(|u| json!({"id": u}))
                .collect();
            let groups: Vec<Value> = a.groups.keys().map(|g| json!({"id": g})).collect();
            let mut probe = j.clone();
            probe["user"] = Value::Array(users);
            probe["group"] = Value::Array(groups);
            e.matches(&probe).then_some(j)
        })
        .collect();
    let (items, next) = page(items, ctx.param("after"), limit, |v| {
        v["id"].as_str().unwrap_or_default().to_owned()
    });
    Ok(list_response(&ctx, items, next.as_deref(), limit))
}

pub async fn get(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> OktaResult<Response> {
    let inner = o.core.state();
    Ok(ok(&app_json(find_app(&inner, &id)?, &ctx)))
}

pub async fn list_users(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> OktaResult<Response> {
    let limit = ctx.limit(50, 500)?;
    let q = ctx
        .param("q")
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let inner = o.core.state();
    let app = find_app(&inner, &id)?;
    // Only the app's own users and its groups' members can be assigned: reading those (not every user of
    // the tenant) keeps a page of a large tenant's app cheap.
    let candidates: std::collections::BTreeSet<&str> = app
        .users
        .keys()
        .map(String::as_str)
        .chain(
            app.groups
                .keys()
                .filter_map(|g| inner.groups.get(g))
                .flat_map(|g| g.members.iter().map(String::as_str)),
        )
        .collect();
    let rest = candidates
        .range::<str, _>(past(ctx.param("after")))
        .filter_map(|u| inner.users.get(*u))
        .filter(|u| {
            q.as_ref().is_none_or(|q| {
                ["login", "firstName", "lastName", "email"].iter().any(|k| {
                    u.profile
                        .get(*k)
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.to_lowercase().starts_with(q))
                })
            })
        })
        .filter_map(|u| {
            inner
                .app_user_scope(app, &u.id)
                .map(|scope| app_user_json(&inner, app, &u.id, scope, &ctx))
        });
    let (items, next) = page_from(rest, limit, |v| {
        v["id"].as_str().unwrap_or_default().to_owned()
    });
    Ok(list_response(&ctx, items, next.as_deref(), limit))
}

pub async fn get_user(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path((id, uid)): Path<(String, String)>,
) -> OktaResult<Response> {
    let inner = o.core.state();
    let app = find_app(&inner, &id)?;
    let scope = inner
        .app_user_scope(app, &uid)
        .ok_or_else(|| OktaError::not_found(&uid, "AppUser"))?;
    Ok(ok(&app_user_json(&inner, app, &uid, scope, &ctx)))
}

#[derive(Debug, Deserialize, Default)]
struct AssignBody {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

pub async fn assign_user(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> OktaResult<Response> {
    let req: AssignBody = parse_body(&body, "assignUserToApplication")?;
    let Some(uid) = req.id.filter(|i| !i.is_empty()) else {
        return Err(OktaError::validation(
            "assignUserToApplication",
            vec!["id: The field cannot be left blank".into()],
        ));
    };
    if let Some(s) = req.scope.as_deref()
        && s != "USER"
        && s != "GROUP"
    {
        return Err(OktaError::validation(
            "assignUserToApplication",
            vec![format!("scope: Invalid scope {s}")],
        ));
    }
    let mut inner = o.core.state();
    find_app(&inner, &id)?;
    let user = inner
        .users
        .get(&uid)
        .ok_or_else(|| OktaError::not_found(&uid, "User"))?;
    if user.status == UserStatus::Deprovisioned {
        return Err(OktaError::new(
            StatusCode::FORBIDDEN,
            "E0000117",
            "Cannot assign apps or update app profiles for an inactive user.",
        ));
    }
    let now = ctx.now;
    let Some(app) = inner.apps.get_mut(&id) else {
        return Err(OktaError::not_found(&id, "AppInstance"));
    };
    if app.users.contains_key(&uid) {
        return Err(OktaError::new(
            StatusCode::CONFLICT,
            "E0000062",
            "The specified user is already assigned to the application.",
        ));
    }
    app.users.insert(uid.clone(), now);
    app.last_updated = now;
    inner.writes.count(format!("app/{id}/user/{uid}"));
    // Logged even when a group already gave access: the assignment itself (scope USER) is new.
    let t = vec![inner.app_target(&id), inner.user_target(&uid)];
    inner.log(
        &ctx,
        "application.user_membership.add",
        "Add user to application membership",
        t,
    );
    let app = find_app(&inner, &id)?;
    Ok(ok(&app_user_json(&inner, app, &uid, "USER", &ctx)))
}

pub async fn unassign_user(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path((id, uid)): Path<(String, String)>,
) -> OktaResult<Response> {
    let mut inner = o.core.state();
    let app = find_app(&inner, &id)?;
    match inner.app_user_scope(app, &uid) {
        None => return Err(OktaError::not_found(&uid, "AppUser")),
        Some("GROUP") => {
            return Err(OktaError::validation(
                "unassignUserFromApplication",
                vec!["The user is assigned to the application through a group; remove the group membership instead".into()],
            ));
        }
        Some(_) => {}
    }
    if let Some(app) = inner.apps.get_mut(&id) {
        app.users.remove(&uid);
    }
    inner.writes.count(format!("app/{id}/user/{uid}"));
    // Logged even when a group still gives access: the direct assignment is gone.
    let t = vec![inner.app_target(&id), inner.user_target(&uid)];
    inner.log(
        &ctx,
        "application.user_membership.remove",
        "Remove user's application membership",
        t,
    );
    Ok(no_content())
}

pub async fn list_groups(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> OktaResult<Response> {
    let limit = ctx.limit(20, 200)?.max(1);
    let q = ctx
        .param("q")
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let expand_group = ctx
        .param("expand")
        .is_some_and(|e| e.split(',').any(|x| x == "group"));
    let inner = o.core.state();
    let app = find_app(&inner, &id)?;
    let items: Vec<Value> = app
        .groups
        .iter()
        .filter(|(gid, _)| {
            q.as_ref().is_none_or(|q| {
                inner
                    .groups
                    .get(*gid)
                    .is_some_and(|g| g.name().to_lowercase().starts_with(q))
            })
        })
        .map(|(gid, a)| {
            let mut v = assignment_json(app, gid, a, &ctx);
            if expand_group && let Some(g) = inner.groups.get(gid) {
                v["_embedded"] = json!({"group": g.to_json(&ctx, None)});
            }
            v
        })
        .collect();
    let (items, next) = page(items, ctx.param("after"), limit, |v| {
        v["id"].as_str().unwrap_or_default().to_owned()
    });
    Ok(list_response(&ctx, items, next.as_deref(), limit))
}

pub async fn get_group(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path((id, gid)): Path<(String, String)>,
) -> OktaResult<Response> {
    let inner = o.core.state();
    let app = find_app(&inner, &id)?;
    let a = app
        .groups
        .get(&gid)
        .ok_or_else(|| OktaError::not_found(&gid, "ApplicationGroupAssignment"))?;
    Ok(ok(&assignment_json(app, &gid, a, &ctx)))
}

#[derive(Debug, Deserialize, Default)]
struct GroupAssignBody {
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default)]
    profile: Option<Map<String, Value>>,
}

pub async fn assign_group(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path((id, gid)): Path<(String, String)>,
    body: Bytes,
) -> OktaResult<Response> {
    let req: GroupAssignBody = parse_body(&body, "assignGroupToApplication")?;
    let mut inner = o.core.state();
    find_app(&inner, &id)?;
    let group = inner
        .groups
        .get(&gid)
        .ok_or_else(|| OktaError::not_found(&gid, "UserGroup"))?;
    let members: Vec<String> = group.members.iter().cloned().collect();
    let befores: Vec<_> = members
        .iter()
        .map(|u| (u.clone(), inner.user_apps(u)))
        .collect();
    let now = ctx.now;
    let Some(app) = inner.apps.get_mut(&id) else {
        return Err(OktaError::not_found(&id, "AppInstance"));
    };
    let next_priority = app
        .groups
        .values()
        .map(|a| a.priority + 1)
        .max()
        .unwrap_or(0);
    let existed = app.groups.contains_key(&gid);
    let entry = app.groups.entry(gid.clone()).or_insert(GroupAssignment {
        priority: next_priority,
        profile: Map::new(),
        last_updated: now,
    });
    if let Some(p) = req.priority {
        entry.priority = p;
    }
    if let Some(p) = req.profile {
        entry.profile = p;
    }
    entry.last_updated = now;
    inner.writes.count(format!("app/{id}/group/{gid}"));
    if !existed {
        let t = vec![inner.app_target(&id), inner.group_target(&gid)];
        inner.log(
            &ctx,
            "group.application_assignment.add",
            "Add assigned application to group",
            t,
        );
        for (uid, before) in befores {
            inner.log_app_access_diff(&ctx, &uid, &before);
        }
    }
    let app = find_app(&inner, &id)?;
    let body = app
        .groups
        .get(&gid)
        .map(|a| assignment_json(app, &gid, a, &ctx))
        .unwrap_or(Value::Null);
    Ok(ok(&body))
}

pub async fn unassign_group(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path((id, gid)): Path<(String, String)>,
) -> OktaResult<Response> {
    let mut inner = o.core.state();
    let app = find_app(&inner, &id)?;
    if !app.groups.contains_key(&gid) {
        return Err(OktaError::not_found(&gid, "ApplicationGroupAssignment"));
    }
    let members: Vec<String> = inner
        .groups
        .get(&gid)
        .map(|g| g.members.iter().cloned().collect())
        .unwrap_or_default();
    let befores: Vec<_> = members
        .iter()
        .map(|u| (u.clone(), inner.user_apps(u)))
        .collect();
    if let Some(app) = inner.apps.get_mut(&id) {
        app.groups.remove(&gid);
    }
    inner.writes.count(format!("app/{id}/group/{gid}"));
    let t = vec![inner.app_target(&id), inner.group_target(&gid)];
    inner.log(
        &ctx,
        "group.application_assignment.remove",
        "Remove assigned application from group",
        t,
    );
    for (uid, before) in befores {
        inner.log_app_access_diff(&ctx, &uid, &before);
    }
    Ok(no_content())
}
