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
