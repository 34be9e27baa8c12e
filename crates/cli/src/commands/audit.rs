//! `grantflow audit verify | export`.

use std::path::PathBuf;
use std::process::ExitCode;

use grantflow_service::audit;
use grantflow_store::{Store, Verification};

use crate::app::actor;

pub async fn verify(store: &Store) -> anyhow::Result<ExitCode> {
    match audit::verify(store).await? {
        Verification::Intact { events, head } => {
            println!(
                "OK: {events} audit events, chain intact (head {})",
                &head[..16.min(head.len())]
            );
            Ok(ExitCode::SUCCESS)
        }
        Verification::Broken { seq, id, reason } => {
            let which = if id.is_empty() {
                format!("#{seq}")
            } else {
                format!("#{seq} ({id})")
            };
            println!("BROKEN at event {which}: {reason}");
            Ok(ExitCode::from(1))
        }
    }
}

pub async fn export(store: &Store, output: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    match output {
        Some(path) => {
            let count = audit::export_file(store, &actor(), &path).await?;
            eprintln!("wrote {count} events to {}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            audit::export_to(store, &actor(), &mut out, None).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
