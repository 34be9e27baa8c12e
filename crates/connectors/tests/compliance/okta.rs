//! The Okta connector against the Okta emulator: its part of the contract, and what only Okta does (how each
//! grant is held, changes by hand in the System Log and an incremental sync).

use grantflow_connectors::okta::{OktaConfig, OktaConnector};
use grantflow_connectors::{Connector, SyncChanges};
use grantflow_model::{
    AccountOptions, AccountRef, AttributeType, ConnectionName, GrantSource, LifecycleState, OpKind,
    RetireMode, Snapshot,
};
use serde_json::{Value, json};

use crate::harness::{
    Again, ByHand, Case, Grant, Missing, RateLimits, Said, Sandbox, System, Text,
};
use crate::sandbox::{held, resource};

pub struct Okta;

fn connector(sandbox: &Sandbox, waits: u32) -> OktaConnector {
    let config = OktaConfig {
        allow_insecure_http: false,
        base_url: sandbox.base_url(),
        token: Some(sandbox.credential("token")),
        auth: None,
        timeout_seconds: 10,
        max_rate_limit_waits: waits,
        sync: Default::default(),
        event_hook: None,
    };
    OktaConnector::new(
        ConnectionName::new(sandbox.kind),
        &config,
        &Sandbox::context(),
    )
    .expect("connector")
}

const EMMA: &str = "emma.jones@example.com";
const AISHA: &str = "aisha.khan@example.com";

impl System for Okta {
    const KIND: &'static str = "okta";

    fn connector(sandbox: &Sandbox, waits: u32) -> Box<dyn Connector> {
        Box::new(connector(sandbox, waits))
    }

    const GRANT: Grant = Grant {
        email: EMMA,
        resource: "group/Finance",
        entitlement: "member",
    };

