//! A running demo sandbox seen from one system: its credentials in files (as `grantflow init --sandbox` writes
//! them), its `/__sandbox` admin endpoint, and the operations a test applies to it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use grantflow_connectors::{BuildContext, Connector, SecretSource};
use grantflow_model::{
    AccountRef, ConnectionName, GrantSource, OpKind, Operation, OperationId, ResourceRef, Snapshot,
    SystemKind,
};
use grantflow_sandbox::{RunningSandbox, SandboxOptions, SystemInfo};
use serde_json::{Value, json};

pub struct Sandbox {
    pub running: RunningSandbox,
    /// The system's key in the sandbox info, and its connection name.
    pub kind: &'static str,
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub async fn start(kind: &'static str) -> Sandbox {
        Self::start_with(kind, SandboxOptions::default()).await
    }

    /// The demo sandbox started with `options` (a clock of the test's, a token lifetime).
    pub async fn start_with(kind: &'static str, options: SandboxOptions) -> Sandbox {
        let running = grantflow_sandbox::start(&grantflow_sandbox::demo_org(), options)
            .await
            .expect("sandbox");
        assert!(
            running.info.systems.contains_key(kind),
            "no {kind} emulator"
        );
        Sandbox {
            running,
            kind,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn info(&self) -> &SystemInfo {
        &self.running.info.systems[self.kind]
    }

    pub fn base_url(&self) -> String {
        self.info().base_url.clone()
    }

    /// The value the sandbox reports for credential `key`.
    pub fn credential_value(&self, key: &str) -> String {
        self.info().credentials[key].clone()
    }

    fn credential_file(&self, key: &str) -> PathBuf {
        self.dir.path().join(key)
    }

    /// Credential `key` as a connector setting: a file holding the sandbox's value, written once, so a value
    /// [`Sandbox::spoil`]ed stays spoiled for the connectors built after.
    pub fn credential(&self, key: &str) -> SecretSource {
        let path = self.credential_file(key);
        if !path.exists() {
            std::fs::write(&path, self.credential_value(key)).expect("credential file");
        }
        SecretSource {
            env: None,
            file: Some(path),
        }
    }

    /// Writes a wrong value into credential `key`'s file.
    pub fn spoil(&self, key: &str, wrong: &str) {
        self.credential(key);
        std::fs::write(self.credential_file(key), wrong).expect("credential file");
    }

    pub fn context() -> BuildContext {
        BuildContext::new(PathBuf::new())
    }

    fn admin_client(&self) -> reqwest::Client {
        // Salesforce is served over HTTPS with the sandbox's own CA.
        self.info().http_client().expect("admin client")
    }

    /// `POST /__sandbox/<what>`: its status and JSON answer (`null` when it has none).
    pub async fn admin_call(&self, what: &str, body: &Value) -> (u16, Value) {
        let response = self
            .admin_client()
            .post(format!("{}/{what}", self.info().admin_url))
            .json(body)
            .send()
            .await
            .expect("admin");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `POST /__sandbox/<what>`, which must succeed.
    pub async fn admin(&self, what: &str, body: Value) {
        let (status, answer) = self.admin_call(what, &body).await;
        assert!(
            (200..300).contains(&status),
            "{what} {body}: {status} {answer}"
        );
    }

    /// `POST /__sandbox/hand-change`.
    pub async fn hand_change(&self, body: &Value) -> (u16, Value) {
        self.admin_call("hand-change", body).await
    }

    /// `GET /__sandbox/{what}` with `query`: the emulator's JSON answer.
    pub async fn admin_get(&self, what: &str, query: &[(&str, &str)]) -> Value {
        self.admin_client()
            .get(format!("{}/{what}", self.info().admin_url))
            .query(query)
            .send()
            .await
            .expect("admin")
            .json()
            .await
            .expect("json")
    }

    /// Writes the emulator received, per object key.
    pub async fn writes(&self) -> BTreeMap<String, u64> {
        let body = self.admin_get("writes", &[]).await;
        serde_json::from_value(body["writes"].clone()).expect("write counts")
    }

    /// Applies `op` while the network loses its answer after the write took effect (`fault`: the
    /// sandbox's `/network` setting, e.g. `{"reset_next_writes": 1}` or a `timeout_next_writes` past
    /// the client's timeout): the failure is transient, the connector observes the effect, and
    /// applying again sends nothing.
    pub async fn answer_lost_then_found_done(
        &self,
        connector: &dyn Connector,
        op: &Operation,
        fault: Value,
    ) {
        self.admin("network", fault).await;
        let lost = connector.apply(op).await.expect_err("the answer is lost");
        assert!(lost.is_transient(), "{lost:?}");
        // The engine observes before it retries: done, so nothing is sent again.
        assert_eq!(
            connector.observe(op).await.expect("observe"),
            grantflow_connectors::Observed::Done
        );
        let writes = self.writes().await;
        assert_eq!(
            connector.apply(op).await.expect("again"),
            grantflow_connectors::Applied::AlreadyPresent
        );
        assert_eq!(self.writes().await, writes, "nothing sent the second time");
    }

    /// Applies `op`, which changes the system; then the connector observes it done, and applying it
    /// again changes nothing.
    pub async fn applies_once(&self, connector: &dyn Connector, op: &Operation) {
        let what = op.describe();
        assert_eq!(
            connector.apply(op).await.expect("applied"),
            grantflow_connectors::Applied::Changed,
            "{what}"
        );
        assert_eq!(
            connector.observe(op).await.expect("observed"),
            grantflow_connectors::Observed::Done,
            "{what}"
        );
        assert_eq!(
            connector.apply(op).await.expect("applied again"),
            grantflow_connectors::Applied::AlreadyPresent,
            "{what}"
        );
    }

    /// A grant on `email`'s pending account (`pending:<email>`) on the resource `kind`/`name` waits
    /// (a transient failure, returned) until `create` makes the account; then it is given and the
    /// next sync shows it.
    pub async fn grant_waits_for_creation(
        &self,
        connector: &dyn Connector,
        create: &Operation,
        email: &str,
        (kind, name): (&str, &str),
    ) -> grantflow_connectors::Failure {
        let snapshot = self.sync(connector).await;
        let join = self.operation(grant_kind(
            true,
            AccountRef::pending(email),
            resource(&snapshot, kind, name),
            "member",
        ));
        let early = connector.apply(&join).await.expect_err("no user yet");
        assert!(early.is_transient(), "retried later: {early:?}");
        assert_eq!(
            connector.apply(create).await.expect("create"),
            grantflow_connectors::Applied::Changed
        );
        assert_eq!(
            connector.apply(&join).await.expect("join"),
            grantflow_connectors::Applied::Changed
        );
        let holders = holders(
            &self.sync(connector).await,
            &format!("{kind}/{name}"),
            "member",
            Some(true),
        );
        assert!(holders.contains(&email.to_string()), "{holders:?}");
        early
    }

    pub async fn sync(&self, connector: &dyn Connector) -> Snapshot {
        let mut snapshot =
            Snapshot::new(ConnectionName::new(self.kind), SystemKind::new(self.kind));
        connector.sync(&mut snapshot).await.expect("sync");
        snapshot
    }

    pub fn operation(&self, kind: OpKind) -> Operation {
        Operation {
            id: OperationId(0),
            connection: ConnectionName::new(self.kind),
            kind,
            reasons: vec![],
            depends_on: vec![],
        }
    }

    /// Adds (or removes) `entitlement` on the resource `kind`/`name` for the account of `email`.
    pub fn grant(
        &self,
        s: &Snapshot,
        add: bool,
        email: &str,
        (kind, name): (&str, &str),
        entitlement: &str,
    ) -> Operation {
        self.operation(grant_kind(
            add,
            account(s, email),
            resource(s, kind, name),
            entitlement,
        ))
    }

    /// Adds (or removes) `entitlement` on `resource` for the group `group`, which its members inherit.
    pub fn group_grant(
        &self,
        s: &Snapshot,
        add: bool,
        (group_kind, group): (&str, &str),
        (kind, name): (&str, &str),
        entitlement: &str,
    ) -> Operation {
        self.operation(group_grant_kind(
            add,
            resource(s, group_kind, group),
            resource(s, kind, name),
            entitlement,
        ))
    }

    /// The account action `verb` on the account of `email`.
    pub fn action(&self, s: &Snapshot, email: &str, verb: &str) -> Operation {
        self.operation(OpKind::account_action(
            account(s, email),
            verb,
            Default::default(),
        ))
    }

    /// Updates the declared resource `kind`/`name` (found by name) to `spec`, whose `after` fields differ.
    pub fn update(&self, kind: &str, name: &str, spec: Value, after: Value) -> Operation {
        self.operation(OpKind::UpdateResource {
            resource: ResourceRef::pending(kind, name),
            spec: spec.as_object().cloned().unwrap_or_default(),
            before: Default::default(),
            after: after.as_object().cloned().unwrap_or_default(),
        })
    }

    /// Deletes the declared resource `kind`/`name` (found by name).
    pub fn delete(&self, kind: &str, name: &str) -> Operation {
        self.operation(OpKind::DeleteResource {
            resource: ResourceRef::pending(kind, name),
        })
    }

    /// Creates the resource `kind`/`name` a policy file declares, with `spec`.
    pub fn create(&self, kind: &str, name: &str, spec: Value) -> Operation {
        self.operation(OpKind::CreateResource {
            resource: ResourceRef::pending(kind, name),
            spec: spec.as_object().cloned().unwrap_or_default(),
        })
    }
}

/// An add (or a remove) of `entitlement` on `resource` for `account`.
pub fn grant_kind(
    add: bool,
    account: AccountRef,
    resource: ResourceRef,
    entitlement: &str,
) -> OpKind {
    let entitlement = entitlement.to_string();
    if add {
        OpKind::AddGrant {
            account,
            resource,
            entitlement,
        }
    } else {
        OpKind::RemoveGrant {
            account,
            resource,
            entitlement,
        }
    }
}

/// An add (or a remove) of `entitlement` on `resource` for `group`, which its members inherit.
pub fn group_grant_kind(
    add: bool,
    group: ResourceRef,
    resource: ResourceRef,
    entitlement: &str,
) -> OpKind {
    let entitlement = entitlement.to_string();
    if add {
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
    }
}

pub fn account(s: &Snapshot, email: &str) -> AccountRef {
    let a = s
        .account_by_login_or_email(email)
        .unwrap_or_else(|| panic!("no account {email}"));
    AccountRef {
        id: a.id.clone(),
        login: a.login.clone(),
    }
}

pub fn resource(s: &Snapshot, kind: &str, name: &str) -> ResourceRef {
    let r = s
        .resource_by_name(kind, name)
        .unwrap_or_else(|| panic!("no {kind} {name}"));
    ResourceRef {
        id: r.id.clone(),
        kind: r.kind.clone(),
        name: r.name.clone(),
    }
}

/// The entitlements `email` holds directly on `resource` (`<kind>/<name>`).
pub fn held(s: &Snapshot, email: &str, resource: &str) -> Vec<String> {
    let (kind, name) = resource.split_once('/').expect("kind/name");
    let account = s
        .account_by_login_or_email(email)
        .unwrap_or_else(|| panic!("no account {email}"));
    let resource = s
        .resource_by_name(kind, name)
        .unwrap_or_else(|| panic!("no {kind} {name}"));
    let mut out: Vec<String> = s
        .grants
        .iter()
        .filter(|g| {
            g.account_id == account.id
                && g.resource_id == resource.id
                && g.source == GrantSource::Direct
        })
        .map(|g| g.entitlement.clone())
        .collect();
    out.sort();
    out
}

/// The emails of the accounts holding `entitlement` on `resource` (`<kind>/<name>`): directly
/// (`Some(true)`), through a group (`Some(false)`), or either (`None`).
pub fn holders(
    s: &Snapshot,
    resource: &str,
    entitlement: &str,
    direct: Option<bool>,
) -> Vec<String> {
    let (kind, name) = resource.split_once('/').expect("kind/name");
    let resource = s
        .resource_by_name(kind, name)
        .unwrap_or_else(|| panic!("no {kind} {name}"));
    let mut out: Vec<String> = s
        .grants
        .iter()
        .filter(|g| g.resource_id == resource.id && g.entitlement == entitlement)
        .filter(|g| direct.is_none_or(|d| (g.source == GrantSource::Direct) == d))
        .filter_map(|g| s.account(&g.account_id))
        .filter_map(|a| a.email.clone())
        .collect();
    out.sort();
    out
}

/// A snapshot in a form two syncs of the same state compare equal in: every list sorted.
pub fn canonical(s: &Snapshot) -> Value {
    let sorted = |items: Vec<Value>| {
        let mut items: Vec<String> = items.iter().map(Value::to_string).collect();
        items.sort();
        items
    };
    let json = |v: &Snapshot| serde_json::to_value(v).expect("snapshot json");
    let v = json(s);
    let list = |key: &str| sorted(v[key].as_array().cloned().unwrap_or_default());
    json!({
        "accounts": list("accounts"),
        "resources": list("resources"),
        "grants": list("grants"),
        "resource_grants": list("resource_grants"),
    })
}
