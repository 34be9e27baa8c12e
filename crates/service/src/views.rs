//! What a reader sees: people and their access in every system, the
//! connections and their last sync, a stored plan's review and progress,
//! and production-reach queries. Read-only; each is what the HTTP API and
//! the console render.

use grantflow_graph::review::{self, HolderReport, ReachReport};
use grantflow_graph::{Searcher, Target};
use grantflow_model::LifecycleState;
use grantflow_store::{Approval, Job};
use serde::Serialize;

use crate::directory::Directory;
use crate::{Proposal, Result, Service, ServiceError};
use std::sync::Arc;

/// A person of the directory, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct PersonSummary {
    pub email: String,
    pub login: String,
    pub display_name: String,
    pub status: String,
    pub state: LifecycleState,
}

/// One account of a person in one system, with what it holds.
#[derive(Debug, Clone, Serialize)]
pub struct PersonAccount {
    pub connection: String,
    pub system: String,
    pub account_id: String,
    pub login: String,
    pub status: String,
    pub state: LifecycleState,
    pub grants: Vec<PersonGrant>,
}

/// One entitlement an account holds, and how.
#[derive(Debug, Clone, Serialize)]
pub struct PersonGrant {
    pub resource_kind: String,
    pub resource: String,
    pub entitlement: String,
    /// `direct`, `group` (through a group the account is in) or `rule`.
    pub source: String,
}

/// A person and their accounts and grants in every system.
#[derive(Debug, Clone, Serialize)]
pub struct PersonAccess {
    #[serde(flatten)]
    pub person: PersonSummary,
    pub accounts: Vec<PersonAccount>,
    /// The person's HR facts from an HRIS connection (`person.hris` in conditions), when one knows them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hris: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A connection and its last sync.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionStatus {
    pub name: String,
    pub system: String,
    /// `synced`, `failing` (the newest attempt failed) or `never_synced`.
    pub status: String,
    pub last_sync: Option<LastSync>,
    /// The newest failure, when it is newer than the last good sync.
    pub last_failure: Option<SyncFailure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastSync {
    pub id: String,
    pub finished_at: chrono::DateTime<chrono::Utc>,
    pub accounts: i64,
    pub resources: i64,
    pub grants: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncFailure {
    pub at: String,
    pub message: String,
}

/// A stored plan under review: the proposal (changes by person, reach,
/// notes), where it stands, and its approval.
#[derive(Debug, Clone)]
pub struct PlanView {
    pub proposal: Proposal,
    pub status: String,
    pub approval: Option<Approval>,
}

/// A stored plan's jobs.
#[derive(Debug, Clone)]
pub struct PlanProgress {
    pub plan_id: String,
    pub status: String,
    pub jobs: Vec<Job>,
}

/// A production-reach question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReachQuery {
    Group(String),
    User(String),
    App(String),
    /// What joining `group` adds to what `user` reaches.
    Delta {
        user: String,
        group: String,
    },
    /// Who reaches a service.
    Service(String),
}

/// The answer to a reach question.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ReachAnswer {
    Report(ReachReport),
    Holders(Vec<HolderReport>),
}

impl Service {
    /// The directory's people in email order, those whose email, login or
    /// name contains `q` (case-insensitively).
    pub async fn people(&self, q: Option<&str>) -> Result<Vec<PersonSummary>> {
        Ok(self.directory().await?.matching(q, None).cloned().collect())
    }

    /// A page of [`Service::people`]: at most `limit` people after the email
    /// `after`, and whether more follow.
    pub async fn people_page(
        &self,
        q: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<PersonSummary>, bool)> {
        let directory = self.directory().await?;
        let mut page: Vec<PersonSummary> = directory
            .matching(q, after)
            .take(limit.saturating_add(1))
            .cloned()
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        Ok((page, more))
    }

    /// The directory indexed for the actual state, built once per state.
    pub(crate) async fn directory(&self) -> Result<Arc<Directory>> {
        let actual = self.actual_state().await?;
        let mut cache = self.people_cache.lock().await;
        if let Some(directory) = cache.as_ref()
            && Arc::ptr_eq(directory.state(), &actual)
        {
            return Ok(directory.clone());
        }
        let directory =
            Arc::new(
                Directory::build(actual).map_err(|message| ServiceError::Refused {
                    code: "not_synced",
                    message,
                })?,
            );
        *cache = Some(directory.clone());
        Ok(directory)
    }

