//! Deploy events: what a CI/CD system reports after each rollout, in one JSON document:
//!
//! ```json
//! { "events": [ { "service": "checkout-api", "environment": "production", "version": "2026.11.20-1",
//!                 "deployed_at": "2026-11-20T14:02:00Z", "deployed_by": "github-actions", "commit": "9f2c1e7" } ] }
//! ```
//! `service` is the catalog Component name; `environment`, `deployed_by` and `commit` are optional.

use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeployEvent {
    pub service: String,
    #[serde(default)]
    pub environment: Option<String>,
    pub version: String,
    pub deployed_at: DateTime<Utc>,
    #[serde(default)]
    pub deployed_by: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployFile {
    events: Vec<DeployEvent>,
}

pub fn parse(text: &str) -> Result<Vec<DeployEvent>, String> {
    let file: DeployFile =
        serde_json::from_str(text).map_err(|e| format!("not a deploy-events file: {e}"))?;
    Ok(file.events)
}
