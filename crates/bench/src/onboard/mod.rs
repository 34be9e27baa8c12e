//! The multi-system apply benchmark: onboarding N new hires across seven systems (Okta groups and apps,
//! Google groups, GitHub teams, GitLab groups, Slack channels, Jira roles, AWS assignments) through the
//! engine, every emulator at its vendor's documented rate limits and with a per-call latency; the makespan
//! against its lower bound (each term printed), the 429s met, and (with `--baseline`) the same work done
//! one call after another with each vendor's official Python client against fresh emulators.

mod bound;
mod work;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use grantflow_connectors::{BuildContext, Connector, RateBudgets};
use grantflow_engine::{Engine, EngineOptions, Silent};
use grantflow_model::{ConnectionName, Snapshot, SystemClock};
use grantflow_sandbox::{RunningSandbox, SandboxInfo, SandboxOptions};
use grantflow_service::config::{Config, NewConnection, new_config};

pub use work::SYSTEMS;

/// What one run does.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub hires: usize,
    pub latency_ms: u64,
    pub jitter_ms: u64,
    /// Every emulator's rate-limit window.
    pub window_seconds: u64,
    /// Each bucket's budget per window, as a multiple of its vendor's per-minute figure (1.0 with 60 s
    /// windows: as documented).
    pub scale: f64,
    pub concurrency: usize,
    pub baseline: bool,
}

impl Options {
    /// The quick guard's run: 40 hires, 20 ± 5 ms, 3 s windows with 0.3 of each vendor's per-minute
    /// budget (so each bucket runs 6× its documented rate and the run stays rate-bound yet short). Windows
    /// much shorter than the whole seconds of `Retry-After` would measure the rounding, not the scheduling.
    pub fn quick() -> Self {
        Self {
            hires: 40,
            latency_ms: 20,
            jitter_ms: 5,
            window_seconds: 3,
            scale: 0.3,
            concurrency: 64,
            baseline: false,
        }
    }
}

/// What one run measured.
pub struct Outcome {
    pub makespan: f64,
    pub bound: f64,
    pub refused: u64,
    pub succeeded: usize,
    pub operations: usize,
}

impl Outcome {
    pub fn ratio(&self) -> f64 {
        self.makespan / self.bound.max(1e-9)
    }
}

async fn sandbox(dir: &Path, options: &Options) -> anyhow::Result<RunningSandbox> {
    let path = dir.join("org.yaml");
    std::fs::write(&path, work::org(options.hires))?;
    let org = grantflow_sandbox::load_org(&path)?;
    grantflow_sandbox::start(
        &org,
        SandboxOptions {
            rate_limit_window_seconds: options.window_seconds,
            ..SandboxOptions::default()
        },
    )
    .await
}

/// The connectors a grantflow.yaml for this sandbox would configure (as `grantflow init --sandbox` writes
/// it), with budgets of their own and no reserve: the benchmark is the tenant's only user.
async fn connectors(
    info: &SandboxInfo,
    dir: &Path,
) -> anyhow::Result<BTreeMap<ConnectionName, Box<dyn Connector>>> {
    let connections: Vec<NewConnection> = SYSTEMS
        .iter()
        .map(|&name| {
            let system = &info.systems[name];
            NewConnection {
                name: name.to_string(),
                kind: system.kind.clone(),
                base_url: system.base_url.clone(),
                // The fixed tokens: the benchmark measures the vendors' rate limits, not token minting, and a
                // connection takes a token or a key, never both.
                credentials: system
                    .credentials
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "service_account_key" | "private_key"))
                    .map(|(k, v)| (k.clone(), v.clone().into()))
                    .collect(),
                ca_certificate: system.ca_certificate.clone(),
                settings: system.settings.clone(),
            }
        })
        .collect();
    let yaml = new_config(
        &connections,
        "okta",
        dir,
        Default::default(),
        "onboarding benchmark",
    )?;
    let path = dir.join("grantflow.yaml");
    std::fs::write(&path, yaml)?;
    let config = Config::load(&path)?;
    let context = BuildContext {
        base_dir: config.base_dir.clone(),
        budgets: Arc::new(RateBudgets::new(0.0)),
        clock: Arc::new(SystemClock),
        limits: config.rate_limits.transport_limits(),
    };
    let mut built = BTreeMap::new();
    for (name, connection) in &config.connections {
        let connector = grantflow_connectors::build(name, connection, &context)
            .map_err(|f| anyhow::anyhow!("connection {name}: {f}"))?;
        built.insert(name.clone(), connector);
    }
    Ok(built)
}

