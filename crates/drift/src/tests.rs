//! Drift over hand-made and generated organisations.

use super::*;
use grantflow_model::GrantSource;
use grantflow_model::{Grant, Resource, ResourceGrant, ResourceKind, SystemKind};
use grantflow_planner::MatchField;
use proptest::prelude::*;
use serde_json::json;
use std::path::PathBuf;

fn person_account(id: &str, email: &str, department: &str, status: &str) -> Account {
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

fn handle_account(id: &str, login: &str, status: &str) -> Account {
    Account {
        id: id.into(),
        login: login.into(),
        email: None,
        display_name: login.into(),
        status: status.into(),
        state: grantflow_model::LifecycleState::parse(&status.to_lowercase()).unwrap_or_default(),
        attributes: Default::default(),
    }
}

fn resource(id: &str, kind: &str, name: &str) -> Resource {
    Resource {
        id: id.into(),
        kind: ResourceKind::new(kind),
        name: name.into(),
        entitlements: vec!["member".into()],
        entitlement_aliases: Default::default(),
        writable: true,
        attributes: Default::default(),
    }
}

fn grant(account: &str, resource: &str, source: GrantSource) -> Grant {
    Grant {
        account_id: account.into(),
        resource_id: resource.into(),
        entitlement: "member".into(),
        source,
    }
}

fn policies(yaml: &str) -> PolicySet {
    PolicySet::from_sources(vec![(
        PathBuf::from("policies/test.yaml"),
        yaml.to_string(),
    )])
    .expect("the test policies parse")
}

fn state(snapshots: Vec<Snapshot>) -> ActualState {
    let directory = ConnectionName::new("okta");
    ActualState {
        directory,
        sync_ids: snapshots
            .iter()
            .filter_map(|s| s.connection.clone())
            .map(|c| (c, "s-1".to_string()))
            .collect(),
        snapshots: snapshots
            .into_iter()
            .filter_map(|s| Some((s.connection.clone()?, s)))
            .collect(),
        digests: BTreeMap::new(),
        correlation: Correlation::default(),
        time_bound: vec![],
        created: vec![],
    }
}

fn okta(accounts: Vec<Account>, grants: Vec<Grant>) -> Snapshot {
    let mut snapshot = Snapshot::new(ConnectionName::new("okta"), SystemKind::new("okta"));
    snapshot.accounts = accounts;
    snapshot.resources = vec![
        resource("g-eng", "group", "Engineering"),
        resource("g-all", "group", "All Hands"),
        resource("g-legacy", "group", "Legacy VPN"),
        resource("a-ci", "app", "CI"),
    ];
    snapshot.grants = grants;
    snapshot.resource_grants = vec![ResourceGrant {
        holder_id: "g-legacy".into(),
        resource_id: "a-ci".into(),
        entitlement: "member".into(),
    }];
    snapshot
}

const ENGINEERING: &str = r#"
policies:
  - name: engineering
    when: person.department == "Engineering" && person.active
    grants:
      - { system: okta, resource: group/Engineering }
      - { system: okta, resource: app/CI }
      - { system: chat, resource: channel/eng }
"#;

fn chat(accounts: Vec<Account>, grants: Vec<Grant>) -> Snapshot {
    let mut snapshot = Snapshot::new(ConnectionName::new("chat"), SystemKind::new("slack"));
    snapshot.accounts = accounts;
    snapshot.resources = vec![
        resource("c-eng", "channel", "eng"),
        resource("c-random", "channel", "random"),
    ];
    snapshot.grants = grants;
    snapshot
}

fn kinds(report: &DriftReport) -> Vec<(FindingKind, String)> {
    report
        .drift()
        .map(|f| {
            (
                f.kind,
                format!(
                    "{}:{}:{}",
                    f.connection,
                    f.account.as_ref().map(|a| a.login.as_str()).unwrap_or("-"),
                    f.resource.as_ref().map(|r| r.name.as_str()).unwrap_or("-")
                ),
            )
        })
        .collect()
}

#[test]
fn every_kind_of_finding_is_classified() {
    let people = vec![
        person_account("u-ann", "ann@example.com", "Engineering", "ACTIVE"),
        person_account("u-bob", "bob@example.com", "Sales", "ACTIVE"),
        person_account("u-cat", "cat@example.com", "Engineering", "SUSPENDED"),
        person_account("u-dan", "dan@example.com", "Engineering", "ACTIVE"),
    ];
    let okta_grants = vec![
        // ann: everything held. bob: CI through an unmanaged group → unknown source.
        grant("u-ann", "g-eng", GrantSource::Direct),
        grant(
            "u-bob",
            "a-ci",
            GrantSource::Group {
                group_id: "g-legacy".into(),
            },
        ),
        grant("u-ann", "a-ci", GrantSource::Direct),
        // bob (Sales) was added by hand.
        grant("u-bob", "g-eng", GrantSource::Direct),
        // A rule put cat (suspended, so not wanted) in Engineering: shown, not drift.
        // dan has nothing yet.
        grant(
            "u-cat",
            "g-eng",
            GrantSource::Rule {
                rule_id: "r-1".into(),
            },
        ),
        // Unmanaged group: never judged.
        grant("u-bob", "g-all", GrantSource::Direct),
    ];
    let chat_accounts = vec![
        person_account("c1", "ann@example.com", "", "ACTIVE"),
        person_account("c3", "cat@example.com", "", "ACTIVE"),
        handle_account("c9", "ghost", "ACTIVE"),
        person_account("c4", "dan@example.com", "", "DEPROVISIONED"),
    ];
    let chat_grants = vec![
        grant("c1", "c-eng", GrantSource::Direct),
        grant("c9", "c-eng", GrantSource::Direct),
        grant("c9", "c-random", GrantSource::Direct),
    ];
    let actual = state(vec![
        okta(people, okta_grants),
        chat(chat_accounts, chat_grants),
    ]);
    let report = detect(&policies(ENGINEERING), &actual, &DriftSettings::default())
        .expect("drift is computed");
    let found = kinds(&report);
    let expected = vec![
        (
            FindingKind::MissingGrant,
            "chat:dan@example.com:eng".to_string(),
        ),
        (FindingKind::UnexpectedGrant, "chat:ghost:eng".to_string()),
        (FindingKind::OrphanAccount, "chat:ghost:-".to_string()),
        (
            FindingKind::InactivePersonWithAccess,
            "chat:cat@example.com:-".to_string(),
        ),
        (
            FindingKind::SuspendedAccount,
            "chat:dan@example.com:-".to_string(),
        ),
        (
            FindingKind::MissingGrant,
            "okta:dan@example.com:CI".to_string(),
        ),
        (
            FindingKind::MissingGrant,
            "okta:dan@example.com:Engineering".to_string(),
        ),
        (
            FindingKind::UnexpectedGrant,
            "okta:bob@example.com:Engineering".to_string(),
        ),
        (
            FindingKind::UnknownSource,
            "okta:bob@example.com:CI".to_string(),
        ),
    ];
    let mut found_sorted = found.clone();
    found_sorted.sort();
    let mut expected_sorted = expected;
    expected_sorted.sort();
    assert_eq!(found_sorted, expected_sorted, "report: {report:#?}");
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::RuleManaged
                && f.disposition == Disposition::Informational),
        "the rule-made membership is shown as such"
    );
    assert_eq!(report.unmanaged[&ConnectionName::new("okta")].grants, 1);
    assert_eq!(report.unmanaged[&ConnectionName::new("chat")].grants, 1);
    // Report is the default: nothing is fixed.
    let plans = remediation(&report, &actual, "drift", Utc::now()).expect("remediation plans");
    assert!(plans.automatic.is_none() && plans.needs_approval.is_none());
}

