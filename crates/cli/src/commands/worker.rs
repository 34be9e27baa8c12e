//! `grantflow worker`: take jobs of queued plans from the store, by lease,
//! until interrupted (or idle, with `--exit-when-idle`).

use grantflow_engine::{Engine, EngineOptions};
use std::process::ExitCode;
use std::time::Duration;

use crate::app::App;

pub async fn run(
    app: &App,
    concurrency: usize,
    exit_when_idle: bool,
    lease_seconds: u64,
) -> anyhow::Result<ExitCode> {
    let options = EngineOptions {
        concurrency,
        lease: Duration::from_secs(lease_seconds.max(1)),
        ..EngineOptions::default()
    };
    let engine = Engine::new(&app.store, &app.connectors, app.actor.clone(), options);
    let mut ran = 0usize;
    loop {
        let now_ran = engine.run_available().await?;
        ran += now_ran;
        if now_ran > 0 {
            continue;
        }
        if exit_when_idle && app.store.open_jobs().await? == 0 {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    println!("worker stopped after {ran} operation(s)");
    Ok(ExitCode::SUCCESS)
}
