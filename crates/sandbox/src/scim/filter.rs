//! Evaluating RFC 7644 §3.4.2.2 filters (parsed by the `scim_v2` crate's grammar) against a resource's JSON:
//! case-insensitive attribute names, `caseExact` from the schema, multi-valued attributes matching when any
//! value does, value paths (`emails[type eq "work"]`) and sub-attributes (`name.familyName`, `members.value`).

use std::str::FromStr as _;

use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter, PatchPath, ValFilter};
use serde_json::Value;

use super::schema::{Attr, Kind, Type};

/// RFC 7644's ABNF allows `not(` with no space (`*1"not" "(" FILTER ")"`), which the `scim_v2` grammar's
/// `not` token (it requires trailing whitespace) refuses: add the space outside string literals.
fn spaced_not(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let mut in_string = false;
    let mut escaped = false;
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        out.push(c);
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c == '"' {
            in_string = true;
            continue;
        }
        // `c` ends the word `not` when the two characters before it complete it and nothing name-like precedes.
        let ends_not = i >= 2
            && chars[i - 2..=i]
                .iter()
                .collect::<String>()
                .eq_ignore_ascii_case("not");
        let word_start = i < 3
            || !(chars[i - 3].is_ascii_alphanumeric()
                || matches!(chars[i - 3], '_' | '-' | '.' | ':'));
        if ends_not && word_start && chars.get(i + 1) == Some(&'(') {
            out.push(' ');
        }
    }
    out
}

/// A `filter` parameter or `.search` filter, by the RFC 7644 §3.4.2.2 grammar.
pub fn parse_filter(text: &str) -> Result<Filter, String> {
    Filter::from_str(&spaced_not(text)).map_err(|e| e.to_string())
}

/// A PATCH `path` (RFC 7644 §3.5.2): an attribute path or a value path with an optional sub-attribute.
pub fn parse_path(text: &str) -> Result<PatchPath, String> {
    PatchPath::from_str(&spaced_not(text)).map_err(|e| e.to_string())
}

/// Why a filter cannot be evaluated; answered as 400 `invalidFilter`.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid(pub String);

/// Resolves a path's attribute definition for `kind`; `uri` must be the kind's own schema when given.
pub fn resolve(
    kind: Kind,
    path: &AttrPath,
) -> Result<(&'static Attr, Option<&'static Attr>), Invalid> {
    if let Some(uri) = &path.uri
        && !uri.eq_ignore_ascii_case(kind.urn())
    {
        return Err(Invalid(format!("unknown schema {uri} for {}", kind.name())));
    }
    let attr = kind.attr(&path.name).ok_or_else(|| {
        Invalid(format!(
            "unknown attribute {} for {}",
            path.name,
            kind.name()
        ))
    })?;
    let sub = match &path.sub_attr {
        None => None,
        Some(s) => Some(attr.sub_attr(s).ok_or_else(|| {
            Invalid(format!(
                "unknown attribute {}.{s} for {}",
                attr.name,
                kind.name()
            ))
        })?),
    };
    Ok((attr, sub))
}

/// Checks every attribute the filter names, so an unknown one is an error even where it is never reached.
pub fn check(kind: Kind, filter: &Filter) -> Result<(), Invalid> {
    match filter {
        Filter::Attr(e) => check_exp(kind, None, e),
        Filter::ValuePath(vp) => {
            let (attr, sub) = resolve(kind, &vp.attr)?;
            if sub.is_some() || attr.ty != Type::Complex {
                return Err(Invalid(format!(
                    "{} has no sub-attributes to filter",
                    vp.attr
                )));
            }
            check_val(kind, attr, &vp.filter)
        }
        Filter::Not(f) => check(kind, f),
        Filter::And(items) | Filter::Or(items) => items.iter().try_for_each(|f| check(kind, f)),
    }
}

pub fn check_val(kind: Kind, parent: &'static Attr, filter: &ValFilter) -> Result<(), Invalid> {
    match filter {
        ValFilter::Attr(e) => check_exp(kind, Some(parent), e),
        ValFilter::Not(f) => check_val(kind, parent, f),
        ValFilter::And(items) | ValFilter::Or(items) => {
            items.iter().try_for_each(|f| check_val(kind, parent, f))
        }
    }
}

fn exp_path(e: &AttrExp) -> &AttrPath {
    match e {
        AttrExp::Present(p) | AttrExp::Comparison(p, _, _) => p,
    }
}

