//! The SOQL subset the emulator answers: `SELECT f, Rel.f FROM Obj [WHERE c AND c …] [ORDER BY f [ASC|DESC]]
//! [LIMIT n]`, where a condition is `f = v`, `f != v`, `f > v` (`>=`, `<`, `<=`) or `f IN (v, …)` and a value is
//! a quoted string, `true`, `false`, `null`, a number or a datetime literal (`2026-12-05T09:30:00Z`).

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Bool(bool),
    Number(f64),
    Null,
}

/// An ordering comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Comparison {
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Greater, Less};
        match self {
            Comparison::Greater => ordering == Greater,
            Comparison::GreaterOrEqual => ordering != Less,
            Comparison::Less => ordering == Less,
            Comparison::LessOrEqual => ordering != Greater,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(String, Comparison, Literal),
    Equals(String, Literal),
    NotEquals(String, Literal),
    In(String, Vec<Literal>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub fields: Vec<String>,
    pub object: String,
    pub conditions: Vec<Condition>,
    pub order_by: Option<(String, bool)>,
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Comma,
    Open,
    Close,
    Eq,
    NotEq,
    Compare(Comparison),
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "<EOF>".into(),
        Some(Token::Word(w)) => w.clone(),
        Some(Token::Text(t)) => format!("'{t}'"),
        Some(Token::Comma) => ",".into(),
        Some(Token::Open) => "(".into(),
        Some(Token::Close) => ")".into(),
        Some(Token::Eq) => "=".into(),
        Some(Token::NotEq) => "!=".into(),
        Some(Token::Compare(c)) => match c {
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
        }
        .into(),
    }
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            ',' => {
                chars.next();
                out.push(Token::Comma);
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '=' => {
                chars.next();
                out.push(Token::Eq);
            }
            '!' => {
                chars.next();
                match chars.next() {
                    Some('=') => out.push(Token::NotEq),
                    _ => return Err(format!("unexpected token: '{c}'")),
                }
            }
            '<' | '>' => {
                chars.next();
                let (token, two_characters) = match (c, chars.peek()) {
                    ('<', Some('>')) => (Token::NotEq, true),
                    ('<', Some('=')) => (Token::Compare(Comparison::LessOrEqual), true),
                    ('>', Some('=')) => (Token::Compare(Comparison::GreaterOrEqual), true),
                    ('<', _) => (Token::Compare(Comparison::Less), false),
                    _ => (Token::Compare(Comparison::Greater), false),
                };
                if two_characters {
                    chars.next();
                }
                out.push(token);
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated string literal".into()),
                        Some('\\') => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some(e) => s.push(e),
                            None => return Err("unterminated string literal".into()),
                        },
                        Some('\'') => break,
                        Some(ch) => s.push(ch),
                    }
                }
                out.push(Token::Text(s));
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' || c == '-' => {
                // A datetime literal (it starts with a digit) also has `:` and `+`.
                let datetime = c.is_ascii_digit();
                let mut w = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_alphanumeric()
                        || ch == '_'
                        || ch == '.'
                        || ch == '-'
                        || (datetime && (ch == ':' || ch == '+'))
                    {
                        w.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Word(w));
            }
            other => return Err(format!("unexpected token: '{other}'")),
        }
    }
    Ok(out)
}

