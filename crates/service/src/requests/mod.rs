//! Access requests: someone asks for a grant, an account action or a
//! bundle, with a reason and optionally a time limit; the approval rule that
//! covers it (policy files' `approvals:`) names the chain of reviews; once
//! every stage approved, the plan is made and queued; time-bound access ends
//! on the request's own durable timer (`timers.rs`).
//!
//! Invariants: the requester, and the person the access is for, never
//! review it, in any stage or channel; a request becomes a plan only once
//! approved; every change of a request's state is one compare-and-set in the
//! store with its audit event.

mod chain;
mod read;
mod review;
mod slack;
mod sod;
mod timers;

pub use chain::ChainStage;
pub use sod::ConflictVerdict;
pub use timers::TickReport;

use std::time::Duration;

use chrono::{DateTime, Utc};
use grantflow_model::{OpKind, Plan};
use grantflow_planner::ActualState;
use grantflow_policy::PolicySet;
use grantflow_store::{AuditAction, RequestRecord};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::access::{self, Permission};
use crate::{ActionRequest, Actor, Result, Service, ServiceError};

/// Who grantflow acts as when it fulfils and ends requests.
pub const REQUESTS_ACTOR: &str = "grantflow:requests";

/// What is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Asked {
    /// A grant in words, as `grantflow do` understands them.
    Change { text: String },
    /// An account action (reset MFA, unlock, suspend, …).
    Action(ActionRequest),
    /// A bundle declared in policy.
    Bundle { name: String },
}

impl Asked {
    fn kind(&self) -> &'static str {
        match self {
            Asked::Change { .. } => "change",
            Asked::Action(_) => "action",
            Asked::Bundle { .. } => "bundle",
        }
    }

    fn describe(&self) -> String {
        match self {
            Asked::Change { text } => text.clone(),
            Asked::Action(action) => format!(
                "{} {} in {}",
                action.verb.replace('_', "-"),
                action.who,
                action.connection
            ),
            Asked::Bundle { name } => format!("bundle \"{name}\""),
        }
    }
}

/// A request as someone makes it.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub asked: Asked,
    /// Who the access is for (an email); default: the requester's own person.
    pub for_person: Option<String>,
    pub reason: String,
    pub duration: Option<Duration>,
    pub ticket: Option<String>,
    /// Take a break-glass bundle now, reviewed afterwards.
    pub break_glass: bool,
}

/// A request as people see it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    pub id: String,
    pub requester: String,
    /// Who the access or action is for.
    pub subject: String,
    pub asked: Value,
    pub summary: String,
    pub reason: String,
    pub ticket: Option<String>,
    pub duration_seconds: Option<u64>,
    /// The approval rule that decides it (`default`: one approver).
    pub rule: String,
    /// `pending`, `approved`, `active` (time-bound, in force), `done`, `ended`, `denied`, `expired`.
    pub state: String,
    pub break_glass: bool,
    /// The stage waiting for reviews, while pending.
    pub stage: Option<usize>,
    pub stages: Vec<StageView>,
    pub plan_id: Option<String>,
    pub end_plan_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub pending_until: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// What reviewers are shown: the production reach of the plan it would make, separation-of-duties
    /// conflicts, and what the person already holds.
    pub review: Value,
    /// Whether the caller may approve or deny it now.
    pub can_review: bool,
}

/// One stage with its decisions so far.
#[derive(Debug, Clone, Serialize)]
pub struct StageView {
    #[serde(flatten)]
    pub stage: ChainStage,
    pub escalated: bool,
    pub decisions: Vec<Decision>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub reviewer: String,
    pub actor: String,
    pub decision: String,
    pub channel: String,
    pub comment: String,
    pub at: DateTime<Utc>,
}

/// A request and everything that happened to it.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    #[serde(flatten)]
    pub request: RequestView,
    pub events: Vec<grantflow_store::AuditEvent>,
}

/// A reviewer's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Deny,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Deny => "deny",
        }
    }
}

fn chain_of(record: &RequestRecord) -> Vec<ChainStage> {
    serde_json::from_value(record.chain.clone()).unwrap_or_default()
}

fn refused(code: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::Refused {
        code,
        message: message.into(),
    }
}

