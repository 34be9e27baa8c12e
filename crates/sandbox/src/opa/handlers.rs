//! The OPA endpoints. Groups and users are addressed by name, folders and policies by id.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::state::{Folder, Inner, Opa, Policy, Project, ResourceGroup, new_id};
use super::{OpaError, valid_folder_name};
use crate::emulator::{Ctx, json_response, random_token, set_header};

type Params = Path<HashMap<String, String>>;
type OpaResult = Result<Response, OpaError>;

fn param<'a>(p: &'a HashMap<String, String>, name: &str) -> &'a str {
    p.get(name).map(String::as_str).unwrap_or("")
}

fn body_object(body: &Bytes) -> Result<Map<String, Value>, OpaError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(OpaError::bad_request(
            "The request body is not a JSON object",
        )),
    }
}

fn text<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

fn required<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a str, OpaError> {
    text(body, key)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| OpaError::bad_request(format!("{key} is required")))
}

fn ok(body: &Value) -> OpaResult {
    Ok(json_response(StatusCode::OK, body))
}

fn created(body: &Value) -> OpaResult {
    Ok(json_response(StatusCode::CREATED, body))
}

fn no_content() -> OpaResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{"list": […]}`, one page of `count` (default 100) from `offset`, with a `Link: rel="next"` while more remain.
fn page(ctx: &Ctx, items: Vec<Value>) -> OpaResult {
    let count: usize = ctx
        .param("count")
        .and_then(|c| c.parse().ok())
        .filter(|c| *c > 0)
        .unwrap_or(100)
        .min(1000);
    let offset: usize = ctx
        .param("offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let total = items.len();
    let list: Vec<Value> = items.into_iter().skip(offset).take(count).collect();
    let mut resp = json_response(StatusCode::OK, &json!({ "list": list }));
    if offset + count < total {
        let mut query: Vec<(String, String)> = ctx
            .query
            .iter()
            .filter(|(k, _)| k != "offset" && k != "count")
            .cloned()
            .collect();
        query.push(("count".into(), count.to_string()));
        query.push(("offset".into(), (offset + count).to_string()));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let link = format!("<{}{}?{query}>; rel=\"next\"", ctx.base, ctx.path);
        set_header(&mut resp, "link", &link);
    }
    Ok(resp)
}

pub async fn service_token(State(o): State<Arc<Opa>>, ctx: Ctx, body: Bytes) -> OpaResult {
    let body = body_object(&body)?;
    let (id, secret) = (text(&body, "key_id"), text(&body, "key_secret"));
    if id != Some(o.key_id.as_str()) || secret != Some(o.key_secret.as_str()) {
        return Err(OpaError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "Authentication failed: invalid key_id or key_secret",
        ));
    }
    let token = random_token("", 48);
    let expires = ctx.now + o.token_ttl;
    let mut inner = o.core.state();
    inner.tokens.insert(token.clone(), expires);
    inner.tokens_issued += 1;
    ok(&json!({
        "bearer_token": token,
        "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "team_name": o.team,
    }))
}

pub async fn expire_tokens(State(o): State<Arc<Opa>>) -> Response {
    let mut inner = o.core.state();
    let expired = inner.tokens.len();
    inner.tokens.clear();
    json_response(
        StatusCode::OK,
        &json!({"expired": expired, "issued": inner.tokens_issued}),
    )
}

pub async fn pushed_counts(State(o): State<Arc<Opa>>) -> Response {
    let inner = o.core.state();
    json_response(
        StatusCode::OK,
        &json!({"pushed": inner.pushed, "throttled": inner.throttled}),
    )
}

pub async fn list_users(State(o): State<Arc<Opa>>, ctx: Ctx) -> OpaResult {
    let inner = o.core.state();
    let items = inner.users.values().map(Inner::user_json).collect();
    page(&ctx, items)
}

pub async fn get_user(State(o): State<Arc<Opa>>, Path(p): Params) -> OpaResult {
    let inner = o.core.state();
    let user = inner
        .users
        .get(param(&p, "user"))
        .ok_or_else(|| OpaError::not_found("user"))?;
    ok(&Inner::user_json(user))
}

pub async fn list_groups(State(o): State<Arc<Opa>>, ctx: Ctx) -> OpaResult {
    let inner = o.core.state();
    let contains = ctx.param("contains").unwrap_or("").to_lowercase();
    let mut groups: Vec<_> = inner
        .groups
        .values()
        .filter(|g| g.name.to_lowercase().contains(&contains))
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    page(&ctx, groups.into_iter().map(Inner::group_json).collect())
}

fn roles_of(body: &Map<String, Value>) -> Result<Vec<String>, OpaError> {
    const ROLES: &[&str] = &["end_user", "pam_admin", "resource_admin", "security_admin"];
    let roles: Vec<String> = body
        .get("roles")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(bad) = roles.iter().find(|r| !ROLES.contains(&r.as_str())) {
        return Err(OpaError::bad_request(format!("unknown role {bad}")));
    }
    Ok(roles)
}

pub async fn create_group(State(o): State<Arc<Opa>>, body: Bytes) -> OpaResult {
    let body = body_object(&body)?;
    let name = required(&body, "name")?.to_owned();
    let roles = roles_of(&body)?;
    let mut inner = o.core.state();
    if inner.group_by_name(&name).is_some() {
        return Err(OpaError::conflict(format!(
            "A group named {name} already exists"
        )));
    }
    let id = inner.insert_group(&name, &roles, BTreeSet::new(), false);
    inner.writes.count(format!("group/{name}"));
    let group = inner
        .groups
        .get(&id)
        .map(Inner::group_json)
        .unwrap_or(Value::Null);
    created(&group)
}

pub async fn get_group(State(o): State<Arc<Opa>>, Path(p): Params) -> OpaResult {
    let inner = o.core.state();
    let g = inner
        .group_by_name(param(&p, "group"))
        .ok_or_else(|| OpaError::not_found("group"))?;
    ok(&Inner::group_json(g))
}

pub async fn update_group(State(o): State<Arc<Opa>>, Path(p): Params, body: Bytes) -> OpaResult {
    let body = body_object(&body)?;
    let name = param(&p, "group").to_owned();
    let mut inner = o.core.state();
    let rename = text(&body, "name")
        .filter(|n| *n != name)
        .map(str::to_owned);
    if let Some(new) = &rename
        && inner.group_by_name(new).is_some()
    {
        return Err(OpaError::conflict(format!(
            "A group named {new} already exists"
        )));
    }
    let roles = body
        .contains_key("roles")
        .then(|| roles_of(&body))
        .transpose()?;
    let g = inner
        .group_by_name_mut(&name)
        .ok_or_else(|| OpaError::not_found("group"))?;
    if let Some(new) = rename {
        g.name = new;
    }
    if let Some(roles) = roles {
        g.roles = roles;
    }
    inner.writes.count(format!("group/{name}"));
    no_content()
}

pub async fn delete_group(State(o): State<Arc<Opa>>, Path(p): Params) -> OpaResult {
    let name = param(&p, "group").to_owned();
    let mut inner = o.core.state();
    let id = inner
        .group_by_name(&name)
        .map(|g| g.id.clone())
        .ok_or_else(|| OpaError::not_found("group"))?;
    inner.groups.remove(&id);
    inner.writes.count(format!("group/{name}"));
    no_content()
}

pub async fn group_members(State(o): State<Arc<Opa>>, ctx: Ctx, Path(p): Params) -> OpaResult {
    let inner = o.core.state();
    let g = inner
        .group_by_name(param(&p, "group"))
        .ok_or_else(|| OpaError::not_found("group"))?;
    let items = g
        .members
        .iter()
        .filter_map(|m| inner.users.get(m))
        .map(Inner::user_json)
        .collect();
    page(&ctx, items)
}

pub async fn add_member(State(o): State<Arc<Opa>>, Path(p): Params, body: Bytes) -> OpaResult {
    let body = body_object(&body)?;
    let user = required(&body, "name")?.to_owned();
    let group = param(&p, "group").to_owned();
    let mut inner = o.core.state();
    if !inner.users.contains_key(&user) {
        return Err(OpaError::not_found("user"));
    }
    let g = inner
        .group_by_name_mut(&group)
        .ok_or_else(|| OpaError::not_found("group"))?;
    if g.pushed {
        return Err(OpaError::bad_request(format!(
            "The membership of {group} is managed by Okta group push"
        )));
    }
    if g.members.insert(user.clone()) {
        inner.writes.count(format!("group/{group}/users/{user}"));
    }
    no_content()
}

pub async fn remove_member(State(o): State<Arc<Opa>>, Path(p): Params) -> OpaResult {
    let (group, user) = (param(&p, "group").to_owned(), param(&p, "user").to_owned());
    let mut inner = o.core.state();
    let g = inner
        .group_by_name_mut(&group)
        .ok_or_else(|| OpaError::not_found("group"))?;
    if g.pushed {
        return Err(OpaError::bad_request(format!(
            "The membership of {group} is managed by Okta group push"
        )));
    }
    if !g.members.remove(&user) {
        return Err(OpaError::not_found("group membership"));
    }
    inner.writes.count(format!("group/{group}/users/{user}"));
    no_content()
}

pub async fn list_resource_groups(State(o): State<Arc<Opa>>, ctx: Ctx) -> OpaResult {
    let inner = o.core.state();
    let items = inner
        .resource_groups
        .values()
        .map(|r| inner.resource_group_json(r))
        .collect();
    page(&ctx, items)
}

pub async fn create_resource_group(State(o): State<Arc<Opa>>, body: Bytes) -> OpaResult {
    let body = body_object(&body)?;
    let name = required(&body, "name")?.to_owned();
    let mut inner = o.core.state();
    if inner.resource_groups.values().any(|r| r.name == name) {
        return Err(OpaError::conflict(format!(
            "A resource group named {name} already exists"
        )));
    }
    let id = new_id();
    let rg = ResourceGroup {
        id: id.clone(),
        name: name.clone(),
        description: text(&body, "description").unwrap_or("").to_owned(),
    };
    let json = inner.resource_group_json(&rg);
    inner.resource_groups.insert(id, rg);
    inner.writes.count(format!("resource_group/{name}"));
    created(&json)
}

fn resource_group<'a>(inner: &'a Inner, id: &str) -> Result<&'a ResourceGroup, OpaError> {
    inner
        .resource_groups
        .get(id)
        .ok_or_else(|| OpaError::not_found("resource group"))
}

fn project<'a>(inner: &'a Inner, rg: &str, id: &str) -> Result<&'a Project, OpaError> {
    resource_group(inner, rg)?;
    inner
        .projects
        .get(id)
        .filter(|p| p.resource_group == rg)
        .ok_or_else(|| OpaError::not_found("project"))
}

pub async fn get_resource_group(State(o): State<Arc<Opa>>, Path(p): Params) -> OpaResult {
    let inner = o.core.state();
    let rg = resource_group(&inner, param(&p, "rg"))?;
    ok(&inner.resource_group_json(rg))
}

pub async fn list_projects(State(o): State<Arc<Opa>>, ctx: Ctx, Path(p): Params) -> OpaResult {
    let inner = o.core.state();
    let rg = param(&p, "rg");
    resource_group(&inner, rg)?;
    let items = inner
        .projects
        .values()
        .filter(|pr| pr.resource_group == rg)
        .map(|pr| inner.project_json(pr))
        .collect();
    page(&ctx, items)
}

pub async fn create_project(State(o): State<Arc<Opa>>, Path(p): Params, body: Bytes) -> OpaResult {
    let body = body_object(&body)?;
    let name = required(&body, "name")?.to_owned();
    let rg = param(&p, "rg").to_owned();
    let mut inner = o.core.state();
    resource_group(&inner, &rg)?;
    if inner
        .projects
        .values()
        .any(|pr| pr.resource_group == rg && pr.name == name)
    {
        return Err(OpaError::conflict(format!(
            "A project named {name} already exists"
        )));
    }
    let id = new_id();
    let pr = Project {
        id: id.clone(),
        resource_group: rg,
        name: name.clone(),
    };
    let json = inner.project_json(&pr);
    inner.projects.insert(id, pr);
    inner.writes.count(format!("project/{name}"));
    created(&json)
}

pub async fn get_project(State(o): State<Arc<Opa>>, Path(p): Params) -> OpaResult {
    let inner = o.core.state();
    let pr = project(&inner, param(&p, "rg"), param(&p, "project"))?;
    ok(&inner.project_json(pr))
}

pub async fn list_folders(State(o): State<Arc<Opa>>, ctx: Ctx, Path(p): Params) -> OpaResult {
    let inner = o.core.state();
    let pr = project(&inner, param(&p, "rg"), param(&p, "project"))?;
    let mut folders: Vec<&Folder> = inner
        .folders
        .values()
        .filter(|f| f.project == pr.id && f.parent.is_none())
        .collect();
    folders.sort_by(|a, b| a.name.cmp(&b.name));
    let items = folders
        .into_iter()
        .map(|f| {
            let mut v = inner.folder_json(f);
            if let Some(obj) = v.as_object_mut() {
                // The list answer carries the summary fields only.
                for key in [
                    "path",
                    "created_at",
                    "created_by",
                    "updated_at",
                    "updated_by",
                ] {
                    obj.remove(key);
                }
            }
            v
        })
        .collect();
    page(&ctx, items)
}

fn check_folder_name(name: &str) -> Result<(), OpaError> {
    if valid_folder_name(name) {
        Ok(())
    } else {
        Err(OpaError::bad_request(format!(
            "Invalid secret folder name {name:?}: names may contain only letters, numbers, '-', '_' and '.'"
        )))
    }
}

pub async fn create_folder(
    State(o): State<Arc<Opa>>,
    ctx: Ctx,
    Path(p): Params,
    body: Bytes,
) -> OpaResult {
    let body = body_object(&body)?;
    let name = required(&body, "name")?.to_owned();
    check_folder_name(&name)?;
    let parent = text(&body, "parent_folder_id")
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let mut inner = o.core.state();
    let pr = project(&inner, param(&p, "rg"), param(&p, "project"))?.clone();
    if let Some(parent) = &parent
        && inner.folders.get(parent).is_none_or(|f| f.project != pr.id)
    {
        return Err(OpaError::not_found("parent folder"));
    }
    if inner
        .folders
        .values()
        .any(|f| f.project == pr.id && f.parent == parent && f.name == name)
    {
        return Err(OpaError::conflict(format!(
            "A secret folder named {name} already exists"
        )));
    }
    let id = new_id();
    let folder = Folder {
        id: id.clone(),
        resource_group: pr.resource_group.clone(),
        project: pr.id.clone(),
        parent,
        name: name.clone(),
        description: text(&body, "description").unwrap_or("").to_owned(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    inner.folders.insert(id.clone(), folder.clone());
    inner.writes.count(format!("secret_folder/{name}"));
    created(&inner.folder_json(&folder))
}

fn folder<'a>(inner: &'a Inner, p: &HashMap<String, String>) -> Result<&'a Folder, OpaError> {
    let pr = project(inner, param(p, "rg"), param(p, "project"))?;
    inner
        .folders
        .get(param(p, "folder"))
        .filter(|f| f.project == pr.id)
        .ok_or_else(|| OpaError::not_found("secret folder"))
}

pub async fn get_folder(State(o): State<Arc<Opa>>, Path(p): Params) -> OpaResult {
    let inner = o.core.state();
    let f = folder(&inner, &p)?;
    ok(&inner.folder_json(f))
}

pub async fn update_folder(
    State(o): State<Arc<Opa>>,
    ctx: Ctx,
    Path(p): Params,
    body: Bytes,
) -> OpaResult {
    let body = body_object(&body)?;
    let mut inner = o.core.state();
    let mut f = folder(&inner, &p)?.clone();
    if let Some(name) = text(&body, "name") {
        check_folder_name(name)?;
        f.name = name.to_owned();
    }
    if let Some(d) = text(&body, "description") {
        f.description = d.to_owned();
    }
    f.updated_at = ctx.now;
    let key = format!("secret_folder/{}", f.name);
    inner.folders.insert(f.id.clone(), f.clone());
    inner.writes.count(key);
    ok(&inner.folder_json(&f))
}

pub async fn delete_folder(State(o): State<Arc<Opa>>, Path(p): Params) -> OpaResult {
    let mut inner = o.core.state();
    let f = folder(&inner, &p)?.clone();
    if inner
        .folders
        .values()
        .any(|c| c.parent.as_deref() == Some(f.id.as_str()))
    {
        return Err(OpaError::bad_request("The secret folder is not empty"));
    }
    inner.folders.remove(&f.id);
    inner.writes.count(format!("secret_folder/{}", f.name));
    no_content()
}

pub async fn list_policies(State(o): State<Arc<Opa>>, ctx: Ctx) -> OpaResult {
    let inner = o.core.state();
    let mut policies: Vec<&Policy> = inner.policies.values().collect();
    policies.sort_by(|a, b| a.name.cmp(&b.name));
    page(
        &ctx,
        policies.into_iter().map(|p| inner.policy_json(p)).collect(),
    )
}

/// Reads a policy body: groups must exist, folders named by rules must exist, limits hold; unknown keys are kept.
fn read_policy(inner: &Inner, body: &Map<String, Value>, id: &str) -> Result<Policy, OpaError> {
    let name = required(body, "name")?.to_owned();
    let active = body
        .get("active")
        .and_then(Value::as_bool)
        .ok_or_else(|| OpaError::bad_request("active is required"))?;
    let groups: Vec<String> = body
        .get("principals")
        .and_then(|p| p.get("user_groups"))
        .and_then(Value::as_array)
        .ok_or_else(|| OpaError::bad_request("principals.user_groups is required"))?
        .iter()
        .map(|g| g.get("id").and_then(Value::as_str).unwrap_or("").to_owned())
        .collect();
    if groups.len() > 40 {
        return Err(OpaError::bad_request(
            "principals.user_groups allows at most 40 groups",
        ));
    }
    if let Some(missing) = groups.iter().find(|g| !inner.groups.contains_key(*g)) {
        return Err(OpaError::bad_request(format!(
            "user group {missing} does not exist"
        )));
    }
    let rules = body
        .get("rules")
        .and_then(Value::as_array)
        .ok_or_else(|| OpaError::bad_request("rules is required"))?;
    if rules.len() > 30 {
        return Err(OpaError::bad_request("rules allows at most 30 rules"));
    }
    let mut stored = Vec::new();
    for rule in rules {
        let Some(obj) = rule.as_object() else {
            return Err(OpaError::bad_request("each rule must be an object"));
        };
        required(obj, "name")?;
        required(obj, "resource_type")?;
        let selectors = rule
            .pointer("/resource_selector/selectors")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                OpaError::bad_request("rules[].resource_selector.selectors is required")
            })?;
        for s in selectors {
            if s.get("selector_type").and_then(Value::as_str) == Some("secret_folder") {
                let folder = s
                    .pointer("/selector/secret_folder/id")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !inner.folders.contains_key(folder) {
                    return Err(OpaError::bad_request(format!(
                        "secret folder {folder} does not exist"
                    )));
                }
            }
        }
        if rule
            .get("privileges")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            return Err(OpaError::bad_request("rules[].privileges is required"));
        }
        let mut obj = obj.clone();
        obj.entry("id").or_insert_with(|| json!(new_id()));
        obj.insert("security_policy_id".into(), json!(id));
        obj.entry("conditions").or_insert_with(|| json!([]));
        stored.push(Value::Object(obj));
    }
    Ok(Policy {
        id: id.to_owned(),
        name,
        description: text(body, "description").unwrap_or("").to_owned(),
        active,
        groups,
        rules: stored,
    })
}

pub async fn create_policy(State(o): State<Arc<Opa>>, body: Bytes) -> OpaResult {
    let body = body_object(&body)?;
    let mut inner = o.core.state();
    let policy = read_policy(&inner, &body, &new_id())?;
    if inner.policies.values().any(|p| p.name == policy.name) {
        return Err(OpaError::conflict(format!(
            "A security policy named {} already exists",
            policy.name
        )));
    }
    let json = inner.policy_json(&policy);
    inner
        .writes
        .count(format!("security_policy/{}", policy.name));
    inner.policies.insert(policy.id.clone(), policy);
    created(&json)
}

pub async fn get_policy(State(o): State<Arc<Opa>>, Path(p): Params) -> OpaResult {
    let inner = o.core.state();
    let policy = inner
        .policies
        .get(param(&p, "policy"))
        .ok_or_else(|| OpaError::not_found("security policy"))?;
    ok(&inner.policy_json(policy))
}

pub async fn update_policy(State(o): State<Arc<Opa>>, Path(p): Params, body: Bytes) -> OpaResult {
    let body = body_object(&body)?;
    let id = param(&p, "policy").to_owned();
    let mut inner = o.core.state();
    if !inner.policies.contains_key(&id) {
        return Err(OpaError::not_found("security policy"));
    }
    let policy = read_policy(&inner, &body, &id)?;
    if inner
        .policies
        .values()
        .any(|q| q.name == policy.name && q.id != id)
    {
        return Err(OpaError::conflict(format!(
            "A security policy named {} already exists",
            policy.name
        )));
    }
    inner
        .writes
        .count(format!("security_policy/{}", policy.name));
    inner.policies.insert(id, policy);
    no_content()
}

pub async fn delete_policy(State(o): State<Arc<Opa>>, Path(p): Params) -> OpaResult {
    let mut inner = o.core.state();
    let policy = inner
        .policies
        .remove(param(&p, "policy"))
        .ok_or_else(|| OpaError::not_found("security policy"))?;
    inner
        .writes
        .count(format!("security_policy/{}", policy.name));
    no_content()
}
