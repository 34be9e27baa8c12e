//! `grantflow check`: every connection's reachability, authentication and scopes.

use crate::testkit::Workspace;
use serde_json::Value;

fn connections(report: &Value) -> &Vec<Value> {
    report["connections"].as_array().expect("connections")
}

#[tokio::test(flavor = "multi_thread")]
async fn check_passes_every_sandbox_connection_and_names_the_vendor_code_of_a_refused_token() {
    let workspace = Workspace::start(None).await;

    let healthy = workspace.run(&["check"]);
    assert_eq!(healthy.code, 0, "{}", healthy.all());
    assert!(healthy.stdout.contains("ok     okta"), "{}", healthy.stdout);
    assert!(!healthy.stdout.contains("FAILED"), "{}", healthy.stdout);

    let json = workspace.run(&["check", "--json"]);
    assert_eq!(json.code, 0, "{}", json.all());
    let report: Value = serde_json::from_str(&json.stdout).expect("json report");
    assert!(connections(&report).len() > 1, "{report}");
    assert!(
        connections(&report)
            .iter()
            .any(|c| c["connection"] == "datadog"),
        "the read-only Datadog connection is checked like the others: {report}"
    );
    for connection in connections(&report) {
        for aspect in ["reachable", "authenticated", "scopes"] {
            assert_eq!(connection[aspect], "passed", "{connection}");
        }
        assert!(connection.get("failure").is_none(), "{connection}");
    }

    let token = workspace.token();
    std::fs::write(
        workspace.path(".grantflow/okta.token"),
        "00wrong-token-value-000000000000000000000",
    )
    .expect("write");
    let refused = workspace.run(&["check", "--json"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    let report: Value = serde_json::from_str(&refused.stdout).expect("json report");
    for connection in connections(&report) {
        if connection["connection"] == "okta" {
            assert_eq!(connection["reachable"], "passed", "{connection}");
            assert_eq!(connection["authenticated"], "failed", "{connection}");
            assert_eq!(
                connection["failure"]["kind"], "unauthorized",
                "{connection}"
            );
            assert_eq!(connection["failure"]["code"], "E0000011", "{connection}");
        } else {
            assert!(connection.get("failure").is_none(), "{connection}");
        }
    }
    let text = workspace.run(&["check"]);
    assert_eq!(text.code, 1, "{}", text.all());
    assert!(text.stdout.contains("FAILED okta"), "{}", text.stdout);
    assert!(
        text.stdout.contains("E0000011 (unauthorized)"),
        "{}",
        text.stdout
    );
    let seen = format!("{}{}", refused.all(), text.all());
    assert!(!seen.contains(&token), "the token leaked");
    assert!(
        !seen.contains("00wrong-token-value"),
        "the refused token leaked"
    );
}
