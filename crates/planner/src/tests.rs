//! Planning against small hand-made snapshots.

use super::*;
use chrono::Utc;
use grantflow_model::{Account, Grant, Resource, ResourceGrant, ResourceKind, SystemKind};
use grantflow_model::{GrantSource, OpKind, Operation, OperationId, Plan};
use grantflow_policy::PolicySet;
use serde_json::{Value, json};
use std::path::PathBuf;

fn account(id: &str, email: &str, department: &str, status: &str) -> Account {
    let mut attributes = serde_json::Map::new();
    attributes.insert("department".into(), json!(department));
    Account {
        id: id.into(),
        login: email.into(),
        email: Some(email.into()),
        display_name: email.into(),
        status: status.into(),
        state: grantflow_model::LifecycleState::parse(&status.to_lowercase()).unwrap_or_default(),
        attributes,
    }
}

fn resource(id: &str, kind: &str, name: &str) -> Resource {
    Resource {
        id: id.into(),
        kind: ResourceKind::new(kind),
        name: name.into(),
        entitlements: vec![if kind == "app" { "assigned" } else { "member" }.into()],
        entitlement_aliases: Default::default(),
        writable: true,
        attributes: Default::default(),
    }
}

fn direct(account: &str, resource: &str, entitlement: &str) -> Grant {
    Grant {
        account_id: account.into(),
        resource_id: resource.into(),
        entitlement: entitlement.into(),
        source: GrantSource::Direct,
    }
}

pub(crate) fn state() -> ActualState {
    let okta = ConnectionName::new("okta");
    let mut snapshot = Snapshot::new(okta.clone(), SystemKind::new("okta"));
    snapshot.accounts = vec![
        account("u1", "ann@example.com", "Platform", "ACTIVE"),
        account("u2", "bob@example.com", "Sales", "ACTIVE"),
        account("u3", "cat@example.com", "Platform", "ACTIVE"),
        account("u4", "dan@example.com", "Platform", "DEPROVISIONED"),
    ];
    snapshot.resources = vec![
        resource("g1", "group", "Production Access Demo"),
        resource("g2", "group", "Unmanaged"),
        resource("a1", "app", "Checkout Production Access"),
        resource("a2", "app", "Production Monitors"),
    ];
    snapshot.grants = vec![
        direct("u3", "g1", "member"),
        direct("u2", "g1", "member"),
        direct("u4", "g1", "member"),
        direct("u2", "g2", "member"),
        Grant {
            account_id: "u3".into(),
            resource_id: "a1".into(),
            entitlement: "assigned".into(),
            source: GrantSource::Group {
                group_id: "g1".into(),
            },
        },
    ];
    snapshot.resource_grants = vec![
        ResourceGrant {
            holder_id: "g1".into(),
            resource_id: "a1".into(),
            entitlement: "assigned".into(),
        },
        ResourceGrant {
            holder_id: "g1".into(),
            resource_id: "a2".into(),
            entitlement: "assigned".into(),
        },
    ];
    ActualState {
        directory: okta.clone(),
        snapshots: BTreeMap::from([(okta.clone(), snapshot)]),
        sync_ids: BTreeMap::from([(okta, "s-1".to_string())]),
        digests: BTreeMap::new(),
        correlation: Correlation::default(),
        time_bound: vec![],
        created: vec![],
    }
}

pub(crate) fn policies(text: &str) -> PolicySet {
    PolicySet::from_sources(vec![(PathBuf::from("p.yaml"), text.to_string())]).expect("valid")
}

const PLATFORM: &str = r#"policies:
  - name: platform-prod
    when: person.department == "Platform"
    grants:
      - {system: okta, resource: group/Production Access Demo}
"#;

pub(crate) fn lines(plan: &Plan) -> Vec<String> {
    plan.operations.iter().map(Operation::describe).collect()
}

