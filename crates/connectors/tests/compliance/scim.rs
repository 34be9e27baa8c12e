//! The SCIM 2.0 connector against the SCIM emulator: its part of the contract, and what only SCIM does (pages
//! of any size, people found by `userName` before they have a known id, the actions it takes).

use grantflow_connectors::scim::{ScimConfig, ScimConnector};
use grantflow_connectors::{Applied, Connector, Observed};
use grantflow_model::{AccountRef, ConnectionName, OpKind, Operation, RetireMode, Snapshot};
use serde_json::{Map, json};

use crate::harness::{ByHand, Case, Grant, Missing, RateLimits, Said, Sandbox, System, Text};
use crate::sandbox::{account, grant_kind, holders, resource};

pub struct Scim;

pub fn config(sandbox: &Sandbox, page_size: u32, waits: u32) -> ScimConfig {
    ScimConfig {
        allow_insecure_http: false,
        base_url: format!("{}/scim/v2", sandbox.base_url()),
        token: sandbox.credential("token"),
        app: Some("Demo SCIM app".into()),
        page_size,
        timeout_seconds: 10,
        max_rate_limit_waits: waits,
    }
}

fn connector_paged(sandbox: &Sandbox, page_size: u32) -> ScimConnector {
    ScimConnector::new(
        ConnectionName::new("scim"),
        &config(sandbox, page_size, 3),
        &Sandbox::context(),
    )
    .expect("connector")
}

const DIEGO: &str = "diego.alvarez@example.com";
const PLATFORM: (&str, &str) = ("group", "Platform");

/// A member add (or remove) for an account known only by its `userName`.
fn pending_member(
    sandbox: &Sandbox,
    s: &Snapshot,
    add: bool,
    email: &str,
    group: &str,
) -> Operation {
    let account = AccountRef {
        id: format!("pending:{email}"),
        login: email.into(),
    };
    sandbox.operation(grant_kind(
        add,
        account,
        resource(s, "group", group),
        "member",
    ))
}

impl System for Scim {
    const KIND: &'static str = "scim";

    fn connector(sandbox: &Sandbox, waits: u32) -> Box<dyn Connector> {
        Box::new(
            ScimConnector::new(
                ConnectionName::new("scim"),
                &config(sandbox, 100, waits),
                &Sandbox::context(),
            )
            .expect("connector"),
        )
    }

    const GRANT: Grant = Grant {
        email: DIEGO,
        resource: "group/Platform",
        entitlement: "member",
    };

    fn operations(sandbox: &Sandbox, s: &Snapshot) -> Vec<Case> {
        let diego = account(s, DIEGO).id;
        let member = format!(
            "group/{}/member/{diego}",
            resource(s, PLATFORM.0, PLATFORM.1).id
        );
        let active = format!("user/{diego}/active");
        let nina = account(s, "nina.petrova@example.com");
        let user = format!("user/{}", nina.id);
        vec![
            Case::new(sandbox.grant(s, true, DIEGO, PLATFORM, "member"), &member),
            Case::new(sandbox.grant(s, false, DIEGO, PLATFORM, "member"), &member),
            Case::new(sandbox.action(s, DIEGO, "deactivate"), &active),
            Case::new(sandbox.action(s, DIEGO, "reactivate"), &active),
            Case::unkeyed(crate::scim_accounts::creation(
                sandbox,
                "nia.park@example.com",
            )),
            Case::new(
                sandbox.operation(OpKind::update_profile(
                    nina.clone(),
                    Map::new(),
                    json!({"title": "Staff Engineer", "name.givenName": "Nina"})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                )),
                &user,
            ),
            Case::new(
                sandbox.operation(OpKind::retire_account(nina, RetireMode::Delete)),
                &user,
            ),
        ]
    }

