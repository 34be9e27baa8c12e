//! Production reach: the graph from the newest directory sync and the
//! configured sources, and the review of what a plan's changes add.

use anyhow::Context as _;
use grantflow_graph::{Graph, PlanReach};
use grantflow_model::Plan;
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
        let inputs = grantflow_graph::sources::load(config, &self.config.base_dir)
            .context("reading the reachability sources")?;
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
        Ok(self
            .graph_of(actual)?
            .map(|graph| grantflow_graph::review_plan(&graph, &self.config.directory, plan)))
    }
}
