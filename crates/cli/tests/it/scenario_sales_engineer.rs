//! Seed 003's Sales Engineer (issue 16, part 7), end to end: a new Sales Engineer appears in the HRIS
//! with a start date and no account anywhere. Three days before the start date the plan stages her
//! Okta account and nothing else; on the start date it activates it and creates her Google,
//! Salesforce, Slack (SCIM) and Jira accounts with their access, while Jira times out once before a
//! call reaches it (the retry sends it again) and once after it acted (the retry finds it done),
//! `apply` is SIGKILLed mid-run and resumed, and the GitLab membership waits for her first SSO
//! login; every account is created exactly once. Once her end date has passed, the leaver plan
//! retires every account and removes every grant, and drift finds nothing.
//!
//! The days pass on one clock shared by the emulators and by grantflow where it plans (in process,
//! through the service `grantflow plan` calls); the start date is the real today, so the binary's
//! own `plan` and `apply` run on it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, Utc};
use grantflow_model::{ConnectionName, OpKind};
use grantflow_service::sync::SyncReporter;
use grantflow_service::{Actor, ApplyOptions, ApplyOutcome, Config, Service};
use serde_json::{Value, json};

use crate::testkit::Workspace;

const ORG: &str = include_str!("../../../../examples/scenarios/sales-engineer/org.yaml");
const TEAMS: &str = include_str!("../../../../examples/scenarios/sales-engineer/teams.yaml");
const ROLE: &str =
    include_str!("../../../../examples/scenarios/sales-engineer/sales-engineer.yaml");
const NEW_HIRE: &str = "ana.lima@example.com";
/// The systems she gets an account in from the policy (GitLab makes its own at the first login).
const ACCOUNTS: [&str; 5] = ["okta", "google", "salesforce", "slack", "jira"];
/// Where each system's API creates a user (the vendors' documented calls).
const CREATIONS: [(&str, &str, &str); 5] = [
    ("okta", "POST", "/api/v1/users"),
    ("google", "POST", "/admin/directory/v1/users"),
    ("salesforce", "POST", "/sobjects/User"),
    ("slack", "POST", "/scim/v2/Users"),
    ("jira", "POST", "/rest/api/3/user"),
];
/// The resources her policies name, by system.
const HER_RESOURCES: [(&str, &str); 9] = [
    ("okta", "sales-team"),
    ("okta", "engineering-team"),
    ("google", "sales@example.com"),
    ("google", "engineering@example.com"),
    ("slack", "sales-team"),
    ("slack", "engineering-general"),
    ("jira", "Sales"),
    ("jira", "Sales Demos"),
    ("gitlab", "customer-solutions"),
];

/// The wall clock moved by whole days, read by the emulators and by the in-process service.
#[derive(Debug, Default)]
struct StoryClock(AtomicI64);

impl StoryClock {
    fn set_day(&self, days: i64) {
        self.0.store(days * 86_400_000, Ordering::SeqCst);
    }
    fn at(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.0.load(Ordering::SeqCst))
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

struct Quiet;
impl SyncReporter for Quiet {}

fn hire(start: NaiveDate) -> Value {
    json!({
        "firstName": "Ana", "lastName": "Lima", "workEmail": NEW_HIRE,
        "hireDate": start.to_string(), "status": "Active", "employmentStatus": "Full-Time",
        "department": "Sales", "division": "Go-to-Market", "jobTitle": "Sales Engineer",
        "location": "Chicago", "supervisorEId": "130",
    })
}

async fn admin(ws: &Workspace, system: &str, method: &str, what: &str, body: Value) -> Value {
    let info = &ws.sandbox.info.systems[system];
    let client = info.http_client().expect("client");
    let url = format!("{}/{what}", info.admin_url);
    let request = match method {
        "GET" => client.get(&url),
        _ => client.post(&url).json(&body),
    };
    let response = request.send().await.expect("admin reachable");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

/// Each write the system's API answered with a 2xx, as `METHOD path`, in order.
async fn landed(ws: &Workspace, system: &str) -> Vec<String> {
    let network = admin(ws, system, "GET", "network", Value::Null).await;
    network["writes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| {
            w["reached_service"] == true && (200..300).contains(&w["status"].as_u64().unwrap_or(0))
        })
        .filter_map(|w| Some(format!("{} {}", w["method"].as_str()?, w["path"].as_str()?)))
        .collect()
}

/// The service as `grantflow` would open it, on the story's clock.
async fn service(ws: &Workspace, clock: &Arc<StoryClock>) -> Service {
    let config = Config::load(&ws.path("grantflow.yaml")).expect("config");
    let clock: Arc<dyn grantflow_model::Clock> = clock.clone();
    Service::open_with_clock(config, clock)
        .await
        .expect("service")
}

async fn apply(service: &Service, plan: &str, allow_leavers: bool) -> grantflow_engine::Report {
    let options = ApplyOptions {
        allow_leavers: allow_leavers.then(|| plan.to_string()),
        ..ApplyOptions::default()
    };
    match service
        .apply(
            &Actor::local_operator(),
            plan,
            &options,
            &grantflow_engine::Silent,
        )
        .await
        .expect("applied")
    {
        ApplyOutcome::Ran { report, .. } => report,
        ApplyOutcome::Queued => panic!("plan {plan} was queued"),
    }
}

/// The audit events of one operation: (action, details), in order.
fn events_of(export: &str, subject: &str) -> Vec<(String, Value)> {
    export
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["subject"] == subject)
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_string(),
                e["details"].clone(),
            )
        })
        .collect()
}

