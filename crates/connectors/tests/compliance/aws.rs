//! The AWS IAM Identity Center connector against the sandbox's Identity Center emulator: its part of the
//! contract, and what only AWS does (asynchronous account assignments, the SDK's own retries, refusals that
//! arrive as a FAILED request).

use grantflow_connectors::aws::{AwsConfig, AwsConnector};
use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{ConnectionName, OpKind, Operation, ResourceGrant, RetireMode, Snapshot};
use serde_json::json;

use crate::harness::{ByHand, Case, Grant, Missing, RateLimits, Said, Sandbox, System, Text};
use crate::sandbox::{account, held, holders, resource};

pub struct Aws;

const PROD_PAYMENTS: &str = "111122223333";
const PROD_PLATFORM: &str = "222233334444";
const DEMO: &str = "okta-demo-user@example.com";

/// `max_attempts` per call (the SDK retries throttling and 5xx), `status_polls` reads of an assignment request.
pub fn connector(sandbox: &Sandbox, max_attempts: u32, status_polls: u32) -> AwsConnector {
    let config = AwsConfig {
        allow_insecure_http: false,
        region: Some("eu-west-1".into()),
        endpoint_url: Some(sandbox.base_url()),
        instance_arn: None,
        identity_store_id: None,
        access_key_id: sandbox.credential("access_key_id"),
        secret_access_key: sandbox.credential("secret_access_key"),
        account_names: [(PROD_PAYMENTS.to_string(), "prod-payments".to_string())].into(),
        account_tags: true,
        timeout_seconds: 5,
        max_attempts,
        status_polls,
        status_poll_ms: 20,
    };
    AwsConnector::new(ConnectionName::new("aws"), &config, &Sandbox::context()).expect("connector")
}

fn power_user(sandbox: &Sandbox, s: &Snapshot, add: bool, email: &str) -> Operation {
    sandbox.grant(
        s,
        add,
        email,
        ("account", "prod-payments"),
        "PowerUserAccess",
    )
}

impl System for Aws {
    const KIND: &'static str = "aws";

    /// Waiting out a rate limit is the SDK's retry, whose jittered backoff may retry inside the window that
    /// refused: two more attempts for each wait.
    fn connector(sandbox: &Sandbox, waits: u32) -> Box<dyn Connector> {
        Box::new(connector(sandbox, 1 + 2 * waits, 5))
    }

    const GRANT: Grant = Grant {
        email: DEMO,
        resource: "group/Platform Engineers",
        entitlement: "member",
    };

    fn operations(sandbox: &Sandbox, s: &Snapshot) -> Vec<Case> {
        let user = account(s, DEMO).id;
        let group = resource(s, "group", "Platform Engineers").id;
        let engineering = resource(s, "group", "Engineering").id;
        let membership = format!("membership/{group}/{user}");
        let assignment = format!("assignment/{PROD_PAYMENTS}/PowerUserAccess/USER/{user}");
        let group_assignment =
            format!("assignment/{PROD_PLATFORM}/platform-readonly/GROUP/{engineering}");
        let platform_engineers = ("group", "Platform Engineers");
        let lena = account(s, "lena.fischer@example.com");
        let lena_key = format!("user/{}", lena.id);
        let readonly = |add| {
            sandbox.group_grant(
                s,
                add,
                ("group", "Engineering"),
                ("account", PROD_PLATFORM),
                "platform-readonly",
            )
        };
        vec![
            Case::new(
                sandbox.grant(s, true, DEMO, platform_engineers, "member"),
                &membership,
            ),
            Case::new(
                sandbox.grant(s, false, DEMO, platform_engineers, "member"),
                &membership,
            ),
            Case::new(power_user(sandbox, s, true, DEMO), &assignment),
            Case::new(power_user(sandbox, s, false, DEMO), &assignment),
            Case::new(readonly(true), &group_assignment),
            Case::new(readonly(false), &group_assignment),
            Case::unkeyed(crate::aws_accounts::creation(
                sandbox,
                "nia.park@example.com",
            )),
            Case::new(
                sandbox.operation(OpKind::update_profile(
                    lena.clone(),
                    serde_json::Map::new(),
                    json!({"title": "Engineering Manager", "displayName": "Lena F."})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                )),
                &lena_key,
            ),
            Case::new(
                sandbox.operation(OpKind::retire_account(lena, RetireMode::Delete)),
                &lena_key,
            ),
        ]
    }

