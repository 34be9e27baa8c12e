//! The AWS IAM Identity Center connector against the sandbox's Identity Center emulator.

use crate::emulated::{Emulated, account_ref, each_twice_takes_effect_once, grant_op};
use crate::fixture::server_errors_are_retry_later;
use grantflow_connectors::aws::{AwsConfig, AwsConnector};
use grantflow_connectors::{Applied, Connector, Failure, Observed, SecretSource};
use grantflow_model::{
    ConnectionName, GrantSource, OpKind, Operation, OperationId, ResourceGrant, ResourceRef,
    Snapshot, SystemKind,
};
use serde_json::json;

const PROD_PAYMENTS: &str = "111122223333";
const PROD_PLATFORM: &str = "222233334444";

/// The sandbox plus the access key pair in files.
struct Aws {
    e: Emulated,
    dir: tempfile::TempDir,
}

impl Aws {
    async fn start() -> Aws {
        let e = Emulated::start("aws").await;
        let dir = tempfile::tempdir().expect("tempdir");
        let creds = &e.sandbox.info.systems["aws"].credentials;
        for key in ["access_key_id", "secret_access_key"] {
            std::fs::write(dir.path().join(key), &creds[key]).expect("key file");
        }
        Aws { e, dir }
    }

    fn file(&self, key: &str) -> SecretSource {
        SecretSource {
            env: None,
            file: Some(self.dir.path().join(key)),
        }
    }

    fn config(&self, max_attempts: u32, status_polls: u32) -> AwsConfig {
        AwsConfig {
            region: Some("eu-west-1".into()),
            endpoint_url: Some(self.e.base_url()),
            instance_arn: None,
            identity_store_id: None,
            access_key_id: self.file("access_key_id"),
            secret_access_key: self.file("secret_access_key"),
            account_names: [(PROD_PAYMENTS.to_string(), "prod-payments".to_string())].into(),
            timeout_seconds: 5,
            allow_insecure_http: false,
            max_attempts,
            status_polls,
            status_poll_ms: 20,
        }
    }

    fn connector(&self, max_attempts: u32, status_polls: u32) -> AwsConnector {
        AwsConnector::new(
            ConnectionName::new("aws"),
            &self.config(max_attempts, status_polls),
            &Emulated::context(),
        )
        .expect("connector")
    }
}

async fn sync(c: &AwsConnector) -> Snapshot {
    let mut snapshot = Snapshot::new(ConnectionName::new("aws"), SystemKind::new("aws"));
    c.sync(&mut snapshot).await.expect("sync");
    snapshot
}

fn emails_holding(s: &Snapshot, resource_id: &str, entitlement: &str, direct: bool) -> Vec<String> {
    let mut out: Vec<String> = s
        .grants
        .iter()
        .filter(|g| g.resource_id == resource_id && g.entitlement == entitlement)
        .filter(|g| (g.source == GrantSource::Direct) == direct)
        .filter_map(|g| s.account(&g.account_id))
        .filter_map(|a| a.email.clone())
        .collect();
    out.sort();
    out
}

fn group_grant(s: &Snapshot, add: bool, group: &str, account: &str, set: &str) -> Operation {
    let g = s.resource_by_name("group", group).expect("group");
    let a = s.resource_by_name("account", account).expect("account");
    let group = ResourceRef {
        id: g.id.clone(),
        kind: g.kind.clone(),
        name: g.name.clone(),
    };
    let resource = ResourceRef {
        id: a.id.clone(),
        kind: a.kind.clone(),
        name: a.name.clone(),
    };
    let entitlement = set.to_string();
    Operation {
        id: OperationId(0),
        connection: ConnectionName::new("aws"),
        kind: if add {
            OpKind::AddGroupGrant {
                group,
                resource,
                entitlement,
            }
        } else {
            OpKind::RemoveGroupGrant {
                group,
                resource,
                entitlement,
            }
        },
        reasons: vec![],
        depends_on: vec![],
    }
}

