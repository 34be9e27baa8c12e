//! The Salesforce connector against the Salesforce emulator, over HTTPS with the sandbox's CA.

use crate::fixture::server_errors_are_retry_later;
use grantflow_connectors::salesforce::{SalesforceConfig, SalesforceConnector};
use grantflow_connectors::{Applied, BuildContext, Connector, Failure, RateBudgets};
use grantflow_model::{ConnectionName, OpKind, Snapshot, SystemKind};
use serde_json::json;
use std::sync::Arc;

use crate::emulated::{Emulated, account_ref, each_twice_takes_effect_once, grant_op};

fn config(e: &Emulated, trust_sandbox_ca: bool) -> SalesforceConfig {
    SalesforceConfig {
        base_url: e.base_url(),
        token: e.token(),
        api_version: "59.0".into(),
        ca_certificate: trust_sandbox_ca
            .then(|| e.sandbox.info.systems["salesforce"].ca_certificate.clone())
            .flatten(),
        timeout_seconds: 10,
        allow_insecure_http: false,
        limit_retry_seconds: 3600,
    }
}

fn connector(e: &Emulated) -> SalesforceConnector {
    SalesforceConnector::new(
        ConnectionName::new("salesforce"),
        &config(e, true),
        &Emulated::context(),
    )
    .expect("connector")
}

async fn sync(c: &SalesforceConnector) -> Snapshot {
    let mut snapshot = Snapshot::new(
        ConnectionName::new("salesforce"),
        SystemKind::new("salesforce"),
    );
    c.sync(&mut snapshot).await.expect("sync");
    snapshot
}

