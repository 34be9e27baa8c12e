//! `grantflow sync`: read every connection into a stored snapshot.

use grantflow_service::Service;
use std::process::ExitCode;

use crate::app::actor;
use crate::progress::SyncProgress;

pub async fn run(
    service: &Service,
    only: Option<&str>,
    full: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let synced = match service
        .sync(&actor(), only, full, &SyncProgress::new(quiet))
        .await
    {
        Ok(synced) => synced,
        Err(error) => return crate::render::refused(&error, ""),
    };
    for synced in synced {
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
