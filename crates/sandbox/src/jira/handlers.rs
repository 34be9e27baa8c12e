//! Jira Cloud REST handlers, served alike under `/rest/api/2`, `/3` and `latest`: server info, projects and their
//! role actors, groups and their members, and users.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::errors::{JiraError, JiraResult, api_root, json_body, page_bean, page_params};
use super::state::{Group, Inner, Jira};
use crate::emulator::{Ctx, json_response};

fn ok(value: Value) -> Response {
    json_response(StatusCode::OK, &value)
}

fn respond(result: JiraResult<Response>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

pub async fn server_info(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let title = j.core.state().title.clone();
    ok(json!({
        "baseUrl": ctx.base,
        "version": "1001.0.0-SNAPSHOT",
        "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud",
        "buildNumber": 100_265,
        "buildDate": "2026-11-20T08:00:00.000+0000",
        "serverTime": ctx.now.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
        "scmInfo": "0d2f4c9f5e1b7a3c8d6e4f2a1b0c9d8e7f6a5b4c",
        "serverTitle": title,
        "defaultLocale": {"locale": "en_US"},
    }))
}

pub async fn myself(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let inner = j.core.state();
    let me = inner
        .users
        .values()
        .find(|u| u.email.eq_ignore_ascii_case(&j.email));
    match me {
        Some(u) => ok(inner.user_json(u, &api_root(&ctx))),
        None => JiraError::unauthorized().into_response(),
    }
}

/// `GET project`: every project, as a plain array (the jira library's `projects()`).
pub async fn projects(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let inner = j.core.state();
    let api = api_root(&ctx);
    ok(Value::Array(
        inner
            .projects
            .values()
            .map(|p| inner.project_json(p, &api))
            .collect(),
    ))
}

/// `GET project/search`: projects as a PageBean.
pub async fn project_search(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    respond((|| {
        let (start, max) = page_params(&ctx, 50)?;
        let inner = j.core.state();
        let api = api_root(&ctx);
        let items = inner
            .projects
            .values()
            .map(|p| inner.project_json(p, &api))
            .collect();
        Ok(ok(page_bean(&ctx, items, start, max)))
    })())
}

fn project_of(inner: &Inner, key: &str) -> JiraResult<u64> {
    inner.project_id(key).ok_or_else(|| JiraError::project(key))
}

pub async fn project(State(j): State<Arc<Jira>>, ctx: Ctx, Path(key): Path<String>) -> Response {
    let inner = j.core.state();
    respond(
        project_of(&inner, &key)
            .map(|id| ok(inner.project_json(&inner.projects[&id], &api_root(&ctx)))),
    )
}

pub async fn project_roles(
    State(j): State<Arc<Jira>>,
    ctx: Ctx,
    Path(key): Path<String>,
) -> Response {
    let inner = j.core.state();
    respond(
        project_of(&inner, &key)
            .map(|id| ok(inner.role_map(&inner.projects[&id], &api_root(&ctx)))),
    )
}

/// `GET role`: every project role, without actors.
pub async fn roles(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let inner = j.core.state();
    let api = api_root(&ctx);
    ok(Value::Array(
        inner
            .roles
            .iter()
            .map(|r| {
                json!({
                    "self": format!("{api}/role/{}", r.id),
                    "name": r.name,
                    "id": r.id,
                    "description": format!("Members of the {} role", r.name),
                })
            })
            .collect(),
    ))
}

fn role_target(inner: &Inner, key: &str, role: &str) -> JiraResult<(u64, u64)> {
    let pid = project_of(inner, key)?;
    let rid = role
        .parse::<u64>()
        .ok()
        .filter(|id| inner.role(*id).is_some())
        .ok_or_else(|| {
            JiraError::not_found(format!("The project role with id: {role} does not exist."))
        })?;
    Ok((pid, rid))
}

fn role_response(inner: &Inner, pid: u64, rid: u64, ctx: &Ctx) -> Response {
    let project = &inner.projects[&pid];
    match inner.role(rid) {
        Some(role) => ok(inner.role_json(project, role, &api_root(ctx))),
        None => JiraError::not_found("The project role does not exist.").into_response(),
    }
}

pub async fn project_role(
    State(j): State<Arc<Jira>>,
    ctx: Ctx,
    Path((key, role)): Path<(String, String)>,
) -> Response {
    let inner = j.core.state();
    respond(
        role_target(&inner, &key, &role).map(|(pid, rid)| role_response(&inner, pid, rid, &ctx)),
    )
}

/// Strings of a JSON array field; `null` or absent is empty.
fn strings(body: &Map<String, Value>, field: &str) -> JiraResult<Vec<String>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| JiraError::field(field, "Expected a list of strings."))
            })
            .collect(),
        Some(_) => Err(JiraError::field(field, "Expected a list of strings.")),
    }
}

