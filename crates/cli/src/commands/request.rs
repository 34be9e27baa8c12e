//! `grantflow do "<request>"`: one change in words becomes a reviewed plan,
//! confirmed by a person (or `--yes`) before anything is written.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use grantflow_service::{ApplyOptions, ApplyOutcome, Service};

use crate::app::actor;
use crate::commands::{apply, plan};
use crate::progress::ApplyProgress;
use crate::render;

pub async fn run(
    service: &Service,
    text: &str,
    yes: bool,
    json: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let actor = actor();
    let proposal = match service.request_change(&actor, text).await {
        Ok(proposal) => proposal,
        Err(error) => return render::refused(&error, "Nothing was changed."),
    };
    plan::print_proposal(&proposal, json)?;
    if !proposal.stored {
        return Ok(ExitCode::SUCCESS);
    }
    let details = serde_json::json!({ "request": text });
    confirm_and_apply(service, &proposal.plan.id, yes, json, quiet, details).await
}

/// Asks (or takes `--yes`), records the answer, and applies on yes.
pub async fn confirm_and_apply(
    service: &Service,
    plan_id: &str,
    yes: bool,
    json: bool,
    quiet: bool,
    details: serde_json::Value,
) -> anyhow::Result<ExitCode> {
    let actor = actor();
    let via = if yes {
        "--yes"
    } else if confirm(plan_id)? {
        "prompt"
    } else {
        service.decline(&actor, plan_id, details).await?;
        println!("Not applied. The plan is stored; apply it later with: grantflow apply {plan_id}");
        return Ok(ExitCode::SUCCESS);
    };
    service.confirm(&actor, plan_id, via, details).await?;
    let progress = ApplyProgress::new(quiet);
    let outcome = service
        .apply(&actor, plan_id, &ApplyOptions::default(), &progress)
        .await;
    progress.finish();
    match outcome {
        Ok(ApplyOutcome::Ran { report, .. }) => {
            apply::print_report(service, &report, json).await?;
            Ok(apply::exit_code(&report))
        }
        Ok(ApplyOutcome::Queued) => Ok(ExitCode::SUCCESS),
        Err(error) => render::refused(&error, "Nothing was applied."),
    }
}

/// Asks on the terminal; without one, refuses rather than guessing.
fn confirm(plan_id: &str) -> anyhow::Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        anyhow::bail!(
            "plan {plan_id} needs confirmation but standard input is not a terminal; rerun with --yes to apply it"
        );
    }
    print!("Apply plan {plan_id}? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}
