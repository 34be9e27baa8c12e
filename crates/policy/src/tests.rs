//! Policy loading: what authors see when they get it right and wrong.

use super::*;
use grantflow_model::{Account, ResourceKind, SystemKind};
use serde_json::json;

fn load(text: &str) -> Result<PolicySet, Diagnostics> {
    PolicySet::from_sources(vec![(PathBuf::from("p.yaml"), text.to_string())])
}

fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => vec![],
        Err(d) => d.0.iter().map(ToString::to_string).collect(),
    }
}

fn person(department: &str) -> Person {
    let mut attributes = serde_json::Map::new();
    attributes.insert("department".into(), json!(department));
    attributes.insert("level".into(), json!(5));
    Person {
        email: "a@example.com".into(),
        login: "a@example.com".into(),
        display_name: "A".into(),
        status: "ACTIVE".into(),
        state: Default::default(),
        attributes,
    }
}

const GOOD: &str = r#"policies:
  - name: platform
    when: person.department == "Platform" && person.level >= 3
    grants:
      - system: okta
        resource: group/Production Access Demo
"#;

#[test]
fn a_valid_policy_matches_by_its_condition() {
    let set = load(GOOD).expect("valid");
    assert_eq!(set.policies.len(), 1);
    let matched = set.matching(&person("Platform")).expect("evaluates");
    assert_eq!(matched.len(), 1);
    assert!(
        set.matching(&person("Sales"))
            .expect("evaluates")
            .is_empty()
    );
}

#[test]
fn an_unknown_field_is_reported_with_its_line_and_column() {
    let text = "policies:\n  - name: x\n    grantz: []\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("p.yaml:3:5: error:"), "{}", errors[0]);
    assert!(errors[0].contains("grantz"), "{}", errors[0]);
}

#[test]
fn a_wrong_type_is_reported_with_its_line_and_column() {
    let text = "policies:\n  - name: x\n    grants: \"everything\"\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("p.yaml:3:13: error:"),
        "{}",
        errors[0]
    );
}

#[test]
fn broken_yaml_is_reported_with_its_line_and_column() {
    let text = "policies:\n  - name: [unclosed\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("p.yaml:"), "{}", errors[0]);
    assert!(
        !errors[0].starts_with("p.yaml: "),
        "has a position: {}",
        errors[0]
    );
}

#[test]
fn a_cel_syntax_error_points_at_the_condition() {
    let text = "policies:\n  - name: x\n    when: person.department ==\n    grants:\n      - {system: okta, resource: group/G}\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("p.yaml:3:11: error: invalid CEL"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_cel_type_error_is_caught_at_load_time() {
    let text = "policies:\n  - name: x\n    when: person.department + 1\n    grants:\n      - {system: okta, resource: group/G}\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("p.yaml:3:11: error: policy \"x\": adds a string to a number"),
        "{}",
        errors[0]
    );
    let not_bool = "policies:\n  - name: x\n    when: person.department\n    grants:\n      - {system: okta, resource: group/G}\n";
    let errors = super::tests::errors(not_bool);
    assert!(errors[0].contains("must be a boolean"), "{}", errors[0]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "policies:\n  - name: a\n    grants:\n      - {system: okta, resource: nogroupslash}\n  - name: a\n    grants:\n      - {system: okta, resource: group/G}\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("<kind>/<name>"));
    assert!(
        errors[1].contains("already used at p.yaml:2:11"),
        "{}",
        errors[1]
    );
}

fn snapshot() -> BTreeMap<ConnectionName, Snapshot> {
    let mut snapshot = Snapshot::new(ConnectionName::new("okta"), SystemKind::new("okta"));
    snapshot.accounts.push(Account {
        id: "00u1".into(),
        login: "a@example.com".into(),
        email: Some("a@example.com".into()),
        display_name: "A".into(),
        status: "ACTIVE".into(),
        state: Default::default(),
        attributes: Default::default(),
    });
    snapshot.resources.push(Resource {
        id: "00g1".into(),
        kind: ResourceKind::new("group"),
        name: "Production Access Demo".into(),
        entitlements: vec!["member".into()],
        entitlement_aliases: Default::default(),
        writable: true,
        attributes: Default::default(),
    });
    BTreeMap::from([(ConnectionName::new("okta"), snapshot)])
}

