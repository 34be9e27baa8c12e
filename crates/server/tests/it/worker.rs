//! A plan applied through the API runs in the server's own worker: 202 at
//! once, then its progress reaches the end, and every event says who acted.

use std::time::Duration;

use crate::kit::{PERSON, Server};

#[tokio::test(flavor = "multi_thread")]
async fn an_applied_plan_is_run_by_the_in_process_worker() {
    let server = Server::start(true).await;
    let plan = server.approved_plan().await;
    let (status, queued) = server
        .call(
            "operator:okta",
            "POST",
            &format!("/api/v1/plans/{plan}/apply"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["progress"], format!("/api/v1/plans/{plan}/progress"));
    let mut progress = serde_json::Value::Null;
    for _ in 0..100 {
        progress = server
            .call(
                "viewer",
                "GET",
                &format!("/api/v1/plans/{plan}/progress"),
                None,
            )
            .await
            .1;
        if progress["done"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(progress["done"], true, "{progress}");
    assert_eq!(progress["jobs"][0]["state"], "succeeded", "{progress}");

    // The person now holds the group, as the API reads it.
    let (_, person) = server
        .call("viewer", "GET", &format!("/api/v1/people/{PERSON}"), None)
        .await;
    let groups: Vec<&str> = person["accounts"][0]["grants"]
        .as_array()
        .expect("grants")
        .iter()
        .filter_map(|g| g["resource"].as_str())
        .collect();
    assert!(groups.contains(&"Production Access Demo"), "{person}");

    let events = server.store.audit_events().await.expect("events");
    let who = |action: &str| {
        events
            .iter()
            .filter(|e| e.action == action && e.subject.starts_with(&plan))
            .map(|e| e.actor.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(who("plan.created"), ["token:requester"]);
    assert_eq!(who("plan.approved"), ["token:approver"]);
    assert_eq!(who("plan.queued"), ["token:operator-okta"]);
}

/// An account action asked for through the API waits for an approver like
/// any requested change, then the worker carries it out.
#[tokio::test(flavor = "multi_thread")]
async fn a_requested_account_action_waits_for_approval_then_runs() {
    let server = Server::start(true).await;
    let action = serde_json::json!({
        "action": { "connection": "okta", "verb": "reset-mfa", "who": PERSON }
    });
    let (status, plan) = server
        .call("requester", "POST", "/api/v1/plans", Some(action))
        .await;
    assert_eq!(status, 201, "{plan}");
    let id = plan["id"].as_str().expect("plan id").to_string();
    let apply = format!("/api/v1/plans/{id}/apply");
    let (status, refused) = server.call("operator:okta", "POST", &apply, None).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "approval_required", "{refused}");
    let (status, _) = server
        .call(
            "approver",
            "POST",
            &format!("/api/v1/plans/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server.call("operator:okta", "POST", &apply, None).await;
    assert_eq!(status, 202);
    let mut progress = serde_json::Value::Null;
    for _ in 0..100 {
        progress = server
            .call(
                "viewer",
                "GET",
                &format!("/api/v1/plans/{id}/progress"),
                None,
            )
            .await
            .1;
        if progress["done"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(progress["jobs"][0]["state"], "succeeded", "{progress}");
}
