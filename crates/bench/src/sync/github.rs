//! The full sync of a generated GitHub organisation through the emulator at GitHub's documented limits:
//! the primary `core` budget (5,000 requests an hour for a token; the emulator enforces it) and the
//! secondary limit of 900 points a minute per REST endpoint (a GET is one point; documented, not enforced
//! by the emulator, and paced by the connector), against the lower bound those give.

use grantflow_connectors::github::{GithubConfig, GithubConnector};
use grantflow_connectors::{BuildContext, SecretSource};
use grantflow_model::ConnectionName;
use grantflow_sandbox::SandboxOptions;
use grantflow_sandbox::github::{
    GithubSeed, GithubSeedRepo, GithubSeedTeam, GithubSeedUser, SeedMembership,
};
use std::collections::BTreeMap;
use std::time::Instant;

use super::{Term, bound_of, calls_counted, falloff, members, pages};

/// The organisation's login.
pub const ORG: &str = "bench-org";
/// The most GitHub's lists serve a page, and what the connector and the baseline ask for.
const PAGE: usize = 100;
/// The first members are org admins (the connector reads the admins' list to mark them).
const ADMINS: usize = 20;
/// Repositories each team holds a permission on.
const REPOS_PER_TEAM: usize = 3;
/// One in this many of a team's people is a maintainer.
const MAINTAINER_EVERY: usize = 10;
/// GitHub's secondary limit: points a minute per REST endpoint (docs.github.com, "Rate limits for the
/// REST API").
const POINTS_PER_MINUTE: u64 = 900;
const PERMISSIONS: [&str; 5] = ["pull", "triage", "push", "maintain", "admin"];

/// The organisation's size.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub members: usize,
    pub teams: usize,
    /// Team memberships in all (maintainers included).
    pub memberships: usize,
    pub repos: usize,
}

fn login(n: usize) -> String {
    format!("member{n}")
}

/// The organisation, built in memory: members (the first [`ADMINS`] admins), repositories, and teams
/// whose sizes fall off as in the Okta org, each with [`REPOS_PER_TEAM`] repository permissions.
pub fn generate(size: Size) -> GithubSeed {
    let users = (0..size.members)
        .map(|n| GithubSeedUser {
            login: login(n),
            name: format!("Member {n}"),
            email: format!("member{n}@example.com"),
            membership: if n < ADMINS {
                SeedMembership::Admin
            } else {
                SeedMembership::Member
            },
        })
        .collect();
    let repos = (0..size.repos)
        .map(|r| GithubSeedRepo {
            name: format!("repo-{r}"),
            description: None,
            private: true,
        })
        .collect();
    let teams = falloff(size.teams, size.memberships, size.members)
        .into_iter()
        .enumerate()
        .map(|(t, len)| {
            let (mut people, mut maintainers) = (Vec::new(), Vec::new());
            for (k, n) in members(t, len, size.members).enumerate() {
                if k % MAINTAINER_EVERY == 0 {
                    maintainers.push(login(n));
                } else {
                    people.push(login(n));
                }
            }
            let repos: BTreeMap<String, String> = (0..REPOS_PER_TEAM)
                .filter(|_| size.repos > 0)
                .map(|k| {
                    (
                        format!("repo-{}", (t * 7 + k * 13) % size.repos.max(1)),
                        PERMISSIONS[(t + k) % PERMISSIONS.len()].to_string(),
                    )
                })
                .collect();
            GithubSeedTeam {
                name: format!("team-{t}"),
                description: None,
                members: people,
                maintainers,
                repos,
            }
        })
        .collect();
    GithubSeed {
        org: ORG.into(),
        users,
        repos,
        teams,
    }
}

/// The bound's terms, from the organisation as generated: the `core` budget (`limit` per `window`), and
/// the secondary limit's points per endpoint the sync reads.
pub fn terms(seed: &GithubSeed, limit: u64, window: u64) -> Vec<Term> {
    let admins = seed
        .users
        .iter()
        .filter(|u| u.membership == SeedMembership::Admin)
        .count();
    let org_members = pages(admins, PAGE) + pages(seed.users.len(), PAGE);
    let team_members: usize = seed
        .teams
        .iter()
        .map(|t| pages(t.members.len(), PAGE) + pages(t.maintainers.len(), PAGE))
        .sum();
    let team_repos: usize = seed.teams.iter().map(|t| pages(t.repos.len(), PAGE)).sum();
    // The invitations, the repositories and the teams.
    let other = 1 + pages(seed.repos.len(), PAGE) + pages(seed.teams.len(), PAGE);
    let point = |bucket: &str, calls: usize, what: String| Term {
        bucket: format!("points:{bucket}"),
        calls,
        limit: POINTS_PER_MINUTE,
        window: 60,
        what,
    };
    vec![
        Term {
            bucket: "core".into(),
            calls: org_members + team_members + team_repos + other,
            limit,
            window,
            what: "every call".into(),
        },
        point(
            "org-members",
            org_members,
            format!("the admins and the {} members at {PAGE}", seed.users.len()),
        ),
        point(
            "team-members",
            team_members,
            format!(
                "{} teams' members and maintainers at {PAGE}",
                seed.teams.len()
            ),
        ),
        point("team-repos", team_repos, "each team's repositories".into()),
        point(
            "other",
            other,
            "the invitations, the repositories and the teams".into(),
        ),
    ]
}

