//! `grantflow plan`: policies against the last sync, stored for review.

use grantflow_model::Plan;
use grantflow_policy::PolicySet;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::app::App;
use crate::render;

pub async fn run(app: &App, policies: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let path = policies.unwrap_or_else(|| app.config.policies.clone());
    let plan = match compute(app, &path).await? {
        Ok(plan) => plan,
        Err(problems) => {
            eprintln!("{problems}");
            eprintln!("No plan was stored.");
            return Ok(ExitCode::from(1));
        }
    };
    app.store.save_plan(&plan, &app.actor).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        let reach = crate::commands::reach::review(app, &plan).await?;
        print!("{}", render::plan(&plan, reach.as_ref()));
        if !plan.operations.is_empty() {
            println!("Apply with: grantflow apply {}", plan.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads the policies and plans them against the newest syncs. The inner
/// error is the policy problems, already located (file:line:column).
pub async fn compute(app: &App, path: &std::path::Path) -> anyhow::Result<Result<Plan, String>> {
    let policies = match PolicySet::load(path) {
        Ok(policies) => policies,
        Err(diagnostics) => return Ok(Err(diagnostics.to_string())),
    };
    let actual = app.actual_state().await?;
    let origin = format!("policies {}", path.display());
    match grantflow_planner::plan_policies(&policies, &actual, &origin, app.store.now()) {
        Ok(plan) => Ok(Ok(plan)),
        Err(grantflow_planner::PlanError::Policy(problems)) => Ok(Err(problems)),
        Err(other) => Err(other.into()),
    }
}
