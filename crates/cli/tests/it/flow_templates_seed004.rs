//! Seed 004's common workflows (examples/flows) run end to end against the sandbox through the real binary,
//! each judged by its effect in the emulators: the app assigned and the membership added once a person
//! approves the request the flow asked for; the factors reset and the re-enrollment email sent; the new hire
//! activated and their manager told; the leaver's sessions ended, the account suspended and IT emailed; and
//! the SIEM's signed webhook ending sessions, suspending, and opening a Jira incident. The email card itself:
//! a message reaches the sandbox's SMTP sink with its recipients, subject and body, and a refusal is the step's
//! error with the server's reply code.

use serde_json::{Value, json};

use crate::testkit::{Serve, Workspace};

fn with_examples(workspace: &Workspace) {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/flows");
    std::fs::create_dir_all(workspace.path("flows")).unwrap();
    for entry in std::fs::read_dir(examples).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            workspace.path("flows").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
}

/// A workspace on the demo organisation with the example flows and a first sync.
async fn ready() -> Workspace {
    let workspace = Workspace::start(None).await;
    with_examples(&workspace);
    let synced = workspace.run(&["sync"]);
    assert_eq!(synced.code, 0, "{}", synced.all());
    workspace
}

fn run_json(workspace: &Workspace, args: &[&str]) -> Value {
    let ran = workspace.run(args);
    serde_json::from_str(&ran.stdout).unwrap_or_else(|_| panic!("not JSON: {}", ran.all()))
}

/// Every message the SMTP sink kept.
async fn mail(workspace: &Workspace) -> Vec<Value> {
    let admin = &workspace.sandbox.info.services["smtp"].admin_url;
    let body: Value = reqwest::get(format!("{admin}/messages"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["messages"].as_array().cloned().unwrap_or_default()
}

/// The Okta user's id by login.
async fn user_id(workspace: &Workspace, login: &str) -> String {
    let user = workspace.okta_get(&format!("/api/v1/users/{login}")).await;
    user["id"].as_str().expect("a user id").to_string()
}

fn step<'a>(run: &'a Value, path: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["path"] == path))
        .unwrap_or_else(|| panic!("no step {path} in {run}"))
}