fn user_exists(inner: &Inner, account: &str) -> JiraResult<()> {
    if inner.users.contains_key(account) {
        Ok(())
    } else {
        Err(JiraError::bad_request(format!(
            "The user with account ID '{account}' does not exist."
        )))
    }
}

/// Group ids for `group` names or `groupId`s, which may not be given together.
fn group_ids(inner: &Inner, names: &[String], ids: &[String]) -> JiraResult<Vec<String>> {
    if !names.is_empty() && !ids.is_empty() {
        return Err(JiraError::bad_request(
            "You can't provide both group and groupId. Use only one of them.",
        ));
    }
    let by_name = names.iter().map(|n| {
        inner
            .group_by_name(n)
            .map(|g| g.group_id.clone())
            .ok_or_else(|| JiraError::bad_request(format!("Group '{n}' does not exist.")))
    });
    let by_id = ids.iter().map(|id| {
        inner
            .groups
            .contains_key(id)
            .then(|| id.clone())
            .ok_or_else(|| JiraError::bad_request(format!("Group with id '{id}' does not exist.")))
    });
    by_name.chain(by_id).collect()
}

fn actor_key(inner: &Inner, pid: u64, rid: u64, kind: &str, who: &str) -> String {
    let key = &inner.projects[&pid].key;
    let role = inner.role(rid).map(|r| r.name.as_str()).unwrap_or("");
    let who = if kind == "group" {
        inner.groups.get(who).map_or(who, |g| g.name.as_str())
    } else {
        who
    };
    format!("project/{key}/role:{role}/{kind}/{who}")
}

