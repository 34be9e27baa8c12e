//! Scenario 4 (seed 003): "Senior Engineer Access" for a new hire across
//! seven systems, ordered by dependency, through a Jira timeout retried
//! later and a GitLab account that only exists after the first SSO login;
//! then every emulator holds the access and nothing was written twice.

use crate::testkit::Workspace;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SCENARIO: &str =
    include_str!("../../../../examples/scenarios/senior-engineer/senior-engineer-access.yaml");
const NEW_HIRE: &str = "new.hire@example.com";
const SYSTEMS: [&str; 7] = [
    "okta",
    "google",
    "aws",
    "gitlab",
    "slack",
    "jira",
    "salesforce",
];

fn operations(plan: &Value) -> Vec<Value> {
    plan["operations"].as_array().cloned().unwrap_or_default()
}

/// The new hire's operation in `system`.
fn new_hire_op<'a>(ops: &'a [Value], system: &str) -> &'a Value {
    ops.iter()
        .find(|op| {
            op["connection"] == system
                && op["kind"] == "add_grant"
                && op["account"]["login"]
                    .as_str()
                    .is_some_and(|l| l.to_lowercase().starts_with("new"))
        })
        .unwrap_or_else(|| panic!("no {system} grant for the new hire in {ops:#?}"))
}

fn by_id(report: &Value) -> BTreeMap<u64, Value> {
    report["operations"]
        .as_array()
        .map(|ops| {
            ops.iter()
                .filter_map(|op| Some((op["id"].as_u64()?, op.clone())))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn senior_engineer_access_reaches_seven_systems_through_a_timeout_and_a_first_login() {
    let workspace = Workspace::start(None).await;
    workspace.set_connection_option("gitlab", "pending_recheck_seconds: 1");
    workspace.set_connection_option("jira", "timeout_seconds: 1");
    workspace.write_policy("senior-engineer-access.yaml", SCENARIO);
    let sync = workspace.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());

    // Ordered by dependency: the Okta group is created, the new hire joins
    // it, and only then does access elsewhere follow.
    let (plan_id, plan) = workspace.plan();
    let ops = operations(&plan);
    let create = ops
        .iter()
        .find(|op| op["kind"] == "create_resource" && op["resource"]["name"] == "Senior Engineers")
        .expect("the Okta group is created");
    let joins = new_hire_op(&ops, "okta");
    assert_eq!(joins["depends_on"], json!([create["id"]]), "{plan:#}");
    for system in SYSTEMS.iter().filter(|s| **s != "okta") {
        let op = new_hire_op(&ops, system);
        let after = op["depends_on"].as_array().cloned().unwrap_or_default();
        assert!(
            after.contains(&joins["id"]),
            "{system} waits for the Okta membership: {op:#}"
        );
        assert!(
            op["id"].as_u64() > joins["id"].as_u64(),
            "plan order: {op:#}"
        );
    }
    let gitlab = new_hire_op(&ops, "gitlab");
    assert_eq!(gitlab["account"]["id"], "pending:new.hire@example.com");

    // Jira's next write takes effect but its answer comes too late.
    workspace
        .admin_post_to(
            "jira",
            "network",
            json!({ "timeout_next_writes": 1, "timeout_ms": 2500 }),
        )
        .await;
    let first = workspace.run(&["apply", &plan_id, "--json"]);
    assert_eq!(
        first.code,
        3,
        "GitLab waits, nothing fails: {}",
        first.all()
    );
    let report: Value = serde_json::from_str(&first.stdout).expect("report");
    assert_eq!(report["failed"], 0, "{report:#}");
    let states = by_id(&report);
    let jira_id = new_hire_op(&ops, "jira")["id"].as_u64().expect("id");
    let jira = &states[&jira_id];
    // The call timed out after Jira made the change: the engine scheduled it
    // again, read Jira first, and found it done instead of repeating it.
    assert_eq!(jira["state"], "succeeded", "{jira:#}");
    assert_eq!(jira["outcome"], "already_present", "{jira:#}");
    let export = workspace.run(&["audit", "export"]);
    let jira_events: Vec<String> = export
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["subject"] == format!("{plan_id}/op{jira_id}").as_str())
        .filter_map(|e| e["action"].as_str().map(str::to_string))
        .collect();
    assert!(
        jira_events.iter().any(|a| a == "operation.retry_scheduled"),
        "the timeout was retried later: {jira_events:?}"
    );
    let gitlab_state = &states[&gitlab["id"].as_u64().expect("id")];
    assert_eq!(gitlab_state["state"], "waiting", "{gitlab_state:#}");

    // The new hire signs in to GitLab for the first time.
    workspace
        .admin_post_to("gitlab", "first-login", json!({ "email": NEW_HIRE }))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let second = workspace.run(&["apply", &plan_id, "--json"]);
    assert_eq!(second.code, 0, "{}", second.all());
    let report: Value = serde_json::from_str(&second.stdout).expect("report");
    assert_eq!(report["succeeded"], json!(ops.len()), "{report:#}");
    for op in report["operations"].as_array().expect("operations") {
        assert!(
            op["updated_at"].as_str().is_some_and(|t| t.contains('T')),
            "every step has its time: {op:#}"
        );
    }

    // Every system holds it now: a fresh sync plans nothing.
    assert_eq!(workspace.run(&["sync"]).code, 0);
    let (_, again) = workspace.plan();
    assert_eq!(again["operations"], json!([]), "{again:#}");

    // Nothing was applied twice, in any of the seven systems.
    for system in SYSTEMS {
        let writes = workspace.writes_to(system).await;
        assert!(!writes.is_empty(), "{system} was written to");
        for (key, count) in &writes {
            assert_eq!(count, 1, "{system}: {key} written {count} times");
        }
    }

    // The audit trail has every step, and it verifies.
    let export = workspace.run(&["audit", "export"]);
    let events: Vec<Value> = export
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for op in &ops {
        let subject = format!("{plan_id}/op{}", op["id"]);
        let attempts = events
            .iter()
            .filter(|e| e["action"] == "operation.attempt" && e["subject"] == subject.as_str())
            .count();
        assert!(attempts >= 1, "no attempt recorded for {subject}");
    }
    assert!(
        events.iter().any(|e| e["action"] == "operation.waiting"),
        "the GitLab wait is audited"
    );
    assert_eq!(workspace.run(&["audit", "verify"]).code, 0);
}

#[test]
fn the_demo_runs_the_senior_engineer_scenario() {
    let stdout = crate::testkit::demo_stdout(&["--scenario", "senior-engineer", "--quiet"]);
    for expected in [
        "signs in to GitLab for the first time",
        "operation.retry_scheduled",
        "operation.waiting",
        "already_present",
        "Planning again: 0 change(s) left.",
        "chain intact",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
    // PowerUserAccess in the production account is reviewed like an Okta group: the account it
    // signs in to is production, read from the AWS connection's tags.
    let aws = stdout
        .find("+ account \"prod-payments\" PowerUserAccess")
        .unwrap_or_else(|| panic!("no AWS grant in:\n{stdout}"));
    let reach = &stdout[aws..];
    assert!(
        reach.contains("service AWS account 111122223333 (prod-payments), owned by unknown (not in the catalog), system aws (new)")
            && reach.contains("via AWS Identity Center role PowerUserAccess in account 111122223333 (prod-payments)"),
        "{stdout}"
    );
}
