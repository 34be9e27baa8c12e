//! The baselines: scripts beside this crate that do a benchmark's work with vendors' official Python
//! clients, run by the conformance venv's Python (`cargo test -p grantflow-sandbox --test conformance`
//! makes it) or `$GRANTFLOW_BENCH_PYTHON`, each answering one JSON object on its standard output.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use grantflow_model::{Operation, Plan, Review, SystemClock};

/// Runs `script` (a file beside this crate) with `args` and reads its answer.
pub async fn run_script(script: &str, args: &[&OsStr]) -> anyhow::Result<serde_json::Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("GRANTFLOW_BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../../target/conformance-venv/bin/python"));
    let output = tokio::process::Command::new(&python)
        .arg(root.join(script))
        .args(args)
        // The Okta SDK refuses the emulators' plain-HTTP URLs without it.
        .env("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")
        .output()
        .await
        .with_context(|| format!("running {} (the conformance venv)", python.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "baseline {script} failed ({}): {}",
        python.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "baseline {script}'s answer: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// A fresh SQLite store in `dir` holding a plan of `operations`, sealed and saved as the engine expects.
pub async fn store_with_plan(
    dir: &Path,
    operations: Vec<Operation>,
) -> anyhow::Result<(grantflow_store::Store, Plan)> {
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let store = grantflow_store::Store::open(&url, Arc::new(SystemClock)).await?;
    let mut plan = Plan {
        id: String::new(),
        created_at: chrono::Utc::now(),
        origin: "bench".into(),
        basis: vec![],
        operations,
        review: Review::default(),
        preconditions: vec![],
    };
    plan.seal();
    store.save_plan(&plan, "bench").await?;
    Ok((store, plan))
}
