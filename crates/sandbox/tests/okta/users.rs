//! User creation, lifecycle transitions and their error codes, listing/search/pagination, profile updates.

use super::common::*;

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
