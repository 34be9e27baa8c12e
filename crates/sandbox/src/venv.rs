//! The Python virtual environments the tests with vendors' official clients (and the console's browser
//! tests) use: made once under `<workspace>/target/<name>`, reinstalled only when the pinned requirements
//! change, under a file lock, since test binaries run at once and would otherwise race on pip.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};

/// The Python of `<workspace>/target/<name>` with `requirements` (relative to the workspace) installed.
pub fn python_venv(workspace: &Path, requirements: &str, name: &str) -> anyhow::Result<PathBuf> {
    let requirements = workspace.join(requirements);
    let mut text = Vec::new();
    std::fs::File::open(&requirements)
        .with_context(|| format!("opening {}", requirements.display()))?
        .read_to_end(&mut text)?;
    let want = hex::encode(Sha256::digest(&text));
    let target = workspace.join("target");
    std::fs::create_dir_all(&target)?;
    let venv = target.join(name);
    let python = venv.join("bin/python");
    let marker = venv.join(".requirements.sha256");
    let lock = std::fs::File::create(target.join(format!("{name}.lock")))?;
    lock.lock()
        .with_context(|| format!("locking {}", venv.display()))?;
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
        .arg(&requirements)
        // Playwright's package only: its own browsers are never downloaded (the tests use Debian's Chromium).
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"))?;
    std::fs::write(&marker, &want)?;
    println!("{} ready in {:.1?}", venv.display(), started.elapsed());
    Ok(python)
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed with {}:\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
