//! The graph itself: typed nodes with their environment, labelled edges in compressed adjacency form
//! (forward and reverse), and the service facts (owner, monitors, deploys) a review shows.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A node's index; `u32` keeps the adjacency arrays small at 10⁶ nodes and 10⁷ edges.
pub type NodeId = u32;

/// What a node stands for. The chain a review follows is, left to right:
/// user → group → app access → AWS role / Kubernetes group → binding → workload → service,
/// with a dashboard scope as a shortcut from an app to the services it observes. Downstream systems
/// join in: a team (an Identity Center group, a GitHub team, a GitLab group) leads to AWS roles or to
/// repositories, a repository to the service whose code it holds, and an AWS role to its account,
/// which is a service of its own (production access to an account is reach even without a cluster).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    User,
    Group,
    /// One holder's use of one linked Okta app: per holder, so reach does not leak between the
    /// groups assigned to the same app.
    AppAccess,
    AwsRole,
    KubernetesGroup,
    /// A RoleBinding, a ClusterRoleBinding or an EKS access policy association.
    Binding,
    Workload,
    Service,
    DashboardScope,
    /// A group of a downstream system, keyed `<system>:<name>`.
    Team,
    /// A GitHub repository or GitLab project, keyed `<system>:<full path>`.
    Repository,
}

/// Why one node leads to another; kept so a path reads as the systems it crosses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    MemberOf,
    AssignedApp,
    IdentityCenterAssignment,
    AwsAuth,
    AccessEntry,
    AccessPolicy,
    OidcGroup,
    Subject,
    Grants,
    Runs,
    Dashboard,
    /// A repository holds a service's code (the catalog's `github.com/project-slug` or
    /// `gitlab.com/project-slug` annotation).
    SourceOf,
    /// An AWS role is a way into its account.
    InAccount,
}

impl EdgeKind {
    /// How a reviewer reads the hop.
    pub fn label(self) -> &'static str {
        match self {
            EdgeKind::MemberOf => "member of",
            EdgeKind::AssignedApp => "assigned",
            EdgeKind::IdentityCenterAssignment => "Identity Center assignment",
            EdgeKind::AwsAuth => "aws-auth mapRoles",
            EdgeKind::AccessEntry => "EKS access entry",
            EdgeKind::AccessPolicy => "EKS access policy",
            EdgeKind::OidcGroup => "OIDC groups claim",
            EdgeKind::Subject => "RBAC subject",
            EdgeKind::Grants => "grants",
            EdgeKind::Runs => "runs",
            EdgeKind::Dashboard => "dashboard access",
            EdgeKind::SourceOf => "source code of",
            EdgeKind::InAccount => "signs in to",
        }
    }
}

/// Whether a node is production; non-production nodes end a search and are reported as skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "environment", rename_all = "snake_case")]
pub enum Environment {
    Production,
    NonProduction { reason: String },
}

/// A monitor watching a service (Datadog or Prometheus).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monitor {
    pub source: String,
    pub id: String,
    pub name: String,
    /// Datadog's `overall_state`; Prometheus rule files carry no state.
    pub state: Option<String>,
    pub tags: Vec<String>,
}

/// One deploy of a service, from the deploy-events source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deploy {
    pub version: String,
    pub at: DateTime<Utc>,
    pub by: Option<String>,
    pub environment: Option<String>,
}

/// What the catalog, monitors and deploy events say about a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServiceInfo {
    pub owner: Option<String>,
    pub system: Option<String>,
    pub lifecycle: Option<String>,
    pub monitors: Vec<Monitor>,
    /// Newest first.
    pub deploys: Vec<Deploy>,
}

#[derive(Debug, Clone)]
struct NodeData {
    kind: NodeKind,
    key: Box<str>,
    label: Option<Box<str>>,
    /// 0 = production, otherwise 1 + index into `reasons`.
    env: u32,
}

