//! A running demo sandbox plus one system's token in a file and its admin endpoint, for the compliance
//! modules of systems added after Okta.

use grantflow_connectors::{BuildContext, Connector, SecretSource};
use grantflow_model::{ConnectionName, OpKind, Operation, OperationId, Snapshot, SystemKind};
use grantflow_sandbox::{RunningSandbox, SandboxOptions};

pub struct Fixture {
    pub sandbox: RunningSandbox,
    pub system: &'static str,
    _dir: tempfile::TempDir,
    pub token_file: std::path::PathBuf,
}

impl Fixture {
    pub async fn start(system: &'static str) -> Fixture {
        let sandbox =
            grantflow_sandbox::start(&grantflow_sandbox::demo_org(), SandboxOptions::default())
                .await
                .expect("sandbox");
        let dir = tempfile::tempdir().expect("tempdir");
        let token_file = dir.path().join("token");
        // Systems without a single token (AWS's key pair, OPA's key id and secret) read their credentials themselves.
        let token = sandbox.info.systems[system].credentials.get("token");
        std::fs::write(&token_file, token.map(String::as_str).unwrap_or_default())
            .expect("token file");
        Fixture {
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
        BuildContext::new(std::path::PathBuf::new())
    }

    fn admin_client(&self) -> reqwest::Client {
        self.sandbox.info.systems[self.system]
            .http_client()
            .expect("admin client")
    }

    pub async fn admin(&self, what: &str, body: serde_json::Value) {
        let url = format!(
            "{}/{what}",
            self.sandbox.info.systems[self.system].admin_url
        );
        let response = self
            .admin_client()
            .post(url)
            .json(&body)
            .send()
            .await
            .expect("admin");
        assert!(
            response.status().is_success(),
            "{what}: {}",
            response.status()
        );
    }

    /// Writes the emulator received, per object.
    pub async fn writes(&self) -> serde_json::Map<String, serde_json::Value> {
        let url = format!(
            "{}/writes",
            self.sandbox.info.systems[self.system].admin_url
        );
        let body: serde_json::Value = self
            .admin_client()
            .get(url)
            .send()
            .await
            .expect("admin")
            .json()
            .await
            .expect("json");
        body["writes"].as_object().cloned().unwrap_or_default()
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(
            ConnectionName::new(self.system),
            SystemKind::new(self.system),
        )
    }

    pub fn operation(&self, kind: OpKind) -> Operation {
        Operation {
            id: OperationId(0),
            connection: ConnectionName::new(self.system),
            kind,
            reasons: vec![],
            depends_on: vec![],
        }
    }
}

/// The 5xx path every connector must take the same way: with every call
/// failing with `status`, applying `op` is a transient failure (the engine
/// observes, then retries) that carries the vendor's own code.
pub async fn server_errors_are_retry_later(
    fixture: &Fixture,
    connector: &dyn Connector,
    op: &Operation,
    status: u16,
    vendor_code: &str,
) {
    fixture
        .admin(
            "faults",
            serde_json::json!({"error_rate": 1.0, "error_status": status}),
        )
        .await;
    let failure = connector.apply(op).await.expect_err("server error");
    assert!(failure.is_transient(), "{failure:?}");
    assert_eq!(failure.code(), vendor_code, "{failure}");
}
