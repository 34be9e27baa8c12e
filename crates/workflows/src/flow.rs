//! A flow compiled from its file and checked: every card known, every input it takes and no other,
//! every reference to an earlier step's output or to an input resolvable, and the types of a step's
//! output and the next step's input compatible. All problems are reported together, each at its
//! `file:line:column`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use grantflow_policy::{Diagnostic, Diagnostics, Located};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::cards::{self, Card, Effect, Type};
use crate::file::{self, RawFlow, RawStep};
use crate::template::{Expression, Template};
use crate::trigger::{self, Trigger};

mod wait;

/// A flow ready to run.
#[derive(Debug)]
pub struct Flow {
    pub name: String,
    pub description: Option<String>,
    /// The digest of the file's text: runs are pinned to it.
    pub version: String,
    pub path: PathBuf,
    pub source: String,
    pub trigger: Option<Trigger>,
    pub inputs: BTreeMap<String, Input>,
    pub record_io: bool,
    pub retention: Duration,
    pub concurrency: usize,
    pub steps: Vec<Step>,
}

impl Flow {
    /// Whether Okta events concern it: its trigger is an Okta event, or a step waits for one (a helper
    /// flow's wait counts too: it runs inside its caller's run).
    pub fn hears_okta_events(&self) -> bool {
        fn waits(steps: &[Step]) -> bool {
            steps.iter().any(|step| {
                let inner = match &step.kind {
                    StepKind::Wait(Wait::Event { .. }) => return true,
                    StepKind::If {
                        then, otherwise, ..
                    } => waits(then) || waits(otherwise),
                    StepKind::Switch { cases, default, .. } => {
                        cases.iter().any(|(_, steps)| waits(steps)) || waits(default)
                    }
                    StepKind::ForEach { steps, .. } => waits(steps),
                    _ => false,
                };
                inner || matches!(&step.on_error, OnError::Catch(steps) if waits(steps))
            })
        }
        matches!(self.trigger, Some(Trigger::Okta { .. })) || waits(&self.steps)
    }
}

#[derive(Debug, Clone)]
pub struct Input {
    pub kind: Type,
    pub required: bool,
    pub default: Option<Json>,
}

#[derive(Debug)]
pub struct Step {
    pub id: String,
    pub line: u64,
    pub column: u64,
    pub kind: StepKind,
    pub retry: Retry,
    pub on_error: OnError,
}

#[derive(Debug)]
pub enum StepKind {
    Card {
        card: &'static Card,
        with: BTreeMap<String, Template>,
    },
    If {
        condition: Expression,
        then: Vec<Step>,
        otherwise: Vec<Step>,
    },
    Switch {
        value: Expression,
        cases: Vec<(String, Vec<Step>)>,
        default: Vec<Step>,
    },
    ForEach {
        items: Expression,
        item: String,
        concurrency: usize,
        steps: Vec<Step>,
    },
    Call {
        flow: String,
        with: BTreeMap<String, Template>,
    },
    Wait(Wait),
    Return(BTreeMap<String, Template>),
    Fail(Template),
}

