//! Searches over the graph: what a set of start nodes reaches in production (with one path per
//! distinct way into each service), what a change adds for a holder, and who reaches a service.
//! Scratch arrays are reused across searches so a query allocates only its result.

use serde::Serialize;

use crate::graph::{Graph, NodeId, NodeKind};

const NONE: NodeId = NodeId::MAX;

/// A path from a start node to a target, start first.
pub type Path = Vec<NodeId>;

/// A production service and the ways in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReachedService {
    pub service: NodeId,
    /// One path per distinct last hop (a workload, a dashboard scope), ordered.
    pub paths: Vec<Path>,
}

/// A non-production node met on the way; the search did not go past it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub node: NodeId,
    pub path: Path,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reach {
    pub services: Vec<ReachedService>,
    pub skipped: Vec<Skipped>,
}

/// What a change adds to what a holder already reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delta {
    /// Services with at least one new way in.
    pub services: Vec<DeltaService>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeltaService {
    pub service: NodeId,
    /// `false` when the holder already reached the service another way.
    pub new_service: bool,
    /// Every way the change leads in; `held` marks those the holder already had.
    pub paths: Vec<DeltaPath>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeltaPath {
    pub path: Path,
    pub held: bool,
}

/// Reusable search state for one graph.
pub struct Searcher<'g> {
    graph: &'g Graph,
    stamp: Vec<u32>,
    parent: Vec<NodeId>,
    epoch: u32,
    queue: Vec<NodeId>,
    /// (service, last hop) pairs met by the current search.
    entries: Vec<(NodeId, NodeId)>,
    skipped: Vec<NodeId>,
}

impl<'g> Searcher<'g> {
    pub fn new(graph: &'g Graph) -> Self {
        let n = graph.node_count();
        Self {
            graph,
            stamp: vec![0; n],
            parent: vec![NONE; n],
            epoch: 0,
            queue: Vec::new(),
            entries: Vec::new(),
            skipped: Vec::new(),
        }
    }