fn ops(plan: &Value) -> Vec<Value> {
    plan["operations"].as_array().cloned().unwrap_or_default()
}

/// Nobody else is named: the plan is hers alone.
fn only_hers(text: &str) -> bool {
    ["james.wilson", "mia.davis", "marco.rossi"]
        .iter()
        .all(|other| !text.contains(other))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sales_engineer_from_the_hris_to_retirement_with_every_account_created_once() {
    let clock = Arc::new(StoryClock::default());
    clock.set_day(-3);
    let options = grantflow_sandbox::SandboxOptions {
        clock: Some(clock.clone()),
        ..Default::default()
    };
    let ws = Workspace::start_with(Some(ORG), options).await;
    ws.set_connection_option("jira", "timeout_seconds: 1");
    ws.set_connection_option("gitlab", "pending_recheck_seconds: 1");
    ws.set_connection_option("gitlab", "accounts: first_login_admin_retire");
    ws.write_policy("teams.yaml", TEAMS);
    ws.write_policy("sales-engineer.yaml", ROLE);
    let policies = ws.path("policies");
    let actor = Actor::local_operator();
    let start = Utc::now().date_naive();

    // Three days before her start date HR enters her in BambooHR: the plan stages her Okta account
    // and nothing else, and gives her no access yet.
    let hired = admin(&ws, "bamboohr", "POST", "employees", hire(start)).await;
    let employee = hired["id"].as_str().expect("employee id").to_string();
    {
        let service = service(&ws, &clock).await;
        service
            .sync(&actor, None, false, &Quiet)
            .await
            .expect("sync");
        let proposal = service
            .plan_policies(&actor, &policies)
            .await
            .expect("plan");
        let lines: Vec<String> = proposal
            .plan
            .operations
            .iter()
            .map(|op| op.describe())
            .collect();
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(
            lines[0].starts_with("+ okta create account ana.lima@example.com")
                && lines[0].ends_with("staged)"),
            "{lines:#?}"
        );
        let waits = format!("ana.lima@example.com's access waits for their start date {start}");
        assert!(
            proposal.plan.review.notes.contains(&waits),
            "{:#?}",
            proposal.plan.review.notes
        );
        let report = apply(&service, &proposal.plan.id, false).await;
        assert!(report.is_success(), "{report:#?}");
    }
    let staged = ws.okta_get(&format!("/api/v1/users/{NEW_HIRE}")).await;
    assert_eq!(staged["status"], "STAGED", "{staged:#}");
    for system in ["google", "salesforce", "slack", "jira", "gitlab"] {
        let writes = ws.writes_to(system).await;
        assert!(
            writes.is_empty(),
            "nothing changes in {system} before she starts: {writes:?}"
        );
    }

    // Her first day (the real today): the binary plans and applies.
    clock.set_day(0);
    let before: BTreeMap<&str, serde_json::Map<String, Value>> = {
        let mut all = BTreeMap::new();
        for system in ACCOUNTS.iter().chain(&["gitlab"]) {
            all.insert(*system, ws.writes_to(system).await);
        }
        all
    };
    let sync = ws.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    let (plan_id, plan) = ws.plan();
    let ops = ops(&plan);
    assert!(
        only_hers(&plan["operations"].to_string()),
        "only she changes: {plan:#}"
    );
    let find = |pred: &dyn Fn(&Value) -> bool, what: &str| -> Value {
        ops.iter()
            .find(|op| pred(op))
            .cloned()
            .unwrap_or_else(|| panic!("no {what} in {plan:#}"))
    };
    find(
        &|op| op["connection"] == "okta" && op["kind"] == "account_action",
        "okta activation",
    );
    let created: BTreeMap<&str, Value> = ACCOUNTS[1..]
        .iter()
        .map(|system| {
            (
                *system,
                find(
                    &|op| op["connection"] == *system && op["kind"] == "create_account",
                    "creation",
                ),
            )
        })
        .collect();
    for (system, resource) in HER_RESOURCES {
        let grant = find(
            &|op| {
                op["connection"] == system
                    && op["kind"] == "add_grant"
                    && op["resource"]["name"] == resource
            },
            resource,
        );
        if let Some(creation) = created.get(system) {
            assert!(
                grant["depends_on"]
                    .as_array()
                    .is_some_and(|d| d.contains(&creation["id"])),
                "{system} {resource} waits for her {system} account: {grant:#}"
            );
        }
    }
    let gitlab = find(&|op| op["connection"] == "gitlab", "gitlab grant");
    assert_eq!(
        gitlab["account"]["id"], "pending:ana.lima@example.com",
        "{gitlab:#}"
    );

    // Jira: her user's creation is held and dropped before it reaches Jira; her first project role
    // is given and answered too late. `apply` is killed while that answer is on its way.
    admin(
        &ws,
        "jira",
        "POST",
        "network",
        json!({
            "timeout_ms": 2500,
            "write_faults": [
                {"fault": "timeout_before", "path": "/rest/api/3/user"},
                {"fault": "timeout_after", "path": "/rest/api/3/project/"},
            ],
        }),
    )
    .await;
    let mut child = ws
        .command(&["apply", &plan_id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("apply starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let network = admin(&ws, "jira", "GET", "network", Value::Null).await;
        let spent: Vec<&str> = network["spent"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["fault"].as_str())
            .collect();
        if spent.contains(&"timeout_after") {
            assert_eq!(spent, ["timeout_before", "timeout_after"], "{network:#}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Jira's role call never came: {network:#}"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "apply ended before Jira's role call: {network:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let resumed = ws.run(&["apply", &plan_id, "--json"]);
    assert_eq!(
        resumed.code,
        3,
        "GitLab waits, nothing fails: {}",
        resumed.all()
    );
    let report: Value = serde_json::from_str(&resumed.stdout).expect("report");
    assert_eq!(report["failed"], 0, "{report:#}");
    let state = |id: &Value| -> Value {
        report["operations"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["id"] == *id)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(state(&gitlab["id"])["state"], "waiting", "{report:#}");

    ws.admin_post_to("gitlab", "first-login", json!({"email": NEW_HIRE}))
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let done = ws.run(&["apply", &plan_id, "--json"]);
    assert_eq!(done.code, 0, "{}", done.all());
    let report: Value = serde_json::from_str(&done.stdout).expect("report");
    assert_eq!(report["succeeded"], json!(ops.len()), "{report:#}");

    // The Jira retries, as the audit trail tells them.
    let export = ws.run(&["audit", "export"]).stdout;
    let jira_create = &created["jira"];
    let events = events_of(&export, &format!("{plan_id}/op{}", jira_create["id"]));
    let actions: Vec<&str> = events.iter().map(|(a, _)| a.as_str()).collect();
    let timed_out = actions
        .iter()
        .position(|a| *a == "operation.retry_scheduled");
    let again = events
        .iter()
        .position(|(a, d)| a == "operation.attempt" && d["attempt"].as_u64() >= Some(2));
    assert!(
        timed_out.is_some() && again > timed_out,
        "the creation timed out and was sent again: {events:#?}"
    );
    assert_eq!(
        events
            .last()
            .map(|(a, d)| (a.as_str(), d["outcome"].clone())),
        Some(("operation.succeeded", json!("applied"))),
        "{events:#?}"
    );
    let found_done: Vec<Value> = ops
        .iter()
        .filter(|op| op["connection"] == "jira" && op["kind"] == "add_grant")
        .filter(|op| {
            let events = events_of(&export, &format!("{plan_id}/op{}", op["id"]));
            // Sent once before the kill; the resumed run observes it done instead of sending it.
            events.last().is_some_and(|(a, d)| {
                a == "operation.succeeded"
                    && d["outcome"] == "already_present"
                    && d["by_grantflow"] == true
            }) && events
                .iter()
                .filter(|(a, _)| a == "operation.attempt")
                .count()
                == 1
        })
        .cloned()
        .collect();
    // The other role may have been in flight at the kill too, and is then found done the same way.
    assert!(
        !found_done.is_empty(),
        "the role whose answer was lost is found done after the kill, not sent again: {export}"
    );
    let jira_calls = admin(&ws, "jira", "GET", "network", Value::Null).await;
    assert!(
        jira_calls["writes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|w| w["path"] == "/rest/api/3/user" && w["reached_service"] == false),
        "the first creation never reached Jira: {jira_calls:#}"
    );

    // Exactly once: each object written once on her first day, and one creation call per system
    // over the whole story.
    for (system, writes_before) in &before {
        for (key, count) in ws.writes_to(system).await {
            let was = writes_before.get(&key).and_then(Value::as_u64).unwrap_or(0);
            let now = count.as_u64().unwrap_or(0);
            assert!(
                now - was <= 1,
                "{system}: {key} written {} times on her first day",
                now - was
            );
        }
    }
    for (system, method, path) in CREATIONS {
        let creations = landed(&ws, system)
            .await
            .into_iter()
            .filter(|w| w.starts_with(method) && w.trim_end_matches('/').ends_with(path))
            .count();
        assert_eq!(
            creations, 1,
            "{system}: her account created {creations} times"
        );
    }

    // Her end date passes: the leaver plan takes everything back, downstream before the directory.
    clock.set_day(20);
    let last_day = start.checked_add_days(Days::new(30)).expect("date");
    admin(
        &ws,
        "bamboohr",
        "POST",
        "employees",
        json!({"id": employee, "terminationDate": last_day.to_string()}),
    )
    .await;
    clock.set_day(31);
    let service = service(&ws, &clock).await;
    service
        .sync(&actor, None, false, &Quiet)
        .await
        .expect("sync");
    let leaver = service
        .plan_policies(&actor, &policies)
        .await
        .expect("leaver plan")
        .plan;
    let lines: Vec<String> = leaver.operations.iter().map(|op| op.describe()).collect();
    assert!(!leaver.operations.is_empty());
    assert!(only_hers(&lines.join("\n")), "only hers: {lines:#?}");
    let retired: Vec<&str> = leaver
        .operations
        .iter()
        .filter(|op| matches!(op.kind, OpKind::RetireAccount { .. }))
        .map(|op| op.connection.as_str())
        .collect();
    // GitLab made hers at her first sign-in; the administrator's token blocks it.
    for system in ACCOUNTS.iter().chain(&["gitlab"]) {
        assert!(
            retired.contains(system),
            "her {system} account is retired: {lines:#?}"
        );
    }
    let last = leaver.operations.last().expect("ops");
    assert!(
        last.connection.as_str() == "okta" && matches!(last.kind, OpKind::RetireAccount { .. }),
        "the directory account goes last: {lines:#?}"
    );
    let report = apply(&service, &leaver.id, true).await;
    assert!(report.is_success(), "{report:#?}");

    service
        .sync(&actor, None, false, &Quiet)
        .await
        .expect("sync");
    let actual = service.actual_state().await.expect("state");
    for (name, snapshot) in &actual.snapshots {
        let Some(account) = snapshot.account_by_login_or_email(NEW_HIRE) else {
            continue;
        };
        if ACCOUNTS.contains(&name.as_str()) || name.as_str() == "gitlab" {
            assert!(
                !account.state.is_active(),
                "{name}: her account is still {:?}",
                account.state
            );
        }
        for grant in snapshot
            .grants
            .iter()
            .filter(|g| g.account_id == account.id)
        {
            let resource = snapshot
                .resource(&grant.resource_id)
                .map(|r| r.name.clone())
                .unwrap_or_default();
            assert!(
                !HER_RESOURCES.contains(&(name.as_str(), resource.as_str())),
                "{name}: she still holds {resource}"
            );
        }
    }
    assert!(
        actual
            .snapshots
            .contains_key(&ConnectionName::new("bamboohr"))
    );
    let drift = service.check_drift(&policies, 4).await.expect("drift");
    let findings: Vec<String> = drift.report.drift().map(|f| format!("{f:?}")).collect();
    assert!(findings.is_empty(), "drift finds nothing: {findings:#?}");
    let again = service
        .plan_policies(&actor, &policies)
        .await
        .expect("plan");
    assert!(
        again.plan.operations.is_empty(),
        "{:#?}",
        again.plan.operations
    );
    drop(service);
    assert_eq!(ws.run(&["audit", "verify"]).code, 0);
}

#[test]
fn the_demo_tells_the_sales_engineer_story_in_order() {
    let stdout = crate::testkit::demo_stdout(&["--scenario", "sales-engineer", "--quiet"]);
    for expected in [
        "No drift: every system holds what the policies say, and Ana holds nothing.",
        "Planning again: 0 change(s) left.",
        "chain intact",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
    let timeline: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("== The audit timeline of ana.lima@example.com"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    let line = |system: &str, words: &[&str]| -> usize {
        timeline
            .iter()
            .position(|l| {
                l.split_whitespace().nth(2) == Some(system) && words.iter().all(|w| l.contains(w))
            })
            .unwrap_or_else(|| panic!("no {system} {words:?} line in:\n{}", timeline.join("\n")))
    };
    let in_order = |steps: &[usize]| {
        assert!(
            steps.windows(2).all(|w| w[0] < w[1]),
            "{steps:?}:\n{}",
            timeline.join("\n")
        );
    };
    let staged = line(
        "okta",
        &["create account ana.lima@example.com", "staged", "✓ done"],
    );
    let activated = line("okta", &["activate account ana.lima@example.com", "✓ done"]);
    in_order(&[staged, activated, line("okta", &["sales-team", "✓ done"])]);
    let jira_found_done = line("jira", &["found already in effect"]);
    in_order(&[
        activated,
        line(
            "jira",
            &[
                "create account ana.lima@example.com",
                "⚠",
                "timed out",
                "retry in",
            ],
        ),
        line(
            "jira",
            &["create account ana.lima@example.com", "↻ attempt 2"],
        ),
        line("jira", &["create account ana.lima@example.com", "✓ done"]),
        jira_found_done,
    ]);
    let gitlab_done = line("gitlab", &["customer-solutions", "✓ done"]);
    in_order(&[
        activated,
        line("gitlab", &["customer-solutions", "⏸ waiting"]),
        gitlab_done,
    ]);
    // The first login comes once the start date's run has done all it can.
    in_order(&[jira_found_done, gitlab_done]);
    let is = |l: &&str, system: &str| l.split_whitespace().nth(2) == Some(system);
    let retirement = |l: &&str| {
        ["suspend account", "deactivate account", "delete account"]
            .iter()
            .any(|w| l.contains(w))
            && l.contains("✓ done")
    };
    let directory_retired = timeline
        .iter()
        .rposition(|l| is(l, "okta") && retirement(l))
        .unwrap_or_else(|| panic!("no Okta retirement:\n{}", timeline.join("\n")));
    let gitlab_blocked = timeline
        .iter()
        .position(|l| is(l, "gitlab") && l.contains("suspend account") && l.contains("✓ done"))
        .unwrap_or_else(|| panic!("her GitLab user is not blocked:\n{}", timeline.join("\n")));
    in_order(&[gitlab_done, gitlab_blocked, directory_retired]);
    for system in ["google", "salesforce", "slack", "jira"] {
        let created = timeline
            .iter()
            .filter(|l| is(l, system) && l.contains("create account") && l.contains("✓ done"))
            .count();
        assert_eq!(created, 1, "{system}:\n{}", timeline.join("\n"));
        let retired = timeline
            .iter()
            .position(|l| is(l, system) && retirement(l))
            .unwrap_or_else(|| panic!("{system} not retired:\n{}", timeline.join("\n")));
        let last = timeline.iter().rposition(|l| is(l, system)).unwrap_or(0);
        in_order(&[gitlab_done, retired, directory_retired]);
        assert!(
            last < directory_retired,
            "{system} before the directory:\n{}",
            timeline.join("\n")
        );
    }
}
