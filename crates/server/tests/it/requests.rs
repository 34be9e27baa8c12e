//! Access requests through the API: approval chains from the policy files,
//! self-approval refused, N of M, auto-approval by production reach, SLA
//! escalation on the injected clock, separation of duties, and time-bound
//! access that ends on its own timer across a restart of the server.

use std::time::Duration;

use grantflow_service::Role;
use serde_json::{Value, json};

use crate::kit::Server;

const RULES: &str = r#"
policies:
  # Platform manages the production group: anyone else in it is planned away, unless time-bound.
  - name: platform-production
    when: person.department == "Platform" && person.active
    grants:
      - { system: okta, resource: group/Production Access Demo }

approvals:
  - name: production access
    applies_to:
      - { system: okta, resource: group/Production Access Demo }
    owners: [sam.okafor@example.com]
    max_duration: 8h
    stages:
      - { reviewers: { manager: true } }
      - { name: owner, reviewers: { owner: true } }
  - name: finance
    applies_to:
      - { system: okta, resource: group/Finance }
    stages:
      - { name: two of finance, reviewers: { group: Finance }, approvals: 2 }
  - name: self-service unless production
    applies_to:
      - { system: okta, resource: group/Sales }
      - { system: okta, resource: group/Payments Oncall }
    auto_approve: "!reach.production"
    stages:
      - { reviewers: { approvers: true } }
  - name: platform
    applies_to:
      - { system: okta, resource: group/Platform }
    stages:
      - reviewers: { people: [kim.tanaka@example.com] }
        sla: 1h
        escalate_to: { people: [diego.alvarez@example.com] }

conflicts:
  - name: finance and payments
    when: '"okta:group/Finance" in grants && "okta:group/Payments Oncall" in grants'
    blocking: true
  - name: finance and sales
    when: '"okta:group/Finance" in grants && "okta:group/Sales" in grants'
"#;

async fn server() -> Server {
    Server::start_with(true, |_, dir| {
        std::fs::write(dir.join("policies/requests.yaml"), RULES).expect("rules");
    })
    .await
}

async fn ask(server: &Server, token: &str, body: Value) -> (u16, Value) {
    server
        .call_with(Some(token), "POST", "/api/v1/requests", Some(body))
        .await
}

async fn decide(server: &Server, token: &str, id: &str, verdict: &str) -> (u16, Value) {
    server
        .call_with(
            Some(token),
            "POST",
            &format!("/api/v1/requests/{id}/{verdict}"),
            Some(json!({"comment": "looked at it"})),
        )
        .await
}

