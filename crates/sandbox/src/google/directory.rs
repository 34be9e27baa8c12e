//! Directory API handlers: groups, members (with roles) and hasMember (users are `users.rs`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::errors::{GoogleError, GoogleResult};
use super::pagination::{Query, list_body, page};
use super::state::{Google, Group, Member, ROLES};

pub fn ok(body: &Value) -> Response {
    let mut resp = (StatusCode::OK, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp
}

/// Google answers deletes with 204 and no body.
pub(super) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

pub(super) fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> GoogleResult<T> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => GoogleError::invalid(&e.to_string()),
        _ => GoogleError::parse_error(),
    })
}

/// `customer=my_customer` (or the id) or `domain=…`: one of them is required, as in the API.
pub(super) fn check_scope(o: &Google, q: &Query) -> GoogleResult<()> {
    match (q.get("customer"), q.get("domain")) {
        (Some(c), _) if c == "my_customer" || c == o.customer_id => Ok(()),
        (Some(_), _) => Err(GoogleError::not_found("customer")),
        (None, Some(_)) => Ok(()),
        (None, None) => Err(GoogleError::bad_request()),
    }
}

pub(super) fn descending(q: &Query) -> bool {
    q.get("sortOrder")
        .is_some_and(|s| s.eq_ignore_ascii_case("DESCENDING"))
}

pub async fn list_groups(
    State(o): State<Arc<Google>>,
    RawQuery(raw): RawQuery,
) -> GoogleResult<Response> {
    let q = Query::parse(raw.as_deref());
    let size = q.max_results(200, 200)?;
    let now = o.core.now();
    let inner = o.core.state();
    let member_of = match q.get("userKey") {
        Some(key) => Some(
            inner
                .find_user(key)
                .map(|u| u.id.clone())
                .ok_or_else(|| GoogleError::not_found("userKey"))?,
        ),
        None => {
            check_scope(&o, &q)?;
            None
        }
    };
    let mut groups: Vec<&Group> = inner
        .groups
        .values()
        .filter(|g| match &member_of {
            Some(uid) => g.members.get(uid).is_some_and(|m| m.visible_at <= now),
            None => true,
        })
        .collect();
    groups.sort_by_key(|g| g.email.to_lowercase());
    if descending(&q) {
        groups.reverse();
    }
    let items = groups.iter().map(|g| inner.group_json(g, now)).collect();
    let (items, next) = page(items, q.get("pageToken"), size)?;
    Ok(ok(&list_body(
        "admin#directory#groups",
        "groups",
        items,
        next,
    )))
}

pub async fn get_group(
    State(o): State<Arc<Google>>,
    Path(key): Path<String>,
) -> GoogleResult<Response> {
    let inner = o.core.state();
    let gid = inner.group_key(&key)?;
    let g = group_of(&inner, &gid)?;
    Ok(ok(&inner.group_json(g, o.core.now())))
}

#[derive(Deserialize)]
struct NewGroup {
    email: Option<String>,
    name: Option<String>,
    description: Option<String>,
}

pub async fn insert_group(State(o): State<Arc<Google>>, body: Bytes) -> GoogleResult<Response> {
    let n: NewGroup = parse(&body)?;
    let email = n.email.ok_or_else(|| GoogleError::required("email"))?;
    let mut inner = o.core.state();
    if inner.group_key(&email).is_ok() || inner.find_user(&email).is_some() {
        return Err(GoogleError::entity_exists());
    }
    let id = inner.group_id();
    let group = Group {
        id: id.clone(),
        name: n.name.unwrap_or_else(|| email.clone()),
        email,
        description: n.description.unwrap_or_default(),
        members: Default::default(),
    };
    let body = inner.group_json(&group, o.core.now());
    inner.groups.insert(id.clone(), group);
    inner.writes.count(format!("group/{id}"));
    Ok(ok(&body))
}

pub async fn delete_group(
    State(o): State<Arc<Google>>,
    Path(key): Path<String>,
) -> GoogleResult<Response> {
    let mut inner = o.core.state();
    let gid = inner.group_key(&key)?;
    inner.groups.remove(&gid);
    inner.writes.count(format!("group/{gid}"));
    Ok(no_content())
}

fn roles_filter(q: &Query) -> GoogleResult<Option<Vec<String>>> {
    let Some(raw) = q.get("roles") else {
        return Ok(None);
    };
    let roles: Vec<String> = raw.split(',').map(|r| r.trim().to_uppercase()).collect();
    if roles.iter().any(|r| !ROLES.contains(&r.as_str())) {
        return Err(GoogleError::invalid("roles"));
    }
    Ok(Some(roles))
}

