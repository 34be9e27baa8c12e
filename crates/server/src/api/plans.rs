//! Plans: list, create (from policies or one change in words), review,
//! approve, apply (queued for the in-process worker), progress.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use grantflow_service::access::{self, Permission};
use grantflow_service::{ApplyOptions, ApplyOutcome};

use super::*;
use crate::Authenticated;
use crate::problem::ApiResult;

/// Plans, newest first.
#[utoipa::path(get, path = "/api/v1/plans", tag = "plans", params(PageQuery),
    responses((status = 200, description = "A page of plans", body = PlansPage)))]
pub(crate) async fn list_plans(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<PlansPage>> {
    access::authorize(&actor, &Permission::ReadPlans)?;
    let limit = page_limit(query.limit)?;
    let before = match decode_cursor("plans", query.cursor.as_deref())? {
        None => None,
        Some(position) => {
            let (ms, id) = position
                .split_once(' ')
                .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_string())))
                .ok_or_else(|| Problem::invalid("the cursor is not one this list gave out"))?;
            Some((ms, id))
        }
    };
    let mut plans = shared
        .service
        .store
        .plans_page(
            before.as_ref().map(|(ms, id)| (*ms, id.as_str())),
            limit as i64 + 1,
        )
        .await
        .map_err(grantflow_service::ServiceError::from)?;
    let next_cursor = if plans.len() > limit {
        plans.truncate(limit);
        plans
            .last()
            .map(|p| encode_cursor("plans", &format!("{} {}", p.created_ms, p.id)))
    } else {
        None
    };
    let items = plans
        .into_iter()
        .map(|p| PlanSummary {
            id: p.id,
            created_at: p.created_at,
            origin: p.origin,
            status: p.status,
        })
        .collect();
    Ok(Json(PlansPage { items, next_cursor }))
}

/// Makes and stores a plan: from every policy, or from one change in words.
#[utoipa::path(post, path = "/api/v1/plans", tag = "plans", request_body = NewPlan,
    responses(
        (status = 201, description = "The plan, stored for review", body = PlanReview),
        (status = 200, description = "Nothing to do: the change is already in effect (nothing stored)", body = PlanReview),
    ))]
pub(crate) async fn create_plan(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiJson(new): ApiJson<NewPlan>,
) -> ApiResult<(StatusCode, Json<PlanReview>)> {
    let service = &shared.service;
    let proposal = match new {
        NewPlan::FromPolicies { .. } => {
            access::authorize(&actor, &Permission::PlanFromPolicies)?;
            service
                .plan_policies(&actor, &service.config.policies)
                .await?
        }
        NewPlan::FromRequest { request } => {
            access::authorize(&actor, &Permission::PlanFromRequest)?;
            service.request_change(&actor, &request).await?
        }
        NewPlan::FromAction { action } => {
            access::authorize(&actor, &Permission::PlanFromRequest)?;
            service.request_action(&actor, &action.into()).await?
        }
    };
    if !proposal.stored {
        return Ok((
            StatusCode::OK,
            Json(PlanReview::new(&proposal, "not_stored".into(), None)),
        ));
    }
    let approval = service
        .store
        .approval(&proposal.plan.id)
        .await
        .map_err(grantflow_service::ServiceError::from)?;
    Ok((
        StatusCode::CREATED,
        Json(PlanReview::new(&proposal, "reviewed".into(), approval)),
    ))
}

/// A stored plan for review: operations grouped by person, reach, warnings.
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "plans",
    params(("id" = String, Path, description = "The plan's id")),
    responses((status = 200, description = "The plan", body = PlanReview)))]
pub(crate) async fn show_plan(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PlanReview>> {
    access::authorize(&actor, &Permission::ReadPlans)?;
    let view = shared.service.plan_view(&id).await?;
    Ok(Json(PlanReview::new(
        &view.proposal,
        view.status,
        view.approval,
    )))
}

/// Approves a plan that waits for an approval (never one's own).
#[utoipa::path(post, path = "/api/v1/plans/{id}/approve", tag = "plans",
    params(("id" = String, Path, description = "The plan's id")),
    responses((status = 200, description = "Approved", body = Approved)))]
pub(crate) async fn approve_plan(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Approved>> {
    access::authorize(&actor, &Permission::Approve)?;
    let approval = shared.service.approve(&actor, &id).await?;
    Ok(Json(Approved {
        plan_id: approval.plan_id,
        approved_by: approval.approved_by,
        expires_at: approval.expires_at,
    }))
}

/// Passes the plan through the gate and queues it; the server's worker runs it.
#[utoipa::path(post, path = "/api/v1/plans/{id}/apply", tag = "plans",
    params(("id" = String, Path, description = "The plan's id"), ApplyQuery),
    responses((status = 202, description = "Queued", body = Queued)))]
pub(crate) async fn apply_plan(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ApplyQuery>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    access::authorize(&actor, &Permission::Apply)?;
    let options = ApplyOptions {
        queue_only: true,
        allow_mass_removal: query.allow_mass_removal,
        allow_leavers: query.allow_leavers,
        ..ApplyOptions::default()
    };
    match shared
        .service
        .apply(&actor, &id, &options, &grantflow_engine::Silent)
        .await?
    {
        ApplyOutcome::Queued | ApplyOutcome::Ran { .. } => Ok((
            StatusCode::ACCEPTED,
            Json(Queued {
                progress: format!("/api/v1/plans/{id}/progress"),
                plan_id: id,
                status: "queued".into(),
            }),
        )),
    }
}

/// The state of each operation of a plan.
#[utoipa::path(get, path = "/api/v1/plans/{id}/progress", tag = "plans",
    params(("id" = String, Path, description = "The plan's id")),
    responses((status = 200, description = "The plan's jobs", body = PlanProgress)))]
pub(crate) async fn plan_progress(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PlanProgress>> {
    access::authorize(&actor, &Permission::ReadPlans)?;
    Ok(Json(shared.service.plan_progress(&id).await?.into()))
}
