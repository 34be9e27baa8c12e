//! The benchmarks' `--quick` modes, run as a smoke test: each completes and
//! reports what the full run measures (the figures themselves belong in
//! BENCHMARKS.md, not in assertions).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

use std::process::Command;

fn quick(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_grantflow-bench"))
        .args(args)
        .arg("--quick")
        .output()
        .expect("grantflow-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_quick_apply_benchmark_finishes_within_the_rate_limit_and_without_429s() {
    let out = quick(&["apply"]);
    assert!(out.contains("succeeded 120"), "{out}");
    assert!(out.contains("429s 0;"), "{out}");
}

#[test]
fn the_quick_plan_drift_and_snapshot_benchmarks_run() {
    let plan = quick(&["plan"]);
    assert!(plan.contains("plan: 2000 people"), "{plan}");
    let drift = quick(&["drift"]);
    assert!(drift.contains("drift: 2000 people"), "{drift}");
    let snapshot = quick(&["snapshot"]);
    assert!(
        snapshot.contains("snapshot: wrote 2000 accounts"),
        "{snapshot}"
    );
}

#[test]
fn the_quick_github_sync_reads_the_pages_the_bound_counts_without_refusals() {
    let out = quick(&["sync", "--system", "github"]);
    let line = out
        .lines()
        .find(|l| l.starts_with("grantflow: sync"))
        .unwrap_or_else(|| panic!("no grantflow line: {out}"));
    // "…; 165 calls (the bound counts 165), 0 refused; read …"
    let sent = line
        .split("; ")
        .find(|part| part.contains(" calls (the bound counts "))
        .unwrap_or_else(|| panic!("no call count: {line}"));
    let (made, rest) = sent.split_once(" calls (the bound counts ").unwrap();
    let (counted, refused) = rest.split_once("), ").unwrap();
    assert_eq!(
        made, counted,
        "calls made against the bound's count: {line}"
    );
    assert_eq!(refused, "0 refused", "{line}");
    assert!(
        out.contains("sync github (quick): ratio to the lower bound"),
        "{out}"
    );
}