#[test]
fn modes_come_from_policies_capped_by_systems() {
    let people = vec![
        person_account("u-ann", "ann@example.com", "Engineering", "ACTIVE"),
        person_account("u-bob", "bob@example.com", "Sales", "ACTIVE"),
    ];
    let actual = state(vec![
        okta(people, vec![grant("u-bob", "g-eng", GrantSource::Direct)]),
        chat(
            vec![person_account("c2", "bob@example.com", "", "ACTIVE")],
            vec![
                grant("c2", "c-eng", GrantSource::Direct),
                grant("c2", "c-random", GrantSource::Direct),
            ],
        ),
    ]);
    let auto = ENGINEERING.replace("    when:", "    drift: auto\n    when:");
    let settings = DriftSettings {
        systems: BTreeMap::from([("chat".to_string(), RemediationMode::Approval)]),
        ..DriftSettings::default()
    };
    let report = detect(&policies(&auto), &actual, &settings).expect("drift");
    let by = |connection: &str, kind: FindingKind| {
        report
            .drift()
            .filter(|f| f.connection.as_str() == connection && f.kind == kind)
            .map(|f| (f.mode, f.disposition.clone()))
            .collect::<Vec<_>>()
    };
    // okta: the policy says auto and nothing caps it.
    assert_eq!(
        by("okta", FindingKind::UnexpectedGrant),
        vec![(RemediationMode::Auto, Disposition::Remediated)]
    );
    // chat: capped at approval.
    assert_eq!(
        by("chat", FindingKind::UnexpectedGrant),
        vec![(RemediationMode::Approval, Disposition::AwaitingApproval)]
    );
    let plans = remediation(&report, &actual, "drift", Utc::now()).expect("plans");
    let automatic = plans.automatic.expect("an automatic plan");
    assert!(
        automatic
            .operations
            .iter()
            .all(|op| op.connection.as_str() == "okta")
    );
    let approval = plans.needs_approval.expect("a plan awaiting approval");
    assert_eq!(approval.operations.len(), 1);
    // The unmanaged channel is never part of a fix.
    for op in automatic.operations.iter().chain(&approval.operations) {
        assert_ne!(op.resource().name, "random");
    }
}

