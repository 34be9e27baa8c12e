//! Datadog: the official `datadog-api-client` (MonitorsApi, AuthenticationApi) against the Datadog emulator.

use grantflow_sandbox::{SandboxOptions, demo_org, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datadog_api_client_conformance() {
    let sandbox = start(&demo_org(), SandboxOptions::default())
        .await
        .expect("sandbox starts");
    let result = crate::run_pytest("datadog", &sandbox.info).await;
    sandbox.shutdown().await;
    if let Err(e) = result {
        panic!("{e:#}");
    }
}
