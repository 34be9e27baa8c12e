//! A sandbox with one system's token in a file, and that system's admin endpoint, for the compliance modules.

use grantflow_connectors::{Applied, BuildContext, Connector, Observed, SecretSource};
use grantflow_model::{
    AccountRef, ConnectionName, OpKind, Operation, OperationId, ResourceRef, Snapshot,
};
use grantflow_sandbox::{RunningSandbox, SandboxOptions};

pub struct Emulated {
    pub sandbox: RunningSandbox,
    pub system: &'static str,
    _dir: tempfile::TempDir,
    pub token_file: std::path::PathBuf,
}

impl Emulated {
    pub async fn start(system: &'static str) -> Emulated {
        let sandbox =
            grantflow_sandbox::start(&grantflow_sandbox::demo_org(), SandboxOptions::default())
                .await
                .expect("sandbox");
        let dir = tempfile::tempdir().expect("tempdir");
        let token_file = dir.path().join(format!("{system}.token"));
        let token = sandbox.info.systems[system].credentials["token"].clone();
        std::fs::write(&token_file, token).expect("token file");
        Emulated {
            sandbox,
            system,
            _dir: dir,
            token_file,
        }
    }

    pub fn base_url(&self) -> String {
        self.sandbox.info.systems[self.system].base_url.clone()
    }

    pub fn token(&self) -> SecretSource {
        SecretSource {
            env: None,
            file: Some(self.token_file.clone()),
        }
    }

    pub fn context() -> BuildContext {
        BuildContext {
            base_dir: std::path::PathBuf::new(),
            budgets: Default::default(),
        }
    }

    pub async fn admin(&self, what: &str, body: serde_json::Value) -> reqwest::StatusCode {
        let url = format!(
            "{}/{what}",
            self.sandbox.info.systems[self.system].admin_url
        );
        reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await
            .expect("admin")
            .status()
    }

    pub async fn writes(&self) -> serde_json::Map<String, serde_json::Value> {
        let url = format!(
            "{}/writes",
            self.sandbox.info.systems[self.system].admin_url
        );
        let body: serde_json::Value = reqwest::get(url)
            .await
            .expect("admin")
            .json()
            .await
            .expect("json");
        body["writes"].as_object().cloned().unwrap_or_default()
    }
}

/// An add or remove of `entitlement` for `account` on `resource` (found by kind and name in `snapshot`).
pub fn grant_op(
    connection: &str,
    add: bool,
    account: AccountRef,
    snapshot: &Snapshot,
    kind: &str,
    name: &str,
    entitlement: &str,
) -> Operation {
    let resource = snapshot.resource_by_name(kind, name).expect("resource");
    let resource = ResourceRef {
        id: resource.id.clone(),
        kind: resource.kind.clone(),
        name: resource.name.clone(),
    };
    let entitlement = entitlement.to_string();
    let kind = if add {
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
    };
    Operation {
        id: OperationId(0),
        connection: ConnectionName::new(connection),
        kind,
        reasons: vec![],
        depends_on: vec![],
    }
}

pub fn account_ref(snapshot: &Snapshot, email: &str) -> AccountRef {
    let account = snapshot.account_by_login_or_email(email).expect("account");
    AccountRef {
        id: account.id.clone(),
        login: account.login.clone(),
    }
}

/// Adds then removes one grant, each twice: the first call changes, the second finds it done, `observe` agrees,
/// and the emulator counts exactly one write per effect under `key`.
pub async fn each_twice_takes_effect_once(
    e: &Emulated,
    c: &dyn Connector,
    add: &Operation,
    remove: &Operation,
    key: &str,
) {
    assert_eq!(c.observe(add).await.expect("observe"), Observed::NotDone);
    assert_eq!(c.apply(add).await.expect("first add"), Applied::Changed);
    assert_eq!(
        c.apply(add).await.expect("second add"),
        Applied::AlreadyPresent
    );
    assert_eq!(c.observe(add).await.expect("observe"), Observed::Done);
    assert_eq!(e.writes().await[key], 1);

    assert_eq!(c.observe(remove).await.expect("observe"), Observed::NotDone);
    assert_eq!(
        c.apply(remove).await.expect("first remove"),
        Applied::Changed
    );
    assert_eq!(
        c.apply(remove).await.expect("second remove"),
        Applied::AlreadyPresent
    );
    assert_eq!(c.observe(remove).await.expect("observe"), Observed::Done);
    assert_eq!(e.writes().await[key], 2);
}