#[test]
fn a_person_holding_both_sides_of_a_conflict_rule_is_a_finding() {
    let people = vec![
        person_account("u-ann", "ann@example.com", "Engineering", "ACTIVE"),
        person_account("u-bob", "bob@example.com", "Sales", "ACTIVE"),
    ];
    let actual = state(vec![
        okta(
            people.clone(),
            vec![
                grant("u-ann", "g-legacy", GrantSource::Direct),
                grant("u-bob", "g-legacy", GrantSource::Direct),
            ],
        ),
        chat(
            people,
            vec![grant("u-ann", "c-random", GrantSource::Direct)],
        ),
    ]);
    let set = policies(
        r#"
conflicts:
  - name: vpn and random
    when: '"okta:group/Legacy VPN" in grants && "chat:channel/random" in grants'
"#,
    );
    let report = detect(&set, &actual, &DriftSettings::default()).expect("drift");
    let conflicts: Vec<_> = report
        .drift()
        .filter(|f| f.kind == FindingKind::SodConflict)
        .map(|f| (f.person.clone(), f.key.clone(), f.disposition.clone()))
        .collect();
    assert_eq!(
        conflicts,
        vec![(
            Some("ann@example.com".to_string()),
            "sod_conflict:vpn and random:ann@example.com".to_string(),
            Disposition::Flagged
        )]
    );
}

#[test]
fn configured_scope_judges_a_resource_no_policy_names() {
    let people = vec![person_account(
        "u-bob",
        "bob@example.com",
        "Sales",
        "ACTIVE",
    )];
    let actual = state(vec![okta(
        people,
        vec![grant("u-bob", "g-all", GrantSource::Direct)],
    )]);
    let set = policies(
        ENGINEERING
            .replace("      - { system: chat, resource: channel/eng }\n", "")
            .as_str(),
    );
    let unscoped = detect(&set, &actual, &DriftSettings::default()).expect("drift");
    assert_eq!(unscoped.drift().count(), 0);
    let settings = DriftSettings {
        scope: vec![ScopeEntry {
            system: "okta".into(),
            resource: "group/All Hands".into(),
        }],
        mode: RemediationMode::Auto,
        ..DriftSettings::default()
    };
    let scoped = detect(&set, &actual, &settings).expect("drift");
    assert_eq!(
        kinds(&scoped),
        vec![(
            FindingKind::UnexpectedGrant,
            "okta:bob@example.com:All Hands".to_string()
        )]
    );
}

