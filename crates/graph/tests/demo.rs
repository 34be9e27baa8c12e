//! The demo organisation's reach data (crates/sandbox/orgs/demo-reach), ingested with a hand-built
//! Okta snapshot shaped like the demo org's: the seed-000 review, path normalisation between
//! aws-auth and access entries, and the staging path reported as skipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

use std::path::PathBuf;

use grantflow_graph::review::{delta_report, reach_report, who_reaches};
use grantflow_graph::sources::{self, kubernetes::MappingSource};
use grantflow_graph::{EdgeKind, Graph, NodeKind, ReachConfig, Searcher, Target, build};
use grantflow_model::{
    Account, ConnectionName, Grant, GrantSource, Resource, ResourceGrant, ResourceKind, Snapshot,
    SystemKind,
};

fn demo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sandbox/orgs/demo-reach")
}

fn config() -> ReachConfig {
    let text = std::fs::read_to_string(demo_dir().join("reachability.yaml")).expect("config");
    serde_saphyr::from_str(&text).expect("valid reachability config")
}

fn account(id: &str, login: &str) -> Account {
    Account {
        id: id.into(),
        login: login.into(),
        email: Some(login.into()),
        display_name: login.into(),
        status: "ACTIVE".into(),
        state: Default::default(),
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

fn member(account: &str, group: &str) -> Grant {
    Grant {
        account_id: account.into(),
        resource_id: group.into(),
        entitlement: "member".into(),
        source: GrantSource::Direct,
    }
}

fn assigned(group: &str, app: &str) -> ResourceGrant {
    ResourceGrant {
        holder_id: group.into(),
        resource_id: app.into(),
        entitlement: "assigned".into(),
    }
}

/// The part of the demo org that matters: okta-demo-user in Platform only; Sam in both.
fn okta() -> Snapshot {
    let mut s = Snapshot::new(ConnectionName::new("okta"), SystemKind::new("okta"));
    s.accounts = vec![
        account("00u-demo", "okta-demo-user@example.com"),
        account("00u-sam", "sam.okafor@example.com"),
        account("00u-olivia", "olivia.smith@example.com"),
    ];
    s.resources = vec![
        resource("00g-pad", "group", "Production Access Demo"),
        resource("00g-platform", "group", "Platform"),
        resource("00g-payments", "group", "Payments Oncall"),
        resource("0oa-checkout", "app", "Checkout Production Access"),
        resource("0oa-graph", "app", "Graph Connector Console"),
        resource("0oa-monitors", "app", "Production Monitors"),
        resource("0oa-slack", "app", "Slack"),
    ];
    s.grants = vec![
        member("00u-demo", "00g-platform"),
        member("00u-sam", "00g-platform"),
        member("00u-sam", "00g-pad"),
        member("00u-olivia", "00g-payments"),
    ];
    s.resource_grants = vec![
        assigned("00g-pad", "0oa-checkout"),
        assigned("00g-pad", "0oa-graph"),
        assigned("00g-pad", "0oa-monitors"),
        assigned("00g-platform", "0oa-monitors"),
        assigned("00g-platform", "0oa-slack"),
        assigned("00g-payments", "0oa-checkout"),
    ];
    s
}

fn graph() -> Graph {
    let config = config();
    let inputs = sources::load(&config, &demo_dir()).expect("demo sources load");
    build(&config, &okta(), &inputs)
}

#[test]
fn adding_the_demo_user_to_the_group_adds_checkout_api_and_a_deploy_path_to_graph_connector() {
    let graph = graph();
    let user = graph
        .find(NodeKind::User, "okta-demo-user@example.com")
        .expect("user");
    let group = graph
        .find(NodeKind::Group, "Production Access Demo")
        .expect("group");
    let delta = Searcher::new(&graph).delta(&[user], &[group]);
    let report = delta_report(&graph, "okta-demo-user@example.com", &delta);
    let names: Vec<&str> = report.services.iter().map(|s| s.service.as_str()).collect();
    // The Identity Center role signs in to the production account itself, cluster or not.
    assert_eq!(
        names,
        [
            "checkout-api",
            "graph-connector",
            "AWS account 111122223333 (prod-payments)"
        ]
    );

    let checkout = &report.services[0];
    assert!(checkout.new_service);
    assert_eq!(checkout.owner.as_deref(), Some("payments-platform"));
    assert_eq!(checkout.paths.len(), 1);
    let hops: Vec<&str> = checkout.paths[0]
        .hops
        .iter()
        .map(|h| h.label.as_str())
        .collect();
    assert_eq!(hops[0], "group \"Production Access Demo\"");
    assert_eq!(hops[1], "app \"Checkout Production Access\"");
    assert!(
        hops[2].starts_with("AWS Identity Center role prod-payments-admin in account 111122223333"),
        "{hops:?}"
    );
    assert!(hops[2].contains("aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_prod-payments-admin_0a1b2c3d4e5f6789"), "{hops:?}");
    assert_eq!(
        hops.last().copied(),
        Some("Kubernetes Deployment payments/checkout-api (prod-eks)")
    );
    let monitors: Vec<&str> = checkout.monitors.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        monitors,
        [
            "Checkout API error rate above 2%",
            "Checkout API p99 latency above 800ms",
            "CheckoutApiHighErrorRate"
        ]
    );
    assert_eq!(checkout.recent_deploys[0].version, "2026.11.20-1");

    let connector = &report.services[1];
    assert!(
        !connector.new_service,
        "the user already sees its dashboards through Platform"
    );
    assert_eq!(connector.owner.as_deref(), Some("platform"));
    let ways: Vec<(bool, &str)> = connector
        .paths
        .iter()
        .map(|p| {
            (
                p.held,
                p.hops.last().map(|h| h.label.as_str()).unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        ways,
        [
            (
                false,
                "Kubernetes Deployment graph-connector/graph-connector (prod-eks)"
            ),
            (true, "Datadog dashboards and monitors tagged team:platform"),
        ]
    );
    assert_eq!(
        connector.monitors[0].name,
        "Graph connector sync lag above 15 minutes"
    );

    // The staging path is reported, not followed.
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert!(
        report.skipped[0]
            .what
            .starts_with("AWS Identity Center role staging-payments-admin in account 444455556666")
    );
    assert!(
        report.skipped[0].reason.contains("environment=staging"),
        "{}",
        report.skipped[0].reason
    );
}

#[test]
fn aws_auth_and_the_access_entry_with_a_path_join_the_same_role() {
    let config = config();
    let inputs = sources::load(&config, &demo_dir()).expect("load");
    let prod = &inputs.clusters[0];
    let sources: Vec<(MappingSource, &str)> = prod
        .role_mappings
        .iter()
        .filter(|m| m.role_name.contains("prod-payments-admin"))
        .map(|m| (m.source, m.arn.as_str()))
        .collect();
    assert_eq!(sources.len(), 2);
    assert!(
        sources
            .iter()
            .any(|(s, arn)| *s == MappingSource::AwsAuth && !arn.contains("aws-reserved"))
    );
    assert!(
        sources
            .iter()
            .any(|(s, arn)| *s == MappingSource::AccessEntry && arn.contains("aws-reserved"))
    );

    let graph = build(&config, &okta(), &inputs);
    let role = graph
        .find(
            NodeKind::AwsRole,
            "111122223333/AWSReservedSSO_prod-payments-admin",
        )
        .expect("one role node for both ARNs");
    let admins = graph
        .find(NodeKind::KubernetesGroup, "prod-eks/payments-admins")
        .expect("k8s group");
    let kinds: Vec<EdgeKind> = graph
        .out(role)
        .filter(|(t, _)| *t == admins)
        .map(|(_, k)| k)
        .collect();
    assert_eq!(kinds, [EdgeKind::AwsAuth, EdgeKind::AccessEntry]);
}

#[test]
fn who_reaches_checkout_api_names_both_groups_and_their_members() {
    let graph = graph();
    let holders = who_reaches(&graph, "checkout-api").expect("service known");
    let names: Vec<&str> = holders.iter().map(|h| h.holder.as_str()).collect();
    for expected in [
        "group \"Production Access Demo\"",
        "group \"Payments Oncall\"",
        "sam.okafor@example.com",
        "olivia.smith@example.com",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(!names.contains(&"okta-demo-user@example.com"));
    assert!(who_reaches(&graph, "no-such-service").is_err());
}

#[test]
fn an_app_reaches_what_its_assigned_groups_reach_through_it() {
    let graph = graph();
    let starts = Target::App("Checkout Production Access".into())
        .starts(&graph)
        .expect("app");
    assert_eq!(
        starts.len(),
        2,
        "Production Access Demo and Payments Oncall"
    );
    let reach = Searcher::new(&graph).reach(&starts);
    let report = reach_report(&graph, "app", &reach);
    let names: Vec<&str> = report.services.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(
        names,
        ["checkout-api", "AWS account 111122223333 (prod-payments)"]
    );
    assert!(Target::Group("Nope".into()).starts(&graph).is_err());
}

#[test]
fn a_namespace_listed_as_non_production_is_skipped_even_in_a_production_account() {
    let mut config = config();
    config.environments.non_production_namespaces = vec!["graph-*".into()];
    // The namespace's own label would say production; an explicit label wins over the list, so drop it.
    let mut inputs = sources::load(&config, &demo_dir()).expect("load");
    inputs.clusters[0]
        .namespaces
        .insert("graph-connector".into(), Default::default());
    let graph = build(&config, &okta(), &inputs);
    let group = graph
        .find(NodeKind::Group, "Production Access Demo")
        .expect("group");
    let report = reach_report(&graph, "g", &Searcher::new(&graph).reach(&[group]));
    let connector = report
        .services
        .iter()
        .find(|s| s.service == "graph-connector")
        .expect("still via dashboards");
    assert_eq!(connector.paths.len(), 1, "only the dashboard path remains");
    assert!(
        report.skipped.iter().any(|s| s
            .reason
            .contains("namespace graph-connector (prod-eks) is listed as non-production")),
        "{:?}",
        report.skipped
    );
}

#[test]
fn pictures_name_every_hop() {
    let graph = graph();
    let group = graph
        .find(NodeKind::Group, "Production Access Demo")
        .expect("group");
    let report = reach_report(&graph, "g", &Searcher::new(&graph).reach(&[group]));
    let dot = grantflow_graph::render::dot(&report);
    assert!(dot.starts_with("digraph reach {"));
    assert!(dot.contains("service checkout-api"));
    assert!(dot.contains("label=\"aws-auth mapRoles\""));
    assert!(
        dot.contains("style=dashed"),
        "skipped staging role is drawn dashed"
    );
    let mermaid = grantflow_graph::render::mermaid(&report);
    assert!(mermaid.starts_with("flowchart LR"));
    assert!(mermaid.contains("-->|OIDC groups claim|"));
}

fn plan(kinds: Vec<grantflow_model::OpKind>) -> grantflow_model::Plan {
    grantflow_model::Plan {
        id: "p-test".into(),
        created_at: chrono::DateTime::UNIX_EPOCH,
        origin: "test".into(),
        basis: vec![],
        operations: kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| grantflow_model::Operation {
                id: grantflow_model::OperationId(i as u32),
                connection: ConnectionName::new("okta"),
                kind,
                reasons: vec![],
                depends_on: vec![],
            })
            .collect(),
        review: Default::default(),
        preconditions: vec![],
    }
}

fn resource_ref(id: &str, kind: &str, name: &str) -> grantflow_model::ResourceRef {
    grantflow_model::ResourceRef {
        id: id.into(),
        kind: ResourceKind::new(kind),
        name: name.into(),
    }
}

#[test]
fn a_plan_review_covers_group_app_assignments_and_first_direct_app_assignments_but_not_removals() {
    use grantflow_model::{AccountRef, OpKind};
    let graph = graph();
    let olivia = AccountRef {
        id: "00u-olivia".into(),
        login: "olivia.smith@example.com".into(),
    };
    let plan = plan(vec![
        // Payments Oncall gets the dashboards app.
        OpKind::AddGroupGrant {
            group: resource_ref("00g-payments", "group", "Payments Oncall"),
            resource: resource_ref("0oa-monitors", "app", "Production Monitors"),
            entitlement: "assigned".into(),
        },
        // A first direct assignment of the dashboards app.
        OpKind::AddGrant {
            account: olivia.clone(),
            resource: resource_ref("0oa-monitors", "app", "Production Monitors"),
            entitlement: "assigned".into(),
        },
        // Pushing Platform to Identity Center grants nothing until a permission set is assigned to it.
        OpKind::AddGroupGrant {
            group: resource_ref("00g-platform", "group", "Platform"),
            resource: resource_ref("0oa-checkout", "app", "Checkout Production Access"),
            entitlement: "assigned".into(),
        },
        OpKind::RemoveGrant {
            account: olivia,
            resource: resource_ref("00g-payments", "group", "Payments Oncall"),
            entitlement: "member".into(),
        },
    ]);
    let systems = grantflow_graph::Systems::directory(ConnectionName::new("okta"));
    let review = grantflow_graph::review_plan(&graph, &systems, &plan);
    let services = |op: u32| -> Vec<String> {
        review
            .for_operation(grantflow_model::OperationId(op))
            .map(|o| o.services.iter().map(|s| s.service.clone()).collect())
            .unwrap_or_default()
    };
    assert_eq!(services(0), ["graph-connector"]);
    assert_eq!(services(1), ["graph-connector"]);
    assert!(
        review
            .for_operation(grantflow_model::OperationId(2))
            .is_some_and(|o| o.services.is_empty())
    );
    assert!(
        review
            .for_operation(grantflow_model::OperationId(3))
            .is_none(),
        "removals are not reach-reviewed"
    );
    assert!(
        review.skipped.is_empty(),
        "no change leads to staging: {:?}",
        review.skipped
    );
    // Another connection's operations are not the directory's: the review says it cannot tell.
    let other = grantflow_graph::review_plan(
        &graph,
        &grantflow_graph::Systems::directory(ConnectionName::new("okta-partner")),
        &plan,
    );
    assert!(!other.operations.is_empty());
    for op in &other.operations {
        assert!(op.services.is_empty());
        assert!(
            op.note
                .as_deref()
                .is_some_and(|n| n.contains("no reachability source covers connection okta")),
            "{op:?}"
        );
    }
}
