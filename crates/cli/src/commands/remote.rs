//! The commands that go through a server's API (`--server URL`): the same
//! output as on the local store, from the API's answers. The server decides
//! and records everything; this asks and renders.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use grantflow_engine::{OperationReport, Report};
use grantflow_graph::review::{HolderReport, PlanReach, ReachReport};
use grantflow_model::{Operation, Plan, Review};
use grantflow_planner::ChangesFor;
use grantflow_service::Proposal;
use grantflow_store::JobState;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::commands::{apply, people, plan, reach};
use crate::progress::ApplyProgress;
use crate::remote::Remote;
use crate::render;

/// How often an apply's progress is read.
const POLL: Duration = Duration::from_millis(500);
/// After this long with nothing started, say why it may be.
const NOTHING_STARTED_HINT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
struct Me {
    actor: String,
    roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct PlanApproval {
    requested_by: String,
    reason: String,
    approved_by: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

/// The API's `PlanReview`.
#[derive(Debug, Deserialize)]
struct PlanReview {
    id: String,
    origin: String,
    created_at: DateTime<Utc>,
    status: String,
    operations: Vec<Operation>,
    people: Vec<ChangesFor>,
    reach: Option<PlanReach>,
    #[serde(default)]
    warnings: Vec<String>,
    approval: Option<PlanApproval>,
}

impl PlanReview {
    /// The review as the local renderer takes it. The API does not give the
    /// plan's basis (the syncs it was computed from) or its review items.
    fn proposal(&self) -> Proposal {
        Proposal {
            plan: Plan {
                id: self.id.clone(),
                created_at: self.created_at,
                origin: self.origin.clone(),
                basis: vec![],
                operations: self.operations.clone(),
                review: Review::default(),
                preconditions: vec![],
            },
            reach: self.reach.clone(),
            people: self.people.clone(),
            stored: self.status != "not_stored",
            warnings: self.warnings.clone(),
        }
    }

    /// Whether an approval is asked for and not given.
    fn awaits_approval(&self) -> bool {
        self.approval
            .as_ref()
            .is_some_and(|a| a.approved_by.is_none())
    }
}

#[derive(Debug, Deserialize)]
struct Approved {
    approved_by: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct Queued {
    status: String,
}

#[derive(Debug, Deserialize)]
struct Job {
    operation: u32,
    state: JobState,
    attempts: u32,
    outcome: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    wait_reason: Option<String>,
    updated_at: String,
}

#[derive(Debug, Deserialize)]
struct Progress {
    jobs: Vec<Job>,
}

#[derive(Debug, Deserialize)]
struct Connection {
    name: String,
    system: String,
}

#[derive(Debug, Deserialize)]
struct Connections {
    items: Vec<Connection>,
}

#[derive(Debug, Deserialize)]
struct Synced {
    connection: String,
    sync_id: String,
    change_events: Option<u64>,
    accounts: i64,
    resources: i64,
    grants: i64,
}

#[derive(Debug, serde::Serialize, Deserialize)]
struct Finding {
    key: String,
    connection: String,
    kind: String,
    details: Value,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct ReachAnswer {
    report: Option<ReachReport>,
    holders: Option<Vec<HolderReport>>,
}

#[derive(Debug, Deserialize)]
struct Verification {
    intact: bool,
    events: Option<u64>,
    head: Option<String>,
    broken_at: Option<i64>,
    reason: Option<String>,
    checkpoints_checked: Option<u64>,
    #[serde(default)]
    rejected_checkpoints: Vec<String>,
}

/// `grantflow whoami`: `GET /me`.
pub async fn whoami(remote: &Remote) -> anyhow::Result<ExitCode> {
    let me: Me = remote.get(&["me"], &[]).await?;
    Ok(people::print_whoami(&me.actor, &me.roles, remote.server()))
}

/// `grantflow people [QUERY]`: every page of `GET /people`.
pub async fn people(remote: &Remote, query: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let filters: Vec<(&str, &str)> = query.map(|q| ("q", q)).into_iter().collect();
    let found: Vec<render::Person> = remote.list(&["people"], &filters).await?;
    people::print_people(&found, json)
}

/// `grantflow person EMAIL`: `GET /people/{email}`.
pub async fn person(remote: &Remote, email: &str, json: bool) -> anyhow::Result<ExitCode> {
    let access: render::PersonAccess = remote.get(&["people", email], &[]).await?;
    people::print_person(&access, json)
}

/// Prints a review as the local commands do (or the server's JSON).
fn print_review(value: &Value, review: &PlanReview, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
        return Ok(());
    }
    for warning in &review.warnings {
        eprintln!("{warning}");
    }
    plan::print_proposal(&review.proposal(), false)?;
    if let Some(approval) = &review.approval {
        match &approval.approved_by {
            None => println!(
                "Waits for approval ({}): grantflow approve {}",
                approval.reason, review.id
            ),
            Some(by) => println!(
                "Approved by {by}{} (asked by {}).",
                approval
                    .expires_at
                    .map(|at| format!(" until {}", at.format("%Y-%m-%d %H:%M UTC")))
                    .unwrap_or_default(),
                approval.requested_by
            ),
        }
    }
    Ok(())
}

async fn review(remote: &Remote, id: &str) -> anyhow::Result<(Value, PlanReview)> {
    let value: Value = remote.get(&["plans", id], &[]).await?;
    let review = serde_json::from_value(value.clone())
        .map_err(|e| anyhow::anyhow!("the server's plan {id} is not what this CLI reads: {e}"))?;
    Ok((value, review))
}

async fn create(remote: &Remote, body: Value) -> anyhow::Result<(Value, PlanReview)> {
    let value: Value = remote.post(&["plans"], Some(&body)).await?;
    let review = serde_json::from_value(value.clone())
        .map_err(|e| anyhow::anyhow!("the server's new plan is not what this CLI reads: {e}"))?;
    Ok((value, review))
}

/// `grantflow plan`: `POST /plans {"from": "policies"}` (the server's policies).
pub async fn plan(
    remote: &Remote,
    policies: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if let Some(path) = policies {
        anyhow::bail!(
            "with --server the server plans from its own policies; drop {} (or run without --server)",
            path.display()
        );
    }
    let (value, review) = create(remote, json!({ "from": "policies" })).await?;
    print_review(&value, &review, json)?;
    if !json
        && review.status != "not_stored"
        && !review.operations.is_empty()
        && !review.awaits_approval()
    {
        println!("Apply with: grantflow apply {}", review.id);
    }
    Ok(ExitCode::SUCCESS)
}

/// `grantflow plan show ID`: the stored plan for review, and how far it ran.
pub async fn show(remote: &Remote, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let (value, review) = review(remote, id).await?;
    print_review(&value, &review, json)?;
    if !json {
        println!("Status: {}", review.status);
        if review.status != "reviewed" {
            let progress: Progress = remote.get(&["plans", id, "progress"], &[]).await?;
            print!(
                "{}",
                render::report(&report(&review, &progress), &review.people)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `grantflow do "<words>"`: `POST /plans {"request": …}`; a plan that needs
/// an approval waits for it, any other is applied on confirmation.
pub async fn request(
    remote: &Remote,
    words: &str,
    yes: bool,
    json: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    propose_and_apply(remote, json!({ "request": words }), yes, json, quiet).await
}

/// `grantflow action CONNECTION VERB WHO`: `POST /plans {"action": …}`, then
/// as `do`.
pub async fn action(
    remote: &Remote,
    action: Value,
    yes: bool,
    json: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    propose_and_apply(remote, json!({ "action": action }), yes, json, quiet).await
}

async fn propose_and_apply(
    remote: &Remote,
    body: Value,
    yes: bool,
    json: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let (value, review) = create(remote, body).await?;
    print_review(&value, &review, json)?;
    if review.status == "not_stored" || review.awaits_approval() {
        return Ok(ExitCode::SUCCESS);
    }
    if !yes && !confirm(&review.id)? {
        println!(
            "Not applied. The plan is stored; apply it later with: grantflow apply {}",
            review.id
        );
        return Ok(ExitCode::SUCCESS);
    }
    run_apply(remote, &review.id, None, None, true, json, quiet).await
}

/// Asks on the terminal; without one, refuses rather than guessing.
fn confirm(plan_id: &str) -> anyhow::Result<bool> {
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

/// `grantflow approve ID`: `POST /plans/{id}/approve`.
pub async fn approve(remote: &Remote, id: &str) -> anyhow::Result<ExitCode> {
    let approved: Approved = remote.post(&["plans", id, "approve"], None).await?;
    println!(
        "plan {id} approved by {}{}; apply with: grantflow apply {id}",
        approved.approved_by.as_deref().unwrap_or("the caller"),
        approved
            .expires_at
            .map(|at| format!(" until {}", at.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// `grantflow apply ID`: `POST /plans/{id}/apply` (the server's gate, then
/// its worker), then the progress until nothing is left to start.
pub async fn run_apply(
    remote: &Remote,
    id: &str,
    allow_mass_removal: Option<&str>,
    allow_leavers: Option<&str>,
    wait: bool,
    json: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let query: Vec<(&str, &str)> = allow_mass_removal
        .map(|plan| ("allow_mass_removal", plan))
        .into_iter()
        .chain(allow_leavers.map(|plan| ("allow_leavers", plan)))
        .collect();
    let queued: Queued = remote.post_with(&["plans", id, "apply"], &query).await?;
    if !wait {
        println!(
            "plan {id} is {} on {}; its workers run it (follow with: grantflow plan show {id})",
            queued.status,
            remote.server()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (_, review) = review(remote, id).await?;
    let bar = ApplyProgress::new(quiet);
    let started = Instant::now();
    let mut hinted = false;
    let progress = loop {
        let progress: Progress = remote.get(&["plans", id, "progress"], &[]).await?;
        let total = progress.jobs.len();
        let ended = progress.jobs.iter().filter(|j| j.state.is_final()).count();
        let moving = progress
            .jobs
            .iter()
            .filter(|j| matches!(j.state, JobState::Pending | JobState::Running))
            .count();
        bar.set(ended, total, format!("{moving} to go"));
        if moving == 0 {
            break progress;
        }
        if !hinted && started.elapsed() > NOTHING_STARTED_HINT && ended == 0 {
            hinted = true;
            eprintln!(
                "note: nothing of plan {id} has run yet; does the server run a worker (not `serve --no-worker`), \
                 or is a `grantflow worker` running? Interrupt to stop waiting: the plan stays queued."
            );
        }
        tokio::time::sleep(POLL).await;
    };
    bar.finish();
    let report = report(&review, &progress);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render::report(&report, &review.people));
    }
    Ok(apply::exit_code(&report))
}

/// The execution report from the plan's operations and their jobs.
fn report(review: &PlanReview, progress: &Progress) -> Report {
    let operations = review
        .operations
        .iter()
        .map(|op| {
            let job = progress.jobs.iter().find(|j| j.operation == op.id.0);
            let state = job.map(|j| j.state).unwrap_or(JobState::Pending);
            OperationReport {
                id: op.id.0,
                change: op.describe(),
                state,
                attempts: job.map(|j| j.attempts).unwrap_or(0),
                outcome: job.and_then(|j| j.outcome.clone()),
                error_code: job.and_then(|j| j.error_code.clone()),
                error_message: job.and_then(|j| {
                    if state == JobState::Waiting {
                        j.wait_reason.clone()
                    } else {
                        j.error_message.clone()
                    }
                }),
                next_attempt_at: None,
                updated_at: job.map(|j| j.updated_at.clone()).unwrap_or_default(),
            }
        })
        .collect();
    Report::from_operations(review.id.clone(), operations, None)
}

/// `grantflow sync [CONNECTION]`: `POST /connections/{name}/sync`, one
/// connection after the other.
pub async fn sync(remote: &Remote, only: Option<&str>, full: bool) -> anyhow::Result<ExitCode> {
    let query: &[(&str, &str)] = if full { &[("full", "true")] } else { &[] };
    let connections: Connections = remote.get(&["connections"], &[]).await?;
    let names: Vec<&Connection> = match only {
        Some(name) => connections
            .items
            .iter()
            .filter(|c| c.name == name)
            .collect(),
        None => connections.items.iter().collect(),
    };
    if let (Some(name), true) = (only, names.is_empty()) {
        // Let the server say it: the same problem as any other unknown name.
        let synced: Synced = remote
            .post_with(&["connections", name, "sync"], query)
            .await?;
        print_synced(&synced, "");
        return Ok(ExitCode::SUCCESS);
    }
    for connection in names {
        let synced: Synced = remote
            .post_with(&["connections", &connection.name, "sync"], query)
            .await?;
        print_synced(&synced, &connection.system);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_synced(synced: &Synced, system: &str) {
    let how = match synced.change_events {
        Some(events) => format!("incrementally from {events} change event(s)"),
        None => "in full".to_string(),
    };
    let system = if system.is_empty() {
        String::new()
    } else {
        format!(" ({system})")
    };
    println!(
        "synced {}{system} {how}: {} accounts, {} resources, {} grants [sync {}]",
        synced.connection, synced.accounts, synced.resources, synced.grants, synced.sync_id
    );
}

/// `grantflow drift`: the server's open findings (its schedule checks drift
/// and remediates as configured). Exit code 4 when any is open.
pub async fn drift(
    remote: &Remote,
    policies: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if let Some(path) = policies {
        anyhow::bail!(
            "with --server the findings come from the server's own policies; drop {} (or run without --server)",
            path.display()
        );
    }
    let findings: Vec<Finding> = remote.list(&["drift", "findings"], &[]).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&findings)?);
    } else if findings.is_empty() {
        println!("No open drift findings on {}.", remote.server());
    } else {
        let mut table = Table::new();
        table.load_style(UTF8_FULL_CONDENSED);
        table.set_header(vec![
            "system",
            "finding",
            "who",
            "resource",
            "mode",
            "first seen",
            "detail",
        ]);
        let field =
            |f: &Finding, name: &str| f.details[name].as_str().unwrap_or_default().to_string();
        for f in &findings {
            let who = match field(f, "person") {
                person if !person.is_empty() => person,
                _ => field(f, "account"),
            };
            let resource = match (field(f, "resource"), field(f, "entitlement")) {
                (r, _) if r.is_empty() => String::new(),
                (r, e) => format!("{r} {e}").trim_end().to_string(),
            };
            table.add_row(vec![
                f.connection.clone(),
                f.kind.replace('_', " "),
                who,
                resource,
                field(f, "mode"),
                f.first_seen.format("%Y-%m-%d %H:%M").to_string(),
                field(f, "detail"),
            ]);
        }
        println!("{table}");
        println!("{} open drift finding(s).", findings.len());
    }
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(4)
    })
}

/// `grantflow reach …`: `GET /reach`.
pub async fn reach(remote: &Remote, query: reach::Query) -> anyhow::Result<ExitCode> {
    let (params, output, delta): (Vec<(&str, String)>, Option<reach::Output>, bool) = match query {
        reach::Query::Group { name, output } => (vec![("group", name)], Some(output), false),
        reach::Query::User { login, output } => (vec![("user", login)], Some(output), false),
        reach::Query::App { label, output } => (vec![("app", label)], Some(output), false),
        reach::Query::Delta {
            user,
            group,
            output,
        } => (vec![("user", user), ("group", group)], Some(output), true),
        reach::Query::Event {
            file,
            finding,
            json,
        } => {
            #[derive(serde::Deserialize)]
            struct Answer {
                items: Vec<grantflow_service::reach::EventReach>,
            }
            let answer: Answer = match (file, finding) {
                (_, Some(key)) => {
                    remote
                        .get(&["drift", "findings", &key, "reach"], &[])
                        .await?
                }
                (Some(path), None) => {
                    let events = reach::read_events(&path)?;
                    remote.post(&["reach", "events"], Some(&events)).await?
                }
                (None, None) => anyhow::bail!("give --file or --finding"),
            };
            reach::print_events(&answer.items, json)?;
            return Ok(ExitCode::SUCCESS);
        }
        reach::Query::Sources { json } => {
            #[derive(serde::Deserialize)]
            struct Sources {
                items: Vec<grantflow_service::reach::ReachSource>,
            }
            let sources: Sources = remote.get(&["reach", "sources"], &[]).await?;
            reach::print_sources(&sources.items, json)?;
            return Ok(ExitCode::SUCCESS);
        }
        reach::Query::Service { name, json } => {
            let answer: ReachAnswer = remote.get(&["reach"], &[("service", &name)]).await?;
            let holders = answer.holders.unwrap_or_default();
            reach::print_holders(&name, &holders, json)?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let query: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer: ReachAnswer = remote.get(&["reach"], &query).await?;
    let (Some(report), Some(output)) = (answer.report, output) else {
        anyhow::bail!("the server answered the reach question without a report");
    };
    reach::print_report(&report, &output, delta)?;
    Ok(ExitCode::SUCCESS)
}

/// `grantflow audit verify`: the server checks its chain (and checkpoints).
pub async fn audit_verify(remote: &Remote) -> anyhow::Result<ExitCode> {
    let verdict: Verification = remote.get(&["audit", "verify"], &[]).await?;
    let mut code = ExitCode::SUCCESS;
    match (&verdict.events, &verdict.head, verdict.broken_at) {
        (Some(events), Some(head), None) => println!(
            "OK: {events} audit events, chain intact (head {})",
            &head[..16.min(head.len())]
        ),
        _ => {
            println!(
                "BROKEN at event #{}: {}",
                verdict.broken_at.unwrap_or_default(),
                verdict
                    .reason
                    .as_deref()
                    .unwrap_or("the chain does not verify")
            );
            code = ExitCode::from(1);
        }
    }
    for rejected in &verdict.rejected_checkpoints {
        println!("BROKEN checkpoint at {rejected}");
        code = ExitCode::from(1);
    }
    match verdict.checkpoints_checked {
        None => println!(
            "WARNING: the server has no signed checkpoints configured (audit: in its grantflow.yaml), so a writer \
             of its database could rewrite the chain and its head undetected"
        ),
        Some(checked) => println!("{checked} checkpoint(s) checked by the server"),
    }
    if !verdict.intact {
        code = ExitCode::from(1);
    }
    Ok(code)
}

/// `grantflow audit export`: the server's JSON Lines, to standard output or
/// an owner-only file.
pub async fn audit_export(remote: &Remote, output: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let lines = remote.get_text(&["audit", "export"]).await?;
    match output {
        Some(path) => {
            grantflow_service::files::write_private(&path, lines.as_bytes())
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
            eprintln!(
                "wrote {} events to {}",
                lines.lines().filter(|l| !l.trim().is_empty()).count(),
                path.display()
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(lines.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
