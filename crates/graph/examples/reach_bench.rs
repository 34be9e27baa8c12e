//! The reachability benchmark: generates a graph of 1M nodes and 10M edges shaped like an
//! organisation's (users in ~13 groups, groups → apps → roles → Kubernetes groups → bindings →
//! workloads → services), builds it, and prints p50/p95/p99 of the delta query (one person, one
//! group) and of "what does this group reach". Run with
//! `cargo run --release -p grantflow-graph --example reach_bench`.

use std::time::{Duration, Instant};

use grantflow_graph::{EdgeKind, GraphBuilder, NodeId, NodeKind, Searcher};

const NODES: usize = 1_000_000;
const EDGES: usize = 10_000_000;
const SERVICES: usize = 50_000;
const WORKLOADS: usize = 100_000;
const BINDINGS: usize = 20_000;
const KGROUPS: usize = 20_000;
const ROLES: usize = 20_000;
const GROUPS: usize = 20_000;
const APPS_PER_GROUP: usize = 3;

/// A small deterministic generator (SplitMix64), so every run measures the same graph.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort_unstable();
    let at = |p: f64| {
        let i = ((samples.len() as f64 * p).ceil() as usize).saturating_sub(1);
        samples[i.min(samples.len() - 1)]
    };
    format!(
        "p50 {:>8.3} ms  p95 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms  (n={})",
        at(0.50).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        samples.len()
    )
}

fn main() {
    let mut rng = Rng(0x5EED_0000);
    let started = Instant::now();
    let mut b = GraphBuilder::with_capacity(NODES, EDGES);
    let services: Vec<NodeId> = (0..SERVICES)
        .map(|i| b.node(NodeKind::Service, &format!("service-{i}"), None))
        .collect();
    let workloads: Vec<NodeId> = (0..WORKLOADS)
        .map(|i| {
            let w = b.node(
                NodeKind::Workload,
                &format!("prod/ns-{}/Deployment/w-{i}", i / 5),
                None,
            );
            b.edge(w, services[i % SERVICES], EdgeKind::Runs);
            w
        })
        .collect();
    let bindings: Vec<NodeId> = (0..BINDINGS)
        .map(|i| {
            let id = b.node(
                NodeKind::Binding,
                &format!("prod/ns-{i}/RoleBinding/edit"),
                None,
            );
            for j in 0..5 {
                b.edge(id, workloads[(i * 5 + j) % WORKLOADS], EdgeKind::Grants);
            }
            id
        })
        .collect();
    let kgroups: Vec<NodeId> = (0..KGROUPS)
        .map(|i| {
            let id = b.node(NodeKind::KubernetesGroup, &format!("prod/kg-{i}"), None);
            for _ in 0..2 {
                b.edge(id, bindings[rng.below(BINDINGS)], EdgeKind::Subject);
            }
            id
        })
        .collect();
    let roles: Vec<NodeId> = (0..ROLES)
        .map(|i| {
            let id = b.node(
                NodeKind::AwsRole,
                &format!("111122223333/AWSReservedSSO_ps-{i}"),
                None,
            );
            for _ in 0..2 {
                b.edge(id, kgroups[rng.below(KGROUPS)], EdgeKind::AwsAuth);
            }
            id
        })
        .collect();
    let groups: Vec<NodeId> = (0..GROUPS)
        .map(|i| {
            let g = b.node(NodeKind::Group, &format!("group-{i}"), None);
            for a in 0..APPS_PER_GROUP {
                let access = b.node(
                    NodeKind::AppAccess,
                    &format!("group:group-{i}|app-{a}"),
                    None,
                );
                b.edge(g, access, EdgeKind::AssignedApp);
                for _ in 0..2 {
                    b.edge(
                        access,
                        roles[rng.below(ROLES)],
                        EdgeKind::IdentityCenterAssignment,
                    );
                }
            }
            g
        })
        .collect();
    // Two wide groups: one reaching 1,000 services (the delta bound), one 10,000 (the reach bound).
    let wide = |b: &mut GraphBuilder, name: &str, width: usize, offset: usize| {
        let g = b.node(NodeKind::Group, name, None);
        let binding = b.node(NodeKind::Binding, &format!("prod/_cluster/{name}"), None);
        b.edge(g, binding, EdgeKind::Subject);
        for w in 0..width {
            b.edge(
                binding,
                workloads[(offset + w) % WORKLOADS],
                EdgeKind::Grants,
            );
        }
        g
    };
    let wide_1k = wide(&mut b, "wide-1k", 1_000, 7);
    let wide_10k = wide(&mut b, "wide-10k", 10_000, 30_000);
    let fixed = b.nodes_of(NodeKind::Service).len()
        + WORKLOADS
        + BINDINGS
        + 2
        + KGROUPS
        + ROLES
        + GROUPS * (1 + APPS_PER_GROUP)
        + 2;
    let users = NODES - fixed;
    let edges_so_far =
        WORKLOADS + BINDINGS * 5 + KGROUPS * 2 + ROLES * 2 + GROUPS * APPS_PER_GROUP * 3 + 11_002;
    let memberships = EDGES - edges_so_far;
    let mut user_ids = Vec::with_capacity(users);
    for i in 0..users {
        let u = b.node(NodeKind::User, &format!("user-{i}@example.com"), None);
        let count = memberships / users + usize::from(i < memberships % users);
        for _ in 0..count {
            b.edge(u, groups[rng.below(GROUPS)], EdgeKind::MemberOf);
        }
        user_ids.push(u);
    }
    let generated = started.elapsed();
    let freeze = Instant::now();
    let graph = b.build();
    let frozen = freeze.elapsed();
    println!(
        "graph: {} nodes, {} edges (after de-duplication)",
        graph.node_count(),
        graph.edge_count()
    );
    println!(
        "build: {:.2} s total = {:.2} s interning keyed nodes and collecting edges + {:.2} s freezing into adjacency arrays",
        (generated + frozen).as_secs_f64(),
        generated.as_secs_f64(),
        frozen.as_secs_f64()
    );

    let mut searcher = Searcher::new(&graph);
    let pick_user = |rng: &mut Rng| user_ids[rng.below(user_ids.len())];
    let pick_group = |rng: &mut Rng| groups[rng.below(GROUPS)];
    report(
        "delta (person, group)",
        measure(20_000, &mut rng, |rng| {
            let (user, group) = (pick_user(rng), pick_group(rng));
            searcher.delta(&[user], &[group]).services.len()
        }),
    );
    report(
        "delta (person, 1k group)",
        measure(2_000, &mut rng, |rng| {
            let user = pick_user(rng);
            searcher.delta(&[user], &[wide_1k]).services.len()
        }),
    );
    report(
        "reach (group)",
        measure(5_000, &mut rng, |rng| {
            let group = pick_group(rng);
            searcher.reach(&[group]).services.len()
        }),
    );
    report(
        "reach (10k group)",
        measure(500, &mut rng, |_| {
            searcher.reach(&[wide_10k]).services.len()
        }),
    );
    report(
        "reach (person)",
        measure(500, &mut rng, |rng| {
            let user = pick_user(rng);
            searcher.reach(&[user]).services.len()
        }),
    );
    drop(graph);
    snapshot_build(&mut rng);
}

