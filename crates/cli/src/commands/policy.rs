//! `grantflow policy schema | check`.

use grantflow_service::Service;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn schema() -> anyhow::Result<ExitCode> {
    println!(
        "{}",
        serde_json::to_string_pretty(&grantflow_policy::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn check(service: &Service, policies: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let path = policies.unwrap_or_else(|| service.config.policies.clone());
    let checked = match service.check_policies(&path).await {
        Ok(checked) => checked,
        Err(error) => return crate::render::refused(&error, ""),
    };
    for warning in &checked.warnings {
        eprintln!("{warning}");
    }
    if checked.against_sync {
        println!("{} policies OK", checked.policies);
    } else {
        println!(
            "{} policies parse; run `grantflow sync` to check what they name",
            checked.policies
        );
    }
    Ok(ExitCode::SUCCESS)
}
