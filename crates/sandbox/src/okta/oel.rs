//! A subset of the Okta Expression Language for group rule conditions (notes/okta.md §1.3): `user.attr`,
//! `user.getInternalProperty("status"|"id")`, string/boolean/null literals, `==` `!=`, `AND` `OR` `!` (also
//! `&&` `||`), parentheses, and `String.stringContains`, `String.startsWith`, `Arrays.contains`.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(Value),
    Attr(String),
    Internal(String),
    Eq(Box<Expr>, Box<Expr>, bool),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Call(String, Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '"' | '\'' => {
                let mut s = String::new();
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    s.push(chars[i]);
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("unterminated string".into());
                }
                i += 1;
                out.push(Tok::Str(s));
            }
            '=' | '!' | '&' | '|' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = match two.as_str() {
                    "==" => "==",
                    "!=" => "!=",
                    "&&" => "AND",
                    "||" => "OR",
                    _ if c == '!' => "!",
                    _ => return Err(format!("unexpected '{c}'")),
                };
                i += if op == "!" { 1 } else { 2 };
                out.push(Tok::Op(op));
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || "_.".contains(chars[i])) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                match word.as_str() {
                    "AND" | "and" => out.push(Tok::Op("AND")),
                    "OR" | "or" => out.push(Tok::Op("OR")),
                    _ => out.push(Tok::Ident(word)),
                }
            }
            other => return Err(format!("unexpected '{other}'")),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Op("OR")) {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Tok::Op("AND")) {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Tok::Op("!")) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        let left = self.primary()?;
        match self.peek() {
            Some(Tok::Op(op @ ("==" | "!="))) => {
                let eq = *op == "==";
                self.pos += 1;
                Ok(Expr::Eq(Box::new(left), Box::new(self.primary()?), eq))
            }
            _ => Ok(left),
        }
    }

    fn args(&mut self) -> Result<Vec<Expr>, String> {
        let mut args = Vec::new();
        if self.peek() == Some(&Tok::RParen) {
            self.pos += 1;
            return Ok(args);
        }
        loop {
            args.push(self.or()?);
            match self.next() {
                Some(Tok::Comma) => continue,
                Some(Tok::RParen) => return Ok(args),
                _ => return Err("expected ',' or ')'".into()),
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Expr::Lit(Value::String(s))),
            Some(Tok::LParen) => {
                let e = self.or()?;
                match self.next() {
                    Some(Tok::RParen) => Ok(e),
                    _ => Err("expected ')'".into()),
                }
            }
            Some(Tok::Ident(word)) => {
                if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    let args = self.args()?;
                    if word == "user.getInternalProperty" {
                        return match args.as_slice() {
                            [Expr::Lit(Value::String(p))] => Ok(Expr::Internal(p.clone())),
                            _ => Err("getInternalProperty takes one string".into()),
                        };
                    }
                    return match word.as_str() {
                        "String.stringContains" | "String.startsWith" | "Arrays.contains"
                            if args.len() == 2 =>
                        {
                            Ok(Expr::Call(word, args))
                        }
                        _ => Err(format!("unsupported function {word}")),
                    };
                }
                match word.as_str() {
                    "null" => Ok(Expr::Lit(Value::Null)),
                    "true" => Ok(Expr::Lit(Value::Bool(true))),
                    "false" => Ok(Expr::Lit(Value::Bool(false))),
                    w => match w.strip_prefix("user.") {
                        Some(attr) if !attr.is_empty() && !attr.contains('.') => {
                            Ok(Expr::Attr(attr.to_string()))
                        }
                        _ => Err(format!("unknown identifier {w}")),
                    },
                }
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

pub fn parse(text: &str) -> Result<Expr, String> {
    let mut p = Parser {
        toks: lex(text)?,
        pos: 0,
    };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err("unexpected trailing input".into());
    }
    Ok(e)
}

/// What an expression sees of a user: the profile plus internal properties.
pub struct Subject<'a> {
    pub profile: &'a Map<String, Value>,
    pub id: &'a str,
    pub status: &'a str,
}

fn value(e: &Expr, s: &Subject) -> Value {
    match e {
        Expr::Lit(v) => v.clone(),
        Expr::Attr(a) => s.profile.get(a).cloned().unwrap_or(Value::Null),
        Expr::Internal(p) => match p.as_str() {
            "id" => Value::String(s.id.to_string()),
            "status" => Value::String(s.status.to_string()),
            _ => Value::Null,
        },
        other => Value::Bool(eval(other, s)),
    }
}

fn text(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_default()
}

pub fn eval(e: &Expr, s: &Subject) -> bool {
    match e {
        Expr::Eq(a, b, eq) => (value(a, s) == value(b, s)) == *eq,
        Expr::And(a, b) => eval(a, s) && eval(b, s),
        Expr::Or(a, b) => eval(a, s) || eval(b, s),
        Expr::Not(a) => !eval(a, s),
        Expr::Call(f, args) => {
            let (a, b) = (value(&args[0], s), value(&args[1], s));
            match f.as_str() {
                "String.stringContains" => text(&a).contains(&text(&b)),
                "String.startsWith" => text(&a).starts_with(&text(&b)),
                _ => a.as_array().is_some_and(|items| items.contains(&b)),
            }
        }
        other => value(other, s) == Value::Bool(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rule_conditions_evaluate_against_a_user() {
        let profile = json!({"department": "Engineering", "email": "a@example.com", "isContractor": false,
            "colors": ["blue"]});
        let profile = profile.as_object().expect("object");
        let s = Subject {
            profile,
            id: "00u1",
            status: "ACTIVE",
        };
        let yes = [
            r#"user.department == "Engineering""#,
            r#"user.department == "Engineering" AND !user.isContractor"#,
            r#"String.stringContains(user.email, "@example.com")"#,
            r#"Arrays.contains(user.colors, "blue") || user.title == "x""#,
            r#"user.getInternalProperty("status") == "ACTIVE""#,
            "user.title == null",
        ];
        for e in yes {
            assert!(eval(&parse(e).expect(e), &s), "{e}");
        }
        assert!(!eval(
            &parse(r#"user.department != "Engineering""#).expect("p"),
            &s
        ));
        assert!(parse("Convert.toInt(user.x) == 1").is_err());
        assert!(parse(r#"user.department == "x"#).is_err());
    }
}
