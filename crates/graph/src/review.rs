//! Reports a person reads: what a holder reaches, what a plan's widening operations add, and who
//! reaches a service, as self-contained records (labels, owners, monitors, deploys) ready to print
//! or serialise.

use grantflow_model::{ConnectionName, OpKind, Plan};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use crate::build::{app_access_key, team_key, user_key};
use crate::graph::{Deploy, EdgeKind, Environment, Graph, Monitor, NodeId, NodeKind};
use crate::search::{Delta, DeltaPath, DeltaService, Path, Reach, Searcher, Skipped};
use crate::sources::aws::role_key;

/// Recent deploys shown per service.
const DEPLOYS_SHOWN: usize = 3;

/// What a query starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Group(String),
    User(String),
    App(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("{0} is not in the reachability graph (was it synced?)")]
    Unknown(String),
}

impl Target {
    /// The start nodes: the group or user, or every holder's access to the app.
    pub fn starts(&self, graph: &Graph) -> Result<Vec<NodeId>, QueryError> {
        let found = match self {
            Target::Group(name) => graph.find(NodeKind::Group, name).into_iter().collect(),
            Target::User(login) => graph
                .find(NodeKind::User, &user_key(login))
                .into_iter()
                .collect(),
            Target::App(app) => {
                let suffix = format!("|{app}");
                graph
                    .nodes_of(NodeKind::AppAccess)
                    .filter(|&n| {
                        graph.key(n).ends_with(&suffix) && graph.incoming(n).next().is_some()
                    })
                    .collect()
            }
        };
        let found: Vec<NodeId> = found;
        if found.is_empty() {
            return Err(QueryError::Unknown(self.to_string()));
        }
        Ok(found)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Group(name) => write!(f, "group \"{name}\""),
            Target::User(login) => write!(f, "user {login}"),
            Target::App(app) => write!(f, "app \"{app}\""),
        }
    }
}

/// One hop of a path as a reviewer reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub kind: NodeKind,
    pub label: String,
    /// How this hop was entered from the previous one (`aws-auth mapRoles`, …), when it matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Cow<'static, str>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathReport {
    pub hops: Vec<Hop>,
    /// The holder already had this way in (delta reports only).
    pub held: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceReport {
    pub service: String,
    pub owner: Option<String>,
    pub system: Option<String>,
    /// `false` when the holder already reached the service another way (delta reports only).
    pub new_service: bool,
    pub paths: Vec<PathReport>,
    pub monitors: Vec<Monitor>,
    pub recent_deploys: Vec<Deploy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedReport {
    pub what: String,
    pub reason: String,
    pub path: Vec<Hop>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachReport {
    pub target: String,
    pub services: Vec<ServiceReport>,
    pub skipped: Vec<SkippedReport>,
}

/// What one widening operation of a plan adds in production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationReach {
    pub operation: grantflow_model::OperationId,
    pub services: Vec<ServiceReport>,
    pub skipped: Vec<SkippedReport>,
    /// Why the graph cannot say what the operation reaches (a system no source covers, a resource
    /// not in the graph); absent when `services` and `skipped` are the whole answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The reach review of a whole plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanReach {
    pub operations: Vec<OperationReach>,
    /// Every non-production system the plan's changes lead to, once.
    pub skipped: Vec<SkippedReport>,
}

impl PlanReach {
    pub fn for_operation(&self, id: grantflow_model::OperationId) -> Option<&OperationReach> {
        self.operations.iter().find(|o| o.operation == id)
    }
}

/// Who reaches a service, one path each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderReport {
    pub holder: String,
    pub kind: NodeKind,
    pub path: Vec<Hop>,
}

fn hops(graph: &Graph, path: &Path, include_last: bool) -> Vec<Hop> {
    let end = if include_last {
        path.len()
    } else {
        path.len().saturating_sub(1)
    };
    let mut out = Vec::with_capacity(end);
    for (i, &node) in path.iter().take(end).enumerate() {
        let via = i
            .checked_sub(1)
            .and_then(|p| path.get(p))
            .and_then(|&prev| graph.edge_kind(prev, node))
            .filter(|k| {
                matches!(
                    k,
                    EdgeKind::AwsAuth
                        | EdgeKind::AccessEntry
                        | EdgeKind::AccessPolicy
                        | EdgeKind::OidcGroup
                )
            })
            .map(|k| Cow::Borrowed(k.label()));
        out.push(Hop {
            kind: graph.kind(node).unwrap_or(NodeKind::Service),
            label: graph.label(node).to_string(),
            via,
        });
    }
    out
}

