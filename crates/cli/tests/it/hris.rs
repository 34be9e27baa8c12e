//! BambooHR as the HRIS source, end to end: the sandbox's `bamboohr` connection syncs, policies read
//! `person.hris.*`, and `grantflow serve` takes BambooHR's signed webhooks (refusing and auditing forged
//! and stale ones, ignoring a replay) and syncs the change.

use serde_json::{Value, json};

use crate::testkit::{Serve, Workspace, read};

const HRIS_POLICY: &str = r#"policies:
  - name: sales-by-hris
    when: has(person.hris) && person.hris.department == "Sales" && person.hris.status == "Active"
    grants:
      - {system: okta, resource: group/Finance}
"#;

fn plan_text(ws: &Workspace) -> String {
    let run = ws.run(&["plan", "--json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    run.stdout
}

/// An HMAC-SHA256 signature as BambooHR computes it: over the body followed by the timestamp.
fn sign(key: &str, body: &[u8], timestamp: &str) -> String {
    grantflow_connectors::bamboohr::webhook::sign(key.as_bytes(), body, timestamp)
}

#[tokio::test(flavor = "multi_thread")]
async fn hris_facts_reach_policies_and_a_signed_webhook_syncs_the_change() {
    let ws = Workspace::start(None).await;
    let sync = ws.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    assert!(sync.all().contains("bamboohr"), "{}", sync.all());
    let person = ws.run(&["person", "sofia.garcia@example.com"]);
    assert!(
        person
            .stdout
            .contains("bamboohr (bamboohr) sofia.garcia@example.com  [Active, active]"),
        "{}",
        person.all()
    );
    assert!(
        person.stdout.contains("  hris: ")
            && person.stdout.contains("department=Sales")
            && person
                .stdout
                .contains("manager_email=james.wilson@example.com")
            && person.stdout.contains("start_date="),
        "the HR facts are shown: {}",
        person.all()
    );
    let json = ws.run(&["person", "sofia.garcia@example.com", "--json"]);
    assert_eq!(json.code, 0, "{}", json.all());
    let json: Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(json["hris"]["title"], "Account Executive", "{json}");
    assert_eq!(json["hris"]["connection"], "bamboohr", "{json}");

    ws.write_policy("hris.yaml", HRIS_POLICY);
    // An employee record is not access: no drift finding is about the bamboohr connection, though the
    // demo's suspended Okta users (chen.wei, lucas.martin, liam.miller) are Active employees there.
    let drift = ws.run(&["drift", "--json"]);
    assert!(drift.code == 0 || drift.code == 4, "{}", drift.all());
    let report: Value = serde_json::from_str(&drift.stdout).expect("drift json");
    let findings = report["report"]["findings"].as_array().expect("findings");
    assert!(
        !findings.is_empty(),
        "the demo has drift elsewhere: {report}"
    );
    assert!(
        findings.iter().all(|f| f["connection"] != "bamboohr"),
        "{report}"
    );

    let before = plan_text(&ws);
    assert!(before.contains("sofia.garcia@example.com"), "{before}");
    assert!(
        !before.contains("lena.fischer@example.com"),
        "Lena is in Engineering in BambooHR: {before}"
    );

    let serve = Serve::start(&ws, "0");
    let listening = serve.wait_for("listening on ").await;
    let base = listening.rsplit(' ').next().expect("url").to_string();
    let hook = format!("{base}/hooks/bamboohr/bamboohr");
    let http = reqwest::Client::new();
    let key = ws.sandbox.info.systems["bamboohr"].credentials["webhook_private_key"].clone();

    // Forged, stale and unsigned deliveries are refused alike, and audited without the key.
    let body = br#"{"type":"employee.updated","timestamp":"2026-12-04T10:00:00+0000","data":{"companyId":"1","employeeId":"103","changedFields":["department"]}}"#;
    let now = chrono::Utc::now().timestamp().to_string();
    let stale = (chrono::Utc::now().timestamp() - 3600).to_string();
    for (timestamp, signature) in [
        (now.clone(), sign("not the key", body, &now)),
        (stale.clone(), sign(&key, body, &stale)),
        (now.clone(), String::new()),
    ] {
        let refused = http
            .post(&hook)
            .header("x-bamboohr-timestamp", &timestamp)
            .header("x-bamboohr-signature", &signature)
            .body(body.to_vec())
            .send()
            .await
            .expect("serve");
        assert_eq!(refused.status(), 401);
    }
    // A good one, twice: the replay is recognised.
    let signature = sign(&key, body, &now);
    for _ in 0..2 {
        let taken = http
            .post(&hook)
            .header("content-type", "application/json")
            .header("x-bamboohr-timestamp", &now)
            .header("x-bamboohr-signature", &signature)
            .body(body.to_vec())
            .send()
            .await
            .expect("serve");
        assert_eq!(taken.status(), 204);
    }
    serve.wait_for("already handled; ignored").await;

    // BambooHR itself: Lena moves to Sales; the emulator delivers its signed webhook to serve.
    let bamboohr = &ws.sandbox.info.systems["bamboohr"];
    let admin = bamboohr.http_client().expect("client");
    let pointed = admin
        .post(format!("{}/webhooks/1", bamboohr.admin_url))
        .json(&json!({"url": hook}))
        .send()
        .await
        .expect("admin");
    assert!(pointed.status().is_success());
    let changed: Value = admin
        .post(format!("{}/employees", bamboohr.admin_url))
        .json(&json!({"id": "103", "department": "Sales"}))
        .send()
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    assert_eq!(changed["deliveries"][0]["status"], 204, "{changed}");
    serve
        .wait_until("an incremental bamboohr sync with the change", |l| {
            l.starts_with("sync (event hook) bamboohr:") && !l.contains(": 0 change event(s)")
        })
        .await;
    drop(serve);

    let after = plan_text(&ws);
    assert!(
        after.contains("lena.fischer@example.com"),
        "Lena, now in Sales in BambooHR, is planned into Finance: {after}"
    );

    let out = ws.path("audit.jsonl");
    let export = ws.run(&["audit", "export", "--output", out.to_str().expect("utf8")]);
    assert_eq!(export.code, 0, "{}", export.all());
    let audit = read(&out);
    for code in [
        "bamboohr_signature_mismatch",
        "bamboohr_signature_stale",
        "bamboohr_signature_malformed",
    ] {
        assert!(audit.contains(code), "{code} audited");
    }
    assert!(!audit.contains(&key), "the private key is never audited");
}
