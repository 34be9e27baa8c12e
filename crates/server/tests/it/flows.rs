//! Workflows through the server: a run started by an API call and run by the server's own worker, read
//! card by card; a signed webhook that starts one run per delivery; an Okta event that starts a flow.

use std::time::Duration;

use serde_json::{Value, json};

use crate::kit::{PERSON, Server};

const MARK_MEMBER: &str = r#"
flow: mark-member
description: seed 001 — mark a person's profile when they join a group
trigger:
  api: {}
inputs:
  who: {type: string}
steps:
  - id: user
    card: person.get
    with: {who: "${inputs.who}"}
  - id: mark
    card: profile.update
    with:
      connection: okta
      who: "${steps.user.login}"
      attributes: {isMemberOfGroup: true}
  - id: done
    return: {login: "${steps.user.login}", changed: "${steps.mark.changed}"}
"#;

const HOOKED: &str = r#"
flow: hooked
trigger:
  webhook: {secret: "file:hook-secret"}
steps:
  - id: echo
    card: set
    with: {ticket: "${event.body.ticket}"}
"#;

const ON_GROUP_ADD: &str = r#"
flow: on-group-add
trigger:
  okta: {event: user_added_to_group, group: "Production Access Demo"}
steps:
  - id: who
    card: set
    with: {login: "${event.user.login}", group: "${event.group.name}"}
"#;

async fn with_flows() -> Server {
    Server::start_with(true, |_, dir| {
        std::fs::create_dir_all(dir.join("flows")).unwrap();
        std::fs::write(dir.join("flows/mark-member.yaml"), MARK_MEMBER).unwrap();
        std::fs::write(dir.join("flows/hooked.yaml"), HOOKED).unwrap();
        std::fs::write(dir.join("flows/on-group-add.yaml"), ON_GROUP_ADD).unwrap();
        std::fs::write(dir.join("hook-secret"), "whsec-test-0123456789").unwrap();
    })
    .await
}

async fn finished(server: &Server, run: &str) -> Value {
    let mut body = Value::Null;
    for _ in 0..150 {
        body = server
            .call("viewer", "GET", &format!("/api/v1/flow-runs/{run}"), None)
            .await
            .1;
        if body["state"] == "succeeded" || body["state"] == "failed" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {run} did not finish: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_started_through_the_api_runs_in_the_server_card_by_card() {
    let server = with_flows().await;
    let (status, flows) = server.call("viewer", "GET", "/api/v1/flows", None).await;
    assert_eq!(status, 200, "{flows}");
    let names: Vec<&str> = flows["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(names, ["hooked", "mark-member", "on-group-add"]);

    let start = |key: &'static str| {
        let server = &server;
        async move {
            let request = server
                .client
                .post(server.url("/api/v1/flows/mark-member/runs"))
                .bearer_auth(&server.tokens["admin"])
                .header("Idempotency-Key", key)
                .json(&json!({"inputs": {"who": PERSON}}));
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, first) = start("ticket-42").await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["started"], true);
    let run = first["id"].as_str().unwrap().to_string();
    let (_, again) = start("ticket-42").await;
    assert_eq!(again["id"], run.as_str(), "one key, one run");
    assert_eq!(again["started"], false);

    let done = finished(&server, &run).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["output"], json!({"login": PERSON, "changed": true}));
    let cards: Vec<&str> = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["card"].as_str())
        .collect();
    assert_eq!(cards, ["person.get", "profile.update", "return"]);
    assert_eq!(
        done["steps"][1]["input"]["attributes"],
        json!({"isMemberOfGroup": true})
    );
    assert_eq!(done["actor"], "token:admin");

    // The change went through a plan and the engine: its plan is in the step's output and in the audit trail.
    let plan = done["steps"][1]["output"]["plan"].as_str().unwrap();
    let events = server.store.audit_events().await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "operation.succeeded" && e.subject.starts_with(plan))
    );
    assert!(
        events
            .iter()
            .any(|e| e.action == "flow.run_finished" && e.subject == run)
    );

    // Who may do what: a viewer reads but does not start; a requester does neither.
    let (status, _) = server
        .call(
            "viewer",
            "POST",
            "/api/v1/flows/mark-member/runs",
            Some(json!({"inputs": {"who": PERSON}})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = server
        .call(
            "requester",
            "GET",
            &format!("/api/v1/flow-runs/{run}"),
            None,
        )
        .await;
    assert_eq!(status, 403);
    // A flow whose trigger is not an API call is not started by one; unknown inputs are refused.
    let (status, body) = server
        .call(
            "admin",
            "POST",
            "/api/v1/flows/hooked/runs",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "not_callable");
    let (status, body) = server
        .call(
            "admin",
            "POST",
            "/api/v1/flows/mark-member/runs",
            Some(json!({"inputs": {"whom": "x"}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_webhook_starts_one_run_and_a_forged_or_stale_one_none() {
    let server = with_flows().await;
    let body = br#"{"ticket":"INC-7"}"#;
    let deliver = |timestamp: i64, signature: String| {
        let server = &server;
        async move {
            let response = server
                .client
                .post(server.url("/hooks/flows/hooked"))
                .header("X-Grantflow-Timestamp", timestamp.to_string())
                .header("X-Grantflow-Signature", signature)
                .body(body.to_vec())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or_default())
        }
    };
    let now = grantflow_model::Clock::now(&*server.clock).timestamp();
    let signed = grantflow_workflows::webhook::sign(b"whsec-test-0123456789", now, body);
    let (status, first) = deliver(now, signed.clone()).await;
    assert_eq!(status, 202, "{first}");
    let run = first["run"].as_str().unwrap().to_string();
    // The same delivery again (a retry, or a replay within the tolerance) starts nothing new.
    let (status, again) = deliver(now, signed).await;
    assert_eq!(status, 200);
    assert_eq!(again["run"], run.as_str());
    // A forged signature and a stale timestamp are refused, and audited.
    let forged = grantflow_workflows::webhook::sign(b"not-the-secret", now, body);
    assert_eq!(deliver(now, forged).await.0, 401);
    let stale = now - 3600;
    let old = grantflow_workflows::webhook::sign(b"whsec-test-0123456789", stale, body);
    assert_eq!(deliver(stale, old).await.0, 401);
    let done = finished(&server, &run).await;
    assert_eq!(done["steps"][0]["output"], json!({"ticket": "INC-7"}));
    assert_eq!(
        server
            .store
            .flow_runs(Some("hooked"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let refusals = server
        .store
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "api.refused" && e.subject == "POST /hooks/flows/hooked")
        .count();
    assert_eq!(refusals, 2);
    // A flow without a webhook trigger answers as if it did not exist.
    let (status, _) = {
        let response = server
            .client
            .post(server.url("/hooks/flows/mark-member"))
            .body("{}")
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), ())
    };
    assert_eq!(status, 401);
}
