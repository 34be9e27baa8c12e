//! One policy across Okta, Google Workspace, GitHub, GitLab and Slack,
//! applied end to end in the sandbox; and a GitLab grant that waits for the
//! person's first SSO login.

use crate::testkit::Workspace;
use serde_json::Value;

/// The shipped example: one policy over Okta, Google, GitHub, GitLab, Slack.
const PLATFORM_TOOLS: &str = include_str!("../../../../examples/policies/engineering-tools.yaml");

fn operations(plan: &Value) -> Vec<String> {
    plan["operations"]
        .as_array()
        .map(|ops| {
            ops.iter()
                .map(|op| {
                    format!(
                        "{} {} {}",
                        op["connection"], op["kind"], op["resource"]["name"]
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_across_five_systems_applies_and_then_plans_nothing() {
    let workspace = Workspace::start(None).await;
    workspace.write_policy("platform.yaml", PLATFORM_TOOLS);
    let sync = workspace.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    let (plan_id, plan) = workspace.plan();
    let ops = operations(&plan);
    for system in ["google", "github", "gitlab", "slack"] {
        assert!(
            ops.iter().any(|op| op.contains(system)),
            "no {system} change in {ops:#?}"
        );
    }
    let apply = workspace.run(&["apply", &plan_id, "--json"]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    let report: Value = serde_json::from_str(&apply.stdout).expect("report");
    assert_eq!(report["failed"], 0, "{}", apply.stdout);

    let resync = workspace.run(&["sync"]);
    assert_eq!(resync.code, 0, "{}", resync.all());
    let (_, again) = workspace.plan();
    assert_eq!(
        operations(&again),
        Vec::<String>::new(),
        "a second plan still has changes"
    );
}

const NEW_HIRE: &str = r#"policies:
  - name: new-hire-engineering
    when: person.email == "new.hire@example.com"
    grants:
      - { system: gitlab, resource: group/acme/engineering, entitlement: write }
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_gitlab_grant_waits_for_the_first_sso_login_then_completes() {
    let workspace = Workspace::start(None).await;
    workspace.set_connection_option("gitlab", "pending_recheck_seconds: 1");
    workspace.write_policy("new-hire.yaml", NEW_HIRE);
    assert_eq!(workspace.run(&["sync"]).code, 0);
    let (plan_id, plan) = workspace.plan();
    let add = plan["operations"]
        .as_array()
        .and_then(|ops| ops.iter().find(|op| op["kind"] == "add_grant"))
        .expect("an addition");
    assert_eq!(
        add["account"]["id"], "pending:new.hire@example.com",
        "{plan}"
    );

    // The policy also manages acme/engineering, so the plan removes the other
    // members: more than the safety rail lets through unnamed.
    let refused = workspace.run(&["apply", &plan_id]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.stderr.contains("mass-removal safety rail"),
        "{}",
        refused.all()
    );
    assert!(
        workspace.writes().await.is_empty(),
        "a refused plan writes nothing"
    );
    let first = workspace.run(&["apply", &plan_id, "--allow-mass-removal", &plan_id]);
    assert_eq!(first.code, 3, "waiting is not failure: {}", first.all());
    assert!(first.stdout.contains("waiting"), "{}", first.stdout);
    assert!(
        first.stdout.contains("pending first SSO login"),
        "{}",
        first.stdout
    );

    workspace
        .admin_post_to(
            "gitlab",
            "first-login",
            serde_json::json!({"email": "new.hire@example.com"}),
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let second = workspace.run(&[
        "apply",
        &plan_id,
        "--json",
        "--allow-mass-removal",
        &plan_id,
    ]);
    assert_eq!(second.code, 0, "{}", second.all());
    let report: Value = serde_json::from_str(&second.stdout).expect("report");
    assert_eq!(report["failed"], 0);
    assert_eq!(report["waiting"], 0);
    let export = workspace.run(&["audit", "export"]);
    assert!(
        export.stdout.contains("operation.waiting"),
        "the wait is audited"
    );
}
