//! Plans: the list, one plan's review (its changes grouped by person, the
//! production reach they add), approve, apply (queued for the worker) and
//! its progress, which the page polls through htmx while jobs run.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use grantflow_service::access::Permission;
use grantflow_service::{ApplyOptions, ApplyOutcome};
use serde::Deserialize;

use super::*;

pub(crate) struct PlanRow {
    pub id: String,
    pub href: String,
    pub created_at: String,
    pub origin: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "plans.html")]
struct PlansPage {
    layout: Layout,
    plans: Vec<PlanRow>,
}

/// `GET /console/plans`: the newest plans.
pub(crate) async fn list(State(shared): State<Arc<Shared>>, visitor: Visitor) -> PageResult {
    visitor.authorize(&Permission::ReadPlans)?;
    let plans = shared
        .service
        .store
        .plans_page(None, 100)
        .await
        .map_err(grantflow_service::ServiceError::from)?
        .into_iter()
        .map(|p| PlanRow {
            href: format!("/console/plans/{}", segment(&p.id)),
            id: p.id,
            created_at: p.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            origin: p.origin,
            status: p.status,
        })
        .collect();
    render(&PlansPage {
        layout: Layout::new(&visitor, "Plans", "/console/plans"),
        plans,
    })
}

/// One person's (or group's) changes.
pub(crate) struct PersonChanges {
    pub who: String,
    pub accounts: Vec<AccountChanges>,
}

pub(crate) struct AccountChanges {
    pub connection: String,
    pub holder: String,
    pub changes: Vec<String>,
}

/// A plan's jobs as the progress fragment shows them.
pub(crate) struct Progress {
    pub href: String,
    pub status: String,
    pub done: bool,
    pub jobs: Vec<JobRow>,
}

pub(crate) struct JobRow {
    pub operation: u32,
    pub natural_key: String,
    pub state: String,
    pub attempts: u32,
    pub outcome: String,
    pub error: String,
}

async fn progress_of(shared: &Shared, id: &str) -> Result<Progress, PageError> {
    let progress = shared.service.plan_progress(id).await?;
    Ok(Progress {
        href: format!("/console/plans/{}/progress", segment(id)),
        done: !progress.jobs.is_empty() && progress.jobs.iter().all(|j| j.state.is_final()),
        status: progress.status,
        jobs: progress
            .jobs
            .into_iter()
            .map(|j| JobRow {
                operation: j.op_id,
                natural_key: j.natural_key,
                state: j.state.as_str().to_string(),
                attempts: j.attempts,
                outcome: j.outcome.unwrap_or_default(),
                error: match (j.error_code, j.error_message, j.wait_reason) {
                    (Some(code), Some(message), _) => format!("{code}: {message}"),
                    (Some(code), None, _) => code,
                    (None, Some(message), _) => message,
                    (None, None, Some(wait)) => format!("waiting: {wait}"),
                    (None, None, None) => String::new(),
                },
            })
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    layout: Layout,
    id: String,
    segment: String,
    origin: String,
    created_at: String,
    status: String,
    approved_by: String,
    requested_by: String,
    needs_approval: bool,
    people: Vec<PersonChanges>,
    reach: String,
    notes: Vec<String>,
    progress: Progress,
    may_approve: bool,
    may_apply: bool,
}

/// `GET /console/plans/{id}`: the review, approval, and progress.
pub(crate) async fn show(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> PageResult {
    visitor.authorize(&Permission::ReadPlans)?;
    let view = shared.service.plan_view(&id).await?;
    let plan = &view.proposal.plan;
    let describe = |op_id: &grantflow_model::OperationId| {
        plan.operations
            .iter()
            .find(|op| op.id == *op_id)
            .map(|op| op.describe())
            .unwrap_or_else(|| format!("operation {op_id}"))
    };
    let people = view
        .proposal
        .people
        .iter()
        .map(|changes| PersonChanges {
            who: match (&changes.display_name, &changes.email) {
                (Some(name), Some(email)) => format!("{name} <{email}>"),
                (None, Some(email)) => email.clone(),
                (Some(name), None) => name.clone(),
                (None, None) => format!("{:?}", changes.kind).to_lowercase(),
            },
            accounts: changes
                .accounts
                .iter()
                .map(|account| AccountChanges {
                    connection: account.connection.to_string(),
                    holder: account.holder.clone(),
                    changes: account.operations.iter().map(&describe).collect(),
                })
                .collect(),
        })
        .collect();
    let approval = view.approval.as_ref();
    let progress = progress_of(&shared, &id).await?;
    render(&PlanPage {
        layout: Layout::new(&visitor, format!("Plan {id}"), "/console/plans"),
        segment: segment(&id),
        origin: plan.origin.clone(),
        created_at: plan.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        status: view.status.clone(),
        approved_by: approval
            .and_then(|a| a.approved_by.clone())
            .unwrap_or_default(),
        requested_by: approval.map(|a| a.requested_by.clone()).unwrap_or_default(),
        needs_approval: approval.is_some_and(|a| a.approved_by.is_none()),
        people,
        reach: view
            .proposal
            .reach
            .as_ref()
            .and_then(|r| serde_json::to_string_pretty(r).ok())
            .unwrap_or_default(),
        notes: view.proposal.warnings.clone(),
        progress,
        may_approve: visitor.may(&Permission::Approve),
        may_apply: visitor.may(&Permission::Apply),
        id,
    })
}

#[derive(Template)]
#[template(path = "plan_progress.html")]
struct ProgressFragment {
    progress: Progress,
}

/// `GET /console/plans/{id}/progress`: the jobs (the fragment htmx polls
/// every second until they have all ended; a reload without JavaScript).
pub(crate) async fn progress(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> PageResult {
    visitor.authorize(&Permission::ReadPlans)?;
    if !wants_fragment(&headers) {
        return see_other(&format!("/console/plans/{}", segment(&id)));
    }
    render(&ProgressFragment {
        progress: progress_of(&shared, &id).await?,
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct ChangeForm {
    csrf: Option<String>,
}

/// `POST /console/plans/{id}/approve`: approves somebody else's plan.
pub(crate) async fn approve(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ChangeForm>, FormRejection>,
) -> PageResult {
    let Form(form) = form.map_err(|e| PageError::invalid(e.body_text()))?;
    visitor.check_csrf(&headers, form.csrf.as_deref())?;
    visitor.authorize(&Permission::Approve)?;
    shared.service.approve(&visitor.actor, &id).await?;
    see_other(&format!("/console/plans/{}", segment(&id)))
}

/// `POST /console/plans/{id}/apply`: hands the plan to the worker; its page
/// then shows the jobs as they run.
pub(crate) async fn apply(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ChangeForm>, FormRejection>,
) -> PageResult {
    let Form(form) = form.map_err(|e| PageError::invalid(e.body_text()))?;
    visitor.check_csrf(&headers, form.csrf.as_deref())?;
    visitor.authorize(&Permission::Apply)?;
    let options = ApplyOptions {
        queue_only: true,
        ..ApplyOptions::default()
    };
    match shared
        .service
        .apply(&visitor.actor, &id, &options, &grantflow_engine::Silent)
        .await?
    {
        ApplyOutcome::Queued | ApplyOutcome::Ran { .. } => {
            see_other(&format!("/console/plans/{}", segment(&id)))
        }
    }
}
