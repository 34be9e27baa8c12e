//! Drift across every system of the sandbox: changes made by hand through
//! each emulator's admin endpoint are found within one sync, then fixed or
//! flagged according to the configured mode; resources outside the managed
//! scope are never touched.

use crate::testkit::{self, Serve, Workspace};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The shipped example: one policy over Okta, Google, GitHub, GitLab, Slack.
const PLATFORM_TOOLS: &str = include_str!("../../../../examples/policies/engineering-tools.yaml");

/// The rest of the sandbox's systems, for the same people.
const PLATFORM_MORE: &str = r#"policies:
  - name: platform-more
    when: person.department == "Platform" && person.status == "ACTIVE"
    grants:
      - { system: aws, resource: group/Platform Engineers }
      - { system: scim, resource: group/Platform }
      - { system: opa, resource: group/opa-admins }
      - { system: jira, resource: project/Platform, entitlement: role:Administrators }
      - { system: salesforce, resource: permission_set/Sandbox_Deploy }
"#;

/// Per system: the policy's resource there (as its connector names it), the
/// entitlement (native), the mode drift runs in, and someone the policy does
/// not grant it to who has an account there.
const SYSTEMS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "okta",
        "group/Platform",
        "member",
        "auto",
        "tom.baker@example.com",
    ),
    (
        "google",
        "group/platform@example.com",
        "MEMBER",
        "approval",
        "tom.baker@example.com",
    ),
    (
        "github",
        "team/Platform",
        "member",
        "report",
        "tom.baker@example.com",
    ),
    (
        "gitlab",
        "group/acme/platform",
        "access_level:30",
        "auto",
        "tom.baker@example.com",
    ),
    (
        "slack",
        "channel/platform-oncall",
        "member",
        "approval",
        "tom.baker@example.com",
    ),
    (
        "aws",
        "group/Platform Engineers",
        "member",
        "auto",
        "tom.baker@example.com",
    ),
    (
        "scim",
        "group/Platform",
        "member",
        "report",
        "marco.rossi@example.com",
    ),
    (
        "opa",
        "group/opa-admins",
        "member",
        "approval",
        "marco.rossi@example.com",
    ),
    (
        "jira",
        "project/Platform",
        "role:Developers",
        "auto",
        "tom.baker@example.com",
    ),
    (
        "salesforce",
        "permission_set/Sandbox_Deploy",
        "assigned",
        "approval",
        "lena.fischer@example.com",
    ),
];

/// Not in Platform, in Okta: nothing grants him the platform resources.
const OUTSIDER: &str = "tom.baker@example.com";
/// In Platform: the policies grant her everything above.
const MEMBER: &str = "nina.petrova@example.com";

fn drift_section() -> String {
    let systems: Vec<String> = SYSTEMS
        .iter()
        .map(|(system, _, _, mode, _)| format!("{system}: {mode}"))
        .collect();
    format!(
        "drift:\n  mode: report\n  systems: {{ {} }}\n",
        systems.join(", ")
    )
}

