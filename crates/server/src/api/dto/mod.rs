//! The API's request and response bodies, as the OpenAPI document
//! describes them. Each is made from a service type; nested parts whose
//! shape belongs to another crate (a plan's operations, a reach report)
//! are JSON objects as that crate serialises them.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

mod connections;
pub use connections::*;

fn text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// As the audit trail records it: `token:<name>`.
    pub actor: String,
    /// `admin`, `approver`, `requester`, `auditor`, `viewer`, `operator:<connection>`.
    pub roles: Vec<String>,
}

impl From<&grantflow_service::Actor> for Me {
    fn from(actor: &grantflow_service::Actor) -> Self {
        Self {
            actor: actor.id.clone(),
            roles: actor
                .roles
                .iter()
                .map(grantflow_service::access::role_name)
                .collect(),
        }
    }
}

/// Paging of a list: `cursor` is a previous answer's `next_cursor`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Where the previous page ended (its `next_cursor`).
    pub cursor: Option<String>,
    /// How many items (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// How to sync.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// Read everything again instead of the changes since the last sync.
    #[serde(default)]
    pub full: bool,
}

/// How to apply.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplyQuery {
    /// The plan's id again, to let it past the safety rail (audited as
    /// `plan.mass_removal_allowed`).
    pub allow_mass_removal: Option<String>,
    /// The plan's id again, to let the accounts a leaver plan retires (and what is removed from
    /// them) past the safety rail; every other removal still counts (audited as
    /// `plan.leaver_allowed`).
    pub allow_leavers: Option<String>,
}

/// What a drift check found and did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriftChecked {
    /// Drift findings open after the check.
    pub findings: usize,
    /// Findings first seen in this check, and ones no longer found.
    pub opened: Vec<String>,
    pub resolved: Vec<String>,
    /// The plan applied at once (policies in `auto` mode).
    pub remediated_plan: Option<String>,
    /// The plan waiting for an approver.
    pub awaiting_approval: Option<String>,
    /// Why the automatic plan was held for approval instead (safety rail).
    pub held_back: Option<String>,
}

