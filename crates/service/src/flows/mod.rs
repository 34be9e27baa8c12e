//! Workflows in the service: loading the flow files, starting runs from each trigger (by hand, the API,
//! Okta events, signed webhooks, schedules, people's dates), running them, and reading their history.
//! The cards that read or change systems are answered in `host.rs`: a change becomes a plan, stored and
//! applied through the engine's gate like any other.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use grantflow_model::{ConnectionName, Snapshot};
use grantflow_store::{FlowRunRecord, FlowStepRecord, RunStart};
use grantflow_workflows::{CardError, FlowSet, Runtime, Start, Trigger};
use serde::Serialize;

mod events;
mod host;
mod requests;
pub use events::OktaPoll;
pub mod system_events;
pub use host::DryRun;
pub use requests::request_event;
use serde_json::{Value as Json, json};
pub use system_events::SlackEventAnswer;

use crate::{Actor, Result, Service, ServiceError};

/// A run and its steps, as the history shows them.
#[derive(Debug, Clone, Serialize)]
pub struct FlowRunView {
    pub id: String,
    pub flow: String,
    pub version: String,
    pub trigger: String,
    pub event_key: Option<String>,
    pub actor: String,
    pub state: String,
    pub output: Option<Json>,
    pub error: Option<Json>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub steps: Vec<FlowStepView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowStepView {
    pub path: String,
    pub step: String,
    pub card: String,
    pub state: String,
    pub attempts: i64,
    pub input: Option<Json>,
    pub output: Option<Json>,
    pub error: Option<Json>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub duration_ms: Option<i64>,
}

pub fn view_of(run: FlowRunRecord, steps: Vec<FlowStepRecord>) -> FlowRunView {
    FlowRunView {
        id: run.id,
        flow: run.flow,
        version: run.version,
        trigger: run.trigger_kind,
        event_key: run.event_key,
        actor: run.actor,
        state: run.state.as_str().to_string(),
        output: run.output,
        error: run.error,
        created_at: run.created_at,
        finished_at: run.finished_at,
        steps: steps
            .into_iter()
            .map(|s| FlowStepView {
                duration_ms: s.finished_at.map(|f| (f - s.started_at).num_milliseconds()),
                path: s.path,
                step: s.step,
                card: s.card,
                state: s.state.as_str().to_string(),
                attempts: s.attempts,
                input: s.input,
                output: s.output,
                error: s.error,
                started_at: s.started_at,
                finished_at: s.finished_at,
            })
            .collect(),
    }
}

/// The flows a long-running process serves (`serve`, `worker`), reloaded when their files change: a run
/// already started keeps its version; new runs take the new one.
#[derive(Default)]
pub struct LoadedFlows {
    current: std::sync::RwLock<Arc<FlowSet>>,
    /// The mistakes last reported, so that files left broken are not reported on every reload.
    reported: std::sync::Mutex<Option<String>>,
}

impl LoadedFlows {
    pub fn new(flows: FlowSet) -> Self {
        Self {
            current: std::sync::RwLock::new(Arc::new(flows)),
            reported: std::sync::Mutex::new(None),
        }
    }

    pub fn current(&self) -> Arc<FlowSet> {
        self.current
            .read()
            .map(|flows| flows.clone())
            .unwrap_or_default()
    }

    /// Reads the files again; a file with mistakes leaves the flows as they were, and says why.
    pub fn reload(&self, service: &Service) {
        match service.load_flows(None) {
            Ok(flows) => {
                if let Ok(mut reported) = self.reported.lock() {
                    *reported = None;
                }
                let old = self.current();
                let changed = flows.len() != old.len()
                    || flows
                        .iter()
                        .any(|f| old.get(&f.name).is_none_or(|o| o.version != f.version));
                if changed {
                    tracing::info!(
                        message = "Flow files changed; new runs use the new versions.",
                        flows = flows.len()
                    );
                    if let Ok(mut current) = self.current.write() {
                        *current = Arc::new(flows);
                    }
                }
            }
            Err(error) => {
                let text = error.to_string();
                let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
                if reported.as_deref() != Some(text.as_str()) {
                    eprintln!("flows: {text}");
                    tracing::error!(message = "The flow files have mistakes; the flows loaded before stay in use.", error = %text);
                    *reported = Some(text);
                }
            }
        }
    }
}

/// How often a flow worker looks for due runs when it found none.
const FLOW_POLL: Duration = Duration::from_millis(250);
/// How often it reads the flow files again.
const FLOW_RELOAD: Duration = Duration::from_secs(5);

/// How often a worker polls the record feeds flows watch (Salesforce has no webhook for a new record).
const RECORD_POLL: Duration = Duration::from_secs(30);
/// How often the worker looks for requests whose `submitted` runs a dying process did not start.
const REQUEST_SWEEP: Duration = Duration::from_secs(5);

/// How long a worker holds a run before another may take it up.
const RUN_LEASE: Duration = Duration::from_secs(60);

/// Who a run acts as when no person started it.
pub fn flow_actor(flow: &str) -> String {
    format!("flow:{flow}")
}

impl Service {
    /// Loads and checks the flow files of `path` (default: the configured flows directory).
    pub fn load_flows(&self, path: Option<&Path>) -> Result<FlowSet> {
        let path = path.unwrap_or(&self.config.flows.directory);
        if !path.exists() {
            return Ok(FlowSet::default());
        }
        let flows = FlowSet::load(path).map_err(|d| ServiceError::Policy(d.to_string()))?;
        self.check_event_triggers(&flows)?;
        Ok(flows)
    }

