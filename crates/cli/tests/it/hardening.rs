//! Hardening (issue: tried as an attacker would): stored plans that were
//! edited are refused, approvals bind to what was approved and lapse, stale
//! plans are refused, one safety rail holds across every command, files are
//! private, and a database password never shows.

use std::fmt::Write as _;

use crate::testkit::{Workspace, read};

/// Ten people in Eng; the first holds fifty groups.
fn org() -> String {
    let mut yaml = String::from("okta:\n  users:\n");
    for n in 0..10 {
        let _ = writeln!(
            yaml,
            "    - {{ login: p{n}@example.com, firstName: Person, lastName: N{n}, department: Eng, title: Engineer }}"
        );
    }
    yaml.push_str("  groups:\n    - { name: Target, members: [p1@example.com, p2@example.com, p3@example.com, p4@example.com, p5@example.com, p6@example.com, p7@example.com, p8@example.com, p9@example.com] }\n");
    for g in 0..50 {
        let _ = writeln!(
            yaml,
            "    - {{ name: Extra {g}, members: [p0@example.com] }}"
        );
    }
    yaml
}

async fn synced() -> Workspace {
    let workspace = Workspace::start(Some(&org())).await;
    assert_eq!(workspace.run(&["sync"]).code, 0);
    workspace
}

fn sqlite(workspace: &Workspace, sql: &str) {
    let url = format!("sqlite://{}", workspace.database().display());
    let sql = sql.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            use sqlx::ConnectOptions;
            let mut connection = url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .expect("url")
                .connect()
                .await
                .expect("connect");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut connection)
                .await
                .expect("tamper");
        });
    })
    .join()
    .expect("thread");
}