impl From<&grantflow_service::drift::Checked> for DriftChecked {
    fn from(checked: &grantflow_service::drift::Checked) -> Self {
        DriftChecked {
            findings: checked.report.drift().count(),
            opened: checked.opened.clone(),
            resolved: checked.resolved.clone(),
            remediated_plan: checked.remediated.as_ref().map(|r| r.plan.clone()),
            awaiting_approval: checked.awaiting_approval.clone(),
            held_back: checked.held_back.clone(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeopleQuery {
    /// Only people whose email, login or name contains this (any case).
    pub q: Option<String>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// A person of the directory.
#[derive(Debug, Serialize, ToSchema)]
pub struct Person {
    pub email: String,
    pub login: String,
    pub display_name: String,
    /// The directory's own status (for Okta: ACTIVE, SUSPENDED, …).
    pub status: String,
    /// The common lifecycle state: active, pending, locked, suspended, deprovisioned, …
    pub state: String,
}

impl From<grantflow_service::views::PersonSummary> for Person {
    fn from(p: grantflow_service::views::PersonSummary) -> Self {
        Self {
            state: text(&p.state),
            email: p.email,
            login: p.login,
            display_name: p.display_name,
            status: p.status,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeoplePage {
    pub items: Vec<Person>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One entitlement an account holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeldGrant {
    pub resource_kind: String,
    pub resource: String,
    pub entitlement: String,
    /// `direct`, `group` (through a group) or `rule`: what the system says.
    pub source: String,
    /// Why the account holds it.
    pub origin: GrantOrigin,
}

/// Where a grant comes from: a policy, a group, a rule, an approved request until a time, or by hand.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantOrigin {
    /// `policy`, `request`, `group`, `rule`, `by_hand`, or `direct` when the policies could not be
    /// evaluated (the person's `policy_problem` says why).
    pub kind: String,
    /// In words: "policy payments-oncall", "request r-…, until 2026-12-05 09:00 UTC", "group Platform",
    /// "by hand".
    pub text: String,
    /// The policies that want it (kind `policy`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// The request that gave it (kind `request`) …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// … and when that access ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// The group it is held through (kind `group`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The system's rule that made it (kind `rule`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl From<grantflow_service::views::GrantOrigin> for GrantOrigin {
    fn from(origin: grantflow_service::views::GrantOrigin) -> Self {
        use grantflow_service::views::GrantOrigin as Origin;
        let mut out = GrantOrigin {
            kind: origin.kind().to_string(),
            text: origin.to_string(),
            policies: Vec::new(),
            request: None,
            until: None,
            group: None,
            rule: None,
        };
        match origin {
            Origin::Policy { policies } => out.policies = policies,
            Origin::Request { request, until } => {
                out.request = Some(request);
                out.until = Some(until);
            }
            Origin::Group { group } => out.group = Some(group),
            Origin::Rule { rule } => out.rule = Some(rule),
            Origin::ByHand | Origin::Direct => {}
        }
        out
    }
}

/// A person's account in one system.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonAccount {
    pub connection: String,
    pub system: String,
    pub account_id: String,
    pub login: String,
    pub status: String,
    pub state: String,
    pub grants: Vec<HeldGrant>,
}

/// A person and their accounts and grants in every system.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonAccess {
    pub person: Person,
    pub accounts: Vec<PersonAccount>,
    /// The person's HR facts from an HRIS connection (BambooHR), as conditions see them in `person.hris`:
    /// `start_date`, `end_date`, `status`, `department`, `title`, `manager_email`, `location`, … Absent when
    /// no HRIS knows the person.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub hris: Option<serde_json::Map<String, serde_json::Value>>,
    /// Why the policies could not be evaluated for this person (a policy file that does not load, a
    /// condition that cannot be decided); direct grants then have the origin `direct`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_problem: Option<String>,
}

impl From<grantflow_service::views::PersonAccess> for PersonAccess {
    fn from(access: grantflow_service::views::PersonAccess) -> Self {
        Self {
            person: access.person.into(),
            hris: access.hris,
            policy_problem: access.policy_problem,
            accounts: access
                .accounts
                .into_iter()
                .map(|a| PersonAccount {
                    state: text(&a.state),
                    connection: a.connection,
                    system: a.system,
                    account_id: a.account_id,
                    login: a.login,
                    status: a.status,
                    grants: a
                        .grants
                        .into_iter()
                        .map(|g| HeldGrant {
                            resource_kind: g.resource_kind,
                            resource: g.resource,
                            entitlement: g.entitlement,
                            source: g.source,
                            origin: g.origin.into(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// One part of the reachability graph and where it comes from.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReachSource {
    /// What it feeds (e.g. "AWS IAM Identity Center", "Kubernetes prod-eks").
    pub part: String,
    /// `connection <name> (<system>)` or `file <path>`.
    pub origin: String,
    /// The connection's last sync, or the file's modification time.
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether the graph reads it.
    pub used: bool,
    /// Why it is not read, or that it is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Okta System Log events: one, or a list as `GET /api/v1/logs` returns.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SystemLogEvents {
    #[schema(value_type = Vec<Object>)]
    Many(Vec<serde_json::Value>),
    #[schema(value_type = Object)]
    One(serde_json::Map<String, serde_json::Value>),
}

impl From<SystemLogEvents> for serde_json::Value {
    fn from(events: SystemLogEvents) -> Self {
        match events {
            SystemLogEvents::Many(list) => serde_json::Value::Array(list),
            SystemLogEvents::One(event) => serde_json::Value::Object(event),
        }
    }
}

/// What changes that already happened opened in production.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsReach {
    /// One per change: `what` (the change, in words) and `reach` (the services it opened, the
    /// non-production systems it leads to, or a note saying why the graph cannot tell).
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReachSources {
    pub items: Vec<ReachSource>,
}

impl From<grantflow_service::reach::ReachSource> for ReachSource {
    fn from(s: grantflow_service::reach::ReachSource) -> Self {
        Self {
            part: s.part,
            origin: s.origin,
            as_of: s.as_of,
            used: s.used,
            note: s.note,
        }
    }
}

/// A sync just made.
#[derive(Debug, Serialize, ToSchema)]
pub struct Synced {
    pub connection: String,
    pub sync_id: String,
    /// Change events read, for an incremental sync; absent for a full one.
    pub change_events: Option<u64>,
    pub accounts: i64,
    pub resources: i64,
    pub grants: i64,
}

/// Where the plan comes from: every policy.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanSource {
    Policies,
}

/// `{"from": "policies"}` plans every policy (administrators);
/// `{"request": "add lena to the slack channel X"}` plans one change in the
/// words `grantflow do` understands (requesters; it then waits for an approver);
/// `{"action": {"connection": "okta", "verb": "reset-mfa", "who": "lena@…"}}`
/// plans one account action, as `grantflow action` does (the same approval).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum NewPlan {
    #[schema(title = "FromPolicies")]
    FromPolicies { from: PlanSource },
    #[schema(title = "FromRequest")]
    FromRequest { request: String },
    #[schema(title = "FromAction")]
    FromAction { action: AccountAction },
}

/// One action on one account, as `grantflow action` takes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountAction {
    /// The connection the account is in.
    pub connection: String,
    /// `activate`, `reactivate`, `suspend`, `unsuspend`, `unlock`,
    /// `deactivate`, `delete`, `reset_password`, `expire_password`,
    /// `reset_mfa`, `clear_sessions`, `assign-app`, `remove-app` or
    /// `push-group` (as the connection's system offers them).
    pub verb: String,
    /// A login, email or id (a group name for `push-group`).
    pub who: String,
    /// The app label for `assign-app`, `remove-app` and `push-group`.
    #[serde(default)]
    pub app: Option<String>,
    /// `push-group`: the group's name in the app (default: the same name).
    #[serde(default)]
    pub target_name: Option<String>,
    /// `key=value` options of the action.
    #[serde(default)]
    pub options: Vec<String>,
}

impl From<AccountAction> for grantflow_service::ActionRequest {
    fn from(action: AccountAction) -> Self {
        Self {
            connection: action.connection,
            verb: action.verb,
            who: action.who,
            app: action.app,
            target_name: action.target_name,
            options: action.options,
        }
    }
}

/// A plan as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanSummary {
    pub id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub origin: String,
    /// `reviewed` (never started), `queued` or `finished`.
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlansPage {
    pub items: Vec<PlanSummary>,
    pub next_cursor: Option<String>,
}

/// A plan's approval.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanApproval {
    pub requested_by: String,
    pub reason: String,
    pub approved_by: Option<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<grantflow_store::Approval> for PlanApproval {
    fn from(a: grantflow_store::Approval) -> Self {
        Self {
            requested_by: a.requested_by,
            reason: a.reason,
            approved_by: a.approved_by,
            expires_at: a.expires_at,
        }
    }
}

/// A plan for review: its operations, grouped by person, the production
/// reach they add, and warnings.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanReview {
    pub id: String,
    pub origin: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// `reviewed`, `queued` or `finished`; `not_stored` when nothing was left to do.
    pub status: String,
    /// The operations, in order, as the planner describes them.
    #[schema(value_type = Vec<Object>)]
    pub operations: Vec<serde_json::Value>,
    /// The changes grouped by person (then unmatched accounts, then resources).
    #[schema(value_type = Vec<Object>)]
    pub people: Vec<serde_json::Value>,
    /// The production reach widening changes add (when reachability is configured).
    #[schema(value_type = Option<Object>)]
    pub reach: Option<serde_json::Value>,
    pub warnings: Vec<String>,
    /// What the planner noticed and did not plan (already in effect, ambiguous matches, time-bound grants
    /// left until they end).
    pub notes: Vec<String>,
    pub approval: Option<PlanApproval>,
}

impl PlanReview {
    pub fn new(
        proposal: &grantflow_service::Proposal,
        status: String,
        approval: Option<grantflow_store::Approval>,
    ) -> Self {
        Self {
            id: proposal.plan.id.clone(),
            origin: proposal.plan.origin.clone(),
            created_at: proposal.plan.created_at,
            status,
            operations: proposal.plan.operations.iter().map(json).collect(),
            people: proposal.people.iter().map(json).collect(),
            reach: proposal.reach.as_ref().map(json),
            warnings: proposal.warnings.clone(),
            notes: proposal.plan.review.notes.clone(),
            approval: approval.map(Into::into),
        }
    }
}

/// An approval just given.
#[derive(Debug, Serialize, ToSchema)]
pub struct Approved {
    pub plan_id: String,
    pub approved_by: Option<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A plan handed to the worker.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    pub plan_id: String,
    /// `queued`.
    pub status: String,
    /// Where to follow it.
    pub progress: String,
}

/// One operation's job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobState {
    pub operation: u32,
    pub natural_key: String,
    /// pending, running, succeeded, failed, skipped, waiting, retrying.
    pub state: String,
    pub attempts: u32,
    pub outcome: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub wait_reason: Option<String>,
    pub updated_at: String,
}

/// A plan's jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanProgress {
    pub plan_id: String,
    pub status: String,
    /// Every operation has ended (succeeded, failed or skipped).
    pub done: bool,
    pub jobs: Vec<JobState>,
}

impl From<grantflow_service::views::PlanProgress> for PlanProgress {
    fn from(p: grantflow_service::views::PlanProgress) -> Self {
        Self {
            done: p.jobs.iter().all(|j| j.state.is_final()),
            plan_id: p.plan_id,
            status: p.status,
            jobs: p
                .jobs
                .into_iter()
                .map(|j| JobState {
                    operation: j.op_id,
                    natural_key: j.natural_key,
                    state: j.state.as_str().to_string(),
                    attempts: j.attempts,
                    outcome: j.outcome,
                    error_code: j.error_code,
                    error_message: j.error_message,
                    wait_reason: j.wait_reason,
                    updated_at: j.updated_at,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindingsQuery {
    /// Only findings in this connection.
    pub connection: Option<String>,
    /// Only findings of this kind (missing_grant, unexpected_grant, orphan_account, …).
    pub kind: Option<String>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// An open drift finding.
#[derive(Debug, Serialize, ToSchema)]
pub struct Finding {
    pub key: String,
    pub connection: String,
    pub kind: String,
    /// Who, which resource, the policies and the mode, as the drift check recorded them.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub first_seen: chrono::DateTime<chrono::Utc>,
    pub last_seen: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FindingsPage {
    pub items: Vec<Finding>,
    pub next_cursor: Option<String>,
}

/// A reach question: one of `group`, `user`, `app`, `service`; or `user`
/// and `group` together for what joining the group adds.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReachParams {
    /// What an Okta group reaches.
    pub group: Option<String>,
    /// What a person (login) reaches.
    pub user: Option<String>,
    /// What an app reaches for its holders.
    pub app: Option<String>,
    /// Who reaches a service.
    pub service: Option<String>,
}

/// A reach answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReachAnswer {
    /// The question, in words.
    pub query: String,
    /// Paths to production services (for group, user, app and delta questions).
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
    /// Who reaches the service (for a service question).
    #[schema(value_type = Option<Vec<Object>>)]
    pub holders: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events of this action (`plan.created`, `token.revoked`, …).
    pub action: Option<String>,
    /// Only events by this actor (`token:ci`, `grantflow:worker`, …).
    pub actor: Option<String>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// One event of the hash chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    pub seq: i64,
    pub id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<grantflow_store::AuditEvent> for AuditEvent {
    fn from(e: grantflow_store::AuditEvent) -> Self {
        Self {
            seq: e.seq,
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            details: e.details,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPage {
    pub items: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

/// The chain checked from the first event to the head, and against every
/// signed checkpoint when they are configured.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditVerification {
    pub intact: bool,
    /// Events in the chain (when intact).
    pub events: Option<u64>,
    /// The head's hash (when intact).
    pub head: Option<String>,
    /// The first broken event's sequence number.
    pub broken_at: Option<i64>,
    pub reason: Option<String>,
    /// Checkpoints the chain was checked against; absent when none are configured.
    pub checkpoints_checked: Option<u64>,
    /// Checkpoint records that were refused, and why.
    pub rejected_checkpoints: Vec<String>,
}

/// A token to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// 1–64 letters, digits, `-`, `_`, `.`; recorded as `token:<name>`.
    pub name: String,
    /// `admin`, `approver`, `requester`, `auditor`, `viewer`, `operator:<connection>`.
    pub roles: Vec<String>,
    /// How long it lives: `30d`, `12h`, `90m` (at most 366 days).
    pub expires_in: String,
    /// The person (an email) the token acts for: its requests and reviews are theirs.
    #[serde(default)]
    pub person: Option<String>,
}

/// A token, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub roles: Vec<String>,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The person the token acts for.
    pub person: Option<String>,
}

impl From<grantflow_store::TokenRecord> for Token {
    fn from(t: grantflow_store::TokenRecord) -> Self {
        Self {
            id: t.id,
            name: t.name,
            roles: t.roles,
            created_by: t.created_by,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
            person: t.person,
        }
    }
}

/// A new token, with the secret shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub record: Token,
    /// `gft_<id>_<secret>`: send as `Authorization: Bearer <token>`. Shown only now.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Tokens {
    pub items: Vec<Token>,
}

/// Which requests to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    /// `pending`, `approved`, `active`, `done`, `ended`, `denied` or `expired`.
    pub state: Option<String>,
    /// How many (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// A request to make: exactly one of `request` (a grant in words, as `grantflow do` understands them),
/// `action` (an account action) or `bundle` (a bundle's name), with a reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccessRequest {
    #[serde(default)]
    pub request: Option<String>,
    #[serde(default)]
    pub action: Option<AccountAction>,
    #[serde(default)]
    pub bundle: Option<String>,
    /// Who a bundle is for (an email); default: the caller's own person.
    #[serde(default, rename = "for")]
    pub for_person: Option<String>,
    /// Why the access is needed.
    pub reason: String,
    /// How long the access lasts: `8h`, `30m`, `2d`; omitted: until removed.
    #[serde(default)]
    pub duration: Option<String>,
    /// A ticket reference.
    #[serde(default)]
    pub ticket: Option<String>,
    /// Take a break-glass bundle now, reviewed afterwards.
    #[serde(default)]
    pub break_glass: bool,
}

/// A reviewer's comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecision {
    #[serde(default)]
    pub comment: Option<String>,
}

/// A request: what was asked, for whom, why, its chain of stages with their decisions, what reviewers are
/// shown (`review`: production reach, separation-of-duties conflicts, what the person holds), its state and
/// plans; with `events` (its timeline) when read alone.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessRequest {
    pub id: String,
    pub requester: String,
    pub subject: String,
    pub summary: String,
    pub asked: serde_json::Value,
    pub reason: String,
    pub ticket: Option<String>,
    pub duration_seconds: Option<u64>,
    pub rule: String,
    /// `pending`, `approved`, `active`, `done`, `ended`, `denied`, `expired`.
    pub state: String,
    pub break_glass: bool,
    pub stage: Option<u32>,
    pub stages: Vec<serde_json::Value>,
    pub plan_id: Option<String>,
    pub end_plan_id: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub pending_until: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub review: serde_json::Value,
    pub can_review: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<serde_json::Value>>,
}

/// Requests the caller may see.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestsPage {
    #[schema(value_type = Vec<AccessRequest>)]
    pub items: Vec<serde_json::Value>,
}
