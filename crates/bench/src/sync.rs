//! The full-sync benchmark: a generated Okta org read through the emulator at Okta's documented limits,
//! against the pagination-and-rate-limit lower bound, with the syncing process's peak memory and (with
//! `--baseline`) the same lists read by Okta's Python SDK in a script.
//!
//! The emulator runs in this process and the sync in a child process (`sync-client`), so the peak
//! resident memory reported is the sync's own, not the emulator's copy of the org.
//!
//! The GitHub organisation and the Google domain (`github.rs`, `google.rs` beside this file) are measured
//! the same way, each against its own bound's terms.

pub mod github;
pub mod google;

use grantflow_connectors::okta::{OktaConfig, OktaConnector};
use grantflow_connectors::{BuildContext, Connector, RateBudgets, SecretSource};
use grantflow_model::{ConnectionName, Snapshot, SystemKind};
use grantflow_sandbox::okta::{OktaSeed, SeedApp, SeedGroup, SeedStatus, SeedUser};
use grantflow_sandbox::{Org, RunningSandbox, SandboxOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The org's size.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    pub apps: usize,
}

/// Page sizes the lower bound counts with: the largest each list serves (notes/okta.md §2; a group's
/// members: the spec's default, 1000, as it publishes no maximum).
const USERS_PAGE: usize = 200;
const GROUPS_PAGE: usize = 10_000;
const MEMBERS_PAGE: usize = 1_000;
const APPS_PAGE: usize = 200;
const APP_GROUPS_PAGE: usize = 200;
const APP_USERS_PAGE: usize = 500;
/// Groups assigned to each app, from the small end of the size distribution, and users assigned directly.
const APP_GROUPS: usize = 2;
const APP_DIRECT_USERS: usize = 20;

fn login(n: usize) -> String {
    format!("user{n}@example.com")
}

/// Group sizes falling off as 1/(g + 20), summing to `memberships` (each at least 1, at most `users`).
fn group_sizes(size: Size) -> Vec<usize> {
    falloff(size.groups, size.memberships, size.users)
}

/// `groups` sizes falling off as 1/(g + 20), summing to about `memberships` (each at least 1, at most
/// `users`): a few large groups and many of tens or hundreds of people.
pub fn falloff(groups: usize, memberships: usize, users: usize) -> Vec<usize> {
    let weight = |g: usize| 1.0 / (g as f64 + 20.0);
    let total: f64 = (0..groups).map(weight).sum();
    (0..groups)
        .map(|g| ((memberships as f64 * weight(g) / total).round() as usize).clamp(1, users.max(1)))
        .collect()
}

/// The members of group `g`: a run of `len` users from a start spread over the org.
pub fn members(g: usize, len: usize, users: usize) -> impl Iterator<Item = usize> {
    let start = g.wrapping_mul(7_919) % users.max(1);
    (0..len).map(move |k| (start + k) % users.max(1))
}

/// The org, built in memory (a YAML file of 1.3 million memberships is slow to write and to parse).
pub fn generate(size: Size) -> Org {
    let users = (0..size.users)
        .map(|n| SeedUser {
            login: login(n),
            email: None,
            first_name: "User".into(),
            last_name: format!("N{n}"),
            department: Some(format!("dept-{}", n % 40)),
            title: None,
            manager: None,
            city: None,
            employee_number: Some(n.to_string()),
            employment_status: None,
            status: SeedStatus::Active,
            password: None,
            extra: Default::default(),
        })
        .collect();
    let sizes = group_sizes(size);
    let app_label = |a: usize| format!("App {a}");
    // App a is assigned to groups from the second half (hundreds of people, not thousands).
    let app_groups = |a: usize| -> Vec<usize> {
        (0..APP_GROUPS)
            .map(|k| {
                size.groups / 2 + (a * APP_GROUPS + k) % (size.groups - size.groups / 2).max(1)
            })
            .filter(|g| *g < size.groups)
            .collect()
    };
    let mut apps_of_group: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for a in 0..size.apps {
        for g in app_groups(a) {
            apps_of_group.entry(g).or_default().push(app_label(a));
        }
    }
    let groups = sizes
        .iter()
        .enumerate()
        .map(|(g, &len)| SeedGroup {
            name: format!("group-{g}"),
            description: None,
            members: members(g, len, size.users).map(login).collect(),
            apps: apps_of_group.remove(&g).unwrap_or_default(),
        })
        .collect();
    let apps = (0..size.apps)
        .map(|a| SeedApp {
            name: format!("app{a}"),
            label: app_label(a),
            users: (0..APP_DIRECT_USERS)
                .map(|k| login((a * 131 + k * 977) % size.users.max(1)))
                .collect(),
        })
        .collect();
    org_of(
        OktaSeed {
            users,
            groups,
            apps,
            ..Default::default()
        },
        None,
        None,
    )
}

