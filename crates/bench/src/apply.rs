//! The apply benchmark: N group memberships through the engine against the
//! Okta emulator's rate limits, compared with the rate-limit lower bound and
//! with a sequential script using Okta's Python SDK.

use grantflow_connectors::okta::{OktaConfig, OktaConnector};
use grantflow_connectors::{BuildContext, Connector, RateBudgets, SecretSource};
use grantflow_engine::{Engine, EngineOptions, Silent};
use grantflow_model::{
    AccountRef, ConnectionName, OpKind, Operation, OperationId, ResourceRef, Snapshot, SystemKind,
};
use grantflow_sandbox::{RunningSandbox, SandboxOptions};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const GROUPS: usize = 20;

fn org(people: usize) -> String {
    let mut yaml = String::from("okta:\n  users:\n");
    for n in 0..people {
        let _ = writeln!(
            yaml,
            "    - {{ login: user{n}@example.com, firstName: U, lastName: N{n} }}"
        );
    }
    yaml.push_str("  groups:\n");
    for g in 0..GROUPS {
        let _ = writeln!(yaml, "    - {{ name: bench-{g}, members: [] }}");
    }
    yaml
}

async fn sandbox(dir: &Path, people: usize, window_seconds: u64) -> anyhow::Result<RunningSandbox> {
    let path = dir.join("org.yaml");
    std::fs::write(&path, org(people))?;
    let org = grantflow_sandbox::load_org(&path)?;
    grantflow_sandbox::start(
        &org,
        SandboxOptions {
            rate_limit_window_seconds: window_seconds,
            ..SandboxOptions::default()
        },
    )
    .await
}

async fn admin(sandbox: &RunningSandbox, what: &str) -> anyhow::Result<serde_json::Value> {
    let url = format!("{}/{what}", sandbox.info.systems["okta"].admin_url);
    Ok(reqwest::get(url).await?.json().await?)
}

/// The operations: person n joins group n mod GROUPS.
fn operations(snapshot: &Snapshot, count: usize) -> Vec<Operation> {
    let groups: Vec<_> = snapshot
        .resources
        .iter()
        .filter(|r| r.name.starts_with("bench-"))
        .collect();
    let mut accounts: Vec<_> = snapshot.accounts.iter().collect();
    accounts.sort_by_key(|a| {
        a.login
            .trim_start_matches("user")
            .trim_end_matches("@example.com")
            .parse::<usize>()
            .unwrap_or(0)
    });
    (0..count)
        .filter_map(|n| {
            let account = accounts.get(n)?;
            let group = groups.get(n % groups.len().max(1))?;
            Some(Operation {
                id: OperationId(u32::try_from(n).ok()?),
                connection: ConnectionName::new("okta"),
                kind: OpKind::AddGrant {
                    account: AccountRef {
                        id: account.id.clone(),
                        login: account.login.clone(),
                    },
                    resource: ResourceRef {
                        id: group.id.clone(),
                        kind: group.kind.clone(),
                        name: group.name.clone(),
                    },
                    entitlement: "member".into(),
                },
                reasons: vec!["bench".into()],
                depends_on: vec![],
            })
        })
        .collect()
}

fn throttled(counters: &serde_json::Value) -> u64 {
    counters["throttled"]
        .as_object()
        .map(|b| b.values().filter_map(serde_json::Value::as_u64).sum())
        .unwrap_or(0)
}