/// `POST project/{key}/role/{id}` with `{"user": [accountIds]}`, `{"group": [names]}` or `{"groupId": [ids]}`.
pub async fn add_actors(
    State(j): State<Arc<Jira>>,
    ctx: Ctx,
    Path((key, role)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut inner = j.core.state();
    respond((|| {
        let (pid, rid) = role_target(&inner, &key, &role)?;
        let body = json_body(&body)?;
        let users = strings(&body, "user")?;
        let groups = group_ids(
            &inner,
            &strings(&body, "group")?,
            &strings(&body, "groupId")?,
        )?;
        if users.is_empty() && groups.is_empty() {
            return Err(JiraError::bad_request(
                "You must provide at least one user or group to add to the project role.",
            ));
        }
        for u in &users {
            user_exists(&inner, u)?;
        }
        let actors = &inner.projects[&pid].roles[&rid];
        if let Some(u) = users.iter().find(|u| actors.users.contains(*u)) {
            return Err(JiraError::bad_request(format!(
                "'{u}' is already a member of the project role."
            )));
        }
        if let Some(g) = groups.iter().find(|g| actors.groups.contains(*g)) {
            let name = inner.groups.get(g).map_or(g.as_str(), |g| g.name.as_str());
            return Err(JiraError::bad_request(format!(
                "'{name}' is already a member of the project role."
            )));
        }
        let mut keys = Vec::new();
        for u in &users {
            keys.push(actor_key(&inner, pid, rid, "user", u));
        }
        for g in &groups {
            keys.push(actor_key(&inner, pid, rid, "group", g));
        }
        if let Some(actors) = inner
            .projects
            .get_mut(&pid)
            .and_then(|p| p.roles.get_mut(&rid))
        {
            actors.users.extend(users);
            actors.groups.extend(groups);
        }
        keys.into_iter().for_each(|k| inner.writes.count(k));
        Ok(role_response(&inner, pid, rid, &ctx))
    })())
}

/// `PUT project/{key}/role/{id}` with `categorisedActors`: the role's actors become exactly these.
pub async fn set_actors(
    State(j): State<Arc<Jira>>,
    ctx: Ctx,
    Path((key, role)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut inner = j.core.state();
    respond((|| {
        let (pid, rid) = role_target(&inner, &key, &role)?;
        let body = json_body(&body)?;
        let categorised = match body.get("categorisedActors") {
            Some(Value::Object(map)) => map.clone(),
            _ => {
                return Err(JiraError::field(
                    "categorisedActors",
                    "categorisedActors is required.",
                ));
            }
        };
        let users: BTreeSet<String> = strings(&categorised, "atlassian-user-role-actor")?
            .into_iter()
            .collect();
        for u in &users {
            user_exists(&inner, u)?;
        }
        let groups: BTreeSet<String> = group_ids(
            &inner,
            &strings(&categorised, "atlassian-group-role-actor")?,
            &strings(&categorised, "atlassian-group-role-actor-id")?,
        )?
        .into_iter()
        .collect();
        let before = inner.projects[&pid].roles[&rid].clone();
        let mut keys = Vec::new();
        for u in users.symmetric_difference(&before.users) {
            keys.push(actor_key(&inner, pid, rid, "user", u));
        }
        for g in groups.symmetric_difference(&before.groups) {
            keys.push(actor_key(&inner, pid, rid, "group", g));
        }
        if let Some(actors) = inner
            .projects
            .get_mut(&pid)
            .and_then(|p| p.roles.get_mut(&rid))
        {
            actors.users = users;
            actors.groups = groups;
        }
        keys.into_iter().for_each(|k| inner.writes.count(k));
        Ok(role_response(&inner, pid, rid, &ctx))
    })())
}

/// `DELETE project/{key}/role/{id}?user=` | `group=` | `groupId=`: 204.
pub async fn remove_actor(
    State(j): State<Arc<Jira>>,
    ctx: Ctx,
    Path((key, role)): Path<(String, String)>,
) -> Response {
    let mut inner = j.core.state();
    respond((|| {
        let (pid, rid) = role_target(&inner, &key, &role)?;
        let (kind, who) = match (ctx.param("user"), ctx.param("group"), ctx.param("groupId")) {
            (Some(u), None, None) => ("user", u.to_owned()),
            (None, Some(g), None) => {
                let id = group_ids(&inner, &[g.to_owned()], &[])?;
                ("group", id.into_iter().next().unwrap_or_default())
            }
            (None, None, Some(g)) => {
                let id = group_ids(&inner, &[], &[g.to_owned()])?;
                ("group", id.into_iter().next().unwrap_or_default())
            }
            _ => {
                return Err(JiraError::bad_request(
                    "Provide exactly one of user, group or groupId.",
                ));
            }
        };
        let write = actor_key(&inner, pid, rid, kind, &who);
        let removed = inner
            .projects
            .get_mut(&pid)
            .and_then(|p| p.roles.get_mut(&rid))
            .is_some_and(|a| {
                if kind == "user" {
                    a.users.remove(&who)
                } else {
                    a.groups.remove(&who)
                }
            });
        if !removed {
            return Err(JiraError::not_found(format!(
                "'{who}' is not a member of the project role."
            )));
        }
        inner.writes.count(write);
        Ok(StatusCode::NO_CONTENT.into_response())
    })())
}

/// The group a request names with `groupname` (or `groupName`) or `groupId`.
fn named_group<'a>(inner: &'a Inner, ctx: &Ctx) -> JiraResult<&'a Group> {
    if let Some(id) = ctx.param("groupId") {
        return inner.groups.get(id).ok_or_else(JiraError::group);
    }
    match ctx.param("groupname").or_else(|| ctx.param("groupName")) {
        Some(name) => inner.group_by_name(name).ok_or_else(JiraError::group),
        None => Err(JiraError::bad_request(
            "You must specify groupname or groupId.",
        )),
    }
}

/// `GET group?groupname=&expand=users[a:b]`: the legacy group with a slice of its members (the jira library's
/// `group_members`).
pub async fn group_legacy(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let inner = j.core.state();
    respond((|| {
        let g = named_group(&inner, &ctx)?;
        let api = api_root(&ctx);
        let mut body = inner.group_json(g, &api);
        let expand = ctx.param("expand").unwrap_or("");
        if let Some(spec) = expand.split(',').find(|e| e.starts_with("users")) {
            let (start, end) = spec
                .strip_prefix("users[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.split_once(':'))
                .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
                .unwrap_or((0, 49));
            let members: Vec<Value> = g
                .members
                .iter()
                .filter_map(|id| inner.users.get(id))
                .map(|u| inner.user_json(u, &api))
                .collect();
            let size = members.len();
            let items: Vec<Value> = members
                .into_iter()
                .skip(start)
                .take(end.saturating_sub(start) + 1)
                .collect();
            let end_index = (start + items.len()).saturating_sub(1);
            body["users"] = json!({
                "size": size,
                "items": items,
                "max-results": 50,
                "start-index": start,
                "end-index": end_index,
            });
            body["expand"] = Value::String("users".into());
        }
        Ok(ok(body))
    })())
}

/// `POST group {"name"}`: 201 with the group.
pub async fn create_group(State(j): State<Arc<Jira>>, ctx: Ctx, body: Bytes) -> Response {
    let mut inner = j.core.state();
    respond((|| {
        let body = json_body(&body)?;
        let name = body
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| JiraError::field("name", "You must specify a group name."))?
            .to_owned();
        if inner.group_by_name(&name).is_some() {
            return Err(JiraError::bad_request(format!(
                "A group with name '{name}' already exists."
            )));
        }
        let id = super::state::group_id(inner.groups.len() + 1000);
        let group = Group {
            group_id: id.clone(),
            name: name.clone(),
            members: BTreeSet::new(),
        };
        let json = inner.group_json(&group, &api_root(&ctx));
        inner.groups.insert(id, group);
        inner.writes.count(format!("group/{name}"));
        Ok(json_response(StatusCode::CREATED, &json))
    })())
}