/// The definition the expression compares against, inside `parent` when it is a value-path filter.
fn target(
    kind: Kind,
    parent: Option<&'static Attr>,
    path: &AttrPath,
) -> Result<&'static Attr, Invalid> {
    match parent {
        Some(parent) => {
            if path.sub_attr.is_some() || path.uri.is_some() {
                return Err(Invalid(format!(
                    "{path} is not a sub-attribute of {}",
                    parent.name
                )));
            }
            parent.sub_attr(&path.name).ok_or_else(|| {
                Invalid(format!(
                    "unknown attribute {}.{} for {}",
                    parent.name,
                    path.name,
                    kind.name()
                ))
            })
        }
        None => {
            let (attr, sub) = resolve(kind, path)?;
            // `emails eq "x"` on a complex attribute compares its `value` sub-attribute (RFC 7644 §3.4.2.2).
            Ok(sub
                .or_else(|| {
                    (attr.ty == Type::Complex)
                        .then(|| attr.sub_attr("value"))
                        .flatten()
                })
                .unwrap_or(attr))
        }
    }
}

fn check_exp(kind: Kind, parent: Option<&'static Attr>, e: &AttrExp) -> Result<(), Invalid> {
    let def = target(kind, parent, exp_path(e))?;
    if let AttrExp::Comparison(_, op, value) = e {
        let ordering = matches!(
            op,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        );
        let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
        if def.ty == Type::Complex {
            return Err(Invalid(format!(
                "{} is complex and cannot be compared",
                def.name
            )));
        }
        if def.ty == Type::Boolean && (ordering || substring) {
            return Err(Invalid(format!(
                "{op} is not defined for the boolean {}",
                def.name
            )));
        }
        if (ordering || substring) && !matches!(value, CompValue::Str(_) | CompValue::Number(_)) {
            return Err(Invalid(format!("{op} needs a string or number value")));
        }
    }
    Ok(())
}

