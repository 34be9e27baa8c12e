//! Malformed input is a 4xx problem with a stable code, never a 500.

use crate::kit::Server;

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_are_problems_with_codes() {
    let server = Server::start(false).await;
    let admin = server.tokens["admin"].clone();
    let post = |content_type: &'static str, body: &'static str| {
        server
            .client
            .post(server.url("/api/v1/plans"))
            .bearer_auth(&admin)
            .header("content-type", content_type)
            .body(body)
    };
    let cases = [
        (
            post("application/json", "{not json"),
            400,
            "invalid_request",
        ),
        (
            post("text/plain", "{\"request\": \"x\"}"),
            415,
            "unsupported_media_type",
        ),
        (
            post("application/json", "{\"wish\": 1}"),
            422,
            "invalid_request",
        ),
        (
            post("application/json", "{\"from\": \"everywhere\"}"),
            422,
            "invalid_request",
        ),
        (
            post("application/json", "{\"request\": \"please do something\"}"),
            422,
            "invalid_request",
        ),
        (
            server
                .client
                .get(server.url("/api/v1/plans?limit=0"))
                .bearer_auth(&admin),
            400,
            "invalid_request",
        ),
        (
            server
                .client
                .get(server.url("/api/v1/plans?limit=501"))
                .bearer_auth(&admin),
            400,
            "invalid_request",
        ),
        (
            server
                .client
                .get(server.url("/api/v1/plans?limit=ten"))
                .bearer_auth(&admin),
            400,
            "invalid_request",
        ),
        (
            server
                .client
                .get(server.url("/api/v1/audit/events?cursor=bm9wZQ"))
                .bearer_auth(&admin),
            400,
            "invalid_request",
        ),
        (
            server
                .client
                .get(server.url("/api/v1/reach"))
                .bearer_auth(&admin),
            400,
            "invalid_request",
        ),
        (
            server
                .client
                .get(server.url("/api/v1/plans/p-nope"))
                .bearer_auth(&admin),
            404,
            "not_found",
        ),
        (
            server
                .client
                .get(server.url("/api/v1/people/nobody@example.com"))
                .bearer_auth(&admin),
            404,
            "not_found",
        ),
        (
            server
                .client
                .get(server.url("/api/v1/nowhere"))
                .bearer_auth(&admin),
            404,
            "not_found",
        ),
        (
            server
                .client
                .delete(server.url("/api/v1/me"))
                .bearer_auth(&admin),
            405,
            "method_not_allowed",
        ),
        (
            server.client.get(server.url("/api/v1/me")),
            401,
            "unauthenticated",
        ),
        (
            server
                .client
                .get(server.url("/api/v1/me"))
                .header("authorization", "Basic YTpi"),
            401,
            "unauthenticated",
        ),
        (
            server
                .client
                .get(server.url("/api/v1/me"))
                .bearer_auth("gft_00_nope"),
            401,
            "unauthenticated",
        ),
    ];
    for (request, status, code) in cases {
        let request = request.build().expect("request");
        let what = format!("{} {}", request.method(), request.url());
        let response = server.client.execute(request).await.expect("answer");
        assert_eq!(response.status().as_u16(), status, "{what}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        if status == 401 {
            assert_eq!(response.headers()["www-authenticate"], "Bearer", "{what}");
        }
        let problem: serde_json::Value = response.json().await.expect("problem JSON");
        assert_eq!(problem["code"], code, "{what}: {problem}");
        assert_eq!(problem["status"], status, "{what}");
        assert_eq!(
            problem["type"],
            format!("urn:grantflow:problem:{code}"),
            "{what}"
        );
        assert!(
            problem["title"].is_string() && problem["detail"].is_string(),
            "{what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_page_with_an_opaque_cursor() {
    let server = Server::start(false).await;
    for _ in 0..3 {
        server.requested_plan().await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/plans?limit=2".to_string();
    loop {
        let (status, page) = server.call("viewer", "GET", &path, None).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|p| p["id"].as_str().expect("id").to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/plans?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, seen, "no plan twice");

    // A cursor of one list is refused by another.
    let (_, page) = server
        .call("admin", "GET", "/api/v1/plans?limit=1", None)
        .await;
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let (status, body) = server
        .call(
            "admin",
            "GET",
            &format!("/api/v1/audit/events?cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request"))
    );

    let (status, events) = server
        .call(
            "auditor",
            "GET",
            "/api/v1/audit/events?action=plan.created&limit=500",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let actors: Vec<&str> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["actor"].as_str().expect("actor"))
        .collect();
    assert_eq!(
        actors, ["token:requester"; 3],
        "events written through the API name the token"
    );
}
