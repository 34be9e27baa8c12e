//! `grantflow drift`: sync, compare what people hold with what the policies
//! want, record each finding (opened or resolved, audited), and remediate
//! what the configured mode allows: at once through the engine, or as a
//! plan that waits for `grantflow approve`.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use grantflow_drift::{Disposition, DriftReport, detect, remediation};
use grantflow_engine::Report;
use grantflow_model::Plan;
use grantflow_policy::PolicySet;
use grantflow_store::{DriftChanges, FindingRecord};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::app::App;
use crate::commands::{apply, sync};

/// Who drift checks act as in the audit trail and in approval requests, so
/// any person may approve a remediation plan.
pub const DRIFT_ACTOR: &str = "grantflow:drift";

pub struct DriftOptions {
    pub policies: Option<PathBuf>,
    pub json: bool,
    /// Judge the last sync instead of syncing first.
    pub no_sync: bool,
    pub concurrency: usize,
}

/// What one check found and did.
#[derive(Debug, Serialize)]
pub struct Checked {
    pub report: DriftReport,
    /// Findings first seen in this check, and ones no longer found.
    pub opened: Vec<String>,
    pub resolved: Vec<String>,
    /// The plan applied at once, and how it went.
    pub remediated: Option<Remediated>,
    /// The plan waiting for an approver.
    pub awaiting_approval: Option<String>,
    /// Why the automatic plan was held for approval instead (safety rail).
    pub held_back: Option<String>,
    #[serde(skip)]
    pub open: DriftChanges,
}

#[derive(Debug, Serialize)]
pub struct Remediated {
    pub plan: String,
    pub report: Report,
}

pub async fn run(app: &App, options: DriftOptions) -> anyhow::Result<ExitCode> {
    if !options.no_sync {
        sync::sync_connections(app, None, false).await?;
    }
    let path = options
        .policies
        .clone()
        .unwrap_or_else(|| app.config.policies.clone());
    let checked = match check(app, &path, options.concurrency).await? {
        Ok(checked) => checked,
        Err(problems) => {
            eprintln!("{problems}");
            eprintln!("Nothing was checked.");
            return Ok(ExitCode::from(1));
        }
    };
    if options.json {
        println!("{}", serde_json::to_string_pretty(&checked)?);
    } else {
        print!("{}", render(&checked));
    }
    Ok(exit_code(&checked))
}

/// 0: no drift, or all of it fixed; 1: a remediation failed; 4: drift is
/// flagged or waits for approval.
pub fn exit_code(checked: &Checked) -> ExitCode {
    if let Some(remediated) = &checked.remediated
        && !remediated.report.is_success()
    {
        return ExitCode::from(1);
    }
    let open = checked
        .report
        .drift()
        .any(|f| f.disposition != Disposition::Remediated);
    if open || checked.awaiting_approval.is_some() {
        ExitCode::from(4)
    } else {
        ExitCode::SUCCESS
    }
}

/// One drift check on the newest syncs. The inner error is the policy
/// problems, already located.
pub async fn check(
    app: &App,
    policies: &Path,
    concurrency: usize,
) -> anyhow::Result<Result<Checked, String>> {
    let set = match PolicySet::load(policies) {
        Ok(set) => set,
        Err(diagnostics) => return Ok(Err(diagnostics.to_string())),
    };
    let actual = app.actual_state().await?;
    let report = match detect(&set, &actual, &app.config.drift) {
        Ok(report) => report,
        Err(grantflow_planner::PlanError::Policy(problems)) => return Ok(Err(problems)),
        Err(other) => return Err(other.into()),
    };
    let records: Vec<FindingRecord> = report
        .drift()
        .map(|f| FindingRecord {
            key: f.key.clone(),
            connection: f.connection.to_string(),
            kind: f.kind.as_str().to_string(),
            details: serde_json::json!({
                "kind": f.kind.as_str(),
                "person": f.person,
                "account": f.account.as_ref().map(|a| &a.login),
                "resource": f.resource.as_ref().map(|r| format!("{}/{}", r.kind, r.name)),
                "entitlement": f.entitlement,
                "policies": f.policies,
                "mode": f.mode.as_str(),
                "detail": f.detail,
            }),
        })
        .collect();
    let changes = app.store.record_drift(DRIFT_ACTOR, &records).await?;
    let origin = format!("drift check of {}", policies.display());
    let plans = remediation(&report, &actual, &origin, app.store.now())?;

    let mut checked = Checked {
        report,
        opened: changes.opened.clone(),
        resolved: changes.resolved.clone(),
        remediated: None,
        awaiting_approval: None,
        held_back: None,
        open: changes,
    };
    let mut for_approval: Vec<Plan> = plans.needs_approval.into_iter().collect();
    if let Some(plan) = plans.automatic {
        match grantflow_planner::mass_removal(&plan, &actual, &app.config.safety) {
            // Too much to take away without a person looking: ask instead.
            Some(why) => {
                checked.held_back = Some(format!(
                    "the automatic remediation plan {} trips the mass-removal safety rail ({why}); it waits for approval instead",
                    plan.id
                ));
                for_approval.push(plan);
            }
            None => {
                app.store.save_plan(&plan, DRIFT_ACTOR).await?;
                let report = apply::execute(app, &plan, concurrency).await?;
                checked.remediated = Some(Remediated {
                    plan: plan.id.clone(),
                    report,
                });
            }
        }
    }
    if !for_approval.is_empty() {
        let operations: Vec<_> = for_approval
            .iter()
            .flat_map(|p| p.operations.iter().cloned())
            .collect();
        let plan = if for_approval.len() == 1 {
            for_approval.remove(0)
        } else {
            let changes = operations
                .into_iter()
                .map(|op| (op.kind, op.connection, op.reasons))
                .collect();
            grantflow_planner::plan_changes(changes, &actual, &origin, app.store.now(), vec![])?
        };
        app.store.save_plan(&plan, DRIFT_ACTOR).await?;
        app.store
            .request_approval(&plan.id, DRIFT_ACTOR, "drift remediation")
            .await?;
        checked.awaiting_approval = Some(plan.id.clone());
    }
    Ok(Ok(checked))
}

