//! `grantflow demo --scenario sales-engineer` (issue 16, part 7): seed 003's Sales Engineer, from the
//! HRIS to retirement. A new Sales Engineer appears in BambooHR with a start date and no account
//! anywhere; before the start date the plan stages her Okta account; on the start date it activates
//! it and creates (and grants) everything else, through a Jira call that times out before it reaches
//! Jira, one that times out after Jira made the change, and a GitLab membership that waits for her
//! first SSO login; once her end date has passed, the leaver plan takes everything back and drift
//! finds nothing. Each day is a sync and the automatic lifecycle pass `grantflow serve` makes after
//! it (`Service::run_lifecycle`), its plan then run here as a worker would, with one clock — moved a
//! day at a time instead of waited for — shared by grantflow and the emulators.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Days, NaiveDate, Utc};
use grantflow_engine::Report;
use grantflow_sandbox::SandboxInfo;
use grantflow_service::{ApplyOptions, ApplyOutcome, Service};
use grantflow_store::Verification;

use super::{admin_post, timeline};
use crate::app::{Options, actor};
use crate::commands::{apply, sync};
use crate::progress::ApplyProgress;

/// The scenario's organisation: Mia Davis is the Sales Engineer so far; the new one is in no system.
pub const ORG: &str = include_str!("../../../../../examples/scenarios/sales-engineer/org.yaml");

/// The scenario's policies: the teams everyone in a department joins, and the Sales Engineer role.
pub const POLICIES: [(&str, &str); 2] = [
    (
        "teams.yaml",
        include_str!("../../../../../examples/scenarios/sales-engineer/teams.yaml"),
    ),
    (
        "sales-engineer.yaml",
        include_str!("../../../../../examples/scenarios/sales-engineer/sales-engineer.yaml"),
    ),
];

/// The new Sales Engineer.
pub const NEW_HIRE: &str = "ana.lima@example.com";

/// Her record as HR enters it in BambooHR (her start date is added to it).
fn hire(start: NaiveDate) -> serde_json::Value {
    serde_json::json!({
        "firstName": "Ana", "lastName": "Lima", "workEmail": NEW_HIRE,
        "hireDate": start.to_string(), "status": "Active", "employmentStatus": "Full-Time",
        "department": "Sales", "division": "Go-to-Market", "jobTitle": "Sales Engineer",
        "location": "Chicago", "supervisorEId": "130",
    })
}

/// The Jira faults of the start date, each aimed at one call: her user's creation times out before
/// it reaches Jira (so the retry really sends it again), and her first project role is given but
/// its answer comes too late (so the retry finds it done).
pub fn jira_faults() -> serde_json::Value {
    serde_json::json!({
        "timeout_ms": 2500,
        "write_faults": [
            {"fault": "timeout_before", "path": "/rest/api/3/user"},
            {"fault": "timeout_after", "path": "/rest/api/3/project/"},
        ],
    })
}

/// The wall clock moved by whole days: grantflow (plans, the HRIS dates, the audit trail) and every
/// emulator read it, so the story reaches the start and the end date at once, and time still flows
/// for retries and waits.
#[derive(Debug, Default)]
pub struct StoryClock {
    ahead_ms: AtomicI64,
}

impl StoryClock {
    /// Moves the clock to `days` from the real today (negative: before it).
    pub fn set_day(&self, days: i64) {
        self.ahead_ms
            .store(days * 24 * 60 * 60 * 1000, Ordering::SeqCst);
    }

    fn at(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.ahead_ms.load(Ordering::SeqCst))
    }
}

impl grantflow_model::Clock for StoryClock {
    fn now(&self) -> DateTime<Utc> {
        self.at()
    }
}

impl grantflow_sandbox::Clock for StoryClock {
    fn now(&self) -> DateTime<Utc> {
        self.at()
    }
}

/// What the story needs at each step.
struct Story {
    options: Options,
    clock: Arc<StoryClock>,
    info: SandboxInfo,
    policies: PathBuf,
    plans: Vec<String>,
    quiet: bool,
}

