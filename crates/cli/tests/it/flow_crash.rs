//! `grantflow flow run` killed with SIGKILL at 20 seeded instants, then `grantflow worker` takes the run
//! up: every step's effect happens exactly once (each membership written once), the run succeeds, and
//! the audit chain verifies. `GRANTFLOW_KILL_TRIALS` and `GRANTFLOW_TEST_SEED` for a longer soak.

use crate::testkit::Workspace;
use rand::{Rng, SeedableRng};
use std::fmt::Write;
use std::time::Duration;

const PEOPLE: usize = 8;

fn org() -> String {
    let mut yaml = String::from("okta:\n  users:\n");
    for n in 0..PEOPLE {
        let _ = writeln!(
            yaml,
            "    - {{ login: hire{n}@example.com, firstName: Hire, lastName: N{n}, department: Eng, title: Engineer }}"
        );
    }
    yaml.push_str("  groups:\n    - { name: Onboarded, members: [] }\n");
    yaml
}

fn flow() -> String {
    let logins: Vec<String> = (0..PEOPLE)
        .map(|n| format!("\"hire{n}@example.com\""))
        .collect();
    format!(
        r#"flow: onboard-batch
trigger: {{manual: {{}}}}
steps:
  - id: hires
    card: set
    with: {{logins: [{}]}}
  - id: each
    for_each: "steps.hires.logins"
    as: login
    steps:
      - id: person
        card: person.get
        with: {{who: "${{login}}"}}
      - id: join
        card: grant.add
        with: {{connection: okta, who: "${{steps.person.login}}", resource: Onboarded}}
  - id: done
    return: {{count: "${{steps.each.count}}"}}
"#,
        logins.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_flow_run_resumes_with_every_effect_exactly_once() {
    let seed = std::env::var("GRANTFLOW_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261204u64);
    let trials: usize = std::env::var("GRANTFLOW_KILL_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut interrupted_midway = 0;
    for trial in 0..trials {
        let workspace = Workspace::start(Some(&org())).await;
        std::fs::create_dir_all(workspace.path("flows")).unwrap();
        std::fs::write(workspace.path("flows/onboard-batch.yaml"), flow()).unwrap();
        let sync = workspace.run(&["sync"]);
        assert_eq!(sync.code, 0, "{}", sync.all());
        workspace
            .admin_post("faults", serde_json::json!({"latency_ms": 40}))
            .await;
        let kill_after = Duration::from_millis(rng.random_range(100..1500));
        let mut child = workspace
            .command(&["flow", "run", "onboard-batch"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("flow run starts");
        tokio::time::sleep(kill_after).await;
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after_kill: u64 = workspace
            .writes()
            .await
            .values()
            .filter_map(|v| v.as_u64())
            .sum();
        if after_kill > 0 && (after_kill as usize) < PEOPLE {
            interrupted_midway += 1;
        }
        let runs = workspace.run(&["flow", "runs", "--json"]);
        let runs: serde_json::Value = serde_json::from_str(&runs.stdout).expect("runs JSON");
        let Some(run) = runs[0]["id"].as_str().map(str::to_string) else {
            // Killed before the run was stored: nothing happened, nothing to resume.
            assert_eq!(after_kill, 0, "trial {trial}: writes without a run");
            continue;
        };
        let worker = workspace.run(&["worker", "--exit-when-idle"]);
        assert_eq!(worker.code, 0, "trial {trial}: {}", worker.all());
        let shown = workspace.run(&["flow", "run-show", &run, "--json"]);
        let shown: serde_json::Value = serde_json::from_str(&shown.stdout).expect("run JSON");
        assert_eq!(
            shown["state"], "succeeded",
            "trial {trial} (killed after {kill_after:?}): {shown}"
        );
        assert_eq!(shown["output"]["count"], PEOPLE);

        let writes = workspace.writes().await;
        assert_eq!(
            writes.len(),
            PEOPLE,
            "trial {trial}: one object per hire: {writes:?}"
        );
        for (object, count) in &writes {
            assert_eq!(
                count.as_u64(),
                Some(1),
                "trial {trial}: {object} written {count} times"
            );
        }
        let group = workspace.okta_get("/api/v1/groups?q=Onboarded").await;
        let group_id = group[0]["id"].as_str().expect("group id").to_string();
        let members = workspace
            .okta_get(&format!("/api/v1/groups/{group_id}/users?limit=200"))
            .await;
        assert_eq!(members.as_array().map(Vec::len), Some(PEOPLE));
        let verify = workspace.run(&["audit", "verify"]);
        assert_eq!(verify.code, 0, "{}", verify.all());
        eprintln!(
            "trial {trial}: killed after {kill_after:?} with {after_kill}/{PEOPLE} writes done"
        );
    }
    assert!(
        interrupted_midway > 0,
        "no trial was killed in the middle of the run; the test proves nothing"
    );
}
