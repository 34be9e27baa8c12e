//! The emulators' rate limits as the benchmark sets and reads them, the calls each bucket was charged
//! (`/__sandbox/calls`), and the makespan's lower bound built from them.

use std::collections::BTreeMap;

use anyhow::Context as _;
use grantflow_sandbox::SandboxInfo;
use serde_json::{Value, json};

/// Where each emulator's default budget comes from (the vendor's documentation, as the emulator's code
/// cites it), printed with the figures.
pub const SOURCES: &[(&str, &str)] = &[
    (
        "okta",
        "Okta rl-global-mgmt, Enterprise: /api/v1/groups/{id}/users 600/min (bucket groups), /api/v1/apps/{id}/users 100/min (apps); 75 concurrent requests",
    ),
    (
        "google",
        "developers.google.com/admin-sdk/directory/v1/limits: 2,400 queries/min per user",
    ),
    (
        "github",
        "docs.github.com rate limits for the REST API: 5,000 requests per window (an hour on GitHub), secondary limit 80 content-creating requests/min",
    ),
    (
        "gitlab",
        "GitLab.com: 2,000 authenticated API requests/min per user",
    ),
    (
        "slack",
        "api.slack.com/docs/rate-limits: conversations.invite is Tier 3, 50+/min per method per workspace",
    ),
    (
        "jira",
        "Jira Cloud's budget is cost-based; the emulator counts 600 requests/min in one bucket",
    ),
    (
        "aws",
        "IAM Identity Center: 20 transactions/s per API family (sso, identitystore), per minute here",
    ),
];

/// One bucket's budget: requests per window.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub limit: u64,
    pub window_seconds: u64,
}

async fn admin_get(info: &SandboxInfo, system: &str, what: &str) -> anyhow::Result<Value> {
    let sys = &info.systems[system];
    let url = format!("{}/{what}", sys.admin_url);
    let answer = sys.http_client()?.get(&url).send().await?;
    answer
        .error_for_status()
        .with_context(|| format!("GET {url}"))?
        .json()
        .await
        .with_context(|| format!("GET {url}"))
}

pub async fn admin_post(
    info: &SandboxInfo,
    system: &str,
    what: &str,
    body: &Value,
) -> anyhow::Result<()> {
    let sys = &info.systems[system];
    let url = format!("{}/{what}", sys.admin_url);
    let answer = sys.http_client()?.post(&url).json(body).send().await?;
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    anyhow::ensure!(status.is_success(), "POST {url} {body}: {status} {text}");
    Ok(())
}

fn scaled(limit: u64, scale: f64) -> u64 {
    ((limit as f64 * scale).ceil() as u64).max(1)
}

