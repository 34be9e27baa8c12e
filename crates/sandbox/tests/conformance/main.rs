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

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use grantflow_sandbox::SandboxInfo;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};

pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    here.canonicalize().unwrap_or(here)
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed with {}:\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Creates or reuses `<workspace>/target/conformance-venv`, reinstalling only when requirements.txt changes.
/// A file lock serialises test binaries (and parallel tests) that would otherwise race on pip.
pub fn venv_python() -> anyhow::Result<PathBuf> {
    let root = workspace_root();
    let requirements = root.join("conformance/requirements.txt");
    let mut text = Vec::new();
    std::fs::File::open(&requirements)
        .with_context(|| format!("opening {}", requirements.display()))?
        .read_to_end(&mut text)?;
    let want = hex::encode(Sha256::digest(&text));
    let target = root.join("target");
    std::fs::create_dir_all(&target)?;
    let venv = target.join("conformance-venv");
    let python = venv.join("bin/python");
    let marker = venv.join(".requirements.sha256");
    let lock = std::fs::File::create(target.join("conformance-venv.lock"))?;
    lock.lock().context("locking the conformance venv")?;
    if std::fs::read_to_string(&marker).is_ok_and(|h| h.trim() == want) && python.exists() {
        return Ok(python);
    }
    let started = Instant::now();
    if !python.exists() {
        println!("creating {}", venv.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    println!("installing {}", requirements.display());
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "-r",
        ])
        .arg(&requirements))?;
    std::fs::write(&marker, &want)?;
    println!("venv ready in {:.1?}", started.elapsed());
    Ok(python)
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
