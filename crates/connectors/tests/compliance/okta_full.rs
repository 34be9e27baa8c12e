//! The Okta connector's OAuth service-app auth, account actions and group push against the emulator.

use std::collections::BTreeMap;

use grantflow_connectors::okta::{OktaAuth, OktaConfig, OktaConnector, SyncScope};
use grantflow_connectors::{Applied, BuildContext, Connector, Failure, Observed, SecretSource};
use grantflow_model::{
    AccountRef, ConnectionName, OpKind, Operation, OperationId, ResourceRef, Snapshot, SystemKind,
};
use grantflow_sandbox::okta::ServiceKey;
use grantflow_sandbox::{RunningSandbox, SandboxOptions};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

pub struct Org {
    pub sandbox: RunningSandbox,
    pub dir: tempfile::TempDir,
}

pub const ALL_SCOPES: &[&str] = &[
    "okta.users.read",
    "okta.users.manage",
    "okta.groups.read",
    "okta.groups.manage",
    "okta.apps.read",
    "okta.apps.manage",
    "okta.logs.read",
];

impl Org {
    pub async fn start() -> Org {
        // One-second rate-limit windows: many syncs in a row would otherwise wait out Okta's minute.
        let options = SandboxOptions {
            rate_limit_window_seconds: 1,
            ..SandboxOptions::default()
        };
        let sandbox = grantflow_sandbox::start(&grantflow_sandbox::demo_org(), options)
            .await
            .expect("sandbox");
        Org {
            sandbox,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn base_url(&self) -> String {
        self.sandbox.info.systems["okta"].base_url.clone()
    }

    fn config(&self, token: Option<SecretSource>, auth: Option<OktaAuth>) -> OktaConfig {
        OktaConfig {
            base_url: self.base_url(),
            token,
            auth,
            timeout_seconds: 10,
            allow_insecure_http: false,
            max_rate_limit_waits: 2,
            sync: Default::default(),
            event_hook: None,
        }
    }

    /// A token connector that syncs only `scope`.
    pub fn scoped_connector(&self, scope: SyncScope) -> OktaConnector {
        self.token_connector();
        let source = SecretSource {
            env: None,
            file: Some("token".into()),
        };
        let mut config = self.config(Some(source), None);
        config.sync = scope;
        self.build(&config)
    }

    fn build(&self, config: &OktaConfig) -> OktaConnector {
        let context = BuildContext::new(self.dir.path().to_path_buf());
        OktaConnector::new(ConnectionName::new("okta"), config, &context).expect("connector")
    }

    /// A connector with the sandbox's API token.
    pub fn token_connector(&self) -> OktaConnector {
        let token = self.sandbox.info.systems["okta"].credentials["token"].clone();
        std::fs::write(self.dir.path().join("token"), token).expect("token file");
        let source = SecretSource {
            env: None,
            file: Some("token".into()),
        };
        self.build(&self.config(Some(source), None))
    }

    /// Registers a service app granted `granted` and returns a connector that
    /// authenticates as it, requesting `requested` (or each call's own scope).
    pub async fn oauth_connector(
        &self,
        client_id: &str,
        granted: &[&str],
        requested: Option<&[&str]>,
    ) -> OktaConnector {
        let key = ServiceKey::generate("k1").expect("key");
        let url = format!(
            "{}/oauth/clients",
            self.sandbox.info.systems["okta"].admin_url
        );
        let response = reqwest::Client::new()
            .post(url)
            .json(&json!({"client_id": client_id, "jwks": {"keys": [key.jwk]}, "scopes": granted}))
            .send()
            .await
            .expect("admin");
        assert!(response.status().is_success(), "{}", response.status());
        let file = format!("{client_id}.pem");
        std::fs::write(self.dir.path().join(&file), &key.private_pem).expect("key file");
        let auth = OktaAuth::Oauth {
            client_id: client_id.to_string(),
            private_key: SecretSource {
                env: None,
                file: Some(file.into()),
            },
            key_id: Some("k1".into()),
            scopes: requested.map(|s| s.iter().map(|s| s.to_string()).collect()),
        };
        self.build(&self.config(None, Some(auth)))
    }
}

pub async fn sync(connector: &OktaConnector) -> Snapshot {
    let mut snapshot = Snapshot::new(ConnectionName::new("okta"), SystemKind::new("okta"));
    connector.sync(&mut snapshot).await.expect("sync");
    snapshot
}

fn account(snapshot: &Snapshot, login: &str) -> AccountRef {
    let account = snapshot.account_by_login_or_email(login).expect("account");
    AccountRef {
        id: account.id.clone(),
        login: account.login.clone(),
    }
}

fn operation(kind: OpKind) -> Operation {
    Operation {
        id: OperationId(0),
        connection: ConnectionName::new("okta"),
        kind,
        reasons: vec![],
        depends_on: vec![],
    }
}

fn action(snapshot: &Snapshot, login: &str, verb: &str, params: &[(&str, &str)]) -> Operation {
    let params: BTreeMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    operation(OpKind::account_action(
        account(snapshot, login),
        verb,
        params,
    ))
}

fn vendor_code(failure: Failure) -> String {
    match failure {
        Failure::Permanent { vendor_code, .. } => vendor_code,
        other => panic!("expected Okta's refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_service_app_syncs_and_acts_with_a_private_key_jwt_token() {
    let org = Org::start().await;
    let connector = org.oauth_connector("0oaservice1", ALL_SCOPES, None).await;
    connector
        .health()
        .await
        .expect("token obtained and accepted");
    let snapshot = sync(&connector).await;
    let snapshot_again = sync(&connector).await;
    assert_eq!(snapshot.accounts.len(), snapshot_again.accounts.len());
    // One token per scope set the calls need (users, groups and rules, apps, and apps with groups for
    // the group push mappings), reused until near expiry.
    let counters: Value = reqwest::get(format!(
        "{}/counters",
        org.sandbox.info.systems["okta"].admin_url
    ))
    .await
    .expect("admin")
    .json()
    .await
    .expect("json");
    assert_eq!(counters["tokens_issued"]["0oaservice1"], 4, "{counters}");
    assert!(
        snapshot
            .account_by_login_or_email("marco.rossi@example.com")
            .is_some()
    );
    let op = action(&snapshot, "marco.rossi@example.com", "suspend", &[]);
    assert_eq!(
        connector.apply(&op).await.expect("suspend"),
        Applied::Changed
    );
    assert_eq!(
        connector.observe(&op).await.expect("observe"),
        Observed::Done
    );
}

#[tokio::test]
async fn a_missing_scope_is_named_whether_the_app_lacks_it_or_the_token_does() {
    let org = Org::start().await;
    let reader = ["okta.users.read", "okta.groups.read", "okta.apps.read"];
    let snapshot = sync(&org.token_connector()).await;
    let op = action(
        &snapshot,
        "marco.rossi@example.com",
        "clear_sessions",
        &[("oauth_tokens", "true")],
    );

    // The app was never granted okta.users.manage: the token request is refused.
    let per_call = org.oauth_connector("0oareader1", &reader, None).await;
    per_call.health().await.expect("reads are allowed");
    match per_call.apply(&op).await {
        Err(Failure::InsufficientScope { scope, .. }) => assert_eq!(scope, "okta.users.manage"),
        other => panic!("expected a missing scope, got {other:?}"),
    }

    // The token was issued without it: Okta's 403 names the scope.
    let narrow = org
        .oauth_connector("0oareader2", &reader, Some(&reader))
        .await;
    match narrow.apply(&op).await {
        Err(failure @ Failure::InsufficientScope { .. }) => {
            let text = failure.to_string();
            assert!(text.contains("okta.users.manage"), "{text}");
            assert!(text.contains("E0000006"), "{text}");
        }
        other => panic!("expected a missing scope, got {other:?}"),
    }
}

#[tokio::test]
async fn an_assertion_signed_by_another_key_is_refused() {
    let org = Org::start().await;
    let connector = org.oauth_connector("0oaservice2", ALL_SCOPES, None).await;
    // Re-register the client with a different public key: our assertion no longer verifies.
    let other = ServiceKey::generate("k1").expect("key");
    reqwest::Client::new()
        .post(format!(
            "{}/oauth/clients",
            org.sandbox.info.systems["okta"].admin_url
        ))
        .json(&json!({"client_id": "0oaservice2", "jwks": {"keys": [other.jwk]}, "scopes": ALL_SCOPES}))
        .send()
        .await
        .expect("admin");
    match connector.health().await {
        Err(Failure::Unauthorized { vendor_code, .. }) => {
            assert_eq!(vendor_code.as_deref(), Some("invalid_client"))
        }
        other => panic!("expected invalid_client, got {other:?}"),
    }
}

#[tokio::test]
async fn every_action_moves_the_user_through_okta_statuses() {
    let org = Org::start().await;
    let connector = org.token_connector();
    let snapshot = sync(&connector).await;
    let user = "tom.baker@example.com";
    let apply = |verb: &'static str, params: &'static [(&'static str, &'static str)]| {
        let op = action(&snapshot, user, verb, params);
        let connector = &connector;
        async move { (connector.apply(&op).await, op) }
    };
    let status = || async {
        let mut s = sync(&connector).await;
        s.accounts.retain(|a| a.login == user);
        s.accounts.first().map(|a| a.status.clone())
    };

    for (verb, params, expected) in [
        ("suspend", &[][..], "SUSPENDED"),
        ("unsuspend", &[][..], "ACTIVE"),
        ("reset_mfa", &[][..], "ACTIVE"),
        ("clear_sessions", &[("oauth_tokens", "true")][..], "ACTIVE"),
        ("unlock", &[][..], "ACTIVE"),
        ("expire_password", &[][..], "PASSWORD_EXPIRED"),
        ("reset_password", &[("send_email", "true")][..], "RECOVERY"),
        ("deactivate", &[][..], "DEPROVISIONED"),
        ("activate", &[][..], "ACTIVE"),
    ] {
        let (result, op) = apply(verb, params).await;
        assert_eq!(result.expect(verb), Applied::Changed, "{verb}");
        assert_eq!(status().await.as_deref(), Some(expected), "after {verb}");
        assert!(
            connector.take_secret(&op).is_none(),
            "{verb} gives no secret"
        );
    }

    let (result, op) = apply("reset_password", &[("temp_password", "true")]).await;
    result.expect("temporary password");
    let secret = connector.take_secret(&op).expect("the temporary password");
    assert!(secret.expose_secret().len() >= 8);
    assert!(connector.take_secret(&op).is_none(), "handed out once");
    assert!(
        !serde_json::to_string(&op)
            .expect("json")
            .contains(secret.expose_secret())
    );

    let (result, op) = apply("delete", &[]).await;
    result.expect("delete");
    assert_eq!(
        connector.observe(&op).await.expect("observe"),
        Observed::Done
    );
    assert_eq!(status().await, None, "the user is gone");
}

#[tokio::test]
async fn a_wrong_status_action_fails_with_okta_code() {
    let org = Org::start().await;
    let connector = org.token_connector();
    let snapshot = sync(&connector).await;
    let suspended = "chen.wei@example.com";
    let active = "aisha.khan@example.com";
    let cases = [
        (suspended, "suspend", "E0000001"),
        (active, "unsuspend", "E0000001"),
        (active, "activate", "E0000016"),
        (suspended, "unlock", "E0000032"),
        ("former.engineer@example.com", "deactivate", "E0000038"),
        ("new.hire@example.com", "reset_password", "E0000038"),
    ];
    for (login, verb, code) in cases {
        let op = action(&snapshot, login, verb, &[]);
        let failure = connector.apply(&op).await.expect_err(verb);
        assert!(!failure.is_transient(), "{verb}");
        assert_eq!(vendor_code(failure), code, "{verb} on {login}");
    }
    let unknown = action(&snapshot, active, "explode", &[]);
    assert!(connector.check(&unknown).is_err());
}

async fn mappings(org: &Org, app: &str) -> Vec<Value> {
    let url = format!("{}/api/v1/apps/{app}/group-push/mappings", org.base_url());
    let token = org.sandbox.info.systems["okta"].credentials["token"].clone();
    reqwest::Client::new()
        .get(url)
        .header("Authorization", format!("SSWS {token}"))
        .send()
        .await
        .expect("okta")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn pushing_a_group_creates_one_active_mapping_and_is_idempotent() {
    let org = Org::start().await;
    let connector = org.oauth_connector("0oapusher1", ALL_SCOPES, None).await;
    let snapshot = sync(&connector).await;
    let resource = |kind: &str, name: &str| {
        let r = snapshot.resource_by_name(kind, name).expect("resource");
        ResourceRef {
            id: r.id.clone(),
            kind: r.kind.clone(),
            name: r.name.clone(),
        }
    };
    let app = resource("app", "GitHub");
    let op = operation(OpKind::PushGroup {
        group: resource("group", "Engineering"),
        resource: app.clone(),
        target_name: Some("eng".into()),
    });
    assert_eq!(
        connector.observe(&op).await.expect("observe"),
        Observed::NotDone
    );
    assert_eq!(connector.apply(&op).await.expect("push"), Applied::Changed);
    assert_eq!(
        connector.apply(&op).await.expect("again"),
        Applied::AlreadyPresent
    );
    assert_eq!(
        connector.observe(&op).await.expect("observe"),
        Observed::Done
    );
    let mappings = mappings(&org, &app.id).await;
    assert_eq!(mappings.len(), 1);
    assert_eq!(mappings[0]["status"], "ACTIVE");
}

#[tokio::test]
async fn a_cursor_older_than_the_log_retention_asks_for_a_full_sync() {
    let org = Org::start().await;
    let connector = org.token_connector();
    let mut snapshot = sync(&connector).await;
    let ancient = "1000000000000_1";
    match connector
        .sync_changes(ancient, &mut snapshot)
        .await
        .expect("answered")
    {
        grantflow_connectors::SyncChanges::CursorExpired { message } => {
            assert!(message.contains("retention"), "{message}")
        }
        other => panic!("expected an expired cursor, got {other:?}"),
    }
}

async fn okta_call(org: &Org, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let token = org.sandbox.info.systems["okta"].credentials["token"].clone();
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", org.base_url()))
        .header("Authorization", format!("SSWS {token}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("okta");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

#[tokio::test]
async fn memberships_a_group_rule_makes_are_synced_as_rule_managed() {
    use reqwest::Method as M;
    let org = Org::start().await;
    let connector = org.token_connector();
    let cursor = connector
        .change_cursor()
        .await
        .expect("cursor")
        .expect("some");
    let mut snapshot = sync(&connector).await;
    let group = okta_call(
        &org,
        M::POST,
        "/api/v1/groups",
        Some(json!({"profile": {"name": "Engineering (rule)"}})),
    )
    .await;
    let gid = group["id"].as_str().expect("group id").to_string();
    let rule = okta_call(&org, M::POST, "/api/v1/groups/rules", Some(json!({
        "type": "group_rule", "name": "Engineers",
        "conditions": {"expression": {"value": "user.department == \"Engineering\"", "type": "urn:okta:expression:1.0"}},
        "actions": {"assignUserToGroups": {"groupIds": [gid]}}})))
    .await;
    assert_eq!(rule["status"], "INACTIVE");
    let rule_id = rule["id"].as_str().expect("rule id").to_string();
    okta_call(
        &org,
        M::POST,
        &format!("/api/v1/groups/rules/{rule_id}/lifecycle/activate"),
        None,
    )
    .await;
    // A user who leaves Engineering leaves the rule's group.
    okta_call(
        &org,
        M::POST,
        "/api/v1/users/tom.baker@example.com",
        Some(json!({"profile": {"department": "Sales"}})),
    )
    .await;

    let full = sync(&connector).await;
    let members: Vec<_> = full
        .grants
        .iter()
        .filter(|g| g.resource_id == gid)
        .collect();
    assert!(members.len() >= 5, "{members:?}");
    assert!(members.iter().all(|g| g.source
        == grantflow_model::GrantSource::Rule {
            rule_id: rule_id.clone()
        }));
    let tom = full
        .account_by_login_or_email("tom.baker@example.com")
        .expect("tom");
    assert!(!members.iter().any(|g| g.account_id == tom.id));

    connector
        .sync_changes(&cursor, &mut snapshot)
        .await
        .expect("incremental");
    let (mut a, mut b) = (snapshot, full);
    grantflow_connectors::okta::canonical(&mut a);
    grantflow_connectors::okta::canonical(&mut b);
    assert_eq!(
        serde_json::to_value(&a).expect("json"),
        serde_json::to_value(&b).expect("json")
    );
}

#[tokio::test]
async fn a_scoped_sync_reads_only_chosen_groups_apps_and_statuses_incrementally_too() {
    use reqwest::Method as M;
    let org = Org::start().await;
    let connector = org.scoped_connector(SyncScope {
        groups: vec!["Engineering".into()],
        apps: vec!["GitHub".into()],
        user_statuses: vec!["ACTIVE".into()],
    });
    let cursor = connector
        .change_cursor()
        .await
        .expect("cursor")
        .expect("some");
    let mut snapshot = sync(&connector).await;
    let names: Vec<&str> = snapshot.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"Engineering") && names.contains(&"GitHub"));
    assert!(snapshot.accounts.iter().all(|a| a.status == "ACTIVE"));
    assert!(
        snapshot
            .account_by_login_or_email("chen.wei@example.com")
            .is_none()
    );

    okta_call(
        &org,
        M::POST,
        "/api/v1/users/marco.rossi@example.com/lifecycle/suspend",
        None,
    )
    .await;
    okta_call(
        &org,
        M::POST,
        "/api/v1/users/chen.wei@example.com/lifecycle/unsuspend",
        None,
    )
    .await;
    connector
        .sync_changes(&cursor, &mut snapshot)
        .await
        .expect("incremental");
    assert!(
        snapshot
            .account_by_login_or_email("marco.rossi@example.com")
            .is_none()
    );
    assert!(
        snapshot
            .account_by_login_or_email("chen.wei@example.com")
            .is_some()
    );
    let (mut a, mut b) = (snapshot, sync(&connector).await);
    grantflow_connectors::okta::canonical(&mut a);
    grantflow_connectors::okta::canonical(&mut b);
    assert_eq!(
        serde_json::to_value(&a).expect("json"),
        serde_json::to_value(&b).expect("json")
    );
}
