//! Serves the demo org until killed and writes the sandbox info JSON to the path given as the first argument.

use grantflow_sandbox::{SandboxOptions, demo_org, start};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sandbox-info.json".into());
    let sandbox = start(&demo_org(), SandboxOptions::default()).await?;
    std::fs::write(&out, serde_json::to_vec_pretty(&sandbox.info)?)?;
    println!("{}", serde_json::to_string_pretty(&sandbox.info)?);
    sandbox.wait().await
}
