//! Production reach: the graph from the newest directory sync and the
//! configured sources, and the review of what a plan's changes add.

use anyhow::Context as _;
use grantflow_graph::{Graph, PlanReach};
use grantflow_model::{ConnectionName, Plan};
use grantflow_planner::ActualState;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a built graph is reused for one actual state.
const GRAPH_FRESH_FOR: Duration = Duration::from_secs(10);

use crate::{Result, Service};

impl Service {
    /// The reachability graph; `None` without a `reachability:` section.
    pub async fn graph(&self) -> Result<Option<Arc<Graph>>> {
        let actual = self.actual_state().await?;
        self.graph_of(&actual)
    }

    /// The graph of `actual`, kept for a few seconds: the API answers many
    /// reach questions between two syncs, and the file sources are read
    /// again once the graph is older than that.
    fn graph_of(&self, actual: &Arc<ActualState>) -> Result<Option<Arc<Graph>>> {
        let Some(config) = &self.config.reachability else {
            return Ok(None);
        };
        if let Ok(cache) = self.graph_cache.lock()
            && let Some((state, built, graph)) = cache.as_ref()
            && Arc::ptr_eq(state, actual)
            && built.elapsed() < GRAPH_FRESH_FOR
        {
            return Ok(Some(graph.clone()));
        }
        let snapshot = actual
            .snapshots
            .get(&self.config.directory)
            .cloned()
            .unwrap_or_default();
        let inputs = live_inputs(config, &self.config.base_dir, actual)?;
        let graph = Arc::new(grantflow_graph::build(config, &snapshot, &inputs));
        if let Ok(mut cache) = self.graph_cache.lock() {
            *cache = Some((actual.clone(), Instant::now(), graph.clone()));
        }
        Ok(Some(graph))
    }

    /// The production reach each widening change of `plan` adds.
    pub async fn review(&self, plan: &Plan) -> Result<Option<PlanReach>> {
        let actual = self.actual_state().await?;
        self.review_reach(plan, &actual).await
    }

    pub(crate) async fn review_reach(
        &self,
        plan: &Plan,
        actual: &Arc<ActualState>,
    ) -> Result<Option<PlanReach>> {
        let systems = grantflow_graph::Systems {
            directory: self.config.directory.clone(),
            kinds: self
                .connectors
                .iter()
                .map(|(name, connector)| (name.clone(), connector.describe().system.to_string()))
                .collect(),
        };
        Ok(self
            .graph_of(actual)?
            .map(|graph| grantflow_graph::review_plan(&graph, &systems, plan)))
    }