#[test]
fn a_grant_naming_an_unknown_group_is_an_error_naming_it() {
    let text = GOOD.replace("Production Access Demo", "Prod Access Typo");
    let set = load(&text).expect("parses");
    let errors = set
        .check_references(&snapshot())
        .expect_err("unknown group");
    let message = errors.to_string();
    assert!(message.starts_with("p.yaml:6:19: error:"), "{message}");
    assert!(
        message.contains("\"Prod Access Typo\" does not exist"),
        "{message}"
    );
    load(GOOD)
        .expect("parses")
        .check_references(&snapshot())
        .expect("known group");
}

#[test]
fn a_grant_naming_an_unknown_system_is_an_error_naming_it() {
    let set = load(&GOOD.replace("system: okta", "system: octa")).expect("parses");
    let message = set
        .check_references(&snapshot())
        .expect_err("unknown")
        .to_string();
    assert!(message.contains("unknown system \"octa\""), "{message}");
}

#[test]
fn the_json_schema_describes_the_policy_file() {
    let schema = json_schema();
    let text = schema.to_string();
    assert!(text.contains("\"policies\""), "{text}");
    assert!(text.contains("\"grants\""), "{text}");
    assert!(text.contains("additionalProperties"), "{text}");
}

fn repository_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

#[test]
fn the_shipped_schema_is_the_generated_one() {
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        let text = serde_json::to_string_pretty(&json_schema()).expect("serialises") + "\n";
        std::fs::write(repository_file("schemas/policy.schema.json"), text).expect("written");
    }
    let shipped = std::fs::read_to_string(repository_file("schemas/policy.schema.json"))
        .expect("schemas/policy.schema.json is shipped");
    let shipped: serde_json::Value = serde_json::from_str(&shipped).expect("valid JSON");
    assert_eq!(
        shipped,
        json_schema(),
        "regenerate with: UPDATE_SCHEMA=1 cargo test -p grantflow-policy shipped_schema"
    );
}

#[test]
fn the_example_policies_load() {
    let set = PolicySet::load(&repository_file("examples/policies")).expect("examples are valid");
    assert!(
        set.policies
            .iter()
            .any(|p| p.name == "sre-production-access")
    );
}

#[test]
fn the_equality_shortcut_agrees_with_the_interpreter() {
    let set = load(
        "policies:\n  - name: eq\n    when: person.department == \"Platform\"\n    grants:\n      - {system: okta, resource: group/G}\n  - name: cel\n    when: person.department == \"Platform\" && true\n    grants:\n      - {system: okta, resource: group/G}\n  - name: number\n    when: person.level == \"5\"\n    grants:\n      - {system: okta, resource: group/G}\n  - name: missing\n    when: has(person.costCenter) && person.costCenter == \"42\"\n    grants:\n      - {system: okta, resource: group/G}\n",
    )
    .expect("valid");
    for department in ["Platform", "Sales", ""] {
        let names: Vec<&str> = set
            .matching(&person(department))
            .expect("evaluates")
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        let expected: Vec<&str> = if department == "Platform" {
            vec!["eq", "cel"]
        } else {
            vec![]
        };
        assert_eq!(names, expected, "department {department:?}");
    }
}

#[test]
fn resources_and_pushes_are_read_with_their_places_and_bad_refs_are_located() {
    let text = r#"resources:
  - system: opa
    resource: security_policy/access
    spec: {groups: [G], privileges: {secret_reveal: true}}
    requires:
      - {system: opa, resource: group/G}
pushes:
  - {system: okta, group: G, app: OPA, creates: {system: opa, resource: group/G}}
"#;
    let set = load(text).expect("valid");
    assert!(set.policies.is_empty());
    let declared = &set.resources[0];
    assert_eq!(declared.target.kind, "security_policy");
    assert_eq!(declared.spec["privileges"]["secret_reveal"], json!(true));
    assert_eq!(declared.requires[0].name, "G");
    assert_eq!(set.pushes[0].app.name, "OPA");
    assert_eq!(
        set.pushes[0].creates.as_ref().map(|c| c.kind.as_str()),
        Some("group")
    );
    let errors = errors("resources:\n  - system: opa\n    resource: no-kind\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("p.yaml:3:15: error:"),
        "{}",
        errors[0]
    );
}