/// The connector the sync child uses, reading [`ORG`] (no `/user/orgs` call).
pub fn connector(
    base_url: String,
    token: SecretSource,
    context: &BuildContext,
) -> anyhow::Result<GithubConnector> {
    let config = GithubConfig {
        base_url,
        allow_insecure_http: false,
        token,
        organization: Some(ORG.into()),
        timeout_seconds: 60,
        max_rate_limit_waits: 100,
    };
    GithubConnector::new(ConnectionName::new("github"), &config, context)
        .map_err(|f| anyhow::anyhow!("{f}"))
}

pub struct Options {
    pub size: Size,
    /// The `core` window (GitHub's is an hour).
    pub window_seconds: u64,
    /// `{"limit": n}` lowering the `core` budget (the quick run), or `{}`.
    pub limits: serde_json::Value,
    pub baseline: bool,
}

impl Options {
    /// The guard's small run: the `core` budget at 60 calls per 4 s window, so the bound is a few windows;
    /// the secondary limit's points are not reached.
    pub fn quick() -> Self {
        Self {
            size: Size {
                members: 1_000,
                teams: 50,
                memberships: 3_000,
                repos: 50,
            },
            window_seconds: 4,
            limits: serde_json::json!({"limit": 60}),
            baseline: false,
        }
    }
}

/// Starts the emulator with the generated organisation, syncs it in a child process and prints every
/// figure; returns (sync seconds, lower bound seconds).
pub async fn run(options: Options, print: bool) -> anyhow::Result<(f64, f64)> {
    let size = options.size;
    let generated = Instant::now();
    let seed = generate(size);
    let memberships: usize = seed
        .teams
        .iter()
        .map(|t| t.members.len() + t.maintainers.len())
        .sum();
    let org = super::org_of(Default::default(), None, Some(seed));
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
            "sync: github org of {} members, {} teams ({memberships} team memberships), {} repos; emulator seeded in {:.1} s",
            size.members,
            size.teams,
            size.repos,
            generated.elapsed().as_secs_f64()
        );
    }
    let dir = tempfile::tempdir()?;
    let info = dir.path().join("info.json");
    std::fs::write(&info, serde_json::to_string(&sandbox.info)?)?;

    let read = |path: String| super::latency_of(&sandbox, "github", "token", path, 3);
    let page = read(format!("/orgs/{ORG}/members?per_page={PAGE}")).await?;
    let chain = read(format!("/orgs/{ORG}/teams?per_page={PAGE}")).await? + page;
    super::reset_windows_of(&sandbox, "github", options.limits.clone()).await?;
    let limits = super::admin_get_of(&sandbox, "github", "rate-limits").await?;
    let (limit, window) = (
        limits["limit"].as_u64().unwrap_or(5_000),
        limits["window_seconds"].as_u64().unwrap_or(3_600),
    );
    let Some(seed) = org.github.as_ref() else {
        anyhow::bail!("the generated org has no github section");
    };
    let terms = terms(seed, limit, window);
    let expected = terms.first().map_or(0, |t| t.calls);
    let lower = bound_of(&terms, (page, chain), print);
    drop(org);

    let (calls_before, refused_before) = calls_counted(&sandbox, "github").await?;
    let measured = super::measure_in_child(&info, "github").await?;
    let (calls_after, refused_after) = calls_counted(&sandbox, "github").await?;
    if print {
        println!(
            "grantflow: sync {:.1} s; lower bound {lower:.1} s; ratio {:.3}; peak RSS {:.0} MB; {} calls (the bound counts {expected}), {} refused; read {} accounts, {} resources, {} grants, {} resource grants",
            measured.seconds,
            measured.seconds / lower.max(1e-9),
            measured.peak_rss_mb,
            calls_after - calls_before,
            refused_after - refused_before,
            measured.accounts,
            measured.resources,
            measured.grants,
            measured.resource_grants,
        );
    }

    if options.baseline {
        super::reset_windows_of(&sandbox, "github", options.limits.clone()).await?;
        let (calls_before, refused_before) = calls_counted(&sandbox, "github").await?;
        let result = crate::baseline::run_script(
            "baseline_sync_github.py",
            &[info.as_os_str(), ORG.as_ref()],
        )
        .await?;
        let (calls_after, refused_after) = calls_counted(&sandbox, "github").await?;
        let seconds = result["seconds"].as_f64().unwrap_or(f64::NAN);
        println!(
            "baseline (PyGithub, its paging, one list after another): {seconds:.1} s; ratio to the bound {:.3}; peak RSS {:.0} MB; {} calls, {} refused; read {} members, {} admins, {} teams, {} team memberships, {} team repos, {} repos; grantflow is {:.2}x faster",
            seconds / lower.max(1e-9),
            result["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
            calls_after - calls_before,
            refused_after - refused_before,
            result["members"],
            result["admins"],
            result["teams"],
            result["team_memberships"],
            result["team_repos"],
            result["repos"],
            seconds / measured.seconds,
        );
    }
    sandbox.shutdown().await;
    Ok((measured.seconds, lower))
}
