//! A static check of a condition's `person` attributes and types, before any
//! person is evaluated: a misspelt attribute would otherwise match nobody and
//! plan the removal of everyone a policy manages.
//!
//! cel-rust has no type checker, so this walks its parsed expression: every
//! `person.<name>` must be a known attribute, an attribute not every person
//! has must be guarded by `has(person.<name>)`, comparisons and logical
//! operators must get operands of compatible types, and the whole condition
//! must be a boolean. Where types cannot be known (functions, mixed data)
//! the check stays silent and evaluation decides.

use cel::common::ast::{CallExpr, Expr, LiteralValue, operators};
use cel::{IdedExpr, Program};
use grantflow_model::AttributeType;
use std::collections::{BTreeMap, BTreeSet};

use crate::attributes::AttributeCatalog;

/// One problem, at a byte offset into the condition's text.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub offset: Option<usize>,
    pub message: String,
}

/// What the checker knows of a value's type.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Bool,
    Number,
    String,
    List(Box<Ty>),
    Map,
    Null,
    Dyn,
}

impl Ty {
    fn of_attribute(ty: AttributeType) -> Ty {
        match ty {
            AttributeType::String => Ty::String,
            AttributeType::Integer | AttributeType::Number => Ty::Number,
            AttributeType::Boolean => Ty::Bool,
            AttributeType::StringArray => Ty::List(Box::new(Ty::String)),
            AttributeType::IntegerArray | AttributeType::NumberArray => {
                Ty::List(Box::new(Ty::Number))
            }
            AttributeType::Any => Ty::Dyn,
        }
    }

    fn name(&self) -> String {
        match self {
            Ty::Bool => "a boolean".into(),
            Ty::Number => "a number".into(),
            Ty::String => "a string".into(),
            Ty::List(item) if **item == Ty::Dyn => "a list".into(),
            Ty::List(item) => format!("a list of {}", item.plural()),
            Ty::Map => "a map".into(),
            Ty::Null => "null".into(),
            Ty::Dyn => "a value".into(),
        }
    }

    fn plural(&self) -> &'static str {
        match self {
            Ty::Bool => "booleans",
            Ty::Number => "numbers",
            Ty::String => "strings",
            Ty::List(_) => "lists",
            Ty::Map => "maps",
            Ty::Null | Ty::Dyn => "values",
        }
    }

    /// Whether values of these types can be compared at all (equal or not).
    fn comparable(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Dyn, _) | (_, Ty::Dyn) | (Ty::Null, _) | (_, Ty::Null) => true,
            (Ty::List(a), Ty::List(b)) => a.comparable(b),
            (a, b) => a == b,
        }
    }

    fn orderable(&self) -> bool {
        matches!(self, Ty::Number | Ty::String | Ty::Dyn)
    }
}

/// Checks `program` (the condition `source`) against the attributes in `catalog`.
pub fn check(program: &Program, catalog: &AttributeCatalog) -> Vec<Problem> {
    check_given(program, catalog, BTreeSet::new())
}

/// The attributes `program` (a policy's condition) tests with `has()` on every path where it
/// holds: a value computed only for the people it matches may read them unguarded.
pub fn guaranteed_by(program: &Program) -> BTreeSet<String> {
    present_when(program.expression(), true)
}

/// [`check`], with `guards` known to be present (tested by the policy's condition).
pub fn check_given(
    program: &Program,
    catalog: &AttributeCatalog,
    guards: BTreeSet<String>,
) -> Vec<Problem> {
    let mut checker = Checker {
        catalog,
        program,
        problems: Vec::new(),
        bound: BTreeMap::new(),
    };
    let ty = checker.walk(program.expression(), &guards);
    if !matches!(ty, Ty::Bool | Ty::Dyn) {
        checker.problem(
            program.expression(),
            format!("a condition must be a boolean, but this is {}", ty.name()),
        );
    }
    checker.problems.sort_by_key(|p| p.offset);
    checker.problems.dedup();
    checker.problems
}

