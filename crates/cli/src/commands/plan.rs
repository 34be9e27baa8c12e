//! `grantflow plan`: policies against the last sync, stored for review.

use grantflow_service::{Proposal, Service};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::app::actor;
use crate::render;

pub async fn run(
    service: &Service,
    policies: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let path = policies.unwrap_or_else(|| service.config.policies.clone());
    let proposal = match service.plan_policies(&actor(), &path).await {
        Ok(proposal) => proposal,
        Err(error) => return render::refused(&error, "No plan was stored."),
    };
    for warning in &proposal.warnings {
        eprintln!("{warning}");
    }
    print_proposal(&proposal, json)?;
    if !json && !proposal.plan.operations.is_empty() {
        println!("Apply with: grantflow apply {}", proposal.plan.id);
    }
    Ok(ExitCode::SUCCESS)
}

/// The plan for a reviewer, or as JSON (the plan, its reach review and the
/// changes grouped by person).
pub fn print_proposal(proposal: &Proposal, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(proposal)?);
    } else {
        print!("{}", render::plan(proposal));
    }
    Ok(())
}

/// `grantflow plan show ID`: a stored plan for review, and how far it ran.
pub async fn show(service: &Service, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let view = match service.plan_view(id).await {
        Ok(view) => view,
        Err(error) => return render::refused(&error, ""),
    };
    print_proposal(&view.proposal, json)?;
    if !json {
        println!("Status: {}", view.status);
        if view.status != "reviewed" {
            let progress = match service.plan_progress(id).await {
                Ok(progress) => progress,
                Err(error) => return render::refused(&error, ""),
            };
            let report = grantflow_engine::Report::new(
                &view.proposal.plan,
                &progress.jobs,
                service.now().timestamp_millis(),
            );
            print!("{}", render::report(&report, &view.proposal.people));
        }
    }
    Ok(ExitCode::SUCCESS)
}
