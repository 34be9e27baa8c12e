//! `grantflow init`: a commented starting grantflow.yaml, optionally wired
//! to a running sandbox.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const TEMPLATE: &str = r#"# grantflow configuration.
# Secrets are never written here: each connection names an environment
# variable (`env`) or a file (`file`) that holds its credential.

# Where plans, jobs, syncs and the audit trail are kept.
database: sqlite://.grantflow/grantflow.db

# The connection whose users are the people policies talk about.
directory: okta

# Policy files (*.yaml), relative to this file.
policies: policies

connections:
  okta:
    kind: okta
    base_url: https://your-org.okta.com
    token:
      env: GRANTFLOW_OKTA_TOKEN
"#;

pub fn run(config: &Path, sandbox: Option<PathBuf>, force: bool) -> anyhow::Result<ExitCode> {
    if config.exists() && !force {
        anyhow::bail!(
            "{} already exists (use --force to overwrite)",
            config.display()
        );
    }
    let base = config.parent().map(Path::to_path_buf).unwrap_or_default();
    let text = match sandbox {
        None => TEMPLATE.to_string(),
        Some(info) => from_sandbox_info(&info, &base)?,
    };
    grantflow_service::files::write_private(config, text.as_bytes())?;
    println!("wrote {}", config.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "sandbox")]
fn from_sandbox_info(info_path: &Path, base: &Path) -> anyhow::Result<String> {
    let info: grantflow_sandbox::SandboxInfo =
        serde_json::from_str(&std::fs::read_to_string(info_path)?).map_err(|e| {
            anyhow::anyhow!("{}: not a sandbox info file: {e}", info_path.display())
        })?;
    crate::sandbox_config::for_sandbox(&info, base, &Default::default())
}

#[cfg(not(feature = "sandbox"))]
fn from_sandbox_info(_info_path: &Path, _base: &Path) -> anyhow::Result<String> {
    anyhow::bail!("this grantflow was built without the sandbox (the `sandbox` feature)")
}