    const RATE_LIMITS: RateLimits = RateLimits {
        tight: Some(r#"{"window_seconds": 1, "all": 2}"#),
        spent: r#"{"window_seconds": 30, "all": 1}"#,
        bucket: "identitystore",
        message: Some(Text::Has("ThrottlingException: Rate exceeded")),
        reset_after_seconds: 0,
    };

    const SERVER_ERROR: (u16, Said) = (503, Said::code("ServiceUnavailableException"));

    const PERMANENT: (Missing, Said) = (
        Missing::ResourceId("9067a1b2c3-deadbeef-0000-4000-8000-000000000000"),
        Said::code("ResourceNotFoundException")
            .status(400)
            .saying(Text::HasAll(&["CreateGroupMembership", "GROUP not found"])),
    );

    const WRONG_CREDENTIAL: (&'static str, &'static str) =
        ("access_key_id", "AKIANOTTHERIGHTKEY01");
    const UNAUTHORIZED: Said = Said::code("UnrecognizedClientException");

    const BY_HAND: ByHand = ByHand {
        user: "marco.rossi@example.com",
        email: "marco.rossi@example.com",
        add: ("account/prod-payments", "prod-payments-admin"),
        remove: "group/Engineering",
        suspended_status: "DISABLED",
    };
}

#[tokio::test]
async fn a_sync_reads_users_groups_accounts_and_assignments_direct_and_through_groups() {
    let sandbox = Sandbox::start("aws").await;
    let s = sandbox.sync(&connector(&sandbox, 1, 5)).await;
    let lena = s
        .account_by_login_or_email("lena.fischer@example.com")
        .expect("user by work email");
    assert_eq!(lena.login, "lena.fischer@example.com");
    assert_eq!(lena.display_name, "Lena Fischer");
    assert!(
        s.account_by_login_or_email("new.hire@example.com")
            .is_some()
    );

    assert_eq!(
        holders(&s, "group/Platform Engineers", "member", Some(true)),
        [
            "diego.alvarez@example.com",
            "kim.tanaka@example.com",
            "nina.petrova@example.com",
            "sam.okafor@example.com"
        ]
    );
    // The reachability demo's group keeps its GroupId.
    let demo = s
        .resource_by_name("group", "Production Access Demo")
        .expect("group");
    assert_eq!(demo.id, "90676b2e31-5c1a9f4e-2d7b-4e8a-9c3f-1b2a3c4d5e6f");

    let prod = s
        .resource_by_name("account", "prod-payments")
        .expect("aliased account");
    assert_eq!(prod.id, PROD_PAYMENTS);
    assert!(prod.entitlements.contains(&"PowerUserAccess".to_string()));
    // Without an alias, an account is named as Organizations names it, and carries its tags.
    let platform = s
        .resource_by_name("account", "prod-platform")
        .expect("an account named by Organizations");
    assert_eq!(platform.id, PROD_PLATFORM);
    assert_eq!(prod.attributes["tags"]["environment"], "production");
    assert_eq!(prod.attributes["tags"]["cost-center"], "CC-200");
    assert_eq!(
        holders(&s, "account/prod-payments", "PowerUserAccess", Some(true)),
        ["lena.fischer@example.com"]
    );
    assert!(s.resource_grants.contains(&ResourceGrant {
        holder_id: demo.id.clone(),
        resource_id: PROD_PAYMENTS.into(),
        entitlement: "prod-payments-admin".into(),
    }));
    assert_eq!(
        holders(
            &s,
            "account/prod-payments",
            "prod-payments-admin",
            Some(false)
        ),
        ["nina.petrova@example.com", "sam.okafor@example.com"],
        "members hold a group's permission set through the group"
    );
}

#[tokio::test]
async fn an_assignment_in_progress_is_polled_until_it_succeeds_or_handed_back_to_observe() {
    let sandbox = Sandbox::start("aws").await;
    let s = sandbox.sync(&connector(&sandbox, 1, 5)).await;
    let op = |add| power_user(&sandbox, &s, add, "tom.baker@example.com");
    sandbox
        .admin("assignments", json!({"in_progress_reads": 3}))
        .await;
    assert_eq!(
        connector(&sandbox, 1, 5)
            .apply(&op(true))
            .await
            .expect("polled"),
        Applied::Changed
    );

    sandbox
        .admin(
            "assignments",
            json!({"in_progress_reads": 50, "in_progress_seconds": 600}),
        )
        .await;
    let patient = connector(&sandbox, 1, 2);
    match patient.apply(&op(false)).await.expect_err("still running") {
        failure @ Failure::RetryLater { .. } => {
            assert_eq!(failure.code(), "IN_PROGRESS");
            assert!(
                failure.message().contains("DeleteAccountAssignment"),
                "{failure}"
            );
        }
        other => panic!("expected RetryLater, got {other:?}"),
    }
    assert_eq!(
        patient.observe(&op(false)).await.expect("observe"),
        Observed::NotDone,
        "the deletion has not landed"
    );
    sandbox
        .admin("assignments", json!({"in_progress_reads": 0}))
        .await;
    assert_eq!(
        patient.observe(&op(false)).await.expect("observe"),
        Observed::Done
    );
    assert_eq!(
        patient.apply(&op(false)).await.expect("done"),
        Applied::AlreadyPresent
    );
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_then_reported_as_rate_limited() {
    let sandbox = Sandbox::start("aws").await;
    // Synced already, so it knows its instance and the next call is an identity store one.
    let strict = connector(&sandbox, 1, 5);
    let s = sandbox.sync(&strict).await;
    let add = sandbox.grant(&s, true, DEMO, ("group", "Engineering"), "member");
    sandbox.admin("throttle", json!({"requests": 2})).await;
    assert_eq!(
        connector(&sandbox, 3, 5)
            .apply(&add)
            .await
            .expect("retried"),
        Applied::Changed
    );

    sandbox.admin("throttle", json!({"requests": 5})).await;
    match strict.observe(&add).await.expect_err("throttled") {
        Failure::RateLimited {
            bucket,
            reset,
            message,
        } => {
            assert_eq!(bucket, "identitystore");
            assert!(reset > chrono::Utc::now());
            assert!(
                message.contains("ThrottlingException: Rate exceeded"),
                "{message}"
            );
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn requests_refused_after_they_were_accepted_keep_aws_words() {
    let sandbox = Sandbox::start("aws").await;
    let c = connector(&sandbox, 1, 5);
    let s = sandbox.sync(&c).await;
    // An account outside the organisation: AWS accepts the request, then the request FAILS.
    let mut elsewhere = power_user(&sandbox, &s, true, DEMO);
    if let OpKind::AddGrant { resource, .. } = &mut elsewhere.kind {
        resource.id = "999999999999".into();
    }
    match c.apply(&elsewhere).await.expect_err("failed request") {
        Failure::Permanent {
            vendor_code,
            message,
            ..
        } => {
            assert_eq!(vendor_code, "FAILED");
            assert!(
                message.contains("is not a member of the organization"),
                "{message}"
            );
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    let mut unknown_set = elsewhere.clone();
    if let OpKind::AddGrant {
        resource,
        entitlement,
        ..
    } = &mut unknown_set.kind
    {
        resource.id = PROD_PAYMENTS.into();
        *entitlement = "NoSuchPermissionSet".into();
    }
    assert_eq!(
        c.apply(&unknown_set).await.expect_err("unknown set").code(),
        "PermissionSetNotFound"
    );
}

#[tokio::test]
async fn by_hand_a_second_permission_set_is_another_assignment_and_accounts_are_named_by_id_too() {
    let sandbox = Sandbox::start("aws").await;
    let c = connector(&sandbox, 1, 5);
    let writes = sandbox.writes().await;
    let user = "marco.rossi@example.com";
    // A second permission set in the same account is another assignment: the first stays. The account is
    // named by its id as well as by its name; a remove drops every direct assignment there.
    for body in [
        json!({"op": "add", "user": user, "resource": "account/prod-payments", "entitlement": "prod-payments-admin"}),
        json!({"op": "add", "user": user, "resource": "account/111122223333", "entitlement": "PowerUserAccess"}),
        json!({"op": "add", "user": user, "resource": "group/Platform Engineers"}),
        json!({"op": "remove", "user": user, "resource": "account/444455556666"}),
    ] {
        assert_eq!(sandbox.hand_change(&body).await.0, 204, "{body}");
    }
    let s = sandbox.sync(&c).await;
    assert_eq!(
        held(&s, user, "account/prod-payments"),
        ["PowerUserAccess", "prod-payments-admin"]
    );
    assert_eq!(held(&s, user, "group/Platform Engineers"), ["member"]);
    assert_eq!(held(&s, user, "account/444455556666"), Vec::<String>::new());
    assert_eq!(sandbox.writes().await, writes);
    let (status, error) = sandbox
        .hand_change(&json!({"op": "add", "user": user, "resource": "account/prod-payments"}))
        .await;
    assert_eq!(status, 400);
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("needs an entitlement") && e.contains("PowerUserAccess")),
        "{error}"
    );
}
