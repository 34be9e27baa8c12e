//! The BambooHR connector against the BambooHR emulator. The connection is a read-only HRIS source
//! (employees as accounts with their HR facts), so, like Datadog, it keeps its own versions of the
//! contract's sync, 429, 5xx and refused-key cases, and tests what only BambooHR does: former employees,
//! the change feed keyed by id, and signed webhooks the connector's receiver verifies.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::http::HeaderMap;
use grantflow_connectors::bamboohr::{BamboohrConfig, BamboohrConnector};
use grantflow_connectors::{Connector, Failure, HookRefusal, SyncChanges};
use grantflow_model::{
    AccountRef, ConnectionName, LifecycleState, ResourceRef, Snapshot, SystemKind,
};
use serde_json::{Value, json};

use crate::harness::Sandbox;
use crate::sandbox::{canonical, grant_kind};

fn connector(sandbox: &Sandbox, waits: u32) -> BamboohrConnector {
    let config = BamboohrConfig {
        company_domain: sandbox.info().settings["company_domain"]
            .as_str()
            .expect("domain")
            .to_string(),
        base_url: Some(sandbox.base_url()),
        allow_insecure_http: false,
        api_key: sandbox.credential("api_key"),
        webhook_private_key: Some(sandbox.credential("webhook_private_key")),
        timeout_seconds: 10,
        max_rate_limit_waits: waits,
    };
    BamboohrConnector::new(
        ConnectionName::new("bamboohr"),
        &config,
        &Sandbox::context(),
    )
    .expect("connector")
}

async fn try_sync(c: &BamboohrConnector) -> Result<Snapshot, Failure> {
    let mut s = Snapshot::new(ConnectionName::new("bamboohr"), SystemKind::new("bamboohr"));
    c.sync(&mut s).await?;
    Ok(s)
}

fn by_email<'s>(s: &'s Snapshot, email: &str) -> &'s grantflow_model::Account {
    s.account_by_login_or_email(email).expect(email)
}

#[tokio::test]
async fn a_sync_reads_every_employee_current_and_former_with_their_hr_facts() {
    let sandbox = Sandbox::start("bamboohr").await;
    let c = connector(&sandbox, 3);
    c.health().await.expect("healthy");
    let s = sandbox.sync(&c).await;
    assert!(s.resources.is_empty() && s.grants.is_empty());
    assert_eq!(s.accounts.len(), 30, "every employee of the demo org");
    let lena = by_email(&s, "lena.fischer@example.com");
    assert_eq!(lena.id, "103");
    assert_eq!(lena.display_name, "Lena Fischer");
    assert_eq!(lena.status, "Active");
    assert_eq!(lena.state, LifecycleState::Active);
    assert_eq!(lena.attributes["department"], "Engineering");
    assert_eq!(lena.attributes["title"], "Senior Engineer");
    assert_eq!(lena.attributes["location"], "Berlin");
    assert_eq!(lena.attributes["division"], "Product & Engineering");
    assert_eq!(lena.attributes["manager_id"], "101");
    assert_eq!(lena.attributes["manager_name"], "Raman, Priya");
    assert_eq!(lena.attributes["manager_email"], "priya.raman@example.com");
    assert_eq!(lena.attributes["employee_number"], "E1003");
    assert!(lena.attributes["start_date"].is_string());
    assert!(
        lena.attributes.get("end_date").is_none(),
        "BambooHR's 0000-00-00 is no end date"
    );
    let former = by_email(&s, "former.engineer@example.com");
    assert_eq!(former.status, "Inactive");
    assert_eq!(former.state, LifecycleState::Deprovisioned);
    assert_eq!(former.attributes["end_date"], "2026-09-30");
    let pre_hire = by_email(&s, "new.hire@example.com");
    assert_eq!(pre_hire.attributes["start_date"], "2027-01-11");
    assert_eq!(pre_hire.state, LifecycleState::Active);
    assert_eq!(
        canonical(&s),
        canonical(&sandbox.sync(&c).await),
        "two syncs of one state read the same"
    );
    assert_eq!(
        sandbox.writes().await,
        Default::default(),
        "a sync writes nothing"
    );
}