impl Service {
    fn request_policies(&self) -> Result<PolicySet> {
        let path = &self.config.policies;
        // Without policy files there are no rules: every request takes the default review.
        let has_files = path.is_file()
            || std::fs::read_dir(path).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    e.path()
                        .extension()
                        .is_some_and(|x| x == "yaml" || x == "yml")
                })
            });
        if !has_files {
            return Ok(PolicySet::default());
        }
        PolicySet::load(path).map_err(|d| ServiceError::Policy(d.to_string()))
    }

    /// The plan a request would make, not stored and not checked live.
    fn draft(
        &self,
        actor: &Actor,
        asked: &Asked,
        subject: &str,
        policies: &PolicySet,
        actual: &ActualState,
    ) -> Result<Plan> {
        let now = self.now();
        let plan = match asked {
            Asked::Change { text } => {
                let request = grantflow_planner::parse_request(text)
                    .map_err(|e| ServiceError::Invalid(e.to_string()))?;
                grantflow_planner::plan_request(&request, actual, now)
                    .map_err(|e| ServiceError::Invalid(e.to_string()))?
            }
            Asked::Action(action) => self.action_plan(actor, action, actual)?,
            Asked::Bundle { name } => {
                let bundle = bundle_named(policies, name)?;
                grantflow_planner::plan_grants(
                    subject,
                    &bundle.grants,
                    actual,
                    &format!("bundle \"{}\" for {subject}", bundle.name),
                    now,
                )
                .map_err(|e| ServiceError::Invalid(e.to_string()))?
            }
        };
        self.refuse_unsupported(&plan)?;
        Ok(plan)
    }

    /// Refuses a plan asked for directly (`POST /plans` with words or an
    /// action) when an approval rule covers it: that takes a request, so the
    /// rule's reviewers decide — whoever asks, administrators too.
    pub(crate) async fn refuse_what_a_rule_covers(
        &self,
        actor: &Actor,
        asked: &Asked,
    ) -> Result<()> {
        let policies = self.request_policies()?;
        if policies.approvals.is_empty() {
            return Ok(());
        }
        let actual = self.actual_state().await?;
        let subject = match asked {
            Asked::Change { text } => grantflow_planner::parse_request(text)
                .map(|r| r.user)
                .unwrap_or_default(),
            Asked::Action(action) => action.who.clone(),
            Asked::Bundle { .. } => return Ok(()),
        };
        // What cannot be planned is refused by the planner, with its own words.
        let Ok(plan) = self.draft(actor, asked, &subject, &policies, &actual) else {
            return Ok(());
        };
        let email = self
            .subject_of(
                actor,
                &NewRequest {
                    asked: asked.clone(),
                    for_person: None,
                    reason: String::new(),
                    duration: None,
                    ticket: None,
                    break_glass: false,
                },
                &actual,
            )
            .unwrap_or(subject);
        let asks = chain::Asks {
            bundle: None,
            action: match asked {
                Asked::Action(action) => Some(action.verb.as_str()),
                _ => None,
            },
            plan: &plan,
        };
        let rule = chain::rule_for(
            &policies,
            &asks,
            &person_value(&actual, &email),
            &chain::groups_of(&actual, &email),
        )
        .map_err(ServiceError::Policy)?;
        match rule {
            Some(rule) => Err(refused(
                "request_required",
                format!(
                    "approval rule \"{}\" covers this: ask for it as a request (POST /api/v1/requests, `grantflow request ask`) so its reviewers decide",
                    rule.name
                ),
            )),
            None => Ok(()),
        }
    }

    /// The grants a request asks for, held already or not.
    fn requested_ops(
        &self,
        asked: &Asked,
        subject: &str,
        policies: &PolicySet,
        actual: &ActualState,
    ) -> Result<Vec<(OpKind, grantflow_model::ConnectionName)>> {
        let invalid = |e: grantflow_planner::RequestError| ServiceError::Invalid(e.to_string());
        Ok(match asked {
            Asked::Change { text } => {
                let request = grantflow_planner::parse_request(text).map_err(invalid)?;
                grantflow_planner::requested_grant(&request, actual)
                    .map_err(invalid)?
                    .into_iter()
                    .collect()
            }
            Asked::Bundle { name } => {
                let bundle = bundle_named(policies, name)?;
                grantflow_planner::requested_grants(subject, &bundle.grants, actual)
                    .map_err(invalid)?
            }
            Asked::Action(_) => vec![],
        })
    }

    /// Asks for access or an action. Validated and resolved now (who it is
    /// for, the plan it would make, the chain of reviews, what reviewers will
    /// be shown), stored as pending, or approved at once by the rule's
    /// `auto_approve` (then its plan is made and queued).
    pub async fn submit_request(&self, actor: &Actor, new: &NewRequest) -> Result<RequestView> {
        access::authorize(actor, &Permission::PlanFromRequest)?;
        if new.reason.trim().is_empty() {
            return Err(ServiceError::Invalid(
                "a request needs a reason: say why the access is needed".into(),
            ));
        }
        let policies = self.request_policies()?;
        let actual = self.actual_state().await?;
        let subject = self.subject_of(actor, new, &actual)?;
        let plan = self.draft(actor, &new.asked, &subject, &policies, &actual)?;
        let mut extends = None;
        let plan = if plan.operations.is_empty() {
            // Held already: an extension when a time-bound request holds all of it.
            let wanted = self.requested_ops(&new.asked, &subject, &policies, &actual)?;
            let now = self.now();
            let holders: Vec<String> = wanted
                .iter()
                .filter_map(|(kind, connection)| match kind {
                    OpKind::AddGrant {
                        account,
                        resource,
                        entitlement,
                    } => actual
                        .held_until(
                            connection,
                            &account.id,
                            &resource.id,
                            entitlement,
                            Some(now),
                        )
                        .map(|t| t.request.clone()),
                    _ => None,
                })
                .collect();
            if wanted.is_empty() || holders.len() != wanted.len() {
                return Err(refused(
                    "nothing_to_do",
                    format!(
                        "{}: nothing to ask for ({})",
                        new.asked.describe(),
                        plan.review.notes.join("; ")
                    ),
                ));
            }
            if new.duration.is_none() {
                return Err(ServiceError::Invalid(format!(
                    "{} is held until request {} ends: an extension asks for a duration",
                    new.asked.describe(),
                    holders[0]
                )));
            }
            extends = holders.first().cloned();
            grantflow_planner::plan_changes(
                wanted
                    .into_iter()
                    .map(|(kind, connection)| (kind, connection, vec![plan.origin.clone()]))
                    .collect(),
                &actual,
                &plan.origin,
                now,
                vec![format!("extends time-bound request {}", holders[0])],
            )
            .map_err(crate::plans::policy_error)?
        } else {
            plan
        };
        let directory = self.directory().await?;
        let holds = directory
            .person(&subject)
            .map(|p| serde_json::to_value(p.accounts).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        let person_value = person_value(&actual, &subject);
        let groups = chain::groups_of(&actual, &subject);
        let asks = chain::Asks {
            bundle: match &new.asked {
                Asked::Bundle { name } => Some(name.as_str()),
                _ => None,
            },
            action: match &new.asked {
                Asked::Action(action) => Some(action.verb.as_str()),
                _ => None,
            },
            plan: &plan,
        };
        let rule = chain::rule_for(&policies, &asks, &person_value, &groups)
            .map_err(ServiceError::Policy)?;
        let reach = self.review_reach(&plan, &actual).await?;
        let reach_value = reach_summary(reach.as_ref());
        let ops: Vec<_> = plan.operations.iter().collect();
        let conflicts = self.conflicts_after(&policies, &subject, &ops, &directory)?;
        if let Some(blocking) = conflicts.iter().find(|c| c.blocking) {
            return Err(refused(
                "sod_conflict",
                format!(
                    "{} would hold both sides of the separation-of-duties rule \"{}\"; the request is refused",
                    subject, blocking.name
                ),
            ));
        }

        let now = self.now();
        let mut duration = new.duration;
        let mut break_glass = None;
        let (rule_name, chain, pending_expiry) = if new.break_glass {
            let Asked::Bundle { name } = &new.asked else {
                return Err(ServiceError::Invalid(
                    "break-glass is for bundles declared with `break_glass:`".into(),
                ));
            };
            let bundle = bundle_named(&policies, name)?;
            let Some(glass) = &bundle.break_glass else {
                return Err(refused(
                    "not_break_glass",
                    format!("bundle \"{}\" is not a break-glass bundle", bundle.name),
                ));
            };
            if !actor.is_person(&subject) {
                return Err(refused(
                    "not_break_glass",
                    "break-glass access is taken by the person who needs it, for themselves",
                ));
            }
            let allowed = glass
                .who
                .evaluate_with(&serde_json::Map::from_iter([(
                    "person".to_string(),
                    person_value.clone(),
                )]))
                .map_err(|e| ServiceError::Policy(format!("bundle \"{}\": {e}", bundle.name)))?;
            if !allowed {
                return Err(ServiceError::Forbidden(format!(
                    "{subject} may not take break-glass bundle \"{}\" (its `who` does not match)",
                    bundle.name
                )));
            }
            let max = glass.max_duration;
            duration = Some(duration.map_or(max, |d| d.min(max)));
            let stage = grantflow_policy::Stage {
                name: "after-the-fact review".into(),
                reviewers: glass.reviewers.clone(),
                approvals: 1,
                sla: None,
                escalate_to: None,
            };
            let rule = grantflow_policy::ApprovalRule {
                name: format!("break-glass {}", bundle.name),
                file: bundle.file.clone(),
                targets: vec![],
                stages: vec![stage],
                auto_approve: None,
                owners: vec![],
                max_duration: Some(max),
                pending_expiry: grantflow_policy::DEFAULT_PENDING_EXPIRY,
                duration_required: true,
            };
            let chain = chain::resolve_chain(&rule, &actual, &subject, actor.person.as_deref())
                .map_err(|m| refused("no_reviewers", m))?;
            break_glass = Some(glass);
            (rule.name, chain, rule.pending_expiry)
        } else {
            match rule {
                Some(rule) => {
                    if let Some(max) = rule.max_duration {
                        match duration {
                            Some(d) if d > max => {
                                return Err(refused(
                                    "duration_too_long",
                                    format!(
                                        "approval rule \"{}\" grants at most {}; ask for less",
                                        rule.name,
                                        human(max)
                                    ),
                                ));
                            }
                            None if rule.duration_required => duration = Some(max),
                            _ => {}
                        }
                    }
                    let chain =
                        chain::resolve_chain(rule, &actual, &subject, actor.person.as_deref())
                            .map_err(|m| refused("no_reviewers", m))?;
                    (rule.name.clone(), chain, rule.pending_expiry)
                }
                None => (
                    "default".to_string(),
                    chain::default_chain(),
                    grantflow_policy::DEFAULT_PENDING_EXPIRY,
                ),
            }
        };
        if let Some(d) = duration
            && d < Duration::from_secs(60)
        {
            return Err(ServiceError::Invalid(
                "time-bound access lasts at least one minute".into(),
            ));
        }

        let request_value = json!({
            "kind": new.asked.kind(),
            "requester": actor.id,
            "ticket": new.ticket.clone().unwrap_or_default(),
            "duration_seconds": duration.map(|d| d.as_secs()).unwrap_or(0),
            "systems": plan.operations.iter().map(|o| o.connection.to_string()).collect::<Vec<_>>(),
            "resources": plan.operations.iter().filter_map(|o| match &o.kind {
                OpKind::AddGrant { resource, .. } | OpKind::RemoveGrant { resource, .. } => Some(resource.name.clone()),
                _ => None,
            }).collect::<Vec<_>>(),
            "actions": plan.operations.iter().map(|o| o.verb().to_string()).collect::<Vec<_>>(),
        });
        let auto = match (rule, new.break_glass) {
            (Some(rule), false) => match &rule.auto_approve {
                Some(condition) => condition
                    .evaluate_with(&serde_json::Map::from_iter([
                        ("person".to_string(), person_value.clone()),
                        ("request".to_string(), request_value.clone()),
                        ("reach".to_string(), reach_value.clone()),
                    ]))
                    .map_err(|e| {
                        ServiceError::Policy(format!(
                            "approval rule \"{}\", auto_approve: {e}",
                            rule.name
                        ))
                    })?,
                None => false,
            },
            _ => false,
        };
        if !auto && !new.break_glass && chain.is_empty() {
            return Err(refused(
                "not_approved",
                format!(
                    "approval rule \"{rule_name}\" approves only what its auto_approve allows, and this request is not"
                ),
            ));
        }
        let id = format!("r-{}", uuid::Uuid::now_v7().simple());
        let review = json!({
            "extends": extends,
            "reach": reach,
            "reaches_production": reach_value["production"],
            "conflicts": conflicts,
            "holds": holds,
            "notes": plan.review.notes,
        });
        let state = if auto || new.break_glass {
            "approved"
        } else {
            "pending"
        };
        let record = RequestRecord {
            id: id.clone(),
            requester: actor.id.clone(),
            requester_person: actor.person.clone(),
            subject: subject.clone(),
            kind: new.asked.kind().to_string(),
            body: serde_json::to_value(&new.asked).unwrap_or(Value::Null),
            reason: new.reason.trim().to_string(),
            ticket: new.ticket.clone().filter(|t| !t.trim().is_empty()),
            duration_ms: duration.map(|d| d.as_millis() as i64),
            rule: rule_name.clone(),
            chain: serde_json::to_value(&chain).unwrap_or(Value::Null),
            stage: 0,
            stage_started_at: now,
            escalated: false,
            state: state.to_string(),
            break_glass: new.break_glass,
            plan_id: None,
            end_plan_id: None,
            grants: json!([]),
            review,
            created_at: now,
            updated_at: now,
            pending_until: now
                + chrono::Duration::from_std(pending_expiry).unwrap_or(chrono::Duration::days(7)),
            expires_at: None,
        };
        let submitted = json!({
            "asked": record.body,
            "subject": subject,
            "reason": record.reason,
            "ticket": record.ticket,
            "duration_seconds": duration.map(|d| d.as_secs()),
            "rule": rule_name,
            "stages": chain.iter().map(|s| &s.name).collect::<Vec<_>>(),
            "break_glass": new.break_glass,
        });
        let decided = if new.break_glass {
            Some((
                AuditAction::RequestBreakGlass,
                json!({"subject": subject, "notify": break_glass.map(|g| format!("{}#{}", g.notify.system, g.notify.channel))}),
            ))
        } else if auto {
            Some((
                AuditAction::RequestApproved,
                json!({"by": "auto_approve", "rule": rule_name, "request": request_value, "reach": reach_value}),
            ))
        } else {
            None
        };
        self.store
            .insert_request(&record, submitted, decided)
            .await?;
        // After the request's transaction: a flow sees the request as stored.
        self.start_request_flows_logged(&id, grantflow_workflows::RequestMoment::Submitted)
            .await;
        if let Some(glass) = break_glass {
            self.notify(
                &glass.notify,
                &format!(
                    ":rotating_light: Break-glass: {} took \"{}\" for {} ({}). Request {id}; an after-the-fact review is open.",
                    actor.person.as_deref().unwrap_or(&actor.id),
                    new.asked.describe(),
                    duration.map(human).unwrap_or_default(),
                    record.reason
                ),
            )
            .await;
        }
        if state == "approved" {
            self.fulfil(&id).await?;
        }
        let view = self.request_view(actor, &id).await?;
        let said = if view.stage.is_some() {
            slack::Announce::AwaitingReview
        } else {
            slack::Announce::Decided
        };
        self.announce(&view, said).await;
        Ok(view)
    }

    /// The person a request is for: named, or the requester's own.
    fn subject_of(&self, actor: &Actor, new: &NewRequest, actual: &ActualState) -> Result<String> {
        let named = match &new.asked {
            Asked::Change { text } => {
                let request = grantflow_planner::parse_request(text)
                    .map_err(|e| ServiceError::Invalid(e.to_string()))?;
                Some(request.user)
            }
            Asked::Action(action) => Some(action.who.clone()),
            Asked::Bundle { .. } => new.for_person.clone().or_else(|| actor.person.clone()),
        };
        let Some(named) = named else {
            return Err(ServiceError::Invalid(
                "say who the bundle is for (`for`): this caller is not a person".into(),
            ));
        };
        let directory = actual
            .snapshots
            .get(&actual.directory)
            .ok_or_else(|| refused("not_synced", "the directory has not been synced yet"))?;
        let person = directory
            .account_by_login_or_email(&named)
            .or_else(|| {
                // "lena" as `do` understands it: a unique start of a login.
                let lower = named.to_lowercase();
                let found: Vec<_> = directory
                    .accounts
                    .iter()
                    .filter(|a| {
                        a.login.to_lowercase().starts_with(&format!("{lower}."))
                            || a.login.to_lowercase().starts_with(&format!("{lower}@"))
                    })
                    .collect();
                (found.len() == 1).then(|| found[0])
            })
            .ok_or_else(|| {
                ServiceError::Invalid(format!(
                    "no person \"{named}\" in the directory {} (as of the last sync)",
                    actual.directory
                ))
            })?;
        Ok(person
            .email
            .clone()
            .unwrap_or_else(|| person.login.clone())
            .to_lowercase())
    }

    /// Says `text` in a chat channel; a failure is logged, never fatal (the
    /// request stands whether or not the message got through).
    async fn notify(&self, notify: &grantflow_policy::NotifyDoc, text: &str) {
        let connection = grantflow_model::ConnectionName::new(notify.system.clone());
        let Some(connector) = self.connectors.get(&connection) else {
            tracing::warn!(message = "No such connection to notify.", connection = %connection);
            return;
        };
        let Some(chat) = connector.chat() else {
            tracing::warn!(message = "The connection cannot post messages.", connection = %connection);
            return;
        };
        // People write channel names; the API takes ids (from the last sync).
        let channel = match self.actual_state().await {
            Ok(actual) => actual
                .snapshots
                .get(&connection)
                .and_then(|s| s.resource_by_name("channel", notify.channel.trim_start_matches('#')))
                .map(|r| r.id.clone())
                .unwrap_or_else(|| notify.channel.clone()),
            Err(_) => notify.channel.clone(),
        };
        if let Err(error) = chat.post(&channel, text, &[]).await {
            tracing::warn!(message = "Could not notify the channel.", connection = %connection, channel = %notify.channel, error = %error);
        }
    }
}

