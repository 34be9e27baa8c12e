//! `grantflow sandbox up`: every emulator on 127.0.0.1 until interrupted.

use grantflow_sandbox::{SandboxInfo, SandboxOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub async fn up(
    org: Option<PathBuf>,
    info: Option<PathBuf>,
    okta_port: u16,
    faults: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let org = match &org {
        Some(path) => grantflow_sandbox::load_org(path)?,
        None => grantflow_sandbox::demo_org(),
    };
    let options = SandboxOptions {
        okta_port,
        ..SandboxOptions::default()
    };
    let sandbox = grantflow_sandbox::start(&org, options).await?;
    if let Some(path) = &faults {
        apply_faults(path, &sandbox.info).await?;
    }
    for (name, system) in &sandbox.info.systems {
        println!(
            "{name} ({}): {}  admin: {}",
            system.kind, system.base_url, system.admin_url
        );
    }
    // Services are reached by flows' HTTP and email cards, not by a connector: listed apart.
    for (name, service) in &sandbox.info.services {
        let smtp = service
            .settings
            .get("smtp_port")
            .map(|port| format!("  smtp: 127.0.0.1:{port}"))
            .unwrap_or_default();
        println!(
            "{name} (service for flows): {}{smtp}  admin: {}",
            service.base_url, service.admin_url
        );
    }
    if let Some(path) = &info {
        write_info(path, &sandbox.info)?;
        println!(
            "connection details (with credentials) written to {}",
            path.display()
        );
        println!(
            "point grantflow at it with: grantflow init --sandbox {}",
            path.display()
        );
    }
    println!("serving until interrupted (Ctrl-C)");
    tokio::select! {
        result = sandbox.wait() => result?,
        _ = shutdown_signal() => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// Applies a faults file: per system, per admin endpoint (`network`,
/// `faults`, `rate-limits`), the settings that endpoint takes, e.g.
/// `okta: {network: {reset_rate: 0.1}, faults: {latency_ms: 50}}`.
async fn apply_faults(path: &Path, info: &SandboxInfo) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let systems: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, serde_json::Value>,
    > = serde_saphyr::from_str(&text).map_err(|error| {
        let at = error
            .location()
            .map(|l| format!("{}:{}:{}", path.display(), l.line(), l.column()))
            .unwrap_or_else(|| path.display().to_string());
        anyhow::anyhow!(
            "{at}: error: {}",
            error
                .without_snippet()
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
        )
    })?;
    for (system, endpoints) in systems {
        let Some(target) = info
            .systems
            .get(&system)
            .or_else(|| info.services.get(&system))
        else {
            anyhow::bail!("{}: no system \"{system}\" in this sandbox", path.display());
        };
        for (endpoint, settings) in endpoints {
            if !matches!(endpoint.as_str(), "network" | "faults" | "rate-limits") {
                anyhow::bail!(
                    "{}: {system}: unknown fault kind \"{endpoint}\" (network, faults or rate-limits)",
                    path.display()
                );
            }
            let url = format!("{}/{endpoint}", target.admin_url);
            let response = target
                .http_client()?
                .post(&url)
                .json(&settings)
                .send()
                .await?;
            if !response.status().is_success() {
                let body = response.text().await.unwrap_or_default();
                anyhow::bail!("{}: {system} {endpoint}: {body}", path.display());
            }
            println!("{system}: {endpoint} faults set");
        }
    }
    Ok(())
}

/// Writes the info file readable only by its owner: it holds credentials.
pub fn write_info(path: &Path, info: &SandboxInfo) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(info)?;
    grantflow_service::files::write_private(path, text.as_bytes())?;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
