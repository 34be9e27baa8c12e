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
        let systems = self.systems();
        Ok(self
            .graph_of(actual)?
            .map(|graph| grantflow_graph::review_plan(&graph, &systems, plan)))
    }

    fn systems(&self) -> grantflow_graph::Systems {
        grantflow_graph::Systems {
            directory: self.config.directory.clone(),
            kinds: self
                .connectors
                .iter()
                .map(|(name, connector)| (name.clone(), connector.describe().system.to_string()))
                .collect(),
        }
    }

    /// The blast radius of changes that already happened, as Okta's System Log records them
    /// (one event, or a list as `GET /api/v1/logs` returns): what each opened in production.
    pub async fn reach_of_events(
        &self,
        actor: &crate::Actor,
        events: &serde_json::Value,
    ) -> Result<Vec<EventReach>> {
        crate::access::authorize(actor, &crate::access::Permission::ReadReach)?;
        let events: Vec<&serde_json::Value> = match events {
            serde_json::Value::Array(list) => list.iter().collect(),
            one => vec![one],
        };
        if events.is_empty() {
            return Err(crate::ServiceError::Invalid(
                "no events: give one Okta System Log event or a list of them".to_string(),
            ));
        }
        let ops = events
            .iter()
            .map(|event| event_operation(&self.config.directory, event))
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(crate::ServiceError::Invalid)?;
        self.reach_of_operations(ops).await
    }

    /// The blast radius of an open drift finding (a grant made by hand): what it opened.
    pub async fn reach_of_finding(&self, actor: &crate::Actor, key: &str) -> Result<EventReach> {
        crate::access::authorize(actor, &crate::access::Permission::ReadDrift)?;
        let found = self
            .store
            .open_findings_page(None, None, None, i64::MAX)
            .await?
            .into_iter()
            .find(|f| f.key == key)
            .ok_or_else(|| crate::ServiceError::NotFound(format!("no open drift finding {key}")))?;
        let op = finding_operation(&found.connection, &found.details).ok_or_else(|| {
            crate::ServiceError::Invalid(format!(
                "drift finding {key} ({}) is not access someone holds",
                found.kind
            ))
        })?;
        let mut reach = self.reach_of_operations(vec![op]).await?;
        reach.pop().ok_or_else(|| {
            crate::ServiceError::Invalid(format!("drift finding {key} has no reach"))
        })
    }

    async fn reach_of_operations(
        &self,
        ops: Vec<(String, grantflow_model::Operation)>,
    ) -> Result<Vec<EventReach>> {
        let Some(graph) = self.graph().await? else {
            return Err(crate::ServiceError::Invalid(
                "the configuration has no `reachability:` section".to_string(),
            ));
        };
        let systems = self.systems();
        Ok(ops
            .into_iter()
            .map(|(what, op)| EventReach {
                what,
                reach: grantflow_graph::review_existing(&graph, &systems, &op),
            })
            .collect())
    }

    /// Each finding of access someone holds without a policy, with what it opens in production, as
    /// `details.reach` of its stored record.
    pub(crate) fn findings_reach(
        &self,
        graph: &Graph,
        findings: &mut [grantflow_store::FindingRecord],
    ) {
        let systems = self.systems();
        for finding in findings {
            let Some((_, op)) = finding_operation(&finding.connection, &finding.details) else {
                continue;
            };
            if !matches!(finding.kind.as_str(), "unexpected_grant" | "unknown_source") {
                continue;
            }
            let reach = grantflow_graph::review_existing(graph, &systems, &op);
            if let Some(details) = finding.details.as_object_mut()
                && let Ok(value) = serde_json::to_value(&reach)
            {
                details.insert("reach".into(), value);
            }
        }
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

/// A change that already happened and what it opened in production.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EventReach {
    /// The change, in words.
    pub what: String,
    pub reach: grantflow_graph::review::OperationReach,
}

