//! `grantflow sync`: read every connection into a stored snapshot.

use grantflow_model::Snapshot;
use grantflow_store::SyncRecord;
use std::process::ExitCode;

use crate::app::App;
use crate::progress::SyncProgress;

pub async fn run(app: &App, only: Option<&str>) -> anyhow::Result<ExitCode> {
    if let Some(name) = only
        && !app.connectors.keys().any(|c| c.as_str() == name)
    {
        anyhow::bail!(
            "no connection named \"{name}\" (configured: {})",
            app.connectors
                .keys()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for record in sync_all(app, only).await? {
        println!(
            "synced {} ({}): {} accounts, {} resources, {} grants in {:.1}s [sync {}]",
            record.connection,
            record.system,
            record.accounts,
            record.resources,
            record.grants,
            (record.finished_at - record.started_at).num_milliseconds() as f64 / 1000.0,
            record.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Syncs every connection (or one) and stores each snapshot.
pub async fn sync_all(app: &App, only: Option<&str>) -> anyhow::Result<Vec<SyncRecord>> {
    let mut records = Vec::new();
    for (name, connector) in &app.connectors {
        if only.is_some_and(|only| only != name.as_str()) {
            continue;
        }
        let started = app.store.now();
        let description = connector.describe();
        let mut sink = SyncProgress::new(
            Snapshot::new(name.clone(), description.system.clone()),
            name.as_str(),
            app.quiet,
        );
        let outcome = connector.sync(&mut sink).await;
        let mut snapshot = sink.finish();
        snapshot.accounts_created_on_first_login = description.accounts_created_on_first_login;
        if let Err(failure) = outcome {
            app.store
                .audit(
                    &app.actor,
                    "sync.failed",
                    name.as_str(),
                    serde_json::json!({"vendor_code": failure.code(), "message": failure.message()}),
                )
                .await?;
            anyhow::bail!("sync of {name} failed: {failure}");
        }
        records.push(
            app.store
                .record_sync(&snapshot, started, &app.actor)
                .await?,
        );
    }
    Ok(records)
}