#[test]
fn policies_add_missing_grants_and_remove_unwanted_ones_on_managed_resources_only() {
    let plan = plan_policies(&policies(PLATFORM), &state(), "test", Utc::now()).expect("plans");
    assert_eq!(
        lines(&plan),
        vec![
            "+ okta group \"Production Access Demo\" member for ann@example.com",
            "- okta group \"Production Access Demo\" member for bob@example.com",
            "- okta group \"Production Access Demo\" member for dan@example.com",
        ]
    );
    assert_eq!(plan.operations[0].reasons, vec!["policy platform-prod"]);
    // cat already holds the group; bob's membership of the unmanaged group stays.
    assert!(
        !lines(&plan)
            .iter()
            .any(|l| l.contains("Unmanaged") || l.contains("cat@"))
    );
}

#[test]
fn a_time_bound_grant_is_kept_until_it_ends_and_planned_away_after() {
    let now = Utc::now();
    let mut actual = state();
    actual.time_bound.push(crate::TimeBoundGrant {
        connection: ConnectionName::new("okta"),
        account_id: "u2".into(),
        resource_id: "g1".into(),
        entitlement: "member".into(),
        until: now + chrono::Duration::hours(1),
        request: "r-1".into(),
    });
    let before = plan_policies(&policies(PLATFORM), &actual, "test", now).expect("plans");
    assert!(
        !lines(&before).iter().any(|l| l.contains("bob@")),
        "{:?}",
        lines(&before)
    );
    assert!(
        before
            .review
            .notes
            .iter()
            .any(|n| n.contains("time-bound, request r-1")),
        "{:?}",
        before.review.notes
    );
    let after = plan_policies(
        &policies(PLATFORM),
        &actual,
        "test",
        now + chrono::Duration::hours(1),
    )
    .expect("plans");
    assert!(
        lines(&after).contains(
            &"- okta group \"Production Access Demo\" member for bob@example.com".to_string()
        ),
        "{:?}",
        lines(&after)
    );
}

#[test]
fn the_review_lists_what_a_group_brings_and_what_the_person_already_has() {
    let plan = plan_policies(&policies(PLATFORM), &state(), "test", Utc::now()).expect("plans");
    assert_eq!(plan.review.items.len(), 1);
    let brings: Vec<(String, bool)> = plan.review.items[0]
        .brings
        .iter()
        .map(|b| (b.name.clone(), b.already_held))
        .collect();
    assert_eq!(
        brings,
        vec![
            ("Checkout Production Access".to_string(), false),
            ("Production Monitors".to_string(), false)
        ]
    );
}

#[test]
fn a_plan_records_its_basis_and_its_id_depends_on_content() {
    let now = Utc::now();
    let a = plan_policies(&policies(PLATFORM), &state(), "test", now).expect("plans");
    let b = plan_policies(&policies(PLATFORM), &state(), "test", now).expect("plans");
    assert_eq!(a.id, b.id);
    assert_eq!(a.basis.len(), 1);
    assert_eq!(a.basis[0].sync_id, "s-1");
    let other = plan_policies(
        &policies(&PLATFORM.replace("Platform\"", "Sales\"")),
        &state(),
        "test",
        now,
    )
    .expect("plans");
    assert_ne!(a.id, other.id);
}

