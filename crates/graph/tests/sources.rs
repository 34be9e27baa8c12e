//! Each ingested format, read from the demo organisation's realistic files and from small variants
//! (a `kubectl get -o json` List, a plain Prometheus rule file), including what a bad file says.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

use std::path::PathBuf;

use grantflow_graph::config::ClusterSource;
use grantflow_graph::sources::kubernetes::{self, ClusterData, MappingSource};
use grantflow_graph::sources::{aws, catalog, deploys, monitors};

fn demo(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../sandbox/orgs/demo-reach")
        .join(path);
    std::fs::read_to_string(full).expect("demo file")
}

fn cluster(name: &str) -> ClusterData {
    ClusterData::new(&ClusterSource {
        cluster: name.into(),
        account: None,
        environment: None,
        manifests: vec![],
        access_entries: None,
    })
}

#[test]
fn identity_center_export() {
    let export = aws::parse(&demo("aws-identity-center.json")).expect("parses");
    assert_eq!(export.accounts.len(), 3);
    assert_eq!(export.accounts[2].tag("Environment"), Some("staging"));
    assert_eq!(export.permission_sets[0].name, "prod-payments-admin");
    assert_eq!(export.account_assignments.len(), 3);
    assert_eq!(export.account_assignments[0].principal_type, "GROUP");
    assert_eq!(
        export.roles[0].path.as_deref(),
        Some("/aws-reserved/sso.amazonaws.com/eu-west-1/")
    );
    let error = aws::parse("{\"Accounts\": 3}").expect_err("wrong shape");
    assert!(error.contains("not an Identity Center export"), "{error}");
}

#[test]
fn manifests_give_aws_auth_roles_group_bindings_namespaces_and_workloads() {
    let mut data = cluster("prod-eks");
    kubernetes::parse_manifests(&demo("k8s/prod-eks.yaml"), &mut data).expect("parses");
    let roles: Vec<(&str, &str, &[String])> = data
        .role_mappings
        .iter()
        .map(|m| {
            (
                m.account.as_str(),
                m.role_name.as_str(),
                m.groups.as_slice(),
            )
        })
        .collect();
    assert_eq!(roles.len(), 2, "mapUsers entries are not roles");
    assert_eq!(
        roles[1].1,
        "AWSReservedSSO_prod-payments-admin_0a1b2c3d4e5f6789"
    );
    assert_eq!(
        roles[1].2,
        ["payments-admins".to_string()],
        "groups listed before rolearn still parse"
    );
    assert!(
        data.role_mappings
            .iter()
            .all(|m| m.source == MappingSource::AwsAuth)
    );

    let deployers = data
        .bindings
        .iter()
        .find(|b| b.name == "graph-connector-deployers")
        .expect("binding");
    assert_eq!(
        deployers.groups,
        ["okta:Production Access Demo"],
        "ServiceAccount subjects are not groups"
    );
    assert_eq!(deployers.namespace.as_deref(), Some("graph-connector"));
    assert_eq!(deployers.role, "edit");
    let cluster_wide = data
        .bindings
        .iter()
        .find(|b| b.kind == "ClusterRoleBinding")
        .expect("crb");
    assert_eq!(cluster_wide.namespace, None);

    let workloads: Vec<(&str, &str, &str)> = data
        .workloads
        .iter()
        .map(|w| (w.kind.as_str(), w.namespace.as_str(), w.name.as_str()))
        .collect();
    assert_eq!(
        workloads,
        [
            ("Deployment", "payments", "checkout-api"),
            ("Deployment", "graph-connector", "graph-connector"),
            ("StatefulSet", "ledger", "ledger-db"),
        ]
    );
    assert_eq!(data.namespaces["payments"]["environment"], "production");
}

#[test]
fn a_kubectl_json_list_export_reads_like_manifests() {
    let export = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop", "labels": {"backstage.io/kubernetes-id": "shop-api"}}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "devs", "namespace": "shop"},
         "subjects": [{"kind": "Group", "name": "shop-devs", "apiGroup": "rbac.authorization.k8s.io"}],
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"}}
    ]}"#;
    let mut data = cluster("c");
    kubernetes::parse_manifests(export, &mut data).expect("parses");
    assert_eq!(
        data.workloads[0].labels["backstage.io/kubernetes-id"],
        "shop-api"
    );
    assert_eq!(data.bindings[0].groups, ["shop-devs"]);

    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata:\n  mapRoles: |\n    - rolearn: arn:aws:iam::1:user/bob\n      groups: [x]\n";
    let error =
        kubernetes::parse_manifests(bad, &mut cluster("c")).expect_err("a user ARN in mapRoles");
    assert!(error.contains("is not an IAM role ARN"), "{error}");
}

