//! The Okta emulator's rules over HTTP: auth forms, headers, status transitions and codes, pagination, membership, writes, 429s, logs.

use std::sync::Arc;

use grantflow_sandbox::{
    ManualClock, OktaConfig, RunningSandbox, SandboxOptions, demo_org, okta_router, start,
};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "00test-token-for-the-okta-emulator-0000000";

struct Env {
    sb: RunningSandbox,
    http: Client,
    base: String,
}

async fn env() -> Env {
    let sb = start(
        &demo_org(),
        SandboxOptions {
            okta_token: Some(TOKEN.into()),
            rate_limit_window_seconds: 1,
            ..SandboxOptions::default()
        },
    )
    .await
    .unwrap();
    let base = sb.info.systems["okta"].base_url.clone();
    Env {
        sb,
        http: Client::new(),
        base,
    }
}

impl Env {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = self
            .http
            .request(method, url)
            .header("Authorization", format!("SSWS {TOKEN}"))
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, headers, v)
    }

    async fn get(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, v) = self.call(Method::POST, path, Some(body)).await;
        (s, v)
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}/__sandbox{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let text = req.send().await.unwrap().text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn user_id(&self, login: &str) -> String {
        let (s, _, v) = self
            .get(&format!("/api/v1/users/{}", login.replace('@', "%40")))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    async fn group_id(&self, name: &str) -> String {
        let (_, _, v) = self
            .get(&format!("/api/v1/groups?q={}", name.replace(' ', "%20")))
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .find(|g| g["profile"]["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn app_id(&self, label: &str) -> String {
        let (_, _, v) = self.get("/api/v1/apps?limit=200").await;
        v.as_array()
            .unwrap()
            .iter()
            .find(|a| a["label"] == label)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn code(v: &Value) -> &str {
    v["errorCode"].as_str().unwrap_or("<none>")
}

fn next_link(h: &reqwest::header::HeaderMap) -> Option<String> {
    h.get_all("link").iter().find_map(|v| {
        let s = v.to_str().ok()?;
        let end = s.find('>')?;
        s.ends_with("rel=\"next\"").then(|| s[1..end].to_owned())
    })
}

#[tokio::test]
async fn auth_accepts_both_ssws_forms_and_nothing_else() {
    let e = env().await;
    let url = format!("{}/api/v1/users?limit=1", e.base);
    for (auth, ok) in [
        (Some(format!("SSWS {TOKEN}")), true),
        (Some(format!("SSWS{TOKEN}")), true),
        (Some(format!("Bearer {TOKEN}")), false),
        (Some("SSWS wrong".to_owned()), false),
        (None, false),
    ] {
        let mut req = e.http.get(&url);
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        if ok {
            assert_eq!(status, StatusCode::OK, "{auth:?}");
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
            assert_eq!(code(&body), "E0000011");
            assert_eq!(body["errorSummary"], "Invalid token provided");
        }
    }
    e.sb.shutdown().await;
}

#[tokio::test]
async fn every_response_has_okta_headers_and_204_has_no_json_type() {
    let e = env().await;
    let (s, h, _) = e.get("/api/v1/users?limit=1").await;
    assert_eq!(s, StatusCode::OK);
    for name in [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
        "date",
        "x-okta-request-id",
    ] {
        assert!(h.contains_key(name), "missing {name}");
    }
    assert_eq!(h["x-rate-limit-limit"], "600");
    assert!(h["date"].to_str().unwrap().ends_with(" GMT"));
    let uid = e.user_id("okta-demo-user@example.com").await;
    let (s, h, body) = e
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{uid}/sessions?oauthTokens=true"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    assert!(h.get("content-type").is_none(), "{h:?}");
    let counters = e.admin(Method::GET, "/counters", None).await;
    assert_eq!(counters["sessions_cleared"][&uid], 1);
    assert_eq!(counters["oauth_tokens_revoked"][&uid], 1);
    e.sb.shutdown().await;
}

#[tokio::test]
async fn create_user_statuses_and_duplicate_login() {
    let e = env().await;
    let profile =
        |login: &str| json!({"firstName": "A", "lastName": "B", "email": login, "login": login});
    let (s, v) = e.post("/api/v1/users", json!({"profile": profile("pw@example.com"), "credentials": {"password": {"value": "Sup3r-secret!"}}})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "ACTIVE");
    let id = v["id"].as_str().unwrap();
    assert!(id.starts_with("00u") && id.len() == 20, "{id}");
    assert!(v["created"].as_str().unwrap().ends_with('Z'));
    assert!(
        v["_links"]["self"]["href"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let (_, v) = e
        .post(
            "/api/v1/users",
            json!({"profile": profile("nopw@example.com")}),
        )
        .await;
    assert_eq!(v["status"], "PROVISIONED");
    let (_, v) = e
        .post(
            "/api/v1/users?activate=false",
            json!({"profile": profile("staged@example.com")}),
        )
        .await;
    assert_eq!(v["status"], "STAGED");
    let (s, v) = e
        .post(
            "/api/v1/users",
            json!({"profile": profile("PW@example.com")}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(code(&v), "E0000001");
    assert_eq!(
        v["errorCauses"][0]["errorSummary"],
        "login: An object with this field already exists in the current organization"
    );
    let (s, v) = e
        .post("/api/v1/users", json!({"profile": {"login": "x"}}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["errorCauses"].as_array().unwrap().len() >= 3, "{v}");
    e.sb.shutdown().await;
}

#[tokio::test]
async fn lifecycle_transitions_and_error_codes() {
    let e = env().await;
    let (_, v) = e
        .post("/api/v1/users?activate=false", json!({"profile": {"firstName": "L", "lastName": "C", "email": "lc@example.com", "login": "lc@example.com"}}))
        .await;
    let id = v["id"].as_str().unwrap().to_owned();
    let lc = |op: &str| format!("/api/v1/users/{id}/lifecycle/{op}");
    let (s, v) = e.post(&lc("suspend"), json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "E0000001"));
    let (s, v) = e
        .post(&format!("{}?sendEmail=false", lc("activate")), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["activationToken"].is_string());
    let (_, _, u) = e.get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(u["status"], "PROVISIONED");
    let (s, _) = e.post(&lc("reactivate"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    // Give the user a password so activation lands in ACTIVE.
    let (s, _) = e
        .post(
            &format!("/api/v1/users/{id}"),
            json!({"credentials": {"password": {"value": "Abcdef12!"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = e.post(&lc("deactivate"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = e.post(&lc("deactivate"), json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "E0000038"));
    let (s, _) = e.post(&lc("activate"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (_, _, u) = e.get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(u["status"], "ACTIVE");
    let (s, v) = e.post(&lc("activate"), json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "E0000016"));
    let (s, v) = e.post(&lc("reactivate"), json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "E0000038"));
    let (s, v) = e.post(&lc("unsuspend"), json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "E0000001"));
    let (s, _) = e.post(&lc("suspend"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = e.post(&lc("unlock"), json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "E0000032"));
    let (s, _) = e.post(&lc("unsuspend"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = e.post(&lc("reset_factors"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = e.post(&lc("expire_password"), json!({})).await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("PASSWORD_EXPIRED"))
    );
    let (s, v) = e.post(&lc("frobnicate"), json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "E0000008"));
    let counters = e.admin(Method::GET, "/counters", None).await;
    assert_eq!(counters["factors_reset"][&id], 1);
    // First DELETE deactivates, second deletes.
    let (s, _, _) = e
        .call(Method::DELETE, &format!("/api/v1/users/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, _, u) = e.get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(u["status"], "DEPROVISIONED");
    let (s, _, _) = e
        .call(Method::DELETE, &format!("/api/v1/users/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, v) = e.get(&format!("/api/v1/users/{id}")).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "E0000007"));
    let (_, _, logs) = e
        .get(&format!("/api/v1/logs?filter=target.id%20eq%20%22{id}%22"))
        .await;
    let types: Vec<&str> = logs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["eventType"].as_str().unwrap())
        .collect();
    for t in [
        "user.lifecycle.create",
        "user.lifecycle.activate",
        "user.lifecycle.deactivate",
        "user.lifecycle.suspend",
        "user.lifecycle.unsuspend",
        "user.mfa.factor.reset_all",
        "user.lifecycle.delete.initiated",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    e.sb.shutdown().await;
}

#[tokio::test]
async fn users_paginate_with_link_headers_and_omit_deprovisioned() {
    let e = env().await;
    let mut url = format!("{}/api/v1/users?limit=4", e.base);
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (s, h, v) = e.get(&url).await;
        assert_eq!(s, StatusCode::OK);
        let links: Vec<_> = h
            .get_all("link")
            .iter()
            .map(|l| l.to_str().unwrap().to_owned())
            .collect();
        assert!(links[0].ends_with("rel=\"self\""), "{links:?}");
        pages += 1;
        seen.extend(
            v.as_array()
                .unwrap()
                .iter()
                .map(|u| u["profile"]["login"].as_str().unwrap().to_owned()),
        );
        match next_link(&h) {
            Some(n) => {
                assert!(
                    n.starts_with("http://127.0.0.1:")
                        && n.contains("after=")
                        && n.contains("limit=4"),
                    "{n}"
                );
                url = n;
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 29);
    assert_eq!(pages, 8);
    assert!(!seen.contains(&"former.engineer@example.com".to_owned()));
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), seen.len());
    let (_, _, v) = e
        .get("/api/v1/users?filter=status%20eq%20%22DEPROVISIONED%22")
        .await;
    assert_eq!(v[0]["profile"]["login"], "former.engineer@example.com");
    let (_, _, v) = e.get("/api/v1/users?search=profile.department%20eq%20%22Platform%22%20and%20status%20eq%20%22ACTIVE%22").await;
    assert_eq!(v.as_array().unwrap().len(), 5);
    let (s, _, v) = e
        .get("/api/v1/users?filter=profile.department%20eq%20%22Platform%22")
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "E0000031"));
    let (_, _, v) = e.get("/api/v1/users?q=okta").await;
    assert_eq!(v[0]["profile"]["login"], "okta-demo-user@example.com");
    e.sb.shutdown().await;
}

#[tokio::test]
async fn partial_update_keeps_and_replace_drops_profile_fields() {
    let e = env().await;
    let uid = e.user_id("okta-demo-user@example.com").await;
    let (s, v) = e
        .post(
            &format!("/api/v1/users/{uid}"),
            json!({"profile": {"title": "Principal SRE"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["profile"]["title"], "Principal SRE");
    assert_eq!(v["profile"]["department"], "Platform");
    let full = json!({"profile": {"firstName": "Okta", "lastName": "Demo", "email": "okta-demo-user@example.com", "login": "okta-demo-user@example.com"}});
    let (s, _, v) = e
        .call(Method::PUT, &format!("/api/v1/users/{uid}"), Some(full))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["profile"].get("department").is_none(), "{v}");
    let (s, _, v) = e
        .call(
            Method::PUT,
            &format!("/api/v1/users/{uid}"),
            Some(json!({"profile": {"login": "okta-demo-user@example.com"}})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "E0000001"));
    e.sb.shutdown().await;
}

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

#[tokio::test]
async fn error_bodies_for_paths_methods_and_json() {
    let e = env().await;
    let (s, _, v) = e.get("/api/v1/nothing-here").await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "E0000008"));
    let (s, _, v) = e.call(Method::PATCH, "/api/v1/users", None).await;
    assert_eq!((s, code(&v)), (StatusCode::METHOD_NOT_ALLOWED, "E0000022"));
    let resp = e
        .http
        .post(format!("{}/api/v1/groups", e.base))
        .header("Authorization", format!("SSWS {TOKEN}"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(code(&v), "E0000003");
    for k in ["errorSummary", "errorLink", "errorId", "errorCauses"] {
        assert!(v.get(k).is_some(), "{k}");
    }
    let (s, _, v) = e.get("/api/v1/users/missing%40example.com").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        v["errorSummary"],
        "Not found: Resource not found: missing@example.com (User)"
    );
    let (s, _, v) = e.get("/api/v1/users?limit=abc").await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "E0000001"));
    e.sb.shutdown().await;
}

#[tokio::test]
async fn exhausted_bucket_answers_429_until_reset_on_the_injected_clock() {
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-02T10:00:00.250Z")
        .unwrap()
        .to_utc();
    let clock = ManualClock::new(t0);
    let sb = start(
        &demo_org(),
        SandboxOptions {
            okta_token: Some(TOKEN.into()),
            clock: Some(Arc::new(clock.clone())),
            ..SandboxOptions::default()
        },
    )
    .await
    .unwrap();
    let base = sb.info.systems["okta"].base_url.clone();
    let e = Env {
        sb,
        http: Client::new(),
        base,
    };
    e.admin(
        Method::POST,
        "/rate-limits",
        Some(json!({"window_seconds": 60, "buckets": {"users": 2}})),
    )
    .await;
    for remaining in ["1", "0"] {
        let (s, h, _) = e.get("/api/v1/users?limit=1").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h["x-rate-limit-remaining"], remaining);
        assert_eq!(h["date"], "Mon, 02 Mar 2026 10:00:00 GMT");
    }
    let (s, h, v) = e.get("/api/v1/users?limit=1").await;
    assert_eq!((s, code(&v)), (StatusCode::TOO_MANY_REQUESTS, "E0000047"));
    assert_eq!(h["x-rate-limit-remaining"], "0");
    assert_eq!(h["x-rate-limit-limit"], "2");
    // The window started at 10:00:00.250, so it ends at 10:01:00.250; Reset rounds up to whole seconds.
    assert_eq!(h["x-rate-limit-reset"], (t0.timestamp() + 61).to_string());
    let (s, _, _) = e.get("/api/v1/groups?limit=1").await;
    assert_eq!(s, StatusCode::OK, "other buckets are unaffected");
    clock.advance(chrono::Duration::seconds(59));
    let (s, _, _) = e.get("/api/v1/users?limit=1").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    clock.advance(chrono::Duration::seconds(1));
    let (s, h, _) = e.get("/api/v1/users?limit=1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["x-rate-limit-remaining"], "1");
    assert_eq!(
        e.admin(Method::GET, "/counters", None).await["throttled"]["users"],
        2
    );
    let bad = e
        .admin(
            Method::POST,
            "/rate-limits",
            Some(json!({"buckets": {"nope": 1}})),
        )
        .await;
    assert!(bad["error"].as_str().unwrap().contains("nope"));
    let (_, _, logs) = e.get("/api/v1/logs").await;
    assert_eq!(logs, json!([]), "reads never log");
    e.sb.shutdown().await;
}

#[tokio::test]
async fn okta_router_can_be_mounted_without_a_server() {
    use tower::ServiceExt as _;
    let (router, okta) = okta_router(&demo_org().okta, OktaConfig::default());
    assert!(okta.token.starts_with("00") && okta.token.len() == 42);
    let req = axum::http::Request::get("/api/v1/groups?q=Eng")
        .header("Authorization", format!("SSWS{}", okta.token))
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = router.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), axum::http::StatusCode::OK);
    let link = resp.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.starts_with("<http://127.0.0.1/api/v1/groups?q=Eng"),
        "{link}"
    );
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let groups: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(groups[0]["profile"]["name"], "Engineering");
    assert_eq!(groups[0]["objectClass"], json!(["okta:user_group"]));
}

#[tokio::test]
async fn sandbox_info_round_trips_and_shutdown_frees_the_port() {
    let e = env().await;
    let okta = &e.sb.info.systems["okta"];
    assert_eq!(okta.kind, "okta");
    assert_eq!(okta.admin_url, format!("{}/__sandbox", okta.base_url));
    assert_eq!(okta.credentials["token"], TOKEN);
    let text = serde_json::to_string(&e.sb.info).unwrap();
    let back: grantflow_sandbox::SandboxInfo = serde_json::from_str(&text).unwrap();
    assert_eq!(back, e.sb.info);
    let base = e.base.clone();
    e.sb.shutdown().await;
    assert!(
        Client::new()
            .get(format!("{base}/api/v1/users"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn faults_and_reset() {
    let e = env().await;
    e.admin(
        Method::POST,
        "/faults",
        Some(json!({"error_rate": 1.0, "error_status": 503})),
    )
    .await;
    let (s, _, v) = e.get("/api/v1/users?limit=1").await;
    assert_eq!((s, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "E0000010"));
    e.admin(
        Method::POST,
        "/faults",
        Some(json!({"error_rate": 1.0, "error_status": 500})),
    )
    .await;
    let (s, _, v) = e.get("/api/v1/users?limit=1").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::INTERNAL_SERVER_ERROR, "E0000009")
    );
    e.admin(
        Method::POST,
        "/faults",
        Some(json!({"latency_ms": 0, "error_rate": 0.0})),
    )
    .await;
    let (s, _) = e
        .post("/api/v1/groups", json!({"profile": {"name": "Temp"}}))
        .await;
    assert_eq!(s, StatusCode::OK);
    e.admin(Method::POST, "/reset", None).await;
    let (_, _, v) = e.get("/api/v1/groups?q=Temp").await;
    assert_eq!(v.as_array().unwrap().len(), 0);
    assert_eq!(
        e.admin(Method::GET, "/writes", None).await,
        json!({"writes": {}})
    );
    e.sb.shutdown().await;
}

#[tokio::test]
async fn system_log_polling_always_links_next_bounded_does_not() {
    let e = env().await;
    let (s, h, v) = e.get("/api/v1/logs").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!([]));
    let next = next_link(&h).expect("polling has next even when empty");
    let (s, v) = e
        .post(
            "/api/v1/groups",
            json!({"profile": {"name": "Log Me", "description": "d"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let gid = v["id"].as_str().unwrap().to_owned();
    let (_, h, v) = e.get(&next).await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["eventType"], "group.lifecycle.create");
    assert_eq!(v[0]["target"][0]["id"], gid.as_str());
    let (_, _, v) = e.get(&next_link(&h).unwrap()).await;
    assert_eq!(v, json!([]));
    let since = "2020-01-01T00:00:00.000Z";
    let until = (chrono::Utc::now() + chrono::Duration::minutes(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (s, _, v) = e.get(&format!("/api/v1/logs?since={since}")).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "E0000053"));
    let since = (chrono::Utc::now() - chrono::Duration::minutes(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (_, h, v) = e
        .get(&format!("/api/v1/logs?since={since}&until={until}"))
        .await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert!(next_link(&h).is_none());
    e.sb.shutdown().await;
}

#[test]
fn demo_org_has_the_scenario_shape() {
    let org = demo_org();
    let pad = org
        .okta
        .groups
        .iter()
        .find(|g| g.name == "Production Access Demo")
        .unwrap();
    assert!(
        !pad.members
            .iter()
            .any(|m| m == "okta-demo-user@example.com")
    );
    assert_eq!(
        pad.apps,
        [
            "Checkout Production Access",
            "Graph Connector Console",
            "Production Monitors"
        ]
    );
    let demo = org
        .okta
        .users
        .iter()
        .find(|u| u.login == "okta-demo-user@example.com")
        .unwrap();
    assert_eq!(
        (demo.department.as_deref(), demo.title.as_deref()),
        (Some("Platform"), Some("Site Reliability Engineer"))
    );
    assert!(org.okta.users.len() >= 30);
}

#[test]
fn load_org_reports_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("org.yaml");
    std::fs::write(&p, "okta:\n  users:\n    - login: a@example.com\n      firstName: A\n      lastName: B\n      shoeSize: 9\n").unwrap();
    let err = format!("{:#}", grantflow_sandbox::load_org(&p).unwrap_err());
    assert!(err.contains("shoeSize"), "{err}");
    assert!(err.contains("line 6 column 7"), "{err}");
    std::fs::write(&p, "okta: [unclosed\n").unwrap();
    assert!(grantflow_sandbox::load_org(&p).is_err());
}
