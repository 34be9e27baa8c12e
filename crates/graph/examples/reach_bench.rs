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
    let mut max_delta = 0;
    let mut samples = Vec::new();
    for _ in 0..20_000 {
        let user = user_ids[rng.below(user_ids.len())];
        let group = groups[rng.below(GROUPS)];
        let t = Instant::now();
        let delta = searcher.delta(&[user], &[group]);
        samples.push(t.elapsed());
        max_delta = max_delta.max(delta.services.len());
    }
    println!(
        "delta (person, group):        {}  largest result {max_delta} services",
        percentiles(samples)
    );

    let mut samples = Vec::new();
    let mut size = 0;
    for _ in 0..2_000 {
        let user = user_ids[rng.below(user_ids.len())];
        let t = Instant::now();
        let delta = searcher.delta(&[user], &[wide_1k]);
        samples.push(t.elapsed());
        size = size.max(delta.services.len());
    }
    println!(
        "delta (person, 1k group):     {}  result {size} services",
        percentiles(samples)
    );

    let mut samples = Vec::new();
    let mut largest = 0;
    for _ in 0..5_000 {
        let group = groups[rng.below(GROUPS)];
        let t = Instant::now();
        let reach = searcher.reach(&[group]);
        samples.push(t.elapsed());
        largest = largest.max(reach.services.len());
    }
    println!(
        "reach (group):                {}  largest result {largest} services",
        percentiles(samples)
    );

    let mut samples = Vec::new();
    let mut size = 0;
    for _ in 0..500 {
        let t = Instant::now();
        let reach = searcher.reach(&[wide_10k]);
        samples.push(t.elapsed());
        size = reach.services.len();
    }
    println!(
        "reach (10k group):            {}  result {size} services",
        percentiles(samples)
    );

    let mut samples = Vec::new();
    for _ in 0..200 {
        let user = user_ids[rng.below(user_ids.len())];
        let t = Instant::now();
        let _ = searcher.reach(&[user]);
        samples.push(t.elapsed());
    }
    println!("reach (person):               {}", percentiles(samples));
}
