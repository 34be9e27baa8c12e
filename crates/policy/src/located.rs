//! `Located<T>`: a value with the line and column it was written at, so
//! errors found after parsing (a bad CEL expression, an unknown group) can
//! still point at the YAML that caused them.

use serde::{Deserialize, Deserializer};
use std::path::Path;

use crate::Diagnostic;

#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub line: u64,
    pub column: u64,
}

impl<T> Located<T> {
    pub fn diagnostic(&self, file: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_path_buf(),
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }

    /// The position alone, for values that are consumed but whose place is
    /// still needed for later errors.
    pub fn position(&self) -> Located<()> {
        Located {
            value: (),
            line: self.line,
            column: self.column,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        Ok(Located {
            value: spanned.value,
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
        })
    }
}

// The schema of a located value is the schema of the value: the position is
// an artefact of parsing, not something a policy author writes.
impl<T: schemars::JsonSchema> schemars::JsonSchema for Located<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// The line and column (1-based) of byte `offset` of a scalar's value,
/// given where the scalar starts in `text` (the position serde-saphyr
/// reports) and the value itself. Plain and quoted scalars on one line map
/// exactly; a block (`|`, `>`) or a plain scalar folded over several lines
/// maps line by line, each line break of the file standing for one
/// character of the value. Falls back to the scalar's start.
pub(crate) fn position_in_scalar(
    text: &str,
    line: u64,
    column: u64,
    value: &str,
    offset: usize,
) -> (u64, u64) {
    let fallback = (line, column);
    let lines: Vec<&str> = text.lines().collect();
    let Some(first) = usize::try_from(line)
        .ok()
        .and_then(|l| l.checked_sub(1))
        .and_then(|i| lines.get(i))
    else {
        return fallback;
    };
    let start_char = usize::try_from(column.saturating_sub(1)).unwrap_or(0);
    let rest: String = first.chars().skip(start_char).collect();
    let chars_before =
        |s: &str, bytes: usize| s.get(..bytes).map_or(0, |p| p.chars().count()) as u64;
    let Some(offset_in_value) = value.get(..offset).map(|_| offset) else {
        return fallback;
    };
    match rest.chars().next() {
        Some('"') | Some('\'') => (line, column + 1 + chars_before(value, offset_in_value)),
        Some('|') | Some('>') => {
            // The block's lines follow, all indented alike.
            let body: Vec<&str> = lines
                .iter()
                .skip(usize::try_from(line).unwrap_or(0))
                .copied()
                .collect();
            let indent = body
                .iter()
                .find(|l| !l.trim().is_empty())
                .map_or(0, |l| l.len() - l.trim_start().len());
            walk_lines(
                body.iter()
                    .map(|l| l.get(indent..).unwrap_or("").trim_end()),
                line + 1,
                indent as u64 + 1,
                offset_in_value,
            )
            .unwrap_or(fallback)
        }
        _ => {
            let continuation = lines
                .iter()
                .skip(usize::try_from(line).unwrap_or(0))
                .map(|l| l.trim());
            let mut pieces = vec![rest.trim_end().to_string()];
            pieces.extend(continuation.map(str::to_string));
            let first_len = pieces[0].len();
            if offset_in_value <= first_len {
                return (line, column + chars_before(&rest, offset_in_value));
            }
            // Continuation lines of a plain scalar: their own indentation.
            let remaining = offset_in_value - first_len - 1;
            let later: Vec<&str> = lines
                .iter()
                .skip(usize::try_from(line).unwrap_or(0))
                .copied()
                .collect();
            let mut left = remaining;
            for (index, l) in later.iter().enumerate() {
                let trimmed = l.trim();
                if left <= trimmed.len() {
                    let indent = (l.len() - l.trim_start().len()) as u64;
                    return (
                        line + 1 + index as u64,
                        indent + 1 + chars_before(trimmed, left),
                    );
                }
                left -= trimmed.len() + 1;
            }
            fallback
        }
    }
}

/// Finds byte `offset` of a value made of `lines` joined by one character each.
fn walk_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
    first_line: u64,
    column: u64,
    offset: usize,
) -> Option<(u64, u64)> {
    let mut left = offset;
    for (index, l) in lines.enumerate() {
        if left <= l.len() {
            let chars = l.get(..left).map_or(0, |p| p.chars().count()) as u64;
            return Some((first_line + index as u64, column + chars));
        }
        left -= l.len() + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::position_in_scalar;

    #[test]
    fn offsets_in_plain_quoted_and_block_conditions_map_to_the_file() {
        let plain = "    when: person.departmnt == \"Eng\"\n";
        assert_eq!(
            position_in_scalar(plain, 1, 11, "person.departmnt == \"Eng\"", 7),
            (1, 18)
        );
        let quoted = "    when: \"person.departmnt == 'Eng'\"\n";
        assert_eq!(
            position_in_scalar(quoted, 1, 11, "person.departmnt == 'Eng'", 7),
            (1, 19)
        );
        let block = "    when: |\n      person.active &&\n      person.departmnt == \"Eng\"\n";
        let value = "person.active &&\nperson.departmnt == \"Eng\"\n";
        assert_eq!(position_in_scalar(block, 1, 11, value, 24), (3, 14));
    }
}