fn directory_with(attributes: &[serde_json::Value]) -> BTreeMap<ConnectionName, Snapshot> {
    let mut snapshot = Snapshot::new(ConnectionName::new("okta"), SystemKind::new("okta"));
    for (index, attrs) in attributes.iter().enumerate() {
        snapshot.accounts.push(Account {
            id: format!("00u{index}"),
            login: format!("p{index}@example.com"),
            email: Some(format!("p{index}@example.com")),
            display_name: format!("P{index}"),
            status: "ACTIVE".into(),
            state: Default::default(),
            attributes: attrs.as_object().cloned().unwrap_or_default(),
        });
    }
    snapshot.resources.push(grantflow_model::Resource {
        id: "00g1".into(),
        kind: ResourceKind::new("group"),
        name: "G".into(),
        entitlements: vec!["member".into()],
        entitlement_aliases: Default::default(),
        writable: true,
        attributes: Default::default(),
    });
    BTreeMap::from([(ConnectionName::new("okta"), snapshot)])
}

fn check_errors(text: &str, snapshots: &BTreeMap<ConnectionName, Snapshot>) -> Vec<String> {
    let set = load(text).expect("loads");
    match set.check(snapshots, &ConnectionName::new("okta")) {
        Ok(()) => vec![],
        Err(d) => d.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_misspelt_attribute_is_located_with_a_suggestion() {
    let snapshots = directory_with(&[json!({"department": "Engineering", "level": 3})]);
    let text = "policies:\n  - name: eng\n    when: person.active && person.departmnt == \"Engineering\"\n    grants:\n      - {system: okta, resource: group/G}\n";
    let errors = check_errors(text, &snapshots);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("p.yaml:3:28: error: policy \"eng\": unknown attribute `person.departmnt`: did you mean `person.department`?"),
        "{}",
        errors[0]
    );
}

#[test]
fn comparing_a_string_attribute_with_a_number_is_located() {
    // A built-in attribute's type is known before any sync: the file does not even load.
    let builtin = "policies:\n  - name: eng\n    when: person.department == 5\n    grants:\n      - {system: okta, resource: group/G}\n";
    let errors = errors(builtin);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("p.yaml:3:11: error:"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("compares `person.department` (a string) with 5"),
        "{}",
        errors[0]
    );
    // A directory attribute's type is known from the last sync.
    let snapshots = directory_with(&[json!({"level": 3})]);
    let synced = "policies:\n  - name: eng\n    when: person.active && person.level == \"3\"\n    grants:\n      - {system: okta, resource: group/G}\n";
    let errors = check_errors(synced, &snapshots);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("p.yaml:3:28: error:"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("`person.level` (a number)"),
        "{}",
        errors[0]
    );
}

#[test]
fn an_attribute_not_everyone_has_is_tested_with_has_first() {
    let snapshots = directory_with(&[json!({"costCenter": "CC-1"}), json!({})]);
    let unguarded = "policies:\n  - name: cc\n    when: person.costCenter == \"CC-1\"\n    grants:\n      - {system: okta, resource: group/G}\n";
    let errors = check_errors(unguarded, &snapshots);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("has(person.costCenter)"),
        "{}",
        errors[0]
    );
    for guarded in [
        "has(person.costCenter) && person.costCenter == \\\"CC-1\\\"",
        "!has(person.costCenter) || person.costCenter != \\\"CC-1\\\"",
        "has(person.costCenter) ? person.costCenter == \\\"CC-1\\\" : false",
    ] {
        let text = format!(
            "policies:\n  - name: cc\n    when: \"{guarded}\"\n    grants:\n      - {{system: okta, resource: group/G}}\n"
        );
        assert_eq!(
            check_errors(&text, &snapshots),
            Vec::<String>::new(),
            "{guarded}"
        );
    }
}

#[test]
fn a_condition_that_cannot_be_decided_names_the_person_and_the_policy() {
    let set = load("policies:\n  - name: numbered\n    when: int(person.employee_number) > 1000\n    grants:\n      - {system: okta, resource: group/G}\n").expect("loads");
    let mut someone = person("Platform");
    someone
        .attributes
        .insert("employee_number".into(), json!("E1000"));
    let error = set.matching(&someone).expect_err("cannot convert");
    assert!(
        error.starts_with("p.yaml:3:11: error: policy \"numbered\""),
        "{error}"
    );
    assert!(error.contains("a@example.com"), "{error}");
}

