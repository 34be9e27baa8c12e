//! Okta at full fidelity through the binary: every account action (and a wrong-status one showing Okta's
//! code), a temporary password shown once and stored nowhere, a missing OAuth scope named, incremental
//! `sync`, and `serve` receiving event hooks (verification, authentication, de-duplication).

use serde_json::{Value, json};

use crate::testkit::{Serve, Workspace, read};

fn config_path(ws: &Workspace) -> std::path::PathBuf {
    ws.path("grantflow.yaml")
}

/// Adds lines to the okta connection in grantflow.yaml.
/// Adds settings (indented as connection settings) to the okta connection,
/// wherever it sits among the sandbox's connections.
fn extend_okta(ws: &Workspace, lines: &str) {
    let text = read(&config_path(ws));
    let marker = "    kind: okta\n";
    let updated = text.replacen(marker, &format!("{marker}{lines}"), 1);
    assert_ne!(text, updated, "grantflow.yaml has an okta connection");
    std::fs::write(config_path(ws), updated).expect("config");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_action_runs_as_a_plan_and_a_wrong_status_shows_okta_code() {
    let ws = Workspace::start(None).await;
    let first = ws.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    assert!(first.stdout.contains("in full"), "{}", first.all());

    let user = "tom.baker@example.com";
    let steps: &[&[&str]] = &[
        &["suspend"],
        &["unsuspend"],
        &["reset-mfa"],
        &["clear_sessions", "-o", "oauth_tokens=true"],
        &["unlock"],
        &["expire_password"],
        &["reset_password"],
        &["deactivate"],
        &["activate"],
        &["assign-app", "--app", "GitHub"],
        &["remove-app", "--app", "GitHub"],
    ];
    for step in steps {
        let mut args = vec!["action", "okta", step[0], user, "--yes"];
        args.extend_from_slice(&step[1..]);
        let run = ws.run(&args);
        assert_eq!(run.code, 0, "{step:?}: {}", run.all());
        assert!(
            run.stdout.contains("1 succeeded"),
            "{step:?}: {}",
            run.all()
        );
    }

    let push = ws.run(&[
        "action",
        "okta",
        "push-group",
        "Engineering",
        "--app",
        "GitHub",
        "--yes",
    ]);
    assert_eq!(push.code, 0, "{}", push.all());

    let wrong = ws.run(&["action", "okta", "unsuspend", user, "--yes"]);
    assert_eq!(wrong.code, 1, "{}", wrong.all());
    assert!(wrong.stdout.contains("E0000001"), "{}", wrong.all());
    assert!(
        wrong
            .stdout
            .contains("Cannot unsuspend a user that is not suspended"),
        "{}",
        wrong.all()
    );

    let unknown = ws.run(&["action", "okta", "explode", user, "--yes"]);
    assert_eq!(unknown.code, 1, "{}", unknown.all());
    assert!(
        unknown.stderr.contains("no action \"explode\""),
        "{}",
        unknown.all()
    );

    // Changes made above are read back from the System Log, not by reading everything again.
    let again = ws.run(&["sync"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.stdout.contains("incrementally"), "{}", again.all());

    let delete = ws.run(&["action", "okta", "delete", user, "--yes"]);
    assert_eq!(delete.code, 0, "{}", delete.all());
    let gone = ws.okta_get(&format!("/api/v1/users/{user}")).await;
    assert_eq!(gone["errorCode"], "E0000007");

    let verify = ws.run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_temporary_password_is_shown_once_and_stored_nowhere() {
    let ws = Workspace::start(None).await;
    assert_eq!(ws.run(&["sync"]).code, 0);
    let run = ws.run(&[
        "action",
        "okta",
        "reset_password",
        "aisha.khan@example.com",
        "-o",
        "temp_password=true",
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Temporary password for"))
        .unwrap_or_else(|| panic!("no password line: {}", run.all()));
    let password = line.rsplit(' ').next().expect("password").to_string();
    assert!(password.len() >= 8, "{line}");
    assert_eq!(run.stdout.matches(&password).count(), 1, "{}", run.all());
    assert!(!run.stderr.contains(&password));
    let export = ws.run(&["audit", "export"]);
    assert!(!export.stdout.contains(&password));
    for entry in std::fs::read_dir(ws.path(".grantflow")).expect("dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&password), "the password reached the store");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_the_needed_scope_is_refused_and_the_scope_named() {
    let ws = Workspace::start(None).await;
    let key = grantflow_sandbox::okta::ServiceKey::generate("k1").expect("key");
    let scopes = [
        "okta.users.read",
        "okta.groups.read",
        "okta.apps.read",
        "okta.logs.read",
    ];
    ws.admin_post(
        "oauth/clients",
        json!({"client_id": "0oacli", "jwks": {"keys": [key.jwk]}, "scopes": scopes}),
    )
    .await;
    std::fs::write(ws.path(".grantflow/okta.pem"), &key.private_pem).expect("key");
    let text = read(&config_path(&ws)).replace(
        "    token:\n      file: .grantflow/okta.token\n",
        "    auth:\n      type: oauth\n      client_id: 0oacli\n      key_id: k1\n      private_key:\n        file: .grantflow/okta.pem\n",
    );
    assert!(text.contains("type: oauth"), "{text}");
    std::fs::write(config_path(&ws), text).expect("config");

    let sync = ws.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    let run = ws.run(&[
        "action",
        "okta",
        "clear_sessions",
        "aisha.khan@example.com",
        "--yes",
    ]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stdout.contains("okta.users.manage"), "{}", run.all());
    assert!(!run.all().contains("BEGIN PRIVATE KEY"));
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_verifies_authenticates_and_deduplicates_event_hooks() {
    let ws = Workspace::start(None).await;
    std::fs::write(ws.path(".grantflow/hook.secret"), "hook-secret-123").expect("secret");
    extend_okta(
        &ws,
        "    event_hook:\n      secret:\n        file: .grantflow/hook.secret\n",
    );
    assert_eq!(ws.run(&["sync"]).code, 0);
    let serve = Serve::start(&ws, "0");
    let listening = serve.wait_for("listening on ").await;
    let base = listening.rsplit(' ').next().expect("url").to_string();
    let hook = format!("{base}/hooks/okta/okta");
    let http = reqwest::Client::new();

    // The verification needs the shared secret too, and a refusal looks the
    // same as a call to a connection that does not exist.
    let unsigned = http
        .get(&hook)
        .header("x-okta-verification-challenge", "abc123")
        .send()
        .await
        .expect("serve");
    assert_eq!(unsigned.status(), 401);
    let unsigned = unsigned.text().await.expect("body");
    let unknown = http
        .get(format!("{base}/hooks/okta/no-such-connection"))
        .header("x-okta-verification-challenge", "abc123")
        .header("Authorization", "hook-secret-123")
        .send()
        .await
        .expect("serve");
    assert_eq!(unknown.status(), 401);
    assert_eq!(unknown.text().await.expect("body"), unsigned);
    let challenge = http
        .get(&hook)
        .header("x-okta-verification-challenge", "abc123")
        .header("Authorization", "hook-secret-123")
        .send()
        .await
        .expect("serve");
    assert_eq!(challenge.status(), 200);
    assert_eq!(
        challenge.json::<Value>().await.expect("json"),
        json!({"verification": "abc123"})
    );

    let delivery =
        json!({"eventType": "com.okta.event_hook", "eventId": "evt-1", "data": {"events": []}});
    let forged = http
        .post(&hook)
        .json(&delivery)
        .send()
        .await
        .expect("serve");
    assert_eq!(forged.status(), 401);
    let wrong = http
        .post(&hook)
        .header("Authorization", "nope")
        .json(&delivery)
        .send()
        .await
        .expect("serve");
    assert_eq!(wrong.status(), 401);
    for _ in 0..2 {
        let ok = http
            .post(&hook)
            .header("Authorization", "hook-secret-123")
            .json(&delivery)
            .send()
            .await
            .expect("serve");
        assert_eq!(ok.status(), 204);
    }
    serve.wait_for("delivery evt-1 already handled").await;

    // Now Okta itself: register the hook, let Okta verify it, change something, deliver.
    let token = ws.token();
    let okta = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{}{path}", ws.okta().base_url))
            .header("Authorization", format!("SSWS {token}"))
    };
    let created: Value = okta(reqwest::Method::POST, "/api/v1/eventHooks")
        .json(&json!({"name": "grantflow", "events": {"type": "EVENT_TYPE", "items": ["group.user_membership.add"]},
            "channel": {"type": "HTTP", "version": "1.0.0", "config": {"uri": hook,
            "authScheme": {"type": "HEADER", "key": "Authorization", "value": "hook-secret-123"}}}}))
        .send()
        .await
        .expect("okta")
        .json()
        .await
        .expect("json");
    assert_eq!(created["verificationStatus"], "UNVERIFIED");
    let id = created["id"].as_str().expect("id");
    let verified: Value = okta(
        reqwest::Method::POST,
        &format!("/api/v1/eventHooks/{id}/lifecycle/verify"),
    )
    .send()
    .await
    .expect("okta")
    .json()
    .await
    .expect("json");
    assert_eq!(verified["verificationStatus"], "VERIFIED", "{verified}");

    let user = ws.okta_get("/api/v1/users/aisha.khan@example.com").await;
    let groups: Value = ws.okta_get("/api/v1/groups?q=Finance").await;
    let path = format!(
        "/api/v1/groups/{}/users/{}",
        groups[0]["id"].as_str().expect("group"),
        user["id"].as_str().expect("user")
    );
    let added = okta(reqwest::Method::PUT, &path)
        .send()
        .await
        .expect("okta");
    assert_eq!(added.status(), 204);
    ws.admin_post("hooks/deliver", json!({})).await;
    // The delivery triggers an incremental sync that reads the membership change from the System Log.
    serve
        .wait_until("a sync with changes", |l| {
            l.starts_with("sync (event hook) okta:") && !l.contains(": 0 change event(s)")
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_syncs_on_its_interval() {
    let ws = Workspace::start(None).await;
    let serve = Serve::start(&ws, "1");
    // No sync yet: the first scheduled one is full, the next ones read only the changes.
    serve.wait_for("sync (schedule) okta: full").await;
    serve
        .wait_for("sync (schedule) okta: 0 change event(s)")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cursor_beyond_the_log_retention_falls_back_to_a_full_sync() {
    let ws = Workspace::start(None).await;
    assert_eq!(ws.run(&["sync"]).code, 0);
    let url = format!("sqlite://{}", ws.database().display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("open db");
    sqlx::query("UPDATE sync_cursors SET cursor = '1000000000000_1'")
        .execute(&pool)
        .await
        .expect("age the cursor");
    pool.close().await;
    let run = ws.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("retention"), "{}", run.all());
    assert!(run.stdout.contains("in full"), "{}", run.all());
    let next = ws.run(&["sync"]);
    assert!(next.stdout.contains("incrementally"), "{}", next.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_action_or_change_an_approval_rule_covers_is_refused_and_others_run() {
    let ws = Workspace::start(None).await;
    assert_eq!(ws.run(&["sync"]).code, 0);
    ws.write_policy(
        "approvals.yaml",
        r#"
approvals:
  - name: mfa reset
    applies_to:
      - { action: reset_mfa }
    stages:
      - { reviewers: { manager: true } }
  - name: platform
    applies_to:
      - { system: okta, resource: group/Platform }
    stages:
      - { reviewers: { approvers: true } }
"#,
    );
    let user = "tom.baker@example.com";
    // Even the operator at the machine asks for these as requests, so the rule's reviewers decide.
    let reset = ws.run(&["action", "okta", "reset-mfa", user, "--yes"]);
    assert_eq!(reset.code, 1, "{}", reset.all());
    assert!(
        reset
            .stderr
            .contains("approval rule \"mfa reset\" covers this"),
        "{}",
        reset.all()
    );
    let change = ws.run(&[
        "do",
        &format!("assign {user} to the Platform group"),
        "--yes",
    ]);
    assert_eq!(change.code, 1, "{}", change.all());
    assert!(
        change
            .stderr
            .contains("approval rule \"platform\" covers this"),
        "{}",
        change.all()
    );
    // What no rule covers runs as before.
    let unlock = ws.run(&["action", "okta", "unlock", user, "--yes"]);
    assert_eq!(unlock.code, 0, "{}", unlock.all());
    assert!(unlock.stdout.contains("1 succeeded"), "{}", unlock.all());
}
