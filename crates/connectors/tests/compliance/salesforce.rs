//! The Salesforce connector against the Salesforce emulator, over HTTPS with the sandbox's CA: its part of the
//! contract, and what only Salesforce does (permission sets profiles own, the request budget it reports on every
//! answer, a CA of its own).

use std::sync::Arc;

use grantflow_connectors::salesforce::{SalesforceConfig, SalesforceConnector};
use grantflow_connectors::{Applied, BuildContext, Connector, Failure, RateBudgets};
use grantflow_model::{AccountOptions, AccountRef, ConnectionName, OpKind, RetireMode, Snapshot};
use serde_json::json;

use crate::harness::{ByHand, Case, Grant, Missing, RateLimits, Said, Sandbox, System, Text};
use crate::sandbox::{account, held, holders};

pub struct Salesforce;

const HIRE: &str = "new.hire@example.com";
const SANDBOX_DEPLOY: (&str, &str) = ("permission_set", "Sandbox_Deploy");

fn config(sandbox: &Sandbox, trust_sandbox_ca: bool) -> SalesforceConfig {
    SalesforceConfig {
        allow_insecure_http: false,
        base_url: sandbox.base_url(),
        token: Some(sandbox.credential("token")),
        private_key: None,
        consumer_key: None,
        username: None,
        login_url: "https://login.salesforce.com".into(),
        session_timeout_seconds: 7200,
        api_version: "59.0".into(),
        ca_certificate: trust_sandbox_ca
            .then(|| sandbox.info().ca_certificate.clone())
            .flatten(),
        timeout_seconds: 10,
        limit_retry_seconds: 3600,
    }
}

/// The connection's settings with a per-request timeout of `seconds`.
pub fn config_with_timeout(sandbox: &Sandbox, seconds: u64) -> SalesforceConfig {
    SalesforceConfig {
        timeout_seconds: seconds,
        ..config(sandbox, true)
    }
}

pub fn connector(sandbox: &Sandbox) -> SalesforceConnector {
    SalesforceConnector::new(
        ConnectionName::new("salesforce"),
        &config(sandbox, true),
        &Sandbox::context(),
    )
    .expect("connector")
}

impl System for Salesforce {
    const KIND: &'static str = "salesforce";

    /// The budget is the org's daily one: the connector never waits for it.
    fn connector(sandbox: &Sandbox, _waits: u32) -> Box<dyn Connector> {
        Box::new(connector(sandbox))
    }

    const GRANT: Grant = Grant {
        email: HIRE,
        resource: "permission_set/Sandbox_Deploy",
        entitlement: "assigned",
    };

    fn operations(sandbox: &Sandbox, s: &Snapshot) -> Vec<Case> {
        let key = format!(
            "permission_set/Sandbox_Deploy/assigned/{}",
            account(s, HIRE).id
        );
        let lena = account(s, "lena.fischer@example.com");
        let zoe = account(s, "zoe.taylor@example.com");
        let fields = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        vec![
            Case::new(
                sandbox.grant(s, true, HIRE, SANDBOX_DEPLOY, "assigned"),
                &key,
            ),
            Case::new(
                sandbox.grant(s, false, HIRE, SANDBOX_DEPLOY, "assigned"),
                &key,
            ),
            // A User a policy declares, its profile by name; found by Username when applied again.
            Case::unkeyed(sandbox.operation(OpKind::create_account(
                AccountRef::pending("nia.park@example.com"),
                fields(
                    json!({"FirstName": "Nia", "LastName": "Park", "profile": "Sales Engineer"}),
                ),
                AccountOptions::default(),
            ))),
            // A profile update: the profile by name and a field, one PATCH.
            Case::new(
                sandbox.operation(OpKind::update_profile(
                    lena.clone(),
                    serde_json::Map::new(),
                    fields(json!({"profile": "Sales Engineer", "Title": "Sales Engineer"})),
                )),
                format!("User/{}", lena.id),
            ),
            // A leaver deactivated (IsActive false); frozen instead with `suspend` (salesforce_accounts.rs).
            Case::new(
                sandbox.operation(OpKind::retire_account(zoe.clone(), RetireMode::Deactivate)),
                format!("User/{}", zoe.id),
            ),
        ]
    }

    const RATE_LIMITS: RateLimits = RateLimits {
        tight: None,
        spent: r#"{"window_seconds": 60, "all": 1}"#,
        bucket: "api",
        // From the budget `Sforce-Limit-Info` reported, or Salesforce's own 403.
        message: Some(Text::HasAny(&[
            "budget is spent",
            "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.",
        ])),
        reset_after_seconds: 50 * 60,
    };

    const SERVER_ERROR: (u16, Said) = (503, Said::code("SERVER_UNAVAILABLE"));

    const PERMANENT: (Missing, Said) = (
        Missing::AccountId("0058d0000099999AAA"),
        Said::code("INVALID_CROSS_REFERENCE_KEY")
            .status(400)
            .saying(Text::Has("invalid cross reference id")),
    );

    const WRONG_CREDENTIAL: (&'static str, &'static str) = ("token", "00Dwrong!token");
    const UNAUTHORIZED: Said = Said::code("INVALID_SESSION_ID");