fn service_report(
    graph: &Graph,
    service: NodeId,
    new_service: bool,
    paths: Vec<PathReport>,
) -> ServiceReport {
    let info = graph.service(service).cloned().unwrap_or_default();
    ServiceReport {
        service: graph.label(service).to_string(),
        owner: info.owner,
        system: info.system,
        new_service,
        paths,
        monitors: info.monitors,
        recent_deploys: info.deploys.into_iter().take(DEPLOYS_SHOWN).collect(),
    }
}

fn skipped_reports(graph: &Graph, skipped: &[Skipped]) -> Vec<SkippedReport> {
    skipped
        .iter()
        .map(|s| SkippedReport {
            what: graph.label(s.node).to_string(),
            reason: match graph.environment(s.node) {
                Environment::NonProduction { reason } => reason,
                Environment::Production => String::new(),
            },
            path: hops(graph, &s.path, true),
        })
        .collect()
}

pub fn reach_report(graph: &Graph, target: &str, reach: &Reach) -> ReachReport {
    // A plain reach reads as a delta from nothing: every service new, no path held.
    let as_delta = Delta {
        services: reach
            .services
            .iter()
            .map(|s| DeltaService {
                service: s.service,
                new_service: true,
                paths: s
                    .paths
                    .iter()
                    .map(|p| DeltaPath {
                        path: p.clone(),
                        held: false,
                    })
                    .collect(),
            })
            .collect(),
        skipped: reach.skipped.clone(),
    };
    delta_report(graph, target, &as_delta)
}

pub fn delta_report(graph: &Graph, target: &str, delta: &Delta) -> ReachReport {
    ReachReport {
        target: target.to_string(),
        services: delta
            .services
            .iter()
            .map(|s| {
                let paths = s
                    .paths
                    .iter()
                    .map(|p| PathReport {
                        hops: hops(graph, &p.path, false),
                        held: p.held,
                    })
                    .collect();
                service_report(graph, s.service, s.new_service, paths)
            })
            .collect(),
        skipped: skipped_reports(graph, &delta.skipped),
    }
}

pub fn who_reaches(graph: &Graph, service: &str) -> Result<Vec<HolderReport>, QueryError> {
    let id = graph
        .find(NodeKind::Service, service)
        .ok_or_else(|| QueryError::Unknown(format!("service {service}")))?;
    let mut searcher = Searcher::new(graph);
    Ok(searcher
        .who_reaches(id)
        .into_iter()
        .filter_map(|path| {
            let &holder = path.first()?;
            Some(HolderReport {
                holder: graph.label(holder).to_string(),
                kind: graph.kind(holder)?,
                path: hops(graph, &path, true),
            })
        })
        .collect())
}

/// The dashboard scopes an app gives every holder alike.
fn shared_scopes(graph: &Graph, app: &str) -> Vec<NodeId> {
    let prefix = format!("{app}|");
    graph
        .nodes_of(NodeKind::DashboardScope)
        .filter(|&n| graph.key(n).starts_with(&prefix))
        .collect()
}

/// The systems a plan's operations go to: the directory connection and every connection's system
/// (`okta`, `aws`, `github`, …).
#[derive(Debug, Clone)]
pub struct Systems {
    pub directory: ConnectionName,
    pub kinds: std::collections::BTreeMap<ConnectionName, String>,
}

impl Systems {
    /// Only the directory is known (the reachability graph of Okta alone).
    pub fn directory(directory: ConnectionName) -> Self {
        Self {
            kinds: [(directory.clone(), "okta".to_string())].into(),
            directory,
        }
    }

    fn system_of(&self, connection: &ConnectionName) -> Option<&str> {
        self.kinds.get(connection).map(String::as_str)
    }
}

