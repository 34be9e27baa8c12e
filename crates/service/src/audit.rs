//! The audit trail: verify the chain, export it.

use std::io::Write;
use std::path::Path;

use grantflow_store::{AuditAction, AuditEvent, Store, Verification};

use crate::{Actor, Result, ServiceError};

/// Checks the hash chain from the first event to the recorded head.
pub async fn verify(store: &Store) -> Result<Verification> {
    Ok(store.verify_audit().await?)
}

/// Every event, oldest first.
pub async fn events(store: &Store) -> Result<Vec<AuditEvent>> {
    Ok(store.audit_events().await?)
}

/// Writes every event as JSON Lines to `writer`, and records the export.
pub async fn export_to(
    store: &Store,
    actor: &Actor,
    writer: &mut dyn Write,
    to: Option<&Path>,
) -> Result<usize> {
    let count = write_events(store, writer).await?;
    record_export(store, actor, count, to).await?;
    Ok(count)
}

/// Every event as JSON Lines in memory (for an HTTP answer), and records the export.
pub async fn export_lines(store: &Store, actor: &Actor) -> Result<Vec<u8>> {
    let events = store.audit_events().await?;
    let mut lines = Vec::new();
    for event in &events {
        serde_json::to_writer(&mut lines, event).map_err(|e| ServiceError::Other(e.into()))?;
        lines.push(b'\n');
    }
    record_export(store, actor, events.len(), None).await?;
    Ok(lines)
}

async fn write_events(store: &Store, writer: &mut dyn Write) -> Result<usize> {
    let events = store.audit_events().await?;
    for event in &events {
        let line = serde_json::to_string(event).map_err(|e| ServiceError::Other(e.into()))?;
        writeln!(writer, "{line}").map_err(|e| ServiceError::Other(e.into()))?;
    }
    writer.flush().map_err(|e| ServiceError::Other(e.into()))?;
    Ok(events.len())
}

async fn record_export(
    store: &Store,
    actor: &Actor,
    count: usize,
    to: Option<&Path>,
) -> Result<()> {
    store
        .audit(
            &actor.id,
            AuditAction::AuditExported,
            "audit",
            serde_json::json!({"events": count, "to": to.map(|p| p.display().to_string())}),
        )
        .await?;
    Ok(())
}

/// Exports to a file readable by its owner only (the trail names everyone
/// and everything they hold), written whole or not at all.
pub async fn export_file(store: &Store, actor: &Actor, path: &Path) -> Result<usize> {
    let mut buffer = Vec::new();
    let count = write_events(store, &mut buffer).await?;
    crate::files::write_private(path, &buffer)
        .map_err(|e| ServiceError::Other(anyhow::anyhow!("writing {}: {e}", path.display())))?;
    record_export(store, actor, count, Some(path)).await?;
    Ok(count)
}