    const BY_HAND: ByHand = ByHand {
        user: "marco.rossi@example.com",
        email: "marco.rossi@example.com",
        add: ("permission_set/Reports_Admin", "assigned"),
        remove: "permission_set/Sandbox_Deploy",
        suspended_status: "INACTIVE",
    };
}

#[tokio::test]
async fn a_sync_reads_users_and_permission_sets_but_not_those_profiles_own() {
    let sandbox = Sandbox::start("salesforce").await;
    assert!(
        sandbox.base_url().starts_with("https://127.0.0.1:"),
        "{}",
        sandbox.base_url()
    );
    let s = sandbox.sync(&connector(&sandbox)).await;
    let liam = s
        .account_by_login_or_email("liam.miller@example.com")
        .expect("inactive users are read");
    assert_eq!(liam.status, "INACTIVE");
    assert_eq!(liam.attributes["profile"], "Sales User");
    assert!(s.account_by_login_or_email(HIRE).is_some());
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
        holders(&s, "permission_set/Engineering_Read_Only", "assigned", None),
        ["marco.rossi@example.com", "priya.raman@example.com"]
    );
    assert_eq!(
        holders(&s, "permission_set/Sandbox_Deploy", "assigned", None),
        ["marco.rossi@example.com", "sam.okafor@example.com"]
    );
    assert!(
        s.grants
            .iter()
            .all(|g| s.resource(&g.resource_id).is_some()),
        "no grant on a profile's own permission set"
    );
}

#[tokio::test]
async fn the_request_budget_is_read_from_sforce_limit_info_and_a_spent_limit_is_rate_limited() {
    let sandbox = Sandbox::start("salesforce").await;
    let budgets = Arc::new(RateBudgets::default());
    let context = BuildContext {
        base_dir: std::path::PathBuf::new(),
        budgets: budgets.clone(),
        clock: Arc::new(grantflow_model::SystemClock),
        limits: Default::default(),
    };
    let c = SalesforceConnector::new(
        ConnectionName::new("salesforce"),
        &config(&sandbox, true),
        &context,
    )
    .expect("connector");
    let s = sandbox.sync(&c).await;
    let (limit, remaining, _) = budgets
        .snapshot(&ConnectionName::new("salesforce"), "api")
        .expect("budget recorded");
    assert_eq!(
        (limit, remaining),
        (15_000, 15_000 - 4),
        "four queries were charged"
    );

    sandbox
        .admin("rate-limits", json!({"window_seconds": 60, "all": 1}))
        .await;
    let add = Salesforce::GRANT.op(&sandbox, &s, true);
    // The one allowed call spends the budget; the connector then refuses before calling, from what the
    // response's Sforce-Limit-Info said. A connector without that knowledge hears Salesforce's 403.
    let fresh = connector(&sandbox);
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
async fn an_unknown_permission_set_is_not_found() {
    let sandbox = Sandbox::start("salesforce").await;
    let c = connector(&sandbox);
    let s = sandbox.sync(&c).await;
    let mut add = Salesforce::GRANT.op(&sandbox, &s, true);
    if let OpKind::AddGrant { resource, .. } = &mut add.kind {
        resource.id = "No_Such_Set".into();
    }
    assert_eq!(
        c.apply(&add).await.expect_err("no such set").code(),
        "NOT_FOUND"
    );
}

#[tokio::test]
async fn the_sandbox_certificate_is_only_trusted_through_the_configured_ca() {
    let sandbox = Sandbox::start("salesforce").await;
    let untrusting = SalesforceConnector::new(
        ConnectionName::new("salesforce"),
        &config(&sandbox, false),
        &Sandbox::context(),
    )
    .expect("connector");
    let failure = untrusting.health().await.expect_err("unknown issuer");
    assert!(matches!(failure, Failure::RetryLater { .. }), "{failure:?}");
    let trusting = connector(&sandbox);
    trusting
        .health()
        .await
        .expect("trusted with the sandbox CA");
    let s = sandbox.sync(&trusting).await;
    let add = sandbox.grant(
        &s,
        true,
        "zoe.taylor@example.com",
        ("permission_set", "Sales_Cloud_User"),
        "assigned",
    );
    assert_eq!(
        trusting.apply(&add).await.expect("assigns"),
        Applied::Changed
    );
}

#[tokio::test]
async fn deactivation_by_hand_keeps_assignments_and_adding_one_held_changes_nothing() {
    let sandbox = Sandbox::start("salesforce").await;
    let c = connector(&sandbox);
    let user = "marco.rossi@example.com";
    // Deactivation keeps a user's assignments, as in Salesforce; adding one already held changes nothing.
    for body in [
        json!({"op": "add", "user": user, "resource": "permission_set/Reports_Admin"}),
        json!({"op": "suspend", "user": user}),
        json!({"op": "add", "user": user, "resource": "permission_set/Reports_Admin"}),
    ] {
        assert_eq!(sandbox.hand_change(&body).await.0, 204, "{body}");
    }
    let s = sandbox.sync(&c).await;
    assert_eq!(held(&s, user, "permission_set/Reports_Admin"), ["assigned"]);
    assert_eq!(
        held(&s, user, "permission_set/Engineering_Read_Only"),
        ["assigned"]
    );
}
