//! The background work of `grantflow serve`, each task supervised: syncs on
//! an interval and on event hooks, each followed by a drift check (and, with
//! `lifecycle.automatic`, a lifecycle pass, also run on its own date check),
//! and the worker that runs plans queued through the API.

use std::sync::Arc;
use std::time::Duration;

use grantflow_model::ConnectionName;
use grantflow_service::Actor;
use tokio::sync::{Mutex, mpsc, watch};

use crate::Shared;
use crate::metrics::{FindingLabels, TaskLabels};

/// Runs a background task, and starts it again (after a pause) whenever it
/// ends by failing or panicking, saying so in the log and the metrics: a
/// schedule must not stop silently while `/metrics` keeps answering. Stops
/// when `stop` turns true.
pub(crate) fn supervise<F, Fut>(
    shared: Arc<Shared>,
    task: &'static str,
    mut stop: watch::Receiver<bool>,
    start: F,
) where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let running = tokio::spawn(start());
            let abort = running.abort_handle();
            let outcome = tokio::select! {
                outcome = running => outcome,
                _ = stop.wait_for(|stopped| *stopped) => {
                    abort.abort();
                    return;
                }
            };
            let why = match outcome {
                Ok(()) => "ended".to_string(),
                Err(error) if error.is_panic() => "panicked".to_string(),
                Err(error) => error.to_string(),
            };
            shared
                .metrics
                .restarts
                .get_or_create(&TaskLabels {
                    task: task.to_string(),
                })
                .inc();
            eprintln!("task {task} {why}; restarting it in 1 s");
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
        }
    });
}

/// Starts the schedules, the hook-triggered syncs and the worker.
pub(crate) fn start(
    shared: Arc<Shared>,
    woken: mpsc::UnboundedReceiver<ConnectionName>,
    options: &crate::ServeOptions,
    stop: watch::Receiver<bool>,
) {
    let woken = Arc::new(Mutex::new(woken));
    let hooks = shared.clone();
    supervise(shared.clone(), "hook-syncs", stop.clone(), move || {
        let (hooks, woken) = (hooks.clone(), woken.clone());
        async move {
            while let Some(connection) = woken.lock().await.recv().await {
                run_sync(&hooks, Some(connection.as_str()), "event hook").await;
            }
        }
    });
    let interval = options.sync_interval_seconds;
    if interval > 0 {
        let scheduled = shared.clone();
        supervise(shared.clone(), "sync-schedule", stop.clone(), move || {
            let scheduled = scheduled.clone();
            async move {
                let mut ticks = tokio::time::interval(Duration::from_secs(interval));
                loop {
                    ticks.tick().await;
                    run_sync(&scheduled, None, "schedule").await;
                }
            }
        });
    }
    let drift_interval = options.drift_interval_seconds;
    if drift_interval > 0 {
        let scheduled = shared.clone();
        supervise(shared.clone(), "drift-schedule", stop.clone(), move || {
            let scheduled = scheduled.clone();
            async move {
                let mut ticks = tokio::time::interval(Duration::from_secs(drift_interval));
                // The first tick is immediate; the sync schedule already starts with a check.
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    run_sync(&scheduled, None, "drift schedule").await;
                }
            }
        });
    }
    let lifecycle = shared.service.config.lifecycle;
    if lifecycle.automatic && lifecycle.check_every_seconds > 0 {
        let checking = shared.clone();
        supervise(shared.clone(), "lifecycle-dates", stop.clone(), move || {
            let checking = checking.clone();
            async move {
                let mut ticks =
                    tokio::time::interval(Duration::from_secs(lifecycle.check_every_seconds));
                loop {
                    ticks.tick().await;
                    // One at a time with the syncs, which end with a lifecycle pass of their own.
                    let _one_at_a_time = checking.syncing.lock().await;
                    run_lifecycle(&checking, "date check").await;
                }
            }
        });
    }
    let checkpoints = shared.service.config.server.checkpoint_interval_seconds;
    let signs = shared
        .service
        .config
        .audit
        .as_ref()
        .is_some_and(|audit| audit.signing_key.is_some());
    if signs && checkpoints > 0 {
        let signing = shared.clone();
        supervise(
            shared.clone(),
            "audit-checkpoints",
            stop.clone(),
            move || {
                let signing = signing.clone();
                async move {
                    let mut ticks = tokio::time::interval(Duration::from_secs(checkpoints));
                    loop {
                        ticks.tick().await;
                        let service = &signing.service;
                        match grantflow_service::checkpoints::write_checkpoint(
                            &service.store,
                            &service.config,
                        )
                        .await
                        {
                            Ok(checkpoint) => println!(
                                "audit checkpoint: {} event(s), head {}",
                                checkpoint.events, checkpoint.head
                            ),
                            Err(error) => eprintln!("audit checkpoint failed: {error:#}"),
                        }
                    }
                }
            },
        );
    }
    if options.worker.is_some() {
        let running = shared.clone();
        let flow_stop = stop.clone();
        supervise(shared.clone(), "flows", stop.clone(), move || {
            let (running, mut flow_stop) = (running.clone(), flow_stop.clone());
            async move {
                let stopped = async move {
                    let _ = flow_stop.wait_for(|stopped| *stopped).await;
                };
                if let Err(error) = running
                    .service
                    .run_flow_worker(&running.flows, 8, false, stopped)
                    .await
                {
                    eprintln!("flow worker failed: {error:#}");
                }
            }
        });
    }
    if let Some(worker) = options.worker.clone() {
        let working = shared.clone();
        let worker = Arc::new(worker);
        let worker_stop = stop.clone();
        supervise(shared, "worker", stop, move || {
            let (working, worker, mut worker_stop) =
                (working.clone(), worker.clone(), worker_stop.clone());
            async move {
                let stopped = async move {
                    let _ = worker_stop.wait_for(|stopped| *stopped).await;
                };
                if let Err(error) = working
                    .service
                    .run_worker(&worker_actor(), &worker, false, stopped)
                    .await
                {
                    eprintln!("worker failed: {error:#}");
                }
            }
        });
    }
}