/// Times `query` `n` times; returns the samples and the largest result size.
fn measure(
    n: usize,
    rng: &mut Rng,
    mut query: impl FnMut(&mut Rng) -> usize,
) -> (Vec<Duration>, usize) {
    let mut samples = Vec::with_capacity(n);
    let mut largest = 0;
    for _ in 0..n {
        let t = Instant::now();
        let size = query(rng);
        samples.push(t.elapsed());
        largest = largest.max(size);
    }
    (samples, largest)
}

fn report(name: &str, (samples, largest): (Vec<Duration>, usize)) {
    println!(
        "{:<26} {}  largest result {largest} services",
        format!("{name}:"),
        percentiles(samples)
    );
}

/// The real ingestion path, `grantflow_graph::build`, from an Okta snapshot of 100,000 people
/// (the design's planning scale) plus the demo's other sources.
fn snapshot_build(rng: &mut Rng) {
    use grantflow_model::{
        Account, Grant, GrantSource, Resource, ResourceGrant, ResourceKind, Snapshot,
    };
    const PEOPLE: usize = 100_000;
    const OKTA_GROUPS: usize = 5_000;
    let accounts = (0..PEOPLE)
        .map(|i| Account {
            id: format!("00u{i:08}"),
            login: format!("person-{i}@example.com"),
            email: Some(format!("person-{i}@example.com")),
            display_name: format!("Person {i}"),
            status: "ACTIVE".into(),
            state: Default::default(),
            attributes: Default::default(),
        })
        .collect();
    let resource = |id: String, kind: &str, name: String| Resource {
        id,
        kind: ResourceKind::new(kind),
        name,
        entitlements: vec!["member".into()],
        entitlement_aliases: Default::default(),
        writable: true,
        attributes: Default::default(),
    };
    let resources = (0..OKTA_GROUPS)
        .map(|i| resource(format!("00g{i:08}"), "group", format!("Group {i}")))
        .chain(std::iter::once(resource(
            "0oa-checkout".into(),
            "app",
            "Checkout Production Access".into(),
        )))
        .collect();
    let mut grants = Vec::with_capacity(PEOPLE * 13);
    for i in 0..PEOPLE {
        for _ in 0..13 {
            grants.push(Grant {
                account_id: format!("00u{i:08}"),
                resource_id: format!("00g{:08}", rng.below(OKTA_GROUPS)),
                entitlement: "member".into(),
                source: GrantSource::Direct,
            });
        }
    }
    let resource_grants = (0..OKTA_GROUPS)
        .step_by(10)
        .map(|i| ResourceGrant {
            holder_id: format!("00g{i:08}"),
            resource_id: "0oa-checkout".into(),
            entitlement: "assigned".into(),
        })
        .collect();
    let snapshot = Snapshot {
        accounts,
        resources,
        grants,
        resource_grants,
        ..Snapshot::default()
    };
    let config = grantflow_graph::ReachConfig {
        okta_apps: vec![grantflow_graph::config::AppLink {
            app: "Checkout Production Access".into(),
            identity_center: Some(Default::default()),
            kubernetes_oidc: None,
            datadog_dashboards: None,
        }],
        ..Default::default()
    };
    let t = Instant::now();
    let graph = grantflow_graph::build(&config, &snapshot, &Default::default());
    println!(
        "build from an Okta snapshot of {PEOPLE} people, {OKTA_GROUPS} groups, {} memberships: {:.2} s ({} nodes, {} edges)",
        snapshot.grants.len(),
        t.elapsed().as_secs_f64(),
        graph.node_count(),
        graph.edge_count()
    );
}
