//! Accounts as code, end to end: a joiner only the HRIS knows gets an Okta account from a policy's
//! `accounts:`, created once with a temporary password that is shown once and stored nowhere, and the
//! policy's grant lands on the new account in the same plan.

use serde_json::{Value, json};

use crate::testkit::Workspace;

const JOINERS: &str = r#"policies:
  - name: support-joiners
    when: has(person.hris) && person.hris.department == "Support"
    accounts:
      - system: okta
        attributes:
          login: person.email
          email: person.email
          firstName: person.hris.first_name
          lastName: person.hris.last_name
        temporary_password: true
    grants:
      - {system: okta, resource: group/Finance, authoritative: false}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_joiner_only_the_hris_knows_gets_an_okta_account_and_its_password_is_stored_nowhere() {
    let ws = Workspace::start(None).await;
    ws.admin_post_to(
        "bamboohr",
        "employees",
        json!({"firstName": "Ines", "lastName": "Moreau", "workEmail": "ines.moreau@example.com",
               "hireDate": "2024-01-08", "status": "Active", "department": "Support", "jobTitle": "Agent"}),
    )
    .await;
    assert_eq!(ws.run(&["sync"]).code, 0);
    ws.write_policy("joiners.yaml", JOINERS);
    let (plan_id, plan) = ws.plan();
    let operations = plan["operations"].as_array().cloned().unwrap_or_default();
    let ines: Vec<&Value> = operations
        .iter()
        .filter(|op| op.to_string().contains("ines.moreau@example.com"))
        .collect();
    assert_eq!(ines.len(), 2, "a creation and a grant: {ines:#?}");
    assert_eq!(ines[0]["kind"], "create_account", "{ines:#?}");
    assert_eq!(ines[0]["options"]["temporary_password"], true);
    assert_eq!(ines[1]["kind"], "add_grant");
    assert_eq!(ines[1]["account"]["id"], "pending:ines.moreau@example.com");
    assert!(
        ines[1]["depends_on"]
            .as_array()
            .is_some_and(|d| d.contains(&ines[0]["id"])),
        "the grant waits for the account: {ines:#?}"
    );

    let run = ws.run(&["apply", &plan_id]);
    assert_eq!(run.code, 0, "{}", run.all());
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("One-time secret for ines.moreau@example.com"))
        .unwrap_or_else(|| panic!("no secret line: {}", run.all()));
    let password = line.rsplit(' ').next().expect("password").to_string();
    assert!(password.len() >= 12, "{line}");
    assert_eq!(run.stdout.matches(&password).count(), 1, "{}", run.all());
    assert!(!run.stderr.contains(&password));
    let export = ws.run(&["audit", "export"]);
    assert_eq!(export.code, 0, "{}", export.all());
    assert!(
        !export.stdout.contains(&password),
        "the password reached the audit trail"
    );
    for entry in std::fs::read_dir(ws.path(".grantflow")).expect("dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&password), "the password reached the store");
    }

    assert_eq!(ws.run(&["sync"]).code, 0);
    let person = ws.run(&["person", "ines.moreau@example.com", "--json"]);
    assert_eq!(person.code, 0, "{}", person.all());
    assert!(
        person.stdout.contains("PASSWORD_EXPIRED") && person.stdout.contains("Finance"),
        "an Okta account with its password to change, in Finance: {}",
        person.stdout
    );
    let (_, again) = ws.plan();
    assert!(
        !again.to_string().contains("ines.moreau@example.com"),
        "nothing left to do for her: {again:#}"
    );
}