const RESERVED: &[&str] = &[
    "select", "from", "where", "and", "or", "order", "by", "limit", "in",
];

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), String> {
        if self.keyword(word) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("unexpected token: '{}'", describe(self.peek())))
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(w))
                if w.starts_with(|c: char| c.is_ascii_alphabetic())
                    && !RESERVED.iter().any(|r| w.eq_ignore_ascii_case(r)) =>
            {
                Ok(w)
            }
            other => Err(format!("unexpected token: '{}'", describe(other.as_ref()))),
        }
    }

    fn literal(&mut self) -> Result<Literal, String> {
        match self.next() {
            Some(Token::Text(t)) => Ok(Literal::Text(t)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(Literal::Null),
            Some(Token::Word(w)) if w.contains('T') && w.contains(':') => {
                chrono::DateTime::parse_from_rfc3339(&w)
                    .map(|_| Literal::Text(w.clone()))
                    .map_err(|_| format!("line 1:0 no viable alternative at character '{w}'"))
            }
            Some(Token::Word(w)) => w
                .parse()
                .map(Literal::Number)
                .map_err(|_| format!("unexpected token: '{w}'")),
            other => Err(format!("unexpected token: '{}'", describe(other.as_ref()))),
        }
    }

    fn condition(&mut self) -> Result<Condition, String> {
        let field = self.name()?;
        match self.next() {
            Some(Token::Eq) => Ok(Condition::Equals(field, self.literal()?)),
            Some(Token::NotEq) => Ok(Condition::NotEquals(field, self.literal()?)),
            Some(Token::Compare(c)) => Ok(Condition::Compare(field, c, self.literal()?)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("in") => {
                if self.next() != Some(Token::Open) {
                    return Err("expecting a left parentheses, found something else".into());
                }
                let mut values = vec![self.literal()?];
                loop {
                    match self.next() {
                        Some(Token::Comma) => values.push(self.literal()?),
                        Some(Token::Close) => break,
                        other => {
                            return Err(format!(
                                "unexpected token: '{}'",
                                describe(other.as_ref())
                            ));
                        }
                    }
                }
                Ok(Condition::In(field, values))
            }
            other => Err(format!("unexpected token: '{}'", describe(other.as_ref()))),
        }
    }
}

pub fn parse(text: &str) -> Result<Query, String> {
    let mut p = Parser {
        tokens: tokens(text)?,
        at: 0,
    };
    p.expect_keyword("SELECT")?;
    let mut fields = vec![p.name()?];
    while p.peek() == Some(&Token::Comma) {
        p.at += 1;
        fields.push(p.name()?);
    }
    p.expect_keyword("FROM")?;
    let object = p.name()?;
    let mut conditions = Vec::new();
    if p.keyword("WHERE") {
        p.at += 1;
        conditions.push(p.condition()?);
        while p.keyword("AND") {
            p.at += 1;
            conditions.push(p.condition()?);
        }
    }
    let mut order_by = None;
    if p.keyword("ORDER") {
        p.at += 1;
        p.expect_keyword("BY")?;
        let field = p.name()?;
        let mut ascending = true;
        if p.keyword("ASC") {
            p.at += 1;
        } else if p.keyword("DESC") {
            p.at += 1;
            ascending = false;
        }
        order_by = Some((field, ascending));
    }
    let mut limit = None;
    if p.keyword("LIMIT") {
        p.at += 1;
        match p.next() {
            Some(Token::Word(n)) => {
                limit = Some(n.parse().map_err(|_| format!("unexpected token: '{n}'"))?);
            }
            other => return Err(format!("unexpected token: '{}'", describe(other.as_ref()))),
        }
    }
    if let Some(extra) = p.peek() {
        return Err(format!("unexpected token: '{}'", describe(Some(extra))));
    }
    Ok(Query {
        fields,
        object,
        conditions,
        order_by,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connectors_queries_parse() {
        let q = parse(
            "SELECT Id, PermissionSet.Name FROM PermissionSetAssignment WHERE AssigneeId = '005x' \
             AND PermissionSetId IN ('0PS1', '0PS2') AND PermissionSet.IsOwnedByProfile = false LIMIT 5",
        )
        .expect("parses");
        assert_eq!(q.fields, ["Id", "PermissionSet.Name"]);
        assert_eq!(q.object, "PermissionSetAssignment");
        assert_eq!(q.conditions.len(), 3);
        assert_eq!(
            q.conditions[1],
            Condition::In(
                "PermissionSetId".into(),
                vec![Literal::Text("0PS1".into()), Literal::Text("0PS2".into())]
            )
        );
        assert_eq!(q.limit, Some(5));
        assert_eq!(
            parse("select Name from User where Email = 'o\\'brien@example.com'")
                .expect("escapes")
                .conditions[0],
            Condition::Equals("Email".into(), Literal::Text("o'brien@example.com".into()))
        );
    }

    #[test]
    fn a_created_date_cursor_query_parses() {
        let q = parse(
            "SELECT Id, Name, CreatedDate FROM Opportunity WHERE CreatedDate >= 2026-12-05T09:30:00Z \
             AND Amount < 5 ORDER BY CreatedDate",
        )
        .expect("parses");
        assert_eq!(
            q.conditions,
            [
                Condition::Compare(
                    "CreatedDate".into(),
                    Comparison::GreaterOrEqual,
                    Literal::Text("2026-12-05T09:30:00Z".into())
                ),
                Condition::Compare("Amount".into(), Comparison::Less, Literal::Number(5.0)),
            ]
        );
        assert!(
            parse("SELECT Id FROM Opportunity WHERE CreatedDate > 2026-13-45T99:00:00Z").is_err()
        );
    }

    #[test]
    fn malformed_queries_say_where() {
        assert_eq!(
            parse("SELECT FROM User").expect_err("no fields"),
            "unexpected token: 'FROM'"
        );
        assert!(parse("SELECT Id FROM User WHERE").is_err());
        assert!(parse("SELECT Id FROM User LIMIT x").is_err());
    }
}
