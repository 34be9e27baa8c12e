//! The one module that talks to the CEL interpreter. cel-rust still makes
//! breaking changes in minor releases, so nothing else depends on its API
//! (besides the static check in `check.rs`, which reads its syntax tree).

use cel::common::ast::{Expr, LiteralValue, operators};
use cel::{Context, ExecutionError, IdedExpr, Program, Value};
use grantflow_model::Person;
use serde_json::{Map, Value as Json};

use crate::attributes::{AttributeCatalog, CANONICAL_ATTRIBUTES};
use crate::check::{self, Problem};

/// The longest condition accepted. A condition names a few attributes; a
/// megabyte of CEL is a mistake or an attack, and parsing one takes seconds.
pub const MAX_CONDITION_BYTES: usize = 16 * 1024;
/// The deepest nesting of brackets accepted, checked before parsing so a
/// pathological condition cannot exhaust the parser's stack.
pub const MAX_NESTING: usize = 32;
/// The most syntax-tree nodes a condition may have, and how deeply list
/// macros (`exists`, `all`, `map`, `filter`) may nest: together they bound
/// the work one evaluation can do, since the interpreter has no step budget.
pub const MAX_NODES: usize = 2_000;
pub const MAX_COMPREHENSION_NESTING: usize = 2;

/// A compiled policy condition.
pub struct Condition {
    source: String,
    program: Option<Program>,
    /// The condition as a conjunction of simple tests on text or boolean
    /// attributes (`person.active && person.department == "X"`), answered
    /// without the interpreter: planning evaluates every condition for
    /// every person, and a map lookup is a thousand times cheaper.
    fast: Option<Vec<Term>>,
}

/// One test the fast path answers.
#[derive(Debug, Clone, PartialEq)]
enum Term {
    IsTrue(String),
    IsFalse(String),
    Equals(String, String),
    NotEquals(String, String),
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("source", &self.source)
            .finish()
    }
}

/// What a fast-path term reads: text or a flag.
enum Field<'p> {
    Text(&'p str),
    Flag(bool),
}

/// The value of `person.<field>` when it is text or a flag; `None` when the
/// field is missing or of another type (the interpreter then decides).
fn field<'p>(person: &'p Person, name: &str) -> Option<Field<'p>> {
    match name {
        "email" => Some(Field::Text(&person.email)),
        "login" => Some(Field::Text(&person.login)),
        "name" => Some(Field::Text(&person.display_name)),
        "status" => Some(Field::Text(&person.status)),
        "state" => Some(Field::Text(person.state.as_str())),
        "active" => Some(Field::Flag(person.state.is_active())),
        _ => match person.attributes.get(name) {
            Some(Json::String(text)) => Some(Field::Text(text)),
            Some(Json::Bool(flag)) => Some(Field::Flag(*flag)),
            Some(Json::Null) | None if CANONICAL_ATTRIBUTES.contains(&name) => {
                Some(Field::Text(""))
            }
            _ => None,
        },
    }
}

impl Term {
    fn answer(&self, person: &Person) -> Option<bool> {
        Some(match self {
            Term::IsTrue(name) => match field(person, name)? {
                Field::Flag(flag) => flag,
                Field::Text(_) => return None,
            },
            Term::IsFalse(name) => match field(person, name)? {
                Field::Flag(flag) => !flag,
                Field::Text(_) => return None,
            },
            Term::Equals(name, text) => match field(person, name)? {
                Field::Text(value) => value == text,
                Field::Flag(_) => return None,
            },
            Term::NotEquals(name, text) => match field(person, name)? {
                Field::Text(value) => value != text,
                Field::Flag(_) => return None,
            },
        })
    }
}

