//! The audit hash chain: append inside the caller's transaction, verify from
//! the first event to the recorded head.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::Backend;

use crate::{Result, StoreError, timestamp};

/// The hash that precedes the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an audit event records. The stored text of each (`as_str`) is part of
/// the chain's hashed content and of exports: it never changes once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuditAction {
    /// `sync.completed`: A connection was synced and its snapshot stored.
    SyncCompleted,
    /// `sync.failed`: A sync of a connection failed.
    SyncFailed,
    /// `plan.created`: A plan was stored with one pending job per operation.
    PlanCreated,
    /// `plan.confirmed`: A person confirmed a plan.
    PlanConfirmed,
    /// `plan.declined`: A person declined a plan.
    PlanDeclined,
    /// `plan.approval_requested`: A plan waits for someone's approval.
    PlanApprovalRequested,
    /// `plan.approved`: Someone other than the requester approved a plan.
    PlanApproved,
    /// `plan.removals_reserved`: A plan's removals were counted against the rolling-window safety rail.
    PlanRemovalsReserved,
    /// `plan.mass_removal_allowed`: A plan over the mass-removal safety rail was allowed by name.
    PlanMassRemovalAllowed,
    /// `plan.leaver_allowed`: A leaver plan's retirements (and the removals from the accounts it
    /// retires) went past the safety rail by the leaver allowance naming it; its other removals still counted.
    PlanLeaverAllowed,
    /// `plan.refused`: The gate refused a plan (stale, lapsed approval, safety rail, …).
    PlanRefused,
    /// `plan.tampered`: A stored plan no longer matches its digest.
    PlanTampered,
    /// `plan.queued`: A plan's jobs were queued for execution.
    PlanQueued,
    /// `plan.requeued`: A plan's unfinished jobs were queued again.
    PlanRequeued,
    /// `plan.finished`: Every job of a plan reached a final state.
    PlanFinished,
    /// `operation.attempt`: An operation is about to be sent to its system.
    OperationAttempt,
    /// `operation.succeeded`: An operation took effect (or was already in effect).
    OperationSucceeded,
    /// `operation.failed`: An operation failed for good.
    OperationFailed,
    /// `operation.skipped`: An operation was not attempted because one it depends on failed.
    OperationSkipped,
    /// `operation.waiting`: An operation waits for an outside event until a deadline.
    OperationWaiting,
    /// `operation.retry_scheduled`: An operation failed transiently and will be tried again.
    OperationRetryScheduled,
    /// `drift.finding_opened`: A drift finding was seen for the first time (or again after being resolved).
    DriftFindingOpened,
    /// `drift.finding_resolved`: A drift finding is no longer seen.
    DriftFindingResolved,
    /// `audit.exported`: The audit trail was exported.
    AuditExported,
    /// `token.created`: An administrator created an API token (its name, roles and expiry; never the secret).
    TokenCreated,
    /// `token.revoked`: An API token was revoked.
    TokenRevoked,
    /// `api.refused`: The HTTP API refused a call (who, which route, why; never the token).
    ApiRefused,
    /// `signin.succeeded`: A person signed in through OpenID Connect (with the roles they got).
    SignInSucceeded,
    /// `signin.failed`: A sign-in was refused (why; never a code, token or secret).
    SignInFailed,
    /// `signin.signed_out`: A person ended their session.
    SignedOut,
    /// `request.submitted`: Someone asked for access or an action (what, for whom, why, the chain it needs).
    RequestSubmitted,
    /// `request.reviewed`: A reviewer approved or denied a request in one stage.
    RequestReviewed,
    /// `request.escalated`: A stage's SLA passed; its escalation reviewers may decide too.
    RequestEscalated,
    /// `request.approved`: Every stage approved (or a rule approved it at once); its plan is made.
    RequestApproved,
    /// `request.denied`: A reviewer denied a request, or it would create a blocking conflict.
    RequestDenied,
    /// `request.expired`: Nobody decided before the request's wait ran out.
    RequestExpired,
    /// `request.ended`: Time-bound access ended: its grants removed (or kept, when a policy grants them).
    RequestEnded,
    /// `request.break_glass`: Someone took a break-glass bundle without prior approval.
    RequestBreakGlass,
    /// `flow.run_started`: A workflow run started (which flow, its version, the trigger and its event's key).
    FlowRunStarted,
    /// `flow.step`: A workflow step acted on a system (a connector operation, an HTTP call), or failed doing so.
    FlowStep,
    /// `flow.run_finished`: A workflow run ended (succeeded or failed, with the error).
    FlowRunFinished,
}

