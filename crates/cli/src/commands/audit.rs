//! `grantflow audit verify | export | checkpoint | keygen`.

use std::path::PathBuf;
use std::process::ExitCode;

use grantflow_service::checkpoints::{self, AuditVerification};
use grantflow_service::{Config, audit};
use grantflow_store::{Store, Verification};

use crate::AuditCommand;
use crate::app::{Options, actor};

pub async fn run(options: &Options, command: AuditCommand) -> anyhow::Result<ExitCode> {
    // The audit trail needs no credentials, so a missing grantflow.yaml is
    // fine (the default or `--database` store is read); one that is there
    // but does not load is an error, since it may configure checkpoints.
    let config = if options.config.exists() {
        Some(options.load_config()?)
    } else {
        None
    };
    let open = || grantflow_service::open_store_only(config.as_ref(), options.database.as_deref());
    match command {
        AuditCommand::Verify => verify(&open().await?, config.as_ref()).await,
        AuditCommand::Export { output } => export(&open().await?, output).await,
        AuditCommand::Checkpoint => checkpoint(&open().await?, config.as_ref()).await,
        AuditCommand::Keygen { output } => keygen(config.as_ref(), output),
    }
}

pub async fn verify(store: &Store, config: Option<&Config>) -> anyhow::Result<ExitCode> {
    let verification = checkpoints::verify_with_checkpoints(store, config).await?;
    let mut code = ExitCode::SUCCESS;
    match &verification.chain {
        Verification::Intact { events, head } => {
            println!(
                "OK: {events} audit events, chain intact (head {})",
                &head[..16.min(head.len())]
            );
        }
        Verification::Broken { seq, id, reason } => {
            let which = if id.is_empty() {
                format!("#{seq}")
            } else {
                format!("#{seq} ({id})")
            };
            println!("BROKEN at event {which}: {reason}");
            code = ExitCode::from(1);
        }
    }
    match &verification.checkpoints {
        None => println!(
            "WARNING: no signed checkpoints are configured (audit: in grantflow.yaml), so a writer of the database \
             could rewrite the chain and its head undetected; see `grantflow audit keygen --help`"
        ),
        Some(summary) => {
            for rejected in &summary.rejected {
                println!(
                    "BROKEN checkpoint at {} of {}: {}",
                    rejected.position, summary.log, rejected.reason
                );
                code = ExitCode::from(1);
            }
            println!("{}", checkpoint_line(&verification));
        }
    }
    Ok(code)
}

/// How many checkpoints were checked, the newest's age, and what follows it.
fn checkpoint_line(verification: &AuditVerification) -> String {
    let Some(summary) = &verification.checkpoints else {
        return String::new();
    };
    let Some(newest) = &summary.newest else {
        return format!(
            "WARNING: 0 checkpoints in {}: until `grantflow audit checkpoint` writes one, a writer of the database \
             could rewrite the chain undetected",
            summary.log
        );
    };
    let age = summary
        .newest_age
        .map(|age| format!("{} ago", human(age)))
        .unwrap_or_else(|| "at an unknown time".into());
    let mut line = format!(
        "{} {} checked ({}); the newest, of event #{}, was taken {age}",
        summary.checked,
        if summary.checked == 1 {
            "checkpoint"
        } else {
            "checkpoints"
        },
        summary.log,
        newest.seq,
    );
    match verification.uncovered_events() {
        Some(0) => line.push_str(" and covers every event"),
        Some(count) => line.push_str(&format!(
            "; {count} newer {} protected by the chain alone until the next checkpoint",
            if count == 1 { "event is" } else { "events are" }
        )),
        None => {}
    }
    line
}

fn human(age: chrono::Duration) -> String {
    let seconds = age.num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{}d{:02}h", seconds / 86400, seconds % 86400 / 3600),
    }
}

pub async fn checkpoint(store: &Store, config: Option<&Config>) -> anyhow::Result<ExitCode> {
    let config = config.ok_or_else(|| {
        anyhow::anyhow!("checkpoints are configured in grantflow.yaml (audit:), and there is none")
    })?;
    let checkpoint = checkpoints::write_checkpoint(store, config).await?;
    println!(
        "checkpoint: event #{} (head {}) signed by key {}, appended to {}",
        checkpoint.seq,
        &checkpoint.head[..16.min(checkpoint.head.len())],
        checkpoint.key_id,
        checkpoints::log(config)?.path().display()
    );
    Ok(ExitCode::SUCCESS)
}

fn keygen(config: Option<&Config>, output: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let path = output
        .or_else(|| config.and_then(checkpoints::configured_key_file))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "where should the key go? set `audit: {{ signing_key: {{ file: .grantflow/audit.key }}, checkpoints: \
                 .grantflow/audit-checkpoints.jsonl }}` in grantflow.yaml, or pass --output"
            )
        })?;
    let public = checkpoints::keygen(&path)?;
    eprintln!("wrote a new Ed25519 signing key to {}", path.display());
    println!("public key: {public}");
    println!("key id: {}", public.key_id());
    Ok(ExitCode::SUCCESS)
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