/// A grant a request gives, as its row keeps it.
fn grant_json(connection: &grantflow_model::ConnectionName, kind: &OpKind) -> Option<Value> {
    match kind {
        OpKind::AddGrant {
            account,
            resource,
            entitlement,
        } => Some(json!({
            "connection": connection.as_str(),
            "account_id": account.id,
            "login": account.login,
            "resource_id": resource.id,
            "resource_kind": resource.kind.0,
            "resource": resource.name,
            "entitlement": entitlement,
        })),
        _ => None,
    }
}

fn bundle_named<'p>(policies: &'p PolicySet, name: &str) -> Result<&'p grantflow_policy::Bundle> {
    policies
        .bundles
        .iter()
        .find(|b| b.name.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| {
            ServiceError::NotFound(format!(
                "no bundle named \"{name}\" (declared: {})",
                policies
                    .bundles
                    .iter()
                    .map(|b| format!("\"{}\"", b.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// Whether the request is the actor's own, or about them.
fn involves(actor: &Actor, record: &RequestRecord) -> bool {
    record.requester == actor.id
        || actor.is_person(&record.subject)
        || record
            .requester_person
            .as_deref()
            .is_some_and(|p| actor.is_person(p))
}

/// The `person` rules see: the directory's attributes of `email`.
fn person_value(actual: &ActualState, email: &str) -> Value {
    grantflow_planner::directory_people(actual)
        .ok()
        .and_then(|people| {
            people
                .into_iter()
                .find(|p| p.email.eq_ignore_ascii_case(email))
        })
        .map(|p| grantflow_policy::person_value(&p))
        .unwrap_or_else(|| json!({"email": email}))
}

/// The `reach` rules see: whether the plan reaches production, and which services.
fn reach_summary(reach: Option<&grantflow_graph::PlanReach>) -> Value {
    let mut services: Vec<String> = reach
        .map(|r| {
            r.operations
                .iter()
                .flat_map(|o| o.services.iter().map(|s| s.service.clone()))
                .collect()
        })
        .unwrap_or_default();
    services.sort();
    services.dedup();
    json!({
        "production": !services.is_empty(),
        "services": services,
        "known": reach.is_some(),
    })
}

fn human(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds.is_multiple_of(86_400) {
        format!("{}d", seconds / 86_400)
    } else if seconds.is_multiple_of(3_600) {
        format!("{}h", seconds / 3_600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}
