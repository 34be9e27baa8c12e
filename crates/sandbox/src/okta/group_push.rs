//! `/api/v1/apps/{appId}/group-push/mappings`: list, create (201), get, PATCH status, and delete (only when
//! INACTIVE), with Okta's E0000027 "Group push bad request" for invalid requests.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::apps::find_app;
use super::context::{Ctx, json_response, no_content, ok, parse_body};
use super::errors::{OktaError, OktaResult};
use super::ids::ts;
use super::pagination::{list_response, page};
use super::state::{Inner, Okta, PushMapping};

fn bad_request(detail: &str) -> OktaError {
    OktaError::new(
        StatusCode::BAD_REQUEST,
        "E0000027",
        format!("Group push bad request : {detail}"),
    )
}

fn mapping_json(m: &PushMapping, ctx: &Ctx) -> Value {
    let mut v = json!({
        "id": m.id,
        "sourceGroupId": m.source_group_id,
        "targetGroupId": m.target_group_id,
        "status": if m.active { "ACTIVE" } else { "INACTIVE" },
        "created": ts(m.created),
        "lastUpdated": ts(m.last_updated),
        "_links": {
            "app": ctx.href(&format!("/api/v1/apps/{}", m.app_id)),
            "sourceGroup": ctx.href(&format!("/api/v1/groups/{}", m.source_group_id)),
            "targetGroup": ctx.href(&format!("/api/v1/groups/{}", m.target_group_id)),
        },
    });
    if let Some(t) = m.last_push {
        v["lastPush"] = json!(ts(t));
    }
    v
}

fn find<'a>(inner: &'a Inner, app: &str, id: &str) -> OktaResult<&'a PushMapping> {
    find_app(inner, app)?;
    inner
        .push_mappings
        .get(id)
        .filter(|m| m.app_id == app)
        .ok_or_else(|| OktaError::not_found(id, "GroupPushMapping"))
}

fn status_param(value: &str) -> OktaResult<bool> {
    match value {
        "ACTIVE" => Ok(true),
        "INACTIVE" => Ok(false),
        other => Err(OktaError::validation(
            "status",
            vec![format!("status: '{other}' is not one of ACTIVE, INACTIVE")],
        )),
    }
}

pub async fn list(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(app): Path<String>,
) -> OktaResult<Response> {
    let limit = ctx.limit(100, 1000)?;
    let status = ctx
        .param("status")
        .filter(|s| !s.is_empty())
        .map(status_param)
        .transpose()?;
    let inner = o.core.state();
    find_app(&inner, &app)?;
    let matching: Vec<&PushMapping> = inner
        .push_mappings
        .values()
        .filter(|m| m.app_id == app)
        .filter(|m| {
            ctx.param("sourceGroupId")
                .is_none_or(|g| g == m.source_group_id)
        })
        .filter(|m| status.is_none_or(|s| s == m.active))
        .collect();
    let (items, next) = page(matching, ctx.param("after"), limit, |m| m.id.clone());
    let items = items.into_iter().map(|m| mapping_json(m, &ctx)).collect();
    Ok(list_response(&ctx, items, next.as_deref(), limit))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRequest {
    source_group_id: Option<String>,
    #[serde(default)]
    target_group_id: Option<String>,
    #[serde(default)]
    target_group_name: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    app_config: Option<Value>,
}

pub async fn create(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path(app): Path<String>,
    body: Bytes,
) -> OktaResult<Response> {
    let req: CreateRequest = parse_body(&body, "createGroupPushMapping")?;
    let active = status_param(req.status.as_deref().unwrap_or("ACTIVE"))?;
    let mut inner = o.core.state();
    find_app(&inner, &app)?;
    let source = req
        .source_group_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_request("sourceGroupId is required"))?;
    if !inner.groups.contains_key(&source) {
        return Err(bad_request(&format!(
            "source group {source} does not exist"
        )));
    }
    let target = match (req.target_group_id, req.target_group_name) {
        (Some(id), None) => id,
        (None, Some(name)) if !name.trim().is_empty() => {
            // Link to an app group with that name when one is already pushed, else create a new one.
            let existing = inner
                .push_mappings
                .values()
                .find(|m| {
                    m.app_id == app
                        && inner
                            .groups
                            .get(&m.source_group_id)
                            .is_some_and(|g| g.name() == name)
                })
                .map(|m| m.target_group_id.clone());
            match existing {
                Some(id) => id,
                None => inner.new_id("00g"),
            }
        }
        _ => {
            return Err(bad_request(
                "exactly one of targetGroupId or targetGroupName is required",
            ));
        }
    };
    if inner
        .push_mappings
        .values()
        .any(|m| m.app_id == app && m.source_group_id == source)
    {
        return Err(bad_request(&format!(
            "a group push mapping for source group {source} already exists"
        )));
    }
    let id = inner.new_id("gPm");
    let mapping = PushMapping {
        id: id.clone(),
        app_id: app.clone(),
        source_group_id: source.clone(),
        target_group_id: target,
        active,
        created: ctx.now,
        last_updated: ctx.now,
        last_push: active.then_some(ctx.now),
    };
    let body = mapping_json(&mapping, &ctx);
    inner.push_mappings.insert(id.clone(), mapping);
    inner.writes.count(format!("group-push/{id}"));
    let t = vec![inner.app_target(&app), inner.group_target(&source)];
    inner.log(
        &ctx,
        "application.provision.group_push.mapping.created",
        "Group push mapping created",
        t,
    );
    Ok(json_response(StatusCode::CREATED, &body))
}

