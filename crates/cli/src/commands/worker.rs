//! `grantflow worker`: take jobs of queued plans from the store, by lease,
//! until interrupted (or idle, with `--exit-when-idle`).

use grantflow_service::{ApplyOptions, Service};
use std::process::ExitCode;

use crate::app::actor;

pub async fn run(
    service: &Service,
    options: &ApplyOptions,
    exit_when_idle: bool,
) -> anyhow::Result<ExitCode> {
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let ran = service
        .run_worker(&actor(), options, exit_when_idle, stop)
        .await?;
    println!("worker stopped after {ran} operation(s)");
    Ok(ExitCode::SUCCESS)
}
