//! `grantflow apply PLAN_ID`: durable execution and the execution report.

use grantflow_engine::{Engine, EngineOptions, Report};
use grantflow_model::Plan;
use std::process::ExitCode;

use crate::app::App;
use crate::progress::ApplyProgress;
use crate::render;

pub async fn run(
    app: &App,
    plan_id: &str,
    json: bool,
    concurrency: usize,
) -> anyhow::Result<ExitCode> {
    let plan = app.store.plan(plan_id).await?;
    let report = execute(app, &plan, concurrency).await?;
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
        ..EngineOptions::default()
    };
    let engine = Engine::new(&app.store, &app.connectors, app.actor.clone(), options);
    let progress = ApplyProgress::new(app.quiet);
    let report = engine.apply(plan, &progress).await?;
    progress.finish();
    Ok(report)
}

pub fn exit_code(report: &Report) -> ExitCode {
    if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