async fn sync_all(
    connectors: &BTreeMap<ConnectionName, Box<dyn Connector>>,
) -> anyhow::Result<BTreeMap<String, Snapshot>> {
    let mut snapshots = BTreeMap::new();
    for (name, connector) in connectors {
        let mut snapshot = Snapshot::new(name.clone(), connector.describe().system);
        connector
            .sync(&mut snapshot)
            .await
            .map_err(|f| anyhow::anyhow!("sync of {name}: {f}"))?;
        snapshots.insert(name.as_str().to_string(), snapshot);
    }
    Ok(snapshots)
}

/// Runs the benchmark and prints its figures; the baseline too when asked.
pub async fn run(options: Options) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let running = sandbox(dir.path(), &options).await?;
    let info = running.info.clone();
    let connectors = connectors(&info, dir.path()).await?;
    let snapshots = sync_all(&connectors).await?;
    let operations = work::operations(&snapshots, options.hires)?;
    bound::prepare(
        &info,
        &SYSTEMS,
        options.window_seconds,
        options.scale,
        options.latency_ms,
        options.jitter_ms,
    )
    .await?;
    let budgets = bound::budgets(&info, &SYSTEMS).await?;
    let before = bound::calls(&info, &SYSTEMS).await?;

    let (store, plan) = crate::baseline::store_with_plan(dir.path(), operations.clone()).await?;
    let engine = Engine::new(
        &store,
        &connectors,
        "bench",
        EngineOptions {
            concurrency: options.concurrency,
            ..EngineOptions::default()
        },
    );
    let snapshots_by_connection: BTreeMap<ConnectionName, Snapshot> = snapshots
        .iter()
        .map(|(k, v)| (ConnectionName::new(k.as_str()), v.clone()))
        .collect();
    let request = grantflow_engine::GateRequest {
        snapshots: &snapshots_by_connection,
        allow_mass_removal: None,
        allow_leavers: None,
        actor: "bench",
    };
    let cleared = grantflow_engine::clear(&store, &plan.id, &request, &Default::default())
        .await?
        .map_err(|refusal| anyhow::anyhow!("{}", refusal.explain(&plan.id)))?;
    let started = Instant::now();
    let mut report = engine.apply(&cleared, &Silent).await?;
    // Work the engine rescheduled past its in-place horizon (a reset further away) is run when due, as a
    // worker would.
    while report.succeeded + report.failed + report.skipped < operations.len()
        && started.elapsed().as_secs() < 3600
    {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        report = engine.apply(&cleared, &Silent).await?;
    }
    let makespan = started.elapsed().as_secs_f64();
    let after = bound::calls(&info, &SYSTEMS).await?;
    let calls = bound::since(&before, &after);
    running.shutdown().await;

    let min_latency = options.latency_ms.saturating_sub(options.jitter_ms) as f64 / 1e3;
    let mean_latency = options.latency_ms as f64 / 1e3;
    // Calls per operation in each system; the chain is a hire's Okta group, then their slowest other grant.
    let per_op = |system: &str, ops: usize| {
        let c: u64 = calls
            .iter()
            .filter(|((s, _), _)| s == system)
            .map(|(_, (c, r))| c - r)
            .sum();
        c as f64 / ops.max(1) as f64
    };
    let okta_ops = options.hires * 2;
    let chain = per_op("okta", okta_ops)
        + SYSTEMS[1..]
            .iter()
            .map(|s| per_op(s, options.hires))
            .fold(0.0, f64::max);
    let terms = bound::terms(
        &calls,
        &budgets,
        min_latency,
        mean_latency,
        chain.max(2.0),
        options.concurrency,
    );
    let lower = terms.iter().map(|t| t.seconds).fold(0.0, f64::max);
    let refused: u64 = calls.values().map(|(_, r)| r).sum();

    println!(
        "onboard: {} hires × {} operations = {} operations across {} systems; latency {} ± {} ms; windows {} s, budgets {}× the vendors' per-minute figures; engine concurrency {}",
        options.hires,
        work::PER_HIRE,
        operations.len(),
        SYSTEMS.len(),
        options.latency_ms,
        options.jitter_ms,
        options.window_seconds,
        options.scale,
        options.concurrency
    );
    for (system, source) in bound::SOURCES {
        println!("  limits {system}: {source}");
    }
    println!("calls per bucket during the apply (refused in brackets):");
    for ((system, key), (c, r)) in &calls {
        let budget = budgets
            .get(&(
                system.clone(),
                key.split(':').next().unwrap_or(key).to_string(),
            ))
            .map(|b| format!("{} per {} s", b.limit, b.window_seconds))
            .unwrap_or_else(|| "-".into());
        println!("  {system}/{key}: {c} ({r}) — budget {budget}");
    }
    println!("lower bound terms:");
    for t in &terms {
        println!("  {:>8.2} s  {}", t.seconds, t.name);
    }
    println!(
        "grantflow: makespan {makespan:.1} s; lower bound {lower:.1} s; ratio {:.3}; refused (429/403) {refused}; succeeded {} of {}, failed {}",
        makespan / lower.max(1e-9),
        report.succeeded,
        operations.len(),
        report.failed
    );
    for failure in report
        .operations
        .iter()
        .filter(|o| o.error_message.is_some())
        .take(5)
    {
        println!(
            "  {:?}: {} {} {}",
            failure.state,
            failure.change,
            failure.error_code.as_deref().unwrap_or(""),
            failure.error_message.as_deref().unwrap_or("")
        );
    }

    if options.baseline {
        let fresh = sandbox(dir.path(), &options).await?;
        let seconds = baseline(&fresh.info, dir.path(), &options).await;
        fresh.shutdown().await;
        let (seconds, errors) = seconds?;
        println!(
            "baseline (each vendor's official Python client, one call after another): {seconds:.1} s, errors {errors}; grantflow is {:.2}x faster",
            seconds / makespan
        );
    }
    Ok(Outcome {
        makespan,
        bound: lower,
        refused,
        succeeded: report.succeeded,
        operations: operations.len(),
    })
}

