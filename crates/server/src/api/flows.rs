//! Workflows: the loaded flows, starting a run through the API (flows whose trigger is `api` or `manual`),
//! and runs card by card.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use grantflow_service::access;
use grantflow_service::flows::FlowRunView;
use grantflow_store::RunStart;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::*;
use crate::Authenticated;
use crate::problem::ApiResult;

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowSummary {
    pub name: String,
    pub description: Option<String>,
    /// The flow file's version (a digest of its text): runs are pinned to it.
    pub version: String,
    /// `okta`, `event`, `schedule`, `person_date`, `webhook`, `api`, `manual`, `request`, or none for a helper flow.
    pub trigger: Option<String>,
    /// The inputs a run takes: name → type.
    pub inputs: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Flows {
    pub items: Vec<FlowSummary>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFlowRun {
    /// The run's inputs, checked against the flow's declared inputs.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub inputs: serde_json::Value,
}

/// A run, with its steps when one run is read.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowRun {
    pub id: String,
    pub flow: String,
    pub version: String,
    pub trigger: String,
    pub actor: String,
    /// `queued`, `running`, `waiting`, `succeeded`, `failed`.
    pub state: String,
    #[schema(value_type = Option<Object>)]
    pub output: Option<serde_json::Value>,
    /// The failing step's error: `code` (the vendor's), `message`, `system`, `step`.
    #[schema(value_type = Option<Object>)]
    pub error: Option<serde_json::Value>,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// Whether this call started it (false: its idempotency key had started it before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<bool>,
    pub steps: Vec<FlowRunStep>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowRunStep {
    /// Where the step sits in the run (`user`, `each[2]/notify`, `call/create`).
    pub path: String,
    pub card: String,
    /// `started`, `succeeded`, `failed`.
    pub state: String,
    pub attempts: i64,
    #[schema(value_type = Option<Object>)]
    pub input: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub output: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub error: Option<serde_json::Value>,
    pub duration_ms: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowRuns {
    pub items: Vec<FlowRun>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlowRunsQuery {
    /// Only this flow's runs.
    pub flow: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

fn run_of(view: FlowRunView, started: Option<bool>) -> FlowRun {
    FlowRun {
        id: view.id,
        flow: view.flow,
        version: view.version,
        trigger: view.trigger,
        actor: view.actor,
        state: view.state,
        output: view.output,
        error: view.error,
        created_at: view.created_at.to_rfc3339(),
        finished_at: view.finished_at.map(|t| t.to_rfc3339()),
        started,
        steps: view
            .steps
            .into_iter()
            .map(|s| FlowRunStep {
                path: s.path,
                card: s.card,
                state: s.state,
                attempts: s.attempts,
                input: s.input,
                output: s.output,
                error: s.error,
                duration_ms: s.duration_ms,
            })
            .collect(),
    }
}

/// The loaded flows and their triggers.
#[utoipa::path(get, path = "/api/v1/flows", tag = "flows",
    responses((status = 200, description = "The flows", body = Flows)))]
pub(crate) async fn list_flows(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
) -> ApiResult<Json<Flows>> {
    access::authorize(&actor, &access::Permission::ReadFlows)?;
    let flows = shared.flows.current();
    Ok(Json(Flows {
        items: flows
            .iter()
            .map(|f| FlowSummary {
                name: f.name.clone(),
                description: f.description.clone(),
                version: f.version.clone(),
                trigger: f.trigger.as_ref().map(|t| t.kind().to_string()),
                inputs: f
                    .inputs
                    .iter()
                    .map(|(name, input)| (name.clone(), input.kind.name().to_string()))
                    .collect(),
            })
            .collect(),
    }))
}

/// Starts a run of a flow whose trigger is `api` or `manual`; the server's worker runs it. An
/// `Idempotency-Key` header makes a repeated call return the run the first one started.
#[utoipa::path(post, path = "/api/v1/flows/{flow}/runs", tag = "flows", request_body = NewFlowRun,
    params(("flow" = String, Path, description = "The flow's name"),
           ("Idempotency-Key" = Option<String>, Header, description = "One run per key")),
    responses((status = 202, description = "The run, queued (or the one this key started)", body = FlowRun)))]
pub(crate) async fn start_flow_run(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiPath(flow): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewFlowRun>,
) -> ApiResult<(StatusCode, Json<FlowRun>)> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| k.trim().chars().take(200).collect::<String>())
        .filter(|k| !k.is_empty());
    let flows = shared.flows.current();
    let started = shared
        .service
        .start_flow(&actor, &flows, &flow, body.inputs, key, "api")
        .await?;
    let (run, fresh) = match started {
        RunStart::Started(run) => (run, true),
        RunStart::Duplicate(run) => (run, false),
    };
    let view = shared
        .service
        .flow_run(&actor, &run.id)
        .await
        .unwrap_or_else(|_| grantflow_service::flows::view_of(run, vec![]));
    Ok((StatusCode::ACCEPTED, Json(run_of(view, Some(fresh)))))
}

/// Runs, newest first.
#[utoipa::path(get, path = "/api/v1/flow-runs", tag = "flows", params(FlowRunsQuery),
    responses((status = 200, description = "Runs without their steps", body = FlowRuns)))]
pub(crate) async fn list_flow_runs(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<FlowRunsQuery>,
) -> ApiResult<Json<FlowRuns>> {
    let limit = page_limit(query.limit)?;
    let runs = shared
        .service
        .flow_runs(
            &actor,
            query.flow.as_deref(),
            i64::try_from(limit).unwrap_or(50),
        )
        .await?;
    Ok(Json(FlowRuns {
        items: runs.into_iter().map(|r| run_of(r, None)).collect(),
    }))
}

/// One run, card by card: inputs, outputs, attempts, duration, and the vendor's error.
#[utoipa::path(get, path = "/api/v1/flow-runs/{id}", tag = "flows",
    params(("id" = String, Path, description = "The run's id")),
    responses((status = 200, description = "The run and its steps", body = FlowRun)))]
pub(crate) async fn show_flow_run(
    State(shared): State<Arc<Shared>>,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<FlowRun>> {
    let view = shared.service.flow_run(&actor, &id).await?;
    Ok(Json(run_of(view, None)))
}
