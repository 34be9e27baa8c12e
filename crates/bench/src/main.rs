//! `grantflow-bench`: the figures in BENCHMARKS.md. Benchmarks, not tests:
//! each prints what it measured; `--quick` runs a small version as a smoke
//! check.
//!
//! - `apply`: operations through the engine against the Okta emulator's
//!   rate limits; makespan against the rate-limit lower bound, 429s seen,
//!   and (with `--baseline`) a sequential script using Okta's Python SDK.
//! - `onboard`: N new hires onboarded across seven systems through the engine, every emulator at its
//!   vendor's documented rate limits with a per-call latency; makespan against its lower bound (each term
//!   printed), 429s, and (with `--baseline`) each vendor's Python client called sequentially.
//! - `plan`: planning a generated organisation of N people.
//! - `drift`: drift detection over the same organisation.
//! - `snapshot`: writing a sync snapshot of N grants to SQLite (or PostgreSQL).
//! - `audit`: appending audit events in batches, then verifying the chain.
//! - `all`: the regression guard: how each of plan, drift and the snapshot
//!   digest scales (4× the input over 1×), against `baseline.json`.
//! - `sync`: a full sync of a generated Okta org, GitHub organisation and Google domain at the vendors'
//!   limits against the pagination-and-rate-limit lower bound, peak memory, and (with `--baseline`) the
//!   same lists read with the vendors' Python clients.
//! - `flow-steps`: the workflow engine's overhead per durable step (1,000 `set` cards; 1,000 `http` cards
//!   against a local echo server) as p50/p99, and durable steps/s of many independent runs.
//! - `api-org`: the organisation file of the API load benchmark
//!   (`crates/bench/api-load.sh`).

mod api_org;
mod apply;
mod audit;
mod baseline;
mod database;
mod flows;
mod guard;
mod onboard;
mod org;
mod revoke;
mod sync;

use clap::{Parser, Subcommand};

/// The systems `sync` measures.
#[derive(Clone, Copy, clap::ValueEnum)]
enum SyncSystem {
    All,
    Okta,
    Github,
    Google,
}

