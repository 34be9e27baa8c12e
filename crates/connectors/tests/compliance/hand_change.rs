//! `POST /__sandbox/hand-change` on every emulator: a change made directly in the system (add, remove,
//! suspend) is what the connector's next full sync reads, and no emulator counts it as an API write.

use grantflow_connectors::{ConnectionConfig, Connector, SyncChanges, build};
use grantflow_model::{ConnectionName, GrantSource, Snapshot};
use serde_json::{Value, json};

use crate::fixture::Fixture;

/// One system's case: `user` (login or email, as the endpoint takes it) is `email` in the sync; it gains
/// `add` = (`<kind>/<name>`, entitlement) and loses `remove`, which it holds directly, then is suspended.
struct Case {
    system: &'static str,
    user: &'static str,
    email: &'static str,
    add: (&'static str, &'static str),
    remove: &'static str,
    suspended_status: &'static str,
}

/// Each credential of the system in a file next to the token, as `grantflow init --sandbox` writes them.
fn credential_file(fixture: &Fixture, key: &str) -> Value {
    let path = fixture
        .token_file
        .with_file_name(format!("credential-{key}"));
    std::fs::write(
        &path,
        &fixture.sandbox.info.systems[fixture.system].credentials[key],
    )
    .expect("credential file");
    json!({"file": path})
}

fn connector(fixture: &Fixture) -> Box<dyn Connector> {
    let mut config = json!({"kind": fixture.system, "base_url": fixture.base_url()});
    let extra = match fixture.system {
        "aws" => json!({
            "region": "eu-west-1",
            "access_key_id": credential_file(fixture, "access_key_id"),
            "secret_access_key": credential_file(fixture, "secret_access_key"),
            "account_names": {"111122223333": "prod-payments"},
        }),
        "opa" => json!({
            "team": fixture.sandbox.info.systems["opa"].credentials["team"],
            "key_id": credential_file(fixture, "key_id"),
            "key_secret": credential_file(fixture, "key_secret"),
        }),
        "jira" => json!({
            "email": credential_file(fixture, "email"),
            "token": {"file": fixture.token_file},
        }),
        "salesforce" => json!({
            "token": {"file": fixture.token_file},
            "ca_certificate": fixture.sandbox.info.systems["salesforce"].ca_certificate,
        }),
        _ => json!({"token": {"file": fixture.token_file}}),
    };
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    let config: ConnectionConfig = serde_json::from_value(config).expect("config");
    build(
        &ConnectionName::new(fixture.system),
        &config,
        &Fixture::context(),
    )
    .expect("connector")
}

async fn sync(fixture: &Fixture, connector: &dyn Connector) -> Snapshot {
    let mut snapshot = fixture.snapshot();
    connector.sync(&mut snapshot).await.expect("sync");
    snapshot
}

/// The direct entitlements `email` holds on `resource` (`<kind>/<name>`).
fn held(s: &Snapshot, email: &str, resource: &str) -> Vec<String> {
    let (kind, name) = resource.split_once('/').expect("kind/name");
    let account = s.account_by_login_or_email(email).expect("account");
    let resource = s.resource_by_name(kind, name).expect("resource");
    s.grants
        .iter()
        .filter(|g| {
            g.account_id == account.id
                && g.resource_id == resource.id
                && g.source == GrantSource::Direct
        })
        .map(|g| g.entitlement.clone())
        .collect()
}