#[tokio::test]
async fn a_sync_reads_users_groups_accounts_and_assignments_direct_and_through_groups() {
    let aws = Aws::start().await;
    let s = sync(&aws.connector(1, 5)).await;
    let lena = s
        .account_by_login_or_email("lena.fischer@example.com")
        .expect("user by work email");
    assert_eq!(lena.login, "lena.fischer@example.com");
    assert_eq!(lena.display_name, "Lena Fischer");
    assert!(
        s.account_by_login_or_email("new.hire@example.com")
            .is_some()
    );

    let platform = s
        .resource_by_name("group", "Platform Engineers")
        .expect("group");
    assert_eq!(
        emails_holding(&s, &platform.id, "member", true),
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
    assert!(
        s.resource_by_name("account", PROD_PLATFORM).is_some(),
        "an account without an alias is named by its id"
    );
    assert_eq!(
        emails_holding(&s, PROD_PAYMENTS, "PowerUserAccess", true),
        ["lena.fischer@example.com"]
    );
    assert!(s.resource_grants.contains(&ResourceGrant {
        holder_id: demo.id.clone(),
        resource_id: PROD_PAYMENTS.into(),
        entitlement: "prod-payments-admin".into(),
    }));
    assert_eq!(
        emails_holding(&s, PROD_PAYMENTS, "prod-payments-admin", false),
        ["nina.petrova@example.com", "sam.okafor@example.com"],
        "members hold a group's permission set through the group"
    );
}

#[tokio::test]
async fn every_operation_applied_twice_takes_effect_once() {
    let aws = Aws::start().await;
    let c = aws.connector(1, 5);
    let s = sync(&c).await;
    let demo_user = account_ref(&s, "okta-demo-user@example.com").id;

    let group = s
        .resource_by_name("group", "Platform Engineers")
        .expect("group")
        .id
        .clone();
    let add = grant_op(
        "aws",
        true,
        account_ref(&s, "okta-demo-user@example.com"),
        &s,
        "group",
        "Platform Engineers",
        "member",
    );
    let remove = grant_op(
        "aws",
        false,
        account_ref(&s, "okta-demo-user@example.com"),
        &s,
        "group",
        "Platform Engineers",
        "member",
    );
    let key = format!("membership/{group}/{demo_user}");
    each_twice_takes_effect_once(&aws.e, &c, &add, &remove, &key).await;

    let add = grant_op(
        "aws",
        true,
        account_ref(&s, "okta-demo-user@example.com"),
        &s,
        "account",
        "prod-payments",
        "PowerUserAccess",
    );
    let remove = grant_op(
        "aws",
        false,
        account_ref(&s, "okta-demo-user@example.com"),
        &s,
        "account",
        "prod-payments",
        "PowerUserAccess",
    );
    let key = format!("assignment/{PROD_PAYMENTS}/PowerUserAccess/USER/{demo_user}");
    each_twice_takes_effect_once(&aws.e, &c, &add, &remove, &key).await;

    let engineering = s
        .resource_by_name("group", "Engineering")
        .expect("group")
        .id
        .clone();
    let add = group_grant(&s, true, "Engineering", PROD_PLATFORM, "platform-readonly");
    let remove = group_grant(&s, false, "Engineering", PROD_PLATFORM, "platform-readonly");
    let key = format!("assignment/{PROD_PLATFORM}/platform-readonly/GROUP/{engineering}");
    each_twice_takes_effect_once(&aws.e, &c, &add, &remove, &key).await;

    let again = sync(&c).await;
    assert_eq!(
        emails_holding(&again, PROD_PAYMENTS, "PowerUserAccess", true),
        ["lena.fischer@example.com"]
    );
}

#[tokio::test]
async fn an_assignment_in_progress_is_polled_until_it_succeeds_or_handed_back_to_observe() {
    let aws = Aws::start().await;
    let s = sync(&aws.connector(1, 5)).await;
    let op = |add| {
        grant_op(
            "aws",
            add,
            account_ref(&s, "tom.baker@example.com"),
            &s,
            "account",
            "prod-payments",
            "PowerUserAccess",
        )
    };
    aws.e
        .admin("assignments", json!({"in_progress_reads": 3}))
        .await;
    assert_eq!(
        aws.connector(1, 5).apply(&op(true)).await.expect("polled"),
        Applied::Changed
    );

    aws.e
        .admin(
            "assignments",
            json!({"in_progress_reads": 50, "in_progress_seconds": 600}),
        )
        .await;
    let patient = aws.connector(1, 2);
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
    aws.e
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
    let aws = Aws::start().await;
    // Synced already, so it knows its instance and the next call is an identity store one.
    let strict = aws.connector(1, 5);
    let s = sync(&strict).await;
    let add = grant_op(
        "aws",
        true,
        account_ref(&s, "okta-demo-user@example.com"),
        &s,
        "group",
        "Engineering",
        "member",
    );
    aws.e.admin("throttle", json!({"requests": 2})).await;
    assert_eq!(
        aws.connector(3, 5).apply(&add).await.expect("retried"),
        Applied::Changed
    );

    aws.e.admin("throttle", json!({"requests": 5})).await;
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
async fn a_server_error_on_a_write_is_retry_later() {
    let aws = Aws::start().await;
    let c = aws.connector(1, 5);
    let s = sync(&c).await;
    let add = grant_op(
        "aws",
        true,
        account_ref(&s, "okta-demo-user@example.com"),
        &s,
        "account",
        "prod-payments",
        "PowerUserAccess",
    );
    server_errors_are_retry_later(&aws.e, &c, &add, 503, "ServiceUnavailableException").await;
}

#[tokio::test]
async fn refusals_are_permanent_in_aws_words_and_a_bad_key_is_unauthorized() {
    let aws = Aws::start().await;
    let c = aws.connector(1, 5);
    let s = sync(&c).await;
    let mut add = grant_op(
        "aws",
        true,
        account_ref(&s, "okta-demo-user@example.com"),
        &s,
        "group",
        "Engineering",
        "member",
    );
    if let OpKind::AddGrant { resource, .. } = &mut add.kind {
        resource.id = "9067a1b2c3-deadbeef-0000-4000-8000-000000000000".into();
    }
    match c.apply(&add).await.expect_err("missing group") {
        Failure::Permanent {
            vendor_code,
            message,
            status,
        } => {
            assert_eq!(vendor_code, "ResourceNotFoundException");
            assert_eq!(status, Some(400));
            assert!(message.contains("CreateGroupMembership"), "{message}");
            assert!(message.contains("GROUP not found"), "{message}");
        }
        other => panic!("expected Permanent, got {other:?}"),
    }

    // An account outside the organisation: AWS accepts the request, then the request FAILS.
    let mut elsewhere = grant_op(
        "aws",
        true,
        account_ref(&s, "okta-demo-user@example.com"),
        &s,
        "account",
        "prod-payments",
        "PowerUserAccess",
    );
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

    std::fs::write(aws.dir.path().join("access_key_id"), "AKIANOTTHERIGHTKEY01").expect("write");
    match aws.connector(1, 5).health().await.expect_err("bad key") {
        Failure::Unauthorized { vendor_code, .. } => {
            assert_eq!(vendor_code.as_deref(), Some("UnrecognizedClientException"))
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}
