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
    /// `direct`, `group` (through a group the account is in) or `rule`: what the system says.
    pub source: String,
    /// Why the account holds it: a policy, a group, a rule, a request until a time, or by hand.
    pub origin: GrantOrigin,
}

/// Where a grant comes from, as people ask it: the system's own reason (a group, a rule) or, for a
/// grant on the account itself, grantflow's (a policy wants it, an approved request gave it until a
/// time) or nobody's (it was given by hand).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GrantOrigin {
    /// Wanted by these policies (their names).
    Policy { policies: Vec<String> },
    /// Given by this approved request, until then (time-bound access).
    Request {
        request: String,
        until: chrono::DateTime<chrono::Utc>,
    },
    /// Held through membership of this group (its name; its id when the last sync lacks it).
    Group { group: String },
    /// Made by the system's own automation (an Okta group rule, by id).
    Rule { rule: String },
    /// On the account itself, wanted by no policy and given by no request in force.
    ByHand,
    /// On the account itself; the policies could not be evaluated (`PersonAccess::policy_problem`
    /// says why), so whether one wants it is not known.
    Direct,
}

impl GrantOrigin {
    /// The kind alone: `policy`, `request`, `group`, `rule`, `by_hand` or `direct`.
    pub fn kind(&self) -> &'static str {
        match self {
            GrantOrigin::Policy { .. } => "policy",
            GrantOrigin::Request { .. } => "request",
            GrantOrigin::Group { .. } => "group",
            GrantOrigin::Rule { .. } => "rule",
            GrantOrigin::ByHand => "by_hand",
            GrantOrigin::Direct => "direct",
        }
    }
}

impl std::fmt::Display for GrantOrigin {
    /// "policy payments-oncall", "request r-…, until 2026-12-05 09:00 UTC", "group Platform",
    /// "rule 0pr…", "by hand", "direct (policies not evaluated)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GrantOrigin::Policy { policies } => {
                let word = if policies.len() == 1 {
                    "policy"
                } else {
                    "policies"
                };
                write!(f, "{word} {}", policies.join(", "))
            }
            GrantOrigin::Request { request, until } => {
                write!(
                    f,
                    "request {request}, until {}",
                    until.format("%Y-%m-%d %H:%M UTC")
                )
            }
            GrantOrigin::Group { group } => write!(f, "group {group}"),
            GrantOrigin::Rule { rule } => write!(f, "rule {rule}"),
            GrantOrigin::ByHand => f.write_str("by hand"),
            GrantOrigin::Direct => f.write_str("direct (policies not evaluated)"),
        }
    }
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
    /// Why the policies could not be evaluated for this person (a file that does not load, a condition
    /// that cannot be decided): direct grants then read [`GrantOrigin::Direct`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_problem: Option<String>,
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
    /// Each rate-limit bucket this process has heard of, in bucket order (empty before the first call).
    pub rate_limits: Vec<RateBudgetView>,
}

/// One rate-limit bucket of a connection, as this process knows it: what the vendor's last answer
/// announced (or, for a budget the vendor documents but does not announce, what was counted here).
/// In PostgreSQL mode every worker's answers are merged in before each call, so this is the tenant's
/// budget as of this process's last call to the bucket.
#[derive(Debug, Clone, Serialize)]
pub struct RateBudgetView {
    /// The vendor's bucket (Okta: `users`, `groups`, `apps`…; Slack: a method tier).
    pub bucket: String,
    /// Calls a window; `None` when no answer announced one (Slack and Google announce none).
    pub limit: Option<u64>,
    /// Calls left in this window; once the window has ended, the whole limit again.
    pub remaining: Option<u64>,
    /// When the window ends; `None` once it has ended (the next call starts a new one).
    pub reset: Option<chrono::DateTime<chrono::Utc>>,
    /// Calls of each window grantflow leaves for the tenant's other users.
    pub reserved: u64,
    pub in_flight: u64,
    /// A 429 said to send nothing to this bucket before then.
    pub held_until: Option<chrono::DateTime<chrono::Utc>>,
    /// The limit is the vendor's documented one, counted here rather than announced.
    pub documented: bool,
}

impl RateBudgetView {
    fn of(bucket: grantflow_connectors::BucketState, now: chrono::DateTime<chrono::Utc>) -> Self {
        let announced = bucket.limit > 0;
        // Past the reset the vendor has refilled the bucket; the stored figure is of a window gone.
        let current = bucket.reset > now;
        RateBudgetView {
            limit: announced.then_some(bucket.limit),
            remaining: announced.then_some(if current {
                bucket.remaining
            } else {
                bucket.limit
            }),
            reset: (announced && current).then_some(bucket.reset),
            reserved: bucket.reserved,
            in_flight: bucket.in_flight,
            held_until: bucket.held_until.filter(|until| *until > now),
            documented: bucket.documented,
            bucket: bucket.bucket,
        }
    }
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
    /// (by work email, then the configured fallbacks) with their grants and
    /// where each comes from.
    pub async fn person(&self, email: &str) -> Result<PersonAccess> {
        let directory = self.directory().await?;
        let not_found = || {
            ServiceError::NotFound(format!(
                "nobody with the email {email} in the directory ({})",
                directory.state().directory
            ))
        };
        let record = directory.record(email).ok_or_else(not_found)?;
        // A policy file that does not load must not hide the person's access: the page says why
        // direct grants are not attributed, and shows the rest.
        let wanted = self.wanted_by_policies(directory.state(), record);
        let mut access = directory
            .person_with(email, wanted.as_ref().ok(), Some(self.now()))
            .ok_or_else(not_found)?;
        access.policy_problem = wanted.err();
        Ok(access)
    }

    /// What the policies (`config.policies`, read now, as a plan reads them) want for one person:
    /// `desired_access` over this person alone, the planner's own answer to who should hold what.
    fn wanted_by_policies(
        &self,
        state: &grantflow_planner::ActualState,
        person: &grantflow_model::Person,
    ) -> std::result::Result<crate::directory::Wanted, String> {
        let policies = grantflow_policy::PolicySet::load(&self.config.policies)
            .map_err(|d| format!("the policies in {}: {d}", self.config.policies.display()))?;
        let state = grantflow_planner::with_declared(&policies, state);
        let desired =
            grantflow_planner::desired_access(&policies, &state, std::slice::from_ref(person))
                .map_err(|e| e.to_string())?;
        let mut wanted = crate::directory::Wanted::new();
        for ((connection, _account, resource, entitlement), positions) in desired.grants {
            let names = positions
                .iter()
                .filter_map(|at| policies.policies.get(*at))
                .map(|policy| policy.name.clone())
                .collect();
            wanted.insert(
                (
                    connection.clone(),
                    resource.to_string(),
                    entitlement.to_string(),
                ),
                names,
            );
        }
        Ok(wanted)
    }

    /// Every configured connection, how its last sync went, and its rate-limit budgets.
    pub async fn connections(&self) -> Result<Vec<ConnectionStatus>> {
        let syncs = self.store.latest_sync_summaries().await?;
        let now = self.now();
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
                rate_limits: self
                    .budgets
                    .buckets(name)
                    .into_iter()
                    .map(|bucket| RateBudgetView::of(bucket, now))
                    .collect(),
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
