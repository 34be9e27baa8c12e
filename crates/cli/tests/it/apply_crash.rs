//! `grantflow apply` killed with SIGKILL at a random instant, then rerun:
//! every operation takes effect exactly once and the audit chain verifies.
//! 30 seeded trials by default; `GRANTFLOW_KILL_TRIALS=300` (and
//! `GRANTFLOW_TEST_SEED`) for a longer soak.

use crate::testkit::Workspace;
use rand::{Rng, SeedableRng};
use std::fmt::Write;
use std::time::Duration;

const PEOPLE: usize = 30;
const WITH_CONSOLE: usize = 10;

pub fn org() -> String {
    let mut yaml = String::from("okta:\n  users:\n");
    for n in 0..PEOPLE {
        let _ = writeln!(
            yaml,
            "    - {{ login: person{n}@example.com, firstName: Person, lastName: N{n}, department: Eng, title: {} }}",
            if n < WITH_CONSOLE {
                "Operator"
            } else {
                "Engineer"
            }
        );
    }
    yaml.push_str("  groups:\n    - { name: Target, members: [] }\n");
    yaml.push_str("  apps:\n    - { name: console, label: Console }\n");
    yaml
}

pub const POLICY: &str = r#"policies:
  - name: eng-target
    when: person.department == "Eng"
    grants:
      - { system: okta, resource: group/Target }
  - name: operators-console
    when: person.title == "Operator"
    grants:
      - { system: okta, resource: app/Console }
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_apply_resumes_and_applies_every_operation_exactly_once() {
    let seed = std::env::var("GRANTFLOW_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261123u64);
    let trials: usize = std::env::var("GRANTFLOW_KILL_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut interrupted_midway = 0;
    for trial in 0..trials {
        let workspace = Workspace::start(Some(&org())).await;
        workspace.write_policy("p.yaml", POLICY);
        let sync = workspace.run(&["sync"]);
        assert_eq!(sync.code, 0, "{}", sync.all());
        let (plan_id, plan) = workspace.plan();
        let total = plan["operations"].as_array().map(Vec::len).unwrap_or(0);
        assert_eq!(total, PEOPLE + WITH_CONSOLE);

        // Slow the vendor down so the kill lands while calls are in flight.
        workspace
            .admin_post("faults", serde_json::json!({"latency_ms": 40}))
            .await;
        let kill_after = Duration::from_millis(rng.random_range(150..900));
        let mut child = workspace
            .command(&["apply", &plan_id, "--concurrency", "2"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("apply starts");
        tokio::time::sleep(kill_after).await;
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        // Let requests the dead process already sent reach the vendor.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after_kill: u64 = workspace
            .writes()
            .await
            .values()
            .filter_map(|v| v.as_u64())
            .sum();
        if after_kill > 0 && (after_kill as usize) < total {
            interrupted_midway += 1;
        }

        let rerun = workspace.run(&["apply", &plan_id, "--json"]);
        assert_eq!(
            rerun.code,
            0,
            "trial {trial} (killed after {kill_after:?}): {}",
            rerun.all()
        );
        let report: serde_json::Value = serde_json::from_str(&rerun.stdout).expect("report JSON");
        assert_eq!(report["succeeded"], total, "{}", rerun.stdout);

        let writes = workspace.writes().await;
        assert_eq!(writes.len(), total, "one object per operation: {writes:?}");
        for (object, count) in &writes {
            assert_eq!(
                count.as_u64(),
                Some(1),
                "trial {trial}: {object} written {count} times"
            );
        }
        let members = workspace.okta_get("/api/v1/groups?q=Target").await;
        let group_id = members[0]["id"].as_str().expect("group id").to_string();
        let listed = workspace
            .okta_get(&format!("/api/v1/groups/{group_id}/users?limit=200"))
            .await;
        assert_eq!(listed.as_array().map(Vec::len), Some(PEOPLE));

        let verify = workspace.run(&["audit", "verify"]);
        assert_eq!(verify.code, 0, "{}", verify.all());
        assert!(verify.stdout.starts_with("OK:"), "{}", verify.stdout);
        eprintln!(
            "trial {trial}: killed after {kill_after:?} with {after_kill}/{total} writes done"
        );
    }
    assert!(
        interrupted_midway > 0,
        "no trial was killed in the middle of the run; the test proves nothing"
    );
}