    /// One person and, in every synced system, the accounts matched to them
    /// (by work email, then the configured fallbacks) with their grants.
    pub async fn person(&self, email: &str) -> Result<PersonAccess> {
        let directory = self.directory().await?;
        directory.person(email).ok_or_else(|| {
            ServiceError::NotFound(format!(
                "nobody with the email {email} in the directory ({})",
                directory.state().directory
            ))
        })
    }

    /// Every configured connection and how its last sync went.
    pub async fn connections(&self) -> Result<Vec<ConnectionStatus>> {
        let syncs = self.store.latest_sync_summaries().await?;
        let mut out = Vec::new();
        for (name, connector) in &self.connectors {
            let last = syncs.iter().find(|s| s.connection == name.as_str());
            let failure = self.store.last_sync_failure(name.as_str()).await?;
            let failure = failure.filter(|event| {
                last.is_none_or(|s| {
                    chrono::DateTime::parse_from_rfc3339(&event.at)
                        .is_ok_and(|at| at > s.finished_at)
                })
            });
            let status = match (last, &failure) {
                (_, Some(_)) => "failing",
                (Some(_), None) => "synced",
                (None, None) => "never_synced",
            };
            out.push(ConnectionStatus {
                name: name.to_string(),
                system: connector.describe().system.to_string(),
                status: status.to_string(),
                last_sync: last.map(|s| LastSync {
                    id: s.id.clone(),
                    finished_at: s.finished_at,
                    accounts: s.accounts,
                    resources: s.resources,
                    grants: s.grants,
                }),
                last_failure: failure.map(|event| SyncFailure {
                    message: event
                        .details
                        .get("message")
                        .and_then(|m| m.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    at: event.at,
                }),
            });
        }
        Ok(out)
    }

    /// A stored plan for review: its changes person by person, the
    /// production reach they add, where it stands and its approval.
    pub async fn plan_view(&self, plan_id: &str) -> Result<PlanView> {
        let stored = self.store.stored_plan(plan_id).await?;
        let actual = self.actual_state().await?;
        let reach = self.review_reach(&stored.plan, &actual).await?;
        let people = grantflow_planner::by_person(&stored.plan, &actual);
        let warnings = stored.plan.review.notes.clone();
        Ok(PlanView {
            proposal: Proposal {
                plan: stored.plan,
                reach,
                people,
                stored: true,
                warnings,
            },
            status: stored.status,
            approval: self.store.approval(plan_id).await?,
        })
    }

    /// The state of every job of a stored plan.
    pub async fn plan_progress(&self, plan_id: &str) -> Result<PlanProgress> {
        let stored = self.store.stored_plan(plan_id).await?;
        Ok(PlanProgress {
            plan_id: plan_id.to_string(),
            status: stored.status,
            jobs: self.store.jobs(plan_id).await?,
        })
    }

    /// Answers a production-reach question; `None` without a
    /// `reachability:` section.
    pub async fn reach(&self, query: &ReachQuery) -> Result<Option<ReachAnswer>> {
        let Some(graph) = self.graph().await? else {
            return Ok(None);
        };
        let unknown =
            |e: grantflow_graph::review::QueryError| ServiceError::NotFound(e.to_string());
        let mut searcher = Searcher::new(&graph);
        let answer = match query {
            ReachQuery::Service(name) => {
                ReachAnswer::Holders(review::who_reaches(&graph, name).map_err(unknown)?)
            }
            ReachQuery::Delta { user, group } => {
                let held = Target::User(user.clone()).starts(&graph).map_err(unknown)?;
                let added = Target::Group(group.clone())
                    .starts(&graph)
                    .map_err(unknown)?;
                let delta = searcher.delta(&held, &added);
                ReachAnswer::Report(review::delta_report(
                    &graph,
                    &format!("adding {user} to group \"{group}\""),
                    &delta,
                ))
            }
            ReachQuery::Group(name) => {
                reach_of(&graph, &mut searcher, Target::Group(name.clone()))?
            }
            ReachQuery::User(login) => {
                reach_of(&graph, &mut searcher, Target::User(login.clone()))?
            }
            ReachQuery::App(label) => reach_of(&graph, &mut searcher, Target::App(label.clone()))?,
        };
        Ok(Some(answer))
    }
}

fn reach_of(
    graph: &grantflow_graph::Graph,
    searcher: &mut Searcher<'_>,
    target: Target,
) -> Result<ReachAnswer> {
    let starts = target
        .starts(graph)
        .map_err(|e| ServiceError::NotFound(e.to_string()))?;
    let reach = searcher.reach(&starts);
    Ok(ReachAnswer::Report(review::reach_report(
        graph,
        &target.to_string(),
        &reach,
    )))
}