/// Every value the path reaches in `resource`, flattening multi-valued attributes.
fn values<'a>(resource: &'a Value, path: &AttrPath, kind: Kind, compared: bool) -> Vec<&'a Value> {
    let Some(obj) = resource.as_object() else {
        return vec![];
    };
    let Some(top) = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&path.name))
        .map(|(_, v)| v)
    else {
        return vec![];
    };
    let items: Vec<&Value> = match top {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    let sub = path.sub_attr.as_deref().or_else(|| {
        kind.attr(&path.name)
            .filter(|a| compared && a.ty == Type::Complex)
            .map(|_| "value")
    });
    match sub {
        None => items,
        Some(s) => items.into_iter().filter_map(|i| field(i, s)).collect(),
    }
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(actual: &Value, op: &CompareOp, expected: &CompValue, def: &Attr) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (actual, expected) {
        (Value::String(a), CompValue::Str(e)) => {
            let (a, e) = if def.case_exact {
                (a.clone(), e.clone())
            } else {
                (a.to_lowercase(), e.to_lowercase())
            };
            match op {
                CompareOp::Co => return a.contains(&e),
                CompareOp::Sw => return a.starts_with(&e),
                CompareOp::Ew => return a.ends_with(&e),
                _ => Some(a.cmp(&e)),
            }
        }
        (Value::Bool(a), CompValue::True) => Some(a.cmp(&true)),
        (Value::Bool(a), CompValue::False) => Some(a.cmp(&false)),
        (Value::Number(a), CompValue::Number(e)) => a
            .as_f64()
            .zip(e.as_f64())
            .and_then(|(a, e)| a.partial_cmp(&e)),
        (Value::Null, CompValue::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ord) {
        (CompareOp::Eq, Some(o)) => o == Ordering::Equal,
        (CompareOp::Ne, Some(o)) => o != Ordering::Equal,
        (CompareOp::Ne, None) => true,
        (CompareOp::Gt, Some(o)) => o == Ordering::Greater,
        (CompareOp::Ge, Some(o)) => o != Ordering::Less,
        (CompareOp::Lt, Some(o)) => o == Ordering::Less,
        (CompareOp::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

fn eval_exp(kind: Kind, parent: Option<&'static Attr>, e: &AttrExp, resource: &Value) -> bool {
    let path = exp_path(e);
    let Ok(def) = target(kind, parent, path) else {
        return false;
    };
    let found: Vec<&Value> = match parent {
        Some(_) => field(resource, &path.name).into_iter().collect(),
        None => values(resource, path, kind, matches!(e, AttrExp::Comparison(..))),
    };
    match e {
        AttrExp::Present(_) => found.into_iter().any(present),
        // An absent attribute is "not equal" to anything.
        AttrExp::Comparison(_, CompareOp::Ne, v) if found.is_empty() => {
            !matches!(v, CompValue::Null)
        }
        AttrExp::Comparison(_, op, v) => found.into_iter().any(|a| compare(a, op, v, def)),
    }
}

/// Whether `resource` (its JSON as served) matches `filter`.
pub fn matches(kind: Kind, filter: &Filter, resource: &Value) -> bool {
    match filter {
        Filter::Attr(e) => eval_exp(kind, None, e, resource),
        Filter::ValuePath(vp) => {
            let Ok((attr, _)) = resolve(kind, &vp.attr) else {
                return false;
            };
            let elements: Vec<&Value> = match field(resource, attr.name) {
                Some(Value::Array(a)) => a.iter().collect(),
                Some(v) => vec![v],
                None => vec![],
            };
            elements
                .into_iter()
                .any(|el| matches_val(kind, attr, &vp.filter, el))
        }
        Filter::Not(f) => !matches(kind, f, resource),
        Filter::And(items) => items.iter().all(|f| matches(kind, f, resource)),
        Filter::Or(items) => items.iter().any(|f| matches(kind, f, resource)),
    }
}

/// Whether one value of the complex attribute `parent` matches a value-path filter.
pub fn matches_val(kind: Kind, parent: &'static Attr, filter: &ValFilter, element: &Value) -> bool {
    match filter {
        ValFilter::Attr(e) => eval_exp(kind, Some(parent), e, element),
        ValFilter::Not(f) => !matches_val(kind, parent, f, element),
        ValFilter::And(items) => items.iter().all(|f| matches_val(kind, parent, f, element)),
        ValFilter::Or(items) => items.iter().any(|f| matches_val(kind, parent, f, element)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "2819c223", "userName": "BJensen", "active": true,
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                       {"value": "babs@jensen.org", "type": "home"}],
            "meta": {"resourceType": "User", "lastModified": "2011-05-13T04:42:34Z"}
        })
    }

    fn eval(text: &str) -> Result<bool, Invalid> {
        let f = parse_filter(text).map_err(Invalid)?;
        check(Kind::User, &f)?;
        Ok(matches(Kind::User, &f, &user()))
    }

    #[test]
    fn rfc_examples_match_with_case_insensitive_names_and_values() {
        for (text, want) in [
            (r#"userName eq "bjensen""#, true),
            (r#"USERNAME Eq "BJENSEN""#, true),
            (r#"id eq "2819C223""#, false),
            (r#"name.familyName co "ens""#, true),
            (r#"userName sw "bj" and not (active eq false)"#, true),
            (
                r#"emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails[type eq "work" and value co "@jensen.org"]"#,
                false,
            ),
            (r#"emails.type eq "home""#, true),
            (r#"emails ew ".org""#, true),
            ("title pr", false),
            ("name pr", true),
            (r#"title pr or (userName ne "x" and emails.value pr)"#, true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen""#,
                true,
            ),
            (r#"title ne "boss""#, true),
            (r#"not(userName eq "x") and NOT(title pr)"#, true),
            (
                r#"userName ne "not(x)" and emails[not(type eq "home")]"#,
                true,
            ),
        ] {
            assert_eq!(eval(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn not_without_a_space_is_spaced_only_where_it_is_the_operator() {
        assert_eq!(spaced_not("not(a pr)"), "not (a pr)");
        assert_eq!(
            spaced_not(r#"a eq "not(" and Not(b pr)"#),
            r#"a eq "not(" and Not (b pr)"#
        );
        assert_eq!(spaced_not("knot(x"), "knot(x");
        for odd in ["", "n", "no", "not", "not(", "é not(", "\"\\\"not(", "))(("] {
            assert!(parse_filter(odd).is_err(), "{odd}");
        }
    }

    #[test]
    fn unknown_attributes_and_meaningless_comparisons_are_invalid() {
        for text in [
            r#"nope eq "x""#,
            r#"name.nope eq "x""#,
            "active gt true",
            r#"name eq "x""#,
            r#"emails[nope eq "x"]"#,
            r#"urn:other:User:userName eq "x""#,
        ] {
            assert!(eval(text).is_err(), "{text}");
        }
    }
}