/// `do` without applying: the plan is stored, its id returned.
fn stored_request(workspace: &Workspace, request: &str) -> String {
    let run = workspace.run(&["do", request, "--json"]);
    // No terminal and no --yes: the plan is stored, and the command stops at the question.
    let start = run.stdout.find('{').expect("json");
    let plan: serde_json::Value = serde_json::Deserializer::from_str(&run.stdout[start..])
        .into_iter()
        .next()
        .expect("one value")
        .expect("plan json");
    plan["id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_plan_or_job_is_refused_and_audited() {
    let workspace = synced().await;
    // Someone else's account in the body, or another natural key on the job.
    let edits = [
        "UPDATE plans SET body = replace(body, 'p1@example.com', 'p2@example.com')",
        "UPDATE jobs SET natural_key = natural_key || 'x'",
    ];
    for edit in edits {
        let id = stored_request(&workspace, "remove p1@example.com from the Target group");
        sqlite(
            &workspace,
            &format!(
                "{edit} WHERE {}",
                if edit.contains("plans") {
                    format!("id = '{id}'")
                } else {
                    format!("plan_id = '{id}'")
                }
            ),
        );
        let run = workspace.run(&["apply", &id]);
        assert_eq!(run.code, 1, "{edit}: {}", run.all());
        assert!(
            run.stderr.contains("is not the plan that was made"),
            "{edit}: {}",
            run.all()
        );
        let audit = workspace.run(&["audit", "export"]).stdout;
        assert!(audit.contains("\"action\":\"plan.tampered\""), "{edit}");
        assert!(
            workspace.writes().await.is_empty(),
            "{edit}: nothing was written"
        );
    }
    assert_eq!(workspace.run(&["audit", "verify"]).code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_made_before_its_target_was_suspended_is_refused() {
    let workspace = synced().await;
    let id = stored_request(&workspace, "add p0@example.com to the Target group");
    // p0 is suspended by hand in Okta after the plan was made.
    workspace
        .admin_post(
            "hand-change",
            serde_json::json!({"op": "suspend", "user": "p0@example.com"}),
        )
        .await;
    assert_eq!(workspace.run(&["sync"]).code, 0);
    let run = workspace.run(&["apply", &id]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("switched off since it was made"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("p0@example.com is suspended in okta"),
        "{}",
        run.all()
    );
    assert!(workspace.writes().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_is_of_what_was_approved_and_lapses() {
    let workspace = synced().await;
    workspace.write_policy(
        "target.yaml",
        "policies:\n  - name: target\n    when: person.department == \"Eng\" && person.email != \"p1@example.com\"\n    drift: approval\n    grants:\n      - { system: okta, resource: group/Target }\n",
    );
    let config = read(&workspace.path("grantflow.yaml"));
    std::fs::write(
        workspace.path("grantflow.yaml"),
        config.clone() + "plans:\n  approval_valid_hours: 0\n",
    )
    .expect("config");
    let drift = workspace.run(&["drift", "--json"]);
    let checked: serde_json::Value = serde_json::from_str(&drift.stdout).expect("json");
    let id = checked["awaiting_approval"]
        .as_str()
        .expect("a plan waits")
        .to_string();
    assert_eq!(workspace.run(&["apply", &id]).code, 1, "not approved yet");
    let approve = workspace.run(&["approve", &id]);
    assert_eq!(approve.code, 0, "{}", approve.all());
    let run = workspace.run(&["apply", &id]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("needs a new approval"), "{}", run.all());
    assert!(run.stderr.contains("expired"), "{}", run.all());
    std::fs::write(workspace.path("grantflow.yaml"), config).expect("config");
    assert_eq!(workspace.run(&["approve", &id]).code, 0);
    // Once approved, the body cannot change under the approval.
    sqlite(
        &workspace,
        &format!(
            "UPDATE plans SET body = replace(body, 'p1@example.com', 'p2@example.com') WHERE id = '{id}'"
        ),
    );
    let run = workspace.run(&["apply", &id]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("is not the plan that was made"),
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_removal_budget_holds_across_do_action_and_plans() {
    let workspace = synced().await;
    std::fs::write(
        workspace.path("grantflow.yaml"),
        read(&workspace.path("grantflow.yaml"))
            + "safety:\n  window_removals: 3\n  max_removal_share: 1.0\n  max_resource_removal_share: 1.0\n",
    )
    .expect("config");
    // Three removals through `do` pass; the fourth goes past the window's budget.
    for n in 1..=3 {
        let run = workspace.run(&[
            "do",
            &format!("remove p{n}@example.com from the Target group"),
            "--yes",
        ]);
        assert_eq!(run.code, 0, "removal {n}: {}", run.all());
    }
    let fourth = workspace.run(&["do", "remove p4@example.com from the Target group", "--yes"]);
    assert_eq!(fourth.code, 1, "{}", fourth.all());
    assert!(
        fourth.stderr.contains("trips the mass-removal safety rail"),
        "{}",
        fourth.all()
    );
    assert!(fourth.stderr.contains("would lose 4"), "{}", fourth.all());
    // The override names the plan.
    let id = fourth
        .stderr
        .split_whitespace()
        .find(|w| w.starts_with("p-"))
        .expect("plan id")
        .trim_end_matches([',', '.', ')'])
        .to_string();
    let run = workspace.run(&["apply", &id, "--allow-mass-removal", &id]);
    assert_eq!(run.code, 0, "{}", run.all());
    let audit = workspace.run(&["audit", "export"]).stdout;
    assert!(audit.contains("\"action\":\"plan.mass_removal_allowed\""));
    // An account action and a one-operation plan count against the same budget.
    let action = workspace.run(&["action", "okta", "deactivate", "p5@example.com", "--yes"]);
    assert_eq!(action.code, 1, "{}", action.all());
    assert!(
        action.stderr.contains("trips the mass-removal safety rail"),
        "{}",
        action.all()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivating_an_account_counts_every_grant_it_holds() {
    let workspace = synced().await;
    std::fs::write(
        workspace.path("grantflow.yaml"),
        read(&workspace.path("grantflow.yaml"))
            + "safety:\n  window_removals: 49\n  max_removal_share: 1.0\n",
    )
    .expect("config");
    let run = workspace.run(&["action", "okta", "deactivate", "p0@example.com", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.all());
    // Fifty groups, and the built-in Everyone group.
    assert!(
        run.stderr.contains("with the 51 removal(s) it makes")
            || run.stderr.contains("with the 50 removal(s) it makes"),
        "{}",
        run.all()
    );
    let writes = workspace.writes().await;
    assert!(writes.is_empty(), "nothing was written: {writes:?}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn files_are_private_and_a_database_password_never_shows() {
    use std::os::unix::fs::PermissionsExt;
    let workspace = synced().await;
    let mode = |relative: &str| {
        std::fs::metadata(workspace.path(relative))
            .expect(relative)
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(".grantflow"), 0o700);
    assert_eq!(mode(".grantflow/grantflow.db"), 0o600);
    assert_eq!(mode(".grantflow/okta.token"), 0o600);
    let export = workspace.run(&["audit", "export", "-o", "audit.jsonl"]);
    assert_eq!(export.code, 0, "{}", export.all());
    assert_eq!(mode("audit.jsonl"), 0o600);
    for command in [&["sync"][..], &["audit", "verify"][..]] {
        let mut args = vec![
            "--database",
            "postgres://grantflow:s3cret-pass-word@127.0.0.1:9/none",
        ];
        args.extend_from_slice(command);
        let run = workspace.run(&args);
        assert_ne!(run.code, 0, "{command:?}");
        assert!(
            !run.all().contains("s3cret-pass-word"),
            "{command:?}: {}",
            run.all()
        );
    }
}