struct Checker<'a> {
    catalog: &'a AttributeCatalog,
    program: &'a Program,
    problems: Vec<Problem>,
    /// Variables a comprehension binds (`g` in `person.groups.exists(g, …)`).
    bound: BTreeMap<String, Ty>,
}

/// The attribute a `person.<name>` expression names, if it is one.
fn person_attribute(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Select(select) if matches!(&select.operand.expr, Expr::Ident(name) if name == "person") => {
            Some(select.field.as_str())
        }
        _ => None,
    }
}

impl Checker<'_> {
    /// Records a problem at the start of `at` (its leftmost part: the
    /// left operand of a comparison, the `person` of `person.x`).
    fn problem(&mut self, at: &IdedExpr, message: String) {
        let offset = self.start_of(at);
        self.problems.push(Problem { offset, message });
    }

    fn start_of(&self, expr: &IdedExpr) -> Option<usize> {
        let own = self
            .program
            .source_info()
            .offset_for(expr.id)
            .map(|(start, _)| start as usize);
        let children: Vec<&IdedExpr> = match &expr.expr {
            Expr::Call(call) => call
                .target
                .as_deref()
                .into_iter()
                .chain(&call.args)
                .collect(),
            Expr::Select(select) => vec![&select.operand],
            _ => vec![],
        };
        children
            .into_iter()
            .filter_map(|c| self.start_of(c))
            .chain(own)
            .min()
    }

    /// The type of `expr`, recording problems; `guards` are the attributes
    /// known to be present where `expr` is evaluated.
    fn walk(&mut self, expr: &IdedExpr, guards: &BTreeSet<String>) -> Ty {
        match &expr.expr {
            Expr::Literal(literal) => match literal {
                LiteralValue::Boolean(_) => Ty::Bool,
                LiteralValue::Int(_) | LiteralValue::UInt(_) | LiteralValue::Double(_) => {
                    Ty::Number
                }
                LiteralValue::String(_) => Ty::String,
                LiteralValue::Null => Ty::Null,
                _ => Ty::Dyn,
            },
            Expr::Ident(name) => {
                if let Some(ty) = self.bound.get(name) {
                    return ty.clone();
                }
                if name == "person" {
                    return Ty::Map;
                }
                self.problem(
                    expr,
                    format!("unknown name `{name}`: conditions are about `person` (e.g. `person.department`)"),
                );
                Ty::Dyn
            }
            Expr::Select(select) => {
                if let Some(field) = person_attribute(&expr.expr) {
                    return self.attribute(expr, field, select.test, guards);
                }
                self.walk(&select.operand, guards);
                if select.test { Ty::Bool } else { Ty::Dyn }
            }
            Expr::List(list) => {
                let mut item: Option<Ty> = None;
                for element in &list.elements {
                    let ty = self.walk(element, guards);
                    item = Some(match item {
                        None => ty,
                        Some(known) if known == ty => known,
                        Some(_) => Ty::Dyn,
                    });
                }
                Ty::List(Box::new(item.unwrap_or(Ty::Dyn)))
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(entry) = &entry.expr {
                        self.walk(&entry.key, guards);
                        self.walk(&entry.value, guards);
                    }
                }
                Ty::Map
            }
            Expr::Struct(_) | Expr::Unspecified => Ty::Dyn,
            Expr::Comprehension(comprehension) => {
                let range = self.walk(&comprehension.iter_range, guards);
                let item = match range {
                    Ty::List(item) => *item,
                    _ => Ty::Dyn,
                };
                let previous: Vec<(String, Option<Ty>)> = [
                    (comprehension.iter_var.clone(), item),
                    (comprehension.accu_var.clone(), Ty::Dyn),
                ]
                .into_iter()
                .chain(comprehension.iter_var2.clone().map(|v| (v, Ty::Dyn)))
                .map(|(name, ty)| {
                    let before = self.bound.insert(name.clone(), ty);
                    (name, before)
                })
                .collect();
                self.walk(&comprehension.accu_init, guards);
                self.walk(&comprehension.loop_cond, guards);
                self.walk(&comprehension.loop_step, guards);
                let result = self.walk(&comprehension.result, guards);
                for (name, before) in previous {
                    match before {
                        Some(ty) => self.bound.insert(name, ty),
                        None => self.bound.remove(&name),
                    };
                }
                result
            }
            Expr::Call(call) => self.call(expr, call, guards),
        }
    }

    fn attribute(
        &mut self,
        at: &IdedExpr,
        field: &str,
        presence_test: bool,
        guards: &BTreeSet<String>,
    ) -> Ty {
        let Some(known) = self.catalog.get(field) else {
            let hint = match self.catalog.suggestion(field) {
                Some(near) => format!(": did you mean `person.{near}`?"),
                None => ": it is neither a built-in attribute nor in the directory's profile schema, and the last sync saw no person with it".to_string(),
            };
            self.problem(at, format!("unknown attribute `person.{field}`{hint}"));
            return if presence_test { Ty::Bool } else { Ty::Dyn };
        };
        if presence_test {
            return Ty::Bool;
        }
        if !known.always_present && !guards.contains(field) {
            self.problem(
                at,
                format!(
                    "`person.{field}` is not set for every person: test it first, e.g. `has(person.{field}) && …`"
                ),
            );
        }
        Ty::of_attribute(known.ty)
    }

    fn call(&mut self, at: &IdedExpr, call: &CallExpr, guards: &BTreeSet<String>) -> Ty {
        let args = &call.args;
        match (
            call.func_name.as_str(),
            call.target.as_deref(),
            args.as_slice(),
        ) {
            (operators::LOGICAL_AND, None, [left, right]) => {
                self.expect_bool(left, guards);
                let mut inner = guards.clone();
                inner.extend(present_when(left, true));
                self.expect_bool(right, &inner);
                Ty::Bool
            }
            (operators::LOGICAL_OR, None, [left, right]) => {
                self.expect_bool(left, guards);
                let mut inner = guards.clone();
                inner.extend(present_when(left, false));
                self.expect_bool(right, &inner);
                Ty::Bool
            }
            (operators::LOGICAL_NOT, None, [operand]) => {
                self.expect_bool(operand, guards);
                Ty::Bool
            }
            (operators::CONDITIONAL, None, [condition, then, otherwise]) => {
                self.expect_bool(condition, guards);
                let mut when_true = guards.clone();
                when_true.extend(present_when(condition, true));
                let mut when_false = guards.clone();
                when_false.extend(present_when(condition, false));
                let a = self.walk(then, &when_true);
                let b = self.walk(otherwise, &when_false);
                if a == b { a } else { Ty::Dyn }
            }
            (operators::EQUALS | operators::NOT_EQUALS, None, [left, right]) => {
                let (a, b) = (self.walk(left, guards), self.walk(right, guards));
                if !a.comparable(&b) {
                    self.problem(
                        at,
                        format!(
                            "compares {} with {}: {} can never equal {}",
                            describe(left, &a),
                            describe(right, &b),
                            a.name(),
                            b.name()
                        ),
                    );
                }
                Ty::Bool
            }
            (
                operators::LESS
                | operators::LESS_EQUALS
                | operators::GREATER
                | operators::GREATER_EQUALS,
                None,
                [left, right],
            ) => {
                let (a, b) = (self.walk(left, guards), self.walk(right, guards));
                if !a.comparable(&b) || !a.orderable() || !b.orderable() {
                    self.problem(
                        at,
                        format!(
                            "orders {} against {}: only numbers with numbers and strings with strings can be ordered",
                            describe(left, &a),
                            describe(right, &b)
                        ),
                    );
                }
                Ty::Bool
            }
            (operators::IN, None, [item, collection]) => {
                let (a, b) = (self.walk(item, guards), self.walk(collection, guards));
                match &b {
                    Ty::List(inner) if !a.comparable(inner) => self.problem(
                        at,
                        format!(
                            "looks for {} in {}: it can never be there",
                            describe(item, &a),
                            describe(collection, &b)
                        ),
                    ),
                    Ty::List(_) | Ty::Map | Ty::Dyn => {}
                    other => self.problem(
                        at,
                        format!("`in` needs a list or a map, but this is {}", other.name()),
                    ),
                }
                Ty::Bool
            }
            (operators::ADD, None, [left, right]) => {
                let (a, b) = (self.walk(left, guards), self.walk(right, guards));
                match (a, b) {
                    (Ty::Dyn, _) | (_, Ty::Dyn) => Ty::Dyn,
                    (a, b) if a == b && matches!(a, Ty::Number | Ty::String | Ty::List(_)) => a,
                    (a, b) => {
                        self.problem(at, format!("adds {} to {}", a.name(), b.name()));
                        Ty::Dyn
                    }
                }
            }
            (
                operators::SUBSTRACT | operators::MULTIPLY | operators::DIVIDE | operators::MODULO,
                None,
                [left, right],
            ) => {
                for side in [left, right] {
                    let ty = self.walk(side, guards);
                    if !matches!(ty, Ty::Number | Ty::Dyn) {
                        self.problem(
                            side,
                            format!(
                                "arithmetic needs numbers, but {} is {}",
                                describe(side, &ty),
                                ty.name()
                            ),
                        );
                    }
                }
                Ty::Number
            }
            ("size", target, rest) => {
                for e in target.into_iter().chain(rest) {
                    self.walk(e, guards);
                }
                Ty::Number
            }
            ("startsWith" | "endsWith" | "contains" | "matches", Some(target), rest) => {
                let ty = self.walk(target, guards);
                if !matches!(ty, Ty::String | Ty::Dyn) {
                    self.problem(
                        at,
                        format!(
                            "`{}` works on strings, but {} is {}",
                            call.func_name,
                            describe(target, &ty),
                            ty.name()
                        ),
                    );
                }
                for e in rest {
                    self.walk(e, guards);
                }
                Ty::Bool
            }
            (_, target, rest) => {
                for e in target.into_iter().chain(rest) {
                    self.walk(e, guards);
                }
                Ty::Dyn
            }
        }
    }

    fn expect_bool(&mut self, expr: &IdedExpr, guards: &BTreeSet<String>) {
        let ty = self.walk(expr, guards);
        if !matches!(ty, Ty::Bool | Ty::Dyn) {
            self.problem(
                expr,
                format!(
                    "{} is {}, not a boolean: compare it with something (e.g. `== \"…\"`)",
                    describe(expr, &ty),
                    ty.name()
                ),
            );
        }
    }
}

