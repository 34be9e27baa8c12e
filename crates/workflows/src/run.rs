//! Executing a run, step by step, durably. Each step's outcome is a row in the store written before the
//! run goes on, so a run taken up again (its process was killed at any instant) replays what is recorded
//! and carries on from the first step without an outcome:
//!
//! - a pure or read step is run again (it has no effect);
//! - a change step recorded as started holds its plan: applying that plan again resumes it, and its jobs
//!   observe before they retry, so the change is made once;
//! - an HTTP step recorded as started is sent again with the same `Idempotency-Key`;
//! - a wait recorded as started parks the run until its time.
//!
//! Secrets a step produces (a temporary password) are kept in memory for the steps that use them and
//! replaced wherever they would be recorded; a run resumed after they were lost fails the step that needs
//! one rather than sending a placeholder.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::future::BoxFuture;
use grantflow_store::{
    FlowRunRecord, FlowRunState, FlowStepRecord, FlowStepState, Lease, StepWrite, Store, StoreError,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value as Json, json};
use tracing::Instrument as _;

use crate::cards::{self, Card, Effect};
use crate::flow::{Flow, OnError, Step, StepKind, Wait};
use crate::host::{CardError, Host};
use crate::http::HttpCards;
use crate::pure;
use crate::set::FlowSet;
use crate::template::{LOST_SECRET, Template};

/// What a recorded secret reads as.
pub const SECRET_PLACEHOLDER: &str = "[secret]";

/// A wait shorter than this is slept through instead of parking the run.
const SHORT_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("flow {flow} version {version} is not stored; the run cannot be resumed")]
    MissingVersion { flow: String, version: String },
    #[error("{0}")]
    Flow(String),
}

/// What ended a stretch of steps.
enum Halt {
    /// The run waits until then (a wait card); a worker takes it up again.
    Park(DateTime<Utc>),
    /// The run failed: the error as recorded.
    Failed(Json),
    /// The store refused (the lease was lost, the database is gone): nothing more is written.
    Store(StoreError),
}

impl From<StoreError> for Halt {
    fn from(error: StoreError) -> Self {
        Halt::Store(error)
    }
}

/// How a block of steps ended, and the scope it left (its steps' outputs).
type BlockResult = Result<(Control, Map<String, Json>), Halt>;

enum Control {
    Next,
    Return(Json),
}

/// Runs flows: the store, what a run needs from the rest of grantflow, and who holds the leases.
pub struct Runtime<'h> {
    pub store: Store,
    pub host: &'h dyn Host,
    pub http: &'h HttpCards,
    pub flows: Arc<FlowSet>,
    /// The lease owner of this worker (`<actor>@<process>`).
    pub owner: String,
    pub lease: Duration,
    /// `flow plan`: HTTP cards are not sent (what they would send is their output).
    pub dry_run: bool,
}

/// How one stretch of a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub run: String,
    pub state: FlowRunState,
    pub output: Option<Json>,
    pub error: Option<Json>,
}

struct Exec<'r> {
    rt: &'r Runtime<'r>,
    run: FlowRunRecord,
    lease: Lease,
    journal: Mutex<HashMap<String, FlowStepRecord>>,
    /// Secret values produced in this process, to keep out of every record.
    secrets: Mutex<Vec<SecretString>>,
}