    /// Where each part of the graph comes from and how old it is: a synced connection (its last
    /// sync) or a file (its modification time).
    pub async fn reach_sources(&self, actor: &crate::Actor) -> Result<Vec<ReachSource>> {
        crate::access::authorize(actor, &crate::access::Permission::ReadReach)?;
        let Some(config) = &self.config.reachability else {
            return Ok(Vec::new());
        };
        let actual = self.actual_state().await?;
        let syncs = self.store.latest_sync_summaries().await?;
        let synced = |connection: &ConnectionName| {
            syncs
                .iter()
                .find(|s| s.connection == connection.as_str())
                .map(|s| s.finished_at)
        };
        let mut out = Vec::new();
        let mut live = |part: &str, system: &str| -> bool {
            let mut any = false;
            for (name, snapshot) in &actual.snapshots {
                if snapshot.system.as_ref().map(|s| s.as_str()) == Some(system) {
                    any = true;
                    out.push(ReachSource {
                        part: part.to_string(),
                        origin: format!("connection {name} ({system})"),
                        as_of: synced(name),
                        used: true,
                        note: None,
                    });
                }
            }
            any
        };
        live("Okta directory (people, groups, apps)", "okta");
        let aws_live = live("AWS IAM Identity Center", "aws");
        let datadog_live = live("Datadog monitors", "datadog");
        live("GitHub teams and repositories", "github");
        live("GitLab groups and projects", "gitlab");
        let root = config.sources.root.as_ref().map_or_else(
            || self.config.base_dir.clone(),
            |r| self.config.base_dir.join(r),
        );
        let sources = &config.sources;
        let mut file = |part: &str, path: &std::path::Path, replaced_by: Option<&str>| {
            let full = root.join(path);
            let modified = std::fs::metadata(&full)
                .and_then(|m| m.modified())
                .ok()
                .map(chrono::DateTime::<chrono::Utc>::from);
            out.push(ReachSource {
                part: part.to_string(),
                origin: format!("file {}", full.display()),
                as_of: modified,
                used: replaced_by.is_none() && modified.is_some(),
                note: match (replaced_by, modified) {
                    (Some(system), _) => Some(format!(
                        "not read: the {system} connection is synced instead"
                    )),
                    (None, None) => Some("missing".to_string()),
                    (None, Some(_)) => None,
                },
            });
        };
        if let Some(path) = &sources.aws_identity_center {
            file("AWS IAM Identity Center", path, aws_live.then_some("aws"));
        }
        for cluster in &sources.kubernetes {
            for path in &cluster.manifests {
                file(&format!("Kubernetes {}", cluster.cluster), path, None);
            }
            if let Some(path) = &cluster.access_entries {
                file(
                    &format!("EKS access entries {}", cluster.cluster),
                    path,
                    None,
                );
            }
        }
        for path in &sources.catalog {
            file("Backstage catalog", path, None);
        }
        for path in &sources.datadog_monitors {
            file("Datadog monitors", path, datadog_live.then_some("datadog"));
        }
        for path in &sources.prometheus_rules {
            file("Prometheus rules", path, None);
        }
        for path in &sources.deploys {
            file("Deploy events", path, None);
        }
        Ok(out)
    }
}

/// One part of the reachability graph and where it came from.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReachSource {
    /// What this source feeds (e.g. "AWS IAM Identity Center", "Kubernetes prod-eks").
    pub part: String,
    /// `connection <name> (<system>)` or `file <path>`.
    pub origin: String,
    /// The last sync of the connection, or the file's modification time.
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether the graph reads it.
    pub used: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The graph's inputs: synced connections where grantflow has them (AWS, Datadog, GitHub, GitLab),
/// files for the rest. A file naming what a connection syncs is not read.
fn live_inputs(
    config: &grantflow_graph::ReachConfig,
    base_dir: &std::path::Path,
    actual: &ActualState,
) -> Result<grantflow_graph::sources::Inputs> {
    use grantflow_graph::sources::live;
    let of = |system: &'static str| {
        actual
            .snapshots
            .iter()
            .filter(move |(_, s)| s.system.as_ref().map(|k| k.as_str()) == Some(system))
    };
    let mut files = config.clone();
    let aws: Vec<_> = of("aws").collect();
    if !aws.is_empty() {
        files.sources.aws_identity_center = None;
    }
    let datadog: Vec<_> = of("datadog").collect();
    if !datadog.is_empty() {
        files.sources.datadog_monitors.clear();
    }
    let mut inputs = grantflow_graph::sources::load(&files, base_dir)
        .context("reading the reachability sources")?;
    // One Identity Center instance is what an organisation has; a second connection adds to it.
    for (name, snapshot) in aws {
        let export = live::aws(snapshot, name.as_str());
        match &mut inputs.aws {
            None => inputs.aws = Some(export),
            Some(first) => {
                first.accounts.extend(export.accounts);
                first.permission_sets.extend(export.permission_sets);
                first.account_assignments.extend(export.account_assignments);
                first.offered.extend(export.offered);
            }
        }
    }
    for (_, snapshot) in datadog {
        inputs.monitors.extend(live::datadog(snapshot));
    }
    for system in ["github", "gitlab"] {
        for (name, snapshot) in of(system) {
            inputs
                .code
                .push(live::code(snapshot, name.as_str(), system));
        }
    }
    Ok(inputs)
}