fn person_field(expr: &IdedExpr) -> Option<String> {
    match &expr.expr {
        Expr::Select(select) if !select.test => match &select.operand.expr {
            Expr::Ident(root) if root == "person" => Some(select.field.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn text_literal(expr: &IdedExpr) -> Option<String> {
    match &expr.expr {
        Expr::Literal(LiteralValue::String(text)) => Some(text.to_string()),
        _ => None,
    }
}

/// The terms of `expr` when it is a conjunction the fast path can answer.
fn fast_terms(expr: &IdedExpr, into: &mut Vec<Term>) -> bool {
    if let Some(name) = person_field(expr) {
        into.push(Term::IsTrue(name));
        return true;
    }
    let Expr::Call(call) = &expr.expr else {
        return false;
    };
    if call.target.is_some() {
        return false;
    }
    match (call.func_name.as_str(), call.args.as_slice()) {
        (operators::LOGICAL_AND, [a, b]) => fast_terms(a, into) && fast_terms(b, into),
        (operators::LOGICAL_NOT, [operand]) => match person_field(operand) {
            Some(name) => {
                into.push(Term::IsFalse(name));
                true
            }
            None => false,
        },
        (operators::EQUALS | operators::NOT_EQUALS, [a, b]) => {
            let (name, text) = match (person_field(a), text_literal(b)) {
                (Some(name), Some(text)) => (name, text),
                _ => match (person_field(b), text_literal(a)) {
                    (Some(name), Some(text)) => (name, text),
                    _ => return false,
                },
            };
            into.push(if call.func_name == operators::EQUALS {
                Term::Equals(name, text)
            } else {
                Term::NotEquals(name, text)
            });
            true
        }
        _ => false,
    }
}

/// The deepest bracket nesting in `source`, ignoring brackets in strings.
fn nesting(source: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in source.chars() {
        if let Some(q) = quote {
            match c {
                '\\' if !escaped => {
                    escaped = true;
                    continue;
                }
                c if c == q && !escaped => quote = None,
                _ => {}
            }
            escaped = false;
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Nodes of the syntax tree and the deepest nesting of list macros.
fn measure(expr: &IdedExpr) -> (usize, usize) {
    let children: Vec<&IdedExpr> = match &expr.expr {
        Expr::Call(call) => call
            .target
            .as_deref()
            .into_iter()
            .chain(&call.args)
            .collect(),
        Expr::Select(select) => vec![&select.operand],
        Expr::List(list) => list.elements.iter().collect(),
        Expr::Map(map) => map
            .entries
            .iter()
            .filter_map(|e| match &e.expr {
                cel::common::ast::EntryExpr::MapEntry(entry) => Some([&entry.key, &entry.value]),
                cel::common::ast::EntryExpr::StructField(_) => None,
            })
            .flatten()
            .collect(),
        Expr::Struct(s) => s
            .entries
            .iter()
            .filter_map(|e| match &e.expr {
                cel::common::ast::EntryExpr::StructField(field) => Some(&field.value),
                cel::common::ast::EntryExpr::MapEntry(_) => None,
            })
            .collect(),
        Expr::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => vec![],
    };
    let (mut nodes, mut loops) = (1, 0);
    for child in children {
        let (n, l) = measure(child);
        nodes += n;
        loops = loops.max(l);
    }
    if matches!(expr.expr, Expr::Comprehension(_)) {
        loops += 1;
    }
    (nodes, loops)
}

impl Condition {
    /// The condition of a policy without `when`: every person matches.
    pub fn always() -> Self {
        Self {
            source: "true".to_string(),
            program: None,
            fast: Some(vec![]),
        }
    }

    /// Parses `source` within the size and shape limits. Attribute names and
    /// types are checked later against the directory ([`Condition::check`]).
    pub fn compile(source: &str) -> Result<Self, String> {
        if source.len() > MAX_CONDITION_BYTES {
            return Err(format!(
                "the condition is {} bytes long; the limit is {MAX_CONDITION_BYTES}",
                source.len()
            ));
        }
        if nesting(source) > MAX_NESTING {
            return Err(format!(
                "the condition nests brackets more than {MAX_NESTING} deep"
            ));
        }
        let program = Program::compile(source).map_err(|errors| {
            let details: Vec<String> = errors
                .errors
                .iter()
                .map(|e| format!("{} (at expression column {})", e.msg, e.pos.1 + 1))
                .collect();
            format!("invalid CEL condition: {}", details.join("; "))
        })?;
        let (nodes, loops) = measure(program.expression());
        if nodes > MAX_NODES {
            return Err(format!(
                "the condition has {nodes} parts; the limit is {MAX_NODES}"
            ));
        }
        if loops > MAX_COMPREHENSION_NESTING {
            return Err(format!(
                "the condition nests list macros (exists, all, map, filter) {loops} deep; the limit is {MAX_COMPREHENSION_NESTING}"
            ));
        }
        let mut terms = Vec::new();
        let fast = fast_terms(program.expression(), &mut terms).then_some(terms);
        Ok(Self {
            source: source.to_string(),
            program: Some(program),
            fast,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Problems with the attributes and types the condition uses, each at a
    /// byte offset into [`Condition::source`].
    pub fn check(&self, catalog: &AttributeCatalog) -> Vec<Problem> {
        match &self.program {
            Some(program) => check::check(program, catalog),
            None => vec![],
        }
    }

    /// Checks a value computed only for the people `condition` matches: the attributes the
    /// condition tests with `has()` may be read unguarded.
    pub fn check_given(&self, catalog: &AttributeCatalog, condition: &Condition) -> Vec<Problem> {
        let guards = condition
            .program
            .as_ref()
            .map(check::guaranteed_by)
            .unwrap_or_default();
        match &self.program {
            Some(program) => check::check_given(program, catalog, guards),
            None => vec![],
        }
    }

    /// Whether `person` matches. An attribute the person lacks, or a value
    /// of an unexpected type, is an error, never a silent `false`: a
    /// condition that cannot be decided must not take anyone's access.
    pub fn evaluate(&self, person: &Person) -> Result<bool, String> {
        evaluate_all(&[self], person).pop().unwrap_or(Ok(true))
    }

    /// Whether the condition holds with `variables` (each top-level key a
    /// CEL variable: `person`, `request`, `reach`, …). Approval rules and
    /// conflict rules read more than a person; like [`Condition::evaluate`],
    /// a missing field is an error, never a silent `false`.
    pub fn evaluate_with(&self, variables: &Map<String, Json>) -> Result<bool, String> {
        let mut context = Context::default();
        for (name, value) in variables {
            let value = cel::to_value(value.clone()).map_err(|e| e.to_string())?;
            context.add_variable_from_value(name.as_str(), value);
        }
        match self.execute_in(&context) {
            Ok(Value::Bool(holds)) => Ok(holds),
            Ok(other) => Err(format!(
                "the condition must be a boolean, but it is {}",
                type_name(&other)
            )),
            Err(ExecutionError::NoSuchKey(key)) => Err(format!(
                "no field `{key}` here (test optional fields with has(...))"
            )),
            Err(error) => Err(error.to_string()),
        }
    }

    /// The expression's value for `person`, as JSON (a profile attribute's value). As with
    /// conditions, an attribute the person lacks is an error, never a silent null.
    pub fn value_for(&self, person: &Person) -> Result<Json, String> {
        let context = context_for(person).map_err(|e| e.to_string())?;
        match self.execute_in(&context) {
            Ok(value) => value.json().map_err(|e| e.to_string()),
            Err(ExecutionError::NoSuchKey(key)) => Err(format!(
                "the person has no attribute `{key}` (test optional attributes with has(person.{key}))"
            )),
            Err(error) => Err(error.to_string()),
        }
    }

    /// The expression's value with `variables` (each top-level key a CEL variable), as JSON: what a
    /// workflow's templates compute from the event, the inputs and earlier steps. A missing field is an
    /// error naming it, never a silent null.
    pub fn value_with(&self, variables: &Map<String, Json>) -> Result<Json, String> {
        let mut context = Context::default();
        for (name, value) in variables {
            let value = cel::to_value(value.clone()).map_err(|e| e.to_string())?;
            context.add_variable_from_value(name.as_str(), value);
        }
        match self.execute_in(&context) {
            Ok(value) => value.json().map_err(|e| e.to_string()),
            Err(ExecutionError::NoSuchKey(key)) => Err(format!(
                "no field `{key}` here (test optional fields with has(...))"
            )),
            Err(error) => Err(error.to_string()),
        }
    }

    fn execute_in(&self, context: &Context) -> Result<Value, ExecutionError> {
        let Some(program) = &self.program else {
            return Ok(Value::Bool(true));
        };
        program.execute(context)
    }
}

fn context_for(person: &Person) -> Result<Context<'static, 'static>, ExecutionError> {
    let mut context = Context::default();
    let value = cel::to_value(person_value(person))
        .map_err(|e| ExecutionError::function_error("person", e.to_string()))?;
    context.add_variable_from_value("person", value);
    Ok(context)
}

/// Evaluates several conditions for one person, building the person's CEL
/// value once (planning evaluates every policy for every person).
pub fn evaluate_all(conditions: &[&Condition], person: &Person) -> Vec<Result<bool, String>> {
    // Built only when some condition needs the interpreter.
    let mut context: Option<Result<Context<'static, 'static>, String>> = None;
    let mut outcomes = Vec::with_capacity(conditions.len());
    for condition in conditions {
        if let Some(terms) = &condition.fast {
            let answers: Option<Vec<bool>> = terms.iter().map(|t| t.answer(person)).collect();
            if let Some(answers) = answers {
                outcomes.push(Ok(answers.into_iter().all(|a| a)));
                continue;
            }
        }
        let built = context.get_or_insert_with(|| context_for(person).map_err(|e| e.to_string()));
        let outcome = match built {
            Err(error) => Err(error.clone()),
            Ok(context) => match condition.execute_in(context) {
                Ok(Value::Bool(matched)) => Ok(matched),
                Ok(other) => Err(format!(
                    "condition must be a boolean, but it is {}",
                    type_name(&other)
                )),
                Err(ExecutionError::NoSuchKey(key)) => Err(format!(
                    "the person has no attribute `{key}` (test optional attributes with has(person.{key}))"
                )),
                Err(error) => Err(error.to_string()),
            },
        };
        outcomes.push(outcome);
    }
    outcomes
}

/// The `person` a condition sees: the directory's attributes, the canonical
/// ones always present, and identity and lifecycle fields that attributes
/// cannot override.
pub fn person_value(person: &Person) -> Json {
    let mut map = Map::new();
    for name in CANONICAL_ATTRIBUTES {
        map.insert(name.to_string(), Json::String(String::new()));
    }
    for (key, value) in &person.attributes {
        if !value.is_null() {
            map.insert(key.clone(), value.clone());
        }
    }
    map.insert("email".into(), Json::String(person.email.clone()));
    map.insert("login".into(), Json::String(person.login.clone()));
    map.insert("name".into(), Json::String(person.display_name.clone()));
    map.insert("status".into(), Json::String(person.status.clone()));
    map.insert("state".into(), Json::String(person.state.as_str().into()));
    map.insert("active".into(), Json::Bool(person.state.is_active()));
    Json::Object(map)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Int(_) | Value::UInt(_) => "a number",
        Value::Float(_) => "a number",
        Value::String(_) => "a string",
        Value::List(_) => "a list",
        Value::Map(_) => "a map",
        Value::Null => "null",
        _ => "not a boolean",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantflow_model::LifecycleState;

    fn person(state: LifecycleState, department: &str) -> Person {
        let mut attributes = Map::new();
        attributes.insert("department".into(), Json::String(department.into()));
        Person {
            email: "a@x".into(),
            login: "a@x".into(),
            display_name: "A".into(),
            status: "PASSWORD_EXPIRED".into(),
            state,
            attributes,
        }
    }

    #[test]
    fn the_fast_path_and_the_interpreter_agree() {
        let sources = [
            "person.active && person.department == \"Eng\"",
            "!person.active",
            "person.department != \"Eng\" && person.state == \"password_expired\"",
            "\"Eng\" == person.department",
        ];
        for source in sources {
            let fast = Condition::compile(source).expect("compiles");
            assert!(fast.fast.is_some(), "{source} takes the fast path");
            let mut slow = Condition::compile(source).expect("compiles");
            slow.fast = None;
            for state in LifecycleState::ALL {
                for department in ["Eng", "Ops"] {
                    let p = person(state, department);
                    assert_eq!(
                        fast.evaluate(&p),
                        slow.evaluate(&p),
                        "{source} for {state}/{department}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_expired_password_keeps_a_person_active() {
        let condition = Condition::compile("person.active").expect("compiles");
        assert_eq!(
            condition.evaluate(&person(LifecycleState::PasswordExpired, "Eng")),
            Ok(true)
        );
        assert_eq!(
            condition.evaluate(&person(LifecycleState::Suspended, "Eng")),
            Ok(false)
        );
    }

    #[test]
    fn a_missing_attribute_is_an_error_not_a_silent_false() {
        let condition = Condition::compile("person.costCenter == \"CC-1\"").expect("compiles");
        let error = condition
            .evaluate(&person(LifecycleState::Active, "Eng"))
            .expect_err("no such attribute");
        assert!(error.contains("costCenter"), "{error}");
        let guarded = Condition::compile("has(person.costCenter) && person.costCenter == \"CC-1\"")
            .expect("compiles");
        assert_eq!(
            guarded.evaluate(&person(LifecycleState::Active, "Eng")),
            Ok(false)
        );
    }

    #[test]
    fn oversized_or_overly_nested_conditions_are_refused_quickly() {
        let long = format!(
            "person.department == \"{}\"",
            "x".repeat(MAX_CONDITION_BYTES)
        );
        let started = std::time::Instant::now();
        assert!(
            Condition::compile(&long)
                .expect_err("too long")
                .contains("limit")
        );
        let deep = format!("{}true{}", "(".repeat(5_000), ")".repeat(5_000));
        assert!(
            Condition::compile(&deep)
                .expect_err("too deep")
                .contains("nests")
        );
        let loops = "[1].all(a, [1].all(b, [1].all(c, c == 1)))";
        assert!(
            Condition::compile(loops)
                .expect_err("loops")
                .contains("list macros")
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
