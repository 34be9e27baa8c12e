//! `grantflow policy schema | check`.

use grantflow_policy::PolicySet;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::app::{App, Options};

pub fn schema() -> anyhow::Result<ExitCode> {
    println!(
        "{}",
        serde_json::to_string_pretty(&grantflow_policy::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn check(options: &Options, policies: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let app = App::open(options).await?;
    let path = policies.unwrap_or_else(|| app.config.policies.clone());
    let set = match PolicySet::load(&path) {
        Ok(set) => set,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            return Ok(ExitCode::from(1));
        }
    };
    let actual = app.actual_state().await?;
    if actual.snapshots.is_empty() {
        println!(
            "{} policies parse; run `grantflow sync` to check what they name",
            set.policies.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Err(diagnostics) = set.check_references(&actual.snapshots) {
        eprintln!("{diagnostics}");
        return Ok(ExitCode::from(1));
    }
    println!("{} policies OK", set.policies.len());
    Ok(ExitCode::SUCCESS)
}
