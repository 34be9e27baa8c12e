//! The commands a person types, and what they see.

use crate::testkit::{Workspace, read};

const DEMO_REQUEST: &str = "assign okta-demo-user@example.com to the Production Access Demo group";

async fn synced_demo() -> Workspace {
    let workspace = Workspace::start(None).await;
    let sync = workspace.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    assert!(sync.stdout.contains("synced okta"), "{}", sync.stdout);
    workspace
}

fn audit_lines(workspace: &Workspace) -> usize {
    let out = workspace.path("audit.jsonl");
    let run = workspace.run(&["audit", "export", "--output", out.to_str().expect("utf8")]);
    assert_eq!(run.code, 0, "{}", run.all());
    read(&out).lines().count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_policy_is_located_exits_non_zero_and_writes_nothing() {
    let workspace = synced_demo().await;
    workspace.write_policy(
        "bad.yaml",
        "policies:\n  - name: broken\n    grantz:\n      - {system: okta, resource: group/Engineering}\n",
    );
    let events_before = audit_lines(&workspace);
    let run = workspace.run(&["plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("bad.yaml:3:5: error:"), "{}", run.all());
    assert!(run.stderr.contains("grantz"), "{}", run.all());
    // The export itself is audited: one more event, and no plan.
    assert_eq!(audit_lines(&workspace), events_before + 1);
    assert!(!read(&workspace.path("audit.jsonl")).contains("plan.created"));
    assert!(workspace.writes().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_naming_an_unknown_group_is_an_error_naming_it() {
    let workspace = synced_demo().await;
    workspace.write_policy(
        "typo.yaml",
        "policies:\n  - name: typo\n    grants:\n      - {system: okta, resource: group/Production Acess Demo}\n",
    );
    let run = workspace.run(&["plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("typo.yaml:4:34: error: okta group \"Production Acess Demo\" does not exist"),
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn do_shows_the_reviewed_plan_then_assigns_and_the_group_apps_follow() {
    let workspace = synced_demo().await;
    let run = workspace.run(&["do", DEMO_REQUEST, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let review = run
        .stdout
        .find("+ group \"Production Access Demo\" member")
        .expect("change shown");
    for app in [
        "Checkout Production Access",
        "Graph Connector Console",
        "Production Monitors",
    ] {
        assert!(
            run.stdout.contains(&format!("brings app \"{app}\"")),
            "{app}: {}",
            run.stdout
        );
    }
    let report = run.stdout.find("Execution report").expect("report shown");
    assert!(review < report, "the review comes before the write");
    assert!(
        run.stdout.contains("1 succeeded, 0 failed"),
        "{}",
        run.stdout
    );

    let links = workspace
        .okta_get("/api/v1/users/okta-demo-user%40example.com/appLinks")
        .await;
    let labels: Vec<&str> = links
        .as_array()
        .expect("app links")
        .iter()
        .filter_map(|l| l["label"].as_str())
        .collect();
    for app in [
        "Checkout Production Access",
        "Graph Connector Console",
        "Production Monitors",
    ] {
        assert!(labels.contains(&app), "{app} missing from {labels:?}");
    }
    let export = workspace.path("audit.jsonl");
    workspace.run(&[
        "audit",
        "export",
        "--output",
        export.to_str().expect("utf8"),
    ]);
    let audit = read(&export);
    for action in [
        "sync.completed",
        "plan.created",
        "plan.confirmed",
        "operation.attempt",
        "operation.succeeded",
    ] {
        assert!(audit.contains(action), "{action} not audited");
    }
    // Asking again changes nothing: grantflow reads what it just did, without a sync.
    let again = workspace.run(&["do", DEMO_REQUEST, "--yes"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(
        again
            .stdout
            .contains("already holds group \"Production Access Demo\""),
        "{}",
        again.stdout
    );
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn do_with_an_unknown_user_or_group_is_refused_and_writes_nothing() {
    let workspace = synced_demo().await;
    let run = workspace.run(&[
        "do",
        "assign nobody@example.com to the Production Access Demo group",
        "--yes",
    ]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("no user with login, email or name \"nobody@example.com\""),
        "{}",
        run.all()
    );
    let run = workspace.run(&[
        "do",
        "assign okta-demo-user@example.com to the Prod Access group",
        "--yes",
    ]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("no group named \"Prod Access\""),
        "{}",
        run.all()
    );
    let run = workspace.run(&["do", "make everyone admin", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("cannot understand"), "{}", run.all());
    assert!(workspace.writes().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn do_without_a_terminal_or_yes_refuses_to_write() {
    let workspace = synced_demo().await;
    let run = workspace.run(&["do", DEMO_REQUEST]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("--yes"), "{}", run.all());
    assert!(workspace.writes().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_audit_event_makes_verify_fail_and_name_it() {
    let workspace = synced_demo().await;
    let run = workspace.run(&["do", DEMO_REQUEST, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let ok = workspace.run(&["audit", "verify"]);
    assert_eq!(ok.code, 0, "{}", ok.all());

    let url = format!("sqlite://{}", workspace.database().display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("open db");
    sqlx::query("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2")
        .execute(&pool)
        .await
        .expect("tamper");
    pool.close().await;
    let broken = workspace.run(&["audit", "verify"]);
    assert_eq!(broken.code, 1, "{}", broken.all());
    assert!(
        broken.stdout.starts_with("BROKEN at event #2 (e-"),
        "{}",
        broken.stdout
    );
    assert!(broken.stdout.contains("edited"), "{}", broken.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_never_appears_in_output_audit_or_errors() {
    let workspace = synced_demo().await;
    let token = workspace.token();
    let mut seen = String::new();
    for args in [
        vec!["do", DEMO_REQUEST, "--yes"],
        vec!["sync"],
        vec!["audit", "export"],
    ] {
        let run = workspace.run(&args);
        seen.push_str(&run.all());
    }
    seen.push_str(&read(&workspace.path("grantflow.yaml")));
    // A refused token: the error says so without echoing any token.
    std::fs::write(
        workspace.path(".grantflow/okta.token"),
        "00wrong-token-value-000000000000000000000",
    )
    .expect("write");
    let refused = workspace.run(&["sync"]);
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert!(refused.stderr.contains("E0000011"), "{}", refused.all());
    seen.push_str(&refused.all());
    assert!(!seen.contains(&token), "the token leaked");
    assert!(
        !seen.contains("00wrong-token-value"),
        "the refused token leaked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_up_starts_with_the_faults_its_file_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = dir.path().join("faults.yaml");
    std::fs::write(
        &faults,
        "okta:\n  network: {reset_rate: 0.25, consistency_delay_ms: 500}\n  faults: {latency_ms: 30}\ngitlab:\n  rate-limits: {window_seconds: 5}\n",
    )
    .expect("faults file");
    let info = dir.path().join("info.json");
    let mut child = std::process::Command::new(crate::testkit::BIN)
        .args(["sandbox", "up", "--info"])
        .arg(&info)
        .arg("--faults")
        .arg(&faults)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sandbox starts");
    let started = std::time::Instant::now();
    let text = loop {
        if let Ok(text) = std::fs::read_to_string(&info) {
            break text;
        }
        assert!(started.elapsed().as_secs() < 30, "no info file");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    // The faults are set once the info file is written.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let info: serde_json::Value = serde_json::from_str(&text).expect("info JSON");
    let admin = info["systems"]["okta"]["admin_url"]
        .as_str()
        .expect("admin url")
        .to_string();
    let network: serde_json::Value = reqwest::get(format!("{admin}/network"))
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    let vendor: serde_json::Value = reqwest::get(format!("{admin}/faults"))
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(network["reset_rate"], 0.25, "{network}");
    assert_eq!(network["consistency_delay_ms"], 500, "{network}");
    assert_eq!(vendor["latency_ms"], 30, "{vendor}");

    std::fs::write(&faults, "nosuch:\n  network: {reset_rate: 0.1}\n").expect("faults file");
    let bad = std::process::Command::new(crate::testkit::BIN)
        .args(["sandbox", "up", "--faults"])
        .arg(&faults)
        .output()
        .expect("runs");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no system \"nosuch\""));
}
