//! Okta's `search`/`filter` expression language (SCIM-style `attr op "value"` joined by and/or) and its evaluation on JSON.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Sw,
    Ew,
    Co,
    Pr,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Bool(bool),
    Num(f64),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp { attr: String, op: Op, value: Lit },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Word(String),
    Str(String),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '"' => {
                chars.next();
                let mut v = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some(e) => v.push(e),
                            None => return Err("dangling escape".into()),
                        },
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => v.push(c),
                    }
                }
                if !closed {
                    return Err("unterminated string".into());
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<String> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w)) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word().as_deref() == Some("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek_word().as_deref() == Some("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_word().as_deref() == Some("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Open) => {
                self.pos += 1;
                let e = self.or()?;
                if self.toks.get(self.pos) != Some(&Tok::Close) {
                    return Err("missing )".into());
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::Word(attr)) => {
                self.pos += 1;
                let op = match self.peek_word().as_deref() {
                    Some("eq") => Op::Eq,
                    Some("ne") => Op::Ne,
                    Some("sw") => Op::Sw,
                    Some("ew") => Op::Ew,
                    Some("co") => Op::Co,
                    Some("pr") => Op::Pr,
                    Some("gt") => Op::Gt,
                    Some("ge") => Op::Ge,
                    Some("lt") => Op::Lt,
                    Some("le") => Op::Le,
                    other => return Err(format!("unknown operator {other:?}")),
                };
                self.pos += 1;
                if op == Op::Pr {
                    return Ok(Expr::Cmp {
                        attr,
                        op,
                        value: Lit::Null,
                    });
                }
                let value = match self.toks.get(self.pos).cloned() {
                    Some(Tok::Str(s)) => Lit::Str(s),
                    Some(Tok::Word(w)) => match w.to_ascii_lowercase().as_str() {
                        "true" => Lit::Bool(true),
                        "false" => Lit::Bool(false),
                        "null" => Lit::Null,
                        _ => Lit::Num(w.parse().map_err(|_| format!("bad value {w}"))?),
                    },
                    _ => return Err("missing value".into()),
                };
                self.pos += 1;
                Ok(Expr::Cmp { attr, op, value })
            }
            other => Err(format!("unexpected token {other:?}")),
        }
    }
}

pub fn parse(s: &str) -> Result<Expr, String> {
    let toks = tokenize(s)?;
    if toks.is_empty() {
        return Err("empty expression".into());
    }
    let mut p = Parser { toks, pos: 0 };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err("trailing input".into());
    }
    Ok(e)
}

impl Expr {
    /// Calls `check` on each comparison so callers can restrict attributes and operators per endpoint.
    pub fn check(&self, check: &dyn Fn(&str, Op) -> bool) -> bool {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => a.check(check) && b.check(check),
            Expr::Not(a) => a.check(check),
            Expr::Cmp { attr, op, .. } => check(attr, *op),
        }
    }

    pub fn uses_not(&self) -> bool {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => a.uses_not() || b.uses_not(),
            Expr::Not(_) => true,
            Expr::Cmp { .. } => false,
        }
    }

    /// Evaluates against a JSON object; dotted attributes descend objects and fan out over arrays.
    pub fn matches(&self, obj: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.matches(obj) && b.matches(obj),
            Expr::Or(a, b) => a.matches(obj) || b.matches(obj),
            Expr::Not(a) => !a.matches(obj),
            Expr::Cmp { attr, op, value } => {
                let mut found = Vec::new();
                resolve(
                    obj,
                    attr.split('.').collect::<Vec<_>>().as_slice(),
                    &mut found,
                );
                if *op == Op::Pr {
                    return found.iter().any(|v| !v.is_null());
                }
                found.iter().any(|v| compare(v, *op, value))
            }
        }
    }
}

fn resolve<'a>(v: &'a Value, path: &[&str], out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| resolve(i, path, out)),
        _ if path.is_empty() => out.push(v),
        Value::Object(m) => {
            if let Some(next) = m.get(path[0]) {
                resolve(next, &path[1..], out);
            }
        }
        _ => {}
    }
}

fn compare(v: &Value, op: Op, lit: &Lit) -> bool {
    match (v, lit) {
        (Value::String(s), Lit::Str(l)) => {
            // Okta: "operators and string values are case insensitive".
            let s = s.to_lowercase();
            let l = l.to_lowercase();
            match op {
                Op::Eq => s == l,
                Op::Ne => s != l,
                Op::Sw => s.starts_with(&l),
                Op::Ew => s.ends_with(&l),
                Op::Co => s.contains(&l),
                Op::Gt => s > l,
                Op::Ge => s >= l,
                Op::Lt => s < l,
                Op::Le => s <= l,
                Op::Pr => true,
            }
        }
        (Value::Bool(b), Lit::Bool(l)) => match op {
            Op::Eq => b == l,
            Op::Ne => b != l,
            _ => false,
        },
        (Value::Number(n), Lit::Num(l)) => {
            let n = n.as_f64().unwrap_or(f64::NAN);
            match op {
                Op::Eq => n == *l,
                Op::Ne => n != *l,
                Op::Gt => n > *l,
                Op::Ge => n >= *l,
                Op::Lt => n < *l,
                Op::Le => n <= *l,
                _ => false,
            }
        }
        (Value::Null, Lit::Null) => matches!(op, Op::Eq),
        _ => matches!(op, Op::Ne),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn precedence_and_case() {
        let e = parse(
            r#"status eq "active" and (profile.department eq "Sales" or profile.login sw "OK")"#,
        )
        .unwrap();
        let u = json!({"status":"ACTIVE","profile":{"department":"Eng","login":"okta@x"}});
        assert!(e.matches(&u));
        let u2 = json!({"status":"SUSPENDED","profile":{"department":"Sales","login":"a"}});
        assert!(!e.matches(&u2));
    }

    #[test]
    fn arrays_fan_out() {
        let e = parse(r#"target.id eq "00g1""#).unwrap();
        assert!(e.matches(&json!({"target":[{"id":"00u1"},{"id":"00g1"}]})));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("status").is_err());
        assert!(parse(r#"status eq "x" and"#).is_err());
        assert!(parse(r#"status zz "x""#).is_err());
        assert!(parse(r#"status eq "x"#).is_err());
    }
}