pub async fn run(options: &Options, dir: &Path) -> anyhow::Result<ExitCode> {
    let clock = Arc::new(StoryClock::default());
    // Her first day is today; the story starts three days before it.
    let start = Utc::now().date_naive();
    let last_day = start
        .checked_add_days(Days::new(30))
        .ok_or_else(|| anyhow::anyhow!("no date 30 days after {start}"))?;
    clock.set_day(-3);

    super::step(
        "Starting the sandbox (a sales and engineering company; Mia Davis is its Sales Engineer)",
    );
    let org_path = dir.join("org.yaml");
    std::fs::write(&org_path, ORG)?;
    let org = grantflow_sandbox::load_org(&org_path)?;
    let sandbox = grantflow_sandbox::start(
        &org,
        grantflow_sandbox::SandboxOptions {
            clock: Some(clock.clone()),
            ..Default::default()
        },
    )
    .await?;
    for (name, system) in &sandbox.info.systems {
        println!("  {name}: {}", system.base_url);
    }
    let config_path = dir.join("grantflow.yaml");
    // Short waits so a timeout is retried, and a wait re-checked, within seconds. GitLab users appear
    // at their first SSO sign-in; the administrator's token blocks a leaver's.
    let settings = std::collections::BTreeMap::from([
        (
            "jira",
            serde_json::Map::from_iter([("timeout_seconds".to_string(), 1.into())]),
        ),
        (
            "gitlab",
            serde_json::Map::from_iter([
                ("pending_recheck_seconds".to_string(), 1.into()),
                ("accounts".to_string(), "first_login_admin_retire".into()),
            ]),
        ),
    ]);
    let config_text = crate::sandbox_config::for_sandbox(&sandbox.info, dir, &settings)?;
    grantflow_service::files::write_private(&config_path, config_text.as_bytes())?;
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies)?;
    for (name, text) in POLICIES {
        std::fs::write(policies.join(name), text)?;
    }
    let mut story = Story {
        options: Options {
            config: config_path,
            database: options.database.clone(),
            quiet: options.quiet,
        },
        clock,
        info: sandbox.info.clone(),
        policies,
        plans: Vec::new(),
        quiet: options.quiet,
    };
    let outcome = story.tell(start, last_day).await;
    sandbox.shutdown().await;
    outcome
}

impl Story {
    /// A service on the story's clock, opened afresh for each day as a command run that day would be.
    async fn service(&self) -> anyhow::Result<Service> {
        let clock: Arc<dyn grantflow_model::Clock> = self.clock.clone();
        Service::open_with_clock(self.options.load_config()?, clock).await
    }

    async fn tell(&mut self, start: NaiveDate, last_day: NaiveDate) -> anyhow::Result<ExitCode> {
        let mut ok = true;

        let before = start.checked_sub_days(Days::new(3)).unwrap_or(start);
        super::step(&format!(
            "{before}: HR hires Ana Lima as a Sales Engineer in BambooHR, starting {start}. She has no account anywhere."
        ));
        let hired = admin_post(&self.info, "bamboohr", "employees", hire(start)).await?;
        let employee = hired["id"].as_str().unwrap_or_default().to_string();
        let service = self.service().await?;
        let report = self.plan_and_apply(&service, false).await?;
        ok &= report.is_success();

        self.clock.set_day(0);
        super::step(&format!("{start}: Ana's first day"));
        let service = self.service().await?;
        println!("(Jira will time out twice: once before a call reaches it, once after it acted.)");
        admin_post(&self.info, "jira", "network", jira_faults()).await?;
        let report = self.plan_and_apply(&service, false).await?;
        ok &= report.failed == 0;
        if report.is_incomplete() {
            super::step(&format!(
                "{start}: Ana signs in to GitLab through Okta for the first time"
            ));
            admin_post(
                &self.info,
                "gitlab",
                "first-login",
                serde_json::json!({"email": NEW_HIRE}),
            )
            .await?;
            // The GitLab connection re-checks a wait every second.
            tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
            let plan = self.plans.last().cloned().unwrap_or_default();
            super::step(&format!("Resuming plan {plan}"));
            let report = self.execute(&service, &plan, None).await?;
            ok &= report.is_success();
        }

        self.clock.set_day(20);
        let recorded = start.checked_add_days(Days::new(20)).unwrap_or(start);
        super::step(&format!(
            "{recorded}: HR records that Ana leaves; her last day is {last_day}"
        ));
        admin_post(
            &self.info,
            "bamboohr",
            "employees",
            serde_json::json!({"id": employee, "terminationDate": last_day.to_string()}),
        )
        .await?;

        self.clock.set_day(31);
        let after = last_day.checked_add_days(Days::new(1)).unwrap_or(last_day);
        super::step(&format!("{after}: Ana's end date has passed"));
        let service = self.service().await?;
        let report = self.plan_and_apply(&service, true).await?;
        ok &= report.is_success();

        super::step("Drift: what people hold against what the policies want, in every system");
        sync::run(&service, None, false, self.quiet).await?;
        let checked = service
            .check_drift(&self.policies, 4)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let findings = checked.report.drift().count();
        if findings == 0 {
            println!("No drift: every system holds what the policies say, and Ana holds nothing.");
        } else {
            print!("{}", crate::commands::drift::render(&checked));
            ok = false;
        }
        let again = service
            .plan_policies(&actor(), &self.policies)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "Planning again: {} change(s) left.",
            again.plan.operations.len()
        );
        ok &= again.plan.operations.is_empty();

