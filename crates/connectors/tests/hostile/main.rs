//! Hostile or broken vendor answers, for every connector: each case below is answered by a fake vendor on
//! 127.0.0.1 to each system's cheap authenticated call (`health`, twice), with small limits configured. Every
//! run must end (in success or a clean, classified failure) well within a bound, without a panic, and a
//! redirect to another origin must never carry the credential there.
//!
//! The cases are one list and the systems another; every case runs against every system.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

mod fake;
mod systems;

use chrono::Utc;
use fake::{Fake, Reply};
use grantflow_connectors::{BuildContext, ConnectionConfig, Failure, RateBudgets, TransportLimits};
use grantflow_model::{ConnectionName, SystemClock};
use std::sync::Arc;
use std::time::{Duration, Instant};
use systems::{SYSTEMS, System};

/// The limits every run is built with: a call waits at most `MAX_WAIT`, and no vendor is believed about a
/// reset further ahead than `MAX_RESET`.
const LIMITS: TransportLimits = TransportLimits {
    max_wait: Duration::from_secs(1),
    max_reset: Duration::from_secs(10),
};

/// Every run (two calls) ends within this.
const BOUND: Duration = Duration::from_secs(6);

/// The share of each budget left for others: with a limit of one call, rounding it up must not take that call.
const RESERVE_SHARE: f64 = 0.5;

