//! Other systems' events start flows through the server: a Slack channel created in the emulator (the
//! Events API, signed with the app's signing secret) and a Jira issue created (its admin webhook, signed with
//! the configured secret) each start one run; a redelivery starts none, and a forged delivery starts none and
//! is audited.

use std::time::Duration;

use serde_json::{Value, json};

use crate::kit::Server;

const ON_CHANNEL: &str = r#"
flow: on-channel
trigger:
  event: {connection: slack, kind: channel_created}
steps:
  - id: seen
    card: set
    with: {channel: "${event.name}", system: "${event.system}"}
"#;

const ON_INCIDENT: &str = r#"
flow: on-incident
trigger:
  event: {connection: jira, kind: issue_created, project: SEC}
steps:
  - id: seen
    card: set
    with: {issue: "${event.raw.key}", summary: "${event.name}"}
"#;

const JIRA_SECRET: &str = "jira-webhook-secret-0123456789";

async fn with_event_flows() -> Server {
    Server::start_systems(true, &["okta", "slack", "jira"], |config, dir| {
        std::fs::create_dir_all(dir.join("flows")).unwrap();
        std::fs::write(dir.join("flows/on-channel.yaml"), ON_CHANNEL).unwrap();
        std::fs::write(dir.join("flows/on-incident.yaml"), ON_INCIDENT).unwrap();
        std::fs::write(dir.join("jira-secret"), JIRA_SECRET).unwrap();
        config
            .flows
            .webhook_secrets
            .insert("jira".into(), "file:jira-secret".into());
    })
    .await
}

/// The runs of `flow`, once `count` of them exist and have finished (or after a few seconds).
async fn runs(server: &Server, flow: &str, count: usize) -> Vec<grantflow_store::FlowRunRecord> {
    let mut found = vec![];
    for _ in 0..100 {
        found = server.store.flow_runs(Some(flow), 10).await.unwrap();
        if found.len() >= count && found.iter().all(|r| r.finished_at.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found
}

async fn output(server: &Server, run: &str) -> Value {
    let (status, body) = server
        .call("viewer", "GET", &format!("/api/v1/flow-runs/{run}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "succeeded", "{body}");
    body["steps"][0]["output"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slack_channel_created_starts_one_run_and_a_forged_event_none() {
    let server = with_event_flows().await;
    let admin = &server.systems["slack"];
    // Slack checks the request URL with a url_verification challenge before it takes it.
    let set = server
        .client
        .post(format!("{admin}/app"))
        .json(&json!({"events_url": server.url("/hooks/slack/events")}))
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success(), "{}", set.text().await.unwrap());

    let slack = &server.sandbox.info.systems["slack"];
    let created: Value = server
        .client
        .post(format!("{}/api/conversations.create", slack.base_url))
        .bearer_auth(&slack.credentials["token"])
        .form(&[("name", "incident-4711")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["ok"], true, "{created}");

    let found = runs(&server, "on-channel", 1).await;
    assert_eq!(found.len(), 1, "one channel, one run");
    let seen = output(&server, &found[0].id).await;
    assert_eq!(seen["channel"], "incident-4711");
    assert_eq!(seen["system"], "slack");

    // Slack retries the same event (same event_id): no second run.
    let events: Value = server
        .client
        .get(format!("{admin}/events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event_id = events["events"][0]["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    let retried: Value = server
        .client
        .post(format!("{admin}/events/redeliver"))
        .json(&json!({"event_id": event_id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(retried["status"], 200, "{retried}");
    assert_eq!(runs(&server, "on-channel", 1).await.len(), 1);

    // The same event signed with another secret is refused, starts nothing, and is audited.
    let forged = events["events"][0]["envelope"]
        .to_string()
        .replace(&event_id, "Ev0FORGED");
    let refused = server
        .client
        .post(server.url("/hooks/slack/events"))
        .header("content-type", "application/json")
        .header(
            "x-slack-request-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header("x-slack-signature", format!("v0={}", "ab".repeat(32)))
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs(&server, "on-channel", 1).await.len(), 1);
    let audited = server
        .store
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "api.refused" && e.subject.starts_with("POST /slack/slack"))
        .count();
    assert_eq!(audited, 1, "the forged event is audited");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jira_issue_created_starts_one_run_of_its_projects_flow() {
    let server = with_event_flows().await;
    let admin = &server.systems["jira"];
    let registered = server
        .client
        .post(format!("{admin}/webhooks"))
        .json(&json!({"url": server.url("/hooks/jira/jira"), "secret": JIRA_SECRET}))
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success());
    let jira = &server.sandbox.info.systems["jira"];
    let create = |project: &'static str, summary: &'static str| {
        let server = &server;
        async move {
            let created = server
                .client
                .post(format!("{}/rest/api/3/issue", jira.base_url))
                .basic_auth(&jira.credentials["email"], Some(&jira.credentials["token"]))
                .json(&json!({"fields": {
                    "project": {"key": project},
                    "issuetype": {"name": if project == "SEC" { "Incident" } else { "Task" }},
                    "summary": summary,
                }}))
                .send()
                .await
                .unwrap();
            assert_eq!(created.status(), 201);
            created.json::<Value>().await.unwrap()
        }
    };
    // An issue of another project is not this flow's.
    create("PLAT", "Upgrade the build agents").await;
    let incident = create("SEC", "Suspicious sign-in for kim").await;

    let found = runs(&server, "on-incident", 1).await;
    assert_eq!(found.len(), 1, "one SEC issue, one run");
    let seen = output(&server, &found[0].id).await;
    assert_eq!(seen["issue"], incident["key"]);
    assert_eq!(seen["summary"], "Suspicious sign-in for kim");

    // A delivery that is not signed with the secret is refused and audited.
    let forged = server
        .client
        .post(server.url("/hooks/jira/jira"))
        .header("x-hub-signature", format!("sha256={}", "00".repeat(32)))
        .json(&json!({"webhookEvent": "jira:issue_created", "timestamp": 1,
                      "issue": {"id": "99999", "key": "SEC-99", "fields": {"project": {"key": "SEC"}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    // The emulator delivered once (PLAT's issue is delivered too, and starts nothing).
    let deliveries: Value = server
        .client
        .get(format!("{admin}/webhooks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<&Value> = deliveries["webhooks"][0]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["status"])
        .collect();
    assert_eq!(statuses, [&json!(200), &json!(200)], "{deliveries}");
    // A correctly signed delivery starts a run, and the same delivery again (Jira's retry) does not.
    let body = json!({"webhookEvent": "jira:issue_created", "timestamp": 1_764_900_000_000_i64,
                      "issue": {"id": "20001", "key": "SEC-77", "fields": {"summary": "Retried", "project": {"key": "SEC"}}}})
    .to_string();
    for _ in 0..2 {
        let delivered = server
            .client
            .post(server.url("/hooks/jira/jira"))
            .header("content-type", "application/json")
            .header(
                "x-hub-signature",
                grantflow_sandbox::jira::hub_signature(JIRA_SECRET, body.as_bytes()),
            )
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(delivered.status(), 200);
    }
    assert_eq!(runs(&server, "on-incident", 2).await.len(), 2);
    let audited = server
        .store
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "api.refused" && e.subject == "POST /hooks/jira/jira")
        .count();
    assert_eq!(audited, 1);
}
