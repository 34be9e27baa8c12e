//! What grantflow changed since each connection's last sync: every
//! operation that succeeded, recorded in the transaction that records its
//! success, so the next command can read its own writes without a sync.

use chrono::{DateTime, Utc};
use grantflow_model::{ConnectionName, Operation};
use sqlx::{Any, Row, Transaction};

use crate::{Result, Store, StoreError};

impl Store {
    pub(crate) async fn record_applied_change(
        &self,
        tx: &mut Transaction<'static, Any>,
        plan_id: &str,
        op: &Operation,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let body = serde_json::to_string(op).map_err(|source| StoreError::Corrupt {
            what: format!("operation {plan_id}/{}", op.id),
            source,
        })?;
        sqlx::query(
            "INSERT INTO applied_changes (id, connection, plan_id, op_id, operation, applied_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(format!("c-{}", uuid::Uuid::now_v7().simple()))
        .bind(op.connection.as_str())
        .bind(plan_id)
        .bind(i64::from(op.id.0))
        .bind(body)
        .bind(now.timestamp_millis())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The operations applied in `connection` at or after `since`, oldest
    /// first.
    pub async fn changes_since(
        &self,
        connection: &ConnectionName,
        since: DateTime<Utc>,
    ) -> Result<Vec<Operation>> {
        let rows = sqlx::query(
            "SELECT id, operation FROM applied_changes WHERE connection = $1 AND applied_ms >= $2
             ORDER BY applied_ms, id",
        )
        .bind(connection.as_str())
        .bind(since.timestamp_millis())
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let body: String = row.try_get("operation")?;
                serde_json::from_str(&body).map_err(|source| StoreError::Corrupt {
                    what: format!("applied change {id}"),
                    source,
                })
            })
            .collect()
    }
}

/// A cheap fingerprint of everything the actual state is read from (the
/// syncs, the changes applied since, and the time-bound grants in force):
/// equal fingerprints mean an equal
/// actual state, so readers can keep one in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateVersion {
    syncs: i64,
    last_sync_ms: Option<i64>,
    changes: i64,
    last_change: Option<String>,
    /// Requests in force, ended, and the last change among them.
    time_bound: (i64, i64, Option<i64>),
}

impl Store {
    pub async fn state_version(&self) -> Result<StateVersion> {
        if let Some(kept) = self.recent.state_version() {
            return Ok(kept);
        }
        let generation = self.recent.state_generation();
        // Syncs and applied changes are only ever inserted or deleted, never
        // updated: counts and newest keys see every difference.
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM syncs) AS syncs,
                    (SELECT MAX(finished_ms) FROM syncs) AS last_sync_ms,
                    (SELECT COUNT(*) FROM applied_changes) AS changes,
                    (SELECT MAX(id) FROM applied_changes) AS last_change,
                    (SELECT COUNT(*) FROM access_requests WHERE state = 'active') AS time_bound,
                    (SELECT COUNT(*) FROM access_requests WHERE state = 'ended') AS time_bound_ended,
                    (SELECT MAX(updated_ms) FROM access_requests WHERE state IN ('active', 'ended')) AS time_bound_changed",
        )
        .fetch_one(self.reader())
        .await?;
        let version = StateVersion {
            syncs: row.try_get("syncs")?,
            last_sync_ms: row.try_get("last_sync_ms")?,
            changes: row.try_get("changes")?,
            last_change: row.try_get("last_change")?,
            time_bound: (
                row.try_get("time_bound")?,
                row.try_get("time_bound_ended")?,
                row.try_get("time_bound_changed")?,
            ),
        };
        self.recent.keep_state_version(generation, &version);
        Ok(version)
    }
}
