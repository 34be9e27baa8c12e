//! Time-bound access: how soon after its end a grant's removal reaches the
//! vendor, and how fast requests become plans.
//!
//! N people each ask (through the service, as `POST /api/v1/requests` does)
//! for one group membership with a time limit; a rule auto-approves them, so
//! each is planned, queued and applied by the worker at once. The worker
//! (the one `grantflow serve` runs) acts on the requests' timers; for each
//! request the latency is from its `expires_at` to the first
//! `operation.attempt` of its ending plan (written just before the vendor
//! call), read back from the audit trail. A removal attempted before the
//! expiry would show as a negative latency and is counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use grantflow_service::config::{NewConnection, new_config};
use grantflow_service::requests::{Asked, NewRequest};
use grantflow_service::{Actor, ApplyOptions, Role, Service};
use grantflow_store::RequestFilter;

const GROUPS: usize = 20;

fn org(people: usize) -> String {
    let mut yaml = String::from("okta:\n  users:\n");
    for n in 0..people {
        yaml.push_str(&format!(
            "    - {{ login: user{n}@example.com, firstName: U, lastName: N{n}, department: Bench }}\n"
        ));
    }
    yaml.push_str("  groups:\n");
    for g in 0..GROUPS {
        yaml.push_str(&format!("    - {{ name: bench-{g}, members: [] }}\n"));
    }
    yaml
}

const RULES: &str = r#"approvals:
  - name: temporary bench access
    applies_to:
      - { system: okta }
    auto_approve: "true"
    max_duration: 1h
"#;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub async fn run(grants: usize, duration_seconds: u64, window_seconds: u64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let org_path = dir.path().join("org.yaml");
    std::fs::write(&org_path, org(grants))?;
    let org = grantflow_sandbox::load_org(&org_path)?;
    let sandbox = grantflow_sandbox::start(
        &org,
        grantflow_sandbox::SandboxOptions {
            rate_limit_window_seconds: window_seconds,
            ..grantflow_sandbox::SandboxOptions::default()
        },
    )
    .await?;
    let okta = &sandbox.info.systems["okta"];
    let connection = NewConnection {
        name: "okta".into(),
        kind: "okta".into(),
        base_url: okta.base_url.clone(),
        credentials: okta
            .credentials
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect(),
        ca_certificate: okta.ca_certificate.clone(),
        settings: okta.settings.clone(),
    };
    let text = new_config(
        &[connection],
        "okta",
        dir.path(),
        serde_json::Map::new(),
        "revoke benchmark",
    )?;
    std::fs::write(dir.path().join("grantflow.yaml"), text)?;
    std::fs::create_dir_all(dir.path().join("policies"))?;
    std::fs::write(dir.path().join("policies/requests.yaml"), RULES)?;
    let mut config = grantflow_service::Config::load(&dir.path().join("grantflow.yaml"))?;
    config.database = format!("sqlite://{}", dir.path().join("bench.db").display());
    config.policies = dir.path().join("policies");
    let service = Arc::new(Service::open(config).await?);
    let admin = Actor::new("bench:admin", [Role::Admin]);
    service
        .sync(&admin, None, true, &grantflow_service::sync::Quiet)
        .await?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let working = service.clone();
    let worker = tokio::spawn(async move {
        let mut stop_rx = stop_rx;
        let stop = async move {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
        };
        working
            .run_worker(
                &Actor::system("worker"),
                &ApplyOptions {
                    concurrency: 16,
                    ..ApplyOptions::default()
                },
                false,
                stop,
            )
            .await
    });

    println!(
        "== {grants} requests, each for one group membership for {duration_seconds} s (the emulator's rate-limit window: {window_seconds} s)"
    );
    let requester = Actor::new("bench:requester", [Role::Requester]);
    let started = Instant::now();
    for n in 0..grants {
        service
            .submit_request(
                &requester,
                &NewRequest {
                    asked: Asked::Change {
                        text: format!(
                            "assign user{n}@example.com to the bench-{} group",
                            n % GROUPS
                        ),
                    },
                    for_person: None,
                    reason: "benchmark".into(),
                    duration: Some(Duration::from_secs(duration_seconds)),
                    ticket: None,
                    break_glass: false,
                },
            )
            .await?;
    }
    let submitting = started.elapsed().as_secs_f64();
    println!(
        "   request to queued plan: {grants} in {submitting:.1} s = {:.1} requests/s (each resolved, reviewed for reach, auto-approved, planned, checked live, stored and queued)",
        grants as f64 / submitting
    );

    // Wait for every request to end and its removal to be attempted.
    let deadline = Instant::now() + Duration::from_secs(duration_seconds + 600);
    let ended = loop {
        let ended = service
            .store
            .requests(
                &RequestFilter {
                    state: Some("ended".into()),
                    ..RequestFilter::default()
                },
                i64::try_from(grants).unwrap_or(i64::MAX),
            )
            .await?;
        if ended.len() >= grants || Instant::now() > deadline {
            break ended;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    // Give the last removals time to be attempted.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut latencies = Vec::new();
    let mut early = 0usize;
    let mut unattempted = 0usize;
    for request in &ended {
        let (Some(expires), Some(plan)) = (request.expires_at, request.end_plan_id.as_deref())
        else {
            unattempted += 1;
            continue;
        };
        // The ending plan may end several requests: this request's removal is the operation on its account.
        let account = request.grants[0]["account_id"].as_str().unwrap_or_default();
        let stored = service.store.plan(plan).await?;
        let Some(op) = stored.operations.iter().find(|op| match &op.kind {
            grantflow_model::OpKind::RemoveGrant { account: a, .. } => a.id == account,
            _ => false,
        }) else {
            unattempted += 1;
            continue;
        };
        let subject = format!("{plan}/{}", op.id);
        let events = service.store.events_about(&[plan]).await?;
        match events
            .iter()
            .find(|e| e.action == "operation.attempt" && e.subject == subject)
        {
            Some(attempt) => {
                let at =
                    chrono::DateTime::parse_from_rfc3339(&attempt.at)?.with_timezone(&chrono::Utc);
                let latency = (at - expires).num_milliseconds() as f64 / 1000.0;
                if latency < 0.0 {
                    early += 1;
                }
                latencies.push(latency);
            }
            None => unattempted += 1,
        }
    }
    let _ = stop_tx.send(true);
    let _ = worker.await;
    latencies.sort_by(f64::total_cmp);
    println!(
        "   ended: {} of {grants}; removal attempted for {}; not attempted: {unattempted}; attempted before the expiry: {early}",
        ended.len(),
        latencies.len()
    );
    println!(
        "   expiry → vendor call: p50 {:.2} s, p99 {:.2} s, max {:.2} s, min {:.2} s",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.first().copied().unwrap_or(f64::NAN),
    );
    Ok(())
}
