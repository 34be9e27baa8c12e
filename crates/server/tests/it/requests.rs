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
  - name: mfa reset
    applies_to:
      - { action: reset_mfa }
    stages:
      - { reviewers: { manager: true } }
  - name: suspending finance
    applies_to:
      - { action: suspend, when: '"Finance" in groups' }
    stages:
      - { name: two of platform, reviewers: { group: Platform }, approvals: 2 }

conflicts:
  - name: finance and payments
    when: '"okta:group/Finance" in grants && "okta:group/Payments Oncall" in grants'
    blocking: true
  - name: finance and sales
    when: '"okta:group/Finance" in grants && "okta:group/Sales" in grants'
  - name: platform and production
    when: '"okta:group/Platform" in grants && "okta:group/Production Access Demo" in grants'
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
    // Her view says the grant is this request's, until its end.
    let (_, lena_view) = server
        .call(
            "admin",
            "GET",
            "/api/v1/people/lena.fischer@example.com",
            None,
        )
        .await;
    let given = lena_view.to_string();
    assert!(
        given.contains(&format!("\"text\":\"request {id}, until "))
            && given.contains("\"kind\":\"request\""),
        "{lena_view:#}"
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
    // The plan reports whom it would put in a separation-of-duties conflict.
    assert!(
        plan["warnings"].as_array().into_iter().flatten().any(|w| w
            .as_str()
            .is_some_and(|w| w.contains("diego.alvarez@example.com")
                && w.contains("platform and production"))),
        "{:#}",
        plan["warnings"]
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
    // Those already in both are findings of drift.
    assert!(
        findings["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["kind"] == "sod_conflict"
                && f["key"] == "sod_conflict:platform and production:sam.okafor@example.com"),
        "{findings:#}"
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

const BREAK_GLASS: &str = r#"
bundles:
  - name: payments on-call
    grants:
      - { system: okta, resource: group/Payments Oncall }
    break_glass:
      who: person.department == "Platform"
      max_duration: 1h
      notify: { system: slack, channel: platform }
      reviewers: { people: [sam.okafor@example.com] }
"#;

/// A server over Okta and Slack, with the Slack app's request URLs pointing at it.
async fn with_slack() -> Server {
    let server = Server::start_systems(true, &["okta", "slack"], |_, dir| {
        std::fs::write(dir.join("policies/requests.yaml"), RULES).expect("rules");
        std::fs::write(dir.join("policies/bundles.yaml"), BREAK_GLASS).expect("bundles");
    })
    .await;
    let admin = &server.systems["slack"];
    let set = server
        .client
        .post(format!("{admin}/app"))
        .json(&json!({
            "command": "/grantflow",
            "command_url": server.url("/slack/slack/commands"),
            "interactivity_url": server.url("/slack/slack/interactions"),
        }))
        .send()
        .await
        .expect("sandbox answers");
    assert!(
        set.status().is_success(),
        "{}",
        set.text().await.unwrap_or_default()
    );
    server
}

/// A person typing `/grantflow <text>` in Slack: the app's reply.
async fn slash(server: &Server, who: &str, text: &str) -> Value {
    let admin = &server.systems["slack"];
    let answer: Value = server
        .client
        .post(format!("{admin}/slash-command"))
        .json(&json!({"user": who, "text": text}))
        .send()
        .await
        .expect("sandbox answers")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["status"], 200, "{answer:#}");
    answer["json"].clone()
}

/// The app's messages (newest last).
async fn slack_messages(server: &Server) -> Vec<Value> {
    let admin = &server.systems["slack"];
    let listed: Value = server
        .client
        .get(format!("{admin}/messages"))
        .send()
        .await
        .expect("sandbox answers")
        .json()
        .await
        .expect("json");
    listed["messages"].as_array().cloned().unwrap_or_default()
}

/// The newest message about `request` that still has its Approve button (a decided one is replaced).
async fn approval_message(server: &Server, request: &str) -> Value {
    for _ in 0..40 {
        let found = slack_messages(server).await.into_iter().rev().find(|m| {
            m.to_string().contains(request) && m["blocks"].to_string().contains("\"approve\"")
        });
        if let Some(found) = found {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "no approval message for {request}: {:#?}",
        slack_messages(server).await
    );
}

async fn click(server: &Server, who: &str, message: &Value, action: &str) -> Value {
    let admin = &server.systems["slack"];
    let answer: Value = server
        .client
        .post(format!("{admin}/click"))
        .json(&json!({"user": who, "ts": message["ts"], "channel": message["channel"], "action_id": action}))
        .send()
        .await
        .expect("sandbox answers")
        .json()
        .await
        .expect("json");
    answer
}

/// Slack's v0 signature of `body` at `timestamp` with `secret`.
fn slack_signature(secret: &str, timestamp: i64, body: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(tag.as_ref()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slash_command_and_button_clicks_drive_a_request_and_forgeries_are_refused() {
    let server = with_slack().await;

    let reply = slash(
        &server,
        "lena.fischer@example.com",
        "request add me to the Production Access Demo group duration: 1h reason: incident 7",
    )
    .await;
    let text = reply["text"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("waiting for manager"), "{reply:#}");
    let id = text
        .split_whitespace()
        .find(|w| w.starts_with("r-"))
        .expect("the reply names the request")
        .to_string();

    let to_priya = approval_message(&server, &id).await;
    assert!(
        to_priya.to_string().contains("Reaches production"),
        "{to_priya:#}"
    );
    let clicked = click(&server, "priya.raman@example.com", &to_priya, "approve").await;
    assert_eq!(clicked["status"], 200, "{clicked:#}");
    let after = until(&server, &id, "the manager's approval", |r| r["stage"] == 1).await;
    assert_eq!(after["stages"][0]["decisions"][0]["channel"], "slack");

    // Lena cannot approve her own request through Slack either: a correctly signed click as her is refused.
    let secret = server.sandbox.info.systems["slack"].credentials["signing_secret"].clone();
    let (_, lena) = server
        .call(
            "admin",
            "GET",
            "/api/v1/people/lena.fischer@example.com",
            None,
        )
        .await;
    let lena_slack = lena["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["connection"] == "slack")
        .and_then(|a| a["account_id"].as_str())
        .expect("lena's Slack id")
        .to_string();
    let payload = json!({
        "type": "block_actions", "user": {"id": lena_slack}, "trigger_id": "t.1",
        "actions": [{"type": "button", "action_id": "approve", "block_id": format!("request:{id}"), "value": id, "action_ts": "1.2"}],
    });
    let body = format!(
        "payload={}",
        url::form_urlencoded::byte_serialize(payload.to_string().as_bytes()).collect::<String>()
    );
    let post = |timestamp: i64, signature: String, body: String| {
        server
            .client
            .post(server.url("/slack/slack/interactions"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header("x-slack-signature", signature)
            .body(body)
            .send()
    };
    let now = chrono::Utc::now().timestamp();
    let own = post(now, slack_signature(&secret, now, &body), body.clone())
        .await
        .expect("answers");
    assert_eq!(own.status(), 200);
    let still = until(&server, &id, "nothing", |r| r["stage"] == 1).await;
    assert_eq!(still["stages"][1]["decisions"], json!([]), "{still:#}");
    // A forged signature, and a correct one from ten minutes ago, are refused before anything is read.
    let forged = post(
        now,
        slack_signature("not-the-secret", now, &body),
        body.clone(),
    )
    .await
    .expect("answers");
    assert_eq!(forged.status(), 401);
    let old = now - 600;
    let replayed = post(old, slack_signature(&secret, old, &body), body.clone())
        .await
        .expect("answers");
    assert_eq!(replayed.status(), 401);
    let problem: Value = replayed.json().await.expect("problem");
    assert_eq!(problem["code"], "slack_signature_stale", "{problem}");

    let to_sam = approval_message(&server, &id).await;
    let clicked = click(&server, "sam.okafor@example.com", &to_sam, "approve").await;
    assert_eq!(clicked["status"], 200, "{clicked:#}");
    until(&server, &id, "the plan applied", |r| {
        r["state"] == "active" && actions(r).contains(&"plan.finished".to_string())
    })
    .await;
    // The requester is told.
    let told = slack_messages(&server).await.iter().any(|m| {
        m["text"]
            .as_str()
            .is_some_and(|t| t.starts_with(&format!("Your request {id}")))
    });
    assert!(told, "{:#?}", slack_messages(&server).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn break_glass_is_taken_at_once_notifies_the_channel_and_opens_a_review() {
    let server = with_slack().await;
    // Not Platform: refused.
    let reply = slash(
        &server,
        "lena.fischer@example.com",
        "break-glass payments on-call reason: checkout is down",
    )
    .await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Not submitted"),
        "{reply:#}"
    );

    let reply = slash(
        &server,
        "nina.petrova@example.com",
        "break-glass payments on-call reason: checkout is down",
    )
    .await;
    let text = reply["text"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("in force until"), "{reply:#}");
    let id = text
        .split_whitespace()
        .find(|w| w.starts_with("r-"))
        .expect("the reply names the request")
        .to_string();
    let request = until(&server, &id, "the access applied", |r| {
        r["state"] == "active" && actions(r).contains(&"plan.finished".to_string())
    })
    .await;
    assert_eq!(request["break_glass"], true);
    assert_eq!(request["duration_seconds"], 3_600);
    assert!(actions(&request).contains(&"request.break_glass".to_string()));
    assert!(in_group(&server, "nina.petrova@example.com", "Payments Oncall").await);
    // The channel was told at once.
    let messages = slack_messages(&server).await;
    assert!(
        messages.iter().any(|m| m["text"]
            .as_str()
            .is_some_and(|t| t.contains("Break-glass") && t.contains(&id))
            && m["channel"].as_str().is_some_and(|c| c.starts_with('C'))),
        "{messages:#?}"
    );
    // The review after the fact: Sam closes it from Slack.
    let to_sam = approval_message(&server, &id).await;
    let clicked = click(&server, "sam.okafor@example.com", &to_sam, "approve").await;
    assert_eq!(clicked["status"], 200, "{clicked:#}");
    let reviewed = until(&server, &id, "the review closed", |r| {
        r["can_review"] == false && r["stages"][0]["decisions"][0]["decision"] == "approve"
    })
    .await;
    assert_eq!(
        reviewed["state"], "active",
        "the access runs to its end: {reviewed:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn account_actions_follow_the_approval_rule_for_the_action_and_the_target() {
    let server = server().await;
    let lena = server
        .person_token("lena.fischer@example.com", &[Role::Requester])
        .await;
    // An MFA reset needs the person's manager (Tom's is Marco).
    let (status, mfa) = ask(
        &server,
        &lena,
        json!({"action": {"connection": "okta", "verb": "reset_mfa", "who": "tom.baker@example.com"},
               "reason": "lost phone"}),
    )
    .await;
    assert_eq!(status, 201, "{mfa}");
    assert_eq!(mfa["rule"], "mfa reset");
    assert_eq!(
        mfa["stages"][0]["reviewers"],
        json!(["marco.rossi@example.com"])
    );

    // Suspending someone in Finance needs two of Platform; suspending someone elsewhere is not this rule's.
    let (status, finance) = ask(
        &server,
        &lena,
        json!({"action": {"connection": "okta", "verb": "suspend", "who": "grace.lee@example.com"},
               "reason": "leaving"}),
    )
    .await;
    assert_eq!(status, 201, "{finance}");
    assert_eq!(finance["rule"], "suspending finance");
    assert_eq!(finance["stages"][0]["need"], 2);
    let (status, sales) = ask(
        &server,
        &lena,
        json!({"action": {"connection": "okta", "verb": "suspend", "who": "noah.brown@example.com"},
               "reason": "leaving"}),
    )
    .await;
    assert_eq!(status, 201, "{sales}");
    assert_eq!(sales["rule"], "default");

    // Asked for directly as a plan, a covered action is refused, even to an administrator.
    let (status, refused) = server
        .call(
            "admin",
            "POST",
            "/api/v1/plans",
            Some(json!({"action": {"connection": "okta", "verb": "reset-mfa", "who": "tom.baker@example.com"}})),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "request_required");

    // Two Platform members approve the suspension, and it happens.
    let kim = server
        .person_token("kim.tanaka@example.com", &[Role::Requester])
        .await;
    let diego = server
        .person_token("diego.alvarez@example.com", &[Role::Requester])
        .await;
    let id = finance["id"].as_str().expect("id").to_string();
    let (status, one) = decide(&server, &kim, &id, "approve").await;
    assert_eq!(
        (status, one["state"].as_str()),
        (200, Some("pending")),
        "{one}"
    );
    let (status, two) = decide(&server, &diego, &id, "approve").await;
    assert_eq!(status, 200, "{two}");
    until(&server, &id, "the suspension", |r| {
        r["state"] == "done" && actions(r).contains(&"plan.finished".to_string())
    })
    .await;
    let (_, grace) = server
        .call("admin", "POST", "/api/v1/connections/okta/sync", None)
        .await;
    assert!(grace.is_object());
    let (_, grace) = server
        .call("admin", "GET", "/api/v1/people/grace.lee@example.com", None)
        .await;
    assert_eq!(grace["person"]["status"], "SUSPENDED", "{grace:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_extension_is_a_request_and_the_grant_stays_until_the_extension_ends() {
    let server = server().await;
    let lena = server
        .person_token("lena.fischer@example.com", &[Role::Requester])
        .await;
    let ask_sales = |duration: &'static str| {
        json!({"request": "assign lena.fischer@example.com to the Sales group", "reason": "customer week",
               "duration": duration})
    };
    let (status, first) = ask(&server, &lena, ask_sales("1h")).await;
    assert_eq!(status, 201, "{first}");
    let first_id = first["id"].as_str().expect("id").to_string();
    until(&server, &first_id, "the grant applied", |r| {
        r["state"] == "active" && actions(r).contains(&"plan.finished".to_string())
    })
    .await;
    let (status, sync) = server
        .call("admin", "POST", "/api/v1/connections/okta/sync", None)
        .await;
    assert_eq!(status, 200, "{sync}");

    // Without a duration an extension is refused; with one it is a request like any other.
    let (status, refused) = ask(
        &server,
        &lena,
        json!({"request": "assign lena.fischer@example.com to the Sales group", "reason": "more"}),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    let (status, extension) = ask(&server, &lena, ask_sales("3h")).await;
    assert_eq!(status, 201, "{extension}");
    assert_eq!(extension["review"]["extends"], first_id.as_str());
    let extension_id = extension["id"].as_str().expect("id").to_string();
    until(&server, &extension_id, "the extension in force", |r| {
        r["state"] == "active"
    })
    .await;

    // The first request's end keeps the grant (the extension holds it) …
    server.clock.advance(Duration::from_secs(3_600 + 60));
    let ended = until(&server, &first_id, "the first end", |r| {
        r["state"] == "ended"
    })
    .await;
    assert!(ended["end_plan_id"].is_null(), "nothing removed: {ended:#}");
    assert!(in_group(&server, "lena.fischer@example.com", "Sales").await);
    // … and the extension's end removes it.
    server.clock.advance(Duration::from_secs(2 * 3_600));
    until(&server, &extension_id, "the extension's end", |r| {
        r["state"] == "ended"
            && actions(r).iter().filter(|a| *a == "plan.finished").count() == 1
            && r["end_plan_id"].is_string()
    })
    .await;
    for _ in 0..40 {
        if !in_group(&server, "lena.fischer@example.com", "Sales").await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the grant outlived its extension");
}
