//! Values in a flow file: plain JSON, or text with `${ CEL }` parts. A text that is one `${…}` and nothing
//! else takes the expression's value whatever its type (a list stays a list); otherwise each part is
//! written into the text. Expressions see `event`, `inputs`, `steps`, `flow`, `now`, a loop's item and a
//! catch's `error`.

use std::collections::BTreeMap;

use grantflow_policy::Condition;
use serde_json::{Map, Value as Json};

/// A compiled value.
#[derive(Debug)]
pub enum Template {
    Literal(Json),
    /// The whole value is one expression.
    Expr(Expression),
    /// Text with expressions written into it.
    Text(Vec<Part>),
    List(Vec<Template>),
    Object(BTreeMap<String, Template>),
}

#[derive(Debug)]
pub enum Part {
    Literal(String),
    Expr(Expression),
}

/// One CEL expression and the names it reads.
#[derive(Debug)]
pub struct Expression {
    pub condition: Condition,
    pub references: Vec<Reference>,
}

/// A `steps.<id>.<field>`, `inputs.<name>` or other top-level name an expression reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The top-level variable: `steps`, `inputs`, `event`, or a loop's item.
    pub root: String,
    /// The names after it (`["user", "profile"]` for `steps.user.profile`), as far as they are plain.
    pub path: Vec<String>,
}

/// A marker that stands in a replayed output for a secret the run kept only in memory and lost when it
/// was interrupted: a template whose value holds it is an error, never the marker sent somewhere.
pub const LOST_SECRET: &str = "\u{0}grantflow:secret-not-kept\u{0}";

impl Expression {
    pub fn compile(source: &str) -> Result<Self, String> {
        let condition = Condition::compile(source)?;
        Ok(Self {
            references: references(source),
            condition,
        })
    }

    pub fn value(&self, scope: &Map<String, Json>) -> Result<Json, String> {
        self.condition
            .value_with(scope)
            .map_err(|message| format!("`{}`: {message}", self.condition.source()))
    }

    /// The expression as a condition: a boolean, or an error.
    pub fn holds(&self, scope: &Map<String, Json>) -> Result<bool, String> {
        match self.value(scope)? {
            Json::Bool(holds) => Ok(holds),
            other => Err(format!(
                "`{}` must be true or false, but it is {other}",
                self.condition.source()
            )),
        }
    }
}

