//! The one module that talks to the CEL interpreter. cel-rust still makes
//! breaking changes in minor releases, so nothing else depends on its API.

use cel::{Context, ExecutionError, Program, Value};
use grantflow_model::Person;
use serde_json::{Map, Value as Json};

/// Attributes every person has in a condition, empty when the directory has
/// no value, so `person.department == "X"` is false rather than an error.
const CANONICAL_ATTRIBUTES: [&str; 6] = [
    "department",
    "title",
    "manager",
    "location",
    "employment_status",
    "employee_number",
];

/// A compiled policy condition.
pub struct Condition {
    source: String,
    program: Option<Program>,
    /// `person.<field> == "<text>"`, the commonest condition, answered
    /// without the interpreter: planning evaluates every condition for every
    /// person, and a map lookup is a thousand times cheaper.
    equality: Option<(String, String)>,
}

/// Recognises `person.<field> == "<text>"` (nothing else) in `source`.
fn simple_equality(source: &str) -> Option<(String, String)> {
    let (left, right) = source.split_once("==")?;
    let field = left.trim().strip_prefix("person.")?;
    if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let right = right.trim();
    let text = right.strip_prefix('"')?.strip_suffix('"')?;
    if text.contains(['"', '\\']) {
        return None;
    }
    Some((field.to_string(), text.to_string()))
}

/// The value of `person.<field>` when it is text; `None` when the field is
/// missing or not text (the interpreter then decides).
fn text_field<'p>(person: &'p Person, field: &str) -> Option<&'p str> {
    match field {
        "email" => Some(&person.email),
        "login" => Some(&person.login),
        "name" => Some(&person.display_name),
        "status" => Some(&person.status),
        _ => match person.attributes.get(field) {
            Some(serde_json::Value::String(text)) => Some(text),
            Some(serde_json::Value::Null) | None if CANONICAL_ATTRIBUTES.contains(&field) => {
                Some("")
            }
            _ => None,
        },
    }
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("source", &self.source)
            .finish()
    }
}

impl Condition {
    /// The condition of a policy without `when`: every person matches.
    pub fn always() -> Self {
        Self {
            source: "true".to_string(),
            program: None,
            equality: None,
        }
    }

    /// Compiles `source` and checks its types against a person who has every
    /// canonical attribute, so `person.department + 1` or a condition that is
    /// not a boolean fails at load time, not in the middle of planning.
    pub fn compile(source: &str) -> Result<Self, String> {
        let program = Program::compile(source).map_err(|errors| {
            let details: Vec<String> = errors
                .errors
                .iter()
                .map(|e| format!("{} (at expression column {})", e.msg, e.pos.1 + 1))
                .collect();
            format!("invalid CEL condition: {}", details.join("; "))
        })?;
        let condition = Self {
            source: source.to_string(),
            program: Some(program),
            equality: simple_equality(source),
        };
        let probe = Person {
            email: "probe@example.com".into(),
            login: "probe@example.com".into(),
            display_name: "Probe".into(),
            status: "ACTIVE".into(),
            state: Default::default(),
            attributes: Map::new(),
        };
        match condition.execute(&probe) {
            Ok(Value::Bool(_)) => Ok(condition),
            Ok(other) => Err(format!(
                "condition must be a boolean, but it is {}",
                type_name(&other)
            )),
            // A custom attribute the probe lacks is not a type error.
            Err(ExecutionError::NoSuchKey(_)) => Ok(condition),
            Err(error) => Err(format!("type error in condition: {error}")),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn evaluate(&self, person: &Person) -> Result<bool, String> {
        if self.program.is_none() {
            return Ok(true);
        }
        match self.execute(person) {
            Ok(Value::Bool(matched)) => Ok(matched),
            Ok(other) => Err(format!(
                "condition must be a boolean, but it is {}",
                type_name(&other)
            )),
            // A person without a custom attribute simply does not match.
            Err(ExecutionError::NoSuchKey(_)) => Ok(false),
            Err(error) => Err(error.to_string()),
        }
    }

    fn execute(&self, person: &Person) -> Result<Value, ExecutionError> {
        let context = context_for(person)?;
        self.execute_in(&context)
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
        if condition.program.is_none() {
            outcomes.push(Ok(true));
            continue;
        }
        if let Some((field, text)) = &condition.equality
            && let Some(value) = text_field(person, field)
        {
            outcomes.push(Ok(value == text));
            continue;
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
                Err(ExecutionError::NoSuchKey(_)) => Ok(false),
                Err(error) => Err(error.to_string()),
            },
        };
        outcomes.push(outcome);
    }
    outcomes
}

impl Condition {}

/// The `person` a condition sees: the directory's attributes, the canonical
/// ones always present, and identity fields that attributes cannot override.
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