/// What the fake vendor answers in a case.
#[derive(Clone)]
enum Answer {
    /// The system's own "slow down" answer, with these headers.
    Throttled(Vec<(&'static str, String)>),
    /// A success, with these headers.
    Success(Vec<(&'static str, String)>),
    /// `302 Found` to another origin, which records whatever reaches it.
    RedirectElsewhere,
}

struct Case {
    name: &'static str,
    answer: Answer,
}

/// Retry-After in each form a vendor might send it; the AWS SDK reads `x-amz-retry-after` (milliseconds).
fn retry_after(value: &str) -> Answer {
    Answer::Throttled(vec![
        ("retry-after", value.to_string()),
        ("x-amz-retry-after", value.to_string()),
    ])
}

/// Every system's rate-limit headers at once: `limit`, `remaining`, and a reset at `reset` (epoch seconds).
fn budget_headers(limit: u64, remaining: u64, reset: i64) -> Vec<(&'static str, String)> {
    let (limit, remaining, reset) = (limit.to_string(), remaining.to_string(), reset.to_string());
    vec![
        ("x-rate-limit-limit", limit.clone()),
        ("x-rate-limit-remaining", remaining.clone()),
        ("x-rate-limit-reset", reset.clone()),
        ("x-ratelimit-limit", limit.clone()),
        ("x-ratelimit-remaining", remaining.clone()),
        ("x-ratelimit-reset", reset.clone()),
        ("ratelimit-limit", limit.clone()),
        ("ratelimit-remaining", remaining.clone()),
        ("ratelimit-reset", reset.clone()),
        ("x-ratelimit-retry-at", reset),
        (
            "sforce-limit-info",
            format!(
                "api-usage={}/{limit}",
                limit.parse::<u64>().unwrap_or(0) - remaining.parse::<u64>().unwrap_or(0)
            ),
        ),
    ]
}

fn cases() -> Vec<Case> {
    let in_an_hour =
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3600));
    let year_3000: i64 = 32_503_680_000;
    let mut reset_in_3000 = budget_headers(10, 0, year_3000);
    reset_in_3000.push(("x-amz-retry-after", (year_3000 * 1000).to_string()));
    vec![
        Case {
            name: "Retry-After: 9223372036854775807",
            answer: retry_after("9223372036854775807"),
        },
        Case {
            name: "Retry-After: 1e14",
            answer: retry_after("1e14"),
        },
        Case {
            name: "Retry-After: -1",
            answer: retry_after("-1"),
        },
        Case {
            name: "Retry-After as an HTTP date an hour ahead",
            answer: retry_after(&in_an_hour),
        },
        Case {
            name: "Retry-After: garbage",
            answer: retry_after("soon, maybe"),
        },
        Case {
            name: "rate-limit resets in the year 3000",
            answer: Answer::Throttled(reset_in_3000),
        },
        Case {
            name: "a budget of one call a window",
            answer: Answer::Success(budget_headers(1, 1, Utc::now().timestamp() + 1)),
        },
        Case {
            name: "a 302 to another origin",
            answer: Answer::RedirectElsewhere,
        },
    ]
}

/// What one run of one case against one system came to.
struct Run {
    elapsed: Duration,
    results: Vec<Result<(), Failure>>,
    elsewhere_requests: usize,
    elsewhere_credentials: Vec<String>,
}

async fn run(system: &'static System, answer: Answer) -> Run {
    let elsewhere = Fake::start(Reply::default()).await;
    let reply = match &answer {
        Answer::Throttled(headers) => {
            let (status, body) = system.throttled;
            Reply {
                status,
                headers: own(headers),
                body: body.to_string(),
            }
        }
        Answer::Success(headers) => Reply {
            status: 200,
            headers: own(headers),
            body: system.ok.to_string(),
        },
        Answer::RedirectElsewhere => Reply {
            status: 302,
            headers: vec![("location".into(), format!("{}/stolen", elsewhere.url))],
            body: String::new(),
        },
    };
    let vendor = Fake::start(reply).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let connector = connector(system, &vendor.url, dir.path());
    let started = Instant::now();
    let mut results = Vec::new();
    for _ in 0..2 {
        results.push(connector.health().await);
    }
    Run {
        elapsed: started.elapsed(),
        results,
        elsewhere_requests: elsewhere.requests(),
        elsewhere_credentials: elsewhere.credentials(),
    }
}

/// The connector of `system` to the vendor at `url`, its secrets written in `dir`.
fn connector(
    system: &'static System,
    url: &str,
    dir: &std::path::Path,
) -> Box<dyn grantflow_connectors::Connector> {
    for file in [
        "token",
        "email",
        "key_id",
        "key_secret",
        "access_key_id",
        "secret_access_key",
        "api_key",
        "application_key",
    ] {
        std::fs::write(dir.join(file), format!("hostile-test-{file}")).expect("secret file");
    }
    let config: ConnectionConfig =
        serde_json::from_value((system.config)(url, dir)).expect("configuration");
    let context = BuildContext {
        budgets: Arc::new(RateBudgets::new(RESERVE_SHARE)),
        clock: Arc::new(SystemClock),
        limits: LIMITS,
        ..BuildContext::new(dir)
    };
    grantflow_connectors::build(&ConnectionName::new(system.name), &config, &context)
        .expect("connector")
}

fn own(headers: &[(&'static str, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// What is wrong with a run, if anything.
fn problems(case: &Case, run: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    if run.elapsed >= BOUND {
        problems.push(format!("took {:?}", run.elapsed));
    }
    let latest = Utc::now() + chrono::Duration::from_std(LIMITS.max_reset).unwrap_or_default();
    for result in &run.results {
        match (&case.answer, result) {
            (Answer::Success(_), Ok(())) => {}
            (Answer::Success(_), Err(failure)) => problems.push(format!("failed: {failure:?}")),
            (_, Ok(())) => problems.push("succeeded".into()),
            (Answer::Throttled(_), Err(failure)) if !failure.is_transient() => {
                problems.push(format!("not a transient failure: {failure:?}"));
            }
            (_, Err(Failure::RateLimited { reset, .. })) if *reset > latest => {
                problems.push(format!("a reset past the cap: {reset}"));
            }
            (_, Err(_)) => {}
        }
    }
    if run.elsewhere_requests > 0 || !run.elsewhere_credentials.is_empty() {
        problems.push(format!(
            "{} requests reached the other origin, with credentials {:?}",
            run.elsewhere_requests, run.elsewhere_credentials
        ));
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_answers_are_bounded_for_every_connector() {
    let mut failed = Vec::new();
    for case in cases() {
        let runs = SYSTEMS.iter().map(|system| {
            let run = tokio::spawn(tokio::time::timeout(
                BOUND * 2,
                run(system, case.answer.clone()),
            ));
            async move { (system.name, run.await) }
        });
        for (system, outcome) in futures::future::join_all(runs).await {
            match outcome {
                Err(error) => failed.push(format!("{}: {system}: panicked: {error}", case.name)),
                Ok(Err(_)) => failed.push(format!("{}: {system}: hung", case.name)),
                Ok(Ok(run)) => {
                    for problem in problems(&case, &run) {
                        failed.push(format!("{}: {system}: {problem}", case.name));
                    }
                }
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// A call made while a person waits (`without_waiting`, a request's live check) hands a vendor's "slow down"
/// back at once, after one request, where a call on its own would wait out the `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_made_without_waiting_hands_back_a_throttle_at_once() {
    for system in &SYSTEMS {
        let (status, body) = system.throttled;
        let vendor = Fake::start(Reply {
            status,
            headers: own(&[
                ("retry-after", "1".to_string()),
                ("x-amz-retry-after", "1000".to_string()),
            ]),
            body: body.to_string(),
        })
        .await;
        let dir = tempfile::tempdir().expect("tempdir");
        let connector = connector(system, &vendor.url, dir.path());
        let started = Instant::now();
        let result = grantflow_connectors::transport::without_waiting(connector.health()).await;
        let elapsed = started.elapsed();
        assert!(result.is_err(), "{}: {result:?}", system.name);
        assert!(
            elapsed < Duration::from_millis(900),
            "{}: took {elapsed:?}",
            system.name
        );
        // OPA mints its bearer token first (the fake always grants it); then the one throttled call.
        let calls = if system.name == "opa" { 2 } else { 1 };
        assert_eq!(vendor.requests(), calls, "{}", system.name);
    }
}
