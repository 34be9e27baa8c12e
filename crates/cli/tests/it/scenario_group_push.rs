//! Scenario 3 (seed 002): an OPA secret folder, an Okta group with ravi in it pushed to the Okta Privileged
//! Access app, and an OPA security policy for the pushed group, planned in dependency order and applied on the
//! sandbox; the result is read back from both emulators' HTTP APIs.

use crate::testkit::Workspace;
use serde_json::{Value, json};

const SCENARIO: &str = include_str!("../../../../examples/scenarios/opa-secrets/group-push.yaml");
const GROUP: &str = "OPA Payments Secrets";
const FOLDER: &str = "payments-secrets";
const POLICY: &str = "payments-secrets-access";

/// A GET on the OPA API with a freshly minted service token.
pub(crate) async fn opa_get(workspace: &Workspace, path: &str) -> Value {
    let info = workspace
        .sandbox
        .info
        .systems
        .get("opa")
        .expect("opa in sandbox");
    let team = &info.credentials["team"];
    let client = reqwest::Client::new();
    let token: Value = client
        .post(format!("{}/v1/teams/{team}/service_token", info.base_url))
        .json(&json!({"key_id": info.credentials["key_id"], "key_secret": info.credentials["key_secret"]}))
        .send()
        .await
        .expect("opa reachable")
        .json()
        .await
        .expect("json");
    let bearer = token["bearer_token"].as_str().expect("bearer token");
    client
        .get(format!("{}/v1/teams/{team}/{path}", info.base_url))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("opa reachable")
        .json()
        .await
        .expect("json")
}

