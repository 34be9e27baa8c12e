//! `grantflow init`: a commented starting grantflow.yaml, optionally wired
//! to a running sandbox.

use grantflow_sandbox::SandboxInfo;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::commands::sandbox::write_private;

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
        Some(info_path) => {
            let info: SandboxInfo = serde_json::from_str(&std::fs::read_to_string(&info_path)?)
                .map_err(|e| {
                    anyhow::anyhow!("{}: not a sandbox info file: {e}", info_path.display())
                })?;
            sandbox_config(&info, &base)?
        }
    };
    std::fs::write(config, text)?;
    println!("wrote {}", config.display());
    Ok(ExitCode::SUCCESS)
}

/// A configuration for the systems in a sandbox info file. Each credential
/// goes to its own owner-only file under `.grantflow/` beside the config,
/// and is named in the connection by the same key the sandbox uses (by
/// convention a connector's secret settings are named like the sandbox's
/// credentials), so a new system needs no code here.
pub fn sandbox_config(info: &SandboxInfo, base: &Path) -> anyhow::Result<String> {
    let directory = info
        .systems
        .iter()
        .find(|(_, system)| system.kind == "okta")
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| "okta".to_string());
    let mut text = format!(
        "# grantflow configuration for a local sandbox (grantflow sandbox up).\n\
         database: sqlite://.grantflow/grantflow.db\n\
         directory: {directory}\n\
         policies: policies\n\
         connections:\n"
    );
    for (name, system) in &info.systems {
        // Datadog is read by the reachability graph (its monitors), not managed as a connection.
        if system.kind == "datadog" {
            continue;
        }
        let _ = write!(
            text,
            "  {name}:\n    kind: {}\n    base_url: {}\n",
            system.kind, system.base_url
        );
        for (key, secret) in &system.credentials {
            let secret_file = format!(".grantflow/{name}.{key}");
            write_private(&base.join(&secret_file), secret)?;
            let _ = write!(text, "    {key}:\n      file: {secret_file}\n");
        }
        // A system served over HTTPS (Salesforce) is trusted through the sandbox's own CA.
        if let Some(ca) = &system.ca_certificate {
            let _ = writeln!(text, "    ca_certificate: {}", ca.display());
        }
    }
    if info.systems.values().any(|s| s.kind == "datadog") {
        text.push_str(&demo_reachability(base)?);
    }
    Ok(text)
}

/// The sandbox's demo organisation comes with production-reach data: write it under `reach/` and
/// point a `reachability:` section at it.
fn demo_reachability(base: &Path) -> anyhow::Result<String> {
    grantflow_sandbox::demo_reach::write_files(&base.join("reach"))?;
    let mut section = String::from(
        "# Production reachability of the demo organisation (files under reach/).\nreachability:\n",
    );
    for line in grantflow_sandbox::demo_reach::CONFIG.lines() {
        let _ = writeln!(section, "  {line}");
        if line == "sources:" {
            section.push_str("    root: reach\n");
        }
    }
    Ok(section)
}