pub async fn get(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path((app, id)): Path<(String, String)>,
) -> OktaResult<Response> {
    let inner = o.core.state();
    Ok(ok(&mapping_json(find(&inner, &app, &id)?, &ctx)))
}

#[derive(Debug, Deserialize)]
struct UpdateRequest {
    status: Option<String>,
}

pub async fn update(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path((app, id)): Path<(String, String)>,
    body: Bytes,
) -> OktaResult<Response> {
    let req: UpdateRequest = parse_body(&body, "updateGroupPushMapping")?;
    let status = req
        .status
        .ok_or_else(|| OktaError::validation("status", vec!["status: is required".into()]))?;
    let active = status_param(&status)?;
    let mut inner = o.core.state();
    find(&inner, &app, &id)?;
    let body = match inner.push_mappings.get_mut(&id) {
        Some(m) => {
            if active && !m.active {
                // Activation triggers an initial push.
                m.last_push = Some(ctx.now);
            }
            m.active = active;
            m.last_updated = ctx.now;
            mapping_json(m, &ctx)
        }
        None => return Err(OktaError::not_found(&id, "GroupPushMapping")),
    };
    inner.writes.count(format!("group-push/{id}"));
    let event = if active {
        "application.provision.group_push.activate_mapping"
    } else {
        "application.provision.group_push.deactivate_mapping"
    };
    let t = vec![inner.app_target(&app)];
    inner.log(&ctx, event, "Group push mapping updated", t);
    Ok(ok(&body))
}

pub async fn delete(
    State(o): State<Arc<Okta>>,
    ctx: Ctx,
    Path((app, id)): Path<(String, String)>,
) -> OktaResult<Response> {
    ctx.bool_param("deleteTargetGroup", false)?;
    let mut inner = o.core.state();
    if find(&inner, &app, &id)?.active {
        return Err(bad_request(
            "the group push mapping must be INACTIVE before it can be deleted",
        ));
    }
    inner.push_mappings.remove(&id);
    inner.writes.count(format!("group-push/{id}"));
    let t = vec![inner.app_target(&app)];
    inner.log(
        &ctx,
        "application.provision.group_push.removed",
        "Group push mapping removed",
        t,
    );
    Ok(no_content())
}