/// Sets every emulator's windows to `window_seconds` and its budgets to `scale` × its vendor's (1.0: as
/// documented), in fresh windows; sets the latency every API request takes.
pub async fn prepare(
    info: &SandboxInfo,
    systems: &[&str],
    window_seconds: u64,
    scale: f64,
    latency_ms: u64,
    jitter_ms: u64,
) -> anyhow::Result<()> {
    for &system in systems {
        let settings = admin_get(info, system, "rate-limits").await?;
        let body = match system {
            "google" => json!({
                "window_seconds": window_seconds,
                "limit": scaled(settings["limit"].as_u64().unwrap_or(2400), scale),
            }),
            "github" => json!({
                "window_seconds": window_seconds,
                "limit": scaled(settings["limit"].as_u64().unwrap_or(5000), scale),
                "secondary_window_seconds": window_seconds,
                "secondary_limit": scaled(settings["secondary_limit"].as_u64().unwrap_or(80), scale),
            }),
            _ => {
                let buckets: serde_json::Map<String, Value> = settings["buckets"]
                    .as_object()
                    .map(|b| {
                        b.iter()
                            .map(|(name, l)| {
                                (name.clone(), scaled(l.as_u64().unwrap_or(0), scale).into())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                json!({"window_seconds": window_seconds, "buckets": buckets})
            }
        };
        admin_post(info, system, "rate-limits", &body).await?;
        admin_post(
            info,
            system,
            "faults",
            &json!({"latency_ms": latency_ms, "jitter_ms": jitter_ms}),
        )
        .await?;
    }
    Ok(())
}

/// Each bucket's budget, by `(system, bucket)` as the tally names it.
pub async fn budgets(
    info: &SandboxInfo,
    systems: &[&str],
) -> anyhow::Result<BTreeMap<(String, String), Budget>> {
    let mut out = BTreeMap::new();
    for &system in systems {
        let s = admin_get(info, system, "rate-limits").await?;
        let window = s["window_seconds"].as_u64().unwrap_or(60);
        let mut put = |bucket: &str, limit: Option<u64>, window_seconds: u64| {
            if let Some(limit) = limit {
                out.insert(
                    (system.to_string(), bucket.to_string()),
                    Budget {
                        limit,
                        window_seconds,
                    },
                );
            }
        };
        match system {
            "google" => put("queries", s["limit"].as_u64(), window),
            "github" => {
                put("core", s["limit"].as_u64(), window);
                put(
                    "secondary",
                    s["secondary_limit"].as_u64(),
                    s["secondary_window_seconds"].as_u64().unwrap_or(60),
                );
            }
            _ => {
                for (bucket, limit) in s["buckets"].as_object().into_iter().flatten() {
                    put(bucket, limit.as_u64(), window);
                }
            }
        }
        if let Some(c) = s["concurrency"].as_u64() {
            out.insert(
                (system.to_string(), "concurrency".to_string()),
                Budget {
                    limit: c,
                    window_seconds: 0,
                },
            );
        }
    }
    Ok(out)
}

/// Calls charged and refused per `(system, tally key)`.
pub type Calls = BTreeMap<(String, String), (u64, u64)>;

pub async fn calls(info: &SandboxInfo, systems: &[&str]) -> anyhow::Result<Calls> {
    let mut out = Calls::new();
    for &system in systems {
        let tally = admin_get(info, system, "calls").await?;
        for (key, c) in tally["buckets"].as_object().into_iter().flatten() {
            out.insert(
                (system.to_string(), key.clone()),
                (
                    c["calls"].as_u64().unwrap_or(0),
                    c["refused"].as_u64().unwrap_or(0),
                ),
            );
        }
    }
    Ok(out)
}

/// `after - before`, per key.
pub fn since(before: &Calls, after: &Calls) -> Calls {
    after
        .iter()
        .map(|(k, (c, r))| {
            let (c0, r0) = before.get(k).copied().unwrap_or((0, 0));
            (k.clone(), (c - c0.min(*c), r - r0.min(*r)))
        })
        .filter(|(_, (c, _))| *c > 0)
        .collect()
}

/// One term of the lower bound: what it is and the seconds it forces.
pub struct Term {
    pub name: String,
    pub seconds: f64,
}

/// The makespan's lower bound's terms. A tally key `<bucket>:<key>` (Slack's per-method windows) is held to
/// its bucket's budget per key.
pub fn terms(
    calls: &Calls,
    budgets: &BTreeMap<(String, String), Budget>,
    min_latency: f64,
    mean_latency: f64,
    chain_calls: f64,
    concurrency: usize,
) -> Vec<Term> {
    let mut terms = Vec::new();
    // Fixed windows that start at a bucket's first call: the c-th allowed call cannot come before
    // floor((c-1)/limit) windows have passed, and its answer takes a call's latency more.
    for ((system, key), (c, refused)) in calls {
        let bucket = key.split(':').next().unwrap_or(key);
        let Some(b) = budgets.get(&(system.clone(), bucket.to_string())) else {
            continue;
        };
        let allowed = c - refused;
        if allowed == 0 || b.limit == 0 || b.window_seconds == 0 {
            continue;
        }
        let windows = (allowed - 1) / b.limit;
        terms.push(Term {
            name: format!(
                "bucket {system}/{key}: {allowed} calls at {} per {} s = {windows} full windows + one call",
                b.limit, b.window_seconds
            ),
            seconds: (windows * b.window_seconds) as f64 + min_latency,
        });
    }
    terms.push(Term {
        name: format!(
            "longest dependency chain: {chain_calls:.1} calls in sequence × {:.0} ms (the least latency)",
            min_latency * 1e3
        ),
        seconds: chain_calls * min_latency,
    });
    let total: u64 = calls.values().map(|(c, _)| c).sum();
    terms.push(Term {
        name: format!(
            "concurrency cap: {total} calls × {:.0} ms (mean latency) / {concurrency} in flight",
            mean_latency * 1e3
        ),
        seconds: total as f64 * mean_latency / concurrency.max(1) as f64,
    });
    for ((system, key), budget) in budgets {
        if key != "concurrency" {
            continue;
        }
        let system_calls: u64 = calls
            .iter()
            .filter(|((s, _), _)| s == system)
            .map(|(_, (c, _))| c)
            .sum();
        let cap = budget.limit.min(concurrency as u64).max(1);
        terms.push(Term {
            name: format!(
                "{system} concurrency cap: {system_calls} calls × {:.0} ms / {cap} in flight",
                mean_latency * 1e3
            ),
            seconds: system_calls as f64 * mean_latency / cap as f64,
        });
    }
    terms
}