pub async fn list_members(
    State(o): State<Arc<Google>>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> GoogleResult<Response> {
    let q = Query::parse(raw.as_deref());
    let size = q.max_results(200, 200)?;
    let roles = roles_filter(&q)?;
    let now = o.core.now();
    let inner = o.core.state();
    let gid = inner.group_key(&key)?;
    let mut members: Vec<(String, &Member)> = group_of(&inner, &gid)?
        .members
        .iter()
        .filter(|(_, m)| m.visible_at <= now)
        .filter(|(_, m)| roles.as_ref().is_none_or(|r| r.contains(&m.role)))
        .map(|(uid, m)| (uid.clone(), m))
        .collect();
    members.sort_by_cached_key(|(uid, _)| {
        inner.users.get(uid).map(|u| u.primary_email.to_lowercase())
    });
    let (members, next) = page(members, q.get("pageToken"), size)?;
    let items = members
        .iter()
        .map(|(uid, m)| inner.member_json(uid, m))
        .collect();
    Ok(ok(&list_body(
        "admin#directory#members",
        "members",
        items,
        next,
    )))
}

/// The group by id; it may have been deleted since its key was resolved under an earlier lock.
fn group_of<'a>(inner: &'a super::state::Inner, gid: &str) -> GoogleResult<&'a Group> {
    inner
        .groups
        .get(gid)
        .ok_or_else(|| GoogleError::not_found("groupKey"))
}

/// Resolves the group and the member (a user key); the membership itself may or may not exist.
fn member_target(o: &Google, group: &str, member: &str) -> GoogleResult<(String, String)> {
    let inner = o.core.state();
    let gid = inner.group_key(group)?;
    let uid = inner
        .find_user(member)
        .map(|u| u.id.clone())
        .ok_or_else(|| GoogleError::not_found("memberKey"))?;
    Ok((gid, uid))
}

pub async fn get_member(
    State(o): State<Arc<Google>>,
    Path((g, m)): Path<(String, String)>,
) -> GoogleResult<Response> {
    let (gid, uid) = member_target(&o, &g, &m)?;
    let inner = o.core.state();
    let member = group_of(&inner, &gid)?
        .members
        .get(&uid)
        .ok_or_else(|| GoogleError::not_found("memberKey"))?;
    Ok(ok(&inner.member_json(&uid, member)))
}

pub async fn has_member(
    State(o): State<Arc<Google>>,
    Path((g, m)): Path<(String, String)>,
) -> GoogleResult<Response> {
    let (gid, uid) = member_target(&o, &g, &m)?;
    let now = o.core.now();
    let inner = o.core.state();
    let is = group_of(&inner, &gid)?
        .members
        .get(&uid)
        .is_some_and(|m| m.visible_at <= now);
    Ok(ok(&serde_json::json!({ "isMember": is })))
}

#[derive(Deserialize)]
struct MemberBody {
    email: Option<String>,
    id: Option<String>,
    role: Option<String>,
}

fn role_of(body: &MemberBody) -> GoogleResult<Option<String>> {
    match &body.role {
        None => Ok(None),
        Some(r) if ROLES.contains(&r.to_uppercase().as_str()) => Ok(Some(r.to_uppercase())),
        Some(_) => Err(GoogleError::invalid("role")),
    }
}

pub async fn insert_member(
    State(o): State<Arc<Google>>,
    Path(g): Path<String>,
    body: Bytes,
) -> GoogleResult<Response> {
    let b: MemberBody = parse(&body)?;
    let key = b
        .email
        .clone()
        .or(b.id.clone())
        .ok_or_else(|| GoogleError::required("memberKey"))?;
    let role = role_of(&b)?.unwrap_or_else(|| "MEMBER".into());
    let (gid, uid) = member_target(&o, &g, &key)?;
    let now = o.core.now();
    let delay = o.core.faults().member_visibility_delay_ms;
    let mut inner = o.core.state();
    // Counted before the duplicate check: tests use the count to prove how many inserts were sent.
    inner.writes.count(format!("group/{gid}/member/{uid}"));
    let group = inner
        .groups
        .get_mut(&gid)
        .ok_or_else(|| GoogleError::not_found("groupKey"))?;
    if group.members.contains_key(&uid) {
        return Err(GoogleError::member_exists());
    }
    let member = Member {
        role,
        visible_at: now + chrono::Duration::milliseconds(delay as i64),
    };
    group.members.insert(uid.clone(), member.clone());
    Ok(ok(&inner.member_json(&uid, &member)))
}

/// PUT and PATCH: only the role is changeable here.
pub async fn update_member(
    State(o): State<Arc<Google>>,
    Path((g, m)): Path<(String, String)>,
    body: Bytes,
) -> GoogleResult<Response> {
    let b: MemberBody = parse(&body)?;
    let role = role_of(&b)?;
    let (gid, uid) = member_target(&o, &g, &m)?;
    let mut inner = o.core.state();
    inner.writes.count(format!("group/{gid}/member/{uid}"));
    let group = inner
        .groups
        .get_mut(&gid)
        .ok_or_else(|| GoogleError::not_found("groupKey"))?;
    let member = group
        .members
        .get_mut(&uid)
        .ok_or_else(|| GoogleError::not_found("memberKey"))?;
    if let Some(role) = role {
        member.role = role;
    }
    let member = member.clone();
    Ok(ok(&inner.member_json(&uid, &member)))
}

pub async fn delete_member(
    State(o): State<Arc<Google>>,
    Path((g, m)): Path<(String, String)>,
) -> GoogleResult<Response> {
    let (gid, uid) = member_target(&o, &g, &m)?;
    let mut inner = o.core.state();
    inner.writes.count(format!("group/{gid}/member/{uid}"));
    let group = inner
        .groups
        .get_mut(&gid)
        .ok_or_else(|| GoogleError::not_found("groupKey"))?;
    group
        .members
        .remove(&uid)
        .ok_or_else(|| GoogleError::not_found("memberKey"))?;
    Ok(no_content())
}