impl AuditAction {
    /// Every action, in declaration order.
    pub const ALL: &'static [AuditAction] = &[
        AuditAction::SyncCompleted,
        AuditAction::SyncFailed,
        AuditAction::PlanCreated,
        AuditAction::PlanConfirmed,
        AuditAction::PlanDeclined,
        AuditAction::PlanApprovalRequested,
        AuditAction::PlanApproved,
        AuditAction::PlanRemovalsReserved,
        AuditAction::PlanMassRemovalAllowed,
        AuditAction::PlanLeaverAllowed,
        AuditAction::PlanRefused,
        AuditAction::PlanTampered,
        AuditAction::PlanQueued,
        AuditAction::PlanRequeued,
        AuditAction::PlanFinished,
        AuditAction::OperationAttempt,
        AuditAction::OperationSucceeded,
        AuditAction::OperationFailed,
        AuditAction::OperationSkipped,
        AuditAction::OperationWaiting,
        AuditAction::OperationRetryScheduled,
        AuditAction::DriftFindingOpened,
        AuditAction::DriftFindingResolved,
        AuditAction::AuditExported,
        AuditAction::TokenCreated,
        AuditAction::TokenRevoked,
        AuditAction::ApiRefused,
        AuditAction::SignInSucceeded,
        AuditAction::SignInFailed,
        AuditAction::SignedOut,
        AuditAction::RequestSubmitted,
        AuditAction::RequestReviewed,
        AuditAction::RequestEscalated,
        AuditAction::RequestApproved,
        AuditAction::RequestDenied,
        AuditAction::RequestExpired,
        AuditAction::RequestEnded,
        AuditAction::RequestBreakGlass,
        AuditAction::FlowRunStarted,
        AuditAction::FlowStep,
        AuditAction::FlowRunFinished,
    ];

    /// The text stored in the chain and exports.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditAction::SyncCompleted => "sync.completed",
            AuditAction::SyncFailed => "sync.failed",
            AuditAction::PlanCreated => "plan.created",
            AuditAction::PlanConfirmed => "plan.confirmed",
            AuditAction::PlanDeclined => "plan.declined",
            AuditAction::PlanApprovalRequested => "plan.approval_requested",
            AuditAction::PlanApproved => "plan.approved",
            AuditAction::PlanRemovalsReserved => "plan.removals_reserved",
            AuditAction::PlanMassRemovalAllowed => "plan.mass_removal_allowed",
            AuditAction::PlanLeaverAllowed => "plan.leaver_allowed",
            AuditAction::PlanRefused => "plan.refused",
            AuditAction::PlanTampered => "plan.tampered",
            AuditAction::PlanQueued => "plan.queued",
            AuditAction::PlanRequeued => "plan.requeued",
            AuditAction::PlanFinished => "plan.finished",
            AuditAction::OperationAttempt => "operation.attempt",
            AuditAction::OperationSucceeded => "operation.succeeded",
            AuditAction::OperationFailed => "operation.failed",
            AuditAction::OperationSkipped => "operation.skipped",
            AuditAction::OperationWaiting => "operation.waiting",
            AuditAction::OperationRetryScheduled => "operation.retry_scheduled",
            AuditAction::DriftFindingOpened => "drift.finding_opened",
            AuditAction::DriftFindingResolved => "drift.finding_resolved",
            AuditAction::AuditExported => "audit.exported",
            AuditAction::TokenCreated => "token.created",
            AuditAction::TokenRevoked => "token.revoked",
            AuditAction::ApiRefused => "api.refused",
            AuditAction::SignInSucceeded => "signin.succeeded",
            AuditAction::SignInFailed => "signin.failed",
            AuditAction::SignedOut => "signin.signed_out",
            AuditAction::RequestSubmitted => "request.submitted",
            AuditAction::RequestReviewed => "request.reviewed",
            AuditAction::RequestEscalated => "request.escalated",
            AuditAction::RequestApproved => "request.approved",
            AuditAction::RequestDenied => "request.denied",
            AuditAction::RequestExpired => "request.expired",
            AuditAction::RequestEnded => "request.ended",
            AuditAction::RequestBreakGlass => "request.break_glass",
            AuditAction::FlowRunStarted => "flow.run_started",
            AuditAction::FlowStep => "flow.step",
            AuditAction::FlowRunFinished => "flow.run_finished",
        }
    }

    /// The action a stored text names, if this version knows it (a chain
    /// written by a newer version may hold others).
    pub fn parse(text: &str) -> Option<AuditAction> {
        AuditAction::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == text)
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<AuditAction> for String {
    fn eq(&self, other: &AuditAction) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<AuditAction> for str {
    fn eq(&self, other: &AuditAction) -> bool {
        self == other.as_str()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    pub id: String,
    pub at: String,
    /// Who acted: `cli:<user>`, `engine`, …
    pub actor: String,
    /// What happened: an [`AuditAction`]'s text (`sync.completed`,
    /// `plan.created`, …). Kept as stored, so a chain holding an action this
    /// version does not know still reads and verifies.
    pub action: String,
    /// What it happened to: a connection, a plan id, a job.
    pub subject: String,
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq)]
pub enum Verification {
    Intact {
        events: usize,
        head: String,
    },
    Broken {
        seq: i64,
        id: String,
        reason: String,
    },
}

/// The hash of one event: over every field (sequence, id, time, actor,
/// action, subject, details, previous hash, in that order) encoded as a JSON
/// array of strings, so no field boundary is ambiguous.
fn event_hash(fields: [&str; 8]) -> String {
    let encoded = serde_json::to_string(&fields).unwrap_or_default();
    grantflow_model::sha256_hex(encoded.as_bytes())
}

/// One event waiting in an [`Appender`]: what is hashed and stored.
pub struct NewAuditEvent {
    pub actor: String,
    pub action: AuditAction,
    pub subject: String,
    pub details: serde_json::Value,
}

/// Events per INSERT when events are written in batches. Each INSERT binds one parameter, a
/// JSON array of the rows, that the database unpacks itself: sqlx's SQLite driver resolves every
/// bound parameter by name, a linear search per parameter, so nine parameters a row made a large
/// multi-row INSERT quadratic (three quarters of the time at 512 rows).
const ROWS_PER_INSERT: usize = 2_000;

/// An event as one INSERT row: seq, id, at, actor, action, subject, details, prev_hash, hash.
type StoredRow<'a> = (
    i64,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
);

