//! The full sync of a generated Google Workspace domain through the Directory API emulator at Google's
//! default quota (2,400 queries a minute per user; the emulator enforces it with 403
//! `userRateLimitExceeded`), against the lower bound it gives.

use grantflow_connectors::google::{GoogleConfig, GoogleConnector};
use grantflow_connectors::{BuildContext, SecretSource};
use grantflow_model::ConnectionName;
use grantflow_sandbox::SandboxOptions;
use grantflow_sandbox::google::{GoogleSeed, GoogleSeedGroup, GoogleSeedMember, GoogleSeedUser};
use std::time::Instant;

use super::{Term, bound_of, calls_counted, falloff, members, pages};

/// The customer id the emulator answers for `my_customer`.
const CUSTOMER: &str = "C01bench";
/// The most each list serves a page, and what the connector and the baseline ask for.
const USERS_PAGE: usize = 500;
const GROUPS_PAGE: usize = 200;
const MEMBERS_PAGE: usize = 200;
/// One in this many of a group's members is a manager, and the first an owner.
const MANAGER_EVERY: usize = 25;

/// The domain's size.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
}

fn email(n: usize) -> String {
    format!("user{n}@example.com")
}

/// The domain, built in memory: users, and groups whose sizes fall off as in the Okta org, each with an
/// owner and a few managers.
pub fn generate(size: Size) -> GoogleSeed {
    let users = (0..size.users)
        .map(|n| GoogleSeedUser {
            primary_email: email(n),
            given_name: "User".into(),
            family_name: format!("N{n}"),
            suspended: false,
            is_admin: n == 0,
            org_unit_path: None,
        })
        .collect();
    let groups = falloff(size.groups, size.memberships, size.users)
        .into_iter()
        .enumerate()
        .map(|(g, len)| GoogleSeedGroup {
            email: format!("group-{g}@example.com"),
            name: format!("Group {g}"),
            description: None,
            members: members(g, len, size.users)
                .enumerate()
                .map(|(k, n)| GoogleSeedMember {
                    email: email(n),
                    role: match k {
                        0 => "OWNER",
                        k if k % MANAGER_EVERY == 0 => "MANAGER",
                        _ => "MEMBER",
                    }
                    .into(),
                })
                .collect(),
        })
        .collect();
    GoogleSeed {
        customer_id: CUSTOMER.into(),
        users,
        groups,
    }
}

/// The bound's one term: every call is charged to the Directory API's quota (`limit` per `window`).
pub fn terms(seed: &GoogleSeed, limit: u64, window: u64) -> Vec<Term> {
    let users = pages(seed.users.len(), USERS_PAGE);
    let groups = pages(seed.groups.len(), GROUPS_PAGE);
    let member_pages: usize = seed
        .groups
        .iter()
        .map(|g| pages(g.members.len(), MEMBERS_PAGE))
        .sum();
    vec![Term {
        bucket: "directory".into(),
        calls: users + groups + member_pages,
        limit,
        window,
        what: format!(
            "{} users at {USERS_PAGE}, {} groups at {GROUPS_PAGE}, {member_pages} member pages at {MEMBERS_PAGE}",
            seed.users.len(),
            seed.groups.len()
        ),
    }]
}

/// The connector the sync child uses.
pub fn connector(
    base_url: String,
    token: SecretSource,
    context: &BuildContext,
) -> anyhow::Result<GoogleConnector> {
    let config = GoogleConfig {
        base_url,
        allow_insecure_http: false,
        token,
        customer: "my_customer".into(),
        timeout_seconds: 60,
        max_rate_limit_waits: 100,
    };
    GoogleConnector::new(ConnectionName::new("google"), &config, context)
        .map_err(|f| anyhow::anyhow!("{f}"))
}

pub struct Options {
    pub size: Size,
    /// The quota's window (Google's is a minute; the connector paces itself by the documented minute, so a
    /// shorter window only lets the emulator allow more than the connector sends).
    pub window_seconds: u64,
    pub baseline: bool,
}

