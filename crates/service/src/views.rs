//! What a reader sees: people and their access in every system, the
//! connections and their last sync, a stored plan's review and progress,
//! and production-reach queries. Read-only; each is what the HTTP API and
//! the console render.

use grantflow_graph::review::{self, HolderReport, ReachReport};
use grantflow_graph::{Searcher, Target};
use grantflow_model::{GrantSource, LifecycleState, Snapshot};
use grantflow_store::{Approval, Job};
use serde::Serialize;

use crate::{Proposal, Result, Service, ServiceError};
use grantflow_planner::ActualState;
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

fn source_name(source: &GrantSource) -> &'static str {
    match source {
        GrantSource::Direct => "direct",
        GrantSource::Group { .. } => "group",
        GrantSource::Rule { .. } => "rule",
    }
}

fn grants_of(snapshot: &Snapshot, account_id: &str) -> Vec<PersonGrant> {
    let mut grants: Vec<PersonGrant> = snapshot
        .grants
        .iter()
        .filter(|g| g.account_id == account_id)
        .map(|g| {
            let resource = snapshot.resource(&g.resource_id);
            PersonGrant {
                resource_kind: resource
                    .map(|r| r.kind.as_str().to_string())
                    .unwrap_or_default(),
                resource: resource
                    .map(|r| r.name.clone())
                    .unwrap_or_else(|| g.resource_id.clone()),
                entitlement: g.entitlement.clone(),
                source: source_name(&g.source).to_string(),
            }
        })
        .collect();
    grants.sort_by(|a, b| {
        (&a.resource_kind, &a.resource, &a.entitlement).cmp(&(
            &b.resource_kind,
            &b.resource,
            &b.entitlement,
        ))
    });
    grants
}

impl Service {
    /// The directory's people in email order, those whose email, login or
    /// name contains `q` (case-insensitively).
    pub async fn people(&self, q: Option<&str>) -> Result<Vec<PersonSummary>> {
        let everyone = self.everyone().await?;
        let q = q.map(str::to_lowercase);
        Ok(everyone
            .iter()
            .filter(|p| {
                q.as_deref().is_none_or(|q| {
                    p.email.to_lowercase().contains(q)
                        || p.login.to_lowercase().contains(q)
                        || p.display_name.to_lowercase().contains(q)
                })
            })
            .cloned()
            .collect())
    }

    /// Every person of the directory, by email, computed once per actual
    /// state: as listed, and as the planner sees them.
    async fn everyone(&self) -> Result<Arc<Vec<PersonSummary>>> {
        Ok(self.directory().await?.1)
    }

    async fn directory(
        &self,
    ) -> Result<(
        Arc<ActualState>,
        Arc<Vec<PersonSummary>>,
        Arc<Vec<grantflow_model::Person>>,
    )> {
        let actual = self.actual_state().await?;
        let mut cache = self.people_cache.lock().await;
        if let Some((state, listed, people)) = cache.as_ref()
            && Arc::ptr_eq(state, &actual)
        {
            return Ok((actual, listed.clone(), people.clone()));
        }
        let people =
            grantflow_planner::directory_people(&actual).map_err(|e| ServiceError::Refused {
                code: "not_synced",
                message: e.to_string(),
            })?;
        let mut listed: Vec<PersonSummary> = people
            .iter()
            .map(|p| PersonSummary {
                email: p.email.clone(),
                login: p.login.clone(),
                display_name: p.display_name.clone(),
                status: p.status.clone(),
                state: p.state,
            })
            .collect();
        listed.sort_by_key(|p| p.email.to_lowercase());
        let (listed, people) = (Arc::new(listed), Arc::new(people));
        *cache = Some((actual.clone(), listed.clone(), people.clone()));
        Ok((actual, listed, people))
    }

    /// One person and, in every synced system, the accounts matched to them
    /// (by work email, then the configured fallbacks) with their grants.
    pub async fn person(&self, email: &str) -> Result<PersonAccess> {
        let (actual, _, people) = self.directory().await?;
        let Some(person) = people
            .iter()
            .find(|p| p.email.eq_ignore_ascii_case(email))
            .cloned()
        else {
            return Err(ServiceError::NotFound(format!(
                "nobody with the email {email} in the directory ({})",
                actual.directory
            )));
        };
        let mut accounts = Vec::new();
        for (connection, snapshot) in &actual.snapshots {
            let correlated = grantflow_planner::correlate(
                snapshot,
                std::slice::from_ref(&person),
                &actual.correlation,
            );
            if let Some(account) = correlated.account_for(&person.email) {
                accounts.push(PersonAccount {
                    connection: connection.to_string(),
                    system: snapshot
                        .system
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    account_id: account.id.clone(),
                    login: account.login.clone(),
                    status: account.status.clone(),
                    state: account.state,
                    grants: grants_of(snapshot, &account.id),
                });
            }
        }
        Ok(PersonAccess {
            person: PersonSummary {
                email: person.email,
                login: person.login,
                display_name: person.display_name,
                status: person.status,
                state: person.state,
            },
            accounts,
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