/// The INSERT of a chunk, per database: the rows arrive as one JSON array of 9-element arrays.
const INSERT_SQLITE: &str =
    "INSERT INTO audit_events (seq, id, at, actor, action, subject, details, prev_hash, hash)
     SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
            json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
            json_extract(value, '$[6]'), json_extract(value, '$[7]'), json_extract(value, '$[8]')
     FROM json_each($1)";
const INSERT_POSTGRES: &str = "INSERT INTO audit_events (seq, id, at, actor, action, subject, details, prev_hash, hash)
     SELECT (row->>0)::bigint, row->>1, row->>2, row->>3, row->>4, row->>5, row->>6, row->>7, row->>8
     FROM json_array_elements($1::json) AS row";

/// Extends the chain inside one transaction: the head is read (and, on PostgreSQL, locked) once,
/// each pushed event is hashed onto the one before it in memory, and [`Appender::write`] stores
/// them with multi-row INSERTs and moves the head once. Events are only visible, and the head
/// only moves, when the caller's transaction commits, so a batch lands whole or not at all.
pub(crate) struct Appender {
    backend: Backend,
    next_seq: i64,
    prev_hash: String,
    /// Each event with the text of its details as hashed (and stored).
    events: Vec<(AuditEvent, String)>,
}

impl Appender {
    pub(crate) async fn open(
        tx: &mut Transaction<'static, Any>,
        backend: Backend,
    ) -> Result<Appender> {
        if backend == Backend::Postgres {
            // Writers on several machines append to one chain: take the chain's
            // lock for this transaction so heads are read and advanced in turn.
            // (SQLite has one writer; its transaction already serialises this.)
            sqlx::query("SELECT pg_advisory_xact_lock(7261626)")
                .execute(&mut **tx)
                .await?;
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE singleton = 1")
            .fetch_optional(&mut **tx)
            .await?;
        let (prev_seq, prev_hash) = match head {
            Some(row) => (
                row.try_get::<i64, _>("seq")?,
                row.try_get::<String, _>("hash")?,
            ),
            None => (0, GENESIS.to_string()),
        };
        Ok(Appender {
            backend,
            next_seq: prev_seq + 1,
            prev_hash,
            events: Vec::new(),
        })
    }

    pub(crate) fn push(
        &mut self,
        now: DateTime<Utc>,
        actor: &str,
        action: AuditAction,
        subject: &str,
        details: serde_json::Value,
    ) {
        let action = action.as_str();
        let seq = self.next_seq;
        let id = format!("e-{}", uuid::Uuid::now_v7().simple());
        let at = timestamp(now);
        let details_text = details.to_string();
        let hash = event_hash([
            &seq.to_string(),
            &id,
            &at,
            actor,
            action,
            subject,
            &details_text,
            &self.prev_hash,
        ]);
        let prev_hash = std::mem::replace(&mut self.prev_hash, hash.clone());
        self.next_seq += 1;
        let event = AuditEvent {
            seq,
            id,
            at,
            actor: actor.to_string(),
            action: action.to_string(),
            subject: subject.to_string(),
            details,
            prev_hash,
            hash,
        };
        self.events.push((event, details_text));
    }

    /// Stores every pushed event and moves the head to the last one.
    pub(crate) async fn write(self, tx: &mut Transaction<'static, Any>) -> Result<Vec<AuditEvent>> {
        let Some((last, _)) = self.events.last() else {
            return Ok(Vec::new());
        };
        let (head_seq, head_hash) = (last.seq, last.hash.clone());
        let insert = match self.backend {
            Backend::Sqlite => INSERT_SQLITE,
            Backend::Postgres => INSERT_POSTGRES,
        };
        for chunk in self.events.chunks(ROWS_PER_INSERT) {
            let rows: Vec<StoredRow> = chunk
                .iter()
                .map(|(event, details)| {
                    (
                        event.seq,
                        event.id.as_str(),
                        event.at.as_str(),
                        event.actor.as_str(),
                        event.action.as_str(),
                        event.subject.as_str(),
                        details.as_str(),
                        event.prev_hash.as_str(),
                        event.hash.as_str(),
                    )
                })
                .collect();
            let rows = serde_json::to_string(&rows).map_err(|source| StoreError::Corrupt {
                what: "audit events".to_string(),
                source,
            })?;
            sqlx::query(insert).bind(rows).execute(&mut **tx).await?;
        }
        sqlx::query(
            "INSERT INTO audit_head (singleton, seq, hash) VALUES (1, $1, $2)
             ON CONFLICT (singleton) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        )
        .bind(head_seq)
        .bind(head_hash)
        .execute(&mut **tx)
        .await?;
        Ok(self.events.into_iter().map(|(event, _)| event).collect())
    }
}

/// Appends one event inside the caller's transaction.
pub(crate) async fn append(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    now: DateTime<Utc>,
    actor: &str,
    action: AuditAction,
    subject: &str,
    details: serde_json::Value,
) -> Result<AuditEvent> {
    let mut appender = Appender::open(tx, backend).await?;
    appender.push(now, actor, action, subject, details);
    let mut written = appender.write(tx).await?;
    written.pop().ok_or_else(|| StoreError::CorruptRow {
        table: "audit_events",
        key: "head".to_string(),
        problem: "an appended event was not written".to_string(),
    })
}

pub(crate) struct RawEvent {
    seq: i64,
    id: String,
    at: String,
    actor: String,
    action: String,
    subject: String,
    details: String,
    prev_hash: String,
    hash: String,
}

pub(crate) const EVENT_COLUMNS: &str =
    "seq, id, at, actor, action, subject, details, prev_hash, hash";

pub(crate) fn raw_event(row: &sqlx::any::AnyRow) -> Result<RawEvent> {
    Ok(RawEvent {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        subject: row.try_get("subject")?,
        details: row.try_get("details")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

async fn raw_events(pool: &AnyPool) -> Result<Vec<RawEvent>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq"
    )))
    .fetch_all(pool)
    .await?;
    rows.iter().map(raw_event).collect()
}

pub(crate) async fn all(pool: &AnyPool) -> Result<Vec<AuditEvent>> {
    Ok(raw_events(pool)
        .await?
        .into_iter()
        .map(event_from_raw)
        .collect())
}

pub(crate) fn event_from_raw(raw: RawEvent) -> AuditEvent {
    AuditEvent {
        details: serde_json::from_str(&raw.details)
            .unwrap_or(serde_json::Value::String(raw.details.clone())),
        seq: raw.seq,
        id: raw.id,
        at: raw.at,
        actor: raw.actor,
        action: raw.action,
        subject: raw.subject,
        prev_hash: raw.prev_hash,
        hash: raw.hash,
    }
}

mod verify;

pub use verify::ChainAnchor;
pub(crate) use verify::{ChainSource, verify, verify_since};