#[test]
fn hris_facts_are_known_as_person_hris_once_an_hris_is_synced_and_are_tested_with_has() {
    let text = "policies:\n  - name: sales\n    when: has(person.hris) && person.hris.department == \"Sales\"\n    grants:\n      - {system: okta, resource: group/G}\n";
    let mut snapshots = directory_with(&[json!({"department": "Engineering"})]);
    let without = check_errors(text, &snapshots);
    assert_eq!(without.len(), 2, "one for each mention: {without:?}");
    assert!(
        without
            .iter()
            .all(|e| e.contains("unknown attribute `person.hris`")),
        "{without:?}"
    );
    snapshots.insert(
        ConnectionName::new("bamboohr"),
        Snapshot::new(ConnectionName::new("bamboohr"), SystemKind::new("bamboohr")),
    );
    assert_eq!(check_errors(text, &snapshots), Vec::<String>::new());
    let unguarded = "policies:\n  - name: sales\n    when: person.hris.department == \"Sales\"\n    grants:\n      - {system: okta, resource: group/G}\n";
    let errors = check_errors(unguarded, &snapshots);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("has(person.hris)"), "{}", errors[0]);

    // The planner hands the facts over (grantflow_model::with_hris); a condition then decides on them.
    let policy = &load(text).expect("loads").policies[0];
    let mut sales = person("Engineering");
    sales
        .attributes
        .insert("hris".into(), json!({"department": "Sales"}));
    assert_eq!(policy.condition.evaluate(&sales), Ok(true));
    assert_eq!(policy.condition.evaluate(&person("Sales")), Ok(false));
}

const ACCOUNTS: &str = r#"policies:
  - name: joiners
    when: has(person.hris) && person.hris.department == "Sales"
    accounts:
      - system: okta
        attributes:
          login: person.email
          firstName: person.hris.first_name
        send_email: false
        retire: delete
        delete_after_days: 30
"#;

#[test]
fn accounts_are_read_with_their_options_and_defaults() {
    let set = load(ACCOUNTS).expect("loads");
    assert!(set.declares_accounts());
    let account = &set.policies[0].accounts[0];
    assert_eq!(account.connection.as_str(), "okta");
    let names: Vec<&str> = account.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["firstName", "login"]);
    assert_eq!(
        account.options,
        grantflow_model::AccountOptions {
            activate: true,
            send_email: false,
            temporary_password: false
        }
    );
    assert_eq!(account.retire, grantflow_model::RetireMode::Delete);
    assert_eq!(account.delete_after_days, 30);
    assert!(!load(GOOD).expect("loads").declares_accounts());
}

#[test]
fn account_options_that_cannot_work_together_are_located() {
    let text = "policies:\n  - name: p\n    accounts:\n      - system: okta\n        activate: false\n        temporary_password: true\n        delete_after_days: 3\n      - system: okta\n";
    let found = self::errors(text);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found[0].starts_with("p.yaml:4:17") && found[0].contains("needs `activate: true`"),
        "{found:?}"
    );
    assert!(found[1].contains("needs `retire: delete`"), "{found:?}");
    assert!(
        found[2].starts_with("p.yaml:8:17") && found[2].contains("twice"),
        "{found:?}"
    );
    let unknown_mode = self::errors(
        "policies:\n  - name: p\n    accounts:\n      - {system: okta, retire: archive}\n",
    );
    assert!(
        unknown_mode
            .iter()
            .any(|e| e.starts_with("p.yaml:4:") && e.contains("archive")),
        "{unknown_mode:?}"
    );
}

#[test]
fn an_account_attribute_is_checked_like_a_condition_at_its_line() {
    let snapshots = directory_with(&[json!({"department": "Sales"})]);
    let text = "policies:\n  - name: p\n    accounts:\n      - system: okta\n        attributes:\n          firstName: person.departmnt\n      - system: oktaa\n";
    let errors = check_errors(text, &snapshots);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("p.yaml:6:")
            && errors[0].contains("account attribute `firstName`")
            && errors[0].contains("did you mean `person.department`"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("p.yaml:7:") && errors[1].contains("oktaa"),
        "{errors:?}"
    );
}
