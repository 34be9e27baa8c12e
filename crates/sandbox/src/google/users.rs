//! Directory API user handlers: `users.list`, `users.get` (`projection=full` adds custom schemas),
//! `users.insert` (primary email, names and password required; 409 `duplicate` for an email taken),
//! `users.update` / `users.patch` (patch semantics: fields not sent keep their values) and
//! `users.delete`. Every write is counted as `user/{id}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::directory::{check_scope, descending, no_content, ok, parse};
use super::errors::{GoogleError, GoogleResult};
use super::pagination::{Query, list_body, page};
use super::state::{Google, User};

/// "The maximum number of characters in the `givenName` and in the `familyName` values is 60."
const NAME_MAX: usize = 60;

fn full(q: &Query) -> bool {
    q.get("projection")
        .is_some_and(|p| p.eq_ignore_ascii_case("full"))
}

pub async fn list_users(
    State(o): State<Arc<Google>>,
    RawQuery(raw): RawQuery,
) -> GoogleResult<Response> {
    let q = Query::parse(raw.as_deref());
    check_scope(&o, &q)?;
    let size = q.max_results(100, 500)?;
    let inner = o.core.state();
    let mut users: Vec<&User> = inner.users.values().collect();
    users.sort_by_cached_key(|u| u.primary_email.to_lowercase());
    if descending(&q) {
        users.reverse();
    }
    let (users, next) = page(users, q.get("pageToken"), size)?;
    let items = users
        .iter()
        .map(|u| {
            if full(&q) {
                inner.user_json_full(u, &o.customer_id)
            } else {
                inner.user_json(u, &o.customer_id)
            }
        })
        .collect();
    Ok(ok(&list_body(
        "admin#directory#users",
        "users",
        items,
        next,
    )))
}