/// Where a widening operation starts from (what the holder has) and what it adds, or why the graph
/// cannot say (the reviewer reads the reason instead of a silent nothing).
fn change_of(
    graph: &Graph,
    systems: &Systems,
    plan: Option<&Plan>,
    op: &grantflow_model::Operation,
) -> Result<(Vec<NodeId>, Vec<NodeId>), String> {
    let system = systems.system_of(&op.connection).unwrap_or("");
    let holder = |account: &grantflow_model::AccountRef| -> Vec<NodeId> {
        let login = account
            .login
            .strip_prefix("pending:")
            .unwrap_or(&account.login);
        graph
            .find(
                NodeKind::User,
                &crate::sources::live::account_alias(op.connection.as_str(), &account.id),
            )
            .or_else(|| graph.find(NodeKind::User, &user_key(login)))
            .into_iter()
            .collect()
    };
    let team = |name: &str| -> Vec<NodeId> {
        graph
            .find(NodeKind::Team, &team_key(system, name))
            .into_iter()
            .collect()
    };
    let unknown = |what: String| format!("{what} is not in the reachability graph");
    let found = |nodes: Vec<NodeId>, what: String| {
        if nodes.is_empty() {
            Err(unknown(what))
        } else {
            Ok(nodes)
        }
    };
    let is_directory = op.connection == systems.directory;
    // A resource this plan creates exists nowhere yet, so it leads nowhere: nothing is reached.
    let created_here = |name: &str| {
        plan.into_iter().flat_map(|p| &p.operations).any(|o| {
            o.connection == op.connection
                && matches!(&o.kind, OpKind::CreateResource { resource, .. } if resource.name == name)
        })
    };
    let directory_group = |name: &str| -> Result<Vec<NodeId>, String> {
        match graph.find(NodeKind::Group, name) {
            Some(node) => Ok(vec![node]),
            None if created_here(name) => Ok(Vec::new()),
            None => Err(unknown(format!("group \"{name}\""))),
        }
    };
    match (&op.kind, system) {
        // Creating a resource gives nobody anything; its grants are reviewed one by one. Changing a declared
        // resource's settings changes what its holders may do there, not which services they reach. A new
        // account holds nothing yet: its grants, too, are reviewed one by one.
        (
            OpKind::CreateResource { .. }
            | OpKind::UpdateResource { .. }
            | OpKind::CreateAccount { .. },
            _,
        ) => Ok((Vec::new(), Vec::new())),
        // Switching an account back on makes everything it holds reachable again.
        (OpKind::AccountAction { account, .. }, _) => Ok((Vec::new(), holder(account))),
        // A profile attribute gives access only through a rule that reads it (an Okta group rule),
        // and the graph does not hold rules' conditions.
        (OpKind::UpdateProfile { after, .. }, _) => Err(format!(
            "a rule reading {} would give what its groups reach; rules' conditions are not in the reachability graph",
            after.keys().cloned().collect::<Vec<_>>().join(", ")
        )),
        (
            OpKind::AddGrant {
                account, resource, ..
            },
            _,
        ) if is_directory && resource.kind.as_str() == "group" => {
            Ok((holder(account), directory_group(&resource.name)?))
        }
        (
            OpKind::AddGrant {
                account, resource, ..
            },
            _,
        ) if is_directory && resource.kind.as_str() == "app" => {
            let added = match graph.find(
                NodeKind::AppAccess,
                &app_access_key(false, &user_key(&account.login), &resource.name),
            ) {
                Some(access) => vec![access],
                // A first direct assignment has no access node yet: what the app gives any
                // holder alike (its dashboard scopes) is what it adds.
                None => shared_scopes(graph, &resource.name),
            };
            if added.is_empty() {
                return Err(format!(
                    "app \"{}\" leads nowhere the reachability configuration knows",
                    resource.name
                ));
            }
            Ok((holder(account), added))
        }
        (
            OpKind::AddGroupGrant {
                group, resource, ..
            }
            | OpKind::PushGroup {
                group, resource, ..
            },
            _,
        ) if is_directory && created_here(&group.name) => Ok((Vec::new(), Vec::new())),
        (
            OpKind::AddGroupGrant {
                group, resource, ..
            }
            | OpKind::PushGroup {
                group, resource, ..
            },
            _,
        ) if is_directory => Ok((
            graph
                .find(NodeKind::Group, &group.name)
                .into_iter()
                .collect(),
            found(
                graph
                    .find(
                        NodeKind::AppAccess,
                        &app_access_key(true, &group.name, &resource.name),
                    )
                    .into_iter()
                    .collect(),
                format!("app \"{}\" for group \"{}\"", resource.name, group.name),
            )?,
        )),
        (
            OpKind::AddGrant {
                account,
                resource,
                entitlement,
            },
            "aws",
        ) if resource.kind.as_str() == "account" => Ok((
            holder(account),
            found(
                aws_role(graph, &resource.id, entitlement),
                format!("permission set {entitlement} in account {}", resource.name),
            )?,
        )),
        (
            OpKind::AddGroupGrant {
                group,
                resource,
                entitlement,
            },
            "aws",
        ) => Ok((
            team(&group.name),
            found(
                aws_role(graph, &resource.id, entitlement),
                format!("permission set {entitlement} in account {}", resource.name),
            )?,
        )),
        (
            OpKind::AddGrant {
                account, resource, ..
            },
            "aws" | "github" | "gitlab",
        ) if matches!(resource.kind.as_str(), "group" | "team") => Ok((
            holder(account),
            found(
                team(&resource.name),
                format!("{system} {} \"{}\"", resource.kind, resource.name),
            )?,
        )),
        (
            OpKind::AddGrant {
                account, resource, ..
            },
            "github" | "gitlab",
        ) if matches!(resource.kind.as_str(), "repository" | "project") => Ok((
            holder(account),
            found(
                repository(graph, system, &resource.name),
                format!("{system} {} {}", resource.kind, resource.name),
            )?,
        )),
        (
            OpKind::AddGroupGrant {
                group, resource, ..
            },
            "github" | "gitlab",
        ) => Ok((
            team(&group.name),
            found(
                repository(graph, system, &resource.name),
                format!("{system} {} {}", resource.kind, resource.name),
            )?,
        )),
        (_, "") => Err(format!(
            "no reachability source covers connection {}",
            op.connection
        )),
        (_, system) => Err(format!(
            "no reachability source maps {system} {} grants to production",
            op.resource().kind
        )),
    }
}