impl Runtime<'_> {
    /// Executes a run that this worker holds, until it ends or parks.
    pub async fn execute(&self, run: FlowRunRecord, lease: Lease) -> Result<RunOutcome, RunError> {
        let flow = self.pinned(&run.flow, &run.version).await?;
        let journal = self
            .store
            .flow_steps(&run.id)
            .await?
            .into_iter()
            .map(|s| (s.path.clone(), s))
            .collect();
        let exec = Exec {
            rt: self,
            run: run.clone(),
            lease: lease.clone(),
            journal: Mutex::new(journal),
            secrets: Mutex::new(Vec::new()),
        };
        let mut scope = Map::new();
        scope.insert(
            "event".into(),
            run.event.get("event").cloned().unwrap_or(Json::Null),
        );
        scope.insert(
            "inputs".into(),
            run.event
                .get("inputs")
                .cloned()
                .unwrap_or_else(|| json!({})),
        );
        scope.insert("steps".into(), json!({}));
        scope.insert(
            "flow".into(),
            json!({"name": flow.name, "version": flow.version, "run": run.id}),
        );
        scope.insert("now".into(), Json::String(self.store.now().to_rfc3339()));

        let renewal = self.keep_lease(&run.id, &lease);
        let outcome = tokio::select! {
            outcome = exec.block(&flow.steps, scope, String::new()) => outcome,
            lost = renewal => Err(Halt::Store(lost)),
        };
        let erase = !flow.record_io;
        let (state, output, error) = match outcome {
            Ok((Control::Return(output), _)) => (FlowRunState::Succeeded, Some(output), None),
            Ok((Control::Next, _)) => (FlowRunState::Succeeded, None, None),
            Err(Halt::Failed(error)) => (FlowRunState::Failed, None, Some(exec.redact(error))),
            Err(Halt::Park(until)) => {
                self.store
                    .park_flow_run(&run.id, &lease, until, FlowRunState::Waiting)
                    .await?;
                return Ok(RunOutcome {
                    run: run.id,
                    state: FlowRunState::Waiting,
                    output: None,
                    error: None,
                });
            }
            Err(Halt::Store(error)) => return Err(error.into()),
        };
        let output = output.map(|o| exec.redact(o));
        self.store
            .finish_flow_run(
                &run.id,
                &lease,
                state,
                output.as_ref(),
                error.as_ref(),
                erase,
            )
            .await?;
        Ok(RunOutcome {
            run: run.id,
            state,
            output,
            error,
        })
    }

    /// Renews the lease every third of its length; returns only when it was lost.
    async fn keep_lease(&self, run: &str, lease: &Lease) -> StoreError {
        let period = (self.lease / 3).max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(period).await;
            if let Err(error) = self.store.renew_flow_run(run, lease, self.lease).await {
                return error;
            }
        }
    }

    /// The flow at the version a run is pinned to: the loaded file when it is still that version, else the
    /// text stored when the run started.
    pub async fn pinned(&self, name: &str, version: &str) -> Result<Arc<Flow>, RunError> {
        if let Some(flow) = self.flows.get(name)
            && flow.version == version
        {
            return Ok(flow);
        }
        let Some((path, source)) = self.store.flow_version(name, version).await? else {
            return Err(RunError::MissingVersion {
                flow: name.to_string(),
                version: version.to_string(),
            });
        };
        self.flows
            .compile_pinned(std::path::Path::new(&path), &source)
            .map_err(|d| {
                RunError::Flow(format!(
                    "flow {name} version {version} no longer compiles: {d}"
                ))
            })
    }
}

fn error_json(step: &Step, path: &str, error: &CardError) -> Json {
    let mut value = error.to_json();
    if let Some(map) = value.as_object_mut() {
        map.insert("step".into(), Json::String(step.id.clone()));
        map.insert("path".into(), Json::String(path.to_string()));
    }
    value
}