async fn hand_change(fixture: &Fixture, body: Value) -> (u16, Value) {
    let url = format!(
        "{}/hand-change",
        fixture.sandbox.info.systems[fixture.system].admin_url
    );
    // Salesforce is served over HTTPS with the sandbox's own CA.
    let response = fixture.sandbox.info.systems[fixture.system]
        .http_client()
        .expect("client")
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("hand-change");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn changes_by_hand_are_synced_and_not_counted(case: Case) -> Fixture {
    let fixture = Fixture::start(case.system).await;
    let connector = connector(&fixture);
    let before = sync(&fixture, connector.as_ref()).await;
    let (add, entitlement) = case.add;
    assert_eq!(held(&before, case.email, add), Vec::<String>::new());
    assert!(!held(&before, case.email, case.remove).is_empty());
    assert_eq!(
        before
            .account_by_login_or_email(case.email)
            .expect("account")
            .status,
        "ACTIVE"
    );
    let writes = fixture.writes().await;

    for body in [
        json!({"op": "add", "user": case.user, "resource": add, "entitlement": entitlement}),
        json!({"op": "remove", "user": case.user, "resource": case.remove}),
        json!({"op": "suspend", "user": case.user}),
    ] {
        assert_eq!(hand_change(&fixture, body.clone()).await.0, 204, "{body}");
    }

    let after = sync(&fixture, connector.as_ref()).await;
    assert_eq!(held(&after, case.email, add), [entitlement], "{add}");
    assert_eq!(
        held(&after, case.email, case.remove),
        Vec::<String>::new(),
        "{}",
        case.remove
    );
    assert_eq!(
        after
            .account_by_login_or_email(case.email)
            .expect("account")
            .status,
        case.suspended_status
    );
    assert_eq!(
        fixture.writes().await,
        writes,
        "changes by hand are not API writes"
    );

    // Each 400 names what is unknown.
    let kind = add.split_once('/').expect("kind/name").0;
    for (body, named) in [
        (
            json!({"op": "add", "user": "nobody@example.com", "resource": add}),
            "nobody@example.com",
        ),
        (
            json!({"op": "add", "user": case.user, "resource": format!("{kind}/no-such-thing")}),
            "no-such-thing",
        ),
        (
            json!({"op": "add", "user": case.user, "resource": "widget/x"}),
            "widget",
        ),
        (
            json!({"op": "add", "user": case.user, "resource": add, "entitlement": "emperor"}),
            "emperor",
        ),
        (json!({"op": "promote", "user": case.user}), "promote"),
    ] {
        let (status, error) = hand_change(&fixture, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            error["error"].as_str().is_some_and(|e| e.contains(named)),
            "{body}: {error}"
        );
    }
    fixture
}

#[tokio::test]
async fn okta_group_and_app_changes_and_a_suspension_by_hand() {
    let fixture = changes_by_hand_are_synced_and_not_counted(Case {
        system: "okta",
        user: "marco.rossi@example.com",
        email: "marco.rossi@example.com",
        add: ("group/Platform", "member"),
        remove: "group/Engineering",
        suspended_status: "SUSPENDED",
    })
    .await;
    // A direct app assignment too, and every change in the System Log the incremental sync reads.
    let connector = connector(&fixture);
    let app = "app/Checkout Production Access";
    let (status, _) = hand_change(
        &fixture,
        json!({"op": "add", "user": "lena.fischer@example.com", "resource": app}),
    )
    .await;
    assert_eq!(status, 204);
    let s = sync(&fixture, connector.as_ref()).await;
    assert_eq!(held(&s, "lena.fischer@example.com", app), ["assigned"]);

    let url = format!("{}/api/v1/logs?limit=1000", fixture.base_url());
    let token = &fixture.sandbox.info.systems["okta"].credentials["token"];
    let events: Vec<Value> = reqwest::Client::new()
        .get(url)
        .header("Authorization", format!("SSWS {token}"))
        .send()
        .await
        .expect("logs")
        .json()
        .await
        .expect("json");
    let logged = |event_type: &str, login: &str| {
        events.iter().any(|e| {
            e["eventType"] == event_type
                && e["target"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["alternateId"] == login))
        })
    };
    for (event_type, login) in [
        ("group.user_membership.add", "marco.rossi@example.com"),
        ("group.user_membership.remove", "marco.rossi@example.com"),
        ("user.lifecycle.suspend", "marco.rossi@example.com"),
        (
            "application.user_membership.add",
            "lena.fischer@example.com",
        ),
    ] {
        assert!(logged(event_type, login), "{event_type} for {login}");
    }
}

#[tokio::test]
async fn okta_changes_by_hand_reach_an_incremental_sync() {
    let fixture = Fixture::start("okta").await;
    let connector = connector(&fixture);
    let cursor = connector
        .change_cursor()
        .await
        .expect("cursor")
        .expect("okta has a change feed");
    let mut snapshot = sync(&fixture, connector.as_ref()).await;
    let user = "tom.baker@example.com";
    for body in [
        json!({"op": "add", "user": user, "resource": "group/Payments Oncall"}),
        json!({"op": "remove", "user": user, "resource": "group/Engineering"}),
        json!({"op": "suspend", "user": user}),
    ] {
        assert_eq!(hand_change(&fixture, body.clone()).await.0, 204, "{body}");
    }
    match connector
        .sync_changes(&cursor, &mut snapshot)
        .await
        .expect("incremental sync")
    {
        SyncChanges::Applied { .. } => {}
        other => panic!("expected the changes to be applied, got {other:?}"),
    }
    assert_eq!(held(&snapshot, user, "group/Payments Oncall"), ["member"]);
    assert_eq!(
        held(&snapshot, user, "group/Engineering"),
        Vec::<String>::new()
    );
    let account = snapshot.account_by_login_or_email(user).expect("account");
    assert_eq!(account.status, "SUSPENDED");
}

