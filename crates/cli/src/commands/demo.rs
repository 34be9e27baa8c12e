//! `grantflow demo`: the whole story on the built-in sandbox, in process:
//! sync, plan from the example policies, review, apply, show the result,
//! verify the audit chain.

use grantflow_engine::Report;
use grantflow_model::ConnectionName;
use grantflow_service::{ApplyOptions, ApplyOutcome, Service};
use grantflow_store::Verification;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::app::{Options, actor};
use crate::commands::{apply, sync};
use crate::progress::ApplyProgress;
use crate::render;

mod sales_engineer;
mod timeline;

/// The example policies, built in so the demo runs from any folder.
const EXAMPLE_POLICIES: [(&str, &str); 3] = [
    (
        "production-access.yaml",
        include_str!("../../../../examples/policies/production-access.yaml"),
    ),
    (
        "departments.yaml",
        include_str!("../../../../examples/policies/departments.yaml"),
    ),
    (
        "engineering-tools.yaml",
        include_str!("../../../../examples/policies/engineering-tools.yaml"),
    ),
];

/// Scenario 3: a secret folder, an Okta group pushed to Okta Privileged Access, and a security policy.
const GROUP_PUSH_POLICIES: [(&str, &str); 1] = [(
    "group-push.yaml",
    include_str!("../../../../examples/scenarios/opa-secrets/group-push.yaml"),
)];

/// Scenario 4: "Senior Engineer Access" over seven systems for a new hire.
const SENIOR_ENGINEER_POLICIES: [(&str, &str); 1] = [(
    "senior-engineer-access.yaml",
    include_str!("../../../../examples/scenarios/senior-engineer/senior-engineer-access.yaml"),
)];

/// The scenarios `--scenario` runs instead of the example policies.
pub const SCENARIOS: &[&str] = &["group-push", "senior-engineer", "sales-engineer"];

/// The person of scenario 4: starts today, has no GitLab account until the first SSO login.
const NEW_HIRE: &str = "new.hire@example.com";

/// The person of scenario 1.
const DEMO_USER: &str = "okta-demo-user@example.com";
/// The person of scenario 3.
const GROUP_PUSH_USER: &str = "ravi.patel@example.com";