#[test]
fn requests_are_understood_in_several_phrasings() {
    let cases = [
        (
            "assign ann@example.com to the Production Access Demo group",
            Action::Add,
            "Production Access Demo",
            Some("group"),
        ),
        (
            "add ann@example.com to Production Access Demo",
            Action::Add,
            "Production Access Demo",
            None,
        ),
        (
            "map production reachability before assigning ann@example.com to the Production Access Demo Okta group",
            Action::Add,
            "Production Access Demo",
            Some("group"),
        ),
        (
            "remove bob@example.com from the \"Production Access Demo\" group",
            Action::Remove,
            "Production Access Demo",
            Some("group"),
        ),
        (
            "assign ann@example.com to the Production Monitors app",
            Action::Add,
            "Production Monitors",
            Some("app"),
        ),
    ];
    for (text, action, target, kind) in cases {
        let request = parse_request(text).expect(text);
        assert_eq!(request.action, action, "{text}");
        let (_, connection, _) = request::resolve(&request, &state()).expect(text);
        assert_eq!(connection.as_str(), "okta", "{text}");
        let plan = plan_request(&request, &state(), Utc::now()).expect(text);
        let named: Vec<String> = plan
            .operations
            .iter()
            .map(|op| op.resource().name.clone())
            .chain(
                plan.review
                    .notes
                    .iter()
                    .filter(|n| n.contains(target))
                    .map(|_| target.to_string()),
            )
            .collect();
        assert!(named.iter().any(|n| n == target), "{text}: {named:?}");
        if let (Some(kind), Some(op)) = (kind, plan.operations.first()) {
            assert_eq!(op.resource().kind.as_str(), kind, "{text}");
        }
    }
    assert!(matches!(
        parse_request("please do something"),
        Err(RequestError::Unparseable(_))
    ));
}

#[test]
fn a_request_becomes_a_one_operation_plan_with_its_review() {
    let request = parse_request("assign ann@example.com to the production access demo group")
        .expect("parses");
    let plan = plan_request(&request, &state(), Utc::now()).expect("plans");
    assert_eq!(
        lines(&plan),
        vec!["+ okta group \"Production Access Demo\" member for ann@example.com"]
    );
    assert_eq!(plan.review.items[0].brings.len(), 2);
}

#[test]
fn a_request_for_an_unknown_user_or_group_is_refused_by_name() {
    let request =
        parse_request("assign nobody@example.com to Production Access Demo").expect("parses");
    let error = plan_request(&request, &state(), Utc::now()).expect_err("unknown user");
    assert!(error.to_string().contains("nobody@example.com"), "{error}");
    let request =
        parse_request("assign ann@example.com to the Production Acess Demo group").expect("parses");
    let error = plan_request(&request, &state(), Utc::now()).expect_err("unknown group");
    let message = error.to_string();
    assert!(message.contains("\"Production Acess Demo\""), "{message}");
    assert!(
        message.contains("did you mean: okta group \"Production Access Demo\""),
        "{message}"
    );
}

#[test]
fn a_request_for_access_already_held_plans_nothing() {
    let request = parse_request("add cat@example.com to Production Access Demo").expect("parses");
    let plan = plan_request(&request, &state(), Utc::now()).expect("plans");
    assert!(plan.operations.is_empty());
    assert!(
        plan.review.notes[0].contains("already holds"),
        "{:?}",
        plan.review.notes
    );
}

#[test]
fn a_person_without_an_account_in_a_first_login_system_gets_a_waiting_grant() {
    let mut actual = state();
    let gitlab = ConnectionName::new("gitlab");
    let mut snapshot = Snapshot::new(gitlab.clone(), SystemKind::new("gitlab"));
    snapshot.accounts_created_on_first_login = true;
    snapshot.resources = vec![resource("7", "group", "platform")];
    actual.snapshots.insert(gitlab.clone(), snapshot);
    let policy = policies(
        "policies:\n  - name: gl\n    when: person.email == \"ann@example.com\"\n    grants:\n      - {system: gitlab, resource: group/platform}\n",
    );
    let plan = plan_policies(&policy, &actual, "test", Utc::now()).expect("plans");
    let op = plan
        .operations
        .iter()
        .find(|op| op.connection == gitlab)
        .expect("gitlab grant");
    assert_eq!(op.holder().id(), "pending:ann@example.com");
    assert_eq!(
        op.describe(),
        "+ gitlab group \"platform\" member for ann@example.com"
    );
}

