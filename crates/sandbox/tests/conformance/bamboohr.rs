//! BambooHR: PyBambooHR 0.8.1 (directory, employee fields, change feed, auth, 429) and BambooHR's webhook
//! administration against the BambooHR emulator.

use grantflow_sandbox::{SandboxOptions, demo_org, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pybamboohr_conformance() {
    let sandbox = start(&demo_org(), SandboxOptions::default())
        .await
        .expect("sandbox starts");
    let result = crate::run_pytest("bamboohr", &sandbox.info).await;
    sandbox.shutdown().await;
    if let Err(e) = result {
        panic!("{e:#}");
    }
}