/// Who the in-process worker acts as in the audit trail.
fn worker_actor() -> Actor {
    Actor::system("worker")
}

/// Who scheduled and hook-triggered syncs act as.
fn schedule_actor() -> Actor {
    Actor::system("schedule")
}

/// One sync (incremental where possible), with its outcome on the console.
pub(crate) async fn run_sync(shared: &Shared, only: Option<&str>, why: &str) {
    let _one_at_a_time = shared.syncing.lock().await;
    match shared
        .service
        .sync(
            &schedule_actor(),
            only,
            false,
            &grantflow_service::sync::Quiet,
        )
        .await
    {
        Ok(done) => {
            for synced in done {
                let record = &synced.record;
                let how = match synced.incremental {
                    Some(events) => format!("{events} change event(s)"),
                    None => "full".to_string(),
                };
                println!(
                    "sync ({why}) {}: {how}; {} accounts, {} grants [sync {}]",
                    record.connection, record.accounts, record.grants, record.id
                );
            }
        }
        Err(error) => {
            eprintln!("sync ({why}) failed: {error:#}");
            return;
        }
    }
    if shared.service.config.lifecycle.automatic {
        run_lifecycle(shared, &format!("after the {why} sync")).await;
    }
    check_drift(shared, why).await;
}

/// One pass of the automatic lifecycle (`lifecycle.automatic`), with its outcome on the console: the
/// due joiners, starts and leavers planned and queued for the worker.
async fn run_lifecycle(shared: &Shared, why: &str) {
    match shared.service.run_lifecycle(why).await {
        Ok(pass) if pass.plan.is_none() && pass.resumed.is_empty() => {}
        Ok(pass) => println!("lifecycle ({why}): {}", pass.summary()),
        Err(error) => eprintln!("lifecycle ({why}) failed: {error:#}"),
    }
}

/// The metrics of a drift check that ran (scheduled, or asked for through the API).
pub(crate) fn count_drift_check(shared: &Shared, checked: &grantflow_service::drift::Checked) {
    shared.metrics.checks.inc();
    shared.metrics.open.clear();
    for ((connection, kind), count) in &checked.open.open {
        shared
            .metrics
            .open
            .get_or_create(&FindingLabels {
                connection: connection.clone(),
                kind: kind.clone(),
            })
            .set(*count);
    }
}

/// A drift check on what was just synced, with its outcome on the console
/// and in the metrics.
async fn check_drift(shared: &Shared, why: &str) {
    let service = &shared.service;
    match service.check_drift(&service.config.policies, 8).await {
        Ok(checked) => {
            count_drift_check(shared, &checked);
            println!(
                "drift ({why}): {} finding(s), {} new, {} resolved{}{}",
                checked.report.drift().count(),
                checked.opened.len(),
                checked.resolved.len(),
                checked
                    .remediated
                    .as_ref()
                    .map(|r| format!("; remediated with plan {}", r.plan))
                    .unwrap_or_default(),
                checked
                    .awaiting_approval
                    .as_ref()
                    .map(|p| format!("; plan {p} awaits approval"))
                    .unwrap_or_default(),
            );
        }
        Err(error) => {
            shared.metrics.failed_checks.inc();
            eprintln!("drift ({why}) failed: {error:#}");
        }
    }
}
