//! The audit hash chain: append inside the caller's transaction, verify from
//! the first event to the recorded head.

use chrono::{DateTime, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
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

/// Events read per query when the chain is verified: large enough that a query's cost is spread
/// thin, small enough that a chunk (about half a kilobyte an event) stays a few megabytes.
const EVENTS_PER_CHUNK: i64 = 1_024;

/// A chunk of the chain as one text, a line per event: `seq TAB hash TAB encoded`, where
/// `encoded` is the JSON array an event's hash covers, spelt by the database's own JSON functions.
/// Verifying ten million events is then one string per chunk and a SHA-256 per event, not nine
/// decoded columns per event. JSON escapes every control character, a well-formed hash is hex, and
/// `seq` is an integer, so no field can hold the separators. Where the database spells the JSON
/// differently from grantflow (or anything else is off), the line goes to the exact check. SQLite
/// concatenates in the order of the ordered subquery (an ORDER BY inside `group_concat` would sort
/// every chunk again); were a line ever out of place, the exact check walks the rows in order.
const CHUNK_SQLITE: &str = "SELECT group_concat(seq || char(9) || hash || char(9) ||
         json_array(CAST(seq AS TEXT), id, at, actor, action, subject, details, prev_hash), char(10)) AS lines
     FROM (SELECT * FROM audit_events WHERE seq >= $1 AND seq < $2 ORDER BY seq)";
const CHUNK_POSTGRES: &str = "SELECT string_agg(seq::text || E'\\t' || hash || E'\\t' || '[' ||
         to_json(seq::text)::text || ',' || to_json(id)::text || ',' || to_json(at)::text || ',' ||
         to_json(actor)::text || ',' || to_json(action)::text || ',' || to_json(subject)::text || ',' ||
         to_json(details)::text || ',' || to_json(prev_hash)::text || ']', E'\\n' ORDER BY seq) AS lines
     FROM (SELECT * FROM audit_events WHERE seq >= $1 AND seq < $2 ORDER BY seq) AS chunk";

/// Where a scan of a chunk stopped.
enum Scanned {
    /// Every line followed the one before it and hashed to what it records.
    Done,
    /// A line needs the exact check (a link, an anchor, a hash, or a spelling); the scan resumes
    /// at byte `resume`.
    Exact { resume: usize },
}

/// Scans the lines of a chunk from byte `from` while each is plainly intact: it follows the
/// event before it, is not anchored (anchors are checked exactly), and its encoding hashes to its
/// hash.
fn scan(lines: &str, from: usize, links: &mut Links, next_anchor: Option<i64>) -> Scanned {
    let mut offset = from;
    let mut hex = [0u8; 64];
    while offset < lines.len() {
        let rest = &lines[offset..];
        let (line, resume) = match rest.find('\n') {
            Some(end) => (&rest[..end], offset + end + 1),
            None => (rest, lines.len()),
        };
        let mut fields = line.splitn(3, '\t');
        let seq = fields.next().and_then(|seq| seq.parse::<i64>().ok());
        let (Some(seq), Some(hash), Some(encoded)) = (seq, fields.next(), fields.next()) else {
            // Cannot happen for rows of the table (the line's seq is its integer key), but a
            // malformed line is never taken as intact: the caller re-reads from the next event.
            return Scanned::Exact { resume };
        };
        // The previous hash closes the array: `,"<64 hex>"]`.
        let prev = encoded
            .strip_suffix("\"]")
            .and_then(|head| head.get(head.len().saturating_sub(64)..))
            .filter(|prev| prev.len() == 64);
        // A line is taken as the next row only when no row can lie between the last one followed
        // and it (at the very start of a full read, any number below 1 could).
        let plain = seq == links.expected_seq
            && links.floor == links.expected_seq
            && prev == Some(links.expected_prev.as_str())
            && next_anchor.is_none_or(|anchor| seq < anchor)
            && hash.len() == 64
            && {
                let digest = <sha2::Sha256 as sha2::Digest>::digest(encoded.as_bytes());
                hex::encode_to_slice(digest, &mut hex).is_ok() && hex == hash.as_bytes()
            };
        if !plain {
            return Scanned::Exact { resume };
        }
        links.expected_prev.clear();
        links.expected_prev.push_str(hash);
        links.expected_seq += 1;
        links.floor = links.expected_seq;
        offset = resume;
    }
    Scanned::Done
}

fn recomputed_hash(event: &RawEvent) -> String {
    event_hash([
        &event.seq.to_string(),
        &event.id,
        &event.at,
        &event.actor,
        &event.action,
        &event.subject,
        &event.details,
        &event.prev_hash,
    ])
}

/// The order of the chain: each event follows the one before it, by sequence number and by
/// previous hash.
struct Links {
    expected_seq: i64,
    expected_prev: String,
    /// Where the next row is: after the last one followed (or where the reading started).
    floor: i64,
}