fn findings(output: &str) -> Vec<Value> {
    let checked: Value = serde_json::from_str(output).unwrap_or_else(|e| panic!("{e}: {output}"));
    checked["report"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// (system, kind, who, resource) of every drift finding.
fn summary(findings: &[Value]) -> BTreeSet<(String, String, String, String)> {
    findings
        .iter()
        .filter(|f| f["kind"] != "rule_managed")
        .map(|f| {
            let who = f["person"]
                .as_str()
                .or_else(|| f["account"]["login"].as_str())
                .unwrap_or_default()
                .to_string();
            let resource = match (
                f["resource"]["kind"].as_str(),
                f["resource"]["name"].as_str(),
            ) {
                (Some(kind), Some(name)) => format!("{kind}/{name}"),
                _ => String::new(),
            };
            (
                f["connection"].as_str().unwrap_or_default().to_string(),
                f["kind"].as_str().unwrap_or_default().to_string(),
                who,
                resource,
            )
        })
        .collect()
}

async fn hand_change(workspace: &Workspace, system: &str, body: Value) {
    workspace.admin_post_to(system, "hand-change", body).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hand_changes_in_every_system_are_found_in_one_sync_and_handled_by_mode() {
    let workspace = Workspace::start(None).await;
    workspace.write_policy("platform.yaml", PLATFORM_TOOLS);
    workspace.write_policy("platform-more.yaml", PLATFORM_MORE);
    let config = workspace.path("grantflow.yaml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{text}{}", drift_section())).expect("write config");

    assert_eq!(workspace.run(&["sync"]).code, 0);
    let (plan_id, _) = workspace.plan();
    // Taking the policies' resources from people outside Platform is more
    // than the rail lets through unnamed in the small sandbox.
    let apply = workspace.run(&["apply", &plan_id, "--allow-mass-removal", &plan_id]);
    assert_eq!(apply.code, 0, "{}", apply.all());

    // What the demo organisation holds besides the policy (departed people's
    // accounts, unmatched bots): the baseline every later check adds to.
    let baseline_run = workspace.run(&["drift", "--json"]);
    assert!(
        baseline_run.code == 0 || baseline_run.code == 4,
        "{}",
        baseline_run.all()
    );
    let baseline = summary(&findings(&baseline_run.stdout));
    assert!(
        !baseline
            .iter()
            .any(|(_, kind, _, _)| kind == "missing_grant" || kind == "unexpected_grant"),
        "after apply, no grant on a managed resource differs from the policy: {baseline:#?}"
    );

    for (system, resource, entitlement, _, outsider) in SYSTEMS {
        hand_change(
            &workspace,
            system,
            json!({ "op": "add", "user": outsider, "resource": resource, "entitlement": entitlement }),
        )
        .await;
        hand_change(
            &workspace,
            system,
            json!({ "op": "remove", "user": MEMBER, "resource": resource }),
        )
        .await;
    }
    let writes_before = workspace.writes().await;
    let run = workspace.run(&["drift", "--json"]);
    assert_eq!(
        run.code,
        4,
        "approval and report modes leave drift open: {}",
        run.all()
    );
    let found = findings(&run.stdout);
    let new: BTreeSet<_> = summary(&found).difference(&baseline).cloned().collect();
    let mut expected = BTreeSet::new();
    for (system, resource, _, _, outsider) in SYSTEMS {
        expected.insert((
            system.to_string(),
            "unexpected_grant".to_string(),
            outsider.to_string(),
            resource.to_string(),
        ));
        expected.insert((
            system.to_string(),
            "missing_grant".to_string(),
            MEMBER.to_string(),
            resource.to_string(),
        ));
    }
    assert_eq!(new, expected, "{}", run.stdout);

    // Each finding's outcome follows its system's mode.
    for finding in &found {
        let system = finding["connection"].as_str().unwrap_or_default();
        let Some((_, _, _, mode, _)) = SYSTEMS.iter().find(|(s, ..)| *s == system) else {
            continue;
        };
        if !matches!(
            finding["kind"].as_str(),
            Some("missing_grant" | "unexpected_grant")
        ) {
            continue;
        }
        let expected = match *mode {
            "auto" => "remediated",
            "approval" => "awaiting_approval",
            _ => "flagged",
        };
        assert_eq!(finding["disposition"], expected, "{finding}");
    }
    let checked: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(
        checked["remediated"]["report"]["failed"], 0,
        "{}",
        run.stdout
    );
    let approval_plan = checked["awaiting_approval"]
        .as_str()
        .expect("a plan waits for approval")
        .to_string();

    // The Okta write counter moved only for the remediation of okta itself.
    let writes_after = workspace.writes().await;
    assert_ne!(
        writes_before, writes_after,
        "okta was remediated through its API"
    );

    // The approval plan does not run unapproved.
    let refused = workspace.run(&["apply", &approval_plan]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.stderr.contains("needs an approval"),
        "{}",
        refused.all()
    );
    let approve = workspace.run(&["approve", &approval_plan]);
    assert_eq!(approve.code, 0, "{}", approve.all());
    let applied = workspace.run(&["apply", &approval_plan]);
    assert_eq!(applied.code, 0, "{}", applied.all());

    // The next sync finds only what report mode left.
    let after = workspace.run(&["drift", "--json"]);
    let remaining: BTreeSet<_> = summary(&findings(&after.stdout))
        .difference(&baseline)
        .cloned()
        .collect();
    let reported: BTreeSet<_> = expected
        .iter()
        .filter(|(system, ..)| {
            SYSTEMS
                .iter()
                .any(|(s, _, _, mode, _)| s == system && *mode == "report")
        })
        .cloned()
        .collect();
    assert_eq!(remaining, reported, "{}", after.all());

    // Suspending a platform member's account by hand is found in each system.
    for (system, ..) in SYSTEMS.iter().filter(|(s, ..)| *s != "okta") {
        hand_change(
            &workspace,
            system,
            json!({ "op": "suspend", "user": MEMBER }),
        )
        .await;
    }
    let suspended = workspace.run(&["drift", "--json"]);
    let suspended_findings: BTreeSet<String> = summary(&findings(&suspended.stdout))
        .into_iter()
        .filter(|(_, kind, who, _)| kind == "suspended_account" && who == MEMBER)
        .map(|(system, ..)| system)
        .collect();
    let expected_systems: BTreeSet<String> = SYSTEMS
        .iter()
        .filter(|(s, ..)| *s != "okta")
        .map(|(s, ..)| s.to_string())
        .collect();
    assert_eq!(suspended_findings, expected_systems, "{}", suspended.stdout);

    // Suspending the person in the directory is found where they still have an active account.
    hand_change(
        &workspace,
        "okta",
        json!({ "op": "suspend", "user": OUTSIDER }),
    )
    .await;
    let directory = workspace.run(&["drift", "--json"]);
    let inactive: BTreeSet<String> = summary(&findings(&directory.stdout))
        .into_iter()
        .filter(|(_, kind, who, _)| kind == "inactive_person_with_access" && who == OUTSIDER)
        .map(|(system, ..)| system)
        .collect();
    assert!(
        inactive.len() >= 3,
        "tom's active accounts elsewhere are flagged: {}",
        directory.stdout
    );

    // Every finding and every action is in the audit trail, and it verifies.
    let verify = workspace.run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.all());
    let export = workspace.run(&["audit", "export"]);
    for action in [
        "drift.finding_opened",
        "drift.finding_resolved",
        "plan.approval_requested",
        "plan.approved",
    ] {
        assert!(export.stdout.contains(action), "no {action} event");
    }
}

const UNMANAGED_GROUP: &str = "Finance";

#[tokio::test(flavor = "multi_thread")]
async fn a_resource_outside_the_managed_scope_is_never_modified() {
    let workspace = Workspace::start(None).await;
    workspace.write_policy("platform.yaml", PLATFORM_TOOLS);
    let config = workspace.path("grantflow.yaml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{text}drift:\n  mode: auto\n")).expect("write config");
    assert_eq!(workspace.run(&["sync"]).code, 0);
    let (plan_id, _) = workspace.plan();
    assert_eq!(workspace.run(&["apply", &plan_id]).code, 0);

    hand_change(
        &workspace,
        "okta",
        json!({ "op": "add", "user": OUTSIDER, "resource": format!("group/{UNMANAGED_GROUP}") }),
    )
    .await;
    let run = workspace.run(&["drift", "--json"]);
    let checked: Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all()));
    let touched: Vec<&Value> = checked["remediated"]["report"]["operations"]
        .as_array()
        .map(|ops| ops.iter().collect())
        .unwrap_or_default();
    assert!(
        touched
            .iter()
            .all(|op| !op.to_string().contains(UNMANAGED_GROUP)),
        "{}",
        run.stdout
    );
    assert!(
        checked["report"]["unmanaged"]["okta"]["grants"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{}",
        run.stdout
    );
    // Still there after auto remediation.
    let groups = workspace
        .okta_get(&format!(
            "/api/v1/groups?q={}",
            UNMANAGED_GROUP.replace(' ', "%20")
        ))
        .await;
    let id = groups[0]["id"].as_str().expect("group").to_string();
    let members = workspace
        .okta_get(&format!("/api/v1/groups/{id}/users"))
        .await;
    assert!(
        members.to_string().contains(OUTSIDER),
        "the unmanaged group keeps its hand-made member"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_checks_drift_after_each_sync_and_exports_open_findings() {
    let workspace = Workspace::start(None).await;
    workspace.write_policy("platform.yaml", PLATFORM_TOOLS);
    assert_eq!(workspace.run(&["sync"]).code, 0);
    let (plan_id, _) = workspace.plan();
    assert_eq!(workspace.run(&["apply", &plan_id]).code, 0);
    hand_change(
        &workspace,
        "okta",
        json!({ "op": "add", "user": OUTSIDER, "resource": "group/Platform" }),
    )
    .await;

    std::fs::write(workspace.path("metrics.token"), "prometheus-reads-this").expect("token file");
    let config = workspace.path("grantflow.yaml");
    let text = testkit::read(&config);
    std::fs::write(
        &config,
        format!("{text}\nserver:\n  metrics_token:\n    file: metrics.token\n"),
    )
    .expect("config");

    let serve = Serve::start(&workspace, "1");
    let listening = serve.wait_for("listening on ").await;
    let base = listening.rsplit(' ').next().expect("url").to_string();
    serve.wait_for("drift (schedule)").await;
    let http = reqwest::Client::new();
    // Which systems are out of policy is not for anyone who can reach the port.
    let anonymous = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics reachable");
    assert_eq!(anonymous.status(), 401);
    let wrong = http
        .get(format!("{base}/metrics"))
        .bearer_auth("guess")
        .send()
        .await
        .expect("metrics reachable");
    assert_eq!(wrong.status(), 401);
    let metrics = http
        .get(format!("{base}/metrics"))
        .bearer_auth("prometheus-reads-this")
        .send()
        .await
        .expect("metrics reachable")
        .text()
        .await
        .expect("text");
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("grantflow_drift_open_findings{")
                && l.contains("connection=\"okta\"")
                && l.contains("kind=\"unexpected_grant\"")
        })
        .unwrap_or_else(|| panic!("no okta unexpected_grant gauge in:\n{metrics}"));
    assert!(line.ends_with(" 1"), "{line}");
    assert!(
        metrics.contains("grantflow_drift_checks_total"),
        "{metrics}"
    );
}
