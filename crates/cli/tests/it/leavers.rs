//! Leavers and joiners through the binary: a leaver's plan takes their grants in other systems before
//! it retires the directory account, and passes the safety rail only with `--allow-leavers`; a
//! joiner's `apply`, killed with SIGKILL once the account exists and run again, creates the Okta
//! account exactly once.

use std::time::Duration;

use serde_json::{Value, json};

use crate::testkit::{Workspace, read};

const PLATFORM: &str = r#"policies:
  - name: platform
    when: has(person.hris) && person.hris.department == "Platform"
    accounts:
      - system: okta
        attributes: {login: person.email, email: person.email}
    grants:
      - {system: okta, resource: group/Platform}
      - {system: slack, resource: channel/platform}
"#;

fn yesterday() -> String {
    (chrono::Utc::now() - chrono::Duration::days(1))
        .date_naive()
        .to_string()
}

/// The operation the review reads as `line`.
fn find<'p>(operations: &'p [Value], kind: &str, connection: &str, login: &str) -> &'p Value {
    operations
        .iter()
        .find(|op| {
            op["kind"] == kind
                && op["connection"] == connection
                && op["account"]["login"]
                    .as_str()
                    .is_some_and(|l| l.contains(login))
        })
        .unwrap_or_else(|| panic!("no {kind} in {connection} for {login}: {operations:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leavers_plan_is_downstream_first_and_passes_the_rail_only_with_the_leaver_allowance() {
    let ws = Workspace::start(None).await;
    // Two accounts losing access trip the rail: Sam's Okta account (retired) and Slack account (not
    // retired: Slack accounts are not declared, so that removal still counts under the allowance).
    let config = ws.path("grantflow.yaml");
    std::fs::write(
        &config,
        format!("{}\nsafety:\n  max_removed_accounts: 1\n", read(&config)),
    )
    .expect("config");
    // Sam's last day was yesterday.
    ws.admin_post_to(
        "bamboohr",
        "employees",
        json!({"id": "110", "terminationDate": yesterday()}),
    )
    .await;
    let sync = ws.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    ws.write_policy("platform.yaml", PLATFORM);
    let (plan_id, plan) = ws.plan();
    let operations = plan["operations"].as_array().cloned().unwrap_or_default();
    let sam: Vec<&Value> = operations
        .iter()
        .filter(|op| op.to_string().contains("sam.okafor"))
        .collect();
    assert_eq!(sam.len(), 4, "{sam:#?}");
    assert_eq!(
        operations.len(),
        4,
        "only the leaver has anything to change: {operations:#?}"
    );
    let sessions = find(&operations, "account_action", "okta", "sam.okafor");
    assert_eq!(sessions["action"], "clear_sessions");
    let slack = find(&operations, "remove_grant", "slack", "sam");
    let group = find(&operations, "remove_grant", "okta", "sam.okafor");
    let retire = find(&operations, "retire_account", "okta", "sam.okafor");
    assert_eq!(retire["mode"], "deactivate");
    let depends =
        |op: &Value| -> Vec<Value> { op["depends_on"].as_array().cloned().unwrap_or_default() };
    for before in [sessions, slack, group] {
        assert!(
            depends(retire).contains(&before["id"]),
            "the directory account is retired last, after {before:#}: {retire:#}"
        );
    }
    assert!(
        depends(slack).contains(&sessions["id"]),
        "sessions are revoked first: {slack:#}"
    );
    let position = |op: &Value| operations.iter().position(|o| o["id"] == op["id"]);
    assert!(position(slack) < position(retire) && position(group) < position(retire));

    let refused = ws.run(&["apply", &plan_id]);
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert!(
        refused.all().contains("safety rail") || refused.all().contains("mass_removal"),
        "{}",
        refused.all()
    );
    let wrong = ws.run(&["apply", &plan_id, "--allow-leavers", "p-000000000000"]);
    assert_ne!(
        wrong.code,
        0,
        "the allowance names its plan: {}",
        wrong.all()
    );

    let applied = ws.run(&["apply", &plan_id, "--allow-leavers", &plan_id, "--json"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let report: Value = serde_json::from_str(&applied.stdout).expect("report");
    assert_eq!(report["succeeded"], 4, "{report:#}");
    let user = ws.okta_get("/api/v1/users/sam.okafor@example.com").await;
    assert_eq!(user["status"], "DEPROVISIONED", "{user:#}");
    let export = ws.run(&["audit", "export"]);
    assert_eq!(export.code, 0, "{}", export.all());
    let allowed: Vec<Value> = export
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["action"] == "plan.leaver_allowed" && e["subject"] == plan_id.as_str())
        .collect();
    assert_eq!(allowed.len(), 1, "{}", export.stdout);
    assert!(
        allowed[0]["details"]["retired"]
            .to_string()
            .contains("sam.okafor@example.com"),
        "{:#}",
        allowed[0]
    );
    assert!(
        !export.stdout.contains("plan.mass_removal_allowed"),
        "the rail was never turned off"
    );
}

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
        send_email: true
    grants:
      - {system: okta, resource: group/Finance, authoritative: false}
"#;

/// The Okta users whose login is `login`, deprovisioned ones included.
async fn users_with_login(ws: &Workspace, login: &str) -> usize {
    let found = ws
        .okta_get(&format!(
            "/api/v1/users?search=profile.login%20eq%20%22{login}%22"
        ))
        .await;
    found
        .as_array()
        .map(|users| {
            users
                .iter()
                .filter(|u| u["profile"]["login"] == login)
                .count()
        })
        .unwrap_or(0)
}

/// The objects of a `user/…` kind the emulator wrote, with their counts.
async fn user_writes(ws: &Workspace) -> Vec<(String, u64)> {
    ws.writes()
        .await
        .into_iter()
        .filter(|(object, _)| object.starts_with("user/"))
        .map(|(object, count)| (object, count.as_u64().unwrap_or(0)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_joiners_apply_killed_and_resumed_creates_the_okta_account_exactly_once() {
    // Killed once the creation has reached Okta (and before its success was recorded or the grant
    // ran), then at a moment while the creation is in flight.
    for (trial, kill) in [None, Some(Duration::from_millis(250))]
        .into_iter()
        .enumerate()
    {
        let ws = Workspace::start(None).await;
        let login = format!("ines{trial}.moreau@example.com");
        ws.admin_post_to(
            "bamboohr",
            "employees",
            json!({"firstName": "Ines", "lastName": "Moreau", "workEmail": login,
                   "hireDate": "2024-01-08", "status": "Active", "department": "Support"}),
        )
        .await;
        assert_eq!(ws.run(&["sync"]).code, 0);
        ws.write_policy("joiners.yaml", JOINERS);
        let (plan_id, plan) = ws.plan();
        let operations = plan["operations"].as_array().cloned().unwrap_or_default();
        assert_eq!(operations.len(), 2, "{operations:#?}");
        assert_eq!(operations[0]["kind"], "create_account");
        // Every Okta call takes a while, so the kill lands between the creation and the grant.
        ws.admin_post("faults", json!({"latency_ms": 400})).await;
        let mut child = ws
            .command(&["apply", &plan_id, "--concurrency", "1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("apply starts");
        match kill {
            Some(after) => tokio::time::sleep(after).await,
            None => {
                for _ in 0..200 {
                    if !user_writes(&ws).await.is_empty() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                assert_eq!(user_writes(&ws).await.len(), 1, "the creation reached Okta");
            }
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        // Let a request the dead process already sent reach the vendor.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let group_writes_after_kill = ws
            .writes()
            .await
            .keys()
            .filter(|k| k.starts_with("group/"))
            .count();
        if kill.is_none() {
            assert_eq!(
                group_writes_after_kill, 0,
                "killed before the grant: the test would prove nothing"
            );
        }

        ws.admin_post("faults", json!({"latency_ms": 0})).await;
        let rerun = ws.run(&["apply", &plan_id, "--json"]);
        assert_eq!(rerun.code, 0, "trial {trial}: {}", rerun.all());
        let report: Value = serde_json::from_str(&rerun.stdout).expect("report JSON");
        assert_eq!(report["succeeded"], 2, "{report:#}");

        assert_eq!(users_with_login(&ws, &login).await, 1, "trial {trial}");
        let writes = user_writes(&ws).await;
        assert_eq!(
            writes.len(),
            1,
            "trial {trial}: one user created: {writes:?}"
        );
        assert_eq!(writes[0].1, 1, "trial {trial}: created once: {writes:?}");
        let user = ws.okta_get(&format!("/api/v1/users/{login}")).await;
        assert_eq!(user["status"], "PROVISIONED", "{user:#}");
        let groups = ws
            .okta_get(&format!(
                "/api/v1/users/{}/groups",
                user["id"].as_str().unwrap_or("")
            ))
            .await;
        assert!(
            groups.to_string().contains("Finance"),
            "the grant followed: {groups}"
        );
    }
}
