//! The fault matrix: one multi-operation plan applied while the sandbox
//! misbehaves in one way at a time. Each run either converges (every
//! operation done, each exactly once) or ends with a clear, vendor-coded
//! failure; nothing is silently dropped.

use crate::testkit::Workspace;
use serde_json::{Value, json};
use std::fmt::Write;

const PEOPLE: usize = 8;

fn org() -> String {
    let mut yaml = String::from("okta:\n  users:\n");
    for n in 0..PEOPLE {
        let _ = writeln!(
            yaml,
            "    - {{ login: p{n}@example.com, firstName: P, lastName: N{n}, department: Eng, title: {} }}",
            if n % 2 == 0 { "Operator" } else { "Engineer" }
        );
    }
    yaml.push_str("  groups:\n    - { name: Target, members: [] }\n  apps:\n    - { name: console, label: Console }\n");
    yaml
}

const POLICY: &str = r#"policies:
  - name: eng-target
    when: person.department == "Eng"
    grants:
      - { system: okta, resource: group/Target }
  - name: operators-console
    when: person.title == "Operator"
    grants:
      - { system: okta, resource: app/Console }
"#;

const OPERATIONS: usize = PEOPLE + PEOPLE / 2;

/// A synced, planned workspace with a 1 s client timeout.
async fn planned() -> (Workspace, String) {
    let workspace = Workspace::start(Some(&org())).await;
    workspace.set_okta_option("timeout_seconds: 1");
    workspace.write_policy("p.yaml", POLICY);
    let sync = workspace.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    let (plan_id, plan) = workspace.plan();
    assert_eq!(
        plan["operations"].as_array().map(Vec::len),
        Some(OPERATIONS)
    );
    (workspace, plan_id)
}

/// Applies until done, as an operator would: a run that gives up on an
/// operation after its attempts must say why in the vendor's words, and the
/// next run picks it up. Three runs at most.
async fn assert_converges(workspace: &Workspace, plan_id: &str, fault: &str) -> Value {
    let mut run = workspace.run(&["apply", plan_id, "--json", "--concurrency", "2"]);
    for _ in 0..2 {
        if run.code == 0 {
            break;
        }
        let report: Value = serde_json::from_str(&run.stdout).expect("report JSON");
        for op in report["operations"].as_array().into_iter().flatten() {
            if op["state"] == "failed" {
                assert!(
                    op["error_code"].as_str().is_some_and(|c| !c.is_empty()),
                    "{fault}: {op}"
                );
            }
        }
        run = workspace.run(&["apply", plan_id, "--json", "--concurrency", "2"]);
    }
    assert_eq!(run.code, 0, "{fault}: {}", run.all());
    let report: Value = serde_json::from_str(&run.stdout).expect("report JSON");
    assert_eq!(report["succeeded"], OPERATIONS, "{fault}: {}", run.stdout);
    let writes = workspace.writes().await;
    assert_eq!(writes.len(), OPERATIONS, "{fault}: {writes:?}");
    for (object, count) in &writes {
        assert_eq!(
            count.as_u64(),
            Some(1),
            "{fault}: {object} written {count} times"
        );
    }
    let verify = workspace.run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "{fault}: {}", verify.all());
    report
}

fn attempts(report: &Value) -> u64 {
    report["operations"]
        .as_array()
        .map(|ops| ops.iter().filter_map(|op| op["attempts"].as_u64()).sum())
        .unwrap_or(0)
}

/// Operations recorded as done because a read found them applied.
fn observed(report: &Value) -> usize {
    report["operations"]
        .as_array()
        .map(|ops| {
            ops.iter()
                .filter(|op| op["outcome"] == "already_present")
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tight_rate_limit_is_scheduled_not_discovered() {
    let (workspace, plan_id) = planned().await;
    workspace
        .admin_post("rate-limits", json!({"window_seconds": 1, "all": 4}))
        .await;
    assert_converges(&workspace, &plan_id, "rate limit").await;
    let counters = workspace.admin_get("counters").await;
    let throttled: u64 = counters["throttled"]
        .as_object()
        .map(|buckets| buckets.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    // Only calls sent before the first answer of a bucket could overshoot.
    assert!(
        throttled <= 2,
        "{throttled} requests were throttled: {counters}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_until_done() {
    let (workspace, plan_id) = planned().await;
    workspace
        .admin_post("faults", json!({"error_rate": 0.4, "error_status": 503}))
        .await;
    let report = assert_converges(&workspace, &plan_id, "503s").await;
    assert!(
        attempts(&report) > OPERATIONS as u64,
        "some attempts failed and were retried: {report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn added_latency_only_slows_things_down() {
    let (workspace, plan_id) = planned().await;
    workspace
        .admin_post("faults", json!({"latency_ms": 150}))
        .await;
    assert_converges(&workspace, &plan_id, "latency").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_lost_to_timeouts_are_observed_not_repeated() {
    let (workspace, plan_id) = planned().await;
    workspace
        .admin_post("network", json!({"timeout_rate": 0.5, "timeout_ms": 1500}))
        .await;
    let report = assert_converges(&workspace, &plan_id, "timeouts").await;
    assert!(
        observed(&report) > 0,
        "some lost answers were found applied: {report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_lost_to_connection_resets_are_observed_not_repeated() {
    let (workspace, plan_id) = planned().await;
    // The first three writes surely lose their answer; then half of all calls may.
    workspace
        .admin_post(
            "network",
            json!({"reset_next_writes": 3, "reset_rate": 0.5}),
        )
        .await;
    let report = assert_converges(&workspace, &plan_id, "resets").await;
    assert!(
        observed(&report) > 0,
        "some lost answers were found applied: {report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_window_is_waited_out() {
    let (workspace, plan_id) = planned().await;
    workspace
        .admin_post("network", json!({"outage_seconds": 2.0}))
        .await;
    assert_converges(&workspace, &plan_id, "outage").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_deleted_by_hand_fails_its_operations_in_oktas_words() {
    let (workspace, plan_id) = planned().await;
    let groups = workspace.okta_get("/api/v1/groups?q=Target").await;
    let group_id = groups[0]["id"].as_str().expect("group").to_string();
    let url = format!("{}/api/v1/groups/{group_id}", workspace.okta().base_url);
    let deleted = reqwest::Client::new()
        .delete(&url)
        .header("Authorization", format!("SSWS {}", workspace.token()))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status().as_u16(), 204);

    let run = workspace.run(&["apply", &plan_id, "--json"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let report: Value = serde_json::from_str(&run.stdout).expect("report JSON");
    assert_eq!(report["failed"], PEOPLE, "{}", run.stdout);
    assert_eq!(
        report["succeeded"],
        PEOPLE / 2,
        "the app assignments are unaffected"
    );
    let failures: Vec<&Value> = report["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter(|op| op["state"] == "failed")
        .collect();
    for failure in failures {
        assert_eq!(failure["error_code"], "E0000007", "{failure}");
        assert!(
            failure["error_message"]
                .as_str()
                .unwrap_or_default()
                .contains(&group_id),
            "{failure}"
        );
    }
}