#[test]
fn access_entries_keep_groups_and_scoped_policies() {
    let mut data = cluster("staging-eks");
    kubernetes::parse_access_entries(&demo("k8s/staging-eks-access-entries.json"), &mut data)
        .expect("parses");
    let entry = &data.role_mappings[0];
    assert_eq!(entry.source, MappingSource::AccessEntry);
    assert_eq!(entry.account, "444455556666");
    assert_eq!(
        entry.role_name,
        "AWSReservedSSO_staging-payments-admin_9f8e7d6c5b4a3210"
    );
    assert_eq!(entry.access_policies[0].policy, "AmazonEKSEditPolicy");
    assert_eq!(
        entry.access_policies[0].namespaces.as_deref(),
        Some(&["payments-staging".to_string()][..])
    );
    let error = kubernetes::parse_access_entries("[]", &mut data).expect_err("wrong shape");
    assert!(error.contains("not an access-entries export"), "{error}");
}

#[test]
fn catalog_components_with_owner_system_lifecycle_and_kubernetes_id() {
    let components = catalog::parse(&demo("catalog-info.yaml")).expect("parses");
    let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "checkout-api",
            "checkout-api-staging",
            "graph-connector",
            "ledger"
        ],
        "Groups are skipped"
    );
    assert_eq!(components[0].owner.as_deref(), Some("payments-platform"));
    assert_eq!(components[0].system.as_deref(), Some("checkout"));
    assert_eq!(components[1].lifecycle.as_deref(), Some("experimental"));
    assert_eq!(components[2].owner.as_deref(), Some("platform"));
    let nameless =
        catalog::parse("kind: Component\nmetadata: {}\nspec: {}\n").expect_err("no name");
    assert!(nameless.contains("metadata.name"));
}

#[test]
fn datadog_monitors_join_by_service_tag() {
    let found = monitors::parse_datadog(&demo("datadog-monitors.json")).expect("parses");
    let pairs: Vec<(&str, &str)> = found
        .iter()
        .map(|m| (m.service.as_str(), m.monitor.id.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("checkout-api", "4012871"),
            ("checkout-api", "4012872"),
            ("graph-connector", "4019930"),
            ("checkout-api-staging", "4020001"),
        ]
    );
    assert_eq!(found[3].monitor.state.as_deref(), Some("No Data"));
    assert!(monitors::parse_datadog("{\"errors\": [\"Forbidden\"]}").is_err());
}

#[test]
fn prometheus_alerts_from_a_prometheus_rule_and_a_plain_rule_file() {
    let found = monitors::parse_prometheus(&demo("prometheus-rules.yaml")).expect("parses");
    assert_eq!(found.len(), 1, "the recording rule is not a monitor");
    assert_eq!(found[0].service, "checkout-api");
    assert_eq!(
        found[0].monitor.id,
        "checkout-api.rules/CheckoutApiHighErrorRate"
    );
    assert!(found[0].monitor.tags.contains(&"severity:page".to_string()));
    let plain = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    labels: {service: s}\n  - alert: NoService\n    expr: up == 0\n";
    let found = monitors::parse_prometheus(plain).expect("parses");
    assert_eq!(found.len(), 1);
    assert!(monitors::parse_prometheus("foo: bar\n").is_err());
}

#[test]
fn deploy_events() {
    let events = deploys::parse(&demo("deploys.json")).expect("parses");
    assert_eq!(events.len(), 4);
    assert_eq!(events[0].service, "checkout-api");
    assert_eq!(
        events[0].deployed_at.to_rfc3339(),
        "2026-11-20T14:02:00+00:00"
    );
    let error = deploys::parse("{\"events\": [{\"service\": \"x\"}]}").expect_err("missing fields");
    assert!(error.contains("not a deploy-events file"), "{error}");
}

#[test]
fn a_missing_or_malformed_source_file_is_named_in_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("deploys.json"), "{\"events\": 3}").expect("write");
    let mut config = grantflow_graph::ReachConfig::default();
    config.sources.deploys = vec!["deploys.json".into()];
    let error = grantflow_graph::sources::load(&config, dir.path()).expect_err("malformed");
    assert!(
        error
            .to_string()
            .contains("deploys.json: not a deploy-events file"),
        "{error}"
    );
    config.sources.catalog = vec!["missing/catalog-info.yaml".into()];
    let error = grantflow_graph::sources::load(&config, dir.path()).expect_err("missing");
    assert!(
        error.to_string().contains("missing/catalog-info.yaml"),
        "{error}"
    );
}
