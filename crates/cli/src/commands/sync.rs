//! `grantflow sync`: read every connection into a stored snapshot; after a
//! first full sync, read only the changes since the stored cursor.

use grantflow_connectors::{Connector, SyncChanges};
use grantflow_model::{ConnectionName, Snapshot};
use grantflow_store::SyncRecord;
use std::process::ExitCode;

use crate::app::App;
use crate::progress::SyncProgress;

/// Okta keeps System Log events for 90 days; an older cursor cannot resume.
const CURSOR_RETENTION_DAYS: i64 = 90;

/// How one connection was synced.
pub struct Synced {
    pub record: SyncRecord,
    /// `Some(events)` for an incremental sync, `None` for a full one.
    pub incremental: Option<u64>,
}

pub async fn run(app: &App, only: Option<&str>) -> anyhow::Result<ExitCode> {
    run_with(app, only, false).await
}

pub async fn run_with(app: &App, only: Option<&str>, full: bool) -> anyhow::Result<ExitCode> {
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
    for synced in sync_connections(app, only, full).await? {
        let record = &synced.record;
        let how = match synced.incremental {
            Some(events) => format!("incrementally from {events} change event(s)"),
            None => "in full".to_string(),
        };
        println!(
            "synced {} ({}) {how}: {} accounts, {} resources, {} grants in {:.1}s [sync {}]",
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

/// Syncs every connection (or one): incrementally where a cursor and a
/// previous snapshot allow it and `full` is not asked for, else in full.
pub async fn sync_connections(
    app: &App,
    only: Option<&str>,
    full: bool,
) -> anyhow::Result<Vec<Synced>> {
    let mut done = Vec::new();
    for (name, connector) in &app.connectors {
        if only.is_some_and(|only| only != name.as_str()) {
            continue;
        }
        done.push(sync_one(app, name, connector.as_ref(), full).await?);
    }
    Ok(done)
}

pub async fn sync_one(
    app: &App,
    name: &ConnectionName,
    connector: &dyn Connector,
    full: bool,
) -> anyhow::Result<Synced> {
    if !full && let Some(synced) = incremental(app, name, connector).await? {
        return Ok(synced);
    }
    let started = app.store.now();
    // Taken before reading, so changes made during the full sync are replayed next time.
    let cursor = match connector.change_cursor().await {
        Ok(cursor) => cursor,
        Err(failure) => {
            eprintln!(
                "note: {name}: cannot read the change feed ({failure}); the next sync will be a full one too"
            );
            None
        }
    };
    let description = connector.describe();
    let mut sink = SyncProgress::new(
        Snapshot::new(name.clone(), description.system.clone()),
        name.as_str(),
        app.quiet,
    );
    let outcome = connector.sync(&mut sink).await;
    let mut snapshot = sink.finish();
    snapshot.accounts_created_on_first_login = connector.describe().accounts_created_on_first_login;
    if let Err(failure) = outcome {
        record_failure(app, name, &failure).await?;
        anyhow::bail!("sync of {name} failed: {failure}");
    }
    let record = app
        .store
        .record_sync(&snapshot, started, &app.actor)
        .await?;
    if let Some(cursor) = cursor {
        app.store.set_sync_cursor(name.as_str(), &cursor).await?;
    }
    Ok(Synced {
        record,
        incremental: None,
    })
}

async fn record_failure(
    app: &App,
    name: &ConnectionName,
    failure: &grantflow_connectors::Failure,
) -> anyhow::Result<()> {
    app.store
        .audit(
            &app.actor,
            "sync.failed",
            name.as_str(),
            serde_json::json!({"vendor_code": failure.code(), "message": failure.message()}),
        )
        .await?;
    Ok(())
}

/// Applies the changes since the stored cursor to the newest snapshot;
/// `None` when a full sync is needed instead (no cursor or snapshot, an
/// expired cursor, or a connector without a change feed).
async fn incremental(
    app: &App,
    name: &ConnectionName,
    connector: &dyn Connector,
) -> anyhow::Result<Option<Synced>> {
    let Some(cursor) = app.store.sync_cursor(name.as_str()).await? else {
        return Ok(None);
    };
    let previous = app
        .store
        .latest_syncs()
        .await?
        .into_iter()
        .find(|(record, _)| record.connection == name.as_str());
    let Some((_, mut snapshot)) = previous else {
        return Ok(None);
    };
    let age = app.store.now() - cursor.updated_at;
    if age > chrono::Duration::days(CURSOR_RETENTION_DAYS) {
        eprintln!(
            "note: {name}: the change cursor is {} days old, beyond the log's retention; syncing in full",
            age.num_days()
        );
        return Ok(None);
    }
    let started = app.store.now();
    match connector.sync_changes(&cursor.cursor, &mut snapshot).await {
        Ok(SyncChanges::Applied { cursor, events }) => {
            let record = app
                .store
                .record_sync(&snapshot, started, &app.actor)
                .await?;
            app.store.set_sync_cursor(name.as_str(), &cursor).await?;
            Ok(Some(Synced {
                record,
                incremental: Some(events),
            }))
        }
        Ok(SyncChanges::Unsupported) => Ok(None),
        Ok(SyncChanges::CursorExpired { message }) => {
            eprintln!("note: {name}: the change cursor expired ({message}); syncing in full");
            Ok(None)
        }
        Err(failure) => {
            record_failure(app, name, &failure).await?;
            anyhow::bail!("incremental sync of {name} failed: {failure}");
        }
    }
}
