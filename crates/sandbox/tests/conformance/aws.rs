//! AWS IAM Identity Center: boto3's `identitystore` and `sso-admin` clients against the emulator.

use grantflow_sandbox::{SandboxOptions, demo_org, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_conformance() {
    let sandbox = start(&demo_org(), SandboxOptions::default())
        .await
        .expect("sandbox starts");
    let result = crate::run_pytest("aws", &sandbox.info).await;
    sandbox.shutdown().await;
    if let Err(e) = result {
        panic!("{e:#}");
    }
}
