//! Workflows: the loaded flows with their trigger and last run, the recent runs, one run card by card
//! (inputs, outputs, attempts, durations, and a failed card's system and vendor code), and *Run now* for
//! administrators on flows whose file says people start them (a `manual` or `api` trigger).
//!
//! The flow files are read when the page opens (the configured `flows.directory`), so a file changed on
//! disk shows without a restart; a file with mistakes is named on the page with each mistake's place,
//! and the runs already stored still show.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use grantflow_service::flow_views::{self, FlowSummary};
use grantflow_service::flows::{FlowRunView, FlowStepView};
use grantflow_store::RunStart;
use rand::RngCore;
use serde_json::{Map, Value as Json};

use super::*;

/// Runs listed on the Workflows page; older ones are in the API and `grantflow flow runs`.
const RECENT_RUNS: i64 = 50;

/// How long *Run now* waits for the run to end before showing its page (which then follows it).
const RUN_WAIT: Duration = Duration::from_secs(10);

const READERS: &str = "administrators, auditors and viewers";

fn may_read(visitor: &Visitor) -> Result<(), PageError> {
    if flow_views::may_read_flows(&visitor.actor) {
        Ok(())
    } else {
        Err(PageError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{} may not do this: only {READERS} may read flows and their runs",
                visitor.actor
            ),
        ))
    }
}

