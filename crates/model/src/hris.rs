//! HR systems as a source of facts about people. An HRIS connection (BambooHR) syncs one account per
//! employee, matched to the directory's person by work email like any system's account; its attributes
//! (start and end date, department, title, manager, location, …) are handed to everything that reads
//! people — policy conditions, drift, requests, `grantflow person` — under one attribute, `hris`, of the
//! directory's person: `person.hris.start_date`, `person.hris.department`. The directory's own attributes
//! are left as they are, so an HRIS never silently changes what an existing condition means; a condition
//! that reads HR facts says so (`has(person.hris) && person.hris.department == "Sales"`).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use crate::{ConnectionName, Person, Snapshot};

/// The person attribute HRIS facts are under.
pub const HRIS_ATTRIBUTE: &str = "hris";

/// The systems that are HR sources (by `SystemKind`).
pub const HRIS_SYSTEMS: &[&str] = &["bamboohr"];

/// Whether `snapshot` is of an HR source.
pub fn is_hris(snapshot: &Snapshot) -> bool {
    snapshot
        .system
        .as_ref()
        .is_some_and(|s| HRIS_SYSTEMS.contains(&s.as_str()))
}

/// Sets `hris` on each person an HRIS connection has an employee for (by work email, any case): the
/// employee's attributes plus its `connection`. With two HRIS connections the first by name wins; an
/// employee without a work email matches no one. People the HRIS does not know get no `hris` (a directory
/// attribute of that name is left alone).
pub fn with_hris(people: &mut [Person], snapshots: &BTreeMap<ConnectionName, Snapshot>) {
    let mut facts: HashMap<String, Map<String, Value>> = HashMap::new();
    for (connection, snapshot) in snapshots.iter().filter(|(_, s)| is_hris(s)) {
        for account in &snapshot.accounts {
            let Some(email) = account.email.as_deref() else {
                continue;
            };
            facts.entry(email.to_lowercase()).or_insert_with(|| {
                let mut map = account.attributes.clone();
                map.insert(
                    "connection".into(),
                    Value::String(connection.as_str().to_string()),
                );
                map
            });
        }
    }
    if facts.is_empty() {
        return;
    }
    for person in people {
        if let Some(map) = facts.get(&person.email.to_lowercase()) {
            person
                .attributes
                .insert(HRIS_ATTRIBUTE.into(), Value::Object(map.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Account, LifecycleState, SystemKind};
    use serde_json::json;

    fn account(id: &str, email: Option<&str>, attributes: Value) -> Account {
        Account {
            id: id.into(),
            login: email.unwrap_or(id).into(),
            email: email.map(str::to_string),
            display_name: id.into(),
            status: "Active".into(),
            state: LifecycleState::Active,
            attributes: attributes.as_object().cloned().unwrap_or_default(),
        }
    }

    fn snapshot(system: &str, accounts: Vec<Account>) -> Snapshot {
        Snapshot {
            system: Some(SystemKind::new(system)),
            accounts,
            ..Default::default()
        }
    }

    #[test]
    fn hris_facts_join_people_by_email_and_other_systems_do_not() {
        let mut people = snapshot(
            "okta",
            vec![
                account(
                    "00u1",
                    Some("Lena@Example.com"),
                    json!({"department": "Eng"}),
                ),
                account("00u2", Some("sam@example.com"), json!({"hris": "kept"})),
            ],
        )
        .people();
        let snapshots = BTreeMap::from([
            (
                ConnectionName::new("bamboohr"),
                snapshot(
                    "bamboohr",
                    vec![
                        account(
                            "40",
                            Some("lena@example.com"),
                            json!({"start_date": "2024-03-04", "department": "Engineering"}),
                        ),
                        account("41", None, json!({"department": "Sales"})),
                    ],
                ),
            ),
            (
                ConnectionName::new("github"),
                snapshot(
                    "github",
                    vec![account("7", Some("sam@example.com"), json!({"x": 1}))],
                ),
            ),
        ]);
        with_hris(&mut people, &snapshots);
        assert_eq!(
            people[0].attributes["hris"],
            json!({"start_date": "2024-03-04", "department": "Engineering", "connection": "bamboohr"})
        );
        assert_eq!(
            people[0].attributes["department"], "Eng",
            "the directory's own attributes are untouched"
        );
        assert_eq!(
            people[1].attributes["hris"], "kept",
            "someone the HRIS does not know keeps what the directory said"
        );
    }
}