    fn operations(sandbox: &Sandbox, s: &Snapshot) -> Vec<Case> {
        let emma = crate::sandbox::account(s, EMMA).id;
        let aisha = crate::sandbox::account(s, AISHA).id;
        let id = |kind, name| resource(s, kind, name).id;
        let (monitors, pad) = (
            id("app", "Production Monitors"),
            id("group", "Production Access Demo"),
        );
        let (jira, finance) = (id("app", "Jira"), id("group", "Finance"));
        let app = ("app", "Production Monitors");
        let group = ("group", "Production Access Demo");
        let jira_app = ("app", "Jira");
        let finance_group = ("group", "Finance");
        vec![
            // A direct app assignment: Okta answers a second POST with E0000062.
            Case::new(
                sandbox.grant(s, true, EMMA, app, "assigned"),
                format!("app/{monitors}/user/{emma}"),
            ),
            Case::new(
                sandbox.grant(s, false, EMMA, app, "assigned"),
                format!("app/{monitors}/user/{emma}"),
            ),
            // Group membership and a group's app assignment are PUTs, which Okta takes again.
            Case::new(
                sandbox.grant(s, true, EMMA, group, "member"),
                format!("group/{pad}/user/{emma}"),
            )
            .again(Again::RepeatsIdempotentCall),
            Case::new(
                sandbox.grant(s, false, EMMA, group, "member"),
                format!("group/{pad}/user/{emma}"),
            )
            .again(Again::RepeatsIdempotentCall),
            Case::new(
                sandbox.group_grant(s, true, finance_group, jira_app, "assigned"),
                format!("app/{jira}/group/{finance}"),
            )
            .again(Again::RepeatsIdempotentCall),
            Case::new(
                sandbox.group_grant(s, false, finance_group, jira_app, "assigned"),
                format!("app/{jira}/group/{finance}"),
            ),
            // A profile attribute a policy sets: Okta's partial update (POST), after reading the user.
            Case::new(
                sandbox.operation(OpKind::update_profile(
                    crate::sandbox::account(s, EMMA),
                    serde_json::Map::new(),
                    json!({"costCenter": "FIN-7", "isMemberOfGroup": true})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                )),
                format!("user/{emma}"),
            ),
            // An account a policy declares: created once (activated with Okta's email: one call;
            // without one it is two, `okta_accounts.rs`), found by its login when applied again.
            Case::unkeyed(sandbox.operation(OpKind::create_account(
                AccountRef::pending("new.joiner@example.com"),
                json!({"email": "new.joiner@example.com", "firstName": "New", "lastName": "Joiner"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                AccountOptions {
                    send_email: true,
                    ..AccountOptions::default()
                },
            ))),
            // A leaver's account retired: Okta refuses to deactivate a DEPROVISIONED user again.
            Case::new(
                sandbox.operation(OpKind::retire_account(
                    crate::sandbox::account(s, AISHA),
                    RetireMode::Deactivate,
                )),
                format!("user/{aisha}"),
            ),
            // A lifecycle call Okta refuses to repeat (E0000001 for a user already suspended): the
            // connector reads the status first.
            Case::new(sandbox.action(s, EMMA, "suspend"), format!("user/{emma}")),
            Case::unkeyed(sandbox.operation(OpKind::PushGroup {
                group: resource(s, "group", "Engineering"),
                resource: resource(s, "app", "GitHub"),
                target_name: Some("eng".into()),
            })),
            Case::unkeyed(sandbox.create("group", "Contractors", json!({"description": "d"}))),
            // A changed declaration: the group's profile is replaced.
            Case::unkeyed(sandbox.update(
                "group",
                "Contractors",
                json!({"description": "e"}),
                json!({"description": "e"}),
            )),
            // A removed push: deactivated, then deleted (Okta deletes only an INACTIVE mapping).
            Case::unkeyed(sandbox.operation(OpKind::DeactivatePush {
                group: resource(s, "group", "Engineering"),
                resource: resource(s, "app", "GitHub"),
            })),
            Case::unkeyed(sandbox.operation(OpKind::DeletePush {
                group: resource(s, "group", "Engineering"),
                resource: resource(s, "app", "GitHub"),
            })),
            // A removed declaration of a group grantflow created.
            Case::unkeyed(sandbox.delete("group", "Contractors")),
        ]
    }

    const RATE_LIMITS: RateLimits = RateLimits {
        tight: Some(r#"{"window_seconds": 1, "all": 2}"#),
        spent: r#"{"window_seconds": 30, "all": 1}"#,
        bucket: "groups",
        message: Some(Text::StartsWith("E0000047")),
        reset_after_seconds: 0,
    };

    const SERVER_ERROR: (u16, Said) = (503, Said::message(Text::Has("503")));

    const PERMANENT: (Missing, Said) = (
        Missing::ResourceId("00gdoesnotexist000000"),
        Said::code("E0000007").status(404).saying(Text::StartsWith(
            "Not found: Resource not found: 00gdoesnotexist000000",
        )),
    );

    const WRONG_CREDENTIAL: (&'static str, &'static str) = ("token", "00not-the-right-token");
    const UNAUTHORIZED: Said = Said::code("E0000011");

    const BY_HAND: ByHand = ByHand {
        user: "marco.rossi@example.com",
        email: "marco.rossi@example.com",
        add: ("group/Platform", "member"),
        remove: "group/Engineering",
        suspended_status: "SUSPENDED",
    };
}

#[tokio::test]
async fn a_sync_reads_people_groups_memberships_apps_and_how_each_is_held() {
    let sandbox = Sandbox::start("okta").await;
    let snapshot = sandbox.sync(&connector(&sandbox, 3)).await;
    let demo = snapshot
        .account_by_login_or_email("okta-demo-user@example.com")
        .expect("demo user");
    assert_eq!(demo.attributes["department"], "Platform");
    assert_eq!(demo.state, LifecycleState::Active);
    let suspended = snapshot
        .account_by_login_or_email("chen.wei@example.com")
        .expect("suspended user");
    assert_eq!(
        (suspended.status.as_str(), suspended.state),
        ("SUSPENDED", LifecycleState::Suspended)
    );
    // The user schema Okta publishes: base properties (some required) and the org's custom ones.
    let schema = snapshot.profile_schema.as_ref().expect("user schema");
    assert!(schema.get("login").expect("login").required);
    let department = schema.get("department").expect("department");
    assert_eq!(
        (department.ty, department.required),
        (AttributeType::String, false)
    );
    assert_eq!(
        schema.get("employmentStatus").map(|a| a.ty),
        Some(AttributeType::String),
        "a custom attribute the org's users carry"
    );
    assert!(schema.get("departmnt").is_none());
    assert!(
        snapshot
            .account_by_login_or_email("former.engineer@example.com")
            .is_some(),
        "deprovisioned users are read too"
    );
    let pad = snapshot
        .resource_by_name("group", "Production Access Demo")
        .expect("group");
    let mut apps: Vec<&str> = snapshot
        .inherited_through(&pad.id)
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    apps.sort();
    assert_eq!(
        apps,
        [
            "Checkout Production Access",
            "Graph Connector Console",
            "Production Monitors"
        ]
    );
    let everyone = snapshot
        .resource_by_name("group", "Everyone")
        .expect("built-in group");
    assert!(!everyone.writable);
    let slack = snapshot.resource_by_name("app", "Slack").expect("app");
    let held: Vec<&GrantSource> = snapshot
        .grants
        .iter()
        .filter(|g| g.account_id == demo.id && g.resource_id == slack.id)
        .map(|g| &g.source)
        .collect();
    assert!(
        held.contains(&&GrantSource::Direct),
        "the demo user is assigned Slack directly: {held:?}"
    );
    let sam = snapshot
        .account_by_login_or_email("sam.okafor@example.com")
        .expect("sam");
    let checkout = snapshot
        .resource_by_name("app", "Checkout Production Access")
        .expect("app");
    let via = snapshot
        .grants
        .iter()
        .find(|g| g.account_id == sam.id && g.resource_id == checkout.id)
        .expect("held");
    assert_eq!(
        via.source,
        GrantSource::Group {
            group_id: pad.id.clone()
        }
    );
}

/// The System Log events a change by hand leaves, for `login`.
async fn logged(sandbox: &Sandbox) -> Vec<Value> {
    let url = format!("{}/api/v1/logs?limit=1000", sandbox.base_url());
    reqwest::Client::new()
        .get(url)
        .header(
            "Authorization",
            format!("SSWS {}", sandbox.credential_value("token")),
        )
        .send()
        .await
        .expect("logs")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn changes_by_hand_are_in_the_system_log_and_a_direct_app_assignment_is_synced() {
    let sandbox = Sandbox::start("okta").await;
    let c = connector(&sandbox, 3);
    let marco = "marco.rossi@example.com";
    let app = "app/Checkout Production Access";
    for body in [
        json!({"op": "add", "user": marco, "resource": "group/Platform"}),
        json!({"op": "remove", "user": marco, "resource": "group/Engineering"}),
        json!({"op": "suspend", "user": marco}),
        json!({"op": "add", "user": "lena.fischer@example.com", "resource": app}),
    ] {
        assert_eq!(sandbox.hand_change(&body).await.0, 204, "{body}");
    }
    let s = sandbox.sync(&c).await;
    assert_eq!(held(&s, "lena.fischer@example.com", app), ["assigned"]);

    let events = logged(&sandbox).await;
    let logged = |event_type: &str, login: &str| {
        events.iter().any(|e| {
            e["eventType"] == event_type
                && e["target"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["alternateId"] == login))
        })
    };
    for (event_type, login) in [
        ("group.user_membership.add", marco),
        ("group.user_membership.remove", marco),
        ("user.lifecycle.suspend", marco),
        (
            "application.user_membership.add",
            "lena.fischer@example.com",
        ),
    ] {
        assert!(logged(event_type, login), "{event_type} for {login}");
    }
}

#[tokio::test]
async fn changes_by_hand_reach_an_incremental_sync() {
    let sandbox = Sandbox::start("okta").await;
    let c = connector(&sandbox, 3);
    let cursor = c
        .change_cursor()
        .await
        .expect("cursor")
        .expect("okta has a change feed");
    let mut snapshot = sandbox.sync(&c).await;
    let user = "tom.baker@example.com";
    for body in [
        json!({"op": "add", "user": user, "resource": "group/Payments Oncall"}),
        json!({"op": "remove", "user": user, "resource": "group/Engineering"}),
        json!({"op": "suspend", "user": user}),
    ] {
        assert_eq!(sandbox.hand_change(&body).await.0, 204, "{body}");
    }
    match c
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
