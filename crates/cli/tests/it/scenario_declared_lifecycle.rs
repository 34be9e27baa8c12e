//! Declared resources have a lifecycle (seed 002's story, continued): after the OPA folder, the Okta group,
//! its push and the OPA security policy exist, a changed `spec` is planned and applied as an update (before →
//! after in the review), and removed declarations and a removed push as deletions (the push deactivated, then
//! deleted) behind the mass-removal safety rail; what grantflow did not create is never deleted, and the plan
//! says so. Everything is read back from the emulators' HTTP APIs.

use crate::scenario_group_push::{list, opa_get};
use crate::testkit::{Workspace, read};
use serde_json::{Value, json};

const SCENARIO: &str = include_str!("../../../../examples/scenarios/opa-secrets/group-push.yaml");
const GROUP: &str = "OPA Payments Secrets";
const FOLDER: &str = "payments-secrets";
const POLICY: &str = "payments-secrets-access";

fn ops_of<'p>(plan: &'p Value, kind: &str) -> Vec<&'p Value> {
    plan["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter(|op| op["kind"] == kind)
        .collect()
}

fn deps(op: &Value) -> Vec<u64> {
    op["depends_on"]
        .as_array()
        .map(|d| d.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// The payments folder as OPA lists it, if it exists.
async fn folder(workspace: &Workspace) -> Option<Value> {
    let rgs = opa_get(workspace, "resource_groups").await;
    let rg = list(&rgs).into_iter().find(|r| r["name"] == "payments")?;
    let rg_id = rg["id"].as_str()?.to_string();
    let projects = opa_get(workspace, &format!("resource_groups/{rg_id}/projects")).await;
    let project = list(&projects)
        .into_iter()
        .find(|p| p["name"] == "payments-prod")?;
    let folders = opa_get(
        workspace,
        &format!(
            "resource_groups/{rg_id}/projects/{}/secret_folders",
            project["id"].as_str()?
        ),
    )
    .await;
    list(&folders).into_iter().find(|f| f["name"] == FOLDER)
}

async fn policy(workspace: &Workspace) -> Option<Value> {
    let policies = opa_get(workspace, "security_policy").await;
    list(&policies).into_iter().find(|p| p["name"] == POLICY)
}

async fn okta_group(workspace: &Workspace) -> Option<Value> {
    let groups = workspace
        .okta_get("/api/v1/groups?q=OPA%20Payments%20Secrets")
        .await;
    groups
        .as_array()
        .and_then(|g| g.iter().find(|g| g["profile"]["name"] == GROUP).cloned())
}

async fn push_mappings(workspace: &Workspace) -> Vec<Value> {
    let apps = workspace
        .okta_get("/api/v1/apps?q=Okta%20Privileged%20Access")
        .await;
    let app = apps
        .as_array()
        .and_then(|a| a.iter().find(|a| a["label"] == "Okta Privileged Access"))
        .cloned()
        .expect("the OPA app");
    workspace
        .okta_get(&format!(
            "/api/v1/apps/{}/group-push/mappings",
            app["id"].as_str().expect("app id")
        ))
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn declared_resources_are_updated_and_deleted_and_pushes_removed_behind_the_rail() {
    let workspace = Workspace::start(None).await;
    workspace.write_policy("group-push.yaml", SCENARIO);
    let sync = workspace.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    let (plan_id, plan) = workspace.plan();
    // The group is assigned to the app before it is pushed: only app-assigned members are pushed.
    let assign = ops_of(&plan, "add_group_grant");
    assert_eq!(assign.len(), 1, "{plan:#}");
    assert_eq!(assign[0]["group"]["name"], GROUP);
    assert_eq!(assign[0]["resource"]["name"], "Okta Privileged Access");
    let push = ops_of(&plan, "push_group")[0];
    assert!(
        deps(push).contains(&assign[0]["id"].as_u64().expect("id")),
        "{plan:#}"
    );
    // Someone makes the Okta group by hand after the plan was made: grantflow finds it, so it is not its own.
    let okta = workspace.okta();
    let made = reqwest::Client::new()
        .post(format!("{}/api/v1/groups", okta.base_url))
        .header("Authorization", format!("SSWS {}", workspace.token()))
        .json(&json!({"profile": {"name": GROUP}}))
        .send()
        .await
        .expect("okta reachable");
    assert!(made.status().is_success(), "{}", made.status());
    let apply = workspace.run(&["apply", &plan_id]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    // The push carried ravi, who is app-assigned through the group.
    let pushed = opa_get(&workspace, "groups/OPA%20Payments%20Secrets/users").await;
    let names: Vec<Value> = list(&pushed).iter().map(|u| u["name"].clone()).collect();
    assert_eq!(names, [json!("ravi.patel")]);

    // 1. A changed spec is an update, shown before → after.
    let changed = SCENARIO
        .replace(
            "description: Secrets of the payments team\n",
            "description: Secrets of the payments team, rotated quarterly\n",
        )
        .replace("secret_update: true", "secret_update: false")
        .replace(
            "description: Payments people who manage the payments secrets in Okta Privileged Access",
            "description: Payments secrets managers",
        );
    assert_ne!(changed, SCENARIO);
    workspace.write_policy("group-push.yaml", &changed);
    let sync = workspace.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    let (update_id, update) = workspace.plan();
    let updates = ops_of(&update, "update_resource");
    assert_eq!(
        update["operations"].as_array().map(Vec::len),
        Some(3),
        "three updates and nothing else: {update:#}"
    );
    let on = |name: &str| -> &Value {
        updates
            .iter()
            .find(|op| op["resource"]["name"] == name)
            .copied()
            .unwrap_or_else(|| panic!("no update of {name}: {update:#}"))
    };
    let folder_update = on("payments/payments-prod/payments-secrets");
    assert_eq!(
        folder_update["before"],
        json!({"description": "Secrets of the payments team"})
    );
    assert_eq!(
        folder_update["after"],
        json!({"description": "Secrets of the payments team, rotated quarterly"})
    );
    let policy_update = on(POLICY);
    assert_eq!(
        policy_update["before"],
        json!({"privileges": {"list": true, "secret_create": true, "secret_update": true, "secret_reveal": true}})
    );
    assert_eq!(policy_update["after"]["privileges"]["secret_update"], false);
    assert_eq!(on(GROUP)["connection"], "okta");
    let shown = workspace.run(&["plan"]);
    assert!(
        shown.stdout.contains(
            "description: \"Secrets of the payments team\" \u{2192} \"Secrets of the payments team, rotated quarterly\""
        ),
        "{}",
        shown.all()
    );
    let apply = workspace.run(&["apply", &update_id]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    assert_eq!(
        folder(&workspace).await.expect("folder")["description"],
        "Secrets of the payments team, rotated quarterly"
    );
    let held = policy(&workspace).await.expect("policy");
    assert_eq!(
        held["rules"][0]["privileges"][0]["privilege_value"]["secret_update"],
        false
    );
    assert_eq!(
        held["rules"][0]["privileges"][0]["privilege_value"]["secret_create"],
        true
    );
    assert_eq!(
        okta_group(&workspace).await.expect("group")["profile"]["description"],
        "Payments secrets managers"
    );
    let sync = workspace.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    let (_, again) = workspace.plan();
    assert_eq!(again["operations"], json!([]), "{again:#}");

    // 2. Removed declarations and a removed push: only ravi's membership stays declared.
    let policies_only = &SCENARIO[SCENARIO.find("policies:").expect("policies section")..];
    workspace.write_policy("group-push.yaml", policies_only);
    let (removal_id, removal) = workspace.plan();
    let deletions = ops_of(&removal, "delete_resource");
    let names: Vec<&str> = deletions
        .iter()
        .filter_map(|op| op["resource"]["name"].as_str())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "the policy and the folder, never the Okta group: {removal:#}"
    );
    assert!(names.contains(&POLICY) && names.contains(&"payments/payments-prod/payments-secrets"));
    let id = |op: &Value| op["id"].as_u64().expect("id");
    let policy_deletion = deletions
        .iter()
        .find(|op| op["resource"]["name"] == POLICY)
        .expect("policy deletion");
    let folder_deletion = deletions
        .iter()
        .find(|op| op["resource"]["name"] != POLICY)
        .expect("folder deletion");
    assert_eq!(
        deps(folder_deletion),
        [id(policy_deletion)],
        "the folder goes after the policy that names it"
    );
    let deactivate = ops_of(&removal, "deactivate_push");
    let delete_push = ops_of(&removal, "delete_push");
    assert_eq!((deactivate.len(), delete_push.len()), (1, 1), "{removal:#}");
    assert_eq!(deps(delete_push[0]), [id(deactivate[0])]);
    assert_eq!(removal["operations"].as_array().map(Vec::len), Some(4));
    let notes = removal["review"]["notes"].to_string();
    assert!(
        notes.contains("group \\\"OPA Payments Secrets\\\" is no longer declared, but grantflow did not create it"),
        "{notes}"
    );

    // The deletions count against the safety rail.
    std::fs::write(
        workspace.path("grantflow.yaml"),
        read(&workspace.path("grantflow.yaml"))
            + "safety:\n  window_removals: 1\n  max_removal_share: 1.0\n  max_removed_accounts: 100\n  max_resource_removal_share: 1.0\n",
    )
    .expect("config");
    let refused = workspace.run(&["apply", &removal_id]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.stderr.contains("mass-removal safety rail"),
        "{}",
        refused.all()
    );
    assert!(policy(&workspace).await.is_some(), "nothing ran");
    let apply = workspace.run(&["apply", &removal_id, "--allow-mass-removal", &removal_id]);
    assert_eq!(apply.code, 0, "{}", apply.all());

    assert!(policy(&workspace).await.is_none(), "the policy is deleted");
    assert!(folder(&workspace).await.is_none(), "the folder is deleted");
    let group = okta_group(&workspace)
        .await
        .expect("the Okta group grantflow did not create stays");
    let gid = group["id"].as_str().expect("gid");
    assert!(
        !push_mappings(&workspace)
            .await
            .iter()
            .any(|m| m["sourceGroupId"] == gid),
        "the push mapping is deleted"
    );
    let sync = workspace.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    let (_, settled) = workspace.plan();
    assert_eq!(settled["operations"], json!([]), "{settled:#}");
}
