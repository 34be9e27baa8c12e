//! The audit trail at scale: appending events durably in batches, and verifying the whole chain.

use grantflow_model::SystemClock;
use grantflow_store::{AuditAction, NewAuditEvent, Store, Verification};
use std::sync::Arc;
use std::time::Instant;

use crate::database::BenchDatabase;

/// Appends `events` events in batches of `batch` (each batch one durable commit), then verifies the chain.
/// With `sqlite`, the events are added to (and the chain verified in) that file, kept afterwards:
/// `--events 0` then times verification alone.
pub async fn run(
    events: usize,
    batch: usize,
    postgres: Option<&str>,
    sqlite: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let batch = batch.max(1);
    let database = BenchDatabase::open(postgres, sqlite).await?;
    let store = Store::open(database.url(), Arc::new(SystemClock)).await?;
    let started = Instant::now();
    let mut written = 0;
    let mut last_report = Instant::now();
    while written < events {
        let size = batch.min(events - written);
        let batch_events = (written..written + size).map(event).collect();
        store.audit_batch(batch_events).await?;
        written += size;
        if last_report.elapsed().as_secs() >= 10 {
            eprintln!("  {written} events appended");
            last_report = Instant::now();
        }
    }
    let append = started.elapsed();
    if events > 0 {
        println!(
            "audit append: {events} events in batches of {batch} in {:.2} s: {:.0} events/s ({})",
            append.as_secs_f64(),
            events as f64 / append.as_secs_f64(),
            database.label()
        );
    }
    let started = Instant::now();
    let verdict = store.verify_audit().await?;
    let verify = started.elapsed();
    match verdict {
        Verification::Intact { events: n, .. } => println!(
            "audit verify: {n} events intact in {:.2} s ({:.0} events/s, {}); peak RSS {:.0} MB",
            verify.as_secs_f64(),
            n as f64 / verify.as_secs_f64(),
            database.label(),
            crate::peak_rss_mb()
        ),
        Verification::Broken { seq, reason, .. } => {
            anyhow::bail!("the chain the benchmark wrote does not verify: event #{seq}: {reason}")
        }
    }
    database.drop_schema().await
}

/// Appends `events` events in batches of `batch` to a fresh SQLite store, then verifies them:
/// how long each took.
pub async fn timed(
    events: usize,
    batch: usize,
) -> anyhow::Result<(std::time::Duration, std::time::Duration)> {
    let database = BenchDatabase::fresh(None).await?;
    let store = Store::open(database.url(), Arc::new(SystemClock)).await?;
    let started = Instant::now();
    for start in (0..events).step_by(batch.max(1)) {
        let size = batch.min(events - start);
        store
            .audit_batch((start..start + size).map(event).collect())
            .await?;
    }
    let append = started.elapsed();
    let started = Instant::now();
    let verdict = store.verify_audit().await?;
    let verify = started.elapsed();
    anyhow::ensure!(
        matches!(verdict, Verification::Intact { events: n, .. } if n == events),
        "the chain the benchmark wrote does not verify: {verdict:?}"
    );
    Ok((append, verify))
}

/// An event shaped like the engine's `operation.succeeded`: a plan and op in the subject, a little JSON.
fn event(n: usize) -> NewAuditEvent {
    NewAuditEvent {
        actor: "engine".to_string(),
        action: AuditAction::OperationSucceeded,
        subject: format!("p-bench/op{n}"),
        details: serde_json::json!({
            "system": "okta",
            "connection": "okta",
            "kind": "add_member",
            "account": format!("person{n}@example.com"),
            "resource": "engineering",
            "attempt": 1,
        }),
    }
}
