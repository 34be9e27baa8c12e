//! HR systems as a source of facts about people. An HRIS connection (BambooHR) syncs one account per
//! employee, matched to the directory's person by work email like any system's account; its attributes
//! (start and end date, department, title, manager, location, …) are handed to everything that reads
//! people — policy conditions, drift, requests, `grantflow person` — under one attribute, `hris`, of the
//! directory's person: `person.hris.start_date`, `person.hris.department`. The directory's own attributes
//! are left as they are, so an HRIS never silently changes what an existing condition means; a condition
//! that reads HR facts says so (`has(person.hris) && person.hris.department == "Sales"`).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use crate::{ConnectionName, LifecycleState, Person, Snapshot};

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

/// The people an HRIS knows and `people` (the directory's) do not, by work email: a joiner with no
/// directory account yet, who is planned an account when a policy declares one. Their attributes are
/// the directory's standard ones taken from the HRIS (`email`, `login`, `firstName`, `lastName`,
/// `displayName`, `department`, `title`, as far as the HRIS has them; `hris` is added by
/// [`with_hris`]); their state is `pending` (no directory account yet). Employees who have left
/// (deprovisioned) and employees without a work email are not people to create anything for.
pub fn hris_only_people(
    people: &[Person],
    snapshots: &BTreeMap<ConnectionName, Snapshot>,
) -> Vec<Person> {
    let mut known: std::collections::HashSet<String> =
        people.iter().map(|p| p.email.to_lowercase()).collect();
    let mut joiners = Vec::new();
    for snapshot in snapshots.values().filter(|s| is_hris(s)) {
        for account in &snapshot.accounts {
            let Some(email) = account.email.as_deref().map(str::to_lowercase) else {
                continue;
            };
            if account.state.is_deprovisioned() || !known.insert(email.clone()) {
                continue;
            }
            let fact = |name: &str| account.attributes.get(name).cloned();
            let mut attributes = Map::new();
            attributes.insert("email".into(), Value::String(email.clone()));
            attributes.insert("login".into(), Value::String(email.clone()));
            attributes.insert(
                "displayName".into(),
                Value::String(account.display_name.clone()),
            );
            let first_name = fact("preferred_name").or_else(|| fact("first_name"));
            for (name, value) in [
                ("firstName", first_name),
                ("lastName", fact("last_name")),
                ("department", fact("department")),
                ("title", fact("title")),
            ] {
                if let Some(value) = value {
                    attributes.insert(name.into(), value);
                }
            }
            joiners.push(Person {
                email: email.clone(),
                login: email,
                display_name: account.display_name.clone(),
                status: account.status.clone(),
                state: LifecycleState::Pending,
                attributes,
            });
        }
    }
    joiners
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

    #[test]
    fn people_only_the_hris_knows_are_joiners_and_leavers_are_not() {
        let people = snapshot(
            "okta",
            vec![account("00u1", Some("lena@example.com"), json!({}))],
        )
        .people();
        let mut gone = account(
            "42",
            Some("old@example.com"),
            json!({"department": "Sales"}),
        );
        gone.state = LifecycleState::Deprovisioned;
        let snapshots = BTreeMap::from([(
            ConnectionName::new("bamboohr"),
            snapshot(
                "bamboohr",
                vec![
                    account("40", Some("LENA@example.com"), json!({})),
                    account(
                        "41",
                        Some("Nia@Example.com"),
                        json!({"first_name": "Nia", "last_name": "Park", "department": "Sales", "start_date": "2027-01-11"}),
                    ),
                    gone,
                    account("43", None, json!({"department": "Sales"})),
                ],
            ),
        )]);
        let joiners = hris_only_people(&people, &snapshots);
        assert_eq!(joiners.len(), 1, "{joiners:?}");
        let nia = &joiners[0];
        assert_eq!(nia.email, "nia@example.com");
        assert_eq!(nia.state, LifecycleState::Pending);
        assert_eq!(nia.attributes["firstName"], "Nia");
        assert_eq!(nia.attributes["lastName"], "Park");
        assert_eq!(nia.attributes["department"], "Sales");
        assert_eq!(nia.attributes["email"], "nia@example.com");
    }
}
