//! The example flows (examples/flows) against the sandbox, through the real binary: every file checks; seed
//! 001's flow marks the profile of a person an Okta event says joined Engineering; seed 002's main flow, with
//! its four helper flows, makes a team's OPA folder, Okta group, push and security policy; and `flow plan`
//! shows what a flow would do without changing anything.

use crate::testkit::Workspace;

fn with_examples(workspace: &Workspace) {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/flows");
    std::fs::create_dir_all(workspace.path("flows")).unwrap();
    for entry in std::fs::read_dir(examples).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            workspace.path("flows").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
}

fn group_added(login: &str, group: &str) -> serde_json::Value {
    serde_json::json!({
        "uuid": "6d5a8f3e-5b0a-11ef-9a7c-0242ac120002",
        "published": "2026-12-04T10:00:00.000Z",
        "eventType": "group.user_membership.add",
        "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com", "displayName": "Admin"},
        "target": [
            {"id": "00u1", "type": "User", "alternateId": login, "displayName": "Okta Demo"},
            {"id": "00g1", "type": "UserGroup", "alternateId": "unknown", "displayName": group}
        ]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_flows_check_and_run_against_the_sandbox() {
    let check = Workspace::start(None).await;
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/flows");
    let checked = check.run(&["flow", "check", examples]);
    assert_eq!(checked.code, 0, "{}", checked.all());
    assert!(
        checked.stdout.contains("14 flow(s) checked"),
        "{}",
        checked.stdout
    );

    let workspace = check;
    with_examples(&workspace);
    assert_eq!(workspace.run(&["sync"]).code, 0);

    // Seed 001: the event says okta-demo-user joined Engineering.
    let event = workspace.path("event.json");
    std::fs::write(
        &event,
        group_added("okta-demo-user@example.com", "Engineering").to_string(),
    )
    .unwrap();
    // A dry run first: nothing changes.
    let planned = workspace.run(&[
        "flow",
        "plan",
        "is-member-of-group",
        "--event",
        event.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(planned.code, 0, "{}", planned.all());
    assert!(
        planned.stdout.contains("\"outcome\": \"planned\""),
        "{}",
        planned.stdout
    );
    let user = workspace
        .okta_get("/api/v1/users/okta-demo-user@example.com")
        .await;
    assert!(
        user["profile"]
            .get("isMemberOfGroup")
            .is_none_or(|v| v.is_null()),
        "{user}"
    );

    let ran = workspace.run(&[
        "flow",
        "run",
        "is-member-of-group",
        "--event",
        event.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    let run: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(run["state"], "succeeded", "{run}");
    let user = workspace
        .okta_get("/api/v1/users/okta-demo-user@example.com")
        .await;
    assert_eq!(user["profile"]["isMemberOfGroup"], true, "{user}");

    // Seed 002: one main flow calling four helper flows with the team's name.
    let ran = workspace.run(&[
        "flow",
        "run",
        "team-secrets",
        "--input",
        "team=growth",
        "--input",
        "owner=ravi.patel@example.com",
        "--json",
    ]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    let run: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(
        run["output"],
        serde_json::json!({"folder": "payments/payments-prod/growth-secrets", "group": "OPA growth Secrets", "policy": "growth-secrets-access"})
    );
    let paths: Vec<&str> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["path"].as_str())
        .collect();
    for path in [
        "folder/create",
        "group/create",
        "group/member",
        "push/push",
        "policy/create",
    ] {
        assert!(paths.contains(&path), "{path} not in {paths:?}");
    }
    // The group exists in Okta with its owner, and was pushed to OPA, where the policy names it.
    let groups = workspace
        .okta_get("/api/v1/groups?q=OPA%20growth%20Secrets")
        .await;
    let group_id = groups[0]["id"]
        .as_str()
        .expect("the group was created")
        .to_string();
    let members = workspace
        .okta_get(&format!("/api/v1/groups/{group_id}/users"))
        .await;
    assert_eq!(
        members[0]["profile"]["login"], "ravi.patel@example.com",
        "{members}"
    );
    let resync = workspace.run(&["sync", "--system", "opa"]);
    assert_eq!(resync.code, 0, "{}", resync.all());
    // Seed 001's second flow: the new hire's temporary password goes to the manager's vault, and nowhere else.
    let vault = grantflow_sandbox::vault::vault_id("priya.raman@example.com (private)");
    let ran = workspace.run(&[
        "flow",
        "run",
        "new-hire-password",
        "-i",
        "who=okta-demo-user@example.com",
        "-i",
        &format!("vault={vault}"),
        "--json",
    ]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    let run: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(run["state"], "succeeded", "{run}");
    let admin = &workspace.sandbox.info.services["vault"].admin_url;
    let items: serde_json::Value = reqwest::get(format!("{admin}/items"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item = items["items"]
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .find(|i| i["title"] == "Temporary password for okta-demo-user@example.com")
        })
        .unwrap_or_else(|| panic!("no item in the vault: {items}"));
    let password = item["fields"]
        .as_array()
        .and_then(|fields| fields.iter().find(|f| f["purpose"] == "PASSWORD"))
        .and_then(|f| f["value"].as_str())
        .expect("a password field")
        .to_string();
    assert!(password.len() >= 8 && password != "[secret]", "{password}");
    let shown = workspace.run(&["flow", "run-show", run["id"].as_str().unwrap(), "--json"]);
    let exported = workspace.run(&["audit", "export"]);
    let database = std::fs::read(workspace.database()).unwrap();
    for (what, text) in [
        ("the run", shown.stdout.as_bytes()),
        ("the audit trail", exported.stdout.as_bytes()),
        ("the database", &database[..]),
    ] {
        assert!(
            !text
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "the temporary password is in {what}"
        );
    }
    assert!(shown.stdout.contains("[secret]"), "{}", shown.stdout);

    let runs = workspace.run(&["flow", "runs", "--json"]);
    assert_eq!(runs.code, 0);

    // `flow test` tries a flow against a sandbox of its own: the workspace's Okta is not touched.
    let before = workspace.writes().await.len();
    let tested = workspace.run(&[
        "flow",
        "test",
        "password-reset",
        "--flows",
        examples,
        "--input",
        "who=okta-demo-user@example.com",
        "--json",
    ]);
    assert_eq!(tested.code, 0, "{}", tested.all());
    let run: serde_json::Value = serde_json::from_str(&tested.stdout).unwrap();
    assert_eq!(run["state"], "succeeded", "{run}");
    let paths: Vec<&str> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["path"].as_str())
        .collect();
    assert!(paths.contains(&"check/then/reset"), "{paths:?}");
    assert_eq!(
        workspace.writes().await.len(),
        before,
        "flow test wrote to the workspace's sandbox"
    );
}