/// Waits (up to 20 s) until `check` holds for the request as the admin reads it.
async fn until(server: &Server, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..80 {
        let (status, body) = server
            .call("admin", "GET", &format!("/api/v1/requests/{id}"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        if check(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (_, body) = server
        .call("admin", "GET", &format!("/api/v1/requests/{id}"), None)
        .await;
    panic!("request {id}: {what} did not happen: {body:#}");
}

/// Whether the directory (read live through a sync) has `email` in `group`.
async fn in_group(server: &Server, email: &str, group: &str) -> bool {
    let (status, body) = server
        .call("admin", "POST", "/api/v1/connections/okta/sync", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, person) = server
        .call("admin", "GET", &format!("/api/v1/people/{email}"), None)
        .await;
    assert_eq!(status, 200, "{person}");
    person["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["grants"].as_array().into_iter().flatten())
        .any(|g| g["resource"] == group && g["resource_kind"] == "group")
}

fn actions(timeline: &Value) -> Vec<String> {
    timeline["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["action"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_two_stage_chain_approves_the_plan_applies_and_the_grant_ends_after_a_restart() {
    let mut server = server().await;
    let lena = server
        .person_token("lena.fischer@example.com", &[Role::Requester])
        .await;
    let lena_again = server
        .person_token(
            "Lena.Fischer@example.com",
            &[Role::Requester, Role::Approver],
        )
        .await;
    let priya = server
        .person_token("priya.raman@example.com", &[Role::Requester])
        .await;
    let sam = server
        .person_token("sam.okafor@example.com", &[Role::Requester])
        .await;
    let marco = server
        .person_token("marco.rossi@example.com", &[Role::Approver])
        .await;

    let (status, too_long) = ask(
        &server,
        &lena,
        json!({"request": "assign lena.fischer@example.com to the Production Access Demo group",
               "reason": "incident 42", "duration": "9h"}),
    )
    .await;
    assert_eq!(status, 409, "{too_long}");
    assert_eq!(too_long["code"], "duration_too_long");

    let (status, request) = ask(
        &server,
        &lena,
        json!({"request": "assign lena.fischer@example.com to the Production Access Demo group",
               "reason": "incident 42", "duration": "2h", "ticket": "INC-42"}),
    )
    .await;
    assert_eq!(status, 201, "{request}");
    let id = request["id"].as_str().expect("id").to_string();
    assert_eq!(request["state"], "pending");
    assert_eq!(request["rule"], "production access");
    assert_eq!(
        request["stages"][0]["reviewers"],
        json!(["priya.raman@example.com"])
    );
    assert_eq!(
        request["stages"][1]["reviewers"],
        json!(["sam.okafor@example.com"])
    );
    assert!(
        request["review"]["reaches_production"] == true,
        "the review shows production reach: {:#}",
        request["review"]
    );
    assert!(
        !in_group(
            &server,
            "lena.fischer@example.com",
            "Production Access Demo"
        )
        .await
    );

    // Self-approval: not by the requester's token, nor by another token of the same person.
    for token in [&lena, &lena_again] {
        let (status, refused) = decide(&server, token, &id, "approve").await;
        assert_eq!(status, 403, "{refused}");
        assert_eq!(refused["code"], "self_approval");
    }
    // An approver who is not this stage's reviewer; the owner before the manager.
    for token in [&marco, &sam] {
        let (status, refused) = decide(&server, token, &id, "approve").await;
        assert_eq!(status, 403, "{refused}");
        assert_eq!(refused["code"], "forbidden");
    }
    // Reviewers see what they can act on, and nothing else.
    let (_, sams) = server
        .call_with(Some(&sam), "GET", "/api/v1/requests", None)
        .await;
    assert_eq!(sams["items"], json!([]), "{sams}");
    let (_, priyas) = server
        .call_with(Some(&priya), "GET", "/api/v1/requests", None)
        .await;
    assert_eq!(priyas["items"][0]["id"], id.as_str());
    assert_eq!(priyas["items"][0]["can_review"], true);

    let (status, after_manager) = decide(&server, &priya, &id, "approve").await;
    assert_eq!(status, 200, "{after_manager}");
    assert_eq!(after_manager["state"], "pending");
    assert_eq!(after_manager["stage"], 1);
    let (status, twice) = decide(&server, &priya, &id, "approve").await;
    assert_eq!(status, 403, "the manager is not the owner: {twice}");
    let (status, approved) = decide(&server, &sam, &id, "approve").await;
    assert_eq!(status, 200, "{approved}");

    let active = until(&server, &id, "the plan applied", |r| {
        r["state"] == "active" && actions(r).contains(&"plan.finished".to_string())
    })
    .await;
    assert!(active["expires_at"].is_string(), "{active:#}");
    assert!(
        in_group(
            &server,
            "lena.fischer@example.com",
            "Production Access Demo"
        )
        .await
    );

    // Before its end, neither a plan from the policies nor drift takes it away.
    let (status, plan) = server
        .call(
            "admin",
            "POST",
            "/api/v1/plans",
            Some(json!({"from": "policies"})),
        )
        .await;
    assert!(status == 201 || status == 200, "{plan}");
    let plan_text = plan.to_string();
    assert!(
        !plan["operations"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|op| op.to_string().contains("lena.fischer")),
        "the policy plan leaves the time-bound grant alone: {plan_text}"
    );
    assert!(
        plan_text.contains("time-bound"),
        "and says why: {plan_text}"
    );
    let (status, drift) = server
        .call("admin", "POST", "/api/v1/drift/check", None)
        .await;
    assert_eq!(status, 200, "{drift}");
    let (_, findings) = server
        .call(
            "admin",
            "GET",
            "/api/v1/drift/findings?connection=okta",
            None,
        )
        .await;
    assert!(
        !findings.to_string().contains("lena.fischer"),
        "no drift finding for it: {findings}"
    );

    // The server restarts; then the time runs out and the grant ends on its own.
    server.restart().await;
    server.clock.advance(Duration::from_secs(2 * 3_600 + 60));
    let ended = until(&server, &id, "the grant ended", |r| {
        r["state"] == "ended"
            && r["end_plan_id"].is_string()
            && actions(r).iter().filter(|a| *a == "plan.finished").count() == 2
    })
    .await;
    assert!(
        !in_group(
            &server,
            "lena.fischer@example.com",
            "Production Access Demo"
        )
        .await
    );
    let timeline = actions(&ended);
    for expected in [
        "request.submitted",
        "request.reviewed",
        "request.approved",
        "plan.created",
        "operation.succeeded",
        "request.ended",
    ] {
        assert!(
            timeline.iter().any(|a| a == expected),
            "{expected} in {timeline:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn n_of_m_auto_approval_escalation_and_separation_of_duties() {
    let server = server().await;
    let james = server
        .person_token("james.wilson@example.com", &[Role::Requester])
        .await;
    let hannah = server
        .person_token("hannah.schmidt@example.com", &[Role::Requester])
        .await;
    let omar = server
        .person_token("omar.haddad@example.com", &[Role::Requester])
        .await;

    // Two of the Finance group's members.
    let (status, finance) = ask(
        &server,
        &james,
        json!({"request": "assign james.wilson@example.com to the Finance group", "reason": "quarter close"}),
    )
    .await;
    assert_eq!(status, 201, "{finance}");
    let id = finance["id"].as_str().expect("id").to_string();
    assert_eq!(finance["stages"][0]["need"], 2);
    let (status, one) = decide(&server, &hannah, &id, "approve").await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["state"], "pending", "one of two is not enough");
    let (status, again) = decide(&server, &hannah, &id, "approve").await;
    assert_eq!(status, 409, "the same reviewer twice is not two: {again}");
    assert_eq!(again["code"], "already_reviewed");
    let (status, two) = decide(&server, &omar, &id, "approve").await;
    assert_eq!(status, 200, "{two}");
    assert_ne!(two["state"], "pending", "{two}");
    // James is in Sales: Finance and Sales together is a conflict reviewers were shown.
    assert_eq!(
        finance["review"]["conflicts"][0]["name"], "finance and sales",
        "{:#}",
        finance["review"]
    );
    assert_eq!(finance["review"]["conflicts"][0]["blocking"], false);

    // Auto-approval: Sales reaches no production service; Payments Oncall does.
    let lena = server
        .person_token("lena.fischer@example.com", &[Role::Requester])
        .await;
    let (status, sales) = ask(
        &server,
        &lena,
        json!({"request": "assign lena.fischer@example.com to the Sales group", "reason": "customer visit"}),
    )
    .await;
    assert_eq!(status, 201, "{sales}");
    assert_ne!(sales["state"], "pending", "auto-approved: {sales:#}");
    let (status, payments) = ask(
        &server,
        &lena,
        json!({"request": "assign lena.fischer@example.com to the Payments Oncall group", "reason": "rotation"}),
    )
    .await;
    assert_eq!(status, 201, "{payments}");
    assert_eq!(
        payments["state"], "pending",
        "production is reviewed: {payments:#}"
    );

    // A blocking conflict refuses the request: Olivia is on Payments Oncall.
    let olivia = server
        .person_token("olivia.smith@example.com", &[Role::Requester])
        .await;
    let (status, refused) = ask(
        &server,
        &olivia,
        json!({"request": "assign olivia.smith@example.com to the Finance group", "reason": "audit"}),
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "sod_conflict");

    // Escalation: Kim reviews; after the SLA, Diego may too.
    let diego = server
        .person_token("diego.alvarez@example.com", &[Role::Requester])
        .await;
    let (status, platform) = ask(
        &server,
        &lena,
        json!({"request": "assign lena.fischer@example.com to the Platform group", "reason": "move"}),
    )
    .await;
    assert_eq!(status, 201, "{platform}");
    let id = platform["id"].as_str().expect("id").to_string();
    let (status, early) = decide(&server, &diego, &id, "approve").await;
    assert_eq!(status, 403, "not before the SLA: {early}");
    server.clock.advance(Duration::from_secs(3_600 + 60));
    let escalated = until(&server, &id, "the escalation", |r| {
        r["stages"][0]["escalated"] == true
    })
    .await;
    assert!(actions(&escalated).contains(&"request.escalated".to_string()));
    let (status, decided) = decide(&server, &diego, &id, "deny").await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["state"], "denied");
}
