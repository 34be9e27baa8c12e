//! Request triggers: a flow with `trigger: request: {bundle?, on: submitted|approved}` starts when a
//! request is submitted or approved. The request's own transaction has committed by then; the start is
//! keyed `request:<id>:<moment>`, so a retried approval (or the timer that fulfils an approved request
//! after a crash) never starts a second run.

use std::sync::Arc;

use grantflow_store::RunStart;
use grantflow_workflows::{FlowSet, RequestMoment, Start};
use serde_json::{Value as Json, json};

use super::{flow_actor, run_error};
use crate::requests::{Asked, RequestView};
use crate::{Actor, Result, Service};

/// The event a request-triggered run sees: the request as the API shows it, with the bundle it asked for,
/// the reviewers who approved it so far, and the moment that started the run.
pub fn request_event(view: &RequestView, moment: RequestMoment) -> Json {
    let mut event = serde_json::to_value(view).unwrap_or_else(|_| json!({"id": view.id}));
    let bundle = bundle_of(view);
    let approvers: Vec<&str> = view
        .stages
        .iter()
        .flat_map(|stage| &stage.decisions)
        .filter(|decision| decision.decision == "approve")
        .map(|decision| decision.reviewer.as_str())
        .collect();
    if let Some(map) = event.as_object_mut() {
        // Whether the caller may review is the API caller's question, not the request's.
        map.remove("can_review");
        map.insert("on".into(), json!(moment.as_str()));
        map.insert("bundle".into(), json!(bundle));
        map.insert("approvers".into(), json!(approvers));
    }
    event
}

fn bundle_of(view: &RequestView) -> Option<String> {
    match serde_json::from_value::<Asked>(view.asked.clone()) {
        Ok(Asked::Bundle { name }) => Some(name),
        _ => None,
    }
}

impl Service {
    /// Starts the runs `moment` of request `id` triggers, with the flow files as they are on disk now (as
    /// the request's policies are read). A failure is logged and never undoes the request: the request
    /// stands whether or not a flow could start.
    pub(crate) async fn start_request_flows_logged(&self, id: &str, moment: RequestMoment) {
        let flows = match self.load_flows(None) {
            Ok(flows) => Arc::new(flows),
            Err(error) => {
                tracing::error!(message = "The flow files have mistakes; no request-triggered flow started.", request = %id, on = moment.as_str(), error = %error);
                return;
            }
        };
        let has_request_flows = flows.iter().any(|f| {
            f.trigger
                .as_ref()
                .is_some_and(|t| matches!(t, grantflow_workflows::Trigger::Request { .. }))
        });
        if has_request_flows && let Err(error) = self.start_request_flows(&flows, id, moment).await
        {
            tracing::error!(message = "Starting the flows a request triggers failed; the flow worker tries again.", request = %id, on = moment.as_str(), error = %error);
            return;
        }
        if moment == RequestMoment::Submitted
            && let Err(error) = self.store.mark_request_flows_offered(id).await
        {
            tracing::error!(message = "Noting a request as offered to the flows failed; the flow worker offers it again (a run already started is not repeated).", request = %id, error = %error);
        }
    }

    /// Starts one run of each flow whose request trigger takes `moment` of request `id`; a second call for
    /// the same request and moment returns the runs the first started.
    pub async fn start_request_flows(
        &self,
        flows: &Arc<FlowSet>,
        id: &str,
        moment: RequestMoment,
    ) -> Result<Vec<RunStart>> {
        let view = self.request_view(&Actor::system("flows"), id).await?;
        let bundle = bundle_of(&view);
        let runtime = self.flow_runtime(flows.clone(), "grantflow:requests");
        let mut started = Vec::new();
        for flow in flows.iter() {
            let Some(trigger) = &flow.trigger else {
                continue;
            };
            if !trigger.takes_request(moment, bundle.as_deref()) {
                continue;
            }
            let start = Start {
                trigger: "request".into(),
                event: request_event(&view, moment),
                inputs: Json::Null,
                key: Some(format!("request:{id}:{}", moment.as_str())),
                actor: flow_actor(&flow.name),
            };
            started.push(runtime.start(flow, start).await.map_err(run_error)?);
        }
        Ok(started)
    }
}

/// How far back the worker looks for requests whose `submitted` start may have been lost.
const MISSED_START_WINDOW: chrono::Duration = chrono::Duration::hours(24);

impl Service {
    /// Offers again to the flows the requests a process stored but died before offering (their
    /// `submitted` start was lost); the start's key (`request:<id>:submitted`) makes a repeat a no-op.
    /// (An `approved` start is retried by the timer that fulfils approved requests.) Returns how many runs
    /// it started.
    pub async fn start_missed_request_flows(&self, flows: &Arc<FlowSet>) -> Result<usize> {
        let since = self.now() - MISSED_START_WINDOW;
        let missed = self.store.requests_not_offered_to_flows(since, 200).await?;
        let mut started = 0;
        for id in missed {
            started += self
                .start_request_flows(flows, &id, RequestMoment::Submitted)
                .await?
                .iter()
                .filter(|start| matches!(start, RunStart::Started(_)))
                .count();
            self.store.mark_request_flows_offered(&id).await?;
        }
        Ok(started)
    }
}