#[tokio::test]
async fn google_group_changes_and_a_suspension_by_hand() {
    changes_by_hand_are_synced_and_not_counted(Case {
        system: "google",
        user: "lena.fischer@example.com",
        email: "lena.fischer@example.com",
        add: ("group/platform@example.com", "manager"),
        remove: "group/engineering@example.com",
        suspended_status: "SUSPENDED",
    })
    .await;
}

#[tokio::test]
async fn github_team_changes_and_a_suspension_by_hand() {
    changes_by_hand_are_synced_and_not_counted(Case {
        system: "github",
        user: "lenaf",
        email: "lena.fischer@example.com",
        add: ("team/Platform", "maintainer"),
        remove: "team/Backend",
        suspended_status: "SUSPENDED",
    })
    .await;
}

#[tokio::test]
async fn gitlab_group_changes_and_a_block_by_hand() {
    changes_by_hand_are_synced_and_not_counted(Case {
        system: "gitlab",
        user: "okta-demo-user",
        email: "okta-demo-user@example.com",
        add: ("group/acme/payments", "access_level:30"),
        remove: "group/acme/platform",
        suspended_status: "BLOCKED",
    })
    .await;
}

#[tokio::test]
async fn slack_channel_changes_and_a_deactivation_by_hand() {
    changes_by_hand_are_synced_and_not_counted(Case {
        system: "slack",
        user: "lena.fischer@example.com",
        email: "lena.fischer@example.com",
        add: ("channel/platform", "member"),
        remove: "channel/eng",
        suspended_status: "DELETED",
    })
    .await;
}

