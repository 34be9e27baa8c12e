//! Slack: the official `slack_sdk` against the Slack emulator: its `WebClient` (`test_slack_sdk.py`, and
//! chat.postMessage / chat.update in `test_app.py`), and its `SignatureVerifier` checking the slash commands
//! and button clicks the emulator signs and sends to a receiver the suite runs on 127.0.0.1.

use grantflow_sandbox::{SandboxOptions, demo_org, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_sdk_conformance() {
    let sandbox = start(&demo_org(), SandboxOptions::default())
        .await
        .expect("sandbox starts");
    let result = crate::run_pytest("slack", &sandbox.info).await;
    sandbox.shutdown().await;
    if let Err(e) = result {
        panic!("{e:#}");
    }
}