impl Links {
    fn follow(&mut self, event: &RawEvent) -> std::result::Result<(), Verification> {
        if event.seq != self.expected_seq {
            return Err(Verification::Broken {
                seq: event.seq,
                id: event.id.clone(),
                reason: format!(
                    "expected event #{} here, found #{}: events are missing or reordered",
                    self.expected_seq, event.seq
                ),
            });
        }
        if event.prev_hash != self.expected_prev {
            return Err(Verification::Broken {
                seq: event.seq,
                id: event.id.clone(),
                reason: "its previous-hash does not match the event before it: events were removed or reordered"
                    .to_string(),
            });
        }
        self.expected_prev.clone_from(&event.hash);
        self.expected_seq += 1;
        self.floor = self.expected_seq;
        Ok(())
    }

    /// The last event followed so far: its sequence number and hash.
    fn last(&self) -> (i64, &str) {
        (self.expected_seq - 1, &self.expected_prev)
    }
}

/// The anchors, passed in order as the chain is read: the chain must reach each one, and its
/// event there must have the anchored hash. The first anchor that does not hold is the answer.
struct Anchors<'a> {
    sorted: Vec<&'a ChainAnchor>,
    next: usize,
    /// The newest anchor the chain still matched: a change lies after it.
    matched: i64,
    broken: Option<Verification>,
}