pub async fn get_user(
    State(o): State<Arc<Google>>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> GoogleResult<Response> {
    let q = Query::parse(raw.as_deref());
    let inner = o.core.state();
    let u = inner
        .find_user(&key)
        .ok_or_else(|| GoogleError::not_found("userKey"))?;
    Ok(ok(&if full(&q) {
        inner.user_json_full(u, &o.customer_id)
    } else {
        inner.user_json(u, &o.customer_id)
    }))
}

/// The writable fields of a `User` body the emulator keeps; each `None` when not sent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserBody {
    primary_email: Option<String>,
    name: Option<NameBody>,
    password: Option<String>,
    suspended: Option<bool>,
    org_unit_path: Option<String>,
    change_password_at_next_login: Option<bool>,
    custom_schemas: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NameBody {
    given_name: Option<String>,
    family_name: Option<String>,
}

fn checked_name(field: &str, value: Option<String>) -> GoogleResult<Option<String>> {
    match value {
        Some(v) if v.trim().is_empty() || v.chars().count() > NAME_MAX => {
            Err(GoogleError::invalid(field))
        }
        other => Ok(other),
    }
}

fn checked_org_unit(path: Option<String>) -> GoogleResult<Option<String>> {
    match path {
        Some(p) if !p.starts_with('/') => Err(GoogleError::invalid("orgUnitPath")),
        other => Ok(other),
    }
}

/// Each schema's fields as an object (`{"schema": {"field": value}}`); anything else is invalid.
fn checked_schemas(schemas: &Map<String, Value>) -> GoogleResult<()> {
    if schemas.values().all(Value::is_object) {
        Ok(())
    } else {
        Err(GoogleError::invalid("customSchemas"))
    }
}

/// Custom fields merged in: a field sent replaces its value, `null` clears it, others stay.
fn merge_schemas(into: &mut Map<String, Value>, sent: Map<String, Value>) {
    for (schema, fields) in sent {
        let Value::Object(fields) = fields else {
            continue;
        };
        let Value::Object(kept) = into
            .entry(schema.clone())
            .or_insert_with(|| Value::Object(Map::new()))
        else {
            continue;
        };
        for (field, value) in fields {
            if value.is_null() {
                kept.remove(&field);
            } else {
                kept.insert(field, value);
            }
        }
        if kept.is_empty() {
            into.remove(&schema);
        }
    }
}

pub async fn insert_user(State(o): State<Arc<Google>>, body: Bytes) -> GoogleResult<Response> {
    let n: UserBody = parse(&body)?;
    let email = n
        .primary_email
        .ok_or_else(|| GoogleError::required("primaryEmail"))?;
    let name = n.name.ok_or_else(|| GoogleError::required("name"))?;
    let given = checked_name("name.givenName", name.given_name)?
        .ok_or_else(|| GoogleError::required("name.givenName"))?;
    let family = checked_name("name.familyName", name.family_name)?
        .ok_or_else(|| GoogleError::required("name.familyName"))?;
    if n.password.is_none_or(|p| p.is_empty()) {
        return Err(GoogleError::required("password"));
    }
    let org_unit_path = checked_org_unit(n.org_unit_path)?;
    let mut custom_schemas = Map::new();
    if let Some(sent) = n.custom_schemas {
        checked_schemas(&sent)?;
        merge_schemas(&mut custom_schemas, sent);
    }
    let now = o.core.now();
    let mut inner = o.core.state();
    if inner.find_user(&email).is_some() {
        return Err(GoogleError::entity_exists());
    }
    let id = inner.user_id();
    let user = User {
        id: id.clone(),
        primary_email: email,
        given_name: given,
        family_name: family,
        suspended: n.suspended.unwrap_or(false),
        is_admin: false,
        org_unit_path: org_unit_path.unwrap_or_else(|| "/".into()),
        created: now,
        change_password_at_next_login: n.change_password_at_next_login.unwrap_or(false),
        custom_schemas,
    };
    let body = inner.user_json_full(&user, &o.customer_id);
    inner.users.insert(id.clone(), user);
    inner.writes.count(format!("user/{id}"));
    Ok(ok(&body))
}

/// `users.update` (PUT) and `users.patch` (PATCH): both keep the fields not sent.
pub async fn update_user(
    State(o): State<Arc<Google>>,
    Path(key): Path<String>,
    body: Bytes,
) -> GoogleResult<Response> {
    let n: UserBody = parse(&body)?;
    let (given, family) = match n.name {
        Some(name) => (
            checked_name("name.givenName", name.given_name)?,
            checked_name("name.familyName", name.family_name)?,
        ),
        None => (None, None),
    };
    let org_unit_path = checked_org_unit(n.org_unit_path)?;
    if let Some(sent) = &n.custom_schemas {
        checked_schemas(sent)?;
    }
    let mut inner = o.core.state();
    let id = inner
        .find_user(&key)
        .map(|u| u.id.clone())
        .ok_or_else(|| GoogleError::not_found("userKey"))?;
    if let Some(email) = &n.primary_email
        && inner.find_user(email).is_some_and(|u| u.id != id)
    {
        return Err(GoogleError::entity_exists());
    }
    inner.writes.count(format!("user/{id}"));
    let user = inner
        .users
        .get_mut(&id)
        .ok_or_else(|| GoogleError::not_found("userKey"))?;
    if let Some(email) = n.primary_email {
        user.primary_email = email;
    }
    if let Some(given) = given {
        user.given_name = given;
    }
    if let Some(family) = family {
        user.family_name = family;
    }
    if let Some(suspended) = n.suspended {
        user.suspended = suspended;
    }
    if let Some(path) = org_unit_path {
        user.org_unit_path = path;
    }
    if let Some(change) = n.change_password_at_next_login {
        user.change_password_at_next_login = change;
    }
    if let Some(sent) = n.custom_schemas {
        merge_schemas(&mut user.custom_schemas, sent);
    }
    let user = user.clone();
    Ok(ok(&inner.user_json_full(&user, &o.customer_id)))
}

pub async fn delete_user(
    State(o): State<Arc<Google>>,
    Path(key): Path<String>,
) -> GoogleResult<Response> {
    let mut inner = o.core.state();
    let id = inner
        .find_user(&key)
        .map(|u| u.id.clone())
        .ok_or_else(|| GoogleError::not_found("userKey"))?;
    inner.users.remove(&id);
    for g in inner.groups.values_mut() {
        g.members.remove(&id);
    }
    inner.writes.count(format!("user/{id}"));
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::merge_schemas;
    use serde_json::json;

    #[test]
    fn custom_fields_merge_and_null_clears() {
        let mut kept = json!({"Employment": {"costCenter": "A", "level": 3}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let sent = json!({"Employment": {"costCenter": "B", "level": null}, "Other": {"x": 1}});
        merge_schemas(&mut kept, sent.as_object().cloned().unwrap_or_default());
        assert_eq!(
            serde_json::Value::Object(kept),
            json!({"Employment": {"costCenter": "B"}, "Other": {"x": 1}})
        );
    }
}
