//! `grantflow worker`: take jobs of queued plans and due flow runs from the store, by lease, until
//! interrupted (or idle, with `--exit-when-idle`).

use grantflow_service::{ApplyOptions, Service};
use std::process::ExitCode;

use crate::app::actor;

pub async fn run(
    service: &Service,
    options: &ApplyOptions,
    exit_when_idle: bool,
) -> anyhow::Result<ExitCode> {
    let flows = grantflow_service::flows::LoadedFlows::new(
        service
            .load_flows(None)
            .map_err(|error| anyhow::anyhow!("flows: {error}"))?,
    );
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stopping.send(true);
    });
    let until = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    let actor = actor();
    let plans = service.run_worker(&actor, options, exit_when_idle, until(stopped.clone()));
    let runs = service.run_flow_worker(
        &flows,
        options.concurrency.max(1),
        exit_when_idle,
        until(stopped),
    );
    let (ran, flowed) = tokio::join!(plans, runs);
    flowed?;
    println!("worker stopped after {} operation(s)", ran?);
    Ok(ExitCode::SUCCESS)
}
