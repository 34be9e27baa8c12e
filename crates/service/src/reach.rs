//! Production reach: the graph from the newest directory sync and the
//! configured sources, and the review of what a plan's changes add.

use anyhow::Context as _;
use grantflow_graph::{Graph, PlanReach};
use grantflow_model::Plan;
use grantflow_planner::ActualState;

use crate::{Result, Service};

impl Service {
    /// The reachability graph; `None` without a `reachability:` section.
    pub async fn graph(&self) -> Result<Option<Graph>> {
        let actual = self.actual_state().await?;
        self.graph_of(&actual)
    }

    fn graph_of(&self, actual: &ActualState) -> Result<Option<Graph>> {
        let Some(config) = &self.config.reachability else {
            return Ok(None);
        };
        let snapshot = actual
            .snapshots
            .get(&self.config.directory)
            .cloned()
            .unwrap_or_default();
        let inputs = grantflow_graph::sources::load(config, &self.config.base_dir)
            .context("reading the reachability sources")?;
        Ok(Some(grantflow_graph::build(config, &snapshot, &inputs)))
    }

    /// The production reach each widening change of `plan` adds.
    pub async fn review(&self, plan: &Plan) -> Result<Option<PlanReach>> {
        let actual = self.actual_state().await?;
        self.review_reach(plan, &actual).await
    }

    pub(crate) async fn review_reach(
        &self,
        plan: &Plan,
        actual: &ActualState,
    ) -> Result<Option<PlanReach>> {
        Ok(self
            .graph_of(actual)?
            .map(|graph| grantflow_graph::review_plan(&graph, &self.config.directory, plan)))
    }
}