    /// The runtime that runs `flows` as this worker.
    pub fn flow_runtime(&self, flows: Arc<FlowSet>, worker: &str) -> Runtime<'_> {
        Runtime {
            store: self.store.clone(),
            host: self,
            http: &self.flow_http,
            flows,
            owner: grantflow_engine::process::lease_owner(worker),
            lease: RUN_LEASE,
            dry_run: false,
        }
    }

    /// Starts a run of `flow` by hand or through the API with `inputs`; `key` (an idempotency key) makes a
    /// repeated call return the first run.
    pub async fn start_flow(
        &self,
        actor: &Actor,
        flows: &Arc<FlowSet>,
        flow: &str,
        inputs: Json,
        key: Option<String>,
        via: &str,
    ) -> Result<RunStart> {
        crate::access::authorize(actor, &crate::access::Permission::RunFlows)?;
        let Some(found) = flows.get(flow) else {
            let known: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
            return Err(ServiceError::NotFound(format!(
                "no flow `{flow}` (loaded: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            )));
        };
        if via == "api" && !found.trigger.as_ref().is_some_and(Trigger::takes_calls) {
            return Err(ServiceError::refused(
                "not_callable",
                format!(
                    "flow {flow} is not started by API calls (its trigger is {})",
                    found.trigger.as_ref().map(Trigger::kind).unwrap_or("none")
                ),
            ));
        }
        let start = Start {
            trigger: via.to_string(),
            event: json!({"by": actor.id}),
            inputs,
            key: key.map(|k| format!("{via}:{k}")),
            actor: actor.id.clone(),
        };
        self.flow_runtime(flows.clone(), &actor.id)
            .start(&found, start)
            .await
            .map_err(run_error)
    }

    /// The event a run of `flow` sees for a trigger's raw event given by hand (`flow run --event FILE`):
    /// an Okta System Log event as the Okta trigger presents it (refused when the trigger would not take
    /// it), a webhook's body under `body`, anything else as it is.
    pub fn event_for(&self, flow: &grantflow_workflows::Flow, raw: Json) -> Result<Json> {
        match &flow.trigger {
            Some(trigger @ Trigger::Okta { .. }) if raw.get("eventType").is_some() => {
                let connection = self.config.directory.to_string();
                trigger
                    .okta_event(&connection, &raw)
                    .map(|(view, _)| view)
                    .ok_or_else(|| {
                        ServiceError::Invalid(format!(
                            "the event is not one flow {} is triggered by (its type, group, app or attribute differs)",
                            flow.name
                        ))
                    })
            }
            Some(Trigger::Webhook { .. }) if raw.get("body").is_none() => {
                Ok(json!({ "body": raw }))
            }
            _ => Ok(raw),
        }
    }

    /// Starts the runs an Okta event (from the event hook or the System Log) triggers: one per flow whose
    /// trigger it matches, never two for one event; and wakes the runs waiting for such an event about its
    /// user.
    pub async fn start_flows_for_okta_event(
        &self,
        flows: &Arc<FlowSet>,
        connection: &str,
        event: &Json,
    ) -> Result<Vec<RunStart>> {
        self.deliver_okta_event_to_waits(connection, event).await?;
        let runtime = self.flow_runtime(flows.clone(), "grantflow:events");
        let mut started = Vec::new();
        for flow in flows.iter() {
            let Some(trigger) = &flow.trigger else {
                continue;
            };
            let Some((view, key)) = trigger.okta_event(connection, event) else {
                continue;
            };
            let start = Start {
                trigger: "okta".into(),
                event: view,
                inputs: Json::Null,
                key: Some(key),
                actor: flow_actor(&flow.name),
            };
            started.push(runtime.start(flow, start).await.map_err(run_error)?);
        }
        Ok(started)
    }

    /// Starts a run from a signed webhook delivery to `/hooks/flows/{flow}`.
    pub async fn start_flow_from_webhook(
        &self,
        flows: &Arc<FlowSet>,
        flow: &str,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<RunStart> {
        let Some(found) = flows.get(flow) else {
            return Err(ServiceError::NotFound(format!("no flow `{flow}`")));
        };
        let Some(Trigger::Webhook { secret, tolerance }) = &found.trigger else {
            return Err(ServiceError::NotFound(format!(
                "flow {flow} has no webhook trigger"
            )));
        };
        let source =
            grantflow_connectors::SecretSource::from_reference(secret).ok_or_else(|| {
                ServiceError::Invalid(format!(
                    "flow {flow}: the webhook secret is env:NAME or file:PATH"
                ))
            })?;
        let secret = source
            .read(
                &format!("flow {flow} webhook secret"),
                &self.config.base_dir,
            )
            .map_err(|f| ServiceError::Invalid(f.message()))?;
        let key = grantflow_workflows::webhook::verify(
            secrecy::ExposeSecret::expose_secret(&secret).as_bytes(),
            timestamp,
            signature,
            body,
            self.now(),
            *tolerance,
        )
        .map_err(|refusal| {
            ServiceError::refused("webhook_refused", format!("flow {flow}: {refusal}"))
        })?;
        let event: Json = serde_json::from_slice(body)
            .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(body).into_owned()));
        let start = Start {
            trigger: "webhook".into(),
            event: json!({"body": event}),
            inputs: Json::Null,
            key: Some(key),
            actor: flow_actor(flow),
        };
        self.flow_runtime(flows.clone(), "grantflow:webhooks")
            .start(&found, start)
            .await
            .map_err(run_error)
    }

    /// Starts what schedules and people's dates make due by now: each scheduled instant since the flow's
    /// last scheduled run (never before `since`), and each person whose date (plus offset) has come within
    /// the last week. Keys make a second worker's tick start nothing twice.
    pub async fn start_due_flows(
        &self,
        flows: &Arc<FlowSet>,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<RunStart>> {
        let now = self.now();
        let runtime = self.flow_runtime(flows.clone(), "grantflow:schedules");
        let mut started = Vec::new();
        for flow in flows.iter() {
            match &flow.trigger {
                Some(trigger @ Trigger::Schedule { expression, .. }) => {
                    let last = self
                        .store
                        .flow_runs(Some(&flow.name), 1)
                        .await?
                        .first()
                        .and_then(|r| {
                            r.event
                                .pointer("/event/scheduled_for")
                                .and_then(Json::as_str)
                                .map(str::to_string)
                        })
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                        .map(|t| t.with_timezone(&chrono::Utc));
                    let after = last.unwrap_or(since);
                    for instant in trigger.due_instants(after, now, 10) {
                        let start = Start {
                            trigger: "schedule".into(),
                            event: json!({"scheduled_for": instant.to_rfc3339(), "cron": expression}),
                            inputs: Json::Null,
                            key: Some(format!("schedule:{}", instant.to_rfc3339())),
                            actor: flow_actor(&flow.name),
                        };
                        started.push(runtime.start(flow, start).await.map_err(run_error)?);
                    }
                }
                Some(trigger @ Trigger::PersonDate { field, .. }) => {
                    let Ok(actual) = self.actual_state().await else {
                        continue;
                    };
                    let Ok(people) = grantflow_planner::directory_people(&actual) else {
                        continue;
                    };
                    for person in people.iter().map(grantflow_policy::person_value) {
                        let Some(date) = field_value(&person, field) else {
                            continue;
                        };
                        let Some(instant) = trigger.date_instant(&date) else {
                            continue;
                        };
                        if instant > now || now - instant > chrono::Duration::days(7) {
                            continue;
                        }
                        let email = person
                            .get("email")
                            .and_then(Json::as_str)
                            .unwrap_or_default()
                            .to_string();
                        let start = Start {
                            trigger: "person_date".into(),
                            event: json!({"person": person, "field": field, "date": date, "due": instant.to_rfc3339()}),
                            inputs: Json::Null,
                            key: Some(format!("date:{email}:{field}:{date}")),
                            actor: flow_actor(&flow.name),
                        };
                        started.push(runtime.start(flow, start).await.map_err(run_error)?);
                    }
                }
                _ => {}
            }
        }
        Ok(started)
    }

    /// Runs flows until `stop`: starts what schedules and people's dates make due, polls the Okta System
    /// Log where hooks do not bring its events, runs queued, woken and abandoned runs (up to `max_runs` at
    /// once), reloads changed flow files, and keeps each flow's history for its retention.
    pub async fn run_flow_worker(
        &self,
        flows: &LoadedFlows,
        max_runs: usize,
        exit_when_idle: bool,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<()> {
        tokio::pin!(stop);
        // The System Log is polled beside the runs, so a poll waiting on the `logs` bucket holds no run back.
        tokio::select! {
            ran = self.run_flows(flows, max_runs, exit_when_idle, stop.as_mut()) => ran,
            _ = self.poll_okta_events_forever(flows) => Ok(()),
        }
    }

    async fn run_flows(
        &self,
        flows: &LoadedFlows,
        max_runs: usize,
        exit_when_idle: bool,
        mut stop: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    ) -> Result<()> {
        let mut since = self.now();
        let mut reloaded = std::time::Instant::now();
        let mut purged: Option<std::time::Instant> = None;
        let mut polled: Option<std::time::Instant> = None;
        let mut swept: Option<std::time::Instant> = None;
        loop {
            if reloaded.elapsed() >= FLOW_RELOAD {
                flows.reload(self);
                reloaded = std::time::Instant::now();
            }
            let set = flows.current();
            let now = self.now();
            match self.start_due_flows(&set, since).await {
                Ok(_) => since = now,
                Err(error) => {
                    tracing::error!(message = "Starting scheduled flows failed; trying again.", error = %error)
                }
            }
            if polled.is_none_or(|at| at.elapsed() >= RECORD_POLL) {
                polled = Some(std::time::Instant::now());
                if let Err(error) = self.poll_record_feeds(&set).await {
                    tracing::error!(message = "Polling the record feeds failed; trying again.", error = %error);
                }
            }
            if swept.is_none_or(|at| at.elapsed() >= REQUEST_SWEEP) {
                swept = Some(std::time::Instant::now());
                if let Err(error) = self.start_missed_request_flows(&set).await {
                    tracing::error!(message = "Looking for request-triggered runs not started failed; trying again.", error = %error);
                }
            }
            let runtime = self.flow_runtime(set, "grantflow:flows");
            if purged.is_none_or(|at| at.elapsed() >= Duration::from_secs(3600)) {
                purged = Some(std::time::Instant::now());
                if let Err(error) = runtime.purge_history().await {
                    tracing::error!(message = "Purging old flow runs failed.", error = %error);
                }
            }
            let ran = runtime.run_available(max_runs).await.map_err(run_error)?;
            if ran > 0 {
                continue;
            }
            if exit_when_idle && self.store.open_flow_runs().await? == 0 {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(FLOW_POLL) => {}
                _ = stop.as_mut() => return Ok(()),
            }
        }
    }

    /// A run and its steps.
    pub async fn flow_run(&self, actor: &Actor, id: &str) -> Result<FlowRunView> {
        self.may_read_flows(actor)?;
        let run = self
            .store
            .flow_run(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no flow run {id}")))?;
        let steps = self.store.flow_steps(id).await?;
        Ok(view_of(run, steps))
    }

    /// Runs, newest first, of one flow or all.
    pub async fn flow_runs(
        &self,
        actor: &Actor,
        flow: Option<&str>,
        limit: i64,
    ) -> Result<Vec<FlowRunView>> {
        self.may_read_flows(actor)?;
        Ok(self
            .store
            .flow_runs(flow, limit)
            .await?
            .into_iter()
            .map(|run| view_of(run, vec![]))
            .collect())
    }

    fn may_read_flows(&self, actor: &Actor) -> Result<()> {
        crate::access::authorize(actor, &crate::access::Permission::ReadFlows)
    }

    fn snapshot_of(
        &self,
        actual: &grantflow_planner::ActualState,
        connection: &str,
    ) -> std::result::Result<Snapshot, CardError> {
        actual
            .snapshots
            .get(&ConnectionName::new(connection))
            .cloned()
            .ok_or_else(|| {
                CardError::new(
                    "not_synced",
                    format!("connection {connection} is not configured or has not been synced"),
                )
            })
    }
}

fn run_error(error: grantflow_workflows::RunError) -> ServiceError {
    match error {
        grantflow_workflows::RunError::Store(e) => ServiceError::Store(e),
        other => ServiceError::Invalid(other.to_string()),
    }
}

/// `hris.start_date` or a profile attribute of a person's value.
fn field_value(person: &Json, field: &str) -> Option<String> {
    let mut value = person;
    for part in field.split('.') {
        value = value.get(part)?;
    }
    value.as_str().map(str::to_string)
}