#[tokio::test]
async fn the_change_feed_brings_a_snapshot_to_what_a_full_sync_reads() {
    let sandbox = Sandbox::start("bamboohr").await;
    let c = connector(&sandbox, 3);
    let first = c.change_cursor().await.expect("cursor").expect("a feed");
    let mut snapshot = sandbox.sync(&c).await;
    // The first cursor reaches back before the full sync (a change during it is read again): the seeded
    // employees are read again, and the snapshot stays what a full sync reads.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let SyncChanges::Applied { cursor, events } = c
        .sync_changes(&first, &mut snapshot)
        .await
        .expect("applied")
    else {
        panic!("the feed applies");
    };
    assert_eq!(events, 30, "everything seeded since the overlap");
    assert_eq!(canonical(&snapshot), canonical(&sandbox.sync(&c).await));
    // A mover, a joiner, a leaver and a deletion, made in BambooHR.
    for change in [
        json!({"id": "103", "department": "Platform", "jobTitleName": "Staff Engineer"}),
        json!({"id": "200", "firstName": "Ada", "lastName": "Quinn", "workEmail": "ada.quinn@example.com",
               "hireDate": "2027-02-01", "department": "Sales", "jobTitle": "Sales Engineer", "reportsToId": "130"}),
        json!({"id": "131", "status": "Inactive", "terminationDate": "2026-12-31"}),
        json!({"id": "144", "deleted": true}),
    ] {
        sandbox.admin("employees", change).await;
    }
    let applied = c
        .sync_changes(&cursor, &mut snapshot)
        .await
        .expect("applied");
    match applied {
        SyncChanges::Applied {
            events,
            cursor: next,
        } => {
            assert_eq!(events, 4, "one entry per employee changed");
            assert!(next.contains('T'), "{next}");
        }
        other => panic!("expected Applied, got {other:?}"),
    }
    assert_eq!(canonical(&snapshot), canonical(&sandbox.sync(&c).await));
    let lena = by_email(&snapshot, "lena.fischer@example.com");
    assert_eq!(lena.attributes["department"], "Platform");
    assert_eq!(lena.attributes["title"], "Staff Engineer");
    let ada = by_email(&snapshot, "ada.quinn@example.com");
    assert_eq!(ada.attributes["manager_email"], "james.wilson@example.com");
    assert_eq!(
        by_email(&snapshot, "sofia.garcia@example.com").attributes["end_date"],
        "2026-12-31"
    );
    assert!(
        snapshot
            .account_by_login_or_email("isabel.costa@example.com")
            .is_none()
    );
    let before = canonical(&snapshot);
    match c.sync_changes("1000000000000_1", &mut snapshot).await {
        Ok(SyncChanges::CursorExpired { message }) => {
            assert!(message.contains("in full"), "{message}")
        }
        other => panic!("a cursor that is no moment means a full sync: {other:?}"),
    }
    assert_eq!(
        canonical(&snapshot),
        before,
        "and leaves the snapshot alone"
    );
}

