//! Starting runs and taking up the runs that are due: new ones, waits that ended, and runs whose process
//! died (their lease ran out, or the process holding it on this machine is gone).

use std::collections::BTreeMap;

use futures::StreamExt;
use grantflow_store::{FlowRunState, NewFlowRun, RunStart};
use serde_json::{Value as Json, json};

use crate::flow::Flow;
use crate::run::{RunError, RunOutcome, Runtime};

/// A trigger's event, ready to start a run.
#[derive(Debug, Clone)]
pub struct Start {
    pub trigger: String,
    /// What the run sees as `event`.
    pub event: Json,
    /// Checked against the flow's inputs.
    pub inputs: Json,
    /// One event starts one run: a second start with the same key returns the first run.
    pub key: Option<String>,
    /// Who the run acts as (`flow:<name>`, or the person who ran it by hand).
    pub actor: String,
}

impl Runtime<'_> {
    /// Stores a new run of `flow` (queued), or finds the run its event already started.
    pub async fn start(&self, flow: &Flow, start: Start) -> Result<RunStart, RunError> {
        let inputs = crate::set::inputs_for(flow, start.inputs).map_err(RunError::Flow)?;
        let run = NewFlowRun {
            id: format!("run-{}", uuid::Uuid::now_v7().simple()),
            flow: flow.name.clone(),
            version: flow.version.clone(),
            path: flow.path.display().to_string(),
            source: flow.source.clone(),
            trigger_kind: start.trigger,
            event_key: start.key,
            event: json!({"event": start.event, "inputs": inputs}),
            actor: start.actor,
            record_io: flow.record_io,
        };
        Ok(self.store.start_flow_run(&run).await?)
    }

    /// Takes up `id` now (after starting it here) and runs it until it ends or parks; `None` when another
    /// worker holds it.
    pub async fn run_now(&self, id: &str) -> Result<Option<RunOutcome>, RunError> {
        let Some((run, lease)) = self
            .store
            .claim_flow_run(&self.owner, Some(id), self.lease)
            .await?
        else {
            return Ok(None);
        };
        self.execute(run, lease).await.map(Some)
    }

    /// Runs what is due, up to `max` runs at once and each flow's own bound, claiming the next run as soon
    /// as one ends (a slot never idles while runs are due); returns how many runs it took up. It returns
    /// after at most `max × 8` runs, so the worker's other duties (schedules, history) keep their turn.
    /// Runs held by a process of this machine that died are released first.
    pub async fn run_available(&self, max: usize) -> Result<usize, RunError> {
        for (run, owner) in self.store.flow_run_owners().await? {
            if grantflow_engine::process::owner_is_gone(&owner) {
                self.store.release_flow_run(&run, &owner).await?;
            }
        }
        let max = max.max(1);
        let mut in_hand = futures::stream::FuturesUnordered::new();
        let mut per_flow: BTreeMap<String, usize> = BTreeMap::new();
        let mut taken = 0;
        let mut queue_drained = false;
        // The next claim runs beside the runs in hand (a claim is a commit; awaiting it alone would stall
        // them) and is never dropped half-way: a claim committed but not seen would hold its runs until
        // their leases ran out. One claim takes as many runs as there are free slots.
        let mut claiming = None;
        let mut failed_claim = None;
        loop {
            let free = max
                .saturating_sub(in_hand.len())
                .min((max * 8).saturating_sub(taken));
            if claiming.is_none() && !queue_drained && free > 0 {
                claiming = Some(Box::pin(self.store.claim_due_flow_runs(
                    &self.owner,
                    free,
                    self.lease,
                )));
            }
            if claiming.is_none() && in_hand.is_empty() {
                break;
            }
            tokio::select! {
                Some((flow, result)) = in_hand.next(), if !in_hand.is_empty() => {
                    if let Some(of_flow) = per_flow.get_mut(&flow) {
                        *of_flow = of_flow.saturating_sub(1);
                    }
                    if let Err(error) = result {
                        tracing::error!(message = "A flow run stopped; another worker will take it up.", error = %error);
                    }
                }
                claimed = async { match claiming.as_mut() { Some(claim) => claim.await, None => std::future::pending().await } }, if claiming.is_some() => {
                    claiming = None;
                    let claimed = match claimed {
                        Ok(claimed) => claimed,
                        // The runs in hand are finished first; the error is the answer after them.
                        Err(error) => {
                            queue_drained = true;
                            failed_claim = Some(error);
                            continue;
                        }
                    };
                    if claimed.len() < free {
                        queue_drained = true;
                    }
                    for (run, lease) in claimed {
                        let bound = self
                            .flows
                            .get(&run.flow)
                            .map(|f| f.concurrency)
                            .unwrap_or(10);
                        let of_flow = per_flow.entry(run.flow.clone()).or_default();
                        if *of_flow >= bound {
                            // Over the flow's bound in this worker: back to the queue for a moment.
                            let later = self.store.now() + chrono::Duration::milliseconds(200);
                            queue_drained = true;
                            if let Err(error) = self
                                .store
                                .park_flow_run(&run.id, &lease, later, FlowRunState::Queued)
                                .await
                            {
                                failed_claim = Some(error);
                            }
                            continue;
                        }
                        *of_flow += 1;
                        taken += 1;
                        let flow = run.flow.clone();
                        in_hand.push(async move { (flow, self.execute(run, lease).await) });
                    }
                }
            }
        }
        match failed_claim {
            Some(error) => Err(error.into()),
            None => Ok(taken),
        }
    }

    /// Deletes finished runs older than each flow's retention.
    pub async fn purge_history(&self) -> Result<u64, RunError> {
        let mut purged = 0;
        for flow in self.flows.iter() {
            let before = self.store.now()
                - chrono::Duration::from_std(flow.retention).unwrap_or(chrono::Duration::days(90));
            purged += self.store.purge_flow_runs(&flow.name, before).await?;
        }
        Ok(purged)
    }
}
