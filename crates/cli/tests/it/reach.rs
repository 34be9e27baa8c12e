//! Production reachability end to end: the seed-000 review in `grantflow do`, before anything is
//! written, and the `grantflow reach` queries, on the sandbox's demo organisation.

use crate::testkit::Workspace;

const DEMO_REQUEST: &str = "assign okta-demo-user@example.com to the Production Access Demo group";

async fn synced_demo() -> Workspace {
    let workspace = Workspace::start(None).await;
    let sync = workspace.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    workspace
}

fn position(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} missing from:\n{haystack}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn do_shows_the_seed_000_reach_review_before_applying() {
    let workspace = synced_demo().await;
    let run = workspace.run(&["do", DEMO_REQUEST, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let out = &run.stdout;
    let change = position(out, "+ group \"Production Access Demo\" member");
    let checkout = position(out, "service checkout-api, owned by payments-platform");
    let checkout_path = position(
        out,
        "via group \"Production Access Demo\" → app \"Checkout Production Access\" → AWS Identity Center role prod-payments-admin in account 111122223333",
    );
    let deployment = position(
        out,
        "Kubernetes Deployment payments/checkout-api (prod-eks)",
    );
    let checkout_monitor = position(
        out,
        "monitor datadog 4012871 \"Checkout API error rate above 2%\"",
    );
    let connector = position(out, "service graph-connector, owned by platform");
    let deploy_access = position(
        out,
        "app \"Graph Connector Console\" → (OIDC groups claim) Kubernetes group okta:Production Access Demo (prod-eks)",
    );
    let dashboard_access = position(
        out,
        "app \"Production Monitors\" → Datadog dashboards and monitors tagged team:platform  (already held)",
    );
    let sync_monitor = position(out, "\"Graph connector sync lag above 15 minutes\"");
    let skipped = position(
        out,
        "skipped non-production: AWS Identity Center role staging-payments-admin in account 444455556666",
    );
    let report = position(out, "Execution report");
    assert!(change < checkout && checkout < checkout_path && checkout_path < deployment);
    assert!(deployment < checkout_monitor && checkout_monitor < connector);
    assert!(
        connector < deploy_access
            && deploy_access < dashboard_access
            && dashboard_access < sync_monitor
    );
    assert!(
        sync_monitor < skipped,
        "skipped systems are listed at the end of the plan"
    );
    assert!(skipped < report, "the whole review comes before the write");
    assert!(out.contains("environment=staging"), "{out}");
    assert!(out.contains("1 succeeded, 0 failed"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn reach_answers_group_delta_service_and_pictures() {
    let workspace = synced_demo().await;

    let group = workspace.run(&["reach", "group", "Production Access Demo"]);
    assert_eq!(group.code, 0, "{}", group.all());
    assert!(
        group
            .stdout
            .starts_with("group \"Production Access Demo\" reaches 3 production service(s)"),
        "{}",
        group.stdout
    );
    assert!(
        group.stdout.contains("skipped non-production:"),
        "{}",
        group.stdout
    );

    let json = workspace.run(&["reach", "group", "Production Access Demo", "--json"]);
    assert_eq!(json.code, 0, "{}", json.all());
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON report");
    assert_eq!(report["services"][0]["service"], "checkout-api");
    assert_eq!(report["services"][0]["owner"], "payments-platform");
    assert_eq!(report["skipped"].as_array().map(Vec::len), Some(1));

    let delta = workspace.run(&[
        "reach",
        "delta",
        "--user",
        "okta-demo-user@example.com",
        "--group",
        "Production Access Demo",
    ]);
    assert_eq!(delta.code, 0, "{}", delta.all());
    assert!(
        delta
            .stdout
            .contains("service checkout-api, owned by payments-platform, system checkout (new)"),
        "{}",
        delta.stdout
    );

    let user = workspace.run(&["reach", "user", "okta-demo-user@example.com"]);
    assert_eq!(user.code, 0, "{}", user.all());
    assert!(
        user.stdout.contains("reaches 1 production service(s)"),
        "Platform's dashboards only:\n{}",
        user.stdout
    );

    let who = workspace.run(&["reach", "service", "checkout-api"]);
    assert_eq!(who.code, 0, "{}", who.all());
    assert!(
        who.stdout.contains("group \"Payments Oncall\""),
        "{}",
        who.stdout
    );
    assert!(
        who.stdout.contains("olivia.smith@example.com"),
        "{}",
        who.stdout
    );

    let mermaid = workspace.run(&[
        "reach",
        "app",
        "Checkout Production Access",
        "--picture",
        "mermaid",
    ]);
    assert_eq!(mermaid.code, 0, "{}", mermaid.all());
    assert!(
        mermaid.stdout.starts_with("flowchart LR"),
        "{}",
        mermaid.stdout
    );
    let dot = workspace.run(&["reach", "group", "Payments Oncall", "--picture", "dot"]);
    assert!(dot.stdout.starts_with("digraph reach {"), "{}", dot.all());

    let unknown = workspace.run(&["reach", "group", "No Such Group"]);
    assert_ne!(unknown.code, 0);
    assert!(
        unknown
            .stderr
            .contains("group \"No Such Group\" is not in the reachability graph"),
        "{}",
        unknown.all()
    );
}

#[test]
fn the_demo_reviews_production_reach_before_applying() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = std::process::Command::new(crate::testkit::BIN)
        .args(["demo", "--quiet"])
        .current_dir(dir.path())
        .output()
        .expect("demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    // checkout-api, graph-connector and the production AWS account the role signs in to.
    let reach = position(&stdout, "production reach added (3 service(s)):");
    let skipped = position(&stdout, "skipped non-production: ");
    let staging = position(
        &stdout,
        "AWS Identity Center role staging-payments-admin in account 444455556666",
    );
    assert!(skipped < staging);
    let applying = position(&stdout, "== Applying plan");
    assert!(reach < skipped && skipped < applying);
}

#[tokio::test(flavor = "multi_thread")]
async fn reach_reads_aws_from_its_connection_reviews_every_system_and_names_its_sources() {
    let workspace = synced_demo().await;
    let delta = [
        "reach",
        "delta",
        "--user",
        "okta-demo-user@example.com",
        "--group",
        "Production Access Demo",
        "--json",
    ];
    let with_file = workspace.run(&delta);
    assert_eq!(with_file.code, 0, "{}", with_file.all());
    // The AWS and Datadog connections are synced: their files are not what the review reads.
    std::fs::remove_file(workspace.path("reach/aws-identity-center.json")).expect("export file");
    std::fs::remove_file(workspace.path("reach/datadog-monitors.json")).expect("monitors file");
    let without_file = workspace.run(&delta);
    assert_eq!(without_file.code, 0, "{}", without_file.all());
    assert_eq!(with_file.stdout, without_file.stdout);
    let review: serde_json::Value = serde_json::from_str(&without_file.stdout).expect("json");
    let services: Vec<&str> = review["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["service"].as_str())
        .collect();
    assert!(
        services.contains(&"checkout-api")
            && services.contains(&"AWS account 111122223333 (prod-payments)"),
        "{services:?}"
    );
    // Monitors come from Datadog's API through the connection.
    assert!(
        without_file
            .stdout
            .contains("Checkout API error rate above 2%"),
        "{}",
        without_file.stdout
    );
    // The staging account is skipped for its Organizations tag, read by the sync.
    assert!(
        without_file
            .stdout
            .contains("AWS account 444455556666 (staging-payments) is tagged environment=staging"),
        "{}",
        without_file.stdout
    );

    let sources = workspace.run(&["reach", "sources"]);
    assert_eq!(sources.code, 0, "{}", sources.all());
    let line = |part: &str, origin: &str| {
        sources
            .stdout
            .lines()
            .find(|l| l.starts_with(part) && l.contains(origin))
            .unwrap_or_else(|| panic!("no {part} from {origin}:\n{}", sources.stdout))
            .to_string()
    };
    assert!(line("AWS IAM Identity Center", "connection aws (aws)").contains(" s old"));
    assert!(
        line("AWS IAM Identity Center", "aws-identity-center.json")
            .contains("not read: the aws connection is synced instead")
    );
    assert!(line("Datadog monitors", "connection datadog (datadog)").contains(" s old"));
    assert!(
        line("Datadog monitors", "datadog-monitors.json")
            .contains("not read: the datadog connection is synced instead")
    );
    assert!(line("Kubernetes prod-eks", "prod-eks.yaml").contains(" old"));
    assert!(line("GitHub teams and repositories", "connection github").contains(" old"));

    // A grant made in AWS itself, in GitHub, or in a system no source covers: each says what it adds.
    let aws = workspace.run(&[
        "do",
        "give okta-demo-user@example.com PowerUserAccess in aws account prod-payments",
    ]);
    let github = workspace.run(&["do", "add aisha to the github team Payments"]);
    let gitlab = workspace.run(&["do", "make aisha a Developer in gitlab group acme/payments"]);
    let slack = workspace.run(&["do", "add aisha to the slack channel platform-oncall"]);
    for run in [&aws, &github, &gitlab, &slack] {
        // Without --yes and without a terminal nothing is applied.
        assert!(run.stdout.contains("production reach"), "{}", run.all());
    }
    assert!(
        aws.stdout
            .contains("service AWS account 111122223333 (prod-payments)")
            && aws
                .stdout
                .contains("via AWS Identity Center role PowerUserAccess in account 111122223333"),
        "{}",
        aws.all()
    );
    for (run, service, path) in [
        (
            &github,
            "service checkout-api, owned by payments-platform",
            "via GitHub team \"Payments\" → GitHub repository example-demo/checkout-service",
        ),
        (
            &gitlab,
            "service ledger, owned by payments-platform",
            "via GitLab group \"acme/payments\" → GitLab project acme/payments/ledger",
        ),
    ] {
        assert!(
            run.stdout.contains(service) && run.stdout.contains(path),
            "{}",
            run.all()
        );
    }
    assert!(
        github.stdout.contains("catalog lifecycle experimental"),
        "the staging component of the same repository is skipped: {}",
        github.all()
    );
    assert!(
        slack
            .stdout
            .contains("production reach: unknown (no reachability source maps slack channel grants to production)"),
        "{}",
        slack.all()
    );
}

const PRODUCTION_ACCESS: &str =
    include_str!("../../../../examples/policies/production-access.yaml");

#[tokio::test(flavor = "multi_thread")]
async fn a_membership_made_by_hand_carries_its_reach_in_drift_and_in_reach_event() {
    let workspace = Workspace::start(None).await;
    workspace.write_policy("production-access.yaml", PRODUCTION_ACCESS);
    assert_eq!(workspace.run(&["sync"]).code, 0);
    let (plan_id, _) = workspace.plan();
    let apply = workspace.run(&["apply", &plan_id, "--allow-mass-removal", &plan_id]);
    assert_eq!(apply.code, 0, "{}", apply.all());

    // Someone adds Tom to the production group in Okta's console.
    workspace
        .admin_post_to(
            "okta",
            "hand-change",
            serde_json::json!({"op": "add", "user": "tom.baker@example.com", "resource": "group/Production Access Demo"}),
        )
        .await;
    assert_eq!(workspace.run(&["sync"]).code, 0);
    let drift = workspace.run(&["drift", "--json"]);
    let checked: serde_json::Value =
        serde_json::from_str(&drift.stdout).unwrap_or_else(|e| panic!("{e}: {}", drift.all()));
    let finding = checked["report"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| {
            f["kind"] == "unexpected_grant" && f["resource"]["name"] == "Production Access Demo"
        })
        .unwrap_or_else(|| panic!("no finding: {}", drift.stdout))
        .clone();
    let key = finding["key"].as_str().expect("key");
    let reached: Vec<&str> = checked["reach"][key]["services"]
        .as_array()
        .unwrap_or_else(|| panic!("the finding carries no reach: {}", drift.stdout))
        .iter()
        .filter_map(|s| s["service"].as_str())
        .collect();
    assert!(
        reached.contains(&"checkout-api")
            && reached.contains(&"AWS account 111122223333 (prod-payments)"),
        "{reached:?}"
    );

    let text = workspace.run(&["drift"]);
    assert!(
        text.stdout.contains(
            "tom.baker@example.com's group \"Production Access Demo\" in okta opens in production:"
        ) && text
            .stdout
            .contains("service checkout-api, owned by payments-platform"),
        "{}",
        text.all()
    );

    let by_finding = workspace.run(&["reach", "event", "--finding", key]);
    assert_eq!(by_finding.code, 0, "{}", by_finding.all());
    assert!(
        by_finding.stdout.contains("service checkout-api"),
        "{}",
        by_finding.all()
    );

    // The same change as Okta's System Log recorded it.
    let event = serde_json::json!([{
        "uuid": "b1f2c3d4-0000-11ee-8000-000000000001",
        "published": "2026-12-04T09:14:07.000Z",
        "eventType": "group.user_membership.add",
        "displayMessage": "Add user to group membership",
        "outcome": {"result": "SUCCESS"},
        "actor": {"id": "00u-admin", "type": "User", "alternateId": "admin@example.com"},
        "target": [
            {"id": "00u-tom", "type": "User", "alternateId": "tom.baker@example.com", "displayName": "Tom Baker"},
            {"id": "00g-pad", "type": "UserGroup", "alternateId": "unknown", "displayName": "Production Access Demo"}
        ]
    }, {
        "uuid": "b1f2c3d4-0000-11ee-8000-000000000002",
        "published": "2026-12-04T09:15:00.000Z",
        "eventType": "user.session.start",
        "target": []
    }]);
    let path = workspace.path("events.json");
    std::fs::write(&path, serde_json::to_string(&event).expect("json")).expect("write");
    let refused = workspace.run(&["reach", "event", "--file", path.to_str().expect("path")]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused
            .stderr
            .contains("user.session.start does not widen access"),
        "{}",
        refused.all()
    );
    std::fs::write(&path, serde_json::to_string(&event[0]).expect("json")).expect("write");
    let by_event = workspace.run(&["reach", "event", "--file", path.to_str().expect("path")]);
    assert_eq!(by_event.code, 0, "{}", by_event.all());
    assert!(
        by_event
            .stdout
            .starts_with("group.user_membership.add at 2026-12-04T09:14:07.000Z")
            && by_event.stdout.contains("service checkout-api")
            && by_event.stdout.contains(
                "skipped non-production: AWS Identity Center role staging-payments-admin"
            ),
        "{}",
        by_event.all()
    );
}
