//! Group membership and app assignments: idempotency, write counts, GROUP vs USER scope, derived access and its log events.

use super::common::*;

#[tokio::test]
async fn membership_is_idempotent_counts_writes_and_drives_group_app_access() {
    let e = env().await;
    let uid = e.user_id("okta-demo-user@example.com").await;
    let gid = e.group_id("Production Access Demo").await;
    let checkout = e.app_id("Checkout Production Access").await;
    let (_, _, links) = e.get(&format!("/api/v1/users/{uid}/appLinks")).await;
    assert!(
        !links
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["label"] == "Checkout Production Access")
    );
    for _ in 0..2 {
        let (s, h, b) = e
            .call(
                Method::PUT,
                &format!("/api/v1/groups/{gid}/users/{uid}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert!(h.get("content-type").is_none());
        assert_eq!(b, Value::Null);
    }
    let writes = e.admin(Method::GET, "/writes", None).await;
    assert_eq!(writes["writes"][format!("group/{gid}/user/{uid}")], 2);
    let (_, _, members) = e.get(&format!("/api/v1/groups/{gid}/users")).await;
    assert_eq!(
        members
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["id"] == uid.as_str())
            .count(),
        1
    );
    let (_, _, au) = e.get(&format!("/api/v1/apps/{checkout}/users/{uid}")).await;
    assert_eq!(au["scope"], "GROUP");
    let (_, _, links) = e.get(&format!("/api/v1/users/{uid}/appLinks")).await;
    let labels: Vec<&str> = links
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["label"].as_str().unwrap())
        .collect();
    for l in [
        "Checkout Production Access",
        "Graph Connector Console",
        "Production Monitors",
        "Slack",
        "Google Workspace",
    ] {
        assert!(labels.contains(&l), "{l} not in {labels:?}");
    }
    assert!(
        links[0]["appAssignmentId"]
            .as_str()
            .unwrap()
            .starts_with("0ua")
    );
    let (_, _, groups) = e.get(&format!("/api/v1/users/{uid}/groups")).await;
    assert!(
        groups
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["type"] == "BUILT_IN" && g["profile"]["name"] == "Everyone")
    );
    let (s, _, _) = e
        .call(
            Method::DELETE,
            &format!("/api/v1/groups/{gid}/users/{uid}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, v) = e.get(&format!("/api/v1/apps/{checkout}/users/{uid}")).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "E0000007"));
    // Production Monitors is also given by Platform, so it stays.
    let monitors = e.app_id("Production Monitors").await;
    let (s, _, _) = e.get(&format!("/api/v1/apps/{monitors}/users/{uid}")).await;
    assert_eq!(s, StatusCode::OK);
    let (_, _, logs) = e.get("/api/v1/logs?filter=eventType%20eq%20%22group.user_membership.add%22%20or%20eventType%20eq%20%22group.user_membership.remove%22").await;
    let logs = logs.as_array().unwrap();
    assert_eq!(logs.len(), 2, "one add despite two PUTs, one remove");
    assert_eq!(logs[0]["actor"]["type"], "User");
    assert_eq!(logs[0]["outcome"]["result"], "SUCCESS");
    assert_eq!(logs[0]["target"][1]["id"], gid.as_str());
    let (_, _, removed) = e.get(&format!("/api/v1/logs?filter=eventType%20eq%20%22application.user_membership.remove%22%20and%20target.id%20eq%20%22{checkout}%22")).await;
    assert_eq!(removed.as_array().unwrap().len(), 1);
    let everyone = e.group_id("Everyone").await;
    let (s, _, v) = e
        .call(
            Method::PUT,
            &format!("/api/v1/groups/{everyone}/users/{uid}"),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "E0000001"));
    e.sb.shutdown().await;
}