pub(crate) fn list(value: &Value) -> Vec<Value> {
    value["list"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn group_push_scenario_creates_pushes_and_grants_in_order_across_okta_and_opa() {
    let workspace = Workspace::start(None).await;
    workspace.write_policy("group-push.yaml", SCENARIO);
    let sync = workspace.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());

    let (plan_id, plan) = workspace.plan();
    let operations = plan["operations"].as_array().expect("operations");
    let find = |verb: &str, name: &str| -> &Value {
        operations
            .iter()
            .find(|op| {
                op["kind"] == verb
                    && (op["resource"]["name"] == name || op["group"]["name"] == name)
            })
            .unwrap_or_else(|| panic!("no {verb} on {name} in {plan:#}"))
    };
    let create_group = find("create_resource", GROUP);
    let add_ravi = find("add_grant", GROUP);
    let push = find("push_group", GROUP);
    let folder = find("create_resource", "payments/payments-prod/payments-secrets");
    let policy = find("create_resource", POLICY);
    let assign = find("add_group_grant", GROUP);
    assert_eq!(operations.len(), 6, "{plan:#}");
    assert_eq!(create_group["connection"], "okta");
    assert_eq!(add_ravi["account"]["login"], "ravi.patel@example.com");
    let id = |op: &Value| op["id"].as_u64().expect("id");
    let deps = |op: &Value| -> Vec<u64> {
        op["depends_on"]
            .as_array()
            .map(|d| d.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default()
    };
    assert_eq!(deps(add_ravi), [id(create_group)]);
    assert_eq!(deps(assign), [id(create_group)]);
    let mut push_deps = deps(push);
    push_deps.sort();
    let mut wanted = vec![id(create_group), id(assign)];
    wanted.sort();
    assert_eq!(
        push_deps, wanted,
        "the push waits for the group and its app assignment"
    );
    let mut policy_deps = deps(policy);
    policy_deps.sort();
    let mut wanted = vec![id(push), id(folder)];
    wanted.sort();
    assert_eq!(
        policy_deps, wanted,
        "the policy waits for the push and the folder"
    );
    // The plan lists every operation after the ones it depends on.
    for (position, op) in operations.iter().enumerate() {
        assert_eq!(id(op), position as u64);
        assert!(deps(op).iter().all(|d| *d < id(op)), "{op:#}");
    }

    let apply = workspace.run(&["apply", &plan_id]);
    assert_eq!(apply.code, 0, "{}", apply.all());

    // Okta: the group exists, ravi is in it, and its push mapping to the OPA app is ACTIVE.
    let groups = workspace
        .okta_get("/api/v1/groups?q=OPA%20Payments%20Secrets")
        .await;
    let group = groups
        .as_array()
        .and_then(|g| g.iter().find(|g| g["profile"]["name"] == GROUP))
        .cloned()
        .expect("the Okta group exists");
    let gid = group["id"].as_str().expect("group id");
    let members = workspace
        .okta_get(&format!("/api/v1/groups/{gid}/users"))
        .await;
    let logins: Vec<&str> = members
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|u| u["profile"]["login"].as_str())
        .collect();
    assert_eq!(logins, ["ravi.patel@example.com"]);
    let apps = workspace
        .okta_get("/api/v1/apps?q=Okta%20Privileged%20Access")
        .await;
    let app = apps
        .as_array()
        .and_then(|a| a.iter().find(|a| a["label"] == "Okta Privileged Access"))
        .cloned()
        .expect("the OPA app");
    let mappings = workspace
        .okta_get(&format!(
            "/api/v1/apps/{}/group-push/mappings",
            app["id"].as_str().expect("app id")
        ))
        .await;
    let mapping = mappings
        .as_array()
        .and_then(|m| m.iter().find(|m| m["sourceGroupId"] == gid))
        .cloned()
        .expect("a push mapping for the group");
    assert_eq!(mapping["status"], "ACTIVE");

    // OPA: the folder, the pushed group with ravi, and the policy naming both.
    let rgs = opa_get(&workspace, "resource_groups").await;
    let rg = list(&rgs)
        .into_iter()
        .find(|r| r["name"] == "payments")
        .expect("resource group");
    let rg_id = rg["id"].as_str().expect("id").to_string();
    let projects = opa_get(&workspace, &format!("resource_groups/{rg_id}/projects")).await;
    let project = list(&projects)
        .into_iter()
        .find(|p| p["name"] == "payments-prod")
        .expect("project");
    let folders = opa_get(
        &workspace,
        &format!(
            "resource_groups/{rg_id}/projects/{}/secret_folders",
            project["id"].as_str().expect("id")
        ),
    )
    .await;
    let folder = list(&folders)
        .into_iter()
        .find(|f| f["name"] == FOLDER)
        .expect("the secret folder exists");
    let pushed = opa_get(&workspace, "groups/OPA%20Payments%20Secrets/users").await;
    let names: Vec<Value> = list(&pushed).iter().map(|u| u["name"].clone()).collect();
    assert_eq!(
        names,
        [json!("ravi.patel")],
        "the pushed group carries ravi"
    );
    let policies = opa_get(&workspace, "security_policy").await;
    let policy = list(&policies)
        .into_iter()
        .find(|p| p["name"] == POLICY)
        .expect("the security policy exists");
    assert_eq!(policy["principals"]["user_groups"][0]["name"], GROUP);
    assert_eq!(policy["principals"]["user_groups"][0]["type"], "user_group");
    assert_eq!(
        policy["rules"][0]["resource_selector"]["selectors"][0]["selector"]["secret_folder"]["id"],
        folder["id"]
    );
    assert_eq!(
        policy["rules"][0]["privileges"][0]["privilege_value"]["secret_create"],
        true
    );

    // Nothing left to do, and nothing was written twice.
    let sync = workspace.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    let (_, again) = workspace.plan();
    assert_eq!(again["operations"], json!([]), "{again:#}");
    for system in ["okta", "opa"] {
        let writes = workspace.writes_to(system).await;
        assert!(!writes.is_empty(), "{system} saw writes");
        for (key, count) in &writes {
            assert_eq!(count, 1, "{system} {key} written {count} times");
        }
    }
    let opa_writes = workspace.writes_to("opa").await;
    assert!(
        opa_writes.contains_key("secret_folder/payments-secrets"),
        "{opa_writes:?}"
    );
    assert!(
        opa_writes.contains_key("security_policy/payments-secrets-access"),
        "{opa_writes:?}"
    );
}

#[test]
fn the_demo_runs_the_group_push_scenario() {
    let stdout = crate::testkit::demo_stdout(&["--scenario", "group-push", "--quiet"]);
    assert!(stdout.contains("after op2, op4"), "{stdout}");
    assert!(
        stdout.contains("after op0, op1"),
        "the push waits for the group and its app assignment: {stdout}"
    );
    assert!(
        stdout.contains(
            "security policy payments-secrets-access: groups OPA Payments Secrets (ravi.patel)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("Planning again: 0 change(s) left."),
        "{stdout}"
    );
}
