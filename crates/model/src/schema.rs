//! The directory's profile schema: which attributes a person has and of
//! which type, as the directory publishes it (for Okta, the user schema at
//! `/api/v1/meta/schemas/user/default`). Policy conditions are checked
//! against it before anything is planned.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The type of one profile attribute, in the terms conditions compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeType {
    String,
    Integer,
    Number,
    Boolean,
    StringArray,
    IntegerArray,
    NumberArray,
    /// Declared without a type a condition can rely on (an object, a
    /// mixture seen in the data).
    Any,
}

impl AttributeType {
    /// What a JSON value from a sync is, or `None` for null.
    pub fn of_value(value: &serde_json::Value) -> Option<AttributeType> {
        use serde_json::Value;
        Some(match value {
            Value::Null => return None,
            Value::Bool(_) => AttributeType::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => AttributeType::Integer,
            Value::Number(_) => AttributeType::Number,
            Value::String(_) => AttributeType::String,
            Value::Array(items) => {
                let mut kinds = items.iter().filter_map(AttributeType::of_value);
                match kinds.next() {
                    None | Some(AttributeType::String) => AttributeType::StringArray,
                    Some(AttributeType::Integer) => AttributeType::IntegerArray,
                    Some(AttributeType::Number) => AttributeType::NumberArray,
                    Some(_) => AttributeType::Any,
                }
            }
            Value::Object(_) => AttributeType::Any,
        })
    }

    /// The type two sightings of one attribute share: an integer seen
    /// beside a fraction is a number; anything else that differs is `Any`.
    pub fn unify(self, other: AttributeType) -> AttributeType {
        use AttributeType::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Integer, Number) | (Number, Integer) => Number,
            (IntegerArray, NumberArray) | (NumberArray, IntegerArray) => NumberArray,
            _ => Any,
        }
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttributeType::String => "string",
            AttributeType::Integer => "integer",
            AttributeType::Number => "number",
            AttributeType::Boolean => "boolean",
            AttributeType::StringArray => "list of strings",
            AttributeType::IntegerArray => "list of integers",
            AttributeType::NumberArray => "list of numbers",
            AttributeType::Any => "any",
        })
    }
}

/// One attribute the directory declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeDecl {
    #[serde(rename = "type")]
    pub ty: AttributeType,
    /// Every person has it; an attribute that is not required may be
    /// missing, and a condition tests it with `has()` first.
    #[serde(default)]
    pub required: bool,
}

/// The attributes of a person's profile, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileSchema {
    pub attributes: BTreeMap<String, AttributeDecl>,
}

impl ProfileSchema {
    pub fn get(&self, name: &str) -> Option<&AttributeDecl> {
        self.attributes.get(name)
    }
}