/// An organisation of the given sections and no other system.
pub fn org_of(
    okta: OktaSeed,
    google: Option<grantflow_sandbox::google::GoogleSeed>,
    github: Option<grantflow_sandbox::github::GithubSeed>,
) -> Org {
    Org {
        okta,
        google,
        github,
        gitlab: None,
        slack: None,
        opa: None,
        datadog: None,
        aws: None,
        scim: None,
        jira: None,
        salesforce: None,
        bamboohr: None,
        vault: None,
        smtp: None,
    }
}

/// Calls a list of `items` takes at `page` a page (an empty list still takes one).
pub fn pages(items: usize, page: usize) -> usize {
    items.div_ceil(page).max(1)
}

/// Calls a full sync needs per bucket, from the org as generated: (bucket, calls, what they are).
pub fn calls(org: &Org) -> Vec<(&'static str, usize, String)> {
    let seed = &org.okta;
    let users = seed.users.len();
    // The emulator's built-in Everyone group holds every user.
    let member_pages: usize = seed
        .groups
        .iter()
        .map(|g| pages(g.members.len(), MEMBERS_PAGE))
        .sum::<usize>()
        + pages(users, MEMBERS_PAGE);
    let groups_total = seed.groups.len() + 1;
    let mut app_groups: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (g, group) in seed.groups.iter().enumerate() {
        for label in &group.apps {
            app_groups.entry(label.as_str()).or_default().insert(g);
        }
    }
    let index: BTreeMap<&str, usize> = seed
        .users
        .iter()
        .enumerate()
        .map(|(n, u)| (u.login.as_str(), n))
        .collect();
    let app_pages: usize = seed
        .apps
        .iter()
        .map(|app| {
            let groups = app_groups.get(app.label.as_str());
            let mut assigned: BTreeSet<usize> = app
                .users
                .iter()
                .filter_map(|l| index.get(l.as_str()).copied())
                .collect();
            for g in groups.into_iter().flatten() {
                assigned.extend(
                    seed.groups[*g]
                        .members
                        .iter()
                        .filter_map(|l| index.get(l.as_str()).copied()),
                );
            }
            pages(groups.map_or(0, BTreeSet::len), APP_GROUPS_PAGE)
                + pages(assigned.len(), APP_USERS_PAGE)
                + 1 // group push mappings
        })
        .sum();
    vec![
        (
            "users",
            pages(users, USERS_PAGE) + 1,
            format!("{users} users at {USERS_PAGE} + the DEPROVISIONED search"),
        ),
        (
            "groups",
            pages(groups_total, GROUPS_PAGE) + member_pages + 1,
            format!(
                "{groups_total} groups at {GROUPS_PAGE}, {member_pages} member pages at {MEMBERS_PAGE}, group rules"
            ),
        ),
        (
            "apps",
            pages(seed.apps.len(), APPS_PAGE) + app_pages,
            format!(
                "{} apps at {APPS_PAGE}, then per app its groups, its users at {APP_USERS_PAGE} and its group pushes",
                seed.apps.len()
            ),
        ),
        ("other", 1, "the user schema".into()),
    ]
}

async fn admin_get(sandbox: &RunningSandbox, what: &str) -> anyhow::Result<serde_json::Value> {
    admin_get_of(sandbox, "okta", what).await
}

/// `GET /__sandbox/{what}` of `system`'s emulator.
pub async fn admin_get_of(
    sandbox: &RunningSandbox,
    system: &str,
    what: &str,
) -> anyhow::Result<serde_json::Value> {
    let url = format!("{}/{what}", sandbox.info.systems[system].admin_url);
    Ok(reqwest::get(url).await?.error_for_status()?.json().await?)
}