pub async fn run(
    count: usize,
    window_seconds: u64,
    bucket_limit: Option<u32>,
    concurrency: usize,
    baseline: bool,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sandbox = sandbox(dir.path(), count, window_seconds).await?;
    let token_file = dir.path().join("okta.token");
    std::fs::write(
        &token_file,
        &sandbox.info.systems["okta"].credentials["token"],
    )?;
    let budgets = Arc::new(RateBudgets::new(0.0));
    let context = BuildContext {
        base_dir: dir.path().to_path_buf(),
        budgets,
        clock: std::sync::Arc::new(grantflow_model::SystemClock),
        limits: Default::default(),
    };
    let config = OktaConfig {
        base_url: sandbox.info.systems["okta"].base_url.clone(),
        token: Some(SecretSource {
            env: None,
            file: Some(token_file),
        }),
        auth: None,
        timeout_seconds: 30,
        allow_insecure_http: false,
        max_rate_limit_waits: 100,
        sync: Default::default(),
        event_hook: None,
    };
    let connector = OktaConnector::new(ConnectionName::new("okta"), &config, &context)
        .map_err(|f| anyhow::anyhow!("{f}"))?;
    let mut snapshot = Snapshot::new(ConnectionName::new("okta"), SystemKind::new("okta"));
    connector
        .sync(&mut snapshot)
        .await
        .map_err(|f| anyhow::anyhow!("{f}"))?;
    let operations = operations(&snapshot, count);
    // Start the measured run in fresh windows, as a new tenant would be
    // (and with a smaller budget, when asked, so a short run is still bound
    // by it).
    let settings = match bucket_limit {
        Some(limit) => serde_json::json!({"buckets": {"groups": limit}}),
        None => serde_json::json!({}),
    };
    let url = format!("{}/rate-limits", sandbox.info.systems["okta"].admin_url);
    reqwest::Client::new()
        .post(url)
        .json(&settings)
        .send()
        .await?;
    let limits = admin(&sandbox, "rate-limits").await?;
    let limit = limits["buckets"]["groups"].as_u64().unwrap_or(600);
    let before = throttled(&admin(&sandbox, "counters").await?);

    let (store, plan) = crate::baseline::store_with_plan(dir.path(), operations.clone()).await?;
    let mut connectors: BTreeMap<ConnectionName, Box<dyn Connector>> = BTreeMap::new();
    connectors.insert(ConnectionName::new("okta"), Box::new(connector));
    let engine = Engine::new(
        &store,
        &connectors,
        "bench",
        EngineOptions {
            concurrency,
            ..EngineOptions::default()
        },
    );
    let snapshots = BTreeMap::from([(ConnectionName::new("okta"), snapshot.clone())]);
    let request = grantflow_engine::GateRequest {
        snapshots: &snapshots,
        allow_mass_removal: None,
        allow_leavers: None,
        actor: "bench",
    };
    let cleared = grantflow_engine::clear(&store, &plan.id, &request, &Default::default())
        .await?
        .map_err(|refusal| anyhow::anyhow!("{}", refusal.explain(&plan.id)))?;
    let started = Instant::now();
    let report = engine.apply(&cleared, &Silent).await?;
    let makespan = started.elapsed().as_secs_f64();
    let after = throttled(&admin(&sandbox, "counters").await?);
    let bound = operations.len() as f64 / limit as f64 * window_seconds as f64;
    println!(
        "apply: {} operations (bucket `groups`, {limit} per {window_seconds} s), concurrency {concurrency}",
        operations.len()
    );
    println!(
        "grantflow: makespan {makespan:.1} s; rate-limit lower bound {bound:.1} s; ratio {:.3}; 429s {}; succeeded {}",
        makespan / bound,
        after - before,
        report.succeeded
    );
    sandbox.shutdown().await;

    if baseline {
        let fresh = self::sandbox(dir.path(), count, window_seconds).await?;
        let info = dir.path().join("info.json");
        std::fs::write(&info, serde_json::to_string(&fresh.info)?)?;
        let token_file = dir.path().join("okta2.token");
        std::fs::write(
            &token_file,
            &fresh.info.systems["okta"].credentials["token"],
        )?;
        let config = OktaConfig {
            base_url: fresh.info.systems["okta"].base_url.clone(),
            token: Some(SecretSource {
                env: None,
                file: Some(token_file),
            }),
            ..config
        };
        let reader = OktaConnector::new(ConnectionName::new("okta"), &config, &context)
            .map_err(|f| anyhow::anyhow!("{f}"))?;
        let mut snapshot = Snapshot::new(ConnectionName::new("okta"), SystemKind::new("okta"));
        reader
            .sync(&mut snapshot)
            .await
            .map_err(|f| anyhow::anyhow!("{f}"))?;
        let pairs: Vec<(String, String)> = self::operations(&snapshot, count)
            .iter()
            .map(|op| (op.resource().id.clone(), op.holder().id().to_string()))
            .collect();
        let pairs_file = dir.path().join("pairs.json");
        std::fs::write(&pairs_file, serde_json::to_string(&pairs)?)?;
        let url = format!("{}/rate-limits", fresh.info.systems["okta"].admin_url);
        reqwest::Client::new()
            .post(url)
            .json(&settings)
            .send()
            .await?;
        let result = crate::baseline::run_script(
            "baseline_okta.py",
            &[info.as_os_str(), pairs_file.as_os_str()],
        )
        .await?;
        let seconds = result["seconds"].as_f64().unwrap_or(f64::NAN);
        println!(
            "baseline (sequential okta SDK): {seconds:.1} s, errors {}; grantflow is {:.2}x faster",
            result["errors"],
            seconds / makespan
        );
        fresh.shutdown().await;
    }
    Ok(())
}