#[derive(Parser)]
#[command(name = "grantflow-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply N group-membership operations against the Okta emulator.
    Apply {
        #[arg(long, default_value_t = 2000)]
        operations: usize,
        /// Rate-limit window of the emulator (Okta's is 60 s).
        #[arg(long, default_value_t = 60)]
        window_seconds: u64,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Also time the same operations issued by a sequential script using
        /// Okta's Python SDK (needs the conformance venv: `cargo test -p
        /// grantflow-sandbox --test conformance` creates it).
        #[arg(long)]
        baseline: bool,
        /// Lower the `groups` bucket's budget per window (default: Okta's).
        #[arg(long)]
        bucket_limit: Option<u32>,
        /// A small, fast run: 120 operations, 40 per 2 s window.
        #[arg(long)]
        quick: bool,
    },
    /// Onboard N new hires across Okta (groups and apps), Google, GitHub, GitLab, Slack, Jira and AWS.
    Onboard {
        #[arg(long, default_value_t = 500)]
        hires: usize,
        /// Latency every emulated API call takes.
        #[arg(long, default_value_t = 80)]
        latency_ms: u64,
        /// Each call's latency is drawn from latency ± jitter.
        #[arg(long, default_value_t = 20)]
        jitter_ms: u64,
        /// Every emulator's rate-limit window (the vendors' are a minute).
        #[arg(long, default_value_t = 60)]
        window_seconds: u64,
        /// Budgets per window as a multiple of the vendors' per-minute figures.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Also time the same work done sequentially with each vendor's official Python client, against
        /// fresh emulators (needs the conformance venv: `cargo test -p grantflow-sandbox --test conformance`).
        #[arg(long)]
        baseline: bool,
        /// 40 hires, 20 ± 5 ms, 3 s windows at 0.3 of each per-minute budget (the vendors' rates × 6).
        #[arg(long)]
        quick: bool,
    },
    /// Plan a generated organisation.
    Plan {
        #[arg(long, default_value_t = 100_000)]
        people: usize,
        #[arg(long)]
        quick: bool,
    },
    /// Detect drift over a generated organisation.
    Drift {
        #[arg(long, default_value_t = 100_000)]
        people: usize,
        #[arg(long)]
        quick: bool,
    },
    /// Write the API load benchmark's organisation file (for `grantflow sandbox up --org`).
    ApiOrg {
        #[arg(long, default_value_t = 3_000)]
        people: usize,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Time-bound access: latency from each grant's expiry to its removal's vendor call, and requests/s to a
    /// queued plan.
    Revoke {
        #[arg(long, default_value_t = 1_000)]
        grants: usize,
        /// How long each grant lasts (at least 60 s).
        #[arg(long, default_value_t = 60)]
        duration_seconds: u64,
        /// The Okta emulator's rate-limit window (Okta's is 60 s; shorter keeps its limit out of the figure).
        #[arg(long, default_value_t = 10)]
        window_seconds: u64,
        /// 100 grants.
        #[arg(long)]
        quick: bool,
    },
    /// The regression guard: how plan, drift and the snapshot digest scale, against the stored
    /// baseline (fails on a regression). `.ci/run` runs it with `--quick`.
    All {
        #[arg(long)]
        quick: bool,
    },
    /// Full sync of a generated Okta org, GitHub organisation and Google domain through their emulators
    /// at the vendors' documented limits, each against its lower bound.
    Sync {
        /// Which system's sync to run.
        #[arg(long, value_enum, default_value_t = SyncSystem::All)]
        system: SyncSystem,
        #[arg(long, default_value_t = 100_000)]
        users: usize,
        #[arg(long, default_value_t = 5_000)]
        groups: usize,
        #[arg(long, default_value_t = 1_300_000)]
        memberships: usize,
        #[arg(long, default_value_t = 500)]
        apps: usize,
        /// The emulator's rate-limit window (Okta's is 60 s).
        #[arg(long, default_value_t = 60)]
        window_seconds: u64,
        /// GitHub: organisation members (the first 20 admins).
        #[arg(long, default_value_t = 20_000)]
        github_members: usize,
        #[arg(long, default_value_t = 1_000)]
        github_teams: usize,
        /// GitHub: team memberships in all (one in ten a maintainer).
        #[arg(long, default_value_t = 100_000)]
        github_memberships: usize,
        /// GitHub: repositories (each team holds a permission on three).
        #[arg(long, default_value_t = 2_000)]
        github_repos: usize,
        /// GitHub's `core` window (GitHub's is an hour; 5,000 calls a window).
        #[arg(long, default_value_t = 3_600)]
        github_window_seconds: u64,
        #[arg(long, default_value_t = 50_000)]
        google_users: usize,
        #[arg(long, default_value_t = 2_000)]
        google_groups: usize,
        #[arg(long, default_value_t = 400_000)]
        google_memberships: usize,
        /// The Directory API quota's window (Google's is a minute; 2,400 queries a window).
        #[arg(long, default_value_t = 60)]
        google_window_seconds: u64,
        /// Also read the same lists with the vendors' Python clients (okta, PyGithub,
        /// google-api-python-client; the conformance venv, or $GRANTFLOW_BENCH_PYTHON).
        #[arg(long)]
        baseline: bool,
        /// The guard's small runs: Okta 1,000 users, 100 groups, 10 apps, smaller buckets, 4 s windows;
        /// GitHub 1,000 members, 50 teams, 60 calls per 4 s window.
        #[arg(long)]
        quick: bool,
    },
    /// (Internal) the syncing side of `sync`, run as a child process so its memory is its own.
    #[command(hide = true)]
    SyncClient {
        info: std::path::PathBuf,
        #[arg(long, default_value = "okta")]
        system: String,
    },
    /// Write a sync snapshot with N grants to a fresh store.
    Snapshot {
        #[arg(long, default_value_t = 1_000_000)]
        grants: usize,
        /// A PostgreSQL server (a fresh schema is made and dropped); SQLite when absent.
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long)]
        quick: bool,
    },
    /// The workflow engine's per-step overhead (p50/p99) and durable steps/s, on SQLite and PostgreSQL.
    FlowSteps {
        /// A PostgreSQL server (a fresh schema is made and dropped) measured after SQLite.
        #[arg(long)]
        postgres: Option<String>,
        /// 200 cards a run, 100 independent runs.
        #[arg(long)]
        quick: bool,
    },
    /// Append N audit events in batches (each batch one durable commit), then verify the whole chain.
    Audit {
        #[arg(long, default_value_t = 10_000_000)]
        events: usize,
        #[arg(long, default_value_t = 5_000)]
        batch: usize,
        /// A PostgreSQL server (a fresh schema is made and dropped); SQLite when absent.
        #[arg(long)]
        postgres: Option<String>,
        /// Keep the chain in this SQLite file (appended to if it exists); `--events 0` times verify alone.
        #[arg(long)]
        sqlite: Option<std::path::PathBuf>,
        /// 100,000 events.
        #[arg(long)]
        quick: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match cli.command {
            Command::Apply {
                operations,
                window_seconds,
                concurrency,
                baseline,
                bucket_limit,
                quick,
            } => {
                let (operations, window_seconds, bucket_limit) = if quick {
                    (120, 2, Some(40))
                } else {
                    (operations, window_seconds, bucket_limit)
                };
                apply::run(
                    operations,
                    window_seconds,
                    bucket_limit,
                    concurrency,
                    baseline,
                )
                .await
            }
            Command::Onboard {
                hires,
                latency_ms,
                jitter_ms,
                window_seconds,
                scale,
                concurrency,
                baseline,
                quick,
            } => {
                let options = if quick {
                    onboard::Options {
                        baseline,
                        ..onboard::Options::quick()
                    }
                } else {
                    onboard::Options {
                        hires,
                        latency_ms,
                        jitter_ms,
                        window_seconds,
                        scale,
                        concurrency,
                        baseline,
                    }
                };
                onboard::run(options).await.map(|_| ())
            }
            Command::Plan { people, quick } => org::plan(if quick { 2_000 } else { people }),
            Command::Drift { people, quick } => org::drift(if quick { 2_000 } else { people }),
            Command::ApiOrg { people, out } => api_org::write(people, &out),
            Command::Revoke {
                grants,
                duration_seconds,
                window_seconds,
                quick,
            } => {
                revoke::run(
                    if quick { 100 } else { grants },
                    duration_seconds.max(60),
                    window_seconds,
                )
                .await
            }
            Command::All { quick } => guard::run(quick),
            Command::Sync {
                system,
                users,
                groups,
                memberships,
                apps,
                window_seconds,
                github_members,
                github_teams,
                github_memberships,
                github_repos,
                github_window_seconds,
                google_users,
                google_groups,
                google_memberships,
                google_window_seconds,
                baseline,
                quick,
            } => {
                let (okta, github, google) = match system {
                    SyncSystem::All => (true, true, true),
                    SyncSystem::Okta => (true, false, false),
                    SyncSystem::Github => (false, true, false),
                    SyncSystem::Google => (false, false, true),
                };
                if quick {
                    if okta {
                        let ratio = sync::quick_ratio(true)?;
                        println!("sync okta (quick): ratio to the lower bound {ratio:.3}");
                    }
                    if github {
                        let ratio = sync::github_quick_ratio(true)?;
                        println!("sync github (quick): ratio to the lower bound {ratio:.3}");
                    }
                    return Ok(());
                }
                if okta {
                    let options = sync::Options {
                        size: sync::Size {
                            users,
                            groups,
                            memberships,
                            apps,
                        },
                        window_seconds,
                        limits: serde_json::json!({}),
                        baseline,
                    };
                    sync::run(options, true).await?;
                }
                if github {
                    let options = sync::github::Options {
                        size: sync::github::Size {
                            members: github_members,
                            teams: github_teams,
                            memberships: github_memberships,
                            repos: github_repos,
                        },
                        window_seconds: github_window_seconds,
                        limits: serde_json::json!({}),
                        baseline,
                    };
                    sync::github::run(options, true).await?;
                }
                if google {
                    let options = sync::google::Options {
                        size: sync::google::Size {
                            users: google_users,
                            groups: google_groups,
                            memberships: google_memberships,
                        },
                        window_seconds: google_window_seconds,
                        baseline,
                    };
                    sync::google::run(options, true).await?;
                }
                Ok(())
            }
            Command::SyncClient { info, system } => sync::client(&info, &system).await,
            Command::Snapshot {
                grants,
                postgres,
                quick,
            } => org::snapshot(if quick { 20_000 } else { grants }, postgres.as_deref()).await,
            Command::FlowSteps { postgres, quick } => {
                let size = if quick {
                    flows::Size::quick()
                } else {
                    flows::Size::full()
                };
                flows::run(size, postgres.as_deref()).await
            }
            Command::Audit {
                events,
                batch,
                postgres,
                sqlite,
                quick,
            } => {
                audit::run(
                    if quick { 100_000 } else { events },
                    batch,
                    postgres.as_deref(),
                    sqlite.as_deref(),
                )
                .await
            }
        }
    })
}

/// Peak resident memory of this process so far, from /proc.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