/// GitLab as its connector syncs it: a group, and a read-only project the group lists (whose number is the
/// group's too in GitLab, hence its global id), held by the group with `member`.
fn gitlab_with_a_project() -> (ConnectionName, Snapshot) {
    let gitlab = ConnectionName::new("gitlab");
    let mut snapshot = Snapshot::new(gitlab.clone(), SystemKind::new("gitlab"));
    snapshot.accounts = vec![
        account("31", "ann@example.com", "", "ACTIVE"),
        account("32", "bob@example.com", "", "ACTIVE"),
    ];
    let mut project = resource(
        "gid://gitlab/Project/7",
        "project",
        "acme/platform/graph-connector",
    );
    project.writable = false;
    snapshot.resources = vec![resource("7", "group", "acme/platform"), project];
    // Bob is in the group by hand; nobody manages the project.
    snapshot.grants = vec![direct("32", "7", "member")];
    snapshot.resource_grants = vec![ResourceGrant {
        holder_id: "7".into(),
        resource_id: "gid://gitlab/Project/7".into(),
        entitlement: "member".into(),
    }];
    (gitlab, snapshot)
}

#[test]
fn a_gitlab_project_a_group_reaches_is_reviewed_never_planned() {
    let mut actual = state();
    let (gitlab, snapshot) = gitlab_with_a_project();
    actual.snapshots.insert(gitlab.clone(), snapshot);
    let policy = policies(
        "policies:\n  - name: gl\n    when: person.email == \"ann@example.com\"\n    grants:\n      - {system: gitlab, resource: group/acme/platform}\n",
    );
    let plan = plan_policies(&policy, &actual, "test", Utc::now()).expect("plans");
    let ops: Vec<&Operation> = plan
        .operations
        .iter()
        .filter(|op| op.connection == gitlab)
        .collect();
    // Ann's membership is added and Bob's removed; the project is never an operation's resource.
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert!(ops.iter().all(|op| op.resource().kind.as_str() == "group"));
    let add = ops
        .iter()
        .find(|op| op.widens_access())
        .expect("ann's membership");
    let item = plan
        .review
        .items
        .iter()
        .find(|i| i.operation == add.id)
        .expect("the review shows what the group brings");
    assert_eq!(item.brings.len(), 1);
    assert_eq!(item.brings[0].kind, "project");
    assert_eq!(item.brings[0].name, "acme/platform/graph-connector");

    // Once applied (the group's members inherit the project), planning again changes nothing.
    for op in &plan.operations {
        if let Some(snapshot) = actual.snapshots.get_mut(&op.connection) {
            snapshot.apply_change(op);
        }
    }
    let again = plan_policies(&policy, &actual, "test", Utc::now()).expect("plans");
    assert!(again.operations.is_empty(), "{:?}", again.operations);

    // A policy cannot grant a project: GitLab project membership is not grantflow's.
    let on_project = policies(
        "policies:\n  - name: gl\n    when: person.email == \"ann@example.com\"\n    grants:\n      - {system: gitlab, resource: project/acme/platform/graph-connector}\n",
    );
    let refused = plan_policies(&on_project, &actual, "test", Utc::now()).expect_err("refused");
    assert!(
        refused.to_string().contains("is managed by gitlab itself"),
        "{refused}"
    );
}

