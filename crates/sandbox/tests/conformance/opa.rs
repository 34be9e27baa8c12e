//! OPA: the documented API spoken with `requests` (OPA has no official Python client) against the OPA emulator.

use grantflow_sandbox::{SandboxOptions, demo_org, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opa_api_conformance() {
    let sandbox = start(&demo_org(), SandboxOptions::default())
        .await
        .expect("sandbox starts");
    let result = crate::run_pytest("opa", &sandbox.info).await;
    sandbox.shutdown().await;
    if let Err(e) = result {
        panic!("{e:#}");
    }
}
