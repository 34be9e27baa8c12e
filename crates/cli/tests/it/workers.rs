//! PostgreSQL mode: three `grantflow worker` processes share one plan; one
//! is SIGKILLed mid-run; every operation still takes effect exactly once.

use crate::apply_crash::{POLICY, org};
use crate::testkit::Workspace;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn three_workers_share_a_plan_and_survive_one_being_killed() {
    let Some(database) = grantflow_store::testing::postgres_url("three_workers_share_a_plan").await
    else {
        return;
    };
    let workspace = Workspace::start(Some(&org())).await;
    workspace.write_policy("p.yaml", POLICY);
    let with_db = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--database".to_string(), database.clone()]);
        all
    };
    let run = |args: &[&str]| {
        let args = with_db(args);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        workspace.run(&refs)
    };
    assert_eq!(run(&["sync"]).code, 0);
    let planned = run(&["plan", "--json"]);
    assert_eq!(planned.code, 0, "{}", planned.all());
    let plan: serde_json::Value = serde_json::from_str(&planned.stdout).expect("plan JSON");
    let plan_id = plan["id"].as_str().expect("id").to_string();
    let total = plan["operations"].as_array().map(Vec::len).unwrap_or(0);
    workspace
        .admin_post("faults", serde_json::json!({"latency_ms": 40}))
        .await;
    let queued = run(&["apply", &plan_id, "--queue"]);
    assert_eq!(queued.code, 0, "{}", queued.all());

    let spawn = || -> Child {
        let args = with_db(&[
            "worker",
            "--exit-when-idle",
            "--lease-seconds",
            "2",
            "--concurrency",
            "2",
        ]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        workspace
            .command(&refs)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("worker starts")
    };
    let mut workers: Vec<Child> = (0..3).map(|_| spawn()).collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    workers[0].kill().expect("SIGKILL");
    let _ = workers[0].wait();
    let started = Instant::now();
    for worker in workers.iter_mut().skip(1) {
        loop {
            if worker.try_wait().expect("status").is_some() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "workers did not finish"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let writes = workspace.writes().await;
    assert_eq!(writes.len(), total, "{writes:?}");
    for (object, count) in &writes {
        assert_eq!(count.as_u64(), Some(1), "{object} written {count} times");
    }
    let report = run(&["apply", &plan_id, "--json"]);
    assert_eq!(report.code, 0, "{}", report.all());
    let verify = run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.all());
}
