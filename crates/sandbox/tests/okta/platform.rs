//! Cross-cutting behaviour: auth header forms, Okta headers, error bodies, rate limits on the injected clock, faults, System Log, serving.

use super::common::*;

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
async fn concurrency_limit_answers_429_with_zero_limit() {
    let e = env().await;
    e.admin(
        Method::POST,
        "/rate-limits",
        Some(json!({"concurrency": 1})),
    )
    .await;
    e.admin(Method::POST, "/faults", Some(json!({"latency_ms": 300})))
        .await;
    let (a, b) = tokio::join!(e.get("/api/v1/groups?limit=1"), async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        e.get("/api/v1/users?limit=1").await
    });
    assert_eq!(a.0, StatusCode::OK);
    assert_eq!(
        (b.0, code(&b.2)),
        (StatusCode::TOO_MANY_REQUESTS, "E0000047")
    );
    assert_eq!(b.1["x-rate-limit-limit"], "0");
    assert_eq!(b.1["x-rate-limit-remaining"], "0");
    // The slot is released once the slow request finishes.
    let (s, _, _) = e.get("/api/v1/users?limit=1").await;
    assert_eq!(s, StatusCode::OK);
    let counters = e.admin(Method::GET, "/counters", None).await;
    assert_eq!(counters["throttled"]["concurrency"], 1);
    e.sb.shutdown().await;
}

#[tokio::test]
async fn a_polling_cursor_resumes_after_the_default_seven_day_window() {
    let (e, clock) = env_on_clock(&demo_org()).await;
    let (_, h, _) = e.get("/api/v1/logs").await;
    let next = next_link(&h).expect("a polling cursor");
    let (s, _) = e
        .post(
            "/api/v1/groups",
            json!({"profile": {"name": "Made Before A Month Passed"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    clock.advance(chrono::Duration::days(30));
    let (s, _, v) = e.get(&next).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v.as_array().map(Vec::len),
        Some(1),
        "the month-old event after the cursor is still read: {v}"
    );
    assert_eq!(v[0]["eventType"], "group.lifecycle.create");
    e.sb.shutdown().await;
}