#[test]
fn ambiguous_matches_are_reported_and_not_acted_on() {
    let people = vec![
        person_account("u-ann", "ann@example.com", "Engineering", "ACTIVE"),
        person_account("u-ann2", "ann@corp.example.com", "Engineering", "ACTIVE"),
    ];
    let mut actual = state(vec![
        okta(people, vec![]),
        chat(vec![handle_account("c1", "ann", "ACTIVE")], vec![]),
    ]);
    actual.correlation = Correlation {
        fallbacks: vec![MatchField::Login],
    };
    let report = detect(&policies(ENGINEERING), &actual, &DriftSettings::default()).expect("drift");
    let chat_findings: Vec<_> = report
        .drift()
        .filter(|f| f.connection.as_str() == "chat")
        .map(|f| f.kind)
        .collect();
    assert_eq!(
        chat_findings,
        vec![FindingKind::AmbiguousMatch, FindingKind::AmbiguousMatch],
        "{report:#?}"
    );
    let plan = grantflow_planner::plan_policies(&policies(ENGINEERING), &actual, "t", Utc::now())
        .expect("plan");
    assert!(
        plan.operations
            .iter()
            .all(|op| op.connection.as_str() != "chat")
    );
}

#[test]
fn login_fallback_matches_handles_to_people() {
    let people = vec![person_account(
        "u-ann",
        "ann@example.com",
        "Engineering",
        "ACTIVE",
    )];
    let mut actual = state(vec![
        okta(people, vec![]),
        chat(vec![handle_account("c1", "ann", "ACTIVE")], vec![]),
    ]);
    let without =
        detect(&policies(ENGINEERING), &actual, &DriftSettings::default()).expect("drift");
    assert!(
        without
            .drift()
            .any(|f| f.kind == FindingKind::OrphanAccount)
    );
    actual.correlation = Correlation {
        fallbacks: vec![MatchField::Login],
    };
    let with = detect(&policies(ENGINEERING), &actual, &DriftSettings::default()).expect("drift");
    assert!(
        with.drift()
            .any(|f| f.kind == FindingKind::MissingGrant && f.connection.as_str() == "chat"),
        "{with:#?}"
    );
    assert!(!with.drift().any(|f| f.kind == FindingKind::OrphanAccount));
}

// ---- the property: apply, then drift is empty; hand changes are found exactly ----

const DEPARTMENTS: [&str; 3] = ["Eng", "Sales", "Ops"];
const OKTA_GROUPS: usize = 4;
const APP_TEAMS: usize = 4;

#[derive(Debug, Clone)]
struct Org {
    departments: Vec<usize>,
    /// Per department: (okta groups, app teams) granted; the last of each
    /// system is never named, so it stays unmanaged.
    wants: Vec<(Vec<usize>, Vec<usize>)>,
    /// Initial direct grants: (person, system 0 = okta / 1 = app, resource).
    initial: Vec<(usize, usize, usize)>,
    changes: Vec<(u8, usize, usize, usize)>,
}

fn org_strategy() -> impl Strategy<Value = Org> {
    (3usize..10).prop_flat_map(|people| {
        (
            proptest::collection::vec(0usize..3, people),
            proptest::collection::vec(
                (
                    proptest::collection::vec(0usize..OKTA_GROUPS - 1, 0..3),
                    proptest::collection::vec(0usize..APP_TEAMS - 1, 0..3),
                ),
                3,
            ),
            proptest::collection::vec((0..people, 0usize..2, 0usize..4), 0..12),
            proptest::collection::vec((0u8..3, 0..people, 0usize..2, 0usize..4), 1..6),
        )
            .prop_map(|(departments, wants, initial, changes)| Org {
                departments,
                wants,
                initial,
                changes,
            })
    })
}

