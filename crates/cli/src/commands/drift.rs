//! `grantflow drift`: sync, then what people hold against what the policies
//! want; findings recorded and remediated as configured (the service does
//! the work, this renders it).

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use grantflow_drift::Disposition;
use grantflow_graph::review::OperationReach;
use grantflow_service::Service;
use grantflow_service::drift::Checked;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::app::actor;
use crate::progress::SyncProgress;

pub struct DriftOptions {
    pub policies: Option<PathBuf>,
    pub json: bool,
    /// Judge the last sync instead of syncing first.
    pub no_sync: bool,
    pub concurrency: usize,
    pub quiet: bool,
}

pub async fn run(service: &Service, options: DriftOptions) -> anyhow::Result<ExitCode> {
    if !options.no_sync {
        service
            .sync(&actor(), None, false, &SyncProgress::new(options.quiet))
            .await?;
    }
    let path = options
        .policies
        .clone()
        .unwrap_or_else(|| service.config.policies.clone());
    let checked = match service.check_drift(&path, options.concurrency).await {
        Ok(checked) => checked,
        Err(error) => return crate::render::refused(&error, "Nothing was checked."),
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
        // Person by person (accounts that match no person last), then system.
        let mut findings: Vec<_> = report.findings.iter().collect();
        findings.sort_by_key(|f| {
            (
                f.person.is_none(),
                f.person
                    .clone()
                    .or_else(|| f.account.as_ref().map(|a| a.login.clone()))
                    .unwrap_or_default(),
                f.connection.clone(),
            )
        });
        for f in findings {
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
        for f in report.findings.iter() {
            let Some(reach) = checked
                .reach
                .get(&f.key)
                .and_then(|r| serde_json::from_value::<OperationReach>(r.clone()).ok())
            else {
                continue;
            };
            let who = f
                .person
                .clone()
                .or_else(|| f.account.as_ref().map(|a| a.login.clone()))
                .unwrap_or_default();
            let what = f
                .resource
                .as_ref()
                .map(|r| format!("{} \"{}\"", r.kind, r.name))
                .unwrap_or_default();
            out.push_str(&format!(
                "{who}'s {what} in {} opens in production:\n",
                f.connection
            ));
            out.push_str(&crate::render::reach_lines(&reach, true));
        }
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
            crate::render::report(&remediated.report, &[])
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
pub async fn approve(service: &Service, plan_id: &str) -> anyhow::Result<ExitCode> {
    let actor = actor();
    match service.approve(&actor, plan_id).await {
        Ok(approval) => {
            println!(
                "plan {plan_id} ({}) approved by {actor}; apply with: grantflow apply {plan_id}",
                approval.reason
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => crate::render::refused(&error, ""),
    }
}