/// Starts the emulator with the generated domain, syncs it in a child process and prints every figure;
/// returns (sync seconds, lower bound seconds).
pub async fn run(options: Options, print: bool) -> anyhow::Result<(f64, f64)> {
    let size = options.size;
    let generated = Instant::now();
    let seed = generate(size);
    let memberships: usize = seed.groups.iter().map(|g| g.members.len()).sum();
    let org = super::org_of(Default::default(), Some(seed), None);
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
            "sync: google domain of {} users, {} groups ({memberships} memberships); emulator seeded in {:.1} s",
            size.users,
            size.groups,
            generated.elapsed().as_secs_f64()
        );
    }
    let dir = tempfile::tempdir()?;
    let info = dir.path().join("info.json");
    std::fs::write(&info, serde_json::to_string(&sandbox.info)?)?;

    let read = |path: String| super::latency_of(&sandbox, "google", "Bearer", path, 3);
    let v1 = "/admin/directory/v1";
    let page = read(format!(
        "{v1}/users?customer=my_customer&maxResults={USERS_PAGE}"
    ))
    .await?;
    let chain = read(format!(
        "{v1}/groups?customer=my_customer&maxResults={GROUPS_PAGE}"
    ))
    .await?
        + read(format!(
            "{v1}/groups/group-0@example.com/members?maxResults={MEMBERS_PAGE}"
        ))
        .await?;
    super::reset_windows_of(&sandbox, "google", serde_json::json!({})).await?;
    let limits = super::admin_get_of(&sandbox, "google", "rate-limits").await?;
    let (limit, window) = (
        limits["limit"].as_u64().unwrap_or(2_400),
        limits["window_seconds"].as_u64().unwrap_or(60),
    );
    let Some(seed) = org.google.as_ref() else {
        anyhow::bail!("the generated org has no google section");
    };
    let terms = terms(seed, limit, window);
    let expected = terms.first().map_or(0, |t| t.calls);
    let lower = bound_of(&terms, (page, chain), print);
    drop(org);

    let (calls_before, refused_before) = calls_counted(&sandbox, "google").await?;
    let measured = super::measure_in_child(&info, "google").await?;
    let (calls_after, refused_after) = calls_counted(&sandbox, "google").await?;
    if print {
        println!(
            "grantflow: sync {:.1} s; lower bound {lower:.1} s; ratio {:.3}; peak RSS {:.0} MB; {} calls (the bound counts {expected}), {} refused; read {} accounts, {} resources, {} grants",
            measured.seconds,
            measured.seconds / lower.max(1e-9),
            measured.peak_rss_mb,
            calls_after - calls_before,
            refused_after - refused_before,
            measured.accounts,
            measured.resources,
            measured.grants,
        );
    }

    if options.baseline {
        super::reset_windows_of(&sandbox, "google", serde_json::json!({})).await?;
        let (calls_before, refused_before) = calls_counted(&sandbox, "google").await?;
        let result =
            crate::baseline::run_script("baseline_sync_google.py", &[info.as_os_str()]).await?;
        let (calls_after, refused_after) = calls_counted(&sandbox, "google").await?;
        let seconds = result["seconds"].as_f64().unwrap_or(f64::NAN);
        println!(
            "baseline (google-api-python-client, list_next paging, one list after another): {seconds:.1} s; ratio to the bound {:.3}; peak RSS {:.0} MB; {} calls, {} refused; read {} users, {} groups, {} memberships; grantflow is {:.2}x faster",
            seconds / lower.max(1e-9),
            result["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
            calls_after - calls_before,
            refused_after - refused_before,
            result["users"],
            result["groups"],
            result["memberships"],
            seconds / measured.seconds,
        );
    }
    sandbox.shutdown().await;
    Ok((measured.seconds, lower))
}
