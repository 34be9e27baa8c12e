//! Flows started by requests: one run when a request is submitted, one when it is approved (the request
//! as the API shows it, with who approved it), none for a bundle the request did not ask for.

use std::time::Duration;

use grantflow_service::Role;
use serde_json::{Value, json};

use crate::kit::Server;

const RULES: &str = r#"
approvals:
  - name: platform
    applies_to:
      - { system: okta, resource: group/Platform }
    stages:
      - reviewers: { people: [kim.tanaka@example.com] }
"#;

const ON_SUBMITTED: &str = r#"
flow: on-submitted
trigger:
  request: {on: submitted}
steps:
  - id: seen
    card: set
    with: {request: "${event.id}", state: "${event.state}", reason: "${event.reason}"}
"#;

const ON_APPROVED: &str = r#"
flow: on-approved
trigger:
  request: {on: approved}
steps:
  - id: seen
    card: set
    with: {request: "${event.id}", approvers: "${event.approvers}", requester: "${event.requester}"}
"#;

const ON_BUNDLE: &str = r#"
flow: on-sales-bundle
trigger:
  request: {bundle: Sales Tools, on: submitted}
steps:
  - id: seen
    card: set
    with: {request: "${event.id}"}
"#;

async fn server() -> Server {
    Server::start_with(true, |_, dir| {
        std::fs::write(dir.join("policies/requests.yaml"), RULES).expect("rules");
        std::fs::create_dir_all(dir.join("flows")).expect("flows");
        for (name, text) in [
            ("on-submitted", ON_SUBMITTED),
            ("on-approved", ON_APPROVED),
            ("on-sales-bundle", ON_BUNDLE),
        ] {
            std::fs::write(dir.join(format!("flows/{name}.yaml")), text).expect("flow");
        }
    })
    .await
}

/// The runs of `flow` once every one of them has finished (up to 15 s).
async fn finished_runs(server: &Server, flow: &str, count: usize) -> Vec<Value> {
    let mut runs = Vec::new();
    for _ in 0..150 {
        let (status, body) = server
            .call(
                "admin",
                "GET",
                &format!("/api/v1/flow-runs?flow={flow}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        runs = body["items"].as_array().cloned().unwrap_or_default();
        if runs.len() >= count && runs.iter().all(|r| r["state"] == "succeeded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut full = Vec::new();
    for run in &runs {
        let id = run["id"].as_str().expect("run id");
        full.push(
            server
                .call("admin", "GET", &format!("/api/v1/flow-runs/{id}"), None)
                .await
                .1,
        );
    }
    full
}

#[tokio::test(flavor = "multi_thread")]
async fn submitting_a_request_starts_its_flow_once_and_approving_it_the_approved_flow() {
    let server = server().await;
    let lena = server
        .person_token("lena.fischer@example.com", &[Role::Requester])
        .await;
    let kim = server
        .person_token("kim.tanaka@example.com", &[Role::Requester])
        .await;
    let (status, request) = server
        .call_with(
            Some(&lena),
            "POST",
            "/api/v1/requests",
            Some(json!({"request": "assign lena.fischer@example.com to the Platform group", "reason": "joining the team"})),
        )
        .await;
    assert_eq!(status, 201, "{request}");
    let id = request["id"].as_str().expect("id").to_string();

    let submitted = finished_runs(&server, "on-submitted", 1).await;
    assert_eq!(
        submitted.len(),
        1,
        "one submission, one run: {submitted:#?}"
    );
    assert_eq!(submitted[0]["trigger"], "request");
    let stored = server
        .store
        .flow_runs(Some("on-submitted"), 10)
        .await
        .expect("runs");
    assert_eq!(
        stored[0].event_key.as_deref(),
        Some(format!("request:{id}:submitted").as_str())
    );
    assert_eq!(
        submitted[0]["steps"][0]["output"],
        json!({"request": id, "state": "pending", "reason": "joining the team"})
    );
    // Not approved yet, and not a bundle request: neither of the other flows started.
    assert!(finished_runs(&server, "on-approved", 0).await.is_empty());

    let (status, decided) = server
        .call_with(
            Some(&kim),
            "POST",
            &format!("/api/v1/requests/{id}/approve"),
            Some(json!({"comment": "welcome"})),
        )
        .await;
    assert_eq!(status, 200, "{decided}");
    let approved = finished_runs(&server, "on-approved", 1).await;
    assert_eq!(approved.len(), 1, "{approved:#?}");
    assert_eq!(
        approved[0]["steps"][0]["output"],
        json!({"request": id, "approvers": ["kim.tanaka@example.com"], "requester": request["requester"]})
    );
    // The timer that fulfils approved requests ticks on; the submission is not seen twice either.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(finished_runs(&server, "on-approved", 1).await.len(), 1);
    assert_eq!(finished_runs(&server, "on-submitted", 1).await.len(), 1);
    assert!(
        finished_runs(&server, "on-sales-bundle", 0)
            .await
            .is_empty()
    );
}

/// A request submitted while the flow files had a mistake started nothing then; once the files are fixed,
/// the flow worker offers the request to the flows again and its `submitted` run starts, once.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_whose_flows_could_not_start_is_offered_again_once_they_can() {
    let flows_dir = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = flows_dir.clone();
    let server = Server::start_with(true, move |_, dir| {
        std::fs::write(dir.join("policies/requests.yaml"), RULES).expect("rules");
        std::fs::create_dir_all(dir.join("flows")).expect("flows");
        std::fs::write(dir.join("flows/on-submitted.yaml"), ON_SUBMITTED).expect("flow");
        std::fs::write(dir.join("flows/broken.yaml"), "flow: broken\nsteps: [").expect("flow");
        *seen.lock().expect("lock") = Some(dir.join("flows"));
    })
    .await;
    let lena = server
        .person_token("lena.fischer@example.com", &[Role::Requester])
        .await;
    let (status, request) = server
        .call_with(
            Some(&lena),
            "POST",
            "/api/v1/requests",
            Some(json!({"request": "assign lena.fischer@example.com to the Platform group", "reason": "joining the team"})),
        )
        .await;
    assert_eq!(status, 201, "{request}");
    let id = request["id"].as_str().expect("id").to_string();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(
        server
            .store
            .flow_runs(Some("on-submitted"), 10)
            .await
            .expect("runs")
            .is_empty(),
        "no flow can start while the files have a mistake"
    );

    let dir = flows_dir.lock().expect("lock").clone().expect("flows dir");
    std::fs::remove_file(dir.join("broken.yaml")).expect("fix");
    let mut runs = Vec::new();
    for _ in 0..300 {
        runs = server
            .store
            .flow_runs(Some("on-submitted"), 10)
            .await
            .expect("runs");
        if !runs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(runs.len(), 1, "the missed submission started its run");
    assert_eq!(
        runs[0].event_key.as_deref(),
        Some(format!("request:{id}:submitted").as_str())
    );
    // Later sweeps find nothing more to offer.
    tokio::time::sleep(Duration::from_millis(6_000)).await;
    assert_eq!(
        server
            .store
            .flow_runs(Some("on-submitted"), 10)
            .await
            .expect("runs")
            .len(),
        1
    );
}
