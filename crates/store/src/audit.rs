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

/// A point the chain is known to have passed, from outside the database
/// (a signed checkpoint): event `seq` had hash `hash`. `seq` 0 is the empty
/// chain, whose hash is [`GENESIS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainAnchor {
    pub seq: i64,
    pub hash: String,
    /// Names the anchor in a broken chain's reason (e.g. "the checkpoint of
    /// 2025-01-01T00:00:00.000Z (line 3)").
    pub label: String,
}

/// What one consistent read of the chain holds: the events (all of them, or
/// those from an anchor on) and the recorded head.
struct ChainRead {
    events: Vec<RawEvent>,
    head: Option<(i64, String)>,
}

/// Reads the events with `seq >= from` and the head in one snapshot, so an
/// event appended meanwhile (by this or another machine) is seen in both or
/// in neither.
async fn read_chain(pool: &AnyPool, backend: Backend, from: i64) -> Result<ChainRead> {
    let mut tx = pool.begin().await?;
    if backend == Backend::Postgres {
        // READ COMMITTED gives each statement its own snapshot.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
    }
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq >= $1 ORDER BY seq"
    )))
    .bind(from)
    .fetch_all(&mut *tx)
    .await?;
    let events = rows.iter().map(raw_event).collect::<Result<Vec<_>>>()?;
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE singleton = 1")
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| -> Result<(i64, String)> { Ok((row.try_get("seq")?, row.try_get("hash")?)) })
        .transpose()?;
    tx.rollback().await?;
    Ok(ChainRead { events, head })
}

/// Walks `events` from the one after (`expected_seq - 1`, `expected_prev`):
/// every event must follow the one before it (sequence and previous hash)
/// and hash to what it records; then the last one must be the recorded head.
/// Returns the broken place, or the chain's last sequence number and hash.
fn walk(
    events: &[RawEvent],
    head: Option<&(i64, String)>,
    mut expected_seq: i64,
    mut expected_prev: String,
) -> std::result::Result<(i64, String), Verification> {
    for event in events {
        let broken = |reason: String| Verification::Broken {
            seq: event.seq,
            id: event.id.clone(),
            reason,
        };
        if event.seq != expected_seq {
            return Err(broken(format!(
                "expected event #{expected_seq} here, found #{}: events are missing or reordered",
                event.seq
            )));
        }
        if event.prev_hash != expected_prev {
            return Err(broken(
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
            return Err(broken(
                "its content does not match its hash: the event was edited".to_string(),
            ));
        }
        expected_prev = event.hash.clone();
        expected_seq += 1;
    }
    let last = expected_seq - 1;
    match head {
        Some((head_seq, head_hash)) if *head_seq != last || *head_hash != expected_prev => {
            return Err(Verification::Broken {
                seq: *head_seq,
                id: String::new(),
                reason: format!(
                    "the chain ends at event #{last} but the recorded head is event #{head_seq}: the newest events were removed"
                ),
            });
        }
        Some(_) => {}
        None if last > 0 => {
            return Err(Verification::Broken {
                seq: 0,
                id: String::new(),
                reason: "the recorded head of the chain is missing".to_string(),
            });
        }
        None => {}
    }
    Ok((last, expected_prev))
}

/// Checks the chain from the first event to the recorded head, then against
/// each anchor: the chain must reach it, and its event there must have the
/// anchored hash. A writer of the database can recompute every hash and the
/// head after an edit; it cannot change what was anchored outside it.
pub(crate) async fn verify(
    pool: &AnyPool,
    backend: Backend,
    anchors: &[ChainAnchor],
) -> Result<Verification> {
    let chain = read_chain(pool, backend, i64::MIN).await?;
    let (last, head) = match walk(&chain.events, chain.head.as_ref(), 1, GENESIS.to_string()) {
        Ok(end) => end,
        Err(broken) => return Ok(broken),
    };
    let mut anchors: Vec<&ChainAnchor> = anchors.iter().collect();
    anchors.sort_by_key(|anchor| anchor.seq);
    // The newest anchor the chain still matches: a change lies after it.
    let mut matched = 0;
    for anchor in anchors {
        if anchor.seq > last {
            let reason = if last == 0 {
                format!(
                    "the chain is empty but {} recorded {} events: the audit trail was wiped",
                    anchor.label, anchor.seq
                )
            } else {
                format!(
                    "the chain ends at event #{last} but {} recorded event #{}: events were removed (the head moved backwards)",
                    anchor.label, anchor.seq
                )
            };
            return Ok(Verification::Broken {
                seq: anchor.seq,
                id: String::new(),
                reason,
            });
        }
        let (id, hash) = match anchor.seq {
            0 => (String::new(), GENESIS),
            seq => {
                // The walk made `events[i].seq == i + 1`.
                let event = usize::try_from(seq - 1)
                    .ok()
                    .and_then(|index| chain.events.get(index));
                match event {
                    Some(event) => (event.id.clone(), event.hash.as_str()),
                    None => {
                        return Ok(Verification::Broken {
                            seq,
                            id: String::new(),
                            reason: format!("{} names no event of the chain", anchor.label),
                        });
                    }
                }
            }
        };
        if hash != anchor.hash {
            return Ok(Verification::Broken {
                seq: anchor.seq,
                id,
                reason: format!(
                    "its hash differs from the one {} recorded: an event from #{} to #{} was edited, removed, inserted or reordered and the hashes after it recomputed",
                    anchor.label,
                    matched + 1,
                    anchor.seq
                ),
            });
        }
        matched = anchor.seq;
    }
    Ok(Verification::Intact {
        events: chain.events.len(),
        head,
    })
}

/// Checks only what follows `from` (the newest anchor): the event there
/// still has the anchored hash, and every event after it follows, hashes to
/// what it records, up to the recorded head. Enough before anchoring the
/// head again (what precedes `from` was anchored already; a full
/// [`verify`] checks it). `Intact.events` is the head's sequence number.
pub(crate) async fn verify_since(
    pool: &AnyPool,
    backend: Backend,
    from: Option<&ChainAnchor>,
) -> Result<Verification> {
    let (start, prev) = match from {
        None => (0, GENESIS.to_string()),
        Some(anchor) => (anchor.seq, anchor.hash.clone()),
    };
    let chain = read_chain(pool, backend, start.max(1)).await?;
    let mut events = chain.events.as_slice();
    if start > 0 {
        match events.first() {
            Some(first) if first.seq == start && first.hash == prev => events = &events[1..],
            Some(first) if first.seq == start => {
                return Ok(Verification::Broken {
                    seq: start,
                    id: first.id.clone(),
                    reason: format!(
                        "its hash differs from the one {} recorded: the chain was rewritten",
                        from.map(|a| a.label.as_str()).unwrap_or_default()
                    ),
                });
            }
            _ => {
                return Ok(Verification::Broken {
                    seq: start,
                    id: String::new(),
                    reason: format!(
                        "{} recorded event #{start}, which the chain no longer holds: events were removed",
                        from.map(|a| a.label.as_str()).unwrap_or_default()
                    ),
                });
            }
        }
    }
    match walk(events, chain.head.as_ref(), start + 1, prev) {
        Ok((last, head)) => Ok(Verification::Intact {
            events: usize::try_from(last).unwrap_or_default(),
            head,
        }),
        Err(broken) => Ok(broken),
    }
}
