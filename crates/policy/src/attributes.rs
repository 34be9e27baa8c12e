//! Which `person` attributes a condition may use, and of which type: the
//! built-in ones every person has, the directory's published profile schema,
//! and the attributes the last sync saw. A condition that names anything else
//! is a mistake, reported where it was written.

use grantflow_model::{AttributeType, Snapshot};
use std::collections::BTreeMap;

/// Attributes every person has in a condition; empty text when the
/// directory has no value, so `person.department == "X"` is false rather
/// than an error.
pub const CANONICAL_ATTRIBUTES: [&str; 6] = [
    "department",
    "title",
    "manager",
    "location",
    "employment_status",
    "employee_number",
];

/// Identity fields and lifecycle facts set from the directory account itself.
const IDENTITY_ATTRIBUTES: [(&str, AttributeType); 6] = [
    ("email", AttributeType::String),
    ("login", AttributeType::String),
    ("name", AttributeType::String),
    ("status", AttributeType::String),
    ("state", AttributeType::String),
    ("active", AttributeType::Boolean),
];

/// Where the catalog learned of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    BuiltIn,
    Schema,
    Seen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownAttribute {
    pub ty: AttributeType,
    /// Every person has it; otherwise a condition tests it with `has()`.
    pub always_present: bool,
    pub origin: Origin,
}

/// The attributes conditions may use.
#[derive(Debug, Clone, Default)]
pub struct AttributeCatalog {
    attributes: BTreeMap<String, KnownAttribute>,
}

impl AttributeCatalog {
    /// Only the built-in attributes (before any sync).
    pub fn built_in() -> Self {
        let mut attributes = BTreeMap::new();
        for (name, ty) in IDENTITY_ATTRIBUTES {
            attributes.insert(
                name.to_string(),
                KnownAttribute {
                    ty,
                    always_present: true,
                    origin: Origin::BuiltIn,
                },
            );
        }
        for name in CANONICAL_ATTRIBUTES {
            attributes.insert(
                name.to_string(),
                KnownAttribute {
                    ty: AttributeType::String,
                    always_present: true,
                    origin: Origin::BuiltIn,
                },
            );
        }
        Self { attributes }
    }

    /// The built-in attributes, the directory's published schema, and what
    /// the last sync of the directory saw (typed by the values seen; present
    /// for everyone only when every person had a value).
    pub fn for_directory(directory: &Snapshot) -> Self {
        let mut catalog = Self::built_in();
        if let Some(schema) = &directory.profile_schema {
            for (name, decl) in &schema.attributes {
                catalog.declare(name, decl.ty, decl.required, Origin::Schema);
            }
        }
        let people: Vec<_> = directory
            .accounts
            .iter()
            .filter(|a| a.email.is_some())
            .collect();
        let mut seen: BTreeMap<&str, (AttributeType, usize)> = BTreeMap::new();
        for account in &people {
            for (name, value) in &account.attributes {
                let Some(ty) = AttributeType::of_value(value) else {
                    continue;
                };
                seen.entry(name.as_str())
                    .and_modify(|(known, count)| {
                        *known = known.unify(ty);
                        *count += 1;
                    })
                    .or_insert((ty, 1));
            }
        }
        for (name, (ty, count)) in seen {
            if catalog.attributes.contains_key(name) {
                continue;
            }
            catalog.declare(name, ty, count == people.len(), Origin::Seen);
        }
        catalog
    }

    /// `person.hris`, the HR facts of an HRIS connection (`grantflow_model::with_hris`): a map, present
    /// only for the people the HRIS knows, so conditions test it with `has(person.hris)`.
    pub fn declare_hris(&mut self) {
        self.attributes.insert(
            grantflow_model::HRIS_ATTRIBUTE.to_string(),
            KnownAttribute {
                ty: AttributeType::Any,
                always_present: false,
                origin: Origin::Schema,
            },
        );
    }

    fn declare(&mut self, name: &str, ty: AttributeType, always: bool, origin: Origin) {
        // Built-in attributes keep their meaning whatever a profile calls the same name.
        if self
            .attributes
            .get(name)
            .is_some_and(|known| known.origin == Origin::BuiltIn)
        {
            return;
        }
        self.attributes.insert(
            name.to_string(),
            KnownAttribute {
                ty,
                always_present: always,
                origin,
            },
        );
    }

    pub fn get(&self, name: &str) -> Option<&KnownAttribute> {
        self.attributes.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.attributes.keys().map(String::as_str)
    }

    /// The known attribute a misspelt name most likely meant.
    pub fn suggestion(&self, wrong: &str) -> Option<&str> {
        let lower = wrong.to_lowercase();
        let limit = (wrong.chars().count() / 3).max(2);
        self.names()
            .map(|name| {
                let distance = if name.to_lowercase() == lower {
                    0
                } else {
                    strsim::damerau_levenshtein(&lower, &name.to_lowercase())
                };
                (distance, name)
            })
            .filter(|(distance, _)| *distance <= limit)
            .min()
            .map(|(_, name)| name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantflow_model::{Account, AttributeDecl, ProfileSchema};
    use serde_json::json;

    fn account(email: &str, attributes: serde_json::Value) -> Account {
        Account {
            id: email.into(),
            login: email.into(),
            email: Some(email.into()),
            display_name: email.into(),
            status: "ACTIVE".into(),
            state: Default::default(),
            attributes: attributes.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn schema_and_sync_both_declare_attributes_and_misspellings_find_their_match() {
        let directory = Snapshot {
            accounts: vec![
                account(
                    "a@x",
                    json!({"department": "Eng", "level": 3, "costCenter": "CC-1"}),
                ),
                account("b@x", json!({"department": "Ops", "level": 4})),
            ],
            profile_schema: Some(ProfileSchema {
                attributes: [(
                    "division".to_string(),
                    AttributeDecl {
                        ty: AttributeType::String,
                        required: false,
                    },
                )]
                .into(),
            }),
            ..Snapshot::default()
        };
        let catalog = AttributeCatalog::for_directory(&directory);
        assert_eq!(
            catalog.get("division").map(|a| a.origin),
            Some(Origin::Schema)
        );
        let level = catalog.get("level").expect("seen");
        assert_eq!(
            (level.ty, level.always_present),
            (AttributeType::Integer, true)
        );
        let cost = catalog.get("costCenter").expect("seen on one person");
        assert!(!cost.always_present);
        assert_eq!(
            catalog.get("active").map(|a| a.ty),
            Some(AttributeType::Boolean)
        );
        assert_eq!(catalog.suggestion("departmnt"), Some("department"));
        assert_eq!(catalog.suggestion("costcenter"), Some("costCenter"));
        assert_eq!(catalog.suggestion("zzzzzzzzz"), None);
    }
}
