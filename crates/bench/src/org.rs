//! A generated organisation: people with skewed departments, titles and
//! locations, department/title/location groups plus many team groups of very
//! different sizes, and the policies that manage the first three kinds.

use grantflow_model::{
    Account, ConnectionName, Grant, GrantSource, Resource, ResourceKind, Snapshot, SystemClock,
    SystemKind,
};
use grantflow_planner::ActualState;
use grantflow_policy::PolicySet;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

const DEPARTMENTS: usize = 30;
const TITLES: usize = 12;
const LOCATIONS: usize = 15;
const TEAMS: usize = 2_000;

/// Skewed pick in 0..n: low indexes are much more common (a few big
/// departments, a long tail of small teams).
fn skewed(rng: &mut impl Rng, n: usize, power: i32) -> usize {
    let r: f64 = rng.random();
    ((r.powi(power)) * n as f64) as usize % n
}

fn group(id: String, name: String) -> Resource {
    Resource {
        id,
        kind: ResourceKind::new("group"),
        name,
        entitlements: vec!["member".into()],
        entitlement_aliases: Default::default(),
        writable: true,
        attributes: Default::default(),
    }
}

fn member(account: &str, group: String) -> Grant {
    Grant {
        account_id: account.to_string(),
        resource_id: group,
        entitlement: "member".into(),
        source: GrantSource::Direct,
    }
}

/// An Okta-like snapshot of `people` people.
pub fn generate(people: usize, extra_grants_per_person: usize) -> Snapshot {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut snapshot = Snapshot::new(ConnectionName::new("okta"), SystemKind::new("okta"));
    for d in 0..DEPARTMENTS {
        snapshot
            .resources
            .push(group(format!("gd{d}"), format!("dept-{d}")));
    }
    for t in 0..TITLES {
        snapshot
            .resources
            .push(group(format!("gt{t}"), format!("title-{t}")));
    }
    for l in 0..LOCATIONS {
        snapshot
            .resources
            .push(group(format!("gl{l}"), format!("loc-{l}")));
    }
    for k in 0..TEAMS {
        snapshot
            .resources
            .push(group(format!("gk{k}"), format!("team-{k}")));
    }
    for i in 0..people {
        let id = format!("u{i}");
        let department = skewed(&mut rng, DEPARTMENTS, 2);
        let title = skewed(&mut rng, TITLES, 2);
        let location = skewed(&mut rng, LOCATIONS, 1);
        let mut attributes = serde_json::Map::new();
        attributes.insert("department".into(), format!("D{department}").into());
        attributes.insert("title".into(), format!("T{title}").into());
        attributes.insert("location".into(), format!("L{location}").into());
        snapshot.accounts.push(Account {
            id: id.clone(),
            login: format!("person{i}@example.com"),
            email: Some(format!("person{i}@example.com")),
            display_name: format!("Person {i}"),
            status: "ACTIVE".into(),
            state: Default::default(),
            attributes,
        });
        // Most people already hold what policy says; some drift either way.
        if rng.random::<f64>() < 0.95 {
            snapshot.grants.push(member(&id, format!("gd{department}")));
        }
        if rng.random::<f64>() < 0.97 {
            snapshot.grants.push(member(&id, format!("gt{title}")));
        }
        snapshot.grants.push(member(&id, format!("gl{location}")));
        if rng.random::<f64>() < 0.02 {
            let wrong = (department + 1) % DEPARTMENTS;
            snapshot.grants.push(member(&id, format!("gd{wrong}")));
        }
        for _ in 0..extra_grants_per_person {
            let team = skewed(&mut rng, TEAMS, 3);
            snapshot.grants.push(member(&id, format!("gk{team}")));
        }
    }
    snapshot
}