/// Collects nodes (interned by kind and key) and edges, then freezes them into a [`Graph`].
#[derive(Debug, Default)]
pub struct GraphBuilder {
    nodes: Vec<NodeData>,
    index: HashMap<(NodeKind, Box<str>), NodeId>,
    edges: Vec<(NodeId, NodeId, EdgeKind)>,
    reasons: Vec<String>,
    reason_index: HashMap<String, u32>,
    services: HashMap<NodeId, ServiceInfo>,
}

impl GraphBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(nodes: usize, edges: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(nodes),
            index: HashMap::with_capacity(nodes),
            edges: Vec::with_capacity(edges),
            ..Self::default()
        }
    }

    /// The node of this kind and key, created on first use. `label` is how a reviewer reads it
    /// (defaults to the key); a later call with a label fills one in.
    pub fn node(&mut self, kind: NodeKind, key: &str, label: Option<String>) -> NodeId {
        if let Some(&id) = self.index.get(&(kind, Box::from(key))) {
            if let Some(label) = label
                && let Some(node) = self.nodes.get_mut(id as usize)
                && node.label.is_none()
            {
                node.label = Some(label.into_boxed_str());
            }
            return id;
        }
        let id = self.nodes.len() as NodeId;
        self.nodes.push(NodeData {
            kind,
            key: Box::from(key),
            label: label.map(String::into_boxed_str),
            env: 0,
        });
        self.index.insert((kind, Box::from(key)), id);
        id
    }

    pub fn find(&self, kind: NodeKind, key: &str) -> Option<NodeId> {
        self.index.get(&(kind, Box::from(key))).copied()
    }

    /// Makes `id` findable under a second key too (a person's account in another system, by the
    /// connection and the account's id), keeping its own key and label.
    pub fn alias(&mut self, kind: NodeKind, key: &str, id: NodeId) {
        self.index.entry((kind, Box::from(key))).or_insert(id);
    }

    pub fn edge(&mut self, from: NodeId, to: NodeId, kind: EdgeKind) {
        self.edges.push((from, to, kind));
    }

    pub fn set_environment(&mut self, id: NodeId, env: Environment) {
        let code = match env {
            Environment::Production => 0,
            Environment::NonProduction { reason } => {
                let next = self.reasons.len() as u32;
                let index = *self.reason_index.entry(reason.clone()).or_insert(next);
                if index == next {
                    self.reasons.push(reason);
                }
                index + 1
            }
        };
        if let Some(node) = self.nodes.get_mut(id as usize) {
            node.env = code;
        }
    }

    pub fn service_info(&mut self, id: NodeId) -> &mut ServiceInfo {
        self.services.entry(id).or_default()
    }

    /// Nodes of one kind, for the ingestion steps that join on them.
    pub fn nodes_of(&self, kind: NodeKind) -> Vec<(NodeId, &str)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.kind == kind)
            .map(|(i, n)| (i as NodeId, &*n.key))
            .collect()
    }

    pub fn build(mut self) -> Graph {
        self.edges.sort_unstable();
        self.edges.dedup();
        let count = self.nodes.len();
        let forward = Csr::new(count, self.edges.iter().map(|&(a, b, k)| (a, b, k)));
        let mut reversed: Vec<(NodeId, NodeId, EdgeKind)> =
            self.edges.iter().map(|&(a, b, k)| (b, a, k)).collect();
        reversed.sort_unstable();
        let reverse = Csr::new(count, reversed.into_iter());
        let index = self.index;
        Graph {
            nodes: self.nodes,
            index,
            forward,
            reverse,
            reasons: self.reasons,
            services: self.services,
        }
    }
}

/// Compressed sparse rows: the out-edges of node `n` are `targets[offsets[n]..offsets[n + 1]]`.
#[derive(Debug, Clone)]
struct Csr {
    offsets: Vec<u32>,
    targets: Vec<NodeId>,
    kinds: Vec<EdgeKind>,
}