/// Sets the rate limits (`{}` keeps them) and starts every window afresh.
async fn reset_windows(
    sandbox: &RunningSandbox,
    settings: serde_json::Value,
) -> anyhow::Result<()> {
    reset_windows_of(sandbox, "okta", settings).await
}

/// Sets `system`'s rate limits (`{}` keeps them) and starts every window afresh.
pub async fn reset_windows_of(
    sandbox: &RunningSandbox,
    system: &str,
    settings: serde_json::Value,
) -> anyhow::Result<()> {
    let url = format!("{}/rate-limits", sandbox.info.systems[system].admin_url);
    reqwest::Client::new()
        .post(url)
        .json(&settings)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

fn throttled(counters: &serde_json::Value) -> u64 {
    counters["throttled"]
        .as_object()
        .map(|b| b.values().filter_map(serde_json::Value::as_u64).sum())
        .unwrap_or(0)
}

/// Median seconds of `n` reads of `path` (outside the measured run; the windows are reset after).
async fn latency(sandbox: &RunningSandbox, path: &str, n: usize) -> anyhow::Result<f64> {
    latency_of(sandbox, "okta", "SSWS", path.to_string(), n).await
}

/// [`latency`] of `system`, its token sent as `Authorization: {scheme} …`.
pub async fn latency_of(
    sandbox: &RunningSandbox,
    system: &str,
    scheme: &str,
    path: String,
    n: usize,
) -> anyhow::Result<f64> {
    let emulator = &sandbox.info.systems[system];
    let client = reqwest::Client::new();
    let mut times = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        client
            .get(format!("{}{path}", emulator.base_url))
            .header(
                "Authorization",
                format!("{scheme} {}", emulator.credentials["token"]),
            )
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times.get(times.len() / 2).copied().unwrap_or(0.0))
}

/// What the sync measured, as the child process reports it.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Measured {
    pub seconds: f64,
    pub peak_rss_mb: f64,
    pub accounts: usize,
    pub resources: usize,
    pub grants: usize,
    pub resource_grants: usize,
}

impl Measured {
    /// The snapshot's counts after a sync that took `seconds`, with this process's peak memory.
    fn of(snapshot: &Snapshot, seconds: f64) -> Self {
        Self {
            seconds,
            peak_rss_mb: crate::peak_rss_mb(),
            accounts: snapshot.accounts.len(),
            resources: snapshot.resources.len(),
            grants: snapshot.grants.len(),
            resource_grants: snapshot.resource_grants.len(),
        }
    }
}

/// One term of a lower bound: `calls` to a bucket that allows `limit` per `window` seconds.
pub struct Term {
    pub bucket: String,
    pub calls: usize,
    pub limit: u64,
    pub window: u64,
    pub what: String,
}

/// The lower bound of independent buckets (the slowest bucket's windows before its last call's, plus that
/// call's latency, or the dependency chain when that is longer), each term printed when `print`.
pub fn bound_of(terms: &[Term], (page, chain): (f64, f64), print: bool) -> f64 {
    let mut slowest: f64 = 0.0;
    for term in terms {
        let limit = term.limit.max(1) as usize;
        // Fixed windows from the bucket's first call: the last of `calls` is in window ceil(calls/limit).
        let windows = term.calls.div_ceil(limit);
        let seconds = (windows.saturating_sub(1) as u64 * term.window) as f64;
        if print {
            println!(
                "  bucket {:<22} {:>6} calls / {:>4} per {:>4} s -> {windows:>3} windows, {seconds:>7.1} s  ({})",
                term.bucket, term.calls, limit, term.window, term.what
            );
        }
        slowest = slowest.max(seconds);
    }
    let bound = (slowest + page).max(chain);
    if print {
        println!(
            "  + latency of the last call {page:.3} s; dependency chain (list, then a page it leads to) {chain:.3} s; bound {bound:.1} s"
        );
    }
    bound
}