/// How a reviewer reads an operand in a message.
fn describe(expr: &IdedExpr, ty: &Ty) -> String {
    match (&expr.expr, person_attribute(&expr.expr)) {
        (_, Some(field)) => format!("`person.{field}` ({})", ty.name()),
        (Expr::Literal(LiteralValue::String(text)), _) => format!("\"{}\"", &**text),
        (Expr::Literal(LiteralValue::Int(n)), _) => n.to_string(),
        (Expr::Literal(LiteralValue::Double(n)), _) => n.to_string(),
        _ => ty.name(),
    }
}

/// The attributes proven present when `expr` evaluates to `outcome`:
/// `has(person.x)` being true, `!has(person.x)` being false, and the
/// conjunctions (or disjunctions) of those.
fn present_when(expr: &IdedExpr, outcome: bool) -> BTreeSet<String> {
    match &expr.expr {
        Expr::Select(select) if select.test && outcome => {
            person_attribute(&Expr::Select(cel::common::ast::SelectExpr {
                operand: select.operand.clone(),
                field: select.field.clone(),
                test: false,
            }))
            .map(|f| BTreeSet::from([f.to_string()]))
            .unwrap_or_default()
        }
        Expr::Call(call) if call.target.is_none() => {
            match (call.func_name.as_str(), call.args.as_slice()) {
                (operators::LOGICAL_NOT, [operand]) => present_when(operand, !outcome),
                (operators::LOGICAL_AND, [a, b]) if outcome => {
                    let mut facts = present_when(a, true);
                    facts.extend(present_when(b, true));
                    facts
                }
                (operators::LOGICAL_OR, [a, b]) if !outcome => {
                    let mut facts = present_when(a, false);
                    facts.extend(present_when(b, false));
                    facts
                }
                _ => BTreeSet::new(),
            }
        }
        _ => BTreeSet::new(),
    }
}