impl Exec<'_> {
    fn recorded(&self, path: &str) -> Option<FlowStepRecord> {
        self.journal.lock().ok()?.get(path).cloned()
    }

    /// Replaces every secret this process saw wherever it appears in a value to record.
    fn redact(&self, value: Json) -> Json {
        let Ok(secrets) = self.secrets.lock() else {
            return value;
        };
        if secrets.is_empty() {
            return value;
        }
        fn walk(value: Json, secrets: &[SecretString]) -> Json {
            match value {
                Json::String(mut s) => {
                    for secret in secrets {
                        let secret = secret.expose_secret();
                        if !secret.is_empty() && s.contains(secret) {
                            s = s.replace(secret, SECRET_PLACEHOLDER);
                        }
                    }
                    Json::String(s)
                }
                Json::Array(items) => {
                    Json::Array(items.into_iter().map(|v| walk(v, secrets)).collect())
                }
                Json::Object(map) => Json::Object(
                    map.into_iter()
                        .map(|(k, v)| (k, walk(v, secrets)))
                        .collect(),
                ),
                other => other,
            }
        }
        walk(value, &secrets)
    }

    #[allow(clippy::too_many_arguments)]
    async fn write(
        &self,
        step: &Step,
        path: &str,
        card: &str,
        state: FlowStepState,
        attempts: i64,
        input: Option<&Json>,
        output: Option<&Json>,
        error: Option<&Json>,
        effect: Option<&str>,
        started_at: DateTime<Utc>,
        audit: Option<Json>,
    ) -> Result<(), Halt> {
        let input = input.map(|v| self.redact(v.clone()));
        let output = output.map(|v| self.redact(v.clone()));
        let error = error.map(|v| self.redact(v.clone()));
        let audit = audit.map(|v| self.redact(v));
        let write = StepWrite {
            path,
            step: &step.id,
            card,
            state,
            attempts,
            input: input.as_ref(),
            output: output.as_ref(),
            error: error.as_ref(),
            effect,
            started_at,
            audit,
            actor: &self.run.actor,
        };
        self.rt
            .store
            .record_flow_step(&self.run.id, &self.lease, self.rt.lease, &write)
            .await?;
        if let Ok(mut journal) = self.journal.lock() {
            let previous = journal.get(path).map(|r| (r.seq, r.effect.clone()));
            journal.insert(
                path.to_string(),
                FlowStepRecord {
                    path: path.to_string(),
                    seq: previous.as_ref().map(|p| p.0).unwrap_or_default(),
                    step: step.id.clone(),
                    card: card.to_string(),
                    state,
                    attempts,
                    input,
                    output,
                    error,
                    effect: effect.map(str::to_string).or(previous.and_then(|p| p.1)),
                    started_at,
                    finished_at: None,
                },
            );
        }
        Ok(())
    }

    fn block<'a>(
        &'a self,
        steps: &'a [Step],
        mut scope: Map<String, Json>,
        prefix: String,
    ) -> BoxFuture<'a, BlockResult> {
        Box::pin(async move {
            for step in steps {
                let path = format!("{prefix}{}", step.id);
                // A TRACE span per step: the benchmark times the engine's per-step overhead with it (its
                // start, its end, and the card's own work inside). Disabled, it costs a level check.
                let span = tracing::trace_span!("flow.step", path = %path);
                match self.step(step, &scope, &path).instrument(span).await? {
                    (Control::Return(value), _) => return Ok((Control::Return(value), scope)),
                    (Control::Next, output) => {
                        if let Some(Json::Object(outputs)) = scope.get_mut("steps") {
                            outputs.insert(step.id.clone(), output);
                        }
                    }
                }
            }
            Ok((Control::Next, scope))
        })
    }

    /// One step, with its error handling: the step's output (or a `return`).
    async fn step(
        &self,
        step: &Step,
        scope: &Map<String, Json>,
        path: &str,
    ) -> Result<(Control, Json), Halt> {
        match self.step_body(step, scope, path).await {
            Ok(done) => Ok(done),
            Err(StepFailure::Halt(halt)) => Err(halt),
            Err(StepFailure::Card(error)) => {
                let error = error_json(step, path, &error);
                match &step.on_error {
                    OnError::Fail => Err(Halt::Failed(error)),
                    OnError::Continue => Ok((Control::Next, json!({ "error": error }))),
                    OnError::Catch(steps) => {
                        let mut inner = scope.clone();
                        inner.insert("error".into(), error.clone());
                        let (control, inner) =
                            self.block(steps, inner, format!("{path}/catch/")).await?;
                        let produced = inner.get("steps").cloned().unwrap_or_default();
                        match control {
                            Control::Return(value) => Ok((Control::Return(value), Json::Null)),
                            Control::Next => {
                                Ok((Control::Next, json!({"error": error, "steps": produced})))
                            }
                        }
                    }
                }
            }
        }
    }

    async fn step_body(
        &self,
        step: &Step,
        scope: &Map<String, Json>,
        path: &str,
    ) -> Result<(Control, Json), StepFailure> {
        let now = self.rt.store.now();
        match &step.kind {
            StepKind::Card { card, with } => {
                let output = self.card(step, card, with, scope, path).await?;
                Ok((Control::Next, output))
            }
            StepKind::If {
                condition,
                then,
                otherwise,
            } => {
                let holds = condition
                    .holds(scope)
                    .map_err(|m| StepFailure::expression(step, m))?;
                let (branch, steps) = if holds {
                    ("then", then)
                } else {
                    ("else", otherwise)
                };
                self.branch(step, "if", branch, steps, scope, path, now)
                    .await
            }
            StepKind::Switch {
                value,
                cases,
                default,
            } => {
                let chosen = match value
                    .value(scope)
                    .map_err(|m| StepFailure::expression(step, m))?
                {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                let (branch, steps) = cases
                    .iter()
                    .find(|(case, _)| *case == chosen)
                    .map(|(case, steps)| (case.as_str(), steps))
                    .unwrap_or(("default", default));
                self.branch(step, "switch", branch, steps, scope, path, now)
                    .await
            }
            StepKind::ForEach {
                items,
                item,
                concurrency,
                steps,
            } => {
                let list = match items
                    .value(scope)
                    .map_err(|m| StepFailure::expression(step, m))?
                {
                    Json::Array(list) => list,
                    other => {
                        return Err(StepFailure::Card(CardError::new(
                            "not_a_list",
                            format!(
                                "for_each needs a list, but `{}` is {other}",
                                items.condition.source()
                            ),
                        )));
                    }
                };
                let count = list.len();
                let iterations =
                    futures::stream::iter(list.into_iter().enumerate().map(|(index, value)| {
                        let mut inner = scope.clone();
                        inner.insert(item.clone(), value);
                        inner.insert("index".into(), json!(index));
                        inner.insert(
                            "steps".into(),
                            scope.get("steps").cloned().unwrap_or_default(),
                        );
                        self.block(steps, inner, format!("{path}[{index}]/"))
                    }))
                    .buffered(*concurrency)
                    .collect::<Vec<_>>()
                    .await;
                let mut results = Vec::with_capacity(count);
                for iteration in iterations {
                    let (control, inner) = iteration.map_err(StepFailure::Halt)?;
                    if let Control::Return(value) = control {
                        return Ok((Control::Return(value), Json::Null));
                    }
                    results.push(inner.get("steps").cloned().unwrap_or_default());
                }
                let output = json!({"results": results, "count": count});
                self.record_simple(step, path, "for_each", None, &output, now)
                    .await?;
                Ok((Control::Next, output))
            }
            StepKind::Call { flow, with } => {
                let inputs =
                    evaluate_map(with, scope).map_err(|m| StepFailure::expression(step, m))?;
                let helper = self.helper(step, path, flow).await?;
                let inputs = crate::set::inputs_for(&helper, Json::Object(inputs))
                    .map_err(|m| StepFailure::Card(CardError::new("invalid_input", m)))?;
                let mut inner = Map::new();
                inner.insert(
                    "event".into(),
                    scope.get("event").cloned().unwrap_or_default(),
                );
                inner.insert("inputs".into(), inputs.clone());
                inner.insert("steps".into(), json!({}));
                inner.insert(
                    "flow".into(),
                    json!({"name": helper.name, "version": helper.version, "run": self.run.id}),
                );
                inner.insert("now".into(), scope.get("now").cloned().unwrap_or_default());
                let (control, _) = self
                    .block(&helper.steps, inner, format!("{path}/"))
                    .await
                    .map_err(StepFailure::Halt)?;
                let output = match control {
                    Control::Return(value) => value,
                    Control::Next => json!({}),
                };
                self.record_simple(
                    step,
                    path,
                    &format!("call:{flow}"),
                    Some(&inputs),
                    &output,
                    now,
                )
                .await?;
                Ok((Control::Next, output))
            }
            StepKind::Wait(wait) => self.wait(step, wait, scope, path, now).await,
            StepKind::Return(values) => {
                let output = Json::Object(
                    evaluate_map(values, scope).map_err(|m| StepFailure::expression(step, m))?,
                );
                self.record_simple(step, path, "return", None, &output, now)
                    .await?;
                Ok((Control::Return(output.clone()), output))
            }
            StepKind::Fail(message) => {
                let message = match message
                    .evaluate(scope)
                    .map_err(|m| StepFailure::expression(step, m))?
                {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                Err(StepFailure::Card(CardError::new("flow_failed", message)))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn branch(
        &self,
        step: &Step,
        card: &str,
        branch: &str,
        steps: &[Step],
        scope: &Map<String, Json>,
        path: &str,
        now: DateTime<Utc>,
    ) -> Result<(Control, Json), StepFailure> {
        let (control, inner) = self
            .block(steps, scope.clone(), format!("{path}/{branch}/"))
            .await
            .map_err(StepFailure::Halt)?;
        if let Control::Return(value) = control {
            return Ok((Control::Return(value), Json::Null));
        }
        let output =
            json!({"branch": branch, "steps": inner.get("steps").cloned().unwrap_or_default()});
        let recorded = json!({"branch": branch});
        self.record_simple(step, path, card, None, &recorded, now)
            .await?;
        Ok((Control::Next, output))
    }

    /// Records a step without an effect once (a replayed one is not written again).
    async fn record_simple(
        &self,
        step: &Step,
        path: &str,
        card: &str,
        input: Option<&Json>,
        output: &Json,
        started: DateTime<Utc>,
    ) -> Result<(), StepFailure> {
        if self
            .recorded(path)
            .is_some_and(|r| r.state == FlowStepState::Succeeded)
        {
            return Ok(());
        }
        self.write(
            step,
            path,
            card,
            FlowStepState::Succeeded,
            1,
            input,
            Some(output),
            None,
            None,
            started,
            None,
        )
        .await
        .map_err(StepFailure::Halt)
    }

    async fn helper(&self, step: &Step, path: &str, name: &str) -> Result<Arc<Flow>, StepFailure> {
        // The first call pins the helper's version in the call's row; a resumed run calls that version.
        if let Some(version) = self.recorded(path).and_then(|r| r.effect) {
            return self
                .rt
                .pinned(name, &version)
                .await
                .map_err(|e| StepFailure::Card(CardError::new("helper_flow", e.to_string())));
        }
        let Some(helper) = self.rt.flows.get(name) else {
            return Err(StepFailure::Card(CardError::new(
                "unknown_flow",
                format!("no flow `{name}`"),
            )));
        };
        self.rt
            .store
            .save_flow_version(
                &helper.name,
                &helper.version,
                &helper.path.display().to_string(),
                &helper.source,
            )
            .await
            .map_err(|e| StepFailure::Halt(e.into()))?;
        self.write(
            step,
            path,
            &format!("call:{name}"),
            FlowStepState::Started,
            1,
            None,
            None,
            None,
            Some(&helper.version),
            self.rt.store.now(),
            None,
        )
        .await
        .map_err(StepFailure::Halt)?;
        Ok(helper)
    }

    async fn wait(
        &self,
        step: &Step,
        wait: &Wait,
        scope: &Map<String, Json>,
        path: &str,
        now: DateTime<Utc>,
    ) -> Result<(Control, Json), StepFailure> {
        let recorded = self.recorded(path);
        let until = match recorded
            .as_ref()
            .and_then(|r| r.output.as_ref())
            .and_then(|o| o.get("until"))
            .and_then(Json::as_str)
        {
            Some(until) => DateTime::parse_from_rfc3339(until)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(now),
            None => match wait {
                Wait::For(duration) => {
                    now + chrono::Duration::from_std(*duration).unwrap_or_default()
                }
                Wait::Until(template) => {
                    let text = template
                        .evaluate(scope)
                        .map_err(|m| StepFailure::expression(step, m))?;
                    let text = text.as_str().unwrap_or_default().to_string();
                    DateTime::parse_from_rfc3339(&text)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| {
                            StepFailure::Card(CardError::new(
                                "invalid_time",
                                format!("wait until `{text}`: not an RFC 3339 time"),
                            ))
                        })?
                }
            },
        };
        let output = json!({"until": until.to_rfc3339()});
        if recorded
            .as_ref()
            .is_some_and(|r| r.state == FlowStepState::Succeeded)
        {
            return Ok((Control::Next, output));
        }
        let remaining = (until - now).to_std().unwrap_or_default();
        if remaining > SHORT_WAIT {
            if recorded.is_none() {
                self.write(
                    step,
                    path,
                    "wait",
                    FlowStepState::Started,
                    1,
                    None,
                    Some(&output),
                    None,
                    None,
                    now,
                    None,
                )
                .await
                .map_err(StepFailure::Halt)?;
            }
            return Err(StepFailure::Halt(Halt::Park(until)));
        }
        tokio::time::sleep(remaining).await;
        self.write(
            step,
            path,
            "wait",
            FlowStepState::Succeeded,
            1,
            None,
            Some(&output),
            None,
            None,
            now,
            None,
        )
        .await
        .map_err(StepFailure::Halt)?;
        Ok((Control::Next, output))
    }

    /// A card step: replayed when recorded, else run with its retry policy.
    async fn card(
        &self,
        step: &Step,
        card: &'static Card,
        with: &BTreeMap<String, Template>,
        scope: &Map<String, Json>,
        path: &str,
    ) -> Result<Json, StepFailure> {
        let recorded = self.recorded(path);
        if let Some(done) = &recorded {
            match done.state {
                FlowStepState::Succeeded => {
                    return Ok(replayed_output(
                        card,
                        done.output.clone().unwrap_or_default(),
                    ));
                }
                // A step that failed for good fails again when replayed: its error decides the path the run
                // took (a catch, or the run's failure), and a change is never tried anew behind it.
                FlowStepState::Failed => {
                    return Err(StepFailure::Card(recorded_error(done.error.as_ref())));
                }
                FlowStepState::Started => {}
            }
        }
        let input =
            Json::Object(evaluate_map(with, scope).map_err(|m| StepFailure::expression(step, m))?);
        let started = recorded
            .as_ref()
            .map(|r| r.started_at)
            .unwrap_or_else(|| self.rt.store.now());
        let mut attempts = recorded.as_ref().map(|r| r.attempts).unwrap_or(0);
        let mut backoff = step.retry.backoff;
        loop {
            attempts += 1;
            let result = match card.effect {
                Effect::Pure => {
                    pure::run(card.name, &input).map_err(|m| CardError::new("invalid_input", m))
                }
                Effect::Read => {
                    self.rt
                        .host
                        .read(card.name, &input)
                        .instrument(tracing::trace_span!("flow.card_work"))
                        .await
                }
                Effect::Change => {
                    // The plan recorded by an earlier attempt (in this process or before it died) is the one
                    // to finish: a retry never makes a second plan for the same step.
                    let recorded_plan = self.recorded(path).and_then(|r| r.effect);
                    self.change(
                        step,
                        card,
                        &input,
                        path,
                        attempts,
                        started,
                        recorded_plan.as_deref(),
                    )
                    .await?
                }
                Effect::Http => self.http(step, &input, path, attempts, started).await?,
                Effect::Notify => {
                    if self.recorded(path).is_none() {
                        let audit = json!({"flow": self.run.flow, "card": card.name, "connection": input.get("connection"), "channel": input.get("channel")});
                        self.write(
                            step,
                            path,
                            card.name,
                            FlowStepState::Started,
                            attempts,
                            Some(&input),
                            None,
                            None,
                            None,
                            started,
                            Some(audit),
                        )
                        .await
                        .map_err(StepFailure::Halt)?;
                    }
                    if self.rt.dry_run {
                        Ok(json!({"channel": input.get("channel"), "ts": "", "not_sent": true}))
                    } else {
                        self.rt.host.notify(card.name, &input).await
                    }
                }
            };
            match result {
                Ok(output) => {
                    let audit = matches!(card.effect, Effect::Change | Effect::Http | Effect::Notify)
                        .then(|| json!({"flow": self.run.flow, "card": card.name, "outcome": "succeeded", "output": output}));
                    self.write(
                        step,
                        path,
                        card.name,
                        FlowStepState::Succeeded,
                        attempts,
                        Some(&input),
                        Some(&recordable(card, &output)),
                        None,
                        None,
                        started,
                        audit,
                    )
                    .await
                    .map_err(StepFailure::Halt)?;
                    return Ok(output);
                }
                Err(error) if error.is_waiting() && card.effect == Effect::Change => {
                    // The effect is recorded as started with its plan or request: the resumed run asks again.
                    let recheck = error.retry_after.unwrap_or(Duration::from_secs(5));
                    let until = self.rt.store.now()
                        + chrono::Duration::from_std(recheck).unwrap_or_default();
                    return Err(StepFailure::Halt(Halt::Park(until)));
                }
                Err(error) if error.retryable && attempts < i64::from(step.retry.attempts) => {
                    let wait = error
                        .retry_after
                        .unwrap_or(backoff)
                        .min(Duration::from_secs(300));
                    tracing::info!(flow = %self.run.flow, run = %self.run.id, step = %path, error = %error, "A step failed and will be tried again.");
                    tokio::time::sleep(wait).await;
                    backoff = backoff.saturating_mul(2);
                }
                Err(error) => {
                    let audit = matches!(card.effect, Effect::Change | Effect::Http | Effect::Notify)
                        .then(|| json!({"flow": self.run.flow, "card": card.name, "outcome": "failed", "error": error.to_json()}));
                    self.write(
                        step,
                        path,
                        card.name,
                        FlowStepState::Failed,
                        attempts,
                        Some(&input),
                        None,
                        Some(&error.to_json()),
                        None,
                        started,
                        audit,
                    )
                    .await
                    .map_err(StepFailure::Halt)?;
                    return Err(StepFailure::Card(error));
                }
            }
        }
    }

    /// A change card: its plan made and recorded before it is applied, so a resumed run applies the same
    /// plan instead of making a second one.
    #[allow(clippy::too_many_arguments)]
    async fn change(
        &self,
        step: &Step,
        card: &Card,
        input: &Json,
        path: &str,
        attempts: i64,
        started: DateTime<Utc>,
        recorded_plan: Option<&str>,
    ) -> Result<Result<Json, CardError>, StepFailure> {
        let actor = &self.run.actor;
        let plan = match recorded_plan {
            Some(plan) => plan.to_string(),
            None => match self
                .rt
                .host
                .prepare(actor, card.name, input)
                .instrument(tracing::trace_span!("flow.card_work"))
                .await
            {
                Err(error) => return Ok(Err(error)),
                Ok(prepared) => match prepared.plan {
                    None => {
                        return Ok(Ok(json!({
                            "plan": "",
                            "outcome": "already_in_effect",
                            "changed": false,
                            "operations": prepared.operations,
                        })));
                    }
                    Some(plan) => {
                        let audit = json!({"flow": self.run.flow, "card": card.name, "plan": plan, "operations": prepared.operations});
                        self.write(
                            step,
                            path,
                            card.name,
                            FlowStepState::Started,
                            attempts,
                            Some(input),
                            None,
                            None,
                            Some(&plan),
                            started,
                            Some(audit),
                        )
                        .await
                        .map_err(StepFailure::Halt)?;
                        plan
                    }
                },
            },
        };
        let performed = self
            .rt
            .host
            .perform(actor, &plan)
            .instrument(tracing::trace_span!("flow.card_work"))
            .await;
        Ok(match performed {
            Ok(performed) => {
                let mut output = performed.output;
                if let Some(map) = output.as_object_mut() {
                    map.entry("plan").or_insert(Json::String(plan));
                    for (name, secret) in performed.secrets {
                        map.insert(name, Json::String(secret.expose_secret().to_string()));
                        if let Ok(mut secrets) = self.secrets.lock() {
                            secrets.push(secret);
                        }
                    }
                }
                Ok(output)
            }
            Err(error) => Err(error),
        })
    }

    async fn http(
        &self,
        step: &Step,
        input: &Json,
        path: &str,
        attempts: i64,
        started: DateTime<Utc>,
    ) -> Result<Result<Json, CardError>, StepFailure> {
        if self.rt.dry_run {
            return Ok(Ok(json!({
                "status": 0,
                "headers": {},
                "body": null,
                "not_sent": {"method": input.get("method").cloned().unwrap_or(json!("GET")), "url": input.get("url"), "connection": input.get("connection")},
            })));
        }
        let key = format!("grantflow-{}-{}", self.run.id, path);
        if attempts == 1 || self.recorded(path).is_none() {
            let audit = json!({"flow": self.run.flow, "card": "http", "method": input.get("method"), "url": input.get("url"), "connection": input.get("connection")});
            self.write(
                step,
                path,
                "http",
                FlowStepState::Started,
                attempts,
                Some(input),
                None,
                None,
                Some(&key),
                started,
                Some(audit),
            )
            .await
            .map_err(StepFailure::Halt)?;
        }
        Ok(self
            .rt
            .http
            .call(input, &key)
            .instrument(tracing::trace_span!("flow.card_work"))
            .await)
    }
}

enum StepFailure {
    Card(CardError),
    Halt(Halt),
}

impl From<Halt> for StepFailure {
    fn from(halt: Halt) -> Self {
        StepFailure::Halt(halt)
    }
}

impl StepFailure {
    fn expression(step: &Step, message: String) -> Self {
        StepFailure::Card(CardError::new(
            "expression",
            format!("step `{}` (line {}): {message}", step.id, step.line),
        ))
    }
}

fn evaluate_map(
    values: &BTreeMap<String, Template>,
    scope: &Map<String, Json>,
) -> Result<Map<String, Json>, String> {
    values
        .iter()
        .map(|(name, template)| {
            template
                .evaluate(scope)
                .map(|v| (name.clone(), v))
                .map_err(|m| format!("`{name}`: {m}"))
        })
        .collect()
}

fn recorded_error(error: Option<&Json>) -> CardError {
    let text = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(Json::as_str)
            .map(str::to_string)
    };
    let mut out = CardError::new(
        text("code").unwrap_or_else(|| "failed".into()),
        text("message").unwrap_or_else(|| "the step failed".into()),
    );
    out.system = text("system");
    out
}

/// A card's output as recorded: its secret fields replaced.
fn recordable(card: &Card, output: &Json) -> Json {
    let mut output = output.clone();
    if let Some(map) = output.as_object_mut() {
        for field in card.outputs.iter().filter(|f| f.secret) {
            if map.contains_key(field.name) {
                map.insert(
                    field.name.to_string(),
                    Json::String(SECRET_PLACEHOLDER.into()),
                );
            }
        }
    }
    output
}

/// A recorded output as a resumed run sees it: a secret that was replaced reads as lost.
fn replayed_output(card: &Card, mut output: Json) -> Json {
    if let Some(map) = output.as_object_mut() {
        for field in card.outputs.iter().filter(|f| f.secret) {
            if map.get(field.name).and_then(Json::as_str) == Some(SECRET_PLACEHOLDER) {
                map.insert(field.name.to_string(), Json::String(LOST_SECRET.into()));
            }
        }
    }
    output
}

/// The card a step names, for callers outside this module.
pub fn card_of(step: &Step) -> Option<&'static Card> {
    match &step.kind {
        StepKind::Card { card, .. } => cards::card(card.name),
        _ => None,
    }
}
