//! The audit hash chain: append inside the caller's transaction, verify from
//! the first event to the recorded head.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::Backend;

use crate::{Result, timestamp};

/// The hash that precedes the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    pub id: String,
    pub at: String,
    /// Who acted: `cli:<user>`, `engine`, …
    pub actor: String,
    /// What happened: `sync.completed`, `plan.created`, `operation.attempt`, …
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
    action: &str,
    subject: &str,
    details: serde_json::Value,
) -> Result<AuditEvent> {
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