#[test]
fn access_elsewhere_waits_for_the_directory_and_leaves_before_it() {
    let mut actual = state();
    let chat = ConnectionName::new("chat");
    let mut snapshot = Snapshot::new(chat.clone(), SystemKind::new("slack"));
    snapshot.accounts = vec![
        account("c-ann", "ann@example.com", "", "ACTIVE"),
        account("c-bob", "bob@example.com", "", "ACTIVE"),
    ];
    snapshot.resources = vec![resource("ch1", "channel", "prod")];
    snapshot.grants = vec![direct("c-bob", "ch1", "member")];
    actual.snapshots.insert(chat, snapshot);
    let text = format!("{PLATFORM}      - {{system: chat, resource: channel/prod}}\n");
    let plan = plan_policies(&policies(&text), &actual, "test", Utc::now()).expect("plans");
    let find = |needle: &str| {
        plan.operations
            .iter()
            .find(|op| op.describe().contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in {:#?}", lines(&plan)))
    };
    let okta_add = find("+ okta group \"Production Access Demo\" member for ann@");
    let chat_add = find("+ chat channel \"prod\" member for ann@");
    assert_eq!(chat_add.depends_on, vec![okta_add.id]);
    let okta_remove = find("- okta group \"Production Access Demo\" member for bob@");
    let chat_remove = find("- chat channel \"prod\" member for bob@");
    assert_eq!(okta_remove.depends_on, vec![chat_remove.id]);
}

const DECLARED: &str = r#"resources:
  - {system: opa, resource: secret_folder/rg/proj/team-secrets}
  - {system: okta, resource: group/Team Secrets}
  - system: opa
    resource: security_policy/team-access
    spec: {groups: [Team Secrets], folders: [rg/proj/team-secrets]}
    requires:
      - {system: opa, resource: group/Team Secrets}
      - {system: opa, resource: secret_folder/rg/proj/team-secrets}
pushes:
  - {system: okta, group: Team Secrets, app: Production Monitors, creates: {system: opa, resource: group/Team Secrets}}
policies:
  - name: team
    when: person.email == "ann@example.com"
    grants:
      - {system: okta, resource: group/Team Secrets}
"#;

fn with_opa() -> ActualState {
    let mut actual = state();
    let opa = ConnectionName::new("opa");
    actual
        .snapshots
        .insert(opa.clone(), Snapshot::new(opa, SystemKind::new("opa")));
    actual
}

#[test]
fn declared_resources_are_created_pushed_and_granted_in_dependency_order() {
    let actual = with_opa();
    let plan = plan_policies(&policies(DECLARED), &actual, "p", Utc::now()).expect("plans");
    let find = |text: &str| {
        plan.operations
            .iter()
            .find(|op| op.describe() == text)
            .unwrap_or_else(|| panic!("{text} not in {:#?}", lines(&plan)))
    };
    let group = find("+ okta create group \"Team Secrets\"");
    let member = find("+ okta group \"Team Secrets\" member for ann@example.com");
    let push = find("+ okta app \"Production Monitors\" push for group \"Team Secrets\"");
    let folder = find("+ opa create secret_folder \"rg/proj/team-secrets\"");
    let policy = find("+ opa create security_policy \"team-access\"");
    // Okta pushes only members assigned to the app: the group is assigned first.
    let assign = find("+ okta app \"Production Monitors\" assigned for group \"Team Secrets\"");
    assert_eq!(plan.operations.len(), 6, "{:#?}", lines(&plan));
    assert_eq!(member.depends_on, [group.id]);
    assert_eq!(assign.depends_on, [group.id]);
    let mut push_after = vec![group.id, assign.id];
    push_after.sort();
    assert_eq!(push.depends_on, push_after);
    let mut after = vec![push.id, folder.id];
    after.sort();
    assert_eq!(policy.depends_on, after);
    for (position, op) in plan.operations.iter().enumerate() {
        assert_eq!(op.id, OperationId(position as u32));
        assert!(op.depends_on.iter().all(|d| *d < op.id), "{op:?}");
    }
    if let OpKind::CreateResource { resource, spec } = &policy.kind {
        assert_eq!(resource.id, "pending:team-access");
        assert_eq!(spec["groups"], json!(["Team Secrets"]));
    }
}

#[test]
fn existing_declared_resources_and_active_pushes_plan_nothing() {
    let mut actual = with_opa();
    let okta = ConnectionName::new("okta");
    let opa = ConnectionName::new("opa");
    let snapshot = actual.snapshots.get_mut(&okta).expect("okta");
    snapshot
        .resources
        .push(resource("g9", "group", "Team Secrets"));
    snapshot.grants.push(direct("u1", "g9", "member"));
    for entitlement in ["push", "assigned"] {
        snapshot.resource_grants.push(ResourceGrant {
            holder_id: "g9".into(),
            resource_id: "a2".into(),
            entitlement: entitlement.into(),
        });
    }
    let snapshot = actual.snapshots.get_mut(&opa).expect("opa");
    snapshot
        .resources
        .push(resource("o1", "group", "Team Secrets"));
    snapshot
        .resources
        .push(resource("f1", "secret_folder", "rg/proj/team-secrets"));
    snapshot
        .resources
        .push(resource("p1", "security_policy", "team-access"));
    let plan = plan_policies(&policies(DECLARED), &actual, "p", Utc::now()).expect("plans");
    assert!(plan.operations.is_empty(), "{:#?}", lines(&plan));
}

/// Everything `DECLARED` makes, as the last sync reads it, and recorded as created by grantflow.
fn declared_made() -> ActualState {
    let mut actual = with_opa();
    let okta = ConnectionName::new("okta");
    let opa = ConnectionName::new("opa");
    let snapshot = actual.snapshots.get_mut(&okta).expect("okta");
    snapshot
        .resources
        .push(resource("g9", "group", "Team Secrets"));
    snapshot.grants.push(direct("u1", "g9", "member"));
    for entitlement in ["push", "assigned"] {
        snapshot.resource_grants.push(ResourceGrant {
            holder_id: "g9".into(),
            resource_id: "a2".into(),
            entitlement: entitlement.into(),
        });
    }
    let snapshot = actual.snapshots.get_mut(&opa).expect("opa");
    let mut policy = resource("p1", "security_policy", "team-access");
    policy.attributes = json!({"groups": ["Team Secrets"], "folders": ["rg/proj/team-secrets"], "description": "old"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    snapshot.resources.extend([
        resource("o1", "group", "Team Secrets"),
        resource("f1", "secret_folder", "rg/proj/team-secrets"),
        policy,
    ]);
    let made = |connection: &ConnectionName, kind: &str, name: &str, app: &str, ours: bool| {
        crate::CreatedObject {
            connection: connection.clone(),
            kind: kind.into(),
            name: name.into(),
            app: app.into(),
            by_grantflow: ours,
        }
    };
    actual.created = vec![
        made(&opa, "secret_folder", "rg/proj/team-secrets", "", true),
        // Someone made the group before grantflow went to: it is not grantflow's to delete.
        made(&okta, "group", "Team Secrets", "", false),
        made(
            &okta,
            crate::GROUP_PUSH,
            "Team Secrets",
            "Production Monitors",
            true,
        ),
        made(&opa, "security_policy", "team-access", "", true),
    ];
    actual
}

#[test]
fn a_changed_spec_is_an_update_with_only_the_changed_fields_before_and_after() {
    let actual = declared_made();
    let changed = DECLARED.replace(
        "spec: {groups: [Team Secrets], folders: [rg/proj/team-secrets]}",
        "spec: {groups: [Team Secrets], folders: [rg/proj/team-secrets], description: new, active: true}",
    );
    let plan = plan_policies(&policies(&changed), &actual, "p", Utc::now()).expect("plans");
    assert_eq!(plan.operations.len(), 1, "{:#?}", lines(&plan));
    let op = &plan.operations[0];
    let OpKind::UpdateResource {
        resource,
        spec,
        before,
        after,
    } = &op.kind
    else {
        panic!("an update: {:#?}", lines(&plan));
    };
    assert_eq!(resource.id, "p1");
    assert_eq!(
        spec["groups"],
        json!(["Team Secrets"]),
        "the whole spec is sent"
    );
    assert_eq!(Value::Object(before.clone()), json!({"description": "old"}));
    assert_eq!(Value::Object(after.clone()), json!({"description": "new"}));
    assert_eq!(
        op.describe(),
        "~ opa update security_policy \"team-access\": description \"old\" \u{2192} \"new\""
    );
    assert!(
        plan.review
            .notes
            .iter()
            .any(|n| n.contains("does not read active")),
        "{:?}",
        plan.review.notes
    );
    // Unchanged, nothing to do.
    let plan = plan_policies(&policies(DECLARED), &actual, "p", Utc::now()).expect("plans");
    assert!(plan.operations.is_empty(), "{:#?}", lines(&plan));
}

#[test]
fn removed_declarations_delete_only_what_grantflow_created_and_a_removed_push_is_deactivated_then_deleted()
 {
    let actual = declared_made();
    let only_grants = &DECLARED[DECLARED.find("policies:").expect("policies")..];
    let plan = plan_policies(&policies(only_grants), &actual, "p", Utc::now()).expect("plans");
    let find = |text: &str| {
        plan.operations
            .iter()
            .find(|op| op.describe() == text)
            .unwrap_or_else(|| panic!("{text} not in {:#?}", lines(&plan)))
    };
    let policy = find("- opa delete security_policy \"team-access\"");
    let folder = find("- opa delete secret_folder \"rg/proj/team-secrets\"");
    let deactivate =
        find("- okta deactivate push of group \"Team Secrets\" to app \"Production Monitors\"");
    let delete =
        find("- okta delete push of group \"Team Secrets\" to app \"Production Monitors\"");
    assert_eq!(plan.operations.len(), 4, "{:#?}", lines(&plan));
    assert_eq!(
        folder.depends_on,
        [policy.id],
        "last created, first deleted"
    );
    assert_eq!(delete.depends_on, [deactivate.id]);
    assert!(plan.operations.iter().all(|op| !op.widens_access()));
    assert!(
        plan.review.notes.iter().any(|n| n
            == "okta group \"Team Secrets\" is no longer declared, but grantflow did not create it: it is never deleted"),
        "{:?}",
        plan.review.notes
    );
    // Declared again: nothing to delete.
    let plan = plan_policies(&policies(DECLARED), &actual, "p", Utc::now()).expect("plans");
    assert!(plan.operations.is_empty(), "{:#?}", lines(&plan));
}

#[test]
fn a_declared_resource_in_an_unknown_system_is_an_error_at_its_place() {
    let text = "resources:\n  - system: vault\n    resource: folder/x\n";
    let error =
        plan_policies(&policies(text), &with_opa(), "p", Utc::now()).expect_err("unknown system");
    let message = error.to_string();
    assert!(
        message.starts_with("p.yaml:2:13: error: unknown system \"vault\""),
        "{message}"
    );
    let text = "resources:\n  - system: opa\n    resource: security_policy/x\n    requires:\n      - {system: opa, resource: group/Nowhere}\n";
    let message = plan_policies(&policies(text), &with_opa(), "p", Utc::now())
        .expect_err("unknown requirement")
        .to_string();
    assert!(message.starts_with("p.yaml:5:33: error:"), "{message}");
    assert!(
        message.contains("group \"Nowhere\" does not exist"),
        "{message}"
    );
}

#[test]
fn a_non_authoritative_grant_adds_without_managing_the_resource() {
    let text = r#"policies:
  - name: platform-prod
    when: person.department == "Platform"
    grants:
      - {system: okta, resource: group/Production Access Demo, authoritative: false}
"#;
    let plan = plan_policies(&policies(text), &state(), "test", Utc::now()).expect("plans");
    assert_eq!(
        lines(&plan),
        vec!["+ okta group \"Production Access Demo\" member for ann@example.com"],
        "bob's and dan's memberships are not this policy's to remove"
    );
}

/// A directory plus one system of each kind `do` is asked about in words.
fn several_systems() -> ActualState {
    let mut actual = state();
    let mut add = |name: &str,
                   kind: &str,
                   accounts: Vec<Account>,
                   resources: Vec<Resource>,
                   grants: Vec<Grant>| {
        let connection = ConnectionName::new(name);
        let mut snapshot = Snapshot::new(connection.clone(), SystemKind::new(kind));
        snapshot.accounts = accounts;
        snapshot.resources = resources;
        snapshot.grants = grants;
        actual.snapshots.insert(connection, snapshot);
    };
    add(
        "slack",
        "slack",
        vec![account("U1", "ann@example.com", "", "ACTIVE")],
        vec![resource("C1", "channel", "platform-oncall")],
        vec![],
    );
    let mut prod = resource("111122223333", "account", "prod-payments");
    prod.entitlements = vec!["ReadOnlyAccess".into(), "PowerUserAccess".into()];
    add(
        "aws",
        "aws",
        vec![account("a-1", "bob@example.com", "", "ACTIVE")],
        vec![prod],
        vec![],
    );
    let mut platform = resource("7", "group", "acme/platform");
    platform.entitlements = vec!["access_level:10".into(), "access_level:30".into()];
    platform.entitlement_aliases =
        [("developer".to_string(), "access_level:30".to_string())].into();
    add(
        "gitlab",
        "gitlab",
        vec![account("g-3", "cat@example.com", "", "ACTIVE")],
        vec![platform],
        vec![],
    );
    let mut team = resource("platform", "team", "Platform");
    team.entitlements = vec!["member".into(), "maintainer".into()];
    add(
        "github",
        "github",
        vec![account("42", "bob@example.com", "", "ACTIVE")],
        vec![team],
        vec![direct("42", "platform", "maintainer")],
    );
    actual
}

#[test]
fn requests_name_resources_of_every_system_in_peoples_words() {
    let actual = several_systems();
    let cases = [
        (
            "add ann to the slack channel platform-oncall",
            "+ slack channel \"platform-oncall\" member for ann@example.com",
        ),
        (
            "give bob PowerUserAccess in AWS account prod-payments",
            "+ aws account \"prod-payments\" PowerUserAccess for bob@example.com",
        ),
        (
            "make cat a Developer in gitlab group acme/platform",
            "+ gitlab group \"acme/platform\" access_level:30 for cat@example.com",
        ),
        (
            "remove bob from the github team Platform",
            "- github team \"Platform\" maintainer for bob@example.com",
        ),
    ];
    for (text, expected) in cases {
        let request = parse_request(text).expect(text);
        let plan = plan_request(&request, &actual, Utc::now()).expect(text);
        assert_eq!(lines(&plan), vec![expected.to_string()], "{text}");
    }
}

#[test]
fn unknown_or_ambiguous_names_list_the_close_matches() {
    let actual = several_systems();
    let unknown = parse_request("add ann to the slack channel platform-oncal").expect("parses");
    let error = plan_request(&unknown, &actual, Utc::now())
        .expect_err("unknown channel")
        .to_string();
    assert!(
        error.contains("did you mean: slack channel \"platform-oncall\""),
        "{error}"
    );
    let nobody = parse_request("add annie to the slack channel platform-oncall").expect("parses");
    let error = plan_request(&nobody, &actual, Utc::now())
        .expect_err("unknown person")
        .to_string();
    assert!(error.contains("annie"), "{error}");
    let bad_role =
        parse_request("make cat a Wizard in gitlab group acme/platform").expect("parses");
    let error = plan_request(&bad_role, &actual, Utc::now())
        .expect_err("unknown role")
        .to_string();
    assert!(
        error.contains("no entitlement \"Wizard\"") && error.contains("developer"),
        "{error}"
    );
    // "Platform" is a team in GitHub and the start of a group name in GitLab, but only the team is called that.
    let mut twice = several_systems();
    if let Some(gitlab) = twice.snapshots.get_mut(&ConnectionName::new("gitlab")) {
        gitlab.resources.push(resource("8", "group", "Platform"));
    }
    let request = parse_request("remove bob from Platform").expect("parses");
    let error = plan_request(&request, &twice, Utc::now())
        .expect_err("ambiguous")
        .to_string();
    assert!(
        error.contains("github team \"Platform\"") && error.contains("gitlab group \"Platform\""),
        "{error}"
    );
}