/// Runs `baseline_onboard.py` against `fresh` emulators (same limits and latency): its seconds and errors.
async fn baseline(info: &SandboxInfo, dir: &Path, options: &Options) -> anyhow::Result<(f64, u64)> {
    let base = dir.join("baseline");
    std::fs::create_dir_all(&base)?;
    let connectors = connectors(info, &base).await?;
    let snapshots = sync_all(&connectors).await?;
    let operations = work::operations(&snapshots, options.hires)?;
    let work_file = base.join("work.json");
    std::fs::write(
        &work_file,
        serde_json::to_string(&work::baseline_work(&operations))?,
    )?;
    let info_file = base.join("info.json");
    std::fs::write(&info_file, serde_json::to_string(info)?)?;
    bound::prepare(
        info,
        &SYSTEMS,
        options.window_seconds,
        options.scale,
        options.latency_ms,
        options.jitter_ms,
    )
    .await?;
    let result = crate::baseline::run_script(
        "baseline_onboard.py",
        &[info_file.as_os_str(), work_file.as_os_str()],
    )
    .await?;
    if let Some(per_system) = result.get("per_system") {
        println!("baseline seconds per system: {per_system}");
    }
    Ok((
        result["seconds"].as_f64().unwrap_or(f64::NAN),
        result["errors"].as_u64().unwrap_or(0),
    ))
}