/// Policies managing the department, title and location groups.
pub fn policies() -> anyhow::Result<PolicySet> {
    let mut text = String::from("policies:\n");
    for (prefix, attribute, count) in [
        ("dept", "department", DEPARTMENTS),
        ("title", "title", TITLES),
        ("loc", "location", LOCATIONS),
    ] {
        let letter = &attribute[..1].to_uppercase();
        for n in 0..count {
            let _ = writeln!(
                text,
                "  - name: {prefix}-{n}\n    when: person.{attribute} == \"{letter}{n}\"\n    grants:\n      - {{system: okta, resource: group/{prefix}-{n}}}"
            );
        }
    }
    PolicySet::from_sources(vec![(PathBuf::from("generated.yaml"), text)])
        .map_err(|d| anyhow::anyhow!("{d}"))
}

/// A generated organisation as the planner and drift see it, with its
/// grant count.
pub fn generated_state(people: usize) -> (ActualState, usize) {
    let snapshot = generate(people, 3);
    let grants = snapshot.grants.len();
    let okta = ConnectionName::new("okta");
    // The store records each snapshot's digest when it is synced.
    let digest = snapshot.digest();
    let actual = ActualState {
        directory: okta.clone(),
        snapshots: BTreeMap::from([(okta.clone(), snapshot)]),
        sync_ids: BTreeMap::from([(okta.clone(), "s-bench".to_string())]),
        digests: BTreeMap::from([(okta, digest)]),
        correlation: Default::default(),
        time_bound: vec![],
        created: vec![],
    };
    (actual, grants)
}

/// Drift detection over a generated organisation: every policy-managed
/// group judged for every person.
pub fn drift(people: usize) -> anyhow::Result<()> {
    let generated = Instant::now();
    let (actual, grants) = generated_state(people);
    let policies = policies()?;
    let setup = generated.elapsed();
    let started = Instant::now();
    let report = grantflow_drift::detect(&policies, &actual, &Default::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let elapsed = started.elapsed();
    println!(
        "drift: {people} people, {grants} grants, {} policies -> {} findings",
        policies.policies.len(),
        report.drift().count(),
    );
    println!(
        "drift time {:.3} s (generation {:.3} s); peak RSS {:.0} MB",
        elapsed.as_secs_f64(),
        setup.as_secs_f64(),
        crate::peak_rss_mb()
    );
    Ok(())
}

pub fn plan(people: usize) -> anyhow::Result<()> {
    let generated = Instant::now();
    let (actual, grants) = generated_state(people);
    let policies = policies()?;
    let setup = generated.elapsed();
    let started = Instant::now();
    let plan = grantflow_planner::plan_policies(&policies, &actual, "bench", chrono::Utc::now())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let elapsed = started.elapsed();
    let adds = plan
        .operations
        .iter()
        .filter(|op| op.widens_access())
        .count();
    println!(
        "plan: {people} people, {grants} grants, {} policies -> {} operations ({adds} adds, {} removes)",
        policies.policies.len(),
        plan.operations.len(),
        plan.operations.len() - adds
    );
    println!(
        "plan time {:.3} s (generation {:.3} s); peak RSS {:.0} MB",
        elapsed.as_secs_f64(),
        setup.as_secs_f64(),
        crate::peak_rss_mb()
    );
    Ok(())
}

pub async fn snapshot(grants: usize, postgres: Option<&str>) -> anyhow::Result<()> {
    let per_person = 10;
    let people = grants / per_person;
    // Three policy groups per person are generated; the rest are teams.
    let snapshot = generate(people, per_person.saturating_sub(3));
    let database = crate::database::BenchDatabase::fresh(postgres).await?;
    let store = grantflow_store::Store::open(database.url(), Arc::new(SystemClock)).await?;
    let started = Instant::now();
    let record = store
        .record_sync(&snapshot, chrono::Utc::now(), "bench")
        .await?;
    let elapsed = started.elapsed();
    println!(
        "snapshot: wrote {} accounts, {} grants in {:.3} s ({}); peak RSS {:.0} MB",
        record.accounts,
        record.grants,
        elapsed.as_secs_f64(),
        database.label(),
        crate::peak_rss_mb()
    );
    database.drop_schema().await
}
