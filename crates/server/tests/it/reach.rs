//! Production reach over the API: where the graph's parts come from, and what a change that
//! already happened (an Okta System Log event) opened.

use serde_json::{Value, json};

use crate::kit::Server;

/// Okta's System Log record of someone adding okta-demo-user to the production group by hand.
pub fn membership_event() -> Value {
    json!({
        "uuid": "7f1c2d3e-0000-11ee-8000-000000000001",
        "published": "2026-12-04T09:14:07.000Z",
        "eventType": "group.user_membership.add",
        "outcome": {"result": "SUCCESS"},
        "target": [
            {"id": "00u-demo", "type": "User", "alternateId": "okta-demo-user@example.com"},
            {"id": "00g-pad", "type": "UserGroup", "displayName": "Production Access Demo"}
        ]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn sources_and_the_blast_radius_of_an_event_over_the_api() {
    let server = Server::start(false).await;
    let (status, sources) = server
        .call("viewer", "GET", "/api/v1/reach/sources", None)
        .await;
    assert_eq!(status, 200, "{sources}");
    let items = sources["items"].as_array().expect("items");
    let part = |name: &str| {
        items
            .iter()
            .find(|s| s["part"] == name && s["used"] == true)
            .unwrap_or_else(|| panic!("no {name}: {sources}"))
    };
    // The server's directory is a synced connection; it has no AWS connection, so AWS comes
    // from the export file, with the file's age.
    let okta = part("Okta directory (people, groups, apps)");
    assert!(
        okta["origin"]
            .as_str()
            .is_some_and(|o| o.starts_with("connection okta")),
        "{okta}"
    );
    let aws = part("AWS IAM Identity Center");
    assert!(
        aws["origin"]
            .as_str()
            .is_some_and(|o| o.starts_with("file ") && o.ends_with("aws-identity-center.json")),
        "{aws}"
    );
    assert!(aws["as_of"].is_string(), "{aws}");
    assert!(
        items
            .iter()
            .any(|s| s["part"] == "Backstage catalog" && s["used"] == true),
        "{sources}"
    );

    let (status, answer) = server
        .call(
            "viewer",
            "POST",
            "/api/v1/reach/events",
            Some(json!([membership_event()])),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let reach = &answer["items"][0]["reach"];
    let services: Vec<&str> = reach["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["service"].as_str())
        .collect();
    assert!(services.contains(&"checkout-api"), "{answer}");
    assert!(
        reach["skipped"]
            .as_array()
            .is_some_and(|s| s.iter().any(|k| k["reason"]
                .as_str()
                .is_some_and(|r| r.contains("environment=staging")))),
        "{answer}"
    );

    // Nothing to review is refused with a problem, not answered with silence.
    for body in [
        json!([]),
        json!({"eventType": "user.session.start", "target": []}),
    ] {
        let (status, problem) = server
            .call("viewer", "POST", "/api/v1/reach/events", Some(body))
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["code"], "invalid_request", "{problem}");
    }
}
