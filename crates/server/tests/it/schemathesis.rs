//! The OpenAPI document drives a fuzzer against the live server:
//! schemathesis (pinned in conformance/requirements.txt, installed in the
//! shared conformance venv) calls every operation as an administrator with
//! valid and malformed input, and must find no server error, no status
//! code, content type or body the document does not describe, no malformed
//! input accepted, and no operation reachable without the token.
//!
//! Every operation is included, the writing ones too (sync, plan, approve,
//! apply, token create and revoke): they run against the in-process sandbox
//! and a temporary store.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::kit::{PERSON, Server};

/// Test cases per operation and phase: enough to reach every branch of
/// the extractors, small enough for a few minutes on 2 cores.
const MAX_EXAMPLES: &str = "40";

/// What the document cannot say, told to schemathesis.
///
/// - A schema-valid request may still be refused on its meaning: a cursor
///   this list did not give out and a reach call that asks no single
///   question are 400s, a change in words the planner does not understand
///   or an unknown role are 422s, and forty syncs of one connection in a
///   row meet the vendor's rate limit (429, as `sync_rate_limited`). Those
///   answers are documented problems
///   (the status, content type and body are still checked against the
///   document); a 405, 415 or 5xx for valid data remains a failure.
/// - Valid calls name what exists, so the answers that carry data are
///   checked too, not only 404s: the synced connection, a person of the
///   directory and a plan a requester asked for (approved, then 409 on
///   the next approval; applied by the in-process worker once approved).
/// - `DELETE /api/v1/tokens/{id}` revokes a token made for it (its valid
///   calls name that one; its malformed ones are still generated) and stays
///   out of the stateful phase: left to itself schemathesis revokes ids it
///   read from `GET /api/v1/tokens`, among them the token it calls with,
///   and every later call would be a 401.
fn config(revocable: &str, plan: &str) -> String {
    format!(
        r#"
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "403", "404", "409", "422", "429"]

[[operations]]
include-name = "DELETE /api/v1/tokens/{{id}}"
parameters = {{ id = "{revocable}" }}
phases.stateful.enabled = false

[[operations]]
include-path-regex = "^/api/v1/plans/\\{{id\\}}"
parameters = {{ id = "{plan}" }}

[[operations]]
include-path = "/api/v1/people/{{email}}"
parameters = {{ email = "{PERSON}" }}

[[operations]]
include-path = "/api/v1/connections/{{name}}/sync"
parameters = {{ name = "okta" }}
"#
    )
}

fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    here.canonicalize().unwrap_or(here)
}

/// The conformance venv's `schemathesis` (the same venv, marker and lock as the conformance driver,
/// crates/sandbox/tests/conformance/main.rs).
fn schemathesis() -> PathBuf {
    let python = grantflow_sandbox::venv::python_venv(
        &workspace_root(),
        "conformance/requirements.txt",
        "conformance-venv",
    )
    .expect("the conformance venv");
    let tool = python.with_file_name("schemathesis");
    assert!(tool.exists(), "{} after pip install", tool.display());
    tool
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_nothing_the_document_does_not_allow() {
    let tool = tokio::task::spawn_blocking(schemathesis)
        .await
        .expect("venv");
    // The worker runs plans schemathesis manages to queue.
    // Hundreds of fuzzed syncs spend Okta's buckets, and a full sync waits out a spent window rather than
    // fail (a large tenant's sync outlasts a window by design): short windows keep each wait short enough
    // for the fuzzer's 60 s per call. What is fuzzed is the API's handling of inputs, not rate limits.
    let server = Server::start_in(
        grantflow_sandbox::SandboxOptions {
            rate_limit_window_seconds: 2,
            ..grantflow_sandbox::SandboxOptions::default()
        },
        true,
        &["okta"],
        |_, _| {},
    )
    .await;
    let token = server.tokens["admin"].clone();
    let reports = tempfile::tempdir().expect("report dir");
    let config = reports.path().join("schemathesis.toml");
    let revocable = grantflow_service::tokens::create(
        &server.store,
        &grantflow_service::Actor::new("test:setup", [grantflow_service::Role::Admin]),
        &grantflow_service::tokens::TokenRequest {
            name: "revocable".into(),
            roles: vec![grantflow_service::Role::Viewer],
            expires_in: Duration::from_secs(3_600),
            person: None,
        },
    )
    .await
    .expect("a token to revoke");
    let plan = server.requested_plan().await;
    std::fs::write(&config, self::config(&revocable.record.id, &plan)).expect("schemathesis.toml");
    let started = Instant::now();
    let mut child = tokio::process::Command::new(&tool)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(server.url("/api/v1/openapi.json"))
        .args(["--url", &server.base])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", MAX_EXAMPLES])
        // The same cases every run (schemathesis then uses no seed).
        .arg("--generation-deterministic")
        .args(["--workers", "2"])
        .args(["--request-timeout", "60"])
        // Latency is the load benchmark's business (BENCHMARKS.md); here a
        // sync of the sandbox in a debug build on 2 shared cores, queued
        // behind another, may take seconds.
        .args(["--max-response-time", "60"])
        .args(["--max-failures", "30"])
        .args(["--report", "junit"])
        .arg("--report-dir")
        .arg(reports.path())
        .arg("--no-color")
        // The token is a header schemathesis prints in its reproduction
        // commands; its sanitizer masks `Authorization`.
        .args(["--output-sanitize", "true"])
        .current_dir(reports.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting schemathesis");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let pump = |r: Box<dyn tokio::io::AsyncRead + Unpin + Send>| async move {
        let mut lines = BufReader::new(r).lines();
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            println!("[schemathesis] {line}");
            all.push(line);
        }
        all
    };
    let (status, out, err) = tokio::time::timeout(Duration::from_secs(900), async {
        let (out, err) = tokio::join!(pump(Box::new(stdout)), pump(Box::new(stderr)));
        (child.wait().await, out, err)
    })
    .await
    .expect("schemathesis finishes within 15 minutes");
    let status = status.expect("schemathesis exit");
    println!(
        "[schemathesis] finished in {:.1?} with {status}",
        started.elapsed()
    );
    let printed = out
        .iter()
        .chain(&err)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !printed.contains(&token),
        "schemathesis's output shows the token"
    );
    // The token schemathesis called with still works: everything it was
    // told passed was really tried as an administrator.
    let (me, body) = server.call("admin", "GET", "/api/v1/me", None).await;
    assert_eq!(me, 200, "the admin token was lost during the run: {body}");
    assert!(
        status.success(),
        "schemathesis found problems (its report is above)"
    );
}