#[tokio::test]
async fn app_assignment_rules() {
    let e = env().await;
    let jira = e.app_id("Jira").await;
    let uid = e.user_id("grace.lee@example.com").await;
    let (s, v) = e
        .post(
            &format!("/api/v1/apps/{jira}/users"),
            json!({"id": uid, "scope": "USER"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["id"].as_str(), v["scope"].as_str()),
        (Some(uid.as_str()), Some("USER"))
    );
    let (s, v) = e
        .post(
            &format!("/api/v1/apps/{jira}/users"),
            json!({"id": uid, "scope": "USER"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "E0000062"));
    let gone = e.user_id("former.engineer@example.com").await;
    let (s, v) = e
        .post(&format!("/api/v1/apps/{jira}/users"), json!({"id": gone}))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "E0000117"));
    let (s, _, _) = e
        .call(
            Method::DELETE,
            &format!("/api/v1/apps/{jira}/users/{uid}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let finance = e.group_id("Finance").await;
    for _ in 0..2 {
        let (s, _, v) = e
            .call(
                Method::PUT,
                &format!("/api/v1/apps/{jira}/groups/{finance}"),
                Some(json!({})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["id"], finance.as_str());
    }
    let (_, _, au) = e.get(&format!("/api/v1/apps/{jira}/users/{uid}")).await;
    assert_eq!(au["scope"], "GROUP");
    let writes = e.admin(Method::GET, "/writes", None).await;
    assert_eq!(writes["writes"][format!("app/{jira}/group/{finance}")], 2);
    assert_eq!(writes["writes"][format!("app/{jira}/user/{uid}")], 2);
    let (_, _, groups) = e.get(&format!("/api/v1/apps/{jira}/groups")).await;
    assert!(
        groups
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["id"] == finance.as_str())
    );
    let (s, _, _) = e
        .call(
            Method::DELETE,
            &format!("/api/v1/apps/{jira}/groups/{finance}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = e.get(&format!("/api/v1/apps/{jira}/users/{uid}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, v) = e.get("/api/v1/apps/0oaMISSING").await;
    assert_eq!(
        v["errorSummary"],
        "Not found: Resource not found: 0oaMISSING (AppInstance)"
    );
    assert_eq!(s, StatusCode::NOT_FOUND);
    e.sb.shutdown().await;
}

/// The members OPA holds in a group (by OPA user name), read through OPA's API with a fresh service token.
async fn opa_members(e: &Env, group: &str) -> Vec<String> {
    let info = &e.sb.info.systems["opa"];
    let team = &info.credentials["team"];
    let token: Value = e
        .http
        .post(format!("{}/v1/teams/{team}/service_token", info.base_url))
        .json(&json!({"key_id": info.credentials["key_id"], "key_secret": info.credentials["key_secret"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = e
        .http
        .get(format!(
            "{}/v1/teams/{team}/groups/{}/users",
            info.base_url,
            group.replace(' ', "%20")
        ))
        .bearer_auth(token["bearer_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    if response.status() == StatusCode::NOT_FOUND {
        return vec![];
    }
    let body: Value = response.json().await.unwrap();
    let mut names: Vec<String> = body["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Okta's Group Push prerequisite: only the group's members assigned to the target app (directly, or through
/// a group assigned to it) are pushed; assigning the group to the app pushes the rest.
#[tokio::test]
async fn a_group_push_delivers_only_members_assigned_to_the_app() {
    let e = env().await;
    let app = e.app_id("Okta Privileged Access").await;
    let (s, group) = e
        .post(
            "/api/v1/groups",
            json!({"profile": {"name": "Push Prerequisite"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{group}");
    let gid = group["id"].as_str().unwrap().to_owned();
    let ravi = e.user_id("ravi.patel@example.com").await;
    let demo = e.user_id("okta-demo-user@example.com").await;
    for uid in [&ravi, &demo] {
        let (s, _, b) = e
            .call(
                Method::PUT,
                &format!("/api/v1/groups/{gid}/users/{uid}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    }
    // okta-demo-user is assigned to the app directly; ravi is not.
    let (s, b) = e
        .post(
            &format!("/api/v1/apps/{app}/users"),
            json!({"id": demo, "scope": "USER"}),
        )
        .await;
    assert!(s.is_success(), "{b}");
    let (s, mapping) = e
        .post(
            &format!("/api/v1/apps/{app}/group-push/mappings"),
            json!({"sourceGroupId": gid, "targetGroupName": "Push Prerequisite", "status": "ACTIVE"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{mapping}");
    assert_eq!(
        opa_members(&e, "Push Prerequisite").await,
        ["okta-demo-user"],
        "only the app-assigned member is pushed"
    );
    // Assigning the group to the app assigns ravi too: now he is pushed.
    let (s, _, b) = e
        .call(
            Method::PUT,
            &format!("/api/v1/apps/{app}/groups/{gid}"),
            Some(json!({})),
        )
        .await;
    assert!(s.is_success(), "{b}");
    assert_eq!(
        opa_members(&e, "Push Prerequisite").await,
        ["okta-demo-user", "ravi.patel"]
    );
}