/// `DELETE group?groupname=|groupId=`: 200, and the group leaves every project role.
pub async fn delete_group(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let mut inner = j.core.state();
    respond((|| {
        let g = named_group(&inner, &ctx)?;
        let (id, name) = (g.group_id.clone(), g.name.clone());
        inner.groups.remove(&id);
        for p in inner.projects.values_mut() {
            for actors in p.roles.values_mut() {
                actors.groups.remove(&id);
            }
        }
        inner.writes.count(format!("group/{name}"));
        Ok(StatusCode::OK.into_response())
    })())
}

/// `GET group/bulk`: groups as a PageBean, optionally only those named by `groupId`/`groupName`.
pub async fn group_bulk(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let inner = j.core.state();
    respond((|| {
        let (start, max) = page_params(&ctx, 50)?;
        let ids: Vec<&str> = ctx
            .query
            .iter()
            .filter(|(k, _)| k == "groupId")
            .map(|(_, v)| v.as_str())
            .collect();
        let names: Vec<String> = ctx
            .query
            .iter()
            .filter(|(k, _)| k == "groupName")
            .map(|(_, v)| v.to_lowercase())
            .collect();
        let mut groups: Vec<&Group> = inner
            .groups
            .values()
            .filter(|g| {
                (ids.is_empty() && names.is_empty())
                    || ids.contains(&g.group_id.as_str())
                    || names.contains(&g.name.to_lowercase())
            })
            .collect();
        groups.sort_by_key(|g| g.name.to_lowercase());
        let items = groups
            .into_iter()
            .map(|g| json!({"name": g.name, "groupId": g.group_id}))
            .collect();
        Ok(ok(page_bean(&ctx, items, start, max)))
    })())
}

/// `GET groups/picker?query=`: `{header, total, groups: [{name, html, groupId}]}`.
pub async fn groups_picker(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let inner = j.core.state();
    let query = ctx.param("query").unwrap_or("").to_lowercase();
    let max = ctx
        .param("maxResults")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(20);
    let mut matching: Vec<&Group> = inner
        .groups
        .values()
        .filter(|g| g.name.to_lowercase().contains(&query))
        .collect();
    matching.sort_by_key(|g| g.name.to_lowercase());
    let total = matching.len();
    let shown: Vec<Value> = matching
        .into_iter()
        .take(max)
        .map(|g| {
            let html = if query.is_empty() {
                g.name.clone()
            } else {
                let lower = g.name.to_lowercase();
                let at = lower.find(&query).unwrap_or(0);
                let end = at + query.len();
                format!(
                    "{}<b>{}</b>{}",
                    &g.name[..at],
                    &g.name[at..end],
                    &g.name[end..]
                )
            };
            json!({"name": g.name, "html": html, "groupId": g.group_id, "labels": []})
        })
        .collect();
    ok(json!({
        "header": format!("Showing {} of {total} matching groups", shown.len()),
        "total": total,
        "groups": shown,
    }))
}

/// `GET group/member?groupname=|groupId=`: the members as a PageBean of users.
pub async fn group_members(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let inner = j.core.state();
    respond((|| {
        let (start, max) = page_params(&ctx, 50)?;
        let g = named_group(&inner, &ctx)?;
        let inactive = ctx.param("includeInactiveUsers") == Some("true");
        let api = api_root(&ctx);
        let items = g
            .members
            .iter()
            .filter_map(|id| inner.users.get(id))
            .filter(|u| inactive || u.active)
            .map(|u| inner.user_json(u, &api))
            .collect();
        Ok(ok(page_bean(&ctx, items, start, max)))
    })())
}

