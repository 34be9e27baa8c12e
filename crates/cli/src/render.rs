//! How plans and execution reports look to a reviewer.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use grantflow_engine::Report;
use grantflow_graph::review::{OperationReach, PlanReach};
use grantflow_model::{OpKind, Operation, Plan};
use grantflow_planner::{ChangesFor, GroupKind};
use grantflow_service::{Proposal, ServiceError};
use grantflow_store::JobState;
use std::fmt::Write;
use std::process::ExitCode;

/// A refusal or an error from the service, on standard error, and exit code
/// 1; `then` says what did (not) happen.
pub fn refused(error: &ServiceError, then: &str) -> anyhow::Result<ExitCode> {
    let prefix = match error {
        ServiceError::Policy(_) => "",
        ServiceError::Refused { .. } | ServiceError::Forbidden(_) => "refused: ",
        _ => "error: ",
    };
    match error {
        ServiceError::Store(_) | ServiceError::Engine(_) | ServiceError::Other(_) => {
            return Err(anyhow::anyhow!("{error}"));
        }
        _ => {}
    }
    if then.is_empty() {
        eprintln!("{prefix}{error}");
    } else {
        eprintln!("{prefix}{error}\n{then}");
    }
    Ok(ExitCode::from(1))
}

/// The reviewable plan: per person (name and work email), per system and
/// account, one line per change with `+`/`-`, the reason, what a group
/// brings with it, and (when reachability is configured) the production
/// reach each widening change adds. Accounts that match no person, and
/// changes to groups and resources themselves, come apart.
pub fn plan(proposal: &Proposal) -> String {
    let plan = &proposal.plan;
    let reach = proposal.reach.as_ref();
    let mut out = String::new();
    let _ = writeln!(out, "Plan {}  ({})", plan.id, plan.origin);
    for basis in &plan.basis {
        let _ = writeln!(
            out,
            "  computed from {} sync {} (digest {})",
            basis.connection,
            basis.sync_id,
            basis.digest.get(..12).unwrap_or(&basis.digest)
        );
    }
    let _ = writeln!(out);
    if plan.operations.is_empty() {
        let _ = writeln!(out, "No changes: actual access already matches.");
    }
    for group in &proposal.people {
        let _ = writeln!(out, "{}", group.heading());
        for account in &group.accounts {
            let _ = writeln!(out, "  {} {}", account.connection, account.holder);
            for op in account
                .operations
                .iter()
                .filter_map(|id| plan.operation(*id))
            {
                operation_lines(&mut out, plan, op, reach);
            }
        }
    }
    for note in &plan.review.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if let Some(reach) = reach
        && !reach.skipped.is_empty()
    {
        let skipped: Vec<String> = reach
            .skipped
            .iter()
            .map(grantflow_graph::render::skipped_line)
            .collect();
        let _ = writeln!(out, "skipped non-production: {}", skipped.join("; "));
    }
    let adds = plan
        .operations
        .iter()
        .filter(|op| op.widens_access())
        .count();
    let removes = plan.operations.len() - adds;
    let systems: std::collections::BTreeSet<_> =
        plan.operations.iter().map(|op| &op.connection).collect();
    let people = proposal
        .people
        .iter()
        .filter(|g| g.kind == GroupKind::Person)
        .count();
    let _ = writeln!(
        out,
        "\nSummary: {adds} to add, {removes} to remove, for {people} person(s) in {} system(s).",
        systems.len()
    );
    out
}

fn operation_lines(out: &mut String, plan: &Plan, op: &Operation, reach: Option<&PlanReach>) {
    let resource = op.resource();
    let _ = writeln!(
        out,
        "    {} {} \"{}\" {}    [{}] ({})",
        op.sign(),
        resource.kind,
        resource.name,
        op.entitlement(),
        op.id,
        op.reasons.join("; ")
    );
    // A change of settings shows each field before → after.
    if let OpKind::UpdateResource { before, after, .. } = &op.kind {
        for (field, wanted) in after {
            let was = before.get(field).unwrap_or(&serde_json::Value::Null);
            let _ = writeln!(out, "        {field}: {was} \u{2192} {wanted}");
        }
    }
    if let Some(item) = plan.review.items.iter().find(|i| i.operation == op.id) {
        for brought in &item.brings {
            let _ = writeln!(
                out,
                "        brings {} \"{}\"{}",
                brought.kind,
                brought.name,
                if brought.already_held {
                    " (already held)"
                } else {
                    " (new)"
                }
            );
        }
    }
    if let Some(added) = reach.and_then(|r| r.for_operation(op.id)) {
        reach_lines_into(out, added);
    }
    if !op.depends_on.is_empty() {
        let after: Vec<String> = op.depends_on.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "        after {}", after.join(", "));
    }
}

