//! Conformance driver: runs each vendor's official client library (Python, under pytest) against its emulator.
//!
//! One test binary for every system: each system is a module (`okta`, later `google`, `github`, …) that starts
//! the sandbox in-process and runs `conformance/<system>` with the shared venv built here.

mod aws;
mod bamboohr;
mod datadog;
mod github;
mod gitlab;
mod google;
mod jira;
mod okta;
mod opa;
mod salesforce;
mod scim;
mod slack;
mod vault;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use grantflow_sandbox::SandboxInfo;
use tokio::io::{AsyncBufReadExt, BufReader};

pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    here.canonicalize().unwrap_or(here)
}

/// `<workspace>/target/conformance-venv` with conformance/requirements.txt installed.
pub fn venv_python() -> anyhow::Result<PathBuf> {
    grantflow_sandbox::venv::python_venv(
        &workspace_root(),
        "conformance/requirements.txt",
        "conformance-venv",
    )
}

/// Runs pytest on `conformance/<suite>` against the running sandbox described by `info`; prints its output.
pub async fn run_pytest(suite: &str, info: &SandboxInfo) -> anyhow::Result<()> {
    let python = tokio::task::spawn_blocking(venv_python).await??;
    let dir = tempfile::tempdir()?;
    let info_path = dir.path().join("sandbox-info.json");
    std::fs::write(&info_path, serde_json::to_vec_pretty(info)?)?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE"])
        .arg(format!("conformance/{suite}"))
        .current_dir(workspace_root())
        .env("GRANTFLOW_SANDBOX_INFO", &info_path)
        .env("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting pytest")?;
    let stdout = child.stdout.take().context("pytest stdout")?;
    let stderr = child.stderr.take().context("pytest stderr")?;
    // println! (not inherited fds) so cargo shows the output with the failing test.
    let pump = |r: Box<dyn tokio::io::AsyncRead + Unpin + Send>| async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            println!("[pytest {suite}] {l}");
        }
    };
    let status = tokio::time::timeout(Duration::from_secs(300), async {
        tokio::join!(pump(Box::new(stdout)), pump(Box::new(stderr)));
        child.wait().await
    })
    .await
    .context("pytest did not finish within 300 s")??;
    println!(
        "[pytest {suite}] finished in {:.1?} with {status}",
        started.elapsed()
    );
    if !status.success() {
        bail!("conformance suite {suite} failed: {status}");
    }
    Ok(())
}