fn one_operation(
    connection: &ConnectionName,
    kind: grantflow_model::OpKind,
) -> grantflow_model::Operation {
    grantflow_model::Operation {
        id: grantflow_model::OperationId(0),
        connection: connection.clone(),
        kind,
        reasons: Vec::new(),
        depends_on: Vec::new(),
    }
}

/// The operation an Okta System Log event records, for the event types that widen access.
fn event_operation(
    directory: &ConnectionName,
    event: &serde_json::Value,
) -> std::result::Result<(String, grantflow_model::Operation), String> {
    use grantflow_model::{AccountRef, OpKind, ResourceKind, ResourceRef};
    let event_type = event
        .get("eventType")
        .and_then(|t| t.as_str())
        .ok_or("not an Okta System Log event: no eventType")?;
    let targets: Vec<&serde_json::Value> = event
        .get("target")
        .and_then(|t| t.as_array())
        .map(|t| t.iter().collect())
        .unwrap_or_default();
    let target = |kind: &str| {
        targets
            .iter()
            .find(|t| t.get("type").and_then(|v| v.as_str()) == Some(kind))
            .copied()
    };
    let text = |v: &serde_json::Value, key: &str| {
        v.get(key)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let user = || {
        target("User")
            .map(|u| AccountRef {
                id: text(u, "id"),
                login: text(u, "alternateId"),
            })
            .ok_or_else(|| format!("{event_type} event without a User target"))
    };
    let resource = |okta_type: &str, kind: &str| {
        target(okta_type)
            .map(|r| ResourceRef {
                id: text(r, "id"),
                kind: ResourceKind::new(kind),
                name: text(r, "displayName"),
            })
            .ok_or_else(|| format!("{event_type} event without a {okta_type} target"))
    };
    let kind = match event_type {
        "group.user_membership.add" => OpKind::AddGrant {
            account: user()?,
            resource: resource("UserGroup", "group")?,
            entitlement: "member".into(),
        },
        "application.user_membership.add" => OpKind::AddGrant {
            account: user()?,
            resource: resource("AppInstance", "app")?,
            entitlement: "assigned".into(),
        },
        "group.application_assignment.add" => OpKind::AddGroupGrant {
            group: resource("UserGroup", "group")?,
            resource: resource("AppInstance", "app")?,
            entitlement: "assigned".into(),
        },
        "user.lifecycle.activate" | "user.lifecycle.reactivate" | "user.lifecycle.unsuspend" => {
            let account = user()?;
            OpKind::AccountAction {
                target: ResourceRef {
                    id: account.id.clone(),
                    kind: ResourceKind::new(grantflow_model::ACCOUNT_KIND),
                    name: account.login.clone(),
                },
                account,
                action: event_type.trim_start_matches("user.lifecycle.").to_string(),
                params: Default::default(),
            }
        }
        other => {
            return Err(format!(
                "Okta event type {other} does not widen access: nothing to review"
            ));
        }
    };
    let what = format!(
        "{event_type} at {}",
        event
            .get("published")
            .and_then(|p| p.as_str())
            .unwrap_or("an unknown time")
    );
    Ok((what, one_operation(directory, kind)))
}

/// The grant a drift finding is about, as an operation that would have made it.
fn finding_operation(
    connection: &str,
    details: &serde_json::Value,
) -> Option<(String, grantflow_model::Operation)> {
    use grantflow_model::{AccountRef, OpKind, ResourceKind, ResourceRef};
    let login = details.get("account")?.as_str()?;
    let (kind, name) = details.get("resource")?.as_str()?.split_once('/')?;
    let entitlement = details
        .get("entitlement")
        .and_then(|e| e.as_str())
        .unwrap_or_default();
    let op = OpKind::AddGrant {
        account: AccountRef {
            id: login.to_string(),
            login: login.to_string(),
        },
        resource: ResourceRef {
            id: name.to_string(),
            kind: ResourceKind::new(kind),
            name: name.to_string(),
        },
        entitlement: entitlement.to_string(),
    };
    Some((
        format!("{login} holds {kind} \"{name}\" {entitlement} in {connection}"),
        one_operation(&ConnectionName::new(connection), op),
    ))
}