/// What one widening operation adds in production, under the operation.
/// The plan lists what it skips once, at its end.
fn reach_lines_into(out: &mut String, added: &OperationReach) {
    out.push_str(&reach_lines(added, false));
}

/// What one widening operation (or a change that already happened) adds in production.
pub fn reach_lines(added: &OperationReach, with_skipped: bool) -> String {
    let mut out = String::new();
    if let Some(note) = &added.note {
        let _ = writeln!(out, "        production reach: unknown ({note})");
        return out;
    }
    if added.services.is_empty() {
        let _ = writeln!(
            out,
            "        production reach added: none (nothing production-tagged is reached)"
        );
    } else {
        let _ = writeln!(
            out,
            "        production reach added ({} service(s)):",
            added.services.len()
        );
        for service in &added.services {
            for line in grantflow_graph::render::service_lines(service, "          ", true) {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    for skipped in added.skipped.iter().filter(|_| with_skipped) {
        let _ = writeln!(
            out,
            "        skipped non-production: {} — {}",
            skipped.what, skipped.reason
        );
    }
    out
}

/// The execution report: one row per operation, grouped under the person
/// it belongs to when `people` says, then the totals.
pub fn report(report: &Report, people: &[ChangesFor]) -> String {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "op", "change", "state", "attempts", "updated", "detail",
    ]);
    let mut order: Vec<(Option<String>, u32)> = Vec::new();
    for group in people {
        for account in &group.accounts {
            for id in &account.operations {
                order.push((Some(group.heading()), id.0));
            }
        }
    }
    for op in &report.operations {
        if !order.iter().any(|(_, id)| *id == op.id) {
            order.push((None, op.id));
        }
    }
    let mut heading: Option<String> = None;
    for (group, id) in order {
        let Some(op) = report.operations.iter().find(|o| o.id == id) else {
            continue;
        };
        if group.is_some() && group != heading {
            heading = group.clone();
            table.add_row(vec![String::new(), group.unwrap_or_default()]);
        }
        let detail = match op.state {
            JobState::Succeeded => op.outcome.clone().unwrap_or_default(),
            JobState::Failed => format!(
                "{}: {}",
                op.error_code.clone().unwrap_or_default(),
                op.error_message.clone().unwrap_or_default()
            ),
            JobState::Skipped => op.error_message.clone().unwrap_or_default(),
            JobState::Waiting => format!(
                "{}; re-check at {}",
                op.error_message.clone().unwrap_or_default(),
                op.next_attempt_at.clone().unwrap_or_default()
            ),
            JobState::Retrying => format!(
                "{}: {}; next attempt at {}",
                op.error_code.clone().unwrap_or_default(),
                op.error_message.clone().unwrap_or_default(),
                op.next_attempt_at.clone().unwrap_or_default()
            ),
            _ => String::new(),
        };
        table.add_row(vec![
            format!("op{}", op.id),
            op.change.clone(),
            op.state.as_str().to_string(),
            op.attempts.to_string(),
            op.updated_at.clone(),
            detail,
        ]);
    }
    let mut out = String::new();
    let _ = writeln!(out, "Execution report for plan {}", report.plan_id);
    if !report.operations.is_empty() {
        let _ = writeln!(out, "{table}");
    }
    let _ = writeln!(
        out,
        "{} succeeded, {} failed, {} skipped, {} waiting, {} retrying, {} not started (of {}); {:.0}% complete.",
        report.succeeded,
        report.failed,
        report.skipped,
        report.waiting,
        report.retrying,
        report.pending,
        report.operations.len(),
        report.completed_share * 100.0
    );
    if let Some(next) = &report.next_attempt_at {
        let _ = writeln!(
            out,
            "Next attempt at {next}: run `grantflow apply {}` again then (or keep `grantflow worker` running).",
            report.plan_id
        );
    }
    out
}

/// A person as listed (the API's `Person`; the local store's is converted).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Person {
    pub email: String,
    pub login: String,
    pub display_name: String,
    pub status: String,
    pub state: String,
}

