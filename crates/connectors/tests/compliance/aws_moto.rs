//! The AWS connector against moto (`moto_server`), a second, independent implementation of identitystore and
//! sso-admin: seeded through the AWS SDK for Rust, then synced and changed by the connector. moto comes from the
//! conformance venv (`target/conformance-venv`, `conformance/requirements.txt`); this test installs it there
//! when the conformance driver has not yet.

use crate::sandbox::{account as account_ref, grant_kind, group_grant_kind, resource};
use aws_sdk_identitystore::types::{Email, MemberId, Name};
use aws_sdk_ssoadmin::types::{PrincipalType, TargetType};
use grantflow_connectors::aws::{AwsConfig, AwsConnector};
use grantflow_connectors::{Applied, BuildContext, Connector, Observed, SecretSource};
use grantflow_model::{
    AccountRef, ConnectionName, GrantSource, OpKind, Operation, OperationId, ResourceRef, Snapshot,
    SystemKind,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ACCOUNT: &str = "123456789012";

fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    here.canonicalize().unwrap_or(here)
}

/// `moto_server` from the conformance venv, installing the pinned requirements under the driver's lock.
fn moto_server() -> PathBuf {
    let root = workspace_root();
    let target = root.join("target");
    std::fs::create_dir_all(&target).expect("target dir");
    let venv = target.join("conformance-venv");
    let server = venv.join("bin/moto_server");
    let lock = std::fs::File::create(target.join("conformance-venv.lock")).expect("lock file");
    lock.lock().expect("locking the conformance venv");
    if server.exists() {
        return server;
    }
    let python = venv.join("bin/python");
    if !python.exists() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(status.success(), "creating {}", venv.display());
    }
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "-r",
        ])
        .arg(root.join("conformance/requirements.txt"))
        .stdin(Stdio::null())
        .status()
        .expect("pip install");
    assert!(status.success(), "installing conformance/requirements.txt");
    assert!(server.exists(), "{} after pip install", server.display());
    server
}

/// A running `moto_server` on a free loopback port; killed on drop.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_moto() -> Moto {
    let server = tokio::task::spawn_blocking(moto_server)
        .await
        .expect("venv");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    loop {
        if reqwest::get(format!("{}/moto-api/data.json", moto.url))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return moto;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server did not answer within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn sdk_config(url: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_ssoadmin::config::SharedCredentialsProvider::new(
            aws_sdk_ssoadmin::config::Credentials::new("testing", "testing", None, None, "test"),
        ))
        .build()
}

struct Seeded {
    instance: String,
    /// Permission set name → ARN.
    sets: std::collections::BTreeMap<String, String>,
    /// Email → user id.
    users: std::collections::BTreeMap<String, String>,
    platform: String,
}

/// Three users, one group with one member, two permission sets, a user and a group assignment.
async fn seed(url: &str) -> Seeded {
    let conf = sdk_config(url);
    let sso = aws_sdk_ssoadmin::Client::new(&conf);
    let store = aws_sdk_identitystore::Client::new(&conf);
    let instances = sso.list_instances().send().await.expect("ListInstances");
    let instance = &instances.instances()[0];
    let arn = instance.instance_arn().expect("arn").to_string();
    let store_id = instance.identity_store_id().expect("store").to_string();
    let mut users = std::collections::BTreeMap::new();
    for (given, family) in [("Alice", "Ng"), ("Bob", "Stone"), ("Carol", "Diaz")] {
        let email = format!("{}@example.com", given.to_lowercase());
        let out = store
            .create_user()
            .identity_store_id(&store_id)
            .user_name(&email)
            .display_name(format!("{given} {family}"))
            .name(
                Name::builder()
                    .given_name(given)
                    .family_name(family)
                    .build(),
            )
            .emails(
                Email::builder()
                    .value(&email)
                    .r#type("work")
                    .primary(true)
                    .build(),
            )
            .send()
            .await
            .expect("CreateUser");
        users.insert(email, out.user_id().to_string());
    }
    let platform = store
        .create_group()
        .identity_store_id(&store_id)
        .display_name("Platform")
        .send()
        .await
        .expect("CreateGroup")
        .group_id()
        .to_string();
    store
        .create_group_membership()
        .identity_store_id(&store_id)
        .group_id(&platform)
        .member_id(MemberId::UserId(users["alice@example.com"].clone()))
        .send()
        .await
        .expect("CreateGroupMembership");
    let mut sets = std::collections::BTreeMap::new();
    for name in ["PowerUserAccess", "ReadOnly"] {
        let out = sso
            .create_permission_set()
            .instance_arn(&arn)
            .name(name)
            .session_duration("PT4H")
            .send()
            .await
            .expect("CreatePermissionSet");
        let set = out
            .permission_set()
            .and_then(|p| p.permission_set_arn())
            .expect("permission set arn");
        sets.insert(name.to_string(), set.to_string());
    }
    for (kind, principal, set) in [
        (
            PrincipalType::User,
            users["alice@example.com"].clone(),
            "PowerUserAccess",
        ),
        (PrincipalType::Group, platform.clone(), "ReadOnly"),
    ] {
        sso.create_account_assignment()
            .instance_arn(&arn)
            .target_id(ACCOUNT)
            .target_type(TargetType::AwsAccount)
            .permission_set_arn(&sets[set])
            .principal_type(kind)
            .principal_id(principal)
            .send()
            .await
            .expect("CreateAccountAssignment");
    }
    Seeded {
        instance: arn,
        sets,
        users,
        platform,
    }
}