    const RATE_LIMITS: RateLimits = RateLimits {
        // Each add reads the group and then patches it.
        tight: Some(r#"{"window_seconds": 1, "all": 2}"#),
        spent: r#"{"window_seconds": 30, "all": 1}"#,
        bucket: "scim",
        message: Some(Text::Has("HTTP 429: Too many requests")),
        reset_after_seconds: 20,
    };

    const SERVER_ERROR: (u16, Said) = (503, Said::code("503"));

    const PERMANENT: (Missing, Said) = (
        Missing::AccountId("no-such-user"),
        Said::code("invalidValue")
            .status(400)
            .saying(Text::HasAll(&[
                "member no-such-user is not a User or Group here",
                "Demo SCIM app PATCH /Groups/",
            ])),
    );

    const WRONG_CREDENTIAL: (&'static str, &'static str) = ("token", "not-the-token");
    const UNAUTHORIZED: Said = Said::code("401");

    const BY_HAND: ByHand = ByHand {
        user: "lena.fischer@example.com",
        email: "lena.fischer@example.com",
        add: ("group/Platform", "member"),
        remove: "group/Engineering",
        suspended_status: "INACTIVE",
    };
}

fn members_of(s: &Snapshot, group: &str) -> Vec<String> {
    holders(s, &format!("group/{group}"), "member", Some(true))
}

#[tokio::test]
async fn a_sync_reads_users_by_email_and_groups_with_members_across_pages() {
    let sandbox = Sandbox::start("scim").await;
    let s = sandbox.sync(&connector_paged(&sandbox, 100)).await;
    assert_eq!(s.accounts.len(), 11);
    let former = s
        .account_by_login_or_email("former.engineer@example.com")
        .expect("inactive users are read too");
    assert_eq!(former.status, "INACTIVE");
    assert_eq!(former.display_name, "Former Engineer");
    assert_eq!(
        members_of(&s, "Platform"),
        [
            "nina.petrova@example.com",
            "okta-demo-user@example.com",
            "sam.okafor@example.com"
        ]
    );
    let platform = s.resource_by_name("group", "Platform").expect("group");
    assert!(platform.writable);
    assert_eq!(platform.entitlement_aliases["member"], "member");

    // Two users a page: the same snapshot, read over six pages.
    let small = sandbox.sync(&connector_paged(&sandbox, 2)).await;
    let ids = |s: &Snapshot| {
        let mut v: Vec<String> = s.accounts.iter().map(|a| a.id.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&small), ids(&s));
    assert_eq!(small.grants.len(), s.grants.len());
}

#[tokio::test]
async fn a_person_without_a_known_id_is_found_by_user_name_before_the_change() {
    let sandbox = Sandbox::start("scim").await;
    let c = connector_paged(&sandbox, 100);
    let s = sandbox.sync(&c).await;
    let add = pending_member(&sandbox, &s, true, "new.hire@example.com", "Engineering");
    assert_eq!(c.apply(&add).await.expect("add"), Applied::Changed);
    assert_eq!(c.observe(&add).await.expect("observe"), Observed::Done);
    assert!(
        members_of(&sandbox.sync(&c).await, "Engineering")
            .contains(&"new.hire@example.com".to_string())
    );

    let failure = c
        .apply(&pending_member(
            &sandbox,
            &s,
            true,
            "nobody@example.com",
            "Engineering",
        ))
        .await
        .expect_err("no such user");
    assert_eq!(failure.code(), "user_not_found");
    assert_eq!(
        c.apply(&pending_member(
            &sandbox,
            &s,
            false,
            "nobody@example.com",
            "Engineering"
        ))
        .await
        .expect("nothing to remove"),
        Applied::AlreadyPresent
    );
}

#[tokio::test]
async fn a_missing_group_is_not_found_and_an_unknown_action_is_refused_before_it_is_sent() {
    let sandbox = Sandbox::start("scim").await;
    let c = connector_paged(&sandbox, 100);
    let s = sandbox.sync(&c).await;
    let mut gone = Scim::GRANT.op(&sandbox, &s, true);
    if let OpKind::AddGrant { resource, .. } = &mut gone.kind {
        resource.id = "no-such-group".into();
    }
    assert_eq!(
        c.apply(&gone).await.expect_err("missing group").code(),
        "404"
    );
    let unknown = sandbox.action(&s, DIEGO, "reset_mfa");
    assert_eq!(
        c.check(&unknown).expect_err("no such action").code(),
        "invalid_action"
    );
}