/// Runs `sync-client` for `system` on the sandbox `info` file and reads what it measured.
pub async fn measure_in_child(info: &Path, system: &str) -> anyhow::Result<Measured> {
    let exe = std::env::current_exe()?;
    let output = tokio::process::Command::new(exe)
        .arg("sync-client")
        .arg(info)
        .arg("--system")
        .arg(system)
        .output()
        .await?;
    anyhow::ensure!(
        output.status.success(),
        "the {system} sync failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// Requests and refusals `system`'s emulator counted (`/__sandbox/calls`), summed over its buckets.
pub async fn calls_counted(sandbox: &RunningSandbox, system: &str) -> anyhow::Result<(u64, u64)> {
    let counted = admin_get_of(sandbox, system, "calls").await?;
    let sum = |field: &str| -> u64 {
        counted["buckets"]
            .as_object()
            .map(|b| b.values().filter_map(|v| v[field].as_u64()).sum())
            .unwrap_or(0)
    };
    Ok((sum("calls"), sum("refused")))
}

/// The context a sync child builds its connector in: no share held back for the tenant's other users,
/// so the bound is the vendor's full limits.
fn sync_context(dir: &Path) -> BuildContext {
    BuildContext {
        base_dir: dir.to_path_buf(),
        budgets: Arc::new(RateBudgets::new(0.0)),
        clock: Arc::new(grantflow_model::SystemClock),
        limits: Default::default(),
    }
}

/// Writes `system`'s token from the sandbox `info` into `dir`, as a secret file the connector reads.
fn token_file(info: &serde_json::Value, system: &str, dir: &Path) -> anyhow::Result<SecretSource> {
    let path = dir.join(format!("{system}.token"));
    std::fs::write(
        &path,
        info["systems"][system]["credentials"]["token"]
            .as_str()
            .unwrap_or_default(),
    )?;
    Ok(SecretSource {
        env: None,
        file: Some(path),
    })
}

/// The lower bound and its terms; printed, and returned as seconds. Buckets are independent, so the bound is
/// the slowest bucket's: the windows before its last call's window, plus that call's latency, or the
/// dependency chain (a list, then a page it leads to) when that is longer.
fn bound(
    org: &Org,
    limits: &serde_json::Value,
    window: u64,
    latencies: (f64, f64),
    print: bool,
) -> f64 {
    let terms: Vec<Term> = calls(org)
        .into_iter()
        .map(|(bucket, calls, what)| Term {
            bucket: bucket.into(),
            calls,
            limit: limits["buckets"][bucket].as_u64().unwrap_or(u64::MAX),
            window,
            what,
        })
        .collect();
    bound_of(&terms, latencies, print)
}

pub struct Options {
    pub size: Size,
    pub window_seconds: u64,
    /// `{"buckets": {…}}` lowering Okta's limits (the quick run), or `{}`.
    pub limits: serde_json::Value,
    pub baseline: bool,
}

/// Starts the emulator with the generated org, syncs it in a child process and prints every figure;
/// returns (sync seconds, lower bound seconds).
pub async fn run(options: Options, print: bool) -> anyhow::Result<(f64, f64)> {
    let size = options.size;
    let generated = Instant::now();
    let org = generate(size);
    let sandbox = grantflow_sandbox::start(
        &org,
        SandboxOptions {
            rate_limit_window_seconds: options.window_seconds,
            ..SandboxOptions::default()
        },
    )
    .await?;
    if print {
        println!(
            "sync: okta org of {} users, {} groups ({} memberships, + Everyone), {} apps; emulator seeded in {:.1} s",
            size.users,
            size.groups,
            org.okta
                .groups
                .iter()
                .map(|g| g.members.len())
                .sum::<usize>(),
            size.apps,
            generated.elapsed().as_secs_f64()
        );
    }
    let dir = tempfile::tempdir()?;
    let info = dir.path().join("info.json");
    std::fs::write(&info, serde_json::to_string(&sandbox.info)?)?;

    // A page's latency (the last call of the last window still takes one), and the chains: the group list
    // (one page of every group) or the first app page, then a page they lead to.
    let page = latency(&sandbox, "/api/v1/users?limit=200", 3).await?;
    let chain = latency(&sandbox, "/api/v1/groups?limit=10000", 3)
        .await?
        .max(latency(&sandbox, "/api/v1/apps?limit=200", 3).await?)
        + page;
    reset_windows(&sandbox, options.limits.clone()).await?;
    let limits = admin_get(&sandbox, "rate-limits").await?;
    let lower = bound(&org, &limits, options.window_seconds, (page, chain), print);
    drop(org);

    let measured = measure_in_child(&info, "okta").await?;
    let refused = throttled(&admin_get(&sandbox, "counters").await?);
    if print {
        println!(
            "grantflow: sync {:.1} s; lower bound {lower:.1} s; ratio {:.3}; peak RSS {:.0} MB; 429s {refused}; read {} accounts, {} resources, {} grants, {} resource grants",
            measured.seconds,
            measured.seconds / lower.max(1e-9),
            measured.peak_rss_mb,
            measured.accounts,
            measured.resources,
            measured.grants,
            measured.resource_grants,
        );
    }

    if options.baseline {
        reset_windows(&sandbox, options.limits.clone()).await?;
        let before = throttled(&admin_get(&sandbox, "counters").await?);
        let result = crate::baseline::run_script("baseline_sync.py", &[info.as_os_str()]).await?;
        let seconds = result["seconds"].as_f64().unwrap_or(f64::NAN);
        let refused = throttled(&admin_get(&sandbox, "counters").await?) - before;
        println!(
            "baseline (okta Python SDK, its paging, one list after another): {seconds:.1} s; ratio to the bound {:.3}; peak RSS {:.0} MB; 429s {refused}; read {} users, {} groups, {} memberships, {} apps, {} app users; grantflow is {:.2}x faster",
            seconds / lower.max(1e-9),
            result["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
            result["users"],
            result["groups"],
            result["memberships"],
            result["apps"],
            result["app_users"],
            seconds / measured.seconds,
        );
    }
    sandbox.shutdown().await;
    Ok((measured.seconds, lower))
}

/// The child process: syncs `system`'s org the sandbox `info` file describes into a snapshot, as
/// `grantflow sync` does, and prints what it measured as JSON.
pub async fn client(info: &Path, system: &str) -> anyhow::Result<()> {
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(info)?)?;
    let dir = tempfile::tempdir()?;
    let context = sync_context(dir.path());
    let base_url = info["systems"][system]["base_url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let token = token_file(&info, system, dir.path())?;
    let name = ConnectionName::new(system);
    let connector: Box<dyn Connector> = match system {
        "okta" => Box::new(
            OktaConnector::new(
                name.clone(),
                &OktaConfig {
                    base_url,
                    token: Some(token),
                    auth: None,
                    timeout_seconds: 60,
                    allow_insecure_http: false,
                    max_rate_limit_waits: 100,
                    sync: Default::default(),
                    event_hook: None,
                },
                &context,
            )
            .map_err(|f| anyhow::anyhow!("{f}"))?,
        ),
        "github" => Box::new(github::connector(base_url, token, &context)?),
        "google" => Box::new(google::connector(base_url, token, &context)?),
        other => anyhow::bail!("no sync benchmark for {other}"),
    };
    let mut snapshot = Snapshot::new(name, SystemKind::new(system));
    let started = Instant::now();
    connector
        .sync(&mut snapshot)
        .await
        .map_err(|f| anyhow::anyhow!("{system} sync: {f}"))?;
    let measured = Measured::of(&snapshot, started.elapsed().as_secs_f64());
    println!("{}", serde_json::to_string(&measured)?);
    Ok(())
}

/// The guard's quick measure: sync time over the lower bound for a small org, with Okta's buckets scaled
/// down to 4-second windows so the bound is a few windows long.
pub fn quick_ratio(print: bool) -> anyhow::Result<f64> {
    let options = Options {
        size: Size {
            // Few members a group: the debug build `.ci/run` uses spends its time on JSON, not windows,
            // when pages are full.
            users: 1_000,
            groups: 100,
            memberships: 5_000,
            apps: 10,
        },
        // Okta announces resets in whole seconds, so each reset waited for costs up to a second more than
        // the window: 4 s windows keep that from swamping the measure.
        window_seconds: 4,
        limits: serde_json::json!({"buckets": {"users": 10, "groups": 40, "apps": 11}}),
        baseline: false,
    };
    let (seconds, lower) = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(run(options, print))
    })?;
    Ok(seconds / lower.max(1e-9))
}

/// The guard's quick measure of the GitHub sync: time over the lower bound for a small organisation with
/// the `core` budget scaled down to 60 calls per 4 s window.
pub fn github_quick_ratio(print: bool) -> anyhow::Result<f64> {
    let (seconds, lower) = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(github::run(github::Options::quick(), print))
    })?;
    Ok(seconds / lower.max(1e-9))
}