/// One entitlement an account holds, and how.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HeldGrant {
    pub resource_kind: String,
    pub resource: String,
    pub entitlement: String,
    pub source: String,
}

/// A person's account in one system.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PersonAccount {
    pub connection: String,
    pub system: String,
    pub account_id: String,
    pub login: String,
    pub status: String,
    pub state: String,
    pub grants: Vec<HeldGrant>,
}

/// A person and their access in every system (the API's `PersonAccess`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PersonAccess {
    pub person: Person,
    pub accounts: Vec<PersonAccount>,
    /// HR facts from an HRIS connection (`person.hris`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hris: Option<serde_json::Map<String, serde_json::Value>>,
}

fn text_of<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

impl From<grantflow_service::views::PersonSummary> for Person {
    fn from(p: grantflow_service::views::PersonSummary) -> Self {
        Person {
            state: text_of(&p.state),
            email: p.email,
            login: p.login,
            display_name: p.display_name,
            status: p.status,
        }
    }
}

impl From<grantflow_service::views::PersonAccess> for PersonAccess {
    fn from(access: grantflow_service::views::PersonAccess) -> Self {
        PersonAccess {
            person: access.person.into(),
            hris: access.hris,
            accounts: access
                .accounts
                .into_iter()
                .map(|a| PersonAccount {
                    state: text_of(&a.state),
                    connection: a.connection,
                    system: a.system,
                    account_id: a.account_id,
                    login: a.login,
                    status: a.status,
                    grants: a
                        .grants
                        .into_iter()
                        .map(|g| HeldGrant {
                            resource_kind: g.resource_kind,
                            resource: g.resource,
                            entitlement: g.entitlement,
                            source: g.source,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// The directory's people, one row each.
pub fn people(people: &[Person]) -> String {
    if people.is_empty() {
        return "nobody matches\n".to_string();
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec!["email", "name", "login", "status", "state"]);
    for p in people {
        table.add_row(vec![
            p.email.clone(),
            p.display_name.clone(),
            p.login.clone(),
            p.status.clone(),
            p.state.clone(),
        ]);
    }
    format!("{table}\n{} person(s)\n", people.len())
}

/// One person: each account in each system and what it holds.
pub fn person(access: &PersonAccess) -> String {
    let p = &access.person;
    let mut out = String::new();
    let name = if p.display_name.is_empty() {
        p.email.clone()
    } else {
        format!("{} <{}>", p.display_name, p.email)
    };
    let _ = writeln!(out, "{name}  ({}, {})", p.status, p.state);
    if let Some(hris) = &access.hris {
        let facts: Vec<String> = hris
            .iter()
            .filter(|(key, _)| key.as_str() != "connection")
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => format!("{key}={text}"),
                other => format!("{key}={other}"),
            })
            .collect();
        let _ = writeln!(out, "  hris: {}", facts.join(", "));
    }
    if access.accounts.is_empty() {
        let _ = writeln!(out, "  no account in any synced system");
    }
    for account in &access.accounts {
        let _ = writeln!(
            out,
            "  {} ({}) {}  [{}, {}]",
            account.connection, account.system, account.login, account.status, account.state
        );
        if account.grants.is_empty() {
            let _ = writeln!(out, "    holds nothing");
        }
        for g in &account.grants {
            let via = match g.source.as_str() {
                "direct" => String::new(),
                other => format!(" (via {other})"),
            };
            let _ = writeln!(
                out,
                "    {} \"{}\" {}{via}",
                g.resource_kind, g.resource, g.entitlement
            );
        }
    }
    out
}
