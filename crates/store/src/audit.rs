//! The audit hash chain: append inside the caller's transaction, verify from
//! the first event to the recorded head.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::Backend;

use crate::{Result, timestamp};

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

pub(crate) async fn append(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    now: DateTime<Utc>,
    actor: &str,
    action: AuditAction,
    subject: &str,
    details: serde_json::Value,
) -> Result<AuditEvent> {
    let action = action.as_str();
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
    let seq = prev_seq + 1;
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
        &prev_hash,
    ]);
    sqlx::query(
        "INSERT INTO audit_events (seq, id, at, actor, action, subject, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(seq)
    .bind(&id)
    .bind(&at)
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(&details_text)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO audit_head (singleton, seq, hash) VALUES (1, $1, $2)
         ON CONFLICT (singleton) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )
    .bind(seq)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    Ok(AuditEvent {
        seq,
        id,
        at,
        actor: actor.to_string(),
        action: action.to_string(),
        subject: subject.to_string(),
        details,
        prev_hash,
        hash,
    })
}

struct RawEvent {
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

async fn raw_events(pool: &AnyPool) -> Result<Vec<RawEvent>> {
    let rows = sqlx::query(
        "SELECT seq, id, at, actor, action, subject, details, prev_hash, hash FROM audit_events ORDER BY seq",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
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
        })
        .collect()
}

pub(crate) async fn all(pool: &AnyPool) -> Result<Vec<AuditEvent>> {
    Ok(raw_events(pool)
        .await?
        .into_iter()
        .map(|raw| AuditEvent {
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
        })
        .collect())
}

/// Walks the chain from the first event: every event must follow the one
/// before it (sequence and previous hash), hash to what it records, and the
/// last one must be the recorded head.
pub(crate) async fn verify(pool: &AnyPool) -> Result<Verification> {
    let events = raw_events(pool).await?;
    let mut expected_prev = GENESIS.to_string();
    let mut expected_seq = 1;
    for event in &events {
        let broken = |reason: String| Verification::Broken {
            seq: event.seq,
            id: event.id.clone(),
            reason,
        };
        if event.seq != expected_seq {
            return Ok(broken(format!(
                "expected event #{expected_seq} here, found #{}: events are missing or reordered",
                event.seq
            )));
        }
        if event.prev_hash != expected_prev {
            return Ok(broken(
                "its previous-hash does not match the event before it: events were removed or reordered"
                    .to_string(),
            ));
        }
        let recomputed = event_hash([
            &event.seq.to_string(),
            &event.id,
            &event.at,
            &event.actor,
            &event.action,
            &event.subject,
            &event.details,
            &event.prev_hash,
        ]);
        if recomputed != event.hash {
            return Ok(broken(
                "its content does not match its hash: the event was edited".to_string(),
            ));
        }
        expected_prev = event.hash.clone();
        expected_seq += 1;
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE singleton = 1")
        .fetch_optional(pool)
        .await?;
    if let Some(row) = head {
        let head_seq: i64 = row.try_get("seq")?;
        let head_hash: String = row.try_get("hash")?;
        if head_seq != expected_seq - 1 || head_hash != expected_prev {
            return Ok(Verification::Broken {
                seq: head_seq,
                id: String::new(),
                reason: format!(
                    "the chain ends at event #{} but the recorded head is event #{head_seq}: the newest events were removed",
                    expected_seq - 1
                ),
            });
        }
    } else if !events.is_empty() {
        return Ok(Verification::Broken {
            seq: 0,
            id: String::new(),
            reason: "the recorded head of the chain is missing".to_string(),
        });
    }
    Ok(Verification::Intact {
        events: events.len(),
        head: expected_prev,
    })
}