fn holders(s: &Snapshot, set: &str) -> Vec<String> {
    let mut out: Vec<String> = s
        .grants
        .iter()
        .filter(|g| g.resource_id == set && g.entitlement == "assigned")
        .filter_map(|g| s.account(&g.account_id))
        .filter_map(|a| a.email.clone())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_sync_reads_users_and_permission_sets_but_not_those_profiles_own() {
    let e = Emulated::start("salesforce").await;
    assert!(
        e.base_url().starts_with("https://127.0.0.1:"),
        "{}",
        e.base_url()
    );
    let s = sync(&connector(&e)).await;
    let liam = s
        .account_by_login_or_email("liam.miller@example.com")
        .expect("inactive users are read");
    assert_eq!(liam.status, "INACTIVE");
    assert_eq!(liam.attributes["profile"], "Sales User");
    assert!(
        s.account_by_login_or_email("new.hire@example.com")
            .is_some()
    );
    let mut sets: Vec<&str> = s.resources.iter().map(|r| r.id.as_str()).collect();
    sets.sort();
    assert_eq!(
        sets,
        [
            "Engineering_Read_Only",
            "Reports_Admin",
            "Sales_Cloud_User",
            "Sales_Console",
            "Sandbox_Deploy"
        ]
    );
    assert_eq!(
        holders(&s, "Engineering_Read_Only"),
        ["marco.rossi@example.com", "priya.raman@example.com"]
    );
    assert!(
        s.grants
            .iter()
            .all(|g| s.resource(&g.resource_id).is_some()),
        "no grant on a profile's own permission set"
    );
}

#[tokio::test]
async fn every_operation_applied_twice_takes_effect_once() {
    let e = Emulated::start("salesforce").await;
    let c = connector(&e);
    let s = sync(&c).await;
    let hire = account_ref(&s, "new.hire@example.com");
    let key = format!("permission_set/Sandbox_Deploy/assigned/{}", hire.id);
    let add = grant_op(
        "salesforce",
        true,
        hire.clone(),
        &s,
        "permission_set",
        "Sandbox_Deploy",
        "assigned",
    );
    let remove = grant_op(
        "salesforce",
        false,
        hire,
        &s,
        "permission_set",
        "Sandbox_Deploy",
        "assigned",
    );
    each_twice_takes_effect_once(&e, &c, &add, &remove, &key).await;
    assert_eq!(
        holders(&sync(&c).await, "Sandbox_Deploy"),
        ["marco.rossi@example.com", "sam.okafor@example.com"]
    );
}

#[tokio::test]
async fn the_request_budget_is_read_from_sforce_limit_info_and_a_spent_limit_is_rate_limited() {
    let e = Emulated::start("salesforce").await;
    let budgets = Arc::new(RateBudgets::default());
    let context = BuildContext {
        base_dir: std::path::PathBuf::new(),
        budgets: budgets.clone(),
        clock: std::sync::Arc::new(grantflow_model::SystemClock),
        limits: Default::default(),
    };
    let c = SalesforceConnector::new(
        ConnectionName::new("salesforce"),
        &config(&e, true),
        &context,
    )
    .expect("connector");
    let s = sync(&c).await;
    let (limit, remaining, _) = budgets
        .snapshot(&ConnectionName::new("salesforce"), "api")
        .expect("budget recorded");
    assert_eq!(
        (limit, remaining),
        (15_000, 15_000 - 3),
        "three queries were charged"
    );

    e.admin("rate-limits", json!({"window_seconds": 60, "all": 1}))
        .await;
    let add = grant_op(
        "salesforce",
        true,
        account_ref(&s, "new.hire@example.com"),
        &s,
        "permission_set",
        "Sandbox_Deploy",
        "assigned",
    );
    // The one allowed call spends the budget; the connector then refuses before calling, from what the
    // response's Sforce-Limit-Info said. A connector without that knowledge hears Salesforce's 403.
    let fresh = connector(&e);
    for (attempt, c, says) in [
        ("refused from the recorded budget", &c, "budget is spent"),
        (
            "refused by Salesforce",
            &fresh,
            "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.",
        ),
    ] {
        match c.apply(&add).await.expect_err(attempt) {
            Failure::RateLimited {
                bucket,
                reset,
                message,
            } => {
                assert_eq!(bucket, "api", "{attempt}");
                assert!(message.contains(says), "{attempt}: {message}");
                assert!(
                    reset > chrono::Utc::now() + chrono::Duration::minutes(50),
                    "{attempt}: {reset}"
                );
            }
            other => panic!("{attempt}: expected RateLimited, got {other:?}"),
        }
    }
    let (_, remaining, _) = budgets
        .snapshot(&ConnectionName::new("salesforce"), "api")
        .expect("budget");
    assert_eq!(remaining, 0);
}

#[tokio::test]
async fn a_server_error_on_a_write_is_retry_later() {
    let e = Emulated::start("salesforce").await;
    let c = connector(&e);
    let s = sync(&c).await;
    let add = grant_op(
        "salesforce",
        true,
        account_ref(&s, "new.hire@example.com"),
        &s,
        "permission_set",
        "Sandbox_Deploy",
        "assigned",
    );
    server_errors_are_retry_later(&e, &c, &add, 503, "SERVER_UNAVAILABLE").await;
}

#[tokio::test]
async fn refusals_keep_salesforces_error_code_and_a_bad_session_is_unauthorized() {
    let e = Emulated::start("salesforce").await;
    let c = connector(&e);
    let s = sync(&c).await;
    let mut add = grant_op(
        "salesforce",
        true,
        account_ref(&s, "new.hire@example.com"),
        &s,
        "permission_set",
        "Sandbox_Deploy",
        "assigned",
    );
    if let OpKind::AddGrant { account, .. } = &mut add.kind {
        account.id = "0058d0000099999AAA".into();
    }
    match c.apply(&add).await.expect_err("no such user") {
        Failure::Permanent {
            vendor_code,
            message,
            status,
        } => {
            assert_eq!(
                (vendor_code.as_str(), status),
                ("INVALID_CROSS_REFERENCE_KEY", Some(400))
            );
            assert!(message.contains("invalid cross reference id"), "{message}");
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    if let OpKind::AddGrant { resource, .. } = &mut add.kind {
        resource.id = "No_Such_Set".into();
    }
    assert_eq!(
        c.apply(&add).await.expect_err("no such set").code(),
        "NOT_FOUND"
    );

    std::fs::write(&e.token_file, "00Dwrong!token").expect("write");
    match connector(&e).health().await.expect_err("bad session") {
        Failure::Unauthorized { vendor_code, .. } => {
            assert_eq!(vendor_code.as_deref(), Some("INVALID_SESSION_ID"))
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn the_sandbox_certificate_is_only_trusted_through_the_configured_ca() {
    let e = Emulated::start("salesforce").await;
    let untrusting = SalesforceConnector::new(
        ConnectionName::new("salesforce"),
        &config(&e, false),
        &Emulated::context(),
    )
    .expect("connector");
    let failure = untrusting.health().await.expect_err("unknown issuer");
    assert!(matches!(failure, Failure::RetryLater { .. }), "{failure:?}");
    connector(&e)
        .health()
        .await
        .expect("trusted with the sandbox CA");
    assert_eq!(
        connector(&e)
            .apply(&grant_op(
                "salesforce",
                true,
                account_ref(&sync(&connector(&e)).await, "zoe.taylor@example.com"),
                &sync(&connector(&e)).await,
                "permission_set",
                "Sales_Cloud_User",
                "assigned",
            ))
            .await
            .expect("assigns"),
        Applied::Changed
    );
}