#[derive(Debug)]
pub enum Wait {
    For(Duration),
    Until(Template),
    /// Until an Okta event about the run's person matches (`matcher`, an Okta trigger), at most `timeout`.
    Event {
        matcher: Trigger,
        timeout: Duration,
        who: Option<Template>,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub backoff: Duration,
}

#[derive(Debug)]
pub enum OnError {
    Fail,
    Continue,
    Catch(Vec<Step>),
}

impl Step {
    /// The card's name as the history shows it (`if`, `for_each`, `call:<flow>`, …).
    pub fn card_name(&self) -> String {
        match &self.kind {
            StepKind::Card { card, .. } => card.name.to_string(),
            StepKind::If { .. } => "if".into(),
            StepKind::Switch { .. } => "switch".into(),
            StepKind::ForEach { .. } => "for_each".into(),
            StepKind::Call { flow, .. } => format!("call:{flow}"),
            StepKind::Wait(_) => "wait".into(),
            StepKind::Return(_) => "return".into(),
            StepKind::Fail(_) => "fail".into(),
        }
    }
}

/// The version of a flow file: the digest of its text.
pub fn version_of(source: &str) -> String {
    hex::encode(&Sha256::digest(source.as_bytes())[..12])
}

/// Compiles one flow file. `helpers` names the other flows a `call` may name (with their inputs), so a
/// call of an unknown flow or with an unknown input is found here.
pub fn compile(
    path: &Path,
    source: &str,
    helpers: &BTreeMap<String, BTreeMap<String, Input>>,
) -> Result<Flow, Diagnostics> {
    let raw = file::parse(path, source).map_err(|d| Diagnostics(vec![d]))?;
    let mut checker = Checker {
        path,
        problems: Vec::new(),
        helpers,
        ids: BTreeSet::new(),
        all_ids: BTreeSet::new(),
    };
    collect_ids(&raw.steps, &mut checker.all_ids);
    let flow = checker.flow(raw, source);
    if checker.problems.is_empty() {
        Ok(flow)
    } else {
        Err(Diagnostics(checker.problems))
    }
}

/// The name and inputs of a flow file, without checking its steps (to know the helpers first).
pub fn signature(
    path: &Path,
    source: &str,
) -> Result<(String, BTreeMap<String, Input>), Diagnostics> {
    let raw = file::parse(path, source).map_err(|d| Diagnostics(vec![d]))?;
    let mut checker = Checker {
        path,
        problems: Vec::new(),
        helpers: &BTreeMap::new(),
        ids: BTreeSet::new(),
        all_ids: BTreeSet::new(),
    };
    let inputs = checker.inputs(&raw.inputs);
    Ok((raw.flow.value, inputs))
}

/// What a reference may see at a point of the flow: the steps before it (with their outputs' types) and
/// the loop items around it.
#[derive(Clone, Default)]
struct Visible {
    steps: BTreeMap<String, Outputs>,
    names: BTreeSet<String>,
}

#[derive(Clone)]
enum Outputs {
    /// Only these fields.
    Fields(BTreeMap<String, Type>),
    /// Anything (a `set` card's values are known, but a helper's return is checked only at run time).
    Open(BTreeMap<String, Type>),
}

struct Checker<'a> {
    path: &'a Path,
    problems: Vec<Diagnostic>,
    helpers: &'a BTreeMap<String, BTreeMap<String, Input>>,
    /// The ids of the steps checked so far.
    ids: BTreeSet<String>,
    /// Every step id of the flow, to tell a step read too early from one that does not exist.
    all_ids: BTreeSet<String>,
}

fn collect_ids(steps: &[RawStep], out: &mut BTreeSet<String>) {
    for step in steps {
        out.insert(step.id.value.trim().to_string());
        for inner in [
            &step.then,
            &step.otherwise,
            &step.default,
            &step.steps,
            &step.catch,
        ]
        .into_iter()
        .flatten()
        {
            collect_ids(inner, out);
        }
        for inner in step.cases.iter().flat_map(|c| c.values()) {
            collect_ids(inner, out);
        }
    }
}

const ROOTS: &[&str] = &["event", "inputs", "steps", "flow", "now", "run"];

