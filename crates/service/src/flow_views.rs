//! Flows as the console lists them: each loaded flow with its trigger, its declared inputs and its last
//! run. The rules of who reads and who runs flows are those of [`crate::flows`]; these functions let a page
//! decide what to offer (a link, a form) without trying the operation first.

use grantflow_workflows::FlowSet;
use serde::Serialize;
use serde_json::Value as Json;

use crate::flows::FlowRunView;
use crate::{Actor, Result, Role, Service, ServiceError};

/// One loaded flow and how it last ran.
#[derive(Debug, Clone, Serialize)]
pub struct FlowSummary {
    pub name: String,
    pub description: Option<String>,
    /// The trigger's kind (`manual`, `api`, `okta`, `schedule`, …), or `helper` for a flow only other flows
    /// call.
    pub trigger: String,
    /// Whether its file says people may start it (a `manual` or `api` trigger).
    pub takes_calls: bool,
    /// The file it was loaded from, relative to grantflow.yaml's folder when it is inside it.
    pub path: String,
    pub inputs: Vec<FlowInputView>,
    /// The newest run, of any version of the flow.
    pub last_run: Option<FlowRunView>,
}

/// An input a flow declares, as a form asks for it.
#[derive(Debug, Clone, Serialize)]
pub struct FlowInputView {
    pub name: String,
    /// `text`, `number`, `boolean`, `object`, `list` or `any`.
    pub kind: String,
    pub required: bool,
    pub default: Option<Json>,
}

/// Whether `actor` may read flows and their runs (administrators, auditors, viewers), as
/// [`Service::flow_runs`] decides.
pub fn may_read_flows(actor: &Actor) -> bool {
    [Role::Admin, Role::Auditor, Role::Viewer]
        .iter()
        .any(|r| actor.has(r))
}

/// Whether `actor` may start a run by hand (administrators), as [`Service::start_flow`] decides.
pub fn may_run_flows(actor: &Actor) -> bool {
    actor.has(&Role::Admin)
}

fn kind_name(kind: grantflow_workflows::cards::Type) -> &'static str {
    use grantflow_workflows::cards::Type;
    match kind {
        Type::Any => "any",
        Type::Text => "text",
        Type::Number => "number",
        Type::Boolean => "boolean",
        Type::Object => "object",
        Type::List => "list",
    }
}

impl Service {
    /// The flows of `flows` by name, each with its last run.
    pub async fn flow_summaries(&self, actor: &Actor, flows: &FlowSet) -> Result<Vec<FlowSummary>> {
        if !may_read_flows(actor) {
            return Err(ServiceError::Forbidden(format!(
                "{actor} may not read flows: only administrators, auditors and viewers may"
            )));
        }
        let mut summaries = Vec::with_capacity(flows.len());
        for flow in flows.iter() {
            let last_run = self
                .flow_runs(actor, Some(&flow.name), 1)
                .await?
                .into_iter()
                .next();
            summaries.push(FlowSummary {
                name: flow.name.clone(),
                description: flow.description.clone(),
                trigger: flow
                    .trigger
                    .as_ref()
                    .map_or("helper", |t| t.kind())
                    .to_string(),
                takes_calls: flow
                    .trigger
                    .as_ref()
                    .is_some_and(grantflow_workflows::Trigger::takes_calls),
                // Where the configuration's folder is, relative (as people write it in grantflow.yaml).
                path: flow
                    .path
                    .strip_prefix(&self.config.base_dir)
                    .unwrap_or(&flow.path)
                    .display()
                    .to_string(),
                inputs: flow
                    .inputs
                    .iter()
                    .map(|(name, input)| FlowInputView {
                        name: name.clone(),
                        kind: kind_name(input.kind).to_string(),
                        required: input.required,
                        default: input.default.clone(),
                    })
                    .collect(),
                last_run,
            });
        }
        summaries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(summaries)
    }
}