/// The one pending request (the one a waiting run's approval step asked for, about `subject`), approved by a
/// second operator (the requester never reviews their own request), then the run taken up again by a worker
/// until it ends.
fn approve_and_resume(workspace: &Workspace, subject: &str) {
    let pending = run_json(
        workspace,
        &["request", "list", "--state", "pending", "--json"],
    );
    let requests = pending.as_array().cloned().unwrap_or_default();
    assert_eq!(requests.len(), 1, "one pending request: {pending}");
    assert_eq!(requests[0]["subject"], subject, "{pending}");
    let id = requests[0]["id"].as_str().unwrap().to_string();
    let approved = workspace
        .command(&[
            "request",
            "approve",
            &id,
            "--comment",
            "checked by the help desk",
        ])
        .env("USER", "helpdesk-lead")
        .output()
        .unwrap();
    assert!(
        approved.status.success(),
        "{}{}",
        String::from_utf8_lossy(&approved.stdout),
        String::from_utf8_lossy(&approved.stderr)
    );
    let worked = workspace.run(&["worker", "--exit-when-idle"]);
    assert_eq!(worked.code, 0, "{}", worked.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_reaches_the_smtp_sink_and_a_refusal_is_the_steps_error_with_its_reply_code() {
    let workspace = ready().await;
    std::fs::write(
        workspace.path("flows/welcome-mail.yaml"),
        r#"flow: welcome-mail
trigger:
  manual: {}
inputs:
  who: {type: string}
steps:
  - id: send
    card: notify.email
    with:
      to: ["${inputs.who}", "it@example.com"]
      cc: security@example.com
      subject: "Welcome, ${inputs.who}"
      body: "Your laptop is ready."
  - id: done
    return: {id: "${steps.send.message_id}"}
"#,
    )
    .unwrap();
    let run = run_json(
        &workspace,
        &[
            "flow",
            "run",
            "welcome-mail",
            "-i",
            "who=kim.tanaka@example.com",
            "--json",
        ],
    );
    assert_eq!(run["state"], "succeeded", "{run}");
    let messages = mail(&workspace).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message["subject"], "Welcome, kim.tanaka@example.com");
    assert_eq!(message["body"], "Your laptop is ready.");
    assert_eq!(message["from"], "grantflow@example.com");
    assert_eq!(
        message["recipients"],
        json!([
            "kim.tanaka@example.com",
            "it@example.com",
            "security@example.com"
        ])
    );
    assert_eq!(message["cc"], "security@example.com");
    assert_eq!(
        run["output"]["id"], message["message_id"],
        "the card gives the id the message was sent with"
    );

    // The server refuses a recipient permanently: the step fails with its reply code, and nothing is kept.
    let admin = &workspace.sandbox.info.services["smtp"].admin_url;
    let refused = reqwest::Client::new()
        .post(format!("{admin}/reject"))
        .json(
            &json!({"recipient": "gone@example.com", "code": 550, "message": "5.1.1 No such user"}),
        )
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_success());
    let run = run_json(
        &workspace,
        &[
            "flow",
            "run",
            "welcome-mail",
            "-i",
            "who=gone@example.com",
            "--json",
        ],
    );
    assert_eq!(run["state"], "failed", "{run}");
    let send = step(&run, "send");
    assert_eq!(send["error"]["code"], "550", "{send}");
    assert_eq!(send["error"]["system"], "smtp", "{send}");
    assert!(
        send["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("No such user")),
        "{send}"
    );
    assert_eq!(
        send["attempts"], 1,
        "a permanent refusal is not tried again"
    );
    assert_eq!(mail(&workspace).await.len(), 1);

    // The SMTP password is in an owner-only file, and nowhere in the runs or the audit trail.
    let password =
        std::fs::read_to_string(workspace.path(".grantflow/flows.smtp.password")).unwrap();
    assert!(password.len() > 10);
    let runs = workspace.run(&["flow", "runs", "--json"]);
    let exported = workspace.run(&["audit", "export"]);
    for (what, text) in [
        ("the runs", &runs.stdout),
        ("the audit trail", &exported.stdout),
    ] {
        assert!(
            !text.contains(password.trim()),
            "the SMTP password is in {what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn access_requests_wait_for_an_approver_then_the_app_and_the_group_are_given() {
    let workspace = ready().await;
    let who = "okta-demo-user@example.com";
    let uid = user_id(&workspace, who).await;

    // App access: the run waits for the approval, and the app is not assigned until then.
    let run = run_json(
        &workspace,
        &[
            "flow",
            "run",
            "app-access-request",
            "-i",
            &format!("who={who}"),
            "-i",
            "app=Checkout Production Access",
            "-i",
            "reason=on-call next week",
            "--json",
        ],
    );
    assert_eq!(run["state"], "waiting", "{run}");
    let apps = workspace
        .okta_get("/api/v1/apps?q=Checkout%20Production%20Access")
        .await;
    let app = apps[0]["id"].as_str().expect("the app").to_string();
    let assignment = format!("/api/v1/apps/{app}/users/{uid}");
    assert!(
        workspace.okta_get(&assignment).await["id"] != uid,
        "assigned before the approval"
    );
    approve_and_resume(&workspace, who);
    assert_eq!(
        workspace.okta_get(&assignment).await["id"],
        uid,
        "the app is assigned"
    );
    let runs = run_json(
        &workspace,
        &["flow", "runs", "app-access-request", "--json"],
    );
    let id = runs[0]["id"].as_str().unwrap().to_string();
    let run = run_json(&workspace, &["flow", "run-show", &id, "--json"]);
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["output"]["approved"], true, "{run}");

    // Group access: the same, for a membership.
    let run = run_json(
        &workspace,
        &[
            "flow",
            "run",
            "group-access-request",
            "-i",
            &format!("who={who}"),
            "-i",
            "group=Production Access Demo",
            "-i",
            "reason=incident 4711",
            "--json",
        ],
    );
    assert_eq!(run["state"], "waiting", "{run}");
    let groups = workspace
        .okta_get("/api/v1/groups?q=Production%20Access%20Demo")
        .await;
    let group = groups[0]["id"].as_str().expect("the group").to_string();
    let is_member = |members: &Value| {
        members
            .as_array()
            .is_some_and(|m| m.iter().any(|u| u["id"] == uid))
    };
    let members = workspace
        .okta_get(&format!("/api/v1/groups/{group}/users"))
        .await;
    assert!(!is_member(&members), "a member before the approval");
    approve_and_resume(&workspace, who);
    let members = workspace
        .okta_get(&format!("/api/v1/groups/{group}/users"))
        .await;
    assert!(is_member(&members), "{members}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approved_mfa_reset_resets_the_factors_and_emails_the_person() {
    let workspace = ready().await;
    let who = "lena.fischer@example.com";
    let uid = user_id(&workspace, who).await;
    let run = run_json(
        &workspace,
        &[
            "flow",
            "run",
            "mfa-reset-with-approval",
            "-i",
            &format!("who={who}"),
            "--json",
        ],
    );
    assert_eq!(run["state"], "waiting", "{run}");
    let counters = workspace.admin_get("counters").await;
    assert!(
        counters["factors_reset"].get(&uid).is_none(),
        "reset before the approval: {counters}"
    );
    assert!(mail(&workspace).await.is_empty());

    approve_and_resume(&workspace, who);
    let counters = workspace.admin_get("counters").await;
    assert_eq!(counters["factors_reset"][&uid], 1, "{counters}");
    let messages = mail(&workspace).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["recipients"], json!([who]));
    assert_eq!(messages[0]["subject"], "Your sign-in factors were reset");
    assert!(
        messages[0]["body"]
            .as_str()
            .is_some_and(|b| b.contains("enroll a new factor")),
        "{}",
        messages[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_start_date_activates_the_hire_and_the_end_date_suspends_the_leaver() {
    let workspace = ready().await;

    // Day 1: the event a person's start date makes (`flow run --event` presents it as the trigger would).
    let event = workspace.path("start.json");
    std::fs::write(
        &event,
        json!({"person": {"email": "new.hire@example.com"}, "field": "hris.start_date", "date": "2026-12-07"})
            .to_string(),
    )
    .unwrap();
    let before = workspace
        .okta_get("/api/v1/users/new.hire@example.com")
        .await;
    assert_eq!(before["status"], "STAGED", "{before}");
    let run = run_json(
        &workspace,
        &[
            "flow",
            "run",
            "day1-onboarding",
            "--event",
            event.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(run["state"], "succeeded", "{run}");
    let hire = workspace
        .okta_get("/api/v1/users/new.hire@example.com")
        .await;
    assert_ne!(hire["status"], "STAGED", "{hire}");
    assert_eq!(step(&run, "activate")["state"], "succeeded", "{run}");
    let messages = mail(&workspace).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["recipients"], json!(["jonas.berg@example.com"]));
    assert_eq!(messages[0]["subject"], "New Hire starts today");

    // The last day: sessions end, the account is suspended, IT is asked for the equipment.
    let leaver = "tom.baker@example.com";
    let uid = user_id(&workspace, leaver).await;
    let event = workspace.path("end.json");
    std::fs::write(
        &event,
        json!({"person": {"email": leaver}, "field": "hris.end_date", "date": "2026-12-04"})
            .to_string(),
    )
    .unwrap();
    // `flow plan` first: nothing is changed and no email is sent.
    let planned = workspace.run(&[
        "flow",
        "plan",
        "offboarding",
        "--event",
        event.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(planned.code, 0, "{}", planned.all());
    assert!(
        planned.stdout.contains("\"not_sent\": true"),
        "{}",
        planned.stdout
    );
    assert_eq!(mail(&workspace).await.len(), 1, "flow plan sent an email");
    let user = workspace.okta_get(&format!("/api/v1/users/{leaver}")).await;
    assert_eq!(user["status"], "ACTIVE", "{user}");
    let run = run_json(
        &workspace,
        &[
            "flow",
            "run",
            "offboarding",
            "--event",
            event.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(run["state"], "succeeded", "{run}");
    let user = workspace.okta_get(&format!("/api/v1/users/{leaver}")).await;
    assert_eq!(user["status"], "SUSPENDED", "{user}");
    let counters = workspace.admin_get("counters").await;
    assert!(
        counters["sessions_cleared"][&uid].as_u64().unwrap_or(0) >= 1,
        "{counters}"
    );
    let messages = mail(&workspace).await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(
        messages[1]["recipients"],
        json!(["it-equipment@example.com"])
    );
    assert_eq!(
        messages[1]["subject"],
        format!("Equipment pickup: {leaver}")
    );
}

/// Adds the `jira` HTTP connection the suspicious-activity flow opens its incident through: the Jira
/// emulator's host, Basic auth with its email and API token (the token in an owner-only file).
fn with_jira_connection(workspace: &Workspace) {
    let jira = &workspace.sandbox.info.systems["jira"];
    let url = url::Url::parse(&jira.base_url).unwrap();
    let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    grantflow_service::files::write_private(
        &workspace.path(".grantflow/flows.jira.token"),
        jira.credentials["token"].as_bytes(),
    )
    .unwrap();
    let path = workspace.path("grantflow.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let connection = format!(
        "  http_connections:\n    jira:\n      base_url: {}\n      allowed_hosts: ['{host}']\n      auth: {{basic: {{username: '{}', password: {{file: .grantflow/flows.jira.token}}}}}}\n",
        jira.base_url, jira.credentials["email"]
    );
    let updated = text.replacen("  http_connections:\n", &connection, 1);
    assert_ne!(text, updated, "grantflow.yaml has flows.http_connections");
    std::fs::write(&path, updated).unwrap();
}

/// Needs the Jira emulator's issue creation (`POST /rest/api/3/issue`), which another branch adds.
#[tokio::test(flavor = "multi_thread")]
async fn a_signed_siem_webhook_ends_sessions_suspends_and_opens_a_jira_incident() {
    let workspace = ready().await;
    with_jira_connection(&workspace);
    // The webhook's secret from a file in the workspace rather than the environment of `serve`.
    let flow = workspace.path("flows/suspicious-activity.yaml");
    let text = std::fs::read_to_string(&flow).unwrap();
    std::fs::write(
        &flow,
        text.replace(
            "env:GRANTFLOW_SIEM_WEBHOOK_SECRET",
            "file:siem-webhook.secret",
        ),
    )
    .unwrap();
    let secret = "siem-shared-secret-1234567890";
    std::fs::write(workspace.path("siem-webhook.secret"), secret).unwrap();
    let who = "diego.alvarez@example.com";
    let uid = user_id(&workspace, who).await;

    let serve = Serve::start(&workspace, "0");
    let listening = serve.wait_for("listening on ").await;
    let base = listening.rsplit(' ').next().unwrap().to_string();
    let body = json!({"user": who, "detail": "impossible travel: Madrid then Sydney within 1h"})
        .to_string();
    let timestamp = chrono::Utc::now().timestamp();
    let signature =
        grantflow_workflows::webhook::sign(secret.as_bytes(), timestamp, body.as_bytes());
    let http = reqwest::Client::new();
    let forged = http
        .post(format!("{base}/hooks/flows/suspicious-activity"))
        .header("X-Grantflow-Timestamp", timestamp.to_string())
        .header("X-Grantflow-Signature", "sha256=00")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert!(forged.status().is_client_error(), "{}", forged.status());
    let delivered = http
        .post(format!("{base}/hooks/flows/suspicious-activity"))
        .header("X-Grantflow-Timestamp", timestamp.to_string())
        .header("X-Grantflow-Signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(delivered.status().is_success(), "{}", delivered.status());

    // The run ends within the serve's worker; its output names the incident.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let run = loop {
        let runs = run_json(
            &workspace,
            &["flow", "runs", "suspicious-activity", "--json"],
        );
        if let Some(run) = runs.as_array().and_then(|r| r.first())
            && matches!(run["state"].as_str(), Some("succeeded" | "failed"))
        {
            break run_json(
                &workspace,
                &["flow", "run-show", run["id"].as_str().unwrap(), "--json"],
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no finished run: {runs}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    drop(serve);
    let user = workspace.okta_get(&format!("/api/v1/users/{who}")).await;
    assert_eq!(user["status"], "SUSPENDED", "{user}");
    let counters = workspace.admin_get("counters").await;
    assert!(
        counters["sessions_cleared"][&uid].as_u64().unwrap_or(0) >= 1,
        "{counters}"
    );
    assert_eq!(run["state"], "succeeded", "{run}");
    let key = run["output"]["incident"]
        .as_str()
        .expect("an incident key")
        .to_string();
    let jira = &workspace.sandbox.info.systems["jira"];
    let issue: Value = jira
        .http_client()
        .unwrap()
        .get(format!("{}/rest/api/3/issue/{key}", jira.base_url))
        .basic_auth(&jira.credentials["email"], Some(&jira.credentials["token"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        issue["fields"]["summary"],
        format!("Suspicious activity: {who}"),
        "{issue}"
    );
    assert_eq!(issue["fields"]["project"]["key"], "SEC", "{issue}");
}