impl Checker<'_> {
    fn at<T>(&mut self, located: &Located<T>, message: impl Into<String>) {
        self.problems.push(located.diagnostic(self.path, message));
    }

    fn flow(&mut self, raw: RawFlow, source: &str) -> Flow {
        let name = raw.flow.value.trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.at(&raw.flow, "a flow's name is letters, digits, `-` and `_`");
        }
        let trigger = raw
            .trigger
            .as_ref()
            .and_then(|t| match trigger::compile(&t.value) {
                Ok(trigger) => Some(trigger),
                Err(message) => {
                    self.at(t, message);
                    None
                }
            });
        let inputs = self.inputs(&raw.inputs);
        let history = raw.history.unwrap_or_default();
        let retention_days = match &history.retention_days {
            Some(days) if days.value == 0 => {
                self.at(days, "keep history for at least one day");
                90
            }
            Some(days) => days.value,
            None => 90,
        };
        let concurrency = match &raw.concurrency {
            Some(c) if c.value == 0 => {
                self.at(c, "concurrency must be at least 1");
                1
            }
            Some(c) => c.value as usize,
            None => 10,
        };
        let mut visible = Visible::default();
        let steps = self.steps(&raw.steps, &mut visible, &inputs);
        if raw.steps.is_empty() {
            self.at(&raw.flow, "a flow needs at least one step");
        }
        Flow {
            name,
            description: raw.description,
            version: version_of(source),
            path: self.path.to_path_buf(),
            source: source.to_string(),
            trigger,
            inputs,
            record_io: history.record_io.unwrap_or(true),
            retention: Duration::from_secs(u64::from(retention_days) * 86_400),
            concurrency,
            steps,
        }
    }

    fn inputs(
        &mut self,
        raw: &BTreeMap<String, Located<crate::file::RawInput>>,
    ) -> BTreeMap<String, Input> {
        let mut out = BTreeMap::new();
        for (name, input) in raw {
            let kind = match &input.value.kind {
                None => Type::Any,
                Some(kind) => Type::parse(&kind.value).unwrap_or_else(|| {
                    self.at(
                        kind,
                        format!(
                            "unknown type `{}`: use string, number, boolean, object, list or any",
                            kind.value
                        ),
                    );
                    Type::Any
                }),
            };
            if let Some(default) = &input.value.default
                && !Type::of(default).fits(kind)
            {
                self.at(
                    input,
                    format!(
                        "input `{name}` is {}, but its default is {}",
                        kind.name(),
                        Type::of(default).name()
                    ),
                );
            }
            out.insert(
                name.clone(),
                Input {
                    kind,
                    required: input
                        .value
                        .required
                        .unwrap_or(input.value.default.is_none()),
                    default: input.value.default.clone(),
                },
            );
        }
        out
    }

    fn steps(
        &mut self,
        raw: &[RawStep],
        visible: &mut Visible,
        inputs: &BTreeMap<String, Input>,
    ) -> Vec<Step> {
        raw.iter()
            .filter_map(|step| {
                let compiled = self.step(step, visible, inputs)?;
                Some(compiled)
            })
            .collect()
    }

    fn expression(
        &mut self,
        at: &Located<String>,
        visible: &Visible,
        inputs: &BTreeMap<String, Input>,
    ) -> Option<Expression> {
        // `${…}` around a condition or a list is what people write elsewhere in the file: accept it.
        let source = at.value.trim();
        let source = source
            .strip_prefix("${")
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(source);
        match Expression::compile(source) {
            Ok(expression) => {
                self.references(at, &expression, visible, inputs);
                Some(expression)
            }
            Err(message) => {
                self.at(at, message);
                None
            }
        }
    }

    fn template<T>(
        &mut self,
        at: &Located<T>,
        value: &Json,
        visible: &Visible,
        inputs: &BTreeMap<String, Input>,
    ) -> Option<Template> {
        match Template::compile(value) {
            Ok(template) => {
                for expression in template.expressions() {
                    self.references(at, expression, visible, inputs);
                }
                Some(template)
            }
            Err(message) => {
                self.at(at, message);
                None
            }
        }
    }

    /// Each name an expression reads must be there when it runs.
    fn references<T>(
        &mut self,
        at: &Located<T>,
        expression: &Expression,
        visible: &Visible,
        inputs: &BTreeMap<String, Input>,
    ) {
        for reference in &expression.references {
            let root = reference.root.as_str();
            if root == "steps" {
                let Some(step) = reference.path.first() else {
                    continue;
                };
                match visible.steps.get(step) {
                    None if self.all_ids.contains(step) => self.at(at, format!("`steps.{step}` is read before step `{step}` has run (a step sees only the steps before it, and a loop's steps only inside the loop)")),
                    None => self.at(at, format!("no step `{step}` in this flow")),
                    Some(Outputs::Fields(fields)) => {
                        if let Some(field) = reference.path.get(1)
                            && !fields.contains_key(field)
                        {
                            let known: Vec<&str> = fields.keys().map(String::as_str).collect();
                            self.at(at, format!("step `{step}` gives no `{field}` (it gives {})", known.join(", ")));
                        }
                    }
                    Some(Outputs::Open(_)) => {}
                }
            } else if root == "inputs" {
                if let Some(name) = reference.path.first()
                    && !inputs.contains_key(name)
                {
                    self.at(
                        at,
                        format!("the flow has no input `{name}` (declare it under `inputs:`)"),
                    );
                }
            } else if !ROOTS.contains(&root) && !visible.names.contains(root) && !is_cel_word(root)
            {
                self.at(at, format!("unknown name `{root}`: an expression reads event, inputs, steps, flow, now, or a loop's item"));
            }
        }
    }

    /// The type a value will have when it is one expression reading a known output or input.
    fn type_of(template: &Template, visible: &Visible, inputs: &BTreeMap<String, Input>) -> Type {
        match template {
            Template::Literal(value) => Type::of(value),
            Template::Text(_) => Type::Text,
            Template::List(_) => Type::List,
            Template::Object(_) => Type::Object,
            Template::Expr(expression) => {
                let [reference] = expression.references.as_slice() else {
                    return Type::Any;
                };
                if expression.condition.source().trim()
                    != format!("{}.{}", reference.root, reference.path.join("."))
                {
                    return Type::Any;
                }
                match (reference.root.as_str(), reference.path.as_slice()) {
                    ("steps", [step, field]) => match visible.steps.get(step) {
                        Some(Outputs::Fields(fields) | Outputs::Open(fields)) => {
                            fields.get(field).copied().unwrap_or(Type::Any)
                        }
                        None => Type::Any,
                    },
                    ("inputs", [name]) => inputs.get(name).map(|i| i.kind).unwrap_or(Type::Any),
                    _ => Type::Any,
                }
            }
        }
    }

    fn with(
        &mut self,
        step: &RawStep,
        visible: &Visible,
        inputs: &BTreeMap<String, Input>,
    ) -> BTreeMap<String, (Template, Type, Located<()>)> {
        let mut out = BTreeMap::new();
        for (name, value) in step.with.iter().flatten() {
            if let Some(template) = self.template(value, &value.value, visible, inputs) {
                let kind = Self::type_of(&template, visible, inputs);
                out.insert(name.clone(), (template, kind, value.position()));
            }
        }
        out
    }

    fn step(
        &mut self,
        raw: &RawStep,
        visible: &mut Visible,
        inputs: &BTreeMap<String, Input>,
    ) -> Option<Step> {
        let id = raw.id.value.trim().to_string();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.at(
                &raw.id,
                "a step's id is letters, digits and `_` (expressions read it as steps.<id>)",
            );
        }
        if !self.ids.insert(id.clone()) {
            self.at(
                &raw.id,
                format!("a second step named `{id}`: ids are unique in a flow"),
            );
        }
        let kinds = [
            raw.card.is_some(),
            raw.condition.is_some(),
            raw.switch.is_some(),
            raw.for_each.is_some(),
            raw.call.is_some(),
            raw.wait.is_some(),
            raw.output.is_some(),
            raw.fail.is_some(),
        ];
        let count = kinds.iter().filter(|k| **k).count();
        if count != 1 {
            self.at(&raw.id, format!("step `{id}` must have exactly one of card, if, switch, for_each, call, wait, return, fail ({count} given)"));
            return None;
        }
        let (kind, outputs) = self.step_kind(raw, &id, visible, inputs)?;
        let retry = self.retry(raw, &kind);
        let on_error = match (&raw.on_error, &raw.catch) {
            (Some(word), Some(_)) => {
                self.at(word, "use either on_error or catch, not both");
                OnError::Fail
            }
            (Some(word), None) => match word.value.as_str() {
                "fail" => OnError::Fail,
                "continue" => OnError::Continue,
                other => {
                    self.at(word, format!("on_error is `fail` or `continue`, not `{other}` (use catch: for error steps)"));
                    OnError::Fail
                }
            },
            (None, Some(steps)) => {
                let mut inner = visible.clone();
                inner.names.insert("error".into());
                OnError::Catch(self.steps(steps, &mut inner, inputs))
            }
            (None, None) => OnError::Fail,
        };
        visible.steps.insert(id.clone(), outputs);
        Some(Step {
            id,
            line: raw.id.line,
            column: raw.id.column,
            kind,
            retry,
            on_error,
        })
    }

    fn retry(&mut self, raw: &RawStep, kind: &StepKind) -> Retry {
        let default_attempts = match kind {
            StepKind::Card { card, .. } if matches!(card.effect, Effect::Http | Effect::Notify) => {
                3
            }
            StepKind::Card { card, .. } if card.effect == Effect::Read => 2,
            _ => 1,
        };
        let Some(retry) = &raw.retry else {
            return Retry {
                attempts: default_attempts,
                backoff: Duration::from_secs(1),
            };
        };
        let attempts = match &retry.attempts {
            Some(a) if a.value == 0 || a.value > 20 => {
                self.at(a, "attempts is between 1 and 20");
                default_attempts
            }
            Some(a) => a.value,
            None => default_attempts,
        };
        let backoff = match &retry.backoff {
            Some(b) => match parse_duration(&b.value) {
                Ok(d) => d,
                Err(message) => {
                    self.at(b, message);
                    Duration::from_secs(1)
                }
            },
            None => Duration::from_secs(1),
        };
        Retry { attempts, backoff }
    }

    fn step_kind(
        &mut self,
        raw: &RawStep,
        id: &str,
        visible: &mut Visible,
        inputs: &BTreeMap<String, Input>,
    ) -> Option<(StepKind, Outputs)> {
        if let Some(name) = &raw.card {
            let Some(card) = cards::card(&name.value) else {
                let hint = cards::closest(&name.value)
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                self.at(name, format!("unknown card `{}`{hint}", name.value));
                return None;
            };
            let with = self.with(raw, visible, inputs);
            for (field, (_, kind, at)) in &with {
                match card.input(field) {
                    Some(expected) if !kind.fits(expected.kind) => self.at(
                        at,
                        format!(
                            "card `{}` takes {} as `{field}`, but this value is {}",
                            card.name,
                            expected.kind.name(),
                            kind.name()
                        ),
                    ),
                    Some(_) => {}
                    None if card.open_inputs => {}
                    None => {
                        let known: Vec<&str> = card.inputs.iter().map(|f| f.name).collect();
                        self.at(
                            at,
                            format!(
                                "card `{}` takes no `{field}` (it takes {})",
                                card.name,
                                known.join(", ")
                            ),
                        );
                    }
                }
            }
            for required in card.inputs.iter().filter(|f| f.required) {
                if !with.contains_key(required.name) {
                    self.at(
                        name,
                        format!("card `{}` needs `{}` under with:", card.name, required.name),
                    );
                }
            }
            let mut fields: BTreeMap<String, Type> = card
                .outputs
                .iter()
                .map(|f| (f.name.to_string(), f.kind))
                .collect();
            if card.open_outputs {
                fields.extend(with.iter().map(|(k, (_, t, _))| (k.clone(), *t)));
            }
            let outputs = if card.open_outputs && card.inputs.is_empty() && !card.open_inputs {
                Outputs::Open(fields)
            } else {
                Outputs::Fields(fields)
            };
            let with = with.into_iter().map(|(k, (t, _, _))| (k, t)).collect();
            return Some((StepKind::Card { card, with }, outputs));
        }
        if let Some(condition) = &raw.condition {
            let expression = self.expression(condition, visible, inputs);
            let then = self.block(raw.then.as_deref(), visible, inputs);
            let otherwise = self.block(raw.otherwise.as_deref(), visible, inputs);
            if raw.then.is_none() && raw.otherwise.is_none() {
                self.at(
                    condition,
                    format!("step `{id}`: an `if` needs then: or else:"),
                );
            }
            return Some((
                StepKind::If {
                    condition: expression?,
                    then,
                    otherwise,
                },
                branch_outputs(),
            ));
        }
        if let Some(value) = &raw.switch {
            let expression = self.expression(value, visible, inputs);
            let mut cases = Vec::new();
            for (case, steps) in raw.cases.iter().flatten() {
                cases.push((case.clone(), self.block(Some(steps), visible, inputs)));
            }
            if cases.is_empty() {
                self.at(value, format!("step `{id}`: a switch needs cases:"));
            }
            let default = self.block(raw.default.as_deref(), visible, inputs);
            return Some((
                StepKind::Switch {
                    value: expression?,
                    cases,
                    default,
                },
                branch_outputs(),
            ));
        }
        if let Some(items) = &raw.for_each {
            let expression = self.expression(items, visible, inputs);
            let item = raw
                .item
                .as_ref()
                .map(|i| i.value.clone())
                .unwrap_or_else(|| "item".into());
            let concurrency = match &raw.concurrency {
                Some(c) if c.value == 0 || c.value > 64 => {
                    self.at(c, "a loop's concurrency is between 1 and 64");
                    1
                }
                Some(c) => c.value as usize,
                None => 1,
            };
            let mut inner = visible.clone();
            inner.names.insert(item.clone());
            inner.names.insert("index".into());
            let Some(steps) = &raw.steps else {
                self.at(items, format!("step `{id}`: a for_each needs steps:"));
                return None;
            };
            let steps = self.steps(steps, &mut inner, inputs);
            let fields = BTreeMap::from([
                ("results".to_string(), Type::List),
                ("count".to_string(), Type::Number),
            ]);
            return Some((
                StepKind::ForEach {
                    items: expression?,
                    item,
                    concurrency,
                    steps,
                },
                Outputs::Fields(fields),
            ));
        }
        if let Some(flow) = &raw.call {
            let with = self.with(raw, visible, inputs);
            match self.helpers.get(&flow.value) {
                None => self.at(flow, format!("no flow `{}` to call (helper flows are the other files in the flows directory)", flow.value)),
                Some(wanted) => {
                    for (field, (_, kind, at)) in &with {
                        match wanted.get(field) {
                            None => self.at(at, format!("flow `{}` has no input `{field}`", flow.value)),
                            Some(input) if !kind.fits(input.kind) => self.at(at, format!(
                                "flow `{}` takes {} as `{field}`, but this value is {}",
                                flow.value, input.kind.name(), kind.name()
                            )),
                            Some(_) => {}
                        }
                    }
                    for (name, input) in wanted {
                        if input.required && !with.contains_key(name) {
                            self.at(flow, format!("flow `{}` needs input `{name}` under with:", flow.value));
                        }
                    }
                }
            }
            let with = with.into_iter().map(|(k, (t, _, _))| (k, t)).collect();
            return Some((
                StepKind::Call {
                    flow: flow.value.clone(),
                    with,
                },
                Outputs::Open(BTreeMap::new()),
            ));
        }
        if let Some(wait) = &raw.wait {
            return self.wait(raw, wait, id, visible, inputs);
        }
        if raw.output.is_some() {
            let values = raw
                .output
                .iter()
                .flatten()
                .filter_map(|(name, value)| {
                    Some((
                        name.clone(),
                        self.template(value, &value.value, visible, inputs)?,
                    ))
                })
                .collect();
            return Some((StepKind::Return(values), Outputs::Open(BTreeMap::new())));
        }
        if let Some(message) = &raw.fail {
            let template = self.template(
                message,
                &Json::String(message.value.clone()),
                visible,
                inputs,
            )?;
            return Some((StepKind::Fail(template), Outputs::Open(BTreeMap::new())));
        }
        None
    }

    /// A branch's steps see what was visible before the branch; what they produce is visible after the
    /// branch only through `steps.<branch>`, since whether they ran depends on the branch taken.
    fn block(
        &mut self,
        raw: Option<&[RawStep]>,
        visible: &Visible,
        inputs: &BTreeMap<String, Input>,
    ) -> Vec<Step> {
        let mut inner = visible.clone();
        self.steps(raw.unwrap_or_default(), &mut inner, inputs)
    }
}

fn branch_outputs() -> Outputs {
    Outputs::Fields(BTreeMap::from([
        ("branch".to_string(), Type::Text),
        ("steps".to_string(), Type::Object),
    ]))
}

/// CEL's own words, which read like names.
fn is_cel_word(name: &str) -> bool {
    matches!(
        name,
        "true"
            | "false"
            | "null"
            | "in"
            | "has"
            | "size"
            | "int"
            | "uint"
            | "double"
            | "string"
            | "bool"
            | "bytes"
            | "timestamp"
            | "duration"
            | "type"
            | "dyn"
            | "list"
            | "map"
            | "matches"
            | "exists"
            | "all"
            | "exists_one"
            | "filter"
    )
}

/// Durations as flows write them: `30s`, `10m`, `2h`, `3d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    grantflow_policy::parse_duration(text)
}
