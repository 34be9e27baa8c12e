//! `grantflow audit verify | export`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::app::StoreOnly;
use grantflow_store::Verification;

pub async fn verify(app: &StoreOnly) -> anyhow::Result<ExitCode> {
    match app.store.verify_audit().await? {
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

pub async fn export(app: &StoreOnly, output: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let events = app.store.audit_events().await?;
    let mut writer: Box<dyn Write> = match &output {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::stdout().lock()),
    };
    for event in &events {
        writeln!(writer, "{}", serde_json::to_string(event)?)?;
    }
    writer.flush()?;
    app.store
        .audit(
            &app.actor,
            "audit.exported",
            "audit",
            serde_json::json!({"events": events.len(), "to": output.as_ref().map(|p| p.display().to_string())}),
        )
        .await?;
    if let Some(path) = output {
        eprintln!("wrote {} events to {}", events.len(), path.display());
    }
    Ok(ExitCode::SUCCESS)
}
