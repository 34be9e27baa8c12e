//! Every route × every role: the roles the permission table allows
//! succeed; every other role gets 403 with the code `forbidden`, and the
//! refusal is audited without the token.

use serde_json::{Value, json};

use crate::kit::{PERSON, ROLES, Server};

/// What a route needs before it can be called: nothing, a plan waiting for
/// approval, or an approved plan.
#[derive(Clone, Copy)]
enum Needs {
    Nothing,
    RequestedPlan,
    ApprovedPlan,
}

struct Route {
    method: &'static str,
    path: &'static str,
    body: Option<fn() -> Value>,
    needs: Needs,
    allowed: &'static [&'static str],
}

const READERS_OF_PLANS: &[&str] = &["admin", "viewer", "requester", "approver", "operator:okta"];

fn routes() -> Vec<Route> {
    let route = |method, path, allowed, needs| Route {
        method,
        path,
        body: None,
        needs,
        allowed,
    };
    vec![
        route("GET", "/api/v1/me", &ROLES[..], Needs::Nothing),
        route(
            "GET",
            "/api/v1/people?q=demo",
            &["admin", "viewer"],
            Needs::Nothing,
        ),
        route(
            "GET",
            "/api/v1/people/{person}",
            &["admin", "viewer"],
            Needs::Nothing,
        ),
        route(
            "GET",
            "/api/v1/connections",
            &["admin", "viewer", "operator:okta"],
            Needs::Nothing,
        ),
        route(
            "POST",
            "/api/v1/connections/okta/sync",
            &["admin", "operator:okta"],
            Needs::Nothing,
        ),
        route(
            "GET",
            "/api/v1/plans?limit=5",
            READERS_OF_PLANS,
            Needs::Nothing,
        ),
        Route {
            method: "POST",
            path: "/api/v1/plans",
            body: Some(|| json!({ "request": crate::kit::REQUEST })),
            needs: Needs::Nothing,
            allowed: &["admin", "requester"],
        },
        Route {
            method: "POST",
            path: "/api/v1/plans",
            body: Some(
                || json!({ "action": { "connection": "okta", "verb": "reset-mfa", "who": crate::kit::PERSON } }),
            ),
            needs: Needs::Nothing,
            allowed: &["admin", "requester"],
        },
        route(
            "GET",
            "/api/v1/plans/{plan}",
            READERS_OF_PLANS,
            Needs::RequestedPlan,
        ),
        route(
            "POST",
            "/api/v1/plans/{plan}/approve",
            &["admin", "approver"],
            Needs::RequestedPlan,
        ),
        route(
            "POST",
            "/api/v1/plans/{plan}/apply",
            &["admin", "operator:okta"],
            Needs::ApprovedPlan,
        ),
        route(
            "GET",
            "/api/v1/plans/{plan}/progress",
            READERS_OF_PLANS,
            Needs::RequestedPlan,
        ),
        // Everyone signed in lists requests: each sees their own and those they may review.
        route("GET", "/api/v1/requests", &ROLES[..], Needs::Nothing),
        Route {
            method: "POST",
            path: "/api/v1/requests",
            body: Some(
                || json!({ "request": crate::kit::REQUEST, "reason": "on call this week", "duration": "1h" }),
            ),
            needs: Needs::Nothing,
            allowed: &["admin", "requester"],
        },
        route(
            "GET",
            "/api/v1/drift/findings?connection=okta",
            &["admin", "viewer"],
            Needs::Nothing,
        ),
        route("POST", "/api/v1/drift/check", &["admin"], Needs::Nothing),
        route(
            "POST",
            "/api/v1/connections/okta/sync?full=true",
            &["admin", "operator:okta"],
            Needs::Nothing,
        ),
        route(
            "GET",
            "/api/v1/reach?group=Production%20Access%20Demo",
            &["admin", "viewer"],
            Needs::Nothing,
        ),
        route(
            "GET",
            "/api/v1/reach/sources",
            &["admin", "viewer"],
            Needs::Nothing,
        ),
        Route {
            method: "POST",
            path: "/api/v1/reach/events",
            body: Some(crate::reach::membership_event),
            needs: Needs::Nothing,
            allowed: &["admin", "viewer"],
        },
        route(
            "GET",
            "/api/v1/audit/events?limit=10",
            &["admin", "auditor"],
            Needs::Nothing,
        ),
        route(
            "GET",
            "/api/v1/audit/verify",
            &["admin", "auditor"],
            Needs::Nothing,
        ),
        route(
            "GET",
            "/api/v1/audit/export",
            &["admin", "auditor"],
            Needs::Nothing,
        ),
        route("GET", "/api/v1/tokens", &["admin"], Needs::Nothing),
        Route {
            method: "POST",
            path: "/api/v1/tokens",
            body: Some(
                || json!({ "name": "made-by-test", "roles": ["viewer"], "expires_in": "1d" }),
            ),
            needs: Needs::Nothing,
            allowed: &["admin"],
        },
        route(
            "DELETE",
            "/api/v1/tokens/{token}",
            &["admin"],
            Needs::Nothing,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_answers_the_roles_it_allows_and_refuses_the_others() {
    let server = Server::start(false).await;
    let mut failures = Vec::new();
    for route in routes() {
        for role in ROLES {
            let mut path = route.path.replace("{person}", PERSON);
            if path.contains("{plan}") {
                let plan = match route.needs {
                    Needs::ApprovedPlan => server.approved_plan().await,
                    _ => server.requested_plan().await,
                };
                path = path.replace("{plan}", &plan);
            }
            if path.contains("{token}") {
                let (_, made) = server
                    .call(
                        "admin",
                        "POST",
                        "/api/v1/tokens",
                        Some(json!({"name": "to-revoke", "roles": ["viewer"], "expires_in": "1h"})),
                    )
                    .await;
                path = path.replace("{token}", made["id"].as_str().expect("token id"));
            }
            let (status, body) = server
                .call(role, route.method, &path, route.body.map(|make| make()))
                .await;
            let allowed = route.allowed.contains(&role);
            let ok = if allowed {
                (200..300).contains(&status)
            } else {
                status == 403 && body["code"] == "forbidden"
            };
            if !ok {
                failures.push(format!(
                    "{} {path} as {role}: expected {}, got {status} {body}",
                    route.method,
                    if allowed { "success" } else { "403 forbidden" }
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Refusals are audited with who, which route and why; never a token.
    let events = server.store.audit_events().await.expect("events");
    let refused: Vec<_> = events
        .iter()
        .filter(|e| e.action == "api.refused")
        .collect();
    assert!(
        refused.iter().any(|e| e.actor == "token:viewer"
            && e.subject == "GET /api/v1/audit/events"
            && e.details["code"] == "forbidden"),
        "{refused:?}"
    );
    let trail = serde_json::to_string(&events).expect("json");
    for token in server.tokens.values() {
        assert!(
            !trail.contains(token.as_str()),
            "a token is in the audit trail"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_requester_cannot_approve_and_an_approver_never_approves_their_own_plan() {
    let server = Server::start(false).await;
    let plan = server.requested_plan().await;
    let (status, body) = server
        .call(
            "requester",
            "POST",
            &format!("/api/v1/plans/{plan}/approve"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );

    // An approver who is also a requester asks, then tries to approve it.
    let both = server
        .call(
            "admin",
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "both", "roles": ["requester", "approver"], "expires_in": "1h"})),
        )
        .await
        .1;
    let token = both["token"].as_str().expect("token").to_string();
    let (status, made) = server
        .call_with(
            Some(&token),
            "POST",
            "/api/v1/plans",
            Some(json!({ "request": crate::kit::REQUEST })),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["approval"]["requested_by"], "token:both");
    let own = made["id"].as_str().expect("id");
    let (status, body) = server
        .call_with(
            Some(&token),
            "POST",
            &format!("/api/v1/plans/{own}/approve"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("self_approval")),
        "{body}"
    );

    // Applying before the approval is refused by the gate.
    let (status, body) = server
        .call(
            "operator:okta",
            "POST",
            &format!("/api/v1/plans/{plan}/apply"),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "approval_required", "{body}");
}
