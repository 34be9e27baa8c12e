//! `grantflow demo`: the whole story on the built-in sandbox, in process:
//! sync, plan from the example policies, review, apply, show the result,
//! verify the audit chain.

use grantflow_model::ConnectionName;
use grantflow_store::Verification;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::app::{App, Options};
use crate::commands::{apply, init, plan, sync};
use crate::config::Config;
use crate::render;

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

/// The scenarios `--scenario` runs instead of the example policies.
pub const SCENARIOS: &[&str] = &["group-push"];

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

    step("Starting the sandbox (built-in demo organisation)");
    let sandbox =
        grantflow_sandbox::start(&grantflow_sandbox::demo_org(), Default::default()).await?;
    for (name, system) in &sandbox.info.systems {
        println!("  {name}: {}", system.base_url);
    }
    let config_path = dir.join("grantflow.yaml");
    std::fs::write(&config_path, init::sandbox_config(&sandbox.info, &dir)?)?;
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
    let config = Config::load(&config_path)?;
    let app = App::from_config(config, options.database.clone(), options.quiet).await?;

    step("Syncing what people actually have");
    sync::run(&app, None).await?;

    step(&format!(
        "Planning from the policies in {}",
        policy_dir.display()
    ));
    let plan = match plan::compute(&app, &policy_dir).await? {
        Ok(plan) => plan,
        Err(problems) => {
            eprintln!("{problems}");
            return Ok(ExitCode::from(1));
        }
    };
    app.store.save_plan(&plan, &app.actor).await?;
    let reach = crate::commands::reach::review(&app, &plan).await?;
    print!("{}", render::plan(&plan, reach.as_ref()));

    step(&format!("Applying plan {}", plan.id));
    app.store
        .audit(
            &app.actor,
            "plan.confirmed",
            &plan.id,
            serde_json::json!({"via": "grantflow demo"}),
        )
        .await?;
    let report = apply::execute(&app, &plan, 8).await?;
    print!("{}", render::report(&report));

    step("Syncing again to show the result");
    sync::run(&app, None).await?;
    let after = app.actual_state().await?;
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
    if scenario.is_some()
        && let Some(snapshot) = after.snapshots.get(&ConnectionName::new("opa"))
    {
        print_security_policies(snapshot);
    }
    let replan = match plan::compute(&app, &policy_dir).await? {
        Ok(plan) => plan,
        Err(problems) => anyhow::bail!("{problems}"),
    };
    println!(
        "Planning again: {} change(s) left.",
        replan.operations.len()
    );

    step("Verifying the audit trail");
    let verified = match app.store.verify_audit().await? {
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