impl Template {
    /// Compiles a value from the file; errors are messages for the value's place.
    pub fn compile(value: &Json) -> Result<Template, String> {
        Ok(match value {
            Json::String(text) => compile_text(text)?,
            Json::Array(items) => Template::List(
                items
                    .iter()
                    .map(Template::compile)
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(map) => Template::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Template::compile(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => Template::Literal(other.clone()),
        })
    }

    pub fn evaluate(&self, scope: &Map<String, Json>) -> Result<Json, String> {
        let value = self.evaluate_inner(scope)?;
        if holds_lost_secret(&value) {
            return Err("it uses a secret from a step that ran before this run was interrupted: secrets are kept only in memory, never stored, so it is gone; run the flow again".into());
        }
        Ok(value)
    }

    fn evaluate_inner(&self, scope: &Map<String, Json>) -> Result<Json, String> {
        Ok(match self {
            Template::Literal(value) => value.clone(),
            Template::Expr(expression) => expression.value(scope)?,
            Template::Text(parts) => {
                let mut text = String::new();
                for part in parts {
                    match part {
                        Part::Literal(literal) => text.push_str(literal),
                        Part::Expr(expression) => match expression.value(scope)? {
                            Json::String(s) => text.push_str(&s),
                            Json::Null => {}
                            other => text.push_str(&other.to_string()),
                        },
                    }
                }
                Json::String(text)
            }
            Template::List(items) => Json::Array(
                items
                    .iter()
                    .map(|t| t.evaluate_inner(scope))
                    .collect::<Result<_, _>>()?,
            ),
            Template::Object(map) => Json::Object(
                map.iter()
                    .map(|(k, t)| Ok((k.clone(), t.evaluate_inner(scope)?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }

    /// Every expression in the value, for the checker.
    pub fn expressions(&self) -> Vec<&Expression> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Expression>) {
        match self {
            Template::Literal(_) => {}
            Template::Expr(e) => out.push(e),
            Template::Text(parts) => out.extend(parts.iter().filter_map(|p| match p {
                Part::Expr(e) => Some(e),
                Part::Literal(_) => None,
            })),
            Template::List(items) => items.iter().for_each(|t| t.collect(out)),
            Template::Object(map) => map.values().for_each(|t| t.collect(out)),
        }
    }
}

fn holds_lost_secret(value: &Json) -> bool {
    match value {
        Json::String(s) => s.contains(LOST_SECRET),
        Json::Array(items) => items.iter().any(holds_lost_secret),
        Json::Object(map) => map.values().any(holds_lost_secret),
        _ => false,
    }
}

fn compile_text(text: &str) -> Result<Template, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            parts.push(Part::Literal(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = closing_brace(after)
            .ok_or_else(|| format!("`${{` at byte {start} is never closed with `}}`"))?;
        let source = after[..end].trim();
        if source.is_empty() {
            return Err("an empty `${}`".into());
        }
        parts.push(Part::Expr(Expression::compile(source)?));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest.to_string()));
    }
    Ok(match parts.len() {
        0 => Template::Literal(Json::String(String::new())),
        1 => match parts.pop() {
            Some(Part::Expr(expression)) => Template::Expr(expression),
            Some(Part::Literal(literal)) => Template::Literal(Json::String(literal)),
            None => Template::Literal(Json::String(String::new())),
        },
        _ => Template::Text(parts),
    })
}

/// The `}` that closes a `${`, skipping braces inside CEL strings and map literals.
fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '{' => depth += 1,
            '}' if depth == 0 => return Some(index),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The dotted names an expression reads, outside string literals: `steps.user.profile` gives root
/// `steps` and path `[user, profile]`. Names after a call or an index are not followed.
pub fn references(source: &str) -> Vec<Reference> {
    let binders = binders(source);
    let mut out = references_all(source);
    out.retain(|r| !binders.contains(&r.root));
    out
}

/// The variables CEL's macros bind (`x` in `items.exists(x, x.ok)`), which are not names from outside.
fn binders(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in [".exists(", ".all(", ".map(", ".filter(", ".exists_one("] {
        let mut rest = source;
        while let Some(at) = rest.find(marker) {
            let after = &rest[at + marker.len()..];
            let name: String = after
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
            rest = after;
        }
    }
    out
}

fn references_all(source: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    let chars: Vec<char> = source.chars().collect();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            if c == '\\' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            i += 1;
            continue;
        }
        let starts_name = (c.is_ascii_alphabetic() || c == '_')
            && (i == 0
                || !(chars[i - 1].is_ascii_alphanumeric()
                    || chars[i - 1] == '_'
                    || chars[i - 1] == '.'));
        if !starts_name {
            i += 1;
            continue;
        }
        let mut names = Vec::new();
        loop {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            names.push(chars[start..i].iter().collect::<String>());
            if i + 1 < chars.len()
                && chars[i] == '.'
                && (chars[i + 1].is_ascii_alphabetic() || chars[i + 1] == '_')
            {
                i += 1;
                continue;
            }
            break;
        }
        // A name followed by `(` is a function or method, not a variable.
        let called = chars[i..].iter().find(|c| !c.is_whitespace()) == Some(&'(');
        if called {
            names.pop();
        }
        if let Some((root, path)) = names.split_first() {
            out.push(Reference {
                root: root.clone(),
                path: path.to_vec(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Map<String, Json> {
        let Json::Object(map) = json!({
            "steps": {"user": {"login": "kim", "groups": ["a", "b"]}},
            "inputs": {"team": "sales"},
        }) else {
            unreachable!()
        };
        map
    }

    #[test]
    fn a_whole_expression_keeps_its_type_and_text_interpolates() {
        let list = Template::compile(&json!("${steps.user.groups}")).unwrap();
        assert_eq!(list.evaluate(&scope()).unwrap(), json!(["a", "b"]));
        let text = Template::compile(&json!("team-${inputs.team}/${steps.user.login}")).unwrap();
        assert_eq!(text.evaluate(&scope()).unwrap(), json!("team-sales/kim"));
        let nested = Template::compile(&json!({"to": ["${inputs.team}"], "n": 3})).unwrap();
        assert_eq!(
            nested.evaluate(&scope()).unwrap(),
            json!({"to": ["sales"], "n": 3})
        );
    }

    #[test]
    fn a_missing_field_is_an_error_naming_it() {
        let t = Template::compile(&json!("${steps.user.manager}")).unwrap();
        let error = t.evaluate(&scope()).unwrap_err();
        assert!(error.contains("manager"), "{error}");
    }

    #[test]
    fn braces_inside_strings_and_maps_do_not_close_the_expression() {
        let t = Template::compile(&json!("${ {'a': '}'}.a }!")).unwrap();
        assert_eq!(t.evaluate(&scope()).unwrap(), json!("}!"));
        assert!(Template::compile(&json!("${inputs.team")).is_err());
    }

    #[test]
    fn references_skip_strings_and_calls() {
        let refs = references(
            "steps.user.login == 'steps.nope' && size(inputs.team) > 0 && x.startsWith('a')",
        );
        let names: Vec<String> = refs
            .iter()
            .map(|r| format!("{}.{}", r.root, r.path.join(".")))
            .collect();
        assert_eq!(names, ["steps.user.login", "inputs.team", "x."]);
        let refs = references("steps.g.groups.exists(g, g.name == 'x')");
        assert_eq!(refs.len(), 1, "{refs:?}");
    }

    #[test]
    fn a_lost_secret_is_never_sent() {
        let mut scope = scope();
        scope.insert("secret".into(), json!(LOST_SECRET));
        let t = Template::compile(&json!({"body": "password: ${secret}"})).unwrap();
        assert!(t.evaluate(&scope).unwrap_err().contains("never stored"));
    }
}