    pub fn graph(&self) -> &'g Graph {
        self.graph
    }

    /// Starts a new search: every node reads as unvisited without clearing the arrays.
    fn next_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.fill(0);
            self.epoch = 1;
        }
    }

    fn visited(&self, n: NodeId) -> bool {
        self.stamp.get(n as usize) == Some(&self.epoch)
    }

    fn visit(&mut self, n: NodeId, parent: NodeId) {
        if let (Some(s), Some(p)) = (
            self.stamp.get_mut(n as usize),
            self.parent.get_mut(n as usize),
        ) {
            *s = self.epoch;
            *p = parent;
        }
    }

    /// Breadth-first from `starts`, stopping at non-production nodes; leaves the (service, last hop)
    /// pairs in `entries` sorted, and the skipped nodes in `skipped`.
    fn run(&mut self, starts: &[NodeId]) {
        self.next_epoch();
        self.queue.clear();
        self.entries.clear();
        self.skipped.clear();
        for &s in starts {
            if (s as usize) < self.stamp.len() && !self.visited(s) {
                self.visit(s, NONE);
                self.queue.push(s);
            }
        }
        let graph = self.graph;
        let mut head = 0;
        while let Some(&u) = self.queue.get(head) {
            head += 1;
            for (v, _) in graph.out(u) {
                let is_service = graph.kind(v) == Some(NodeKind::Service);
                if is_service && graph.is_production(v) {
                    self.entries.push((v, u));
                }
                if self.visited(v) {
                    continue;
                }
                self.visit(v, u);
                if !graph.is_production(v) {
                    self.skipped.push(v);
                } else if !is_service {
                    self.queue.push(v);
                }
            }
        }
        self.entries.sort_unstable();
        self.entries.dedup();
    }

    fn path_to(&self, mut n: NodeId) -> Path {
        let mut path = Vec::with_capacity(8);
        while n != NONE {
            path.push(n);
            n = self.parent.get(n as usize).copied().unwrap_or(NONE);
        }
        path.reverse();
        path
    }

    fn collect(&self) -> Reach {
        let mut services: Vec<ReachedService> = Vec::new();
        for &(service, via) in &self.entries {
            let mut path = self.path_to(via);
            path.push(service);
            match services.last_mut() {
                Some(last) if last.service == service => last.paths.push(path),
                _ => services.push(ReachedService {
                    service,
                    paths: vec![path],
                }),
            }
        }
        let skipped = self
            .skipped
            .iter()
            .map(|&node| Skipped {
                node,
                path: self.path_to(node),
            })
            .collect();
        Reach { services, skipped }
    }

    /// What `starts` reach in production.
    pub fn reach(&mut self, starts: &[NodeId]) -> Reach {
        self.run(starts);
        self.collect()
    }

    /// What `added` (the starts a change would give the holder) adds to what `held` (the holder's
    /// own node, or nothing for a new group assignment) reaches: services with at least one new
    /// last hop, each with all the change's ways in, marked held or new.
    ///
    /// The change's side is searched first and its paths extracted; the holder's side is then a
    /// plain traversal whose visit marks answer "already reached?" for each last hop and service,
    /// stopping early once every one of them is found.
    pub fn delta(&mut self, held: &[NodeId], added: &[NodeId]) -> Delta {
        self.run(added);
        let after = self.collect();
        let mut targets: Vec<NodeId> = after
            .services
            .iter()
            .flat_map(|s| {
                s.paths
                    .iter()
                    .filter_map(|p| p.len().checked_sub(2).and_then(|i| p.get(i)).copied())
                    .chain(std::iter::once(s.service))
            })
            .collect();
        targets.sort_unstable();
        targets.dedup();
        self.mark_reached(held, &targets);
        let mut services = Vec::new();
        for reached in after.services {
            let new_service = !self.visited(reached.service);
            let paths: Vec<DeltaPath> = reached
                .paths
                .into_iter()
                .map(|path| {
                    let via = path.len().checked_sub(2).and_then(|i| path.get(i)).copied();
                    let held = via.is_some_and(|v| self.visited(v));
                    DeltaPath { path, held }
                })
                .collect();
            if paths.iter().any(|p| !p.held) {
                services.push(DeltaService {
                    service: reached.service,
                    new_service,
                    paths,
                });
            }
        }
        Delta {
            services,
            skipped: after.skipped,
        }
    }

    /// Marks what `starts` reach in production (as [`Self::run`] would), stopping once every node
    /// of `targets` (sorted) is marked.
    fn mark_reached(&mut self, starts: &[NodeId], targets: &[NodeId]) {
        self.next_epoch();
        self.queue.clear();
        let mut remaining = targets.len();
        for &s in starts {
            if (s as usize) < self.stamp.len() && !self.visited(s) {
                self.visit(s, NONE);
                self.queue.push(s);
                remaining -= usize::from(targets.binary_search(&s).is_ok());
            }
        }
        let graph = self.graph;
        let mut head = 0;
        while let Some(&u) = self.queue.get(head) {
            head += 1;
            if remaining == 0 {
                return;
            }
            for (v, _) in graph.out(u) {
                if self.visited(v) {
                    continue;
                }
                self.visit(v, u);
                remaining -= usize::from(targets.binary_search(&v).is_ok());
                if graph.is_production(v) && graph.kind(v) != Some(NodeKind::Service) {
                    self.queue.push(v);
                }
            }
        }
    }

    /// Groups and users that reach `service`, each with one path (holder first).
    pub fn who_reaches(&mut self, service: NodeId) -> Vec<Path> {
        self.next_epoch();
        self.queue.clear();
        let graph = self.graph;
        let mut holders = Vec::new();
        if (service as usize) >= self.stamp.len() {
            return holders;
        }
        self.visit(service, NONE);
        self.queue.push(service);
        let mut head = 0;
        while let Some(&u) = self.queue.get(head) {
            head += 1;
            for (v, _) in graph.incoming(u) {
                if self.visited(v) || !graph.is_production(v) {
                    continue;
                }
                self.visit(v, u);
                self.queue.push(v);
                if matches!(graph.kind(v), Some(NodeKind::Group | NodeKind::User)) {
                    // The parent chain runs towards the service, so it is already holder-first.
                    let mut path = self.path_to(v);
                    path.reverse();
                    holders.push(path);
                }
            }
        }
        holders
    }
}
