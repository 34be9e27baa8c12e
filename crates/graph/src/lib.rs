//! The production reachability graph: who reaches which production services, through which path,
//! owned by whom, watched by which monitors, recently deployed, and which non-production systems a
//! change also leads to (skipped).
//!
//! The core is IO-free: [`build::build`] takes the Okta [`grantflow_model::Snapshot`] from the store
//! and records already parsed by [`sources`] (which reads the files the configuration names), and
//! [`search::Searcher`] answers queries over compressed adjacency arrays. Nothing here calls a
//! vendor API.

pub mod build;
pub mod config;
pub mod graph;
pub mod render;
pub mod review;
pub mod search;
pub mod sources;

pub use build::build;
pub use config::ReachConfig;
pub use graph::{EdgeKind, Environment, Graph, GraphBuilder, NodeId, NodeKind};
pub use review::{PlanReach, ReachReport, Systems, Target, review_existing, review_plan};
pub use search::Searcher;