/// The account a group-membership request names: `accountId`, or Server's `name`/`username` (which the jira
/// library still sends), matched against account id or email.
fn named_user(inner: &Inner, given: Option<&str>) -> JiraResult<String> {
    let given = given
        .filter(|g| !g.is_empty())
        .ok_or_else(|| JiraError::field("accountId", "You must specify the accountId."))?;
    if inner.users.contains_key(given) {
        return Ok(given.to_owned());
    }
    inner
        .users
        .values()
        .find(|u| u.email.eq_ignore_ascii_case(given))
        .map(|u| u.account_id.clone())
        .ok_or_else(|| {
            JiraError::not_found(format!(
                "The user with account ID '{given}' does not exist."
            ))
        })
}

/// `POST group/user?groupname=|groupId=` with `{"accountId"}` (or `{"name"}`): 201 with the group.
pub async fn add_group_user(State(j): State<Arc<Jira>>, ctx: Ctx, body: Bytes) -> Response {
    let mut inner = j.core.state();
    respond((|| {
        let body = json_body(&body)?;
        let given = ["accountId", "name", "username"]
            .iter()
            .find_map(|k| body.get(*k).and_then(Value::as_str));
        let g = named_group(&inner, &ctx)?;
        let (gid, name) = (g.group_id.clone(), g.name.clone());
        let account = named_user(&inner, given)?;
        if g.members.contains(&account) {
            return Err(JiraError::bad_request(format!(
                "Cannot add user. User is already a member of '{name}'"
            )));
        }
        if let Some(g) = inner.groups.get_mut(&gid) {
            g.members.insert(account.clone());
        }
        inner.writes.count(format!("group/{name}/member/{account}"));
        let json = inner
            .groups
            .get(&gid)
            .map(|g| inner.group_json(g, &api_root(&ctx)))
            .unwrap_or_default();
        Ok(json_response(StatusCode::CREATED, &json))
    })())
}

/// `DELETE group/user?groupname=|groupId=&accountId=` (or `username=`): 200.
pub async fn remove_group_user(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let mut inner = j.core.state();
    respond((|| {
        let given = ["accountId", "username", "name"]
            .iter()
            .find_map(|k| ctx.param(k));
        let g = named_group(&inner, &ctx)?;
        let (gid, name) = (g.group_id.clone(), g.name.clone());
        let account = named_user(&inner, given)?;
        let removed = inner
            .groups
            .get_mut(&gid)
            .is_some_and(|g| g.members.remove(&account));
        if !removed {
            return Err(JiraError::bad_request(format!(
                "Cannot remove user '{account}' from group '{name}'. The user is not a member of the group."
            )));
        }
        inner.writes.count(format!("group/{name}/member/{account}"));
        Ok(StatusCode::OK.into_response())
    })())
}

/// `GET user?accountId=`.
pub async fn user(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let inner = j.core.state();
    let Some(id) = ctx.param("accountId") else {
        return JiraError::field("accountId", "You must specify the accountId.").into_response();
    };
    match inner.users.get(id) {
        Some(u) => ok(inner.user_json(u, &api_root(&ctx))),
        None => JiraError::not_found(format!("The user with account ID '{id}' does not exist."))
            .into_response(),
    }
}

/// `GET user/search?query=|accountId=`: a plain array of matching users.
pub async fn user_search(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let inner = j.core.state();
    respond((|| {
        let (start, max) = page_params(&ctx, 50)?;
        let query = ctx.param("query").map(str::to_lowercase);
        let account = ctx.param("accountId");
        if query.is_none() && account.is_none() {
            return Err(JiraError::bad_request(
                "One of 'query' or 'accountId' query parameters must be provided.",
            ));
        }
        let api = api_root(&ctx);
        let items: Vec<Value> = inner
            .users
            .values()
            .filter(|u| account.is_none_or(|a| u.account_id == a))
            .filter(|u| {
                query.as_deref().is_none_or(|q| {
                    u.email.to_lowercase().contains(q) || u.display_name.to_lowercase().contains(q)
                })
            })
            .skip(start)
            .take(max)
            .map(|u| inner.user_json(u, &api))
            .collect();
        Ok(ok(Value::Array(items)))
    })())
}

/// `GET users/search` (and `users`): every user, a plain array paged by `startAt`/`maxResults`.
pub async fn users(State(j): State<Arc<Jira>>, ctx: Ctx) -> Response {
    let inner = j.core.state();
    respond((|| {
        let (start, max) = page_params(&ctx, 50)?;
        let api = api_root(&ctx);
        Ok(ok(Value::Array(
            inner
                .users
                .values()
                .skip(start)
                .take(max)
                .map(|u| inner.user_json(u, &api))
                .collect(),
        )))
    })())
}
