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

use crate::cards::{self, Card};
use crate::flow::{Flow, OnError, Step, StepKind, Wait};
use crate::host::{CardError, Host};
use crate::http::HttpCards;
use crate::set::FlowSet;
use crate::template::Template;

mod card;
mod wait_event;

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
                // An event that matched one of its waits while it was still running woke nothing.
                self.store.wake_flow_run_if_matched(&run.id).await?;
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
        if let Wait::Event {
            matcher,
            timeout,
            who,
        } = wait
        {
            return self
                .wait_event(step, matcher, *timeout, who.as_ref(), scope, path, now)
                .await;
        }
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
                Wait::Event { .. } => now,
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

/// The card a step names, for callers outside this module.
pub fn card_of(step: &Step) -> Option<&'static Card> {
    match &step.kind {
        StepKind::Card { card, .. } => cards::card(card.name),
        _ => None,
    }
}
