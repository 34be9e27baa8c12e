//! Profile attributes as code: what a policy's `profile:` sets on a matching person's account,
//! against what the last sync saw, as one partial update per account (only the attributes that
//! differ, each shown before → after).

use std::collections::BTreeMap;

use grantflow_model::{AccountRef, ConnectionName, OpKind, Person};
use grantflow_policy::PolicySet;
use serde_json::{Map, Value};

use crate::correlate::Correlated;
use crate::{ActualState, PlanError};

/// Planned changes: each operation with its connection and reasons.
type Changes = Vec<(OpKind, ConnectionName, Vec<String>)>;

/// The value one attribute should have, and the policy that says so.
struct Wanted<'p> {
    value: Value,
    policy: &'p str,
}

/// One `update_profile` per account whose attributes differ from what matching policies set,
/// with the policies as reasons; notes for people with no account to set them on. Two policies
/// setting one attribute of one person differently is an error naming both.
pub fn plan_profiles(
    policies: &PolicySet,
    actual: &ActualState,
    people: &[Person],
    correlated: &BTreeMap<&ConnectionName, Correlated<'_>>,
) -> Result<(Changes, Vec<String>), PlanError> {
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    if policies.policies.iter().all(|p| p.profile.is_empty()) {
        return Ok((changes, notes));
    }
    for person in people {
        if person.state.is_deprovisioned() {
            continue;
        }
        let matched = policies.matching(person).map_err(PlanError::Policy)?;
        let mut wanted: BTreeMap<&ConnectionName, BTreeMap<&str, Wanted<'_>>> = BTreeMap::new();
        for policy in matched {
            for profile in &policy.profile {
                let attributes = wanted.entry(&profile.connection).or_default();
                for attribute in &profile.attributes {
                    let value = attribute.expression.value_for(person).map_err(|why| {
                        PlanError::Policy(format!(
                            "policy \"{}\": profile attribute `{}` for {}: {why}",
                            policy.name, attribute.name, person.email
                        ))
                    })?;
                    match attributes.get(attribute.name.as_str()) {
                        Some(earlier) if earlier.value != value => {
                            return Err(PlanError::Policy(format!(
                                "policies \"{}\" and \"{}\" set {} attribute `{}` of {} differently ({} and {})",
                                earlier.policy,
                                policy.name,
                                profile.connection,
                                attribute.name,
                                person.email,
                                earlier.value,
                                value
                            )));
                        }
                        Some(_) => {}
                        None => {
                            attributes.insert(
                                &attribute.name,
                                Wanted {
                                    value,
                                    policy: &policy.name,
                                },
                            );
                        }
                    }
                }
            }
        }
        for (connection, attributes) in wanted {
            let Some(matches) = correlated.get(connection) else {
                continue;
            };
            let Some(account) = matches.account_for(&person.email) else {
                if !matches.is_ambiguous(&person.email) && actual.snapshots.contains_key(connection)
                {
                    notes.push(format!(
                        "{} has no account in {connection}; its profile attributes ({}) are set once it exists",
                        person.email,
                        attributes.keys().copied().collect::<Vec<_>>().join(", ")
                    ));
                }
                continue;
            };
            let (mut before, mut after) = (Map::new(), Map::new());
            let mut reasons: Vec<String> = Vec::new();
            for (name, wanted) in attributes {
                let held = account.attributes.get(name).unwrap_or(&Value::Null);
                if *held == wanted.value {
                    continue;
                }
                before.insert(name.to_string(), held.clone());
                after.insert(name.to_string(), wanted.value);
                let reason = format!("policy {}", wanted.policy);
                if !reasons.contains(&reason) {
                    reasons.push(reason);
                }
            }
            if after.is_empty() {
                continue;
            }
            let account = AccountRef {
                id: account.id.clone(),
                login: account.login.clone(),
            };
            changes.push((
                OpKind::update_profile(account, before, after),
                connection.clone(),
                reasons,
            ));
        }
    }
    Ok((changes, notes))
}

#[cfg(test)]
mod tests {
    use crate::plan_policies;
    use crate::tests::{lines, policies, state};
    use chrono::Utc;
    use grantflow_model::OpKind;
    use serde_json::json;

    const FLAGS: &str = r#"policies:
  - name: platform-flag
    when: person.department == "Platform"
    profile:
      - system: okta
        set:
          isMemberOfGroup: "true"
          costCenter: 'person.department + "-01"'
"#;

    #[test]
    fn a_policy_sets_only_the_attributes_that_differ_as_one_partial_update_per_account() {
        let mut actual = state();
        let okta = grantflow_model::ConnectionName::new("okta");
        if let Some(snapshot) = actual.snapshots.get_mut(&okta) {
            // cat already holds one of the two values; dan has left (nothing is set for him).
            snapshot.accounts[2]
                .attributes
                .insert("costCenter".into(), json!("Platform-01"));
        }
        let plan = plan_policies(&policies(FLAGS), &actual, "test", Utc::now()).expect("plans");
        assert_eq!(
            lines(&plan),
            vec![
                "~ okta update profile of ann@example.com: costCenter null \u{2192} \"Platform-01\"; isMemberOfGroup null \u{2192} true",
                "~ okta update profile of cat@example.com: isMemberOfGroup null \u{2192} true",
            ]
        );
        assert_eq!(plan.operations[0].reasons, vec!["policy platform-flag"]);
        let OpKind::UpdateProfile { after, .. } = &plan.operations[1].kind else {
            panic!("{:?}", plan.operations[1].kind);
        };
        assert_eq!(
            serde_json::Value::Object(after.clone()),
            json!({"isMemberOfGroup": true})
        );

        // Once the sync sees the values, nothing is planned.
        if let Some(snapshot) = actual.snapshots.get_mut(&okta) {
            for op in &plan.operations {
                snapshot.apply_change(op);
            }
        }
        let again = plan_policies(&policies(FLAGS), &actual, "test", Utc::now()).expect("plans");
        assert!(again.operations.is_empty(), "{:?}", lines(&again));
    }

    #[test]
    fn two_policies_setting_one_attribute_differently_is_an_error_naming_both() {
        let text = format!(
            "{FLAGS}  - name: platform-other\n    when: person.department == \"Platform\"\n    profile:\n      - system: okta\n        set: {{ isMemberOfGroup: \"false\" }}\n"
        );
        let error = plan_policies(&policies(&text), &state(), "test", Utc::now())
            .expect_err("conflict")
            .to_string();
        assert!(
            error.contains("\"platform-flag\" and \"platform-other\"")
                && error.contains("isMemberOfGroup")
                && error.contains("ann@example.com"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_attribute_in_a_value_is_an_error_at_its_line() {
        let text = "policies:\n  - name: p\n    profile:\n      - system: okta\n        set:\n          costCenter: person.nosuch\n";
        let error = plan_policies(&policies(text), &state(), "test", Utc::now())
            .expect_err("unknown attribute")
            .to_string();
        assert!(
            error.contains("p.yaml:6:") && error.contains("nosuch"),
            "{error}"
        );
    }
}
