//! `grantflow do "<request>"`: one change in words becomes a reviewed plan,
//! confirmed by a person (or `--yes`) before anything is written.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use grantflow_connectors::Observed;

use crate::app::App;
use crate::commands::apply;
use crate::render;

pub async fn run(app: &App, text: &str, yes: bool, json: bool) -> anyhow::Result<ExitCode> {
    let request = match grantflow_planner::parse_request(text) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(1));
        }
    };
    let actual = app.actual_state().await?;
    let mut plan = match grantflow_planner::plan_request(&request, &actual, app.store.now()) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("error: {error}\nNothing was changed.");
            return Ok(ExitCode::from(1));
        }
    };
    drop_changes_already_live(app, &mut plan).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        let reach = crate::commands::reach::review(app, &plan).await?;
        print!("{}", render::plan(&plan, reach.as_ref()));
    }
    if plan.operations.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    app.store.save_plan(&plan, &app.actor).await?;
    let how = if yes {
        "--yes"
    } else if confirm(&plan.id)? {
        "prompt"
    } else {
        app.store
            .audit(
                &app.actor,
                "plan.declined",
                &plan.id,
                serde_json::json!({"request": request.text}),
            )
            .await?;
        println!(
            "Not applied. The plan is stored; apply it later with: grantflow apply {}",
            plan.id
        );
        return Ok(ExitCode::SUCCESS);
    };
    app.store
        .audit(
            &app.actor,
            "plan.confirmed",
            &plan.id,
            serde_json::json!({"request": request.text, "confirmed_by": app.actor, "via": how}),
        )
        .await?;
    let report = apply::execute(app, &plan, 8).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render::report(&report));
    }
    Ok(apply::exit_code(&report))
}

/// The last sync may predate changes made since (by an earlier `do`, or by
/// hand): read the one object each operation touches, and drop operations
/// whose effect is already there, so the review shows only real changes.
async fn drop_changes_already_live(app: &App, plan: &mut grantflow_model::Plan) {
    let mut kept = Vec::new();
    for op in plan.operations.drain(..) {
        let live = match app.connectors.get(&op.connection) {
            Some(connector) => connector.observe(&op).await,
            None => Ok(Observed::NotDone),
        };
        if let Ok(Observed::Done) = live {
            plan.review.notes.push(format!(
                "{} is already in effect in {} (checked live): nothing to do",
                op.describe().trim_start_matches(['+', '-', ' ']),
                op.connection
            ));
            plan.review.items.retain(|item| item.operation != op.id);
        } else {
            kept.push(op);
        }
    }
    plan.operations = kept;
}

/// Asks on the terminal; without one, refuses rather than guessing.
pub(crate) fn confirm(plan_id: &str) -> anyhow::Result<bool> {
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