/// The Identity Center role a permission set gives in an account.
fn aws_role(graph: &Graph, account: &str, permission_set: &str) -> Vec<NodeId> {
    graph
        .find(
            NodeKind::AwsRole,
            &role_key(account, &format!("AWSReservedSSO_{permission_set}_unknown")),
        )
        .into_iter()
        .collect()
}

/// A repository by its full path, or by its name alone (GitHub's resources are named without the
/// organisation).
fn repository(graph: &Graph, system: &str, name: &str) -> Vec<NodeId> {
    let key = format!("{system}:{}", name.to_lowercase());
    if let Some(node) = graph.find(NodeKind::Repository, &key) {
        return vec![node];
    }
    let suffix = format!("/{}", name.to_lowercase());
    let prefix = format!("{system}:");
    graph
        .nodes_of(NodeKind::Repository)
        .filter(|&n| graph.key(n).starts_with(&prefix) && graph.key(n).ends_with(&suffix))
        .collect()
}

/// For each operation of `plan` that widens access, in any system, what it adds to the holder's
/// production reach (or why nothing can be said); then every non-production system met, once.
pub fn review_plan(graph: &Graph, systems: &Systems, plan: &Plan) -> PlanReach {
    let mut searcher = Searcher::new(graph);
    let mut review = PlanReach::default();
    for op in plan.operations.iter().filter(|op| op.widens_access()) {
        let (held, added) = match change_of(graph, systems, Some(plan), op) {
            Ok(change) => change,
            Err(note) => {
                review.operations.push(OperationReach {
                    operation: op.id,
                    services: Vec::new(),
                    skipped: Vec::new(),
                    note: Some(note),
                });
                continue;
            }
        };
        let delta = searcher.delta(&held, &added);
        let report = delta_report(graph, "", &delta);
        for s in &report.skipped {
            if !review.skipped.iter().any(|k| k.what == s.what) {
                review.skipped.push(s.clone());
            }
        }
        review.operations.push(OperationReach {
            operation: op.id,
            services: report.services,
            skipped: report.skipped,
            note: None,
        });
    }
    review
}

/// The blast radius of a change that already happened (a System Log event, a grant drift found):
/// what the holder reaches only through it. The graph already holds the grant, so what the holder
/// had is everything they reach by their other ways in.
pub fn review_existing(
    graph: &Graph,
    systems: &Systems,
    op: &grantflow_model::Operation,
) -> OperationReach {
    let (held, added) = match change_of(graph, systems, None, op) {
        Ok(change) => change,
        Err(note) => {
            return OperationReach {
                operation: op.id,
                services: Vec::new(),
                skipped: Vec::new(),
                note: Some(note),
            };
        }
    };
    let others: Vec<NodeId> = held
        .iter()
        .flat_map(|&h| graph.out(h).map(|(to, _)| to))
        .filter(|to| !added.contains(to))
        .collect();
    // A path is drawn from the holder, so the holder starts the search through the change.
    let delta = Searcher::new(graph).delta(&others, &added);
    let report = delta_report(graph, "", &delta);
    OperationReach {
        operation: op.id,
        services: report.services,
        skipped: report.skipped,
        note: None,
    }
}