#[tokio::test]
async fn every_change_is_refused_as_read_only_before_anything_is_sent() {
    let sandbox = Sandbox::start("bamboohr").await;
    let c = connector(&sandbox, 3);
    assert!(
        c.describe().operations.is_empty(),
        "describe() grants nothing"
    );
    assert_eq!(c.describe().rate_limit_buckets, vec!["api"]);
    let op = sandbox.operation(grant_kind(
        true,
        AccountRef::pending("new.hire@example.com"),
        ResourceRef::pending("employee", "103"),
        "member",
    ));
    for failure in [
        c.check(&op).expect_err("check refuses"),
        c.apply(&op).await.expect_err("apply refuses"),
        c.observe(&op).await.expect_err("observe refuses"),
    ] {
        assert!(!failure.is_transient(), "{failure:?}");
        assert!(
            failure.message().contains("read-only") && failure.message().starts_with("bamboohr:"),
            "{failure:?}"
        );
    }
    assert_eq!(sandbox.writes().await, Default::default());
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_a_spent_budget_is_rate_limited() {
    let sandbox = Sandbox::start("bamboohr").await;
    sandbox
        .admin("rate-limits", json!({"window_seconds": 1, "all": 20}))
        .await;
    let patient = connector(&sandbox, 5);
    let started = Instant::now();
    for _ in 0..2 {
        try_sync(&patient).await.expect("waits out the limit");
    }
    assert!(
        started.elapsed().as_millis() >= 900,
        "64 calls at 20 a second wait"
    );

    sandbox.admin("reset", json!({})).await;
    sandbox
        .admin("rate-limits", json!({"window_seconds": 30, "all": 5}))
        .await;
    let impatient = connector(&sandbox, 0);
    match try_sync(&impatient).await.expect_err("refused") {
        Failure::RateLimited {
            bucket,
            reset,
            message,
        } => {
            assert_eq!(bucket, "api");
            assert!(message.starts_with("connection bamboohr:"), "{message}");
            assert!(message.contains("429"), "{message}");
            let ahead = chrono::Utc::now() + chrono::Duration::seconds(20);
            assert!(reset > ahead, "the Retry-After: {reset} is after {ahead}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_is_transient_with_bamboohrs_status_and_words() {
    let sandbox = Sandbox::start("bamboohr").await;
    let c = connector(&sandbox, 3);
    sandbox
        .admin("faults", json!({"error_rate": 1.0, "error_status": 500}))
        .await;
    let failure = try_sync(&c).await.expect_err("server error");
    assert!(failure.is_transient(), "{failure:?}");
    assert_eq!(failure.code(), "500");
    assert!(
        failure.message().contains("Internal Server Error"),
        "{failure:?}"
    );
}

#[tokio::test]
async fn a_wrong_api_key_is_unauthorized_without_the_key() {
    let sandbox = Sandbox::start("bamboohr").await;
    let right = sandbox.credential_value("api_key");
    let wrong = "0123456789abcdef0123456789abcdef01234567";
    sandbox.spoil("api_key", wrong);
    let c = connector(&sandbox, 3);
    for failure in [
        c.health().await.expect_err("refused"),
        try_sync(&c).await.expect_err("refused"),
    ] {
        match &failure {
            Failure::Unauthorized {
                vendor_code,
                message,
            } => {
                assert_eq!(vendor_code.as_deref(), Some("401"), "{message}");
                assert!(message.contains("API key"), "{message}");
                assert!(!message.contains(&right) && !message.contains(wrong));
            }
            other => panic!("expected Unauthorized, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn nothing_can_be_changed_by_hand_in_bamboohr() {
    let sandbox = Sandbox::start("bamboohr").await;
    let (status, error) = sandbox
        .hand_change(
            &json!({"op": "add", "user": "lena.fischer@example.com", "resource": "group/x"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("no grants")),
        "{error}"
    );
}

type Seen = Arc<Mutex<Vec<(BTreeMap<String, String>, Bytes)>>>;

/// A local receiver that records what it is sent.
async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/hooks/bamboohr/bamboohr",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let kept = kept.clone();
            async move {
                let headers = headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                    .collect();
                kept.lock().expect("lock").push((headers, body));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/hooks/bamboohr/bamboohr",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn the_emulators_signed_webhooks_pass_the_connectors_verification_and_a_tampered_one_does_not()
 {
    let sandbox = Sandbox::start("bamboohr").await;
    let c = connector(&sandbox, 3);
    let (url, seen) = receiver().await;
    sandbox.admin("webhooks/1", json!({"url": url})).await;
    let (status, answer) = sandbox
        .admin_call("employees", &json!({"id": "103", "department": "Sales"}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["deliveries"][0]["status"], 204, "{answer}");
    // A change to nothing sends nothing.
    let (_, quiet) = sandbox
        .admin_call("employees", &json!({"id": "103", "department": "Sales"}))
        .await;
    assert_eq!(quiet["deliveries"], json!([]), "{quiet}");
    let delivered = seen.lock().expect("lock").clone();
    assert_eq!(delivered.len(), 1);
    let (headers, body) = &delivered[0];
    let payload: Value = serde_json::from_slice(body).expect("json");
    assert_eq!(payload["type"], "employee.updated");
    assert_eq!(payload["data"]["employeeId"], "103");
    assert_eq!(payload["data"]["changedFields"], json!(["department"]));
    let hooks = c.hook_receiver().expect("a private key is configured");
    let now = chrono::Utc::now();
    let delivery = hooks.receive(headers, body, now).expect("verified");
    assert_eq!(delivery.events, 1);
    let mut tampered = body.to_vec();
    tampered.extend_from_slice(b" ");
    match hooks.receive(headers, &tampered, now) {
        Err(HookRefusal::NotAuthenticated { code, .. }) => {
            assert_eq!(code, "bamboohr_signature_mismatch")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    match hooks.receive(headers, body, now + chrono::Duration::minutes(10)) {
        Err(HookRefusal::NotAuthenticated { code, .. }) => {
            assert_eq!(code, "bamboohr_signature_stale")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
