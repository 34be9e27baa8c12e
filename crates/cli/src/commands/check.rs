//! `grantflow check`: each connection's reachability, authentication and
//! scopes, as the service reports them. Exit code 0: every connection is
//! healthy; 1: at least one is not.

use std::process::ExitCode;

use grantflow_service::{Check, HealthReport, Service};

pub async fn run(service: &Service, json: bool) -> anyhow::Result<ExitCode> {
    let report = service.check_health().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(if report.healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line per connection, and the vendor's words under a failing one.
pub fn print_report(report: &HealthReport) {
    for connection in &report.connections {
        let verdict = if connection.healthy() { "ok" } else { "FAILED" };
        println!(
            "{verdict:<6} {} ({}) {}: reachable {}, authenticated {}, scopes {} [{} ms]",
            connection.connection,
            connection.system,
            connection.base_url,
            word(connection.reachable),
            word(connection.authenticated),
            word(connection.scopes),
            connection.elapsed_ms
        );
        if let Some(failure) = &connection.failure {
            println!(
                "       {} ({}): {}",
                failure.code, failure.kind, failure.message
            );
            if let Some(scope) = &failure.missing_scope {
                println!("       missing scope: {scope}");
            }
        }
    }
    let failing = report.failing().count();
    if failing > 0 {
        println!(
            "{failing} of {} connection(s) failed",
            report.connections.len()
        );
    }
}

fn word(check: Check) -> &'static str {
    match check {
        Check::Passed => "yes",
        Check::Failed => "no",
        Check::Unknown => "unknown",
    }
}