fn generated(org: &Org) -> (PolicySet, ActualState) {
    let mut okta_snapshot = Snapshot::new(ConnectionName::new("okta"), SystemKind::new("okta"));
    let mut app = Snapshot::new(ConnectionName::new("app"), SystemKind::new("github"));
    for (i, department) in org.departments.iter().enumerate() {
        let email = format!("p{i}@example.com");
        okta_snapshot.accounts.push(person_account(
            &format!("u{i}"),
            &email,
            DEPARTMENTS[*department],
            "ACTIVE",
        ));
        app.accounts
            .push(person_account(&format!("a{i}"), &email, "", "ACTIVE"));
    }
    okta_snapshot.resources = (0..OKTA_GROUPS)
        .map(|g| resource(&format!("g{g}"), "group", &format!("G{g}")))
        .collect();
    app.resources = (0..APP_TEAMS)
        .map(|t| resource(&format!("t{t}"), "team", &format!("T{t}")))
        .collect();
    for (person, system, index) in &org.initial {
        let (snapshot, account, resource) = if *system == 0 {
            (
                &mut okta_snapshot,
                format!("u{person}"),
                format!("g{index}"),
            )
        } else {
            (&mut app, format!("a{person}"), format!("t{index}"))
        };
        let new = grant(&account, &resource, GrantSource::Direct);
        if !snapshot.grants.contains(&new) {
            snapshot.grants.push(new);
        }
    }
    let mut yaml = String::from("policies:\n");
    for (d, (groups, teams)) in org.wants.iter().enumerate() {
        if groups.is_empty() && teams.is_empty() {
            continue;
        }
        yaml.push_str(&format!(
            "  - name: d{d}\n    when: person.department == \"{}\"\n    grants:\n",
            DEPARTMENTS[d]
        ));
        for g in groups {
            yaml.push_str(&format!(
                "      - {{ system: okta, resource: group/G{g} }}\n"
            ));
        }
        for t in teams {
            yaml.push_str(&format!("      - {{ system: app, resource: team/T{t} }}\n"));
        }
    }
    if yaml == "policies:\n" {
        yaml.push_str("  - name: none\n    when: person.department == \"Nobody\"\n    grants:\n      - { system: okta, resource: group/G0 }\n");
    }
    (policies(&yaml), state(vec![okta_snapshot, app]))
}

