//! `grantflow serve`: the HTTP API, event hooks, metrics, the schedules and
//! the worker, all in `grantflow-server`; this starts it and stops it on
//! Ctrl-C.

use std::process::ExitCode;

use grantflow_server::ServeOptions;
use grantflow_service::Service;

pub async fn run(service: Service, options: ServeOptions) -> anyhow::Result<ExitCode> {
    grantflow_server::serve(service, options, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