async fn rows(url: &str, instance: &str, set: &str) -> Vec<String> {
    let sso = aws_sdk_ssoadmin::Client::new(&sdk_config(url));
    let out = sso
        .list_account_assignments()
        .instance_arn(instance)
        .account_id(ACCOUNT)
        .permission_set_arn(set)
        .send()
        .await
        .expect("ListAccountAssignments");
    out.account_assignments()
        .iter()
        .filter_map(|a| a.principal_id().map(str::to_string))
        .collect()
}

fn operation(kind: OpKind) -> Operation {
    Operation {
        id: OperationId(0),
        connection: ConnectionName::new("aws"),
        kind,
        reasons: vec![],
        depends_on: vec![],
    }
}

fn grant(add: bool, account: AccountRef, resource: ResourceRef, entitlement: &str) -> Operation {
    operation(grant_kind(add, account, resource, entitlement))
}

async fn twice(c: &AwsConnector, op: &Operation) {
    assert_eq!(c.observe(op).await.expect("observe"), Observed::NotDone);
    assert_eq!(c.apply(op).await.expect("first"), Applied::Changed);
    assert_eq!(c.apply(op).await.expect("second"), Applied::AlreadyPresent);
    assert_eq!(c.observe(op).await.expect("observe"), Observed::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_syncs_and_changes_moto() {
    let moto = start_moto().await;
    let seeded = seed(&moto.url).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("id"), "testing").expect("key");
    std::fs::write(dir.path().join("secret"), "testing").expect("key");
    let file = |name: &str| SecretSource {
        env: None,
        file: Some(dir.path().join(name)),
    };
    let config = AwsConfig {
        region: Some("us-east-1".into()),
        endpoint_url: Some(moto.url.clone()),
        instance_arn: None,
        identity_store_id: None,
        access_key_id: file("id"),
        secret_access_key: file("secret"),
        // moto never provisions on assignment, so the account must be named.
        account_names: [(ACCOUNT.to_string(), "sandbox".to_string())].into(),
        account_tags: true,
        timeout_seconds: 10,
        allow_insecure_http: false,
        // moto answers unimplemented operations with 500; one attempt keeps such a mistake fast and visible.
        max_attempts: 1,
        status_polls: 3,
        status_poll_ms: 20,
    };
    let context = BuildContext::new(PathBuf::new());
    let c = AwsConnector::new(ConnectionName::new("aws"), &config, &context).expect("connector");
    c.health().await.expect("health");

    let mut s = Snapshot::new(ConnectionName::new("aws"), SystemKind::new("aws"));
    c.sync(&mut s).await.expect("sync");
    assert_eq!(s.accounts.len(), 3);
    let alice = account_ref(&s, "alice@example.com");
    assert_eq!(alice.id, seeded.users["alice@example.com"]);
    assert_eq!(alice.login, "alice@example.com");
    let group = s.resource_by_name("group", "Platform").expect("group");
    assert_eq!(group.id, seeded.platform);
    let account = s.resource_by_name("account", "sandbox").expect("account");
    assert_eq!(account.entitlements, ["PowerUserAccess", "ReadOnly"]);
    // The account is not in moto's organisation: Organizations refuses its tags, and the sync goes
    // on saying why.
    assert!(
        account
            .attributes
            .get("tags_unavailable")
            .and_then(|v| v.as_str())
            .is_some_and(|why| why.contains("TargetNotFoundException")),
        "{:?}",
        account.attributes
    );
    let held = |id: &str, entitlement: &str, source: GrantSource| {
        s.grants.iter().any(|g| {
            g.account_id == id
                && g.resource_id == ACCOUNT
                && g.entitlement == entitlement
                && g.source == source
        })
    };
    assert!(held(&alice.id, "PowerUserAccess", GrantSource::Direct));
    assert!(held(
        &alice.id,
        "ReadOnly",
        GrantSource::Group {
            group_id: seeded.platform.clone()
        }
    ));
    assert_eq!(s.resource_grants.len(), 1);

    let bob = || account_ref(&s, "bob@example.com");
    let member = |add| grant(add, bob(), resource(&s, "group", "Platform"), "member");
    twice(&c, &member(true)).await;
    twice(&c, &member(false)).await;

    let power = |add| {
        grant(
            add,
            bob(),
            resource(&s, "account", "sandbox"),
            "PowerUserAccess",
        )
    };
    twice(&c, &power(true)).await;
    // moto would store a duplicate create as a second row; reading first means none was sent.
    let holders = rows(&moto.url, &seeded.instance, &seeded.sets["PowerUserAccess"]).await;
    assert_eq!(
        holders
            .iter()
            .filter(|p| **p == seeded.users["bob@example.com"])
            .count(),
        1
    );
    twice(&c, &power(false)).await;

    let group_op = |add: bool| {
        let group = ResourceRef {
            id: seeded.platform.clone(),
            kind: group.kind.clone(),
            name: "Platform".into(),
        };
        let resource = ResourceRef {
            id: ACCOUNT.into(),
            kind: account.kind.clone(),
            name: "sandbox".into(),
        };
        operation(group_grant_kind(add, group, resource, "PowerUserAccess"))
    };
    twice(&c, &group_op(true)).await;
    twice(&c, &group_op(false)).await;
}
