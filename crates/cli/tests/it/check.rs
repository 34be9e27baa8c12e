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

/// `init --sandbox` writes Google's service account (key file, administrator) and Salesforce's connected app
/// (key, consumer key, user, login URL) rather than fixed tokens; `check` mints through both, and a key the
/// vendor refuses is reported with its OAuth error code, the key never shown.
#[tokio::test(flavor = "multi_thread")]
async fn init_writes_renewable_credentials_and_check_names_a_refused_key() {
    let workspace = Workspace::start(None).await;
    let config: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(workspace.path("grantflow.yaml")).expect("config"),
    )
    .expect("yaml");
    let google = &config["connections"]["google"];
    assert!(
        google["service_account_key"]["file"].is_string(),
        "{google}"
    );
    assert!(google["subject"].is_string(), "{google}");
    assert!(google.get("token").is_none(), "{google}");
    let salesforce = &config["connections"]["salesforce"];
    for key in ["consumer_key", "username", "login_url"] {
        assert!(salesforce[key].is_string(), "{salesforce}");
    }
    assert!(
        salesforce["private_key"]["file"].is_string(),
        "{salesforce}"
    );
    assert!(salesforce.get("token").is_none(), "{salesforce}");

    let healthy = workspace.run(&["check", "--json"]);
    assert_eq!(healthy.code, 0, "{}", healthy.all());

    // Another service account's key under the same name: Google refuses the signature.
    let key_path = workspace.path(".grantflow/google.service_account_key");
    let mut key: Value =
        serde_json::from_str(&std::fs::read_to_string(&key_path).expect("key")).expect("json");
    let real = key["private_key"].as_str().expect("pem").to_string();
    let other = grantflow_sandbox::okta::ServiceKey::generate("other").expect("key");
    key["private_key"] = other.private_pem.clone().into();
    std::fs::write(&key_path, key.to_string()).expect("write");
    let refused = workspace.run(&["check", "--json"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    let report: Value = serde_json::from_str(&refused.stdout).expect("json report");
    let google = connections(&report)
        .iter()
        .find(|c| c["connection"] == "google")
        .expect("google");
    assert_eq!(google["failure"]["kind"], "unauthorized", "{google}");
    assert_eq!(google["failure"]["code"], "invalid_grant", "{google}");
    let seen = refused.all();
    assert!(!seen.contains("PRIVATE KEY"), "{seen}");
    assert!(!seen.contains(&real[40..100]) && !seen.contains(&other.private_pem[40..100]));
}