/// A fresh key for a *Run now* form: the same form sent twice starts one run.
fn form_key() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn millis(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

fn pretty(value: Option<&Json>) -> String {
    value
        .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
        .unwrap_or_default()
}

pub(crate) struct RunRow {
    pub id: String,
    pub href: String,
    pub flow: String,
    pub trigger: String,
    pub actor: String,
    pub state: String,
    pub created_at: String,
}

impl RunRow {
    fn of(run: &FlowRunView) -> Self {
        Self {
            id: run.id.clone(),
            href: format!("/console/flows/runs/{}", segment(&run.id)),
            flow: run.flow.clone(),
            trigger: run.trigger.clone(),
            actor: run.actor.clone(),
            state: run.state.clone(),
            created_at: time(run.created_at),
        }
    }
}

pub(crate) struct InputField {
    /// The form field's name and id (`input.<name>`).
    pub field: String,
    pub name: String,
    pub kind: String,
    pub required: bool,
    /// The declared default, as the field's placeholder.
    pub default: String,
}

pub(crate) struct FlowRow {
    pub name: String,
    pub anchor: String,
    pub description: String,
    pub trigger: String,
    pub path: String,
    pub last_run: Option<RunRow>,
    /// The *Run now* form's fields, when this visitor may run it.
    pub runnable: bool,
    pub action: String,
    pub inputs: Vec<InputField>,
}

impl FlowRow {
    fn of(flow: FlowSummary, may_run: bool) -> Self {
        let anchor = format!(
            "flow-{}",
            flow.name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
        );
        Self {
            action: format!("/console/flows/{}/run", segment(&flow.name)),
            runnable: may_run && flow.takes_calls,
            inputs: flow
                .inputs
                .into_iter()
                .map(|input| InputField {
                    field: format!("input.{}", input.name),
                    default: match input.default {
                        None => String::new(),
                        Some(Json::String(s)) => s,
                        Some(other) => other.to_string(),
                    },
                    name: input.name,
                    kind: input.kind,
                    required: input.required,
                })
                .collect(),
            last_run: flow.last_run.as_ref().map(RunRow::of),
            description: flow.description.unwrap_or_default(),
            trigger: flow.trigger,
            path: flow.path,
            name: flow.name,
            anchor,
        }
    }
}

#[derive(Template)]
#[template(path = "flows.html")]
struct FlowsPage {
    layout: Layout,
    flows: Vec<FlowRow>,
    problem: String,
    runs: Vec<RunRow>,
    may_run: bool,
    /// A fresh key per page: submitting its form twice starts one run.
    key: String,
}

/// `GET /console/flows`: the flows and the recent runs.
pub(crate) async fn list(State(shared): State<Arc<Shared>>, visitor: Visitor) -> PageResult {
    may_read(&visitor)?;
    let may_run = flow_views::may_run_flows(&visitor.actor);
    // A file with mistakes is named on the page; the runs already stored still show.
    let (summaries, problem) = match shared.service.load_flows(None) {
        Ok(flows) => (
            shared
                .service
                .flow_summaries(&visitor.actor, &flows)
                .await?,
            String::new(),
        ),
        Err(error) => (Vec::new(), error.to_string()),
    };
    let runs = shared
        .service
        .flow_runs(&visitor.actor, None, RECENT_RUNS)
        .await?;
    render(&FlowsPage {
        layout: Layout::new(&visitor, "Workflows", "/console/flows"),
        flows: summaries
            .into_iter()
            .map(|f| FlowRow::of(f, may_run))
            .collect(),
        problem,
        runs: runs.iter().map(RunRow::of).collect(),
        may_run,
        key: form_key(),
    })
}

/// One card of a run as the page shows it.
pub(crate) struct StepCard {
    pub path: String,
    pub step: String,
    pub card: String,
    pub state: String,
    /// How many recorded steps it is nested in (a branch, a loop, a catch, a helper flow).
    pub depth: usize,
    pub attempts: i64,
    pub duration: String,
    pub started_at: String,
    pub input: String,
    pub output: String,
    pub error: Option<CardFailure>,
}

/// Why a card failed, with the system and its code first.
pub(crate) struct CardFailure {
    pub system: String,
    pub code: String,
    pub message: String,
    pub details: String,
}

impl CardFailure {
    fn of(error: &Json) -> Self {
        let text = |key: &str| {
            error
                .get(key)
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Self {
            system: text("system"),
            code: text("code"),
            message: text("message"),
            details: pretty(Some(error)),
        }
    }
}

/// Whether `inner` was recorded inside `outer` (a branch, a loop's item, a catch, a helper flow): its path
/// continues `outer`'s.
fn inside(inner: &FlowStepView, outer: &FlowStepView) -> bool {
    inner.path.len() > outer.path.len()
        && inner.path.starts_with(&outer.path)
        && matches!(
            inner.path.as_bytes().get(outer.path.len()),
            Some(b'/' | b'[')
        )
}

/// The steps as a tree read top to bottom: each step, then what ran inside it, each level in the order
/// it ran (a branch is recorded when it ends, after its cards). With each step, how deep it sits.
fn as_tree(steps: &[FlowStepView]) -> Vec<(usize, &FlowStepView)> {
    // The innermost step each one ran inside, if any.
    let parent: Vec<Option<usize>> = steps
        .iter()
        .map(|step| {
            steps
                .iter()
                .enumerate()
                .filter(|(_, outer)| inside(step, outer))
                .max_by_key(|(_, outer)| outer.path.len())
                .map(|(index, _)| index)
        })
        .collect();
    let mut ordered = Vec::with_capacity(steps.len());
    let mut stack: Vec<(usize, usize)> = (0..steps.len())
        .rev()
        .filter(|i| parent[*i].is_none())
        .map(|i| (i, 0))
        .collect();
    while let Some((index, depth)) = stack.pop() {
        ordered.push((depth, &steps[index]));
        stack.extend(
            (0..steps.len())
                .rev()
                .filter(|i| parent[*i] == Some(index))
                .map(|i| (i, depth + 1)),
        );
    }
    ordered
}

pub(crate) struct RunDetail {
    pub id: String,
    pub href: String,
    pub flow: String,
    pub flow_href: String,
    pub version: String,
    pub trigger: String,
    pub actor: String,
    pub state: String,
    pub created_at: String,
    pub finished_at: String,
    pub took: String,
    /// Still queued, running or waiting: the page follows it.
    pub live: bool,
    pub output: String,
    pub error: Option<CardFailure>,
    pub steps: Vec<StepCard>,
}

impl RunDetail {
    fn of(run: FlowRunView) -> Self {
        let steps: Vec<StepCard> = as_tree(&run.steps)
            .into_iter()
            .map(|(depth, s)| StepCard {
                depth: depth.min(6),
                path: s.path.clone(),
                step: s.step.clone(),
                card: s.card.clone(),
                state: s.state.clone(),
                attempts: s.attempts,
                duration: s.duration_ms.map(millis).unwrap_or_default(),
                started_at: time(s.started_at),
                input: pretty(s.input.as_ref()),
                output: pretty(s.output.as_ref()),
                error: s.error.as_ref().map(CardFailure::of),
            })
            .collect();
        Self {
            href: format!("/console/flows/runs/{}", segment(&run.id)),
            flow_href: format!(
                "/console/flows#flow-{}",
                run.flow
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect::<String>()
            ),
            live: matches!(run.state.as_str(), "queued" | "running" | "waiting"),
            took: run
                .finished_at
                .map(|f| millis((f - run.created_at).num_milliseconds()))
                .unwrap_or_default(),
            created_at: time(run.created_at),
            finished_at: run.finished_at.map(time).unwrap_or_default(),
            output: pretty(run.output.as_ref()),
            error: run.error.as_ref().map(CardFailure::of),
            id: run.id,
            flow: run.flow,
            version: run.version,
            trigger: run.trigger,
            actor: run.actor,
            state: run.state,
            steps,
        }
    }
}

#[derive(Template)]
#[template(path = "flow_run.html")]
struct RunPage {
    layout: Layout,
    run: RunDetail,
}

#[derive(Template)]
#[template(path = "flow_steps.html")]
struct StepsFragment {
    run: RunDetail,
}

/// `GET /console/flows/runs/{id}`: one run, card by card. htmx asks for the cards alone while the run
/// is live (`HX-Request`), every second until it ends.
pub(crate) async fn run(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> PageResult {
    may_read(&visitor)?;
    let run = RunDetail::of(shared.service.flow_run(&visitor.actor, &id).await?);
    if wants_fragment(&headers) {
        return render(&StepsFragment { run });
    }
    render(&RunPage {
        layout: Layout::new(&visitor, format!("Run of {}", run.flow), "/console/flows"),
        run,
    })
}

/// `POST /console/flows/{name}/run`: starts a run by hand with the form's inputs (`input.<name>`; an
/// empty field leaves the input to its default), runs it here and shows it. A run still going after a
/// few seconds goes on in the background and its page follows it.
pub(crate) async fn run_now(
    State(shared): State<Arc<Shared>>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(name): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> PageResult {
    let Form(fields) = form.map_err(|e| PageError::invalid(e.body_text()))?;
    let field = |wanted: &str| {
        fields
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.as_str())
    };
    visitor.check_csrf(&headers, field("csrf"))?;
    if !flow_views::may_run_flows(&visitor.actor) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{} may not do this: only administrators may run flows",
                visitor.actor
            ),
        ));
    }
    let flows = Arc::new(shared.service.load_flows(None).map_err(|problem| {
        PageError::invalid(format!(
            "the flow files have mistakes, so no flow runs until they are fixed: {problem}"
        ))
    })?);
    let mut inputs = Map::new();
    for (key, value) in &fields {
        if let Some(input) = key.strip_prefix("input.")
            && !value.trim().is_empty()
        {
            inputs.insert(input.to_string(), Json::String(value.clone()));
        }
    }
    let key = field("key")
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| format!("console:{k}"));
    let started = shared
        .service
        .start_flow(
            &visitor.actor,
            &flows,
            &name,
            Json::Object(inputs),
            key,
            "manual",
        )
        .await?;
    let run = match started {
        RunStart::Started(run) => {
            let id = run.id.clone();
            let worker = visitor.actor.id.clone();
            let running = tokio::spawn({
                let shared = shared.clone();
                async move {
                    let outcome = shared
                        .service
                        .flow_runtime(flows, &worker)
                        .run_now(&id)
                        .await;
                    if let Err(error) = outcome {
                        tracing::error!(
                            message = "A flow run started from the console stopped; a worker takes it up again.",
                            run = %id,
                            error = %error
                        );
                    }
                }
            });
            // The page shows the run either way; waiting a little lets a short run show finished.
            let _ = tokio::time::timeout(RUN_WAIT, running).await;
            run
        }
        // The same form sent twice: its first run.
        RunStart::Duplicate(run) => run,
    };
    see_other(&format!("/console/flows/runs/{}", segment(&run.id)))
}
