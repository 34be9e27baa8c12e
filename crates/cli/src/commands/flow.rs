//! `grantflow flow …`: check flow files, run a flow by hand, see what a flow would do for an event, test it
//! against the sandbox, and read runs card by card.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use grantflow_service::Service;
use grantflow_service::flows::{DryRun, FlowRunView};
use grantflow_store::{RunStart, Store};
use grantflow_workflows::{FlowSet, Runtime, Start};
use serde_json::{Map, Value as Json};

use crate::app::actor;

#[derive(clap::Subcommand)]
pub enum FlowCommand {
    /// Check flow files (default: the configured flows directory): every mistake as file:line:column.
    Check { path: Option<PathBuf> },
    /// The flows and their triggers.
    List {
        #[arg(long)]
        flows: Option<PathBuf>,
    },
    /// Run a flow now, by hand, and show each card's result.
    Run {
        flow: String,
        /// An input, `name=value` (repeatable).
        #[arg(long = "input", short = 'i')]
        inputs: Vec<String>,
        /// The event the run sees (a JSON file), as if its trigger had fired.
        #[arg(long)]
        event: Option<PathBuf>,
        /// Only store the run for `serve` or `worker` to run.
        #[arg(long)]
        queue: bool,
        #[arg(long)]
        flows: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// What a flow would do for an event, without changing anything: reads are made, changes planned, HTTP
    /// calls not sent, nothing stored.
    Plan {
        flow: String,
        #[arg(long)]
        event: Option<PathBuf>,
        #[arg(long = "input", short = 'i')]
        inputs: Vec<String>,
        #[arg(long)]
        flows: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Run a flow against the built-in sandbox (its own emulators, store and sync, thrown away afterwards) and
    /// show each card's result: a flow tried before it runs anywhere real.
    #[cfg(feature = "sandbox")]
    Test {
        flow: String,
        #[arg(long)]
        event: Option<PathBuf>,
        #[arg(long = "input", short = 'i')]
        inputs: Vec<String>,
        /// The flow files (default: ./flows).
        #[arg(long)]
        flows: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Runs of a flow (or all), newest first.
    Runs {
        flow: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// One run, card by card: inputs, outputs, duration, attempts, errors.
    RunShow {
        run: String,
        #[arg(long)]
        json: bool,
    },
}

fn parse_inputs(raw: &[String]) -> anyhow::Result<Json> {
    let mut map = Map::new();
    for item in raw {
        let Some((name, value)) = item.split_once('=') else {
            anyhow::bail!("--input {item}: write name=value");
        };
        map.insert(name.trim().to_string(), Json::String(value.to_string()));
    }
    Ok(Json::Object(map))
}

fn read_event(path: Option<&Path>) -> anyhow::Result<Json> {
    match path {
        None => Ok(Json::Object(Map::new())),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read the event {}: {e}", path.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", path.display()))
        }
    }
}

fn load(service: &Service, path: Option<&Path>) -> anyhow::Result<Arc<FlowSet>> {
    Ok(Arc::new(
        service
            .load_flows(path)
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    ))
}

/// Checks the flow files at `path`: every mistake with its place, exit code 1 when there is one.
pub fn check(path: &Path) -> anyhow::Result<ExitCode> {
    match FlowSet::load(path) {
        Ok(flows) => {
            println!("{} flow(s) checked: no problems.", flows.len());
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            eprintln!("{problems}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `flow test`: the flow against a sandbox of its own.
#[cfg(feature = "sandbox")]
pub async fn test(
    flow: &str,
    event: Option<&Path>,
    inputs: &[String],
    flows: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let flows_dir = flows
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("flows"));
    let flows_dir = std::fs::canonicalize(&flows_dir)
        .map_err(|e| anyhow::anyhow!("cannot read the flows at {}: {e}", flows_dir.display()))?;
    let event = read_event(event)?;
    let inputs = parse_inputs(inputs)?;
    let dir = tempfile::tempdir()?;
    let sandbox =
        grantflow_sandbox::start(&grantflow_sandbox::demo_org(), Default::default()).await?;
    let text = crate::sandbox_config::for_sandbox(&sandbox.info, dir.path(), &Default::default())?;
    let config_path = dir.path().join("grantflow.yaml");
    grantflow_service::files::write_private(&config_path, text.as_bytes())?;
    let mut config = grantflow_service::Config::load(&config_path)?;
    config.flows.directory = flows_dir;
    let service = Service::open(config).await?;
    if !json {
        println!(
            "Testing flow {flow} against the built-in sandbox (demo organisation); nothing outside it is touched."
        );
    }
    if json {
        // Only the run goes to standard output.
        service
            .sync(
                &actor(),
                None,
                false,
                &crate::progress::SyncProgress::new(true),
            )
            .await?;
    } else {
        crate::commands::sync::run(&service, None, false, true).await?;
    }
    let flows = load(&service, None)?;
    let found = flows
        .get(flow)
        .ok_or_else(|| anyhow::anyhow!("no flow `{flow}`"))?;
    let event = service.event_for(&found, event)?;
    let actor = actor();
    let runtime = service.flow_runtime(flows.clone(), &actor.id);
    let start = Start {
        trigger: "test".into(),
        event,
        inputs,
        key: None,
        actor: actor.id.clone(),
    };
    let (RunStart::Started(run) | RunStart::Duplicate(run)) = runtime.start(&found, start).await?;
    runtime.run_now(&run.id).await?;
    let code = show(&service, &run.id, json).await;
    sandbox.shutdown().await;
    code
}

pub async fn run(service: &Service, command: FlowCommand) -> anyhow::Result<ExitCode> {
    match command {
        FlowCommand::Check { path } => {
            let flows = load(service, path.as_deref())?;
            println!("{} flow(s) checked: no problems.", flows.len());
            Ok(ExitCode::SUCCESS)
        }
        FlowCommand::List { flows } => {
            let flows = load(service, flows.as_deref())?;
            for flow in flows.iter() {
                let trigger = flow
                    .trigger
                    .as_ref()
                    .map(|t| t.kind())
                    .unwrap_or("helper (called by other flows)");
                println!(
                    "{:<32} {:<10} {}",
                    flow.name,
                    trigger,
                    flow.description.as_deref().unwrap_or("")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        FlowCommand::Run {
            flow,
            inputs,
            event,
            queue,
            flows,
            json,
        } => {
            let flows = load(service, flows.as_deref())?;
            let actor = actor();
            let found = flows
                .get(&flow)
                .ok_or_else(|| anyhow::anyhow!("no flow `{flow}`"))?;
            let event = service.event_for(&found, read_event(event.as_deref())?)?;
            let runtime = service.flow_runtime(flows.clone(), &actor.id);
            let start = Start {
                trigger: "manual".into(),
                event,
                inputs: parse_inputs(&inputs)?,
                key: None,
                actor: actor.id.clone(),
            };
            if !actor.has(&grantflow_service::Role::Admin) {
                anyhow::bail!("{actor} may not run flows");
            }
            let started = runtime.start(&found, start).await?;
            let (RunStart::Started(run) | RunStart::Duplicate(run)) = started;
            if queue {
                println!(
                    "Run {} of {} is queued for `grantflow serve` or `grantflow worker`.",
                    run.id, flow
                );
                return Ok(ExitCode::SUCCESS);
            }
            runtime.run_now(&run.id).await?;
            show(service, &run.id, json).await
        }
        FlowCommand::Plan {
            flow,
            event,
            inputs,
            flows,
            json,
        } => {
            let flows = load(service, flows.as_deref())?;
            let found = flows
                .get(&flow)
                .ok_or_else(|| anyhow::anyhow!("no flow `{flow}`"))?;
            // The dry run's history lives in a scratch store that is deleted with it.
            let scratch_dir = tempfile::tempdir()?;
            let scratch_url = format!("sqlite://{}", scratch_dir.path().join("plan.db").display());
            let scratch = Store::open(&scratch_url, Arc::new(grantflow_model::SystemClock)).await?;
            let dry = DryRun(service);
            let http = grantflow_workflows::HttpCards::new(Default::default(), PathBuf::from("."));
            let runtime = Runtime {
                store: scratch.clone(),
                host: &dry,
                http: &http,
                flows: flows.clone(),
                owner: "flow-plan@local".into(),
                lease: Duration::from_secs(600),
                dry_run: true,
            };
            let start = Start {
                trigger: "plan".into(),
                event: service.event_for(&found, read_event(event.as_deref())?)?,
                inputs: parse_inputs(&inputs)?,
                key: None,
                actor: actor().id,
            };
            let (RunStart::Started(run) | RunStart::Duplicate(run)) =
                runtime.start(&found, start).await?;
            runtime.run_now(&run.id).await?;
            let record = scratch
                .flow_run(&run.id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the dry run was lost"))?;
            let steps = scratch.flow_steps(&run.id).await?;
            let view = grantflow_service::flows::view_of(record, steps);
            println!("Dry run: nothing was changed, stored or sent.");
            render(&view, json)
        }
        FlowCommand::Runs { flow, limit, json } => {
            let runs = service.flow_runs(&actor(), flow.as_deref(), limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
                return Ok(ExitCode::SUCCESS);
            }
            for run in runs {
                println!(
                    "{}  {:<28} {:<10} {:<9} {}",
                    run.id,
                    run.flow,
                    run.trigger,
                    run.state,
                    run.created_at.format("%Y-%m-%d %H:%M:%S")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        FlowCommand::RunShow { run, json } => show(service, &run, json).await,
        #[cfg(feature = "sandbox")]
        FlowCommand::Test { .. } => anyhow::bail!("flow test starts its own sandbox and store"),
    }
}

async fn show(service: &Service, run: &str, json: bool) -> anyhow::Result<ExitCode> {
    let view = service.flow_run(&actor(), run).await?;
    render(&view, json)
}

fn render(view: &FlowRunView, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(view)?);
    } else {
        println!(
            "Run {} of flow {} (version {}), {}: {}",
            view.id, view.flow, view.version, view.trigger, view.state
        );
        for step in &view.steps {
            let mark = match step.state.as_str() {
                "succeeded" => "✓",
                "failed" => "✗",
                _ => "…",
            };
            let took = step
                .duration_ms
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_default();
            let tries = if step.attempts > 1 {
                format!(", {} attempts", step.attempts)
            } else {
                String::new()
            };
            println!("  {mark} {:<30} {:<22} {took}{tries}", step.path, step.card);
            if let Some(output) = &step.output {
                println!("      → {}", compact(output));
            }
            if let Some(error) = &step.error {
                let code = error.get("code").and_then(Json::as_str).unwrap_or("");
                let message = error.get("message").and_then(Json::as_str).unwrap_or("");
                let system = error
                    .get("system")
                    .and_then(Json::as_str)
                    .map(|s| format!("{s}: "))
                    .unwrap_or_default();
                println!("      ! {system}{message} ({code})");
            }
        }
        if let Some(output) = &view.output {
            println!("  returned {}", compact(output));
        }
        if let Some(error) = &view.error {
            println!("  failed: {}", compact(error));
        }
    }
    Ok(match view.state.as_str() {
        "succeeded" => ExitCode::SUCCESS,
        "failed" => ExitCode::from(1),
        _ => ExitCode::from(3),
    })
}

/// A value on one line, cut to a readable length.
fn compact(value: &Json) -> String {
    let text = value.to_string();
    if text.chars().count() > 160 {
        format!("{}…", text.chars().take(160).collect::<String>())
    } else {
        text
    }
}