impl Csr {
    /// `edges` must be sorted by source.
    fn new(nodes: usize, edges: impl ExactSizeIterator<Item = (NodeId, NodeId, EdgeKind)>) -> Csr {
        let mut offsets = vec![0u32; nodes + 1];
        let mut targets = Vec::with_capacity(edges.len());
        let mut kinds = Vec::with_capacity(edges.len());
        for (from, to, kind) in edges {
            if let Some(slot) = offsets.get_mut(from as usize + 1) {
                *slot += 1;
            }
            targets.push(to);
            kinds.push(kind);
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        Csr {
            offsets,
            targets,
            kinds,
        }
    }

    fn range(&self, node: NodeId) -> std::ops::Range<usize> {
        let start = self.offsets.get(node as usize).copied().unwrap_or(0) as usize;
        let end = self.offsets.get(node as usize + 1).copied().unwrap_or(0) as usize;
        start..end
    }
}

/// The frozen graph; cheap to query from many threads.
#[derive(Debug, Clone)]
pub struct Graph {
    nodes: Vec<NodeData>,
    index: HashMap<(NodeKind, Box<str>), NodeId>,
    forward: Csr,
    reverse: Csr,
    reasons: Vec<String>,
    services: HashMap<NodeId, ServiceInfo>,
}

impl Graph {
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn edge_count(&self) -> usize {
        self.forward.targets.len()
    }

    pub fn find(&self, kind: NodeKind, key: &str) -> Option<NodeId> {
        self.index.get(&(kind, Box::from(key))).copied()
    }

    pub fn kind(&self, id: NodeId) -> Option<NodeKind> {
        self.nodes.get(id as usize).map(|n| n.kind)
    }

    pub fn key(&self, id: NodeId) -> &str {
        self.nodes.get(id as usize).map(|n| &*n.key).unwrap_or("")
    }

    /// How a reviewer reads the node.
    pub fn label(&self, id: NodeId) -> &str {
        match self.nodes.get(id as usize) {
            Some(node) => node.label.as_deref().unwrap_or(&node.key),
            None => "",
        }
    }

    pub fn environment(&self, id: NodeId) -> Environment {
        match self.nodes.get(id as usize).map(|n| n.env) {
            None | Some(0) => Environment::Production,
            Some(code) => Environment::NonProduction {
                reason: self
                    .reasons
                    .get(code as usize - 1)
                    .cloned()
                    .unwrap_or_default(),
            },
        }
    }

    pub(crate) fn is_production(&self, id: NodeId) -> bool {
        self.nodes.get(id as usize).is_none_or(|n| n.env == 0)
    }

    pub fn service(&self, id: NodeId) -> Option<&ServiceInfo> {
        self.services.get(&id)
    }

    /// Out-edges: (target, why).
    pub fn out(&self, id: NodeId) -> impl Iterator<Item = (NodeId, EdgeKind)> + '_ {
        let range = self.forward.range(id);
        self.forward.targets[range.clone()]
            .iter()
            .copied()
            .zip(self.forward.kinds[range].iter().copied())
    }

    /// In-edges: (source, why).
    pub fn incoming(&self, id: NodeId) -> impl Iterator<Item = (NodeId, EdgeKind)> + '_ {
        let range = self.reverse.range(id);
        self.reverse.targets[range.clone()]
            .iter()
            .copied()
            .zip(self.reverse.kinds[range].iter().copied())
    }

    /// The edge kind from `a` to `b`, if there is one.
    pub fn edge_kind(&self, a: NodeId, b: NodeId) -> Option<EdgeKind> {
        self.out(a).find(|(t, _)| *t == b).map(|(_, k)| k)
    }

    /// Every node of one kind (a scan; for listings, not hot paths).
    pub fn nodes_of(&self, kind: NodeKind) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(_, n)| n.kind == kind)
            .map(|(i, _)| i as NodeId)
    }
}