        super::step(&format!("The audit timeline of {NEW_HIRE}"));
        for line in timeline::lines(&service, &self.plans).await? {
            println!("  {line}");
        }

        super::step("Verifying the audit trail");
        match service.store.verify_audit().await? {
            Verification::Intact { events, .. } => {
                println!("OK: {events} audit events, chain intact");
            }
            Verification::Broken { seq, reason, .. } => {
                println!("BROKEN at event #{seq}: {reason}");
                ok = false;
            }
        }
        Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }

    /// Syncs, then what `grantflow serve` does after each sync with `lifecycle.automatic`: plans what
    /// is due for the people whose lifecycle is (and nothing else), takes the plan through the gate (a
    /// leaver plan with the leaver allowance naming it) and queues it; then runs it here, as a worker
    /// would, and shows its report.
    async fn plan_and_apply(
        &mut self,
        service: &Service,
        leaver_allowance: bool,
    ) -> anyhow::Result<Report> {
        sync::run(service, None, false, self.quiet).await?;
        let pass = service
            .run_lifecycle("the demo's day")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("Lifecycle: {}", pass.summary());
        let Some(plan) = pass.plan.clone() else {
            anyhow::bail!("nothing was due on this day: the story cannot go on");
        };
        if let Some(why) = &pass.refused {
            anyhow::bail!("the gate refused the lifecycle plan {plan}: {why}");
        }
        let stored = service.store.plan(&plan).await?;
        for op in &stored.operations {
            let after: Vec<String> = op.depends_on.iter().map(|d| d.to_string()).collect();
            println!(
                "  [{}] {}{}  ({})",
                op.id,
                op.describe(),
                if after.is_empty() {
                    String::new()
                } else {
                    format!("  after {}", after.join(", "))
                },
                op.reasons.join("; ")
            );
        }
        for note in &stored.review.notes {
            println!("  note: {note}");
        }
        self.plans.push(plan.clone());
        let allowance = leaver_allowance.then(|| plan.clone());
        self.execute(service, &plan, allowance).await
    }

    async fn execute(
        &self,
        service: &Service,
        plan: &str,
        allow_leavers: Option<String>,
    ) -> anyhow::Result<Report> {
        let progress = ApplyProgress::new(self.quiet);
        let options = ApplyOptions {
            allow_leavers,
            ..ApplyOptions::default()
        };
        let outcome = service
            .apply(&actor(), plan, &options, &progress)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        progress.finish();
        let ApplyOutcome::Ran { report, .. } = outcome else {
            anyhow::bail!("plan {plan} was queued instead of run");
        };
        apply::print_report(service, &report, false).await?;
        apply::print_secrets(service, plan, false).await;
        Ok(report)
    }
}