fn disposition_label(disposition: &Disposition) -> &'static str {
    match disposition {
        Disposition::Flagged => "flagged",
        Disposition::AwaitingApproval => "awaits approval",
        Disposition::Remediated => "remediated",
        Disposition::Informational => "not drift",
    }
}

pub fn render(checked: &Checked) -> String {
    let report = &checked.report;
    let mut out = String::new();
    let drift = report.drift().count();
    if report.findings.is_empty() {
        out.push_str(
            "No drift: everyone holds exactly what the policies grant on managed resources.\n",
        );
    } else {
        let mut table = Table::new();
        table.load_style(UTF8_FULL_CONDENSED);
        table.set_header(vec![
            "system", "finding", "who", "resource", "mode", "outcome", "detail",
        ]);
        for f in &report.findings {
            table.add_row(vec![
                f.connection.to_string(),
                f.kind.label().to_string(),
                f.person
                    .clone()
                    .or_else(|| f.account.as_ref().map(|a| a.login.clone()))
                    .unwrap_or_default(),
                f.resource
                    .as_ref()
                    .map(|r| {
                        let entitlement = f.entitlement.as_deref().unwrap_or_default();
                        format!("{} \"{}\" {entitlement}", r.kind, r.name)
                    })
                    .unwrap_or_default(),
                f.mode.as_str().to_string(),
                disposition_label(&f.disposition).to_string(),
                f.detail.clone(),
            ]);
        }
        out.push_str(&format!("{table}\n"));
        out.push_str(&format!(
            "{drift} drift finding(s): {} new, {} resolved since the last check.\n",
            checked.opened.len(),
            checked.resolved.len()
        ));
    }
    for (connection, unmanaged) in &report.unmanaged {
        if unmanaged.grants > 0 {
            out.push_str(&format!(
                "unmanaged in {connection}: {} grant(s) on {} resource(s) no policy names (never changed by grantflow)\n",
                unmanaged.grants, unmanaged.resources
            ));
        }
    }
    for note in &report.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    if let Some(remediated) = &checked.remediated {
        out.push_str(&format!(
            "Remediated with plan {}:\n{}",
            remediated.plan,
            crate::render::report(&remediated.report)
        ));
    }
    if let Some(why) = &checked.held_back {
        out.push_str(&format!("{why}\n"));
    }
    if let Some(plan) = &checked.awaiting_approval {
        out.push_str(&format!(
            "Remediation plan {plan} waits for approval: grantflow approve {plan} && grantflow apply {plan}\n"
        ));
    }
    out
}

/// `grantflow approve PLAN_ID`.
pub async fn approve(app: &App, plan_id: &str) -> anyhow::Result<ExitCode> {
    // The plan must exist before anyone approves it.
    app.store.plan(plan_id).await?;
    match app.store.approve(plan_id, &app.actor).await {
        Ok(approval) => {
            println!(
                "plan {plan_id} ({}) approved by {}; apply with: grantflow apply {plan_id}",
                approval.reason, app.actor
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("refused: {error}");
            Ok(ExitCode::from(1))
        }
    }
}