#[tokio::test]
async fn aws_group_and_account_changes_and_a_disabled_user_by_hand() {
    let fixture = changes_by_hand_are_synced_and_not_counted(Case {
        system: "aws",
        user: "marco.rossi@example.com",
        email: "marco.rossi@example.com",
        add: ("account/prod-payments", "prod-payments-admin"),
        remove: "group/Engineering",
        suspended_status: "DISABLED",
    })
    .await;
    // A second permission set in the same account is another assignment: the first stays. The account is
    // named by its id as well as by its name; a remove drops every direct assignment there.
    let connector = connector(&fixture);
    let writes = fixture.writes().await;
    let user = "marco.rossi@example.com";
    for body in [
        json!({"op": "add", "user": user, "resource": "account/111122223333", "entitlement": "PowerUserAccess"}),
        json!({"op": "add", "user": user, "resource": "group/Platform Engineers"}),
        json!({"op": "remove", "user": user, "resource": "account/444455556666"}),
    ] {
        assert_eq!(hand_change(&fixture, body.clone()).await.0, 204, "{body}");
    }
    let s = sync(&fixture, connector.as_ref()).await;
    let mut held_in_prod = held(&s, user, "account/prod-payments");
    held_in_prod.sort();
    assert_eq!(held_in_prod, ["PowerUserAccess", "prod-payments-admin"]);
    assert_eq!(held(&s, user, "group/Platform Engineers"), ["member"]);
    assert_eq!(held(&s, user, "account/444455556666"), Vec::<String>::new());
    assert_eq!(fixture.writes().await, writes);
    let (status, error) = hand_change(
        &fixture,
        json!({"op": "add", "user": user, "resource": "account/prod-payments"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("needs an entitlement") && e.contains("PowerUserAccess")),
        "{error}"
    );
}

#[tokio::test]
async fn scim_group_changes_and_a_deactivation_by_hand() {
    changes_by_hand_are_synced_and_not_counted(Case {
        system: "scim",
        user: "lena.fischer@example.com",
        email: "lena.fischer@example.com",
        add: ("group/Platform", "member"),
        remove: "group/Engineering",
        suspended_status: "INACTIVE",
    })
    .await;
}

#[tokio::test]
async fn opa_group_changes_and_a_disabled_user_by_hand() {
    changes_by_hand_are_synced_and_not_counted(Case {
        system: "opa",
        user: "olivia.smith",
        email: "olivia.smith@example.com",
        add: ("group/opa-admins", "member"),
        remove: "group/payments-engineers",
        suspended_status: "DISABLED",
    })
    .await;
}

#[tokio::test]
async fn jira_project_role_and_group_changes_and_a_deactivation_by_hand() {
    let fixture = changes_by_hand_are_synced_and_not_counted(Case {
        system: "jira",
        user: "lena.fischer@example.com",
        email: "lena.fischer@example.com",
        add: ("project/Platform", "role:Administrators"),
        remove: "project/Engineering",
        suspended_status: "INACTIVE",
    })
    .await;
    // Each project role is its own actor list: a second role keeps the first. Projects are found by key too;
    // group membership changes the same way, and removing a user actor leaves the role's group actors.
    let connector = connector(&fixture);
    let writes = fixture.writes().await;
    let user = "lena.fischer@example.com";
    for body in [
        json!({"op": "add", "user": user, "resource": "project/PLAT", "entitlement": "role:Developers"}),
        json!({"op": "add", "user": "5b10ac8d82e05b22cc7d0004", "resource": "project/Payments", "entitlement": "role:Viewers"}),
        json!({"op": "add", "user": user, "resource": "group/platform-team"}),
        json!({"op": "remove", "user": user, "resource": "group/engineering"}),
        json!({"op": "remove", "user": "diego.alvarez@example.com", "resource": "project/Platform"}),
    ] {
        assert_eq!(hand_change(&fixture, body.clone()).await.0, 204, "{body}");
    }
    let s = sync(&fixture, connector.as_ref()).await;
    let mut on_platform = held(&s, user, "project/Platform");
    on_platform.sort();
    assert_eq!(on_platform, ["role:Administrators", "role:Developers"]);
    assert_eq!(held(&s, user, "project/Payments"), ["role:Viewers"]);
    assert_eq!(held(&s, user, "group/platform-team"), ["member"]);
    assert_eq!(held(&s, user, "group/engineering"), Vec::<String>::new());
    assert_eq!(
        held(&s, "diego.alvarez@example.com", "project/Platform"),
        Vec::<String>::new()
    );
    let platform = s.resource_by_name("project", "Platform").expect("Platform");
    assert!(
        s.resource_grants
            .iter()
            .any(|g| g.holder_id == "platform-team"
                && g.resource_id == platform.id
                && g.entitlement == "role:Developers"),
        "the group actor stays"
    );
    assert_eq!(fixture.writes().await, writes);
    let (status, error) = hand_change(
        &fixture,
        json!({"op": "add", "user": user, "resource": "project/Platform"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("needs an entitlement") && e.contains("role:Viewers")),
        "{error}"
    );
}

#[tokio::test]
async fn salesforce_permission_set_changes_and_a_deactivation_by_hand() {
    let fixture = changes_by_hand_are_synced_and_not_counted(Case {
        system: "salesforce",
        user: "marco.rossi@example.com",
        email: "marco.rossi@example.com",
        add: ("permission_set/Reports_Admin", "assigned"),
        remove: "permission_set/Sandbox_Deploy",
        suspended_status: "INACTIVE",
    })
    .await;
    // Deactivation keeps a user's assignments, as in Salesforce; adding one already held changes nothing.
    let connector = connector(&fixture);
    let user = "marco.rossi@example.com";
    let (status, _) = hand_change(
        &fixture,
        json!({"op": "add", "user": user, "resource": "permission_set/Reports_Admin"}),
    )
    .await;
    assert_eq!(status, 204);
    let s = sync(&fixture, connector.as_ref()).await;
    assert_eq!(held(&s, user, "permission_set/Reports_Admin"), ["assigned"]);
    assert_eq!(
        held(&s, user, "permission_set/Engineering_Read_Only"),
        ["assigned"]
    );
}

#[tokio::test]
async fn the_older_google_and_github_ops_still_work() {
    let google = Fixture::start("google").await;
    let (status, _) = hand_change(
        &google,
        json!({"op": "set_role", "group": "platform@example.com", "user": "nina.petrova@example.com", "role": "OWNER"}),
    )
    .await;
    assert_eq!(status, 204);
    let s = sync(&google, connector(&google).as_ref()).await;
    assert_eq!(
        held(&s, "nina.petrova@example.com", "group/platform@example.com"),
        ["owner"]
    );

    let github = Fixture::start("github").await;
    let (status, _) = hand_change(
        &github,
        json!({"op": "add_team_member", "team": "payments", "user": "aisha-k", "role": "maintainer"}),
    )
    .await;
    assert_eq!(status, 204);
    let s = sync(&github, connector(&github).as_ref()).await;
    assert_eq!(
        held(&s, "aisha.khan@example.com", "team/Payments"),
        ["maintainer"]
    );
}
