//! `grantflow apply PLAN_ID`: durable execution and the execution report.

use grantflow_engine::{Engine, EngineOptions, Report};
use grantflow_model::Plan;
use std::process::ExitCode;

use crate::app::App;
use crate::progress::ApplyProgress;
use crate::render;

pub struct ApplyOptions {
    pub json: bool,
    pub concurrency: usize,
    pub allow_mass_removal: Option<String>,
    pub lease_seconds: u64,
    /// Queue for workers instead of running here.
    pub queue_only: bool,
}

pub async fn run(app: &App, plan_id: &str, options: &ApplyOptions) -> anyhow::Result<ExitCode> {
    let json = options.json;
    let plan = app.store.plan(plan_id).await?;
    if let Some(approval) = app.store.approval(&plan.id).await?
        && approval.approved_by.is_none()
    {
        eprintln!(
            "refused: plan {} ({}, requested by {}) needs an approval first: grantflow approve {}",
            plan.id, approval.reason, approval.requested_by, plan.id
        );
        return Ok(ExitCode::from(1));
    }
    if !safety_rail_allows(app, &plan, options.allow_mass_removal.as_deref()).await? {
        return Ok(ExitCode::from(1));
    }
    if options.queue_only {
        app.store.queue_plan(&plan, &app.actor).await?;
        println!(
            "plan {} is queued; `grantflow worker` processes will run it",
            plan.id
        );
        return Ok(ExitCode::SUCCESS);
    }
    let report = execute_with(app, &plan, options.concurrency, options.lease_seconds).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render::report(&report));
    }
    Ok(exit_code(&report))
}

/// Runs the plan's unfinished operations; re-checks each first when the
/// plan was computed from a sync that is no longer the newest.
pub async fn execute(app: &App, plan: &Plan, concurrency: usize) -> anyhow::Result<Report> {
    execute_with(app, plan, concurrency, 60).await
}

/// Refuses a plan that removes more than the configured safety rail allows,
/// unless the person named this very plan in `--allow-mass-removal`.
pub async fn safety_rail_allows(
    app: &App,
    plan: &Plan,
    allowed: Option<&str>,
) -> anyhow::Result<bool> {
    let actual = app.actual_state().await?;
    let Some(why) = grantflow_planner::mass_removal(plan, &actual, &app.config.safety) else {
        return Ok(true);
    };
    if allowed == Some(plan.id.as_str()) {
        app.store
            .audit(
                &app.actor,
                "plan.mass_removal_allowed",
                &plan.id,
                serde_json::json!({ "why": why }),
            )
            .await?;
        return Ok(true);
    }
    app.store
        .audit(
            &app.actor,
            "plan.refused",
            &plan.id,
            serde_json::json!({ "why": why, "rail": "mass removal" }),
        )
        .await?;
    eprintln!(
        "refused: plan {} trips the mass-removal safety rail: {why}.\nReview it, then apply with: grantflow apply {} --allow-mass-removal {}",
        plan.id, plan.id, plan.id
    );
    Ok(false)
}

async fn execute_with(
    app: &App,
    plan: &Plan,
    concurrency: usize,
    lease_seconds: u64,
) -> anyhow::Result<Report> {
    let actual = app.actual_state().await?;
    let stale = plan
        .basis
        .iter()
        .any(|b| actual.sync_ids.get(&b.connection) != Some(&b.sync_id));
    if stale {
        eprintln!(
            "note: plan {} was computed from an older sync; each operation is checked before it is applied",
            plan.id
        );
    }
    let options = EngineOptions {
        concurrency,
        observe_first: stale,
        lease: std::time::Duration::from_secs(lease_seconds.max(1)),
        ..EngineOptions::default()
    };
    let engine = Engine::new(&app.store, &app.connectors, app.actor.clone(), options);
    let progress = ApplyProgress::new(app.quiet);
    let report = engine.apply(plan, &progress).await?;
    progress.finish();
    Ok(report)
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
