//! `grantflow apply PLAN_ID`: the engine's gate, durable execution and the
//! execution report.

use grantflow_engine::Report;
use grantflow_service::{ApplyOptions, ApplyOutcome, Service};
use secrecy::ExposeSecret;
use std::process::ExitCode;

use crate::app::actor;
use crate::progress::ApplyProgress;
use crate::render;

pub async fn run(
    service: &Service,
    plan_id: &str,
    options: &ApplyOptions,
    json: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let progress = ApplyProgress::new(quiet);
    let outcome = service.apply(&actor(), plan_id, options, &progress).await;
    progress.finish();
    match outcome {
        Ok(ApplyOutcome::Queued) => {
            println!("plan {plan_id} is queued; `grantflow worker` processes will run it");
            Ok(ExitCode::SUCCESS)
        }
        Ok(ApplyOutcome::Ran { report, stale }) => {
            if stale {
                eprintln!(
                    "note: plan {plan_id} was computed from an older sync; each operation was checked before it was applied"
                );
            }
            print_report(service, &report, json).await?;
            print_secrets(service, &report.plan_id, json).await;
            Ok(exit_code(&report))
        }
        Err(error) => render::refused(&error, "Nothing was applied."),
    }
}

/// The one-time secrets the plan's operations produced in this process (a created account's
/// temporary password or activation link): shown here once, kept nowhere. With `--json` they go to
/// stderr so the report stays one JSON document.
pub async fn print_secrets(service: &Service, plan_id: &str, json: bool) {
    let Ok(plan) = service.store.plan(plan_id).await else {
        return;
    };
    for (_, who, secret) in service.take_secrets(&plan) {
        let line = format!(
            "One-time secret for {who} (temporary password or activation link; shown once, not stored): {}",
            secret.expose_secret()
        );
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
}

pub async fn print_report(service: &Service, report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    let people = match service.store.plan(&report.plan_id).await {
        Ok(plan) => grantflow_planner::by_person(&plan, &*service.actual_state().await?),
        Err(_) => vec![],
    };
    print!("{}", render::report(report, &people));
    Ok(())
}

/// 0: everything succeeded; 1: something failed (or was skipped);
/// 3: nothing failed but something is still waiting or retrying.
pub fn exit_code(report: &Report) -> ExitCode {
    if report.is_success() {
        ExitCode::SUCCESS
    } else if report.is_incomplete() {
        ExitCode::from(3)
    } else {
        ExitCode::from(1)
    }
}