impl<'a> Anchors<'a> {
    fn new(anchors: &'a [ChainAnchor]) -> Anchors<'a> {
        let mut sorted: Vec<&ChainAnchor> = anchors.iter().collect();
        sorted.sort_by_key(|anchor| anchor.seq);
        Anchors {
            sorted,
            next: 0,
            matched: 0,
            broken: None,
        }
    }

    fn pass(&mut self, seq: i64, id: &str, hash: &str) {
        while let Some(anchor) = self.sorted.get(self.next).filter(|a| a.seq <= seq) {
            self.next += 1;
            if self.broken.is_some() {
                continue;
            }
            if anchor.seq < seq {
                self.broken = Some(Verification::Broken {
                    seq: anchor.seq,
                    id: String::new(),
                    reason: format!("{} names no event of the chain", anchor.label),
                });
            } else if anchor.hash != hash {
                self.broken = Some(Verification::Broken {
                    seq: anchor.seq,
                    id: id.to_string(),
                    reason: format!(
                        "its hash differs from the one {} recorded: an event from #{} to #{} was edited, removed, inserted or reordered and the hashes after it recomputed",
                        anchor.label,
                        self.matched + 1,
                        anchor.seq
                    ),
                });
            } else {
                self.matched = anchor.seq;
            }
        }
    }

    /// The sequence number of the next anchor not yet passed.
    fn next_seq(&self) -> Option<i64> {
        self.sorted.get(self.next).map(|anchor| anchor.seq)
    }

    /// After the chain's last event `last`: an anchor beyond it means events were removed.
    fn finish(self, last: i64) -> std::result::Result<(), Verification> {
        if let Some(broken) = self.broken {
            return Err(broken);
        }
        match self.sorted.get(self.next) {
            Some(anchor) if last == 0 => Err(Verification::Broken {
                seq: anchor.seq,
                id: String::new(),
                reason: format!(
                    "the chain is empty but {} recorded {} events: the audit trail was wiped",
                    anchor.label, anchor.seq
                ),
            }),
            Some(anchor) => Err(Verification::Broken {
                seq: anchor.seq,
                id: String::new(),
                reason: format!(
                    "the chain ends at event #{last} but {} recorded event #{}: events were removed (the head moved backwards)",
                    anchor.label, anchor.seq
                ),
            }),
            None => Ok(()),
        }
    }
}

/// The last event must be the recorded head.
fn check_head(
    head: Option<&(i64, String)>,
    last: i64,
    last_hash: &str,
) -> std::result::Result<(), Verification> {
    match head {
        Some((head_seq, head_hash)) if *head_seq != last || head_hash != last_hash => {
            Err(Verification::Broken {
                seq: *head_seq,
                id: String::new(),
                reason: format!(
                    "the chain ends at event #{last} but the recorded head is event #{head_seq}: the newest events were removed"
                ),
            })
        }
        None if last > 0 => Err(Verification::Broken {
            seq: 0,
            id: String::new(),
            reason: "the recorded head of the chain is missing".to_string(),
        }),
        _ => Ok(()),
    }
}

/// Reads the chain from `from` (an anchor already checked, or the first event) to the recorded
/// head in one snapshot — so an event appended meanwhile, by this or another machine, is seen in
/// both or in neither — a chunk at a time, scanning each chunk on another thread while the next is
/// read: every event must follow the one before it and hash to what it records, the last one must
/// be the head, and the chain must pass through every anchor. The earliest problem is the answer.
/// `Intact.events` is the head's sequence number.
async fn check_chain(
    pool: &AnyPool,
    backend: Backend,
    from: Option<&ChainAnchor>,
    anchors: &[ChainAnchor],
) -> Result<Verification> {
    let (start, start_hash) = match from {
        None => (0, GENESIS.to_string()),
        Some(anchor) => (anchor.seq, anchor.hash.clone()),
    };
    let label = from.map(|anchor| anchor.label.as_str()).unwrap_or_default();
    let mut tx = pool.begin().await?;
    if backend == Backend::Postgres {
        // READ COMMITTED gives each statement its own snapshot.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
    }
    let mut links = Links {
        expected_seq: start + 1,
        expected_prev: start_hash.clone(),
        floor: i64::MIN,
    };
    let mut anchors = Anchors::new(anchors);
    anchors.pass(0, "", GENESIS);
    // Rows from here on are read; a full verification reads every row, whatever its number.
    let mut next_row = i64::MIN;
    if start > 0 {
        // The anchor's own event comes first: it must still be there, with the anchored hash.
        let first = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT 1"
        )))
        .bind(start)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| raw_event(&row))
        .transpose()?;
        match first {
            Some(event) if event.seq == start && event.hash == start_hash => {}
            Some(event) if event.seq == start => {
                return Ok(Verification::Broken {
                    seq: start,
                    id: event.id,
                    reason: format!(
                        "its hash differs from the one {label} recorded: the chain was rewritten"
                    ),
                });
            }
            _ => {
                return Ok(Verification::Broken {
                    seq: start,
                    id: String::new(),
                    reason: format!(
                        "{label} recorded event #{start}, which the chain no longer holds: events were removed"
                    ),
                });
            }
        }
        next_row = start + 1;
        links.floor = next_row;
    }
    // The head and the newest row, read together: every row up to it is read below, each chunk
    // on a connection of its own (rows are only ever appended, so later reads see the same rows).
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE singleton = 1")
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| -> Result<(i64, String)> { Ok((row.try_get("seq")?, row.try_get("hash")?)) })
        .transpose()?;
    let newest: Option<i64> = sqlx::query("SELECT max(seq) AS newest FROM audit_events")
        .fetch_one(&mut *tx)
        .await?
        .try_get("newest")?;
    tx.rollback().await?;
    let chunk_query = match backend {
        Backend::Sqlite => CHUNK_SQLITE,
        Backend::Postgres => CHUNK_POSTGRES,
    };
    let mut ranges = Vec::new();
    if let Some(newest) = newest {
        let mut low = next_row;
        let mut high = next_row.max(1).saturating_add(EVENTS_PER_CHUNK);
        while low <= newest {
            ranges.push((low, high));
            low = high;
            high = high.saturating_add(EVENTS_PER_CHUNK);
            if low == i64::MAX {
                ranges.push((low, low));
                break;
            }
        }
    }
    // Two chunks are read at once while the one before them is scanned.
    let mut chunks = futures::stream::iter(ranges)
        .map(|(low, high)| async move {
            let row = sqlx::query(chunk_query)
                .bind(low)
                .bind(high)
                .fetch_one(pool)
                .await?;
            Ok::<Option<String>, StoreError>(row.try_get("lines")?)
        })
        .buffered(2);
    let mut scanning: Option<tokio::task::JoinHandle<(String, Links, Scanned)>> = None;
    let mut reading = true;
    while reading || scanning.is_some() {
        let next = if reading {
            match chunks.try_next().await? {
                Some(lines) => lines,
                None => {
                    reading = false;
                    None
                }
            }
        } else {
            None
        };
        if let Some(task) = scanning.take() {
            let (lines, scanned_links, mut scanned) = task
                .await
                .map_err(|error| StoreError::Verification(error.to_string()))?;
            links = scanned_links;
            // A line the scan hands back stands for the next row in order, which is checked from
            // its columns: each line, fast or exact, moves the walk one row on, so a chunk's lines
            // walk exactly its rows, whatever their order in the text.
            while let Scanned::Exact { resume } = scanned {
                let event = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT 1"
                )))
                .bind(links.floor)
                .fetch_optional(pool)
                .await?
                .map(|row| raw_event(&row))
                .transpose()?;
                let Some(event) = event else {
                    break;
                };
                if let Err(broken) = links.follow(&event) {
                    return Ok(broken);
                }
                if recomputed_hash(&event) != event.hash {
                    return Ok(Verification::Broken {
                        seq: event.seq,
                        id: event.id,
                        reason: "its content does not match its hash: the event was edited"
                            .to_string(),
                    });
                }
                anchors.pass(event.seq, &event.id, &event.hash);
                scanned = scan(&lines, resume, &mut links, anchors.next_seq());
            }
        }
        let Some(lines) = next else {
            continue;
        };
        let mut chunk_links = Links {
            expected_seq: links.expected_seq,
            expected_prev: links.expected_prev.clone(),
            floor: links.floor,
        };
        let next_anchor = anchors.next_seq();
        scanning = Some(tokio::task::spawn_blocking(move || {
            let scanned = scan(&lines, 0, &mut chunk_links, next_anchor);
            (lines, chunk_links, scanned)
        }));
    }
    let (last, last_hash) = links.last();
    if let Err(broken) = check_head(head.as_ref(), last, last_hash) {
        return Ok(broken);
    }
    if let Err(broken) = anchors.finish(last) {
        return Ok(broken);
    }
    Ok(Verification::Intact {
        events: usize::try_from(last).unwrap_or_default(),
        head: last_hash.to_string(),
    })
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
    check_chain(pool, backend, None, anchors).await
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
    check_chain(pool, backend, from.filter(|anchor| anchor.seq > 0), &[]).await
}