/// What the engine would do, done to the snapshots in memory.
fn apply_in_memory(plan: &Plan, actual: &mut ActualState) {
    for op in &plan.operations {
        let Some(snapshot) = actual.snapshots.get_mut(&op.connection) else {
            continue;
        };
        match &op.kind {
            OpKind::AddGrant {
                account,
                resource,
                entitlement,
            } => snapshot.grants.push(Grant {
                account_id: account.id.clone(),
                resource_id: resource.id.clone(),
                entitlement: entitlement.clone(),
                source: GrantSource::Direct,
            }),
            OpKind::RemoveGrant {
                account,
                resource,
                entitlement,
            } => snapshot.grants.retain(|g| {
                !(g.account_id == account.id
                    && g.resource_id == resource.id
                    && &g.entitlement == entitlement)
            }),
            other => panic!("unexpected operation {other:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn drift_reports_exactly_the_hand_changes(org in org_strategy()) {
        let (policies, mut actual) = generated(&org);
        let plan = grantflow_planner::plan_policies(&policies, &actual, "t", Utc::now()).expect("plan");
        apply_in_memory(&plan, &mut actual);
        let settings = DriftSettings::default();
        let clean = detect(&policies, &actual, &settings).expect("drift");
        prop_assert_eq!(clean.drift().count(), 0, "after apply: {:#?}", clean);

        let desired_before = detect(&policies, &actual, &settings).expect("drift");
        prop_assert!(desired_before.findings.iter().all(|f| !f.kind.is_drift()));
        let mut managed_okta: BTreeSet<usize> = org.wants.iter().flat_map(|(g, _)| g.iter().copied()).collect();
        // With no wants at all, `generated` adds a policy for nobody that still manages G0.
        if org.wants.iter().all(|(g, t)| g.is_empty() && t.is_empty()) {
            managed_okta.insert(0);
        }
        let managed_app: BTreeSet<usize> = org.wants.iter().flat_map(|(_, t)| t.iter().copied()).collect();
        let wants = |person: usize, system: usize, index: usize| {
            let (groups, teams) = &org.wants[org.departments[person]];
            if system == 0 { groups.contains(&index) } else { teams.contains(&index) }
        };

        let mut expected: BTreeSet<(FindingKind, String)> = BTreeSet::new();
        let mut touched: BTreeSet<(usize, usize, usize)> = BTreeSet::new();
        let mut suspended: BTreeSet<usize> = BTreeSet::new();
        for (op, person, system, index) in &org.changes {
            let (connection, account, resource) = if *system == 0 {
                ("okta", format!("u{person}"), format!("g{index}"))
            } else {
                ("app", format!("a{person}"), format!("t{index}"))
            };
            let managed = if *system == 0 { managed_okta.contains(index) } else { managed_app.contains(index) };
            let Some(snapshot) = actual.snapshots.get_mut(&ConnectionName::new(connection)) else { continue };
            match op {
                // Add by hand.
                0 if touched.insert((*person, *system, *index)) => {
                    let new = grant(&account, &resource, GrantSource::Direct);
                    if snapshot.grants.contains(&new) { continue; }
                    snapshot.grants.push(new);
                    if managed && !wants(*person, *system, *index) {
                        expected.insert((FindingKind::UnexpectedGrant, format!("{connection}:{account}:{resource}")));
                    }
                }
                // Remove by hand.
                1 if touched.insert((*person, *system, *index)) => {
                    let before = snapshot.grants.len();
                    snapshot.grants.retain(|g| !(g.account_id == account && g.resource_id == resource));
                    if snapshot.grants.len() != before && wants(*person, *system, *index) {
                        expected.insert((FindingKind::MissingGrant, format!("{connection}:{account}:{resource}")));
                    }
                }
                // Suspend the person's app account by hand.
                2 if suspended.insert(*person) => {
                    let app = actual.snapshots.get_mut(&ConnectionName::new("app")).expect("app");
                    let id = format!("a{person}");
                    if let Some(a) = app.accounts.iter_mut().find(|a| a.id == id) {
                        a.status = "SUSPENDED".into();
                        a.state = grantflow_model::LifecycleState::Suspended;
                    }
                    if (0..APP_TEAMS).any(|t| wants(*person, 1, t)) {
                        expected.insert((FindingKind::SuspendedAccount, format!("app:{id}:-")));
                    }
                }
                _ => {}
            }
        }
        let report = detect(&policies, &actual, &settings).expect("drift");
        let found: BTreeSet<(FindingKind, String)> = report
            .drift()
            .map(|f| (f.kind, format!(
                "{}:{}:{}",
                f.connection,
                f.account.as_ref().map(|a| a.id.as_str()).unwrap_or("-"),
                f.resource.as_ref().map(|r| r.id.as_str()).unwrap_or("-"),
            )))
            .collect();
        prop_assert_eq!(found, expected);
    }
}

#[test]
fn the_gitlab_projects_a_group_reaches_are_never_drift() {
    // GitLab as synced, with what an applied membership leaves: Ann is in the group directly and reaches its
    // project through it. The project is read-only and no policy can name it.
    let people = vec![person_account(
        "u-ann",
        "ann@example.com",
        "Engineering",
        "ACTIVE",
    )];
    let mut gitlab = Snapshot::new(ConnectionName::new("gitlab"), SystemKind::new("gitlab"));
    gitlab.accounts = vec![person_account("31", "ann@example.com", "", "ACTIVE")];
    let mut project = resource(
        "gid://gitlab/Project/7",
        "project",
        "acme/platform/graph-connector",
    );
    project.writable = false;
    gitlab.resources = vec![resource("7", "group", "acme/platform"), project];
    gitlab.grants = vec![
        grant("31", "7", GrantSource::Direct),
        grant(
            "31",
            "gid://gitlab/Project/7",
            GrantSource::Group {
                group_id: "7".into(),
            },
        ),
    ];
    gitlab.resource_grants = vec![ResourceGrant {
        holder_id: "7".into(),
        resource_id: "gid://gitlab/Project/7".into(),
        entitlement: "member".into(),
    }];
    let actual = state(vec![okta(people, vec![]), gitlab]);
    let set = policies(
        r#"
policies:
  - name: platform
    when: person.department == "Engineering"
    grants:
      - { system: gitlab, resource: group/acme/platform }
"#,
    );
    let report = detect(&set, &actual, &DriftSettings::default()).expect("drift");
    let gitlab_findings: Vec<_> = report
        .drift()
        .filter(|f| f.connection.as_str() == "gitlab")
        .collect();
    assert!(gitlab_findings.is_empty(), "{gitlab_findings:#?}");
}

#[test]
fn a_profile_attribute_changed_by_hand_is_found_and_fixed_by_the_same_partial_update() {
    const FLAG: &str = r#"
policies:
  - name: engineering-flag
    drift: auto
    when: person.department == "Engineering"
    profile:
      - system: okta
        set: { isMemberOfGroup: "true", costCenter: '"ENG-" + person.department' }
"#;
    let mut ann = person_account("u-ann", "ann@example.com", "Engineering", "ACTIVE");
    ann.attributes.insert("isMemberOfGroup".into(), json!(true));
    ann.attributes
        .insert("costCenter".into(), json!("ENG-Engineering"));
    let bob = person_account("u-bob", "bob@example.com", "Sales", "ACTIVE");
    let in_step = state(vec![okta(vec![ann.clone(), bob.clone()], vec![])]);
    let report = detect(&policies(FLAG), &in_step, &DriftSettings::default()).expect("drift");
    assert!(kinds(&report).is_empty(), "{:?}", kinds(&report));

    // Someone clears the flag by hand in Okta.
    ann.attributes
        .insert("isMemberOfGroup".into(), json!(false));
    let changed = state(vec![okta(vec![ann, bob], vec![])]);
    let report = detect(&policies(FLAG), &changed, &DriftSettings::default()).expect("drift");
    let found: Vec<&Finding> = report.drift().collect();
    assert_eq!(found.len(), 1, "{:?}", kinds(&report));
    let finding = found[0];
    assert_eq!(finding.kind, FindingKind::ProfileMismatch);
    assert_eq!(finding.person.as_deref(), Some("ann@example.com"));
    assert_eq!(finding.policies, vec!["engineering-flag"]);
    assert_eq!(finding.detail, "isMemberOfGroup is false, policy sets true");
    assert_eq!(finding.disposition, Disposition::Remediated);
    let plans = remediation(&report, &changed, "drift", Utc::now()).expect("plans");
    let fix = plans.automatic.expect("an automatic plan");
    assert_eq!(
        fix.operations
            .iter()
            .map(|op| op.describe())
            .collect::<Vec<_>>(),
        vec!["~ okta update profile of ann@example.com: isMemberOfGroup false \u{2192} true"]
    );
}

#[test]
fn a_service_account_named_in_the_settings_is_no_orphan_and_a_misspelt_one_is_noted() {
    let people = vec![person_account(
        "u-ann",
        "ann@example.com",
        "Engineering",
        "ACTIVE",
    )];
    let actual = state(vec![
        okta(people, vec![]),
        chat(
            vec![
                handle_account("c1", "deploy-bot", "ACTIVE"),
                handle_account("c2", "ghost", "ACTIVE"),
            ],
            vec![],
        ),
    ]);
    let orphans = |settings: &DriftSettings| {
        let report = detect(&policies(ENGINEERING), &actual, settings).expect("drift");
        let found: Vec<String> = report
            .drift()
            .filter(|f| f.kind == FindingKind::OrphanAccount)
            .filter_map(|f| f.account.as_ref().map(|a| a.login.clone()))
            .collect();
        (found, report.notes)
    };
    assert_eq!(
        orphans(&DriftSettings::default()).0,
        ["deploy-bot", "ghost"]
    );
    let settings: DriftSettings = serde_saphyr::from_str(
        "service_accounts:\n  - { system: chat, account: Deploy-Bot }\n  - { system: chat, account: deploy-bott }\n",
    )
    .expect("settings");
    let (found, notes) = orphans(&settings);
    assert_eq!(found, ["ghost"], "only the bot named is left out");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("deploy-bott") && n.contains("chat")),
        "{notes:?}"
    );
    // Another connection's account of the same name is still judged.
    let elsewhere: DriftSettings =
        serde_saphyr::from_str("service_accounts: [{ system: okta, account: deploy-bot }]")
            .expect("settings");
    assert_eq!(orphans(&elsewhere).0, ["deploy-bot", "ghost"]);
}