pub async fn run(
    options: &Options,
    dir: Option<PathBuf>,
    policies: Option<PathBuf>,
    scenario: Option<String>,
) -> anyhow::Result<ExitCode> {
    let (builtin, person): (&[(&str, &str)], &str) = match scenario.as_deref() {
        None => (&EXAMPLE_POLICIES, DEMO_USER),
        Some("group-push") => (&GROUP_PUSH_POLICIES, GROUP_PUSH_USER),
        Some("senior-engineer") => (&SENIOR_ENGINEER_POLICIES, NEW_HIRE),
        // Its own organisation, policies and days; set up below.
        Some("sales-engineer") => (&[], sales_engineer::NEW_HIRE),
        Some(other) => anyhow::bail!(
            "unknown scenario \"{other}\" (scenarios: {})",
            SCENARIOS.join(", ")
        ),
    };
    let temporary = match &dir {
        Some(_) => None,
        None => Some(tempfile::tempdir()?),
    };
    let dir = match (&dir, &temporary) {
        (Some(dir), _) => dir.clone(),
        (None, Some(temporary)) => temporary.path().to_path_buf(),
        (None, None) => anyhow::bail!("no folder for the demo"),
    };
    std::fs::create_dir_all(&dir)?;
    if scenario.as_deref() == Some("sales-engineer") {
        if policies.is_some() {
            anyhow::bail!("the sales-engineer scenario brings its own policies");
        }
        let code = sales_engineer::run(options, &dir).await?;
        if temporary.is_none() {
            println!(
                "\nThe demo's store, organisation and policies are in {}",
                dir.display()
            );
        }
        return Ok(code);
    }

    step("Starting the sandbox (built-in demo organisation)");
    let sandbox =
        grantflow_sandbox::start(&grantflow_sandbox::demo_org(), Default::default()).await?;
    for (name, system) in &sandbox.info.systems {
        println!("  {name}: {}", system.base_url);
    }
    let config_path = dir.join("grantflow.yaml");
    let senior_engineer = scenario.as_deref() == Some("senior-engineer");
    let mut settings: BTreeMap<&str, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
    if senior_engineer {
        // Short waits so the demo shows a timeout retried and a wait resumed within seconds.
        settings.insert(
            "jira",
            [("timeout_seconds".to_string(), 1.into())]
                .into_iter()
                .collect(),
        );
        settings.insert(
            "gitlab",
            [("pending_recheck_seconds".to_string(), 1.into())]
                .into_iter()
                .collect(),
        );
    }
    let config_text = crate::sandbox_config::for_sandbox(&sandbox.info, &dir, &settings)?;
    grantflow_service::files::write_private(&config_path, config_text.as_bytes())?;
    let policy_dir = match policies {
        Some(path) => path,
        None => {
            let path = dir.join("policies");
            std::fs::create_dir_all(&path)?;
            for (name, text) in builtin {
                std::fs::write(path.join(name), text)?;
            }
            path
        }
    };
    let demo_options = Options {
        config: config_path,
        database: options.database.clone(),
        quiet: options.quiet,
    };
    let service = demo_options.open().await?;
    let actor = actor();

    step("Syncing what people actually have");
    sync::run(&service, None, false, options.quiet).await?;

    step(&format!(
        "Planning from the policies in {}",
        policy_dir.display()
    ));
    let proposal = match service.plan_policies(&actor, &policy_dir).await {
        Ok(proposal) => proposal,
        Err(error) => return crate::render::refused(&error, ""),
    };
    let plan = proposal.plan.clone();
    print!("{}", render::plan(&proposal));

    step(&format!("Applying plan {}", plan.id));
    service
        .confirm(&actor, &plan.id, "grantflow demo", serde_json::json!({}))
        .await?;
    if senior_engineer {
        println!("(Jira is set to answer its next write too late, after making the change.)");
        admin_post(
            &sandbox.info,
            "jira",
            "network",
            serde_json::json!({"timeout_next_writes": 1, "timeout_ms": 2500}),
        )
        .await?;
    }
    let mut report = execute(&service, &plan.id, options.quiet).await?;
    if senior_engineer && report.is_incomplete() {
        step(&format!("{NEW_HIRE} signs in to GitLab for the first time"));
        admin_post(
            &sandbox.info,
            "gitlab",
            "first-login",
            serde_json::json!({"email": NEW_HIRE}),
        )
        .await?;
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        step(&format!("Resuming plan {}", plan.id));
        report = execute(&service, &plan.id, options.quiet).await?;
        step("The audit trail of every step");
        print_timeline(&service, &plan.id).await?;
    }

    step("Syncing again to show the result");
    sync::run(&service, None, false, options.quiet).await?;
    let after = service.actual_state().await?;
    if let Some(snapshot) = after.snapshots.get(&ConnectionName::new("okta"))
        && let Some(account) = snapshot.account_by_login_or_email(person)
    {
        let mut groups = Vec::new();
        let mut apps = Vec::new();
        for grant in snapshot
            .grants
            .iter()
            .filter(|g| g.account_id == account.id)
        {
            if let Some(resource) = snapshot.resource(&grant.resource_id) {
                match resource.kind.as_str() {
                    "group" => groups.push(resource.name.clone()),
                    "app" => apps.push(resource.name.clone()),
                    _ => {}
                }
            }
        }
        groups.sort();
        groups.dedup();
        apps.sort();
        apps.dedup();
        println!("{person} in Okta now:");
        println!("  groups: {}", groups.join(", "));
        println!("  apps:   {}", apps.join(", "));
    }
    if scenario.as_deref() == Some("group-push")
        && let Some(snapshot) = after.snapshots.get(&ConnectionName::new("opa"))
    {
        print_security_policies(snapshot);
    }
    let replan = service
        .plan_policies(&actor, &policy_dir)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Planning again: {} change(s) left.",
        replan.plan.operations.len()
    );

    step("Verifying the audit trail");
    let verified = match service.store.verify_audit().await? {
        Verification::Intact { events, .. } => {
            println!("OK: {events} audit events, chain intact");
            true
        }
        Verification::Broken { seq, reason, .. } => {
            println!("BROKEN at event #{seq}: {reason}");
            false
        }
    };
    if temporary.is_none() {
        println!("\nThe demo's store and policies are in {}", dir.display());
    }
    sandbox.shutdown().await;
    Ok(if report.is_success() && verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Applies the plan (through the engine's gate) and prints its report.
async fn execute(service: &Service, plan_id: &str, quiet: bool) -> anyhow::Result<Report> {
    let progress = ApplyProgress::new(quiet);
    let outcome = service
        .apply(&actor(), plan_id, &ApplyOptions::default(), &progress)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    progress.finish();
    let ApplyOutcome::Ran { report, .. } = outcome else {
        anyhow::bail!("plan {plan_id} was queued instead of run");
    };
    apply::print_report(service, &report, false).await?;
    Ok(report)
}

/// A POST on one emulator's admin endpoint (faults, first logins, HRIS entries); its JSON answer.
pub(crate) async fn admin_post(
    info: &grantflow_sandbox::SandboxInfo,
    system: &str,
    what: &str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let Some(system_info) = info.systems.get(system) else {
        anyhow::bail!("the sandbox has no {system}");
    };
    let url = format!("{}/{what}", system_info.admin_url);
    let response = system_info
        .http_client()?
        .post(&url)
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!("{url}: {status} {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// Every audit event of one plan, in order, with its time.
async fn print_timeline(service: &Service, plan_id: &str) -> anyhow::Result<()> {
    for event in service.store.audit_events().await? {
        if !event.subject.starts_with(plan_id) {
            continue;
        }
        let detail = ["outcome", "reason", "error_code", "message"]
            .iter()
            .filter_map(|key| event.details.get(*key).and_then(|v| v.as_str()))
            .collect::<Vec<_>>()
            .join(" ");
        println!(
            "  {}  {:<26} {:<20} {detail}",
            event.at, event.action, event.subject
        );
    }
    Ok(())
}

/// Each OPA security policy with the groups it names (and their members) and its secret folders.
fn print_security_policies(snapshot: &grantflow_model::Snapshot) {
    println!("Okta Privileged Access now:");
    for policy in snapshot
        .resources
        .iter()
        .filter(|r| r.kind.as_str() == "security_policy")
    {
        let folders: Vec<&str> = policy
            .attributes
            .get("secret_folders")
            .and_then(serde_json::Value::as_array)
            .map(|f| f.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        let groups: Vec<String> = snapshot
            .resource_grants
            .iter()
            .filter(|g| g.resource_id == policy.id)
            .filter_map(|g| snapshot.resource(&g.holder_id))
            .map(|group| {
                let members: Vec<&str> = snapshot
                    .grants
                    .iter()
                    .filter(|m| m.resource_id == group.id)
                    .map(|m| m.account_id.as_str())
                    .collect();
                format!("{} ({})", group.name, members.join(", "))
            })
            .collect();
        println!(
            "  security policy {}: groups {}; folders {}",
            policy.name,
            groups.join(", "),
            folders.join(", ")
        );
    }
}

fn step(title: &str) {
    println!("\n== {title}");
}
