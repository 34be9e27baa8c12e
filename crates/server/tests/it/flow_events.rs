//! Okta events reaching flows through the System Log when no event hook is configured: a membership
//! changed by hand in Okta starts the isMemberOfGroup-style flow once however many polls see it; a run
//! waiting for an event about its person goes on when the event comes, and fails its step with
//! `wait_timeout` (caught) when it does not come in time.

use std::time::Duration;

use serde_json::{Value, json};

use crate::kit::Server;

const ON_JOIN: &str = r#"
flow: mark-member-on-join
trigger:
  okta: {event: user_added_to_group, group: "Payments Oncall"}
steps:
  - id: mark
    card: profile.update
    with:
      connection: okta
      who: "${event.user.login}"
      attributes: {isMemberOfGroup: true}
  - id: done
    return: {login: "${event.user.login}", group: "${event.group.name}", changed: "${steps.mark.changed}"}
"#;

const AWAIT_SUSPENSION: &str = r#"
flow: await-suspension
trigger:
  api: {}
inputs:
  who: {type: string}
steps:
  - id: suspended
    wait:
      event: {okta: user_suspended}
      timeout: 1h
  - id: done
    return: {login: "${steps.suspended.event.user.login}", type: "${steps.suspended.event.type}"}
"#;

const AWAIT_ACTIVATION: &str = r#"
flow: await-activation
trigger:
  api: {}
inputs:
  person: {type: string}
steps:
  - id: activated
    wait:
      event: {okta: user_activated}
      timeout: 2h
      who: "${inputs.person}"
    catch:
      - id: gave_up
        return: {gave_up: "${error.code}"}
  - id: done
    return: {activated: true}
"#;

async fn server() -> Server {
    Server::start_with(true, |config, dir| {
        config.flows.okta_poll_interval = Duration::from_millis(200);
        std::fs::create_dir_all(dir.join("flows")).expect("flows");
        for (name, text) in [
            ("mark-member-on-join", ON_JOIN),
            ("await-suspension", AWAIT_SUSPENSION),
            ("await-activation", AWAIT_ACTIVATION),
        ] {
            std::fs::write(dir.join(format!("flows/{name}.yaml")), text).expect("flow");
        }
    })
    .await
}

async fn hand_change(server: &Server, change: Value) {
    let answer = server.sandbox.info.systems["okta"]
        .http_client()
        .expect("client")
        .post(format!("{}/hand-change", server.systems["okta"]))
        .json(&change)
        .send()
        .await
        .expect("hand change");
    assert!(answer.status().is_success(), "{change}");
}

/// Polls the run until `check` holds (up to 20 s).
async fn run_until(
    server: &Server,
    run: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let mut body = Value::Null;
    for _ in 0..200 {
        body = server
            .call("admin", "GET", &format!("/api/v1/flow-runs/{run}"), None)
            .await
            .1;
        if check(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {run}: {what} did not happen: {body:#}");
}

async fn start(server: &Server, flow: &str, inputs: Value) -> String {
    let (status, body) = server
        .call(
            "admin",
            "POST",
            &format!("/api/v1/flows/{flow}/runs"),
            Some(json!({ "inputs": inputs })),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    body["id"].as_str().expect("run id").to_string()
}

/// Until the flow worker's first poll has stored where the System Log was read to.
async fn first_poll(server: &Server) {
    for _ in 0..100 {
        if server
            .store
            .flow_cursor("okta-log:okta")
            .await
            .expect("cursor")
            .is_some()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the System Log was never polled for flows");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_membership_changed_by_hand_starts_its_flow_once_through_the_system_log() {
    let server = server().await;
    first_poll(&server).await;
    let before = server.store.flow_cursor("okta-log:okta").await.unwrap();
    hand_change(
        &server,
        json!({"op": "add", "user": "tom.baker@example.com", "resource": "group/Payments Oncall"}),
    )
    .await;
    let mut runs = Vec::new();
    for _ in 0..100 {
        runs = server
            .store
            .flow_runs(Some("mark-member-on-join"), 10)
            .await
            .unwrap();
        if !runs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(runs.len(), 1, "the hand change started the flow");
    let run = runs[0].id.clone();
    let key = runs[0].event_key.clone().unwrap_or_default();
    assert!(
        key.starts_with("okta:okta:"),
        "keyed by the event's uuid: {key}"
    );
    let done = run_until(&server, &run, "the run's end", |r| {
        r["state"] == "succeeded" || r["state"] == "failed"
    })
    .await;
    assert_eq!(
        done["output"],
        json!({"login": "tom.baker@example.com", "group": "Payments Oncall", "changed": true}),
        "{done:#}"
    );
    // More polls (and the profile update's own System Log event) start nothing more.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let runs = server
        .store
        .flow_runs(Some("mark-member-on-join"), 10)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1, "one event, one run, across polls");
    assert_ne!(
        server.store.flow_cursor("okta-log:okta").await.unwrap(),
        before,
        "the cursor moved on past the event"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_waits_for_its_persons_event_and_a_wait_that_times_out_fails_its_step() {
    let server = server().await;
    first_poll(&server).await;
    let waiting = start(
        &server,
        "await-suspension",
        json!({"who": "lena.fischer@example.com"}),
    )
    .await;
    let timing_out = start(
        &server,
        "await-activation",
        json!({"person": "kim.tanaka@example.com"}),
    )
    .await;
    for run in [&waiting, &timing_out] {
        run_until(&server, run, "parking", |r| r["state"] == "waiting").await;
    }
    // Another person's suspension is not the one the run waits for.
    hand_change(
        &server,
        json!({"op": "suspend", "user": "tom.baker@example.com"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let still = run_until(&server, &waiting, "still waiting", |_| true).await;
    assert_eq!(still["state"], "waiting", "{still:#}");
    hand_change(
        &server,
        json!({"op": "suspend", "user": "lena.fischer@example.com"}),
    )
    .await;
    let done = run_until(&server, &waiting, "the run's end", |r| {
        r["state"] == "succeeded"
    })
    .await;
    assert_eq!(
        done["output"],
        json!({"login": "lena.fischer@example.com", "type": "user_suspended"})
    );

    // Nobody activates kim: past the timeout the step fails with wait_timeout, and its catch takes it.
    let parked = run_until(&server, &timing_out, "still waiting", |_| true).await;
    assert_eq!(parked["state"], "waiting", "{parked:#}");
    server.clock.advance(Duration::from_secs(2 * 3600 + 60));
    let gave_up = run_until(&server, &timing_out, "the timeout", |r| {
        r["state"] == "succeeded" || r["state"] == "failed"
    })
    .await;
    assert_eq!(
        gave_up["output"],
        json!({"gave_up": "wait_timeout"}),
        "{gave_up:#}"
    );
    let step = gave_up["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["card"] == "wait")
        .cloned()
        .unwrap();
    assert_eq!(step["state"], "failed");
    assert!(
        step["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("kim.tanaka@example.com"),
        "{step:#}"
    );
}
