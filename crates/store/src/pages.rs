//! Reading long lists page by page, for the HTTP API: plans (newest first),
//! open drift findings and audit events, each after a cursor the caller
//! got from the previous page. Filters are bound values, never query text.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::audit::{EVENT_COLUMNS, event_from_raw, raw_event};
use crate::{AuditEvent, Result, Store, parse_time};

/// A plan as listed: what it is without its operations.
#[derive(Debug, Clone)]
pub struct PlanSummary {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub created_ms: i64,
    pub origin: String,
    /// `reviewed` (never started), `queued` or `finished`.
    pub status: String,
    pub digest: String,
}

/// An open drift finding.
#[derive(Debug, Clone)]
pub struct OpenFinding {
    pub key: String,
    pub connection: String,
    pub kind: String,
    pub details: serde_json::Value,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// The newest sync of a connection, without its snapshot.
#[derive(Debug, Clone)]
pub struct SyncSummary {
    pub id: String,
    pub connection: String,
    pub system: String,
    pub finished_at: DateTime<Utc>,
    pub accounts: i64,
    pub resources: i64,
    pub grants: i64,
}

/// Adds `AND column = $n` for each filter given, binding its value later.
fn filtered(
    mut sql: String,
    filters: &[(&str, Option<&str>)],
    first: usize,
) -> (String, Vec<String>) {
    let mut values = Vec::new();
    for (column, value) in filters {
        if let Some(value) = value {
            values.push((*value).to_string());
            sql.push_str(&format!(" AND {column} = ${}", first + values.len() - 1));
        }
    }
    (sql, values)
}

impl Store {
    /// Plans newest first, those created before `before` (the last of the
    /// previous page: its creation in epoch milliseconds and its id).
    pub async fn plans_page(
        &self,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<PlanSummary>> {
        let rows = match before {
            Some((ms, id)) => {
                sqlx::query(
                    "SELECT id, created_at, created_ms, origin, status, digest FROM plans
                     WHERE created_ms < $1 OR (created_ms = $1 AND id < $2)
                     ORDER BY created_ms DESC, id DESC LIMIT $3",
                )
                .bind(ms)
                .bind(id)
                .bind(limit)
                .fetch_all(self.reader())
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT id, created_at, created_ms, origin, status, digest FROM plans
                     ORDER BY created_ms DESC, id DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(self.reader())
                .await?
            }
        };
        rows.iter()
            .map(|row| {
                let created_at: String = row.try_get("created_at")?;
                Ok(PlanSummary {
                    id: row.try_get("id")?,
                    created_at: parse_time(&created_at),
                    created_ms: row.try_get("created_ms")?,
                    origin: row.try_get("origin")?,
                    status: row.try_get("status")?,
                    digest: row.try_get("digest")?,
                })
            })
            .collect()
    }

    /// Open drift findings in key order after `after`, optionally of one
    /// connection and one kind.
    pub async fn open_findings_page(
        &self,
        connection: Option<&str>,
        kind: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OpenFinding>> {
        let (mut sql, values) = filtered(
            "SELECT finding_key, connection, kind, details, first_seen, last_seen FROM drift_findings
             WHERE resolved_at IS NULL AND finding_key > $1"
                .to_string(),
            &[("connection", connection), ("kind", kind)],
            2,
        );
        sql.push_str(&format!(
            " ORDER BY finding_key LIMIT ${}",
            2 + values.len()
        ));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after.unwrap_or(""));
        for value in values {
            query = query.bind(value);
        }
        let rows = query.bind(limit).fetch_all(self.reader()).await?;
        rows.iter()
            .map(|row| {
                let details: String = row.try_get("details")?;
                let first_seen: String = row.try_get("first_seen")?;
                let last_seen: String = row.try_get("last_seen")?;
                Ok(OpenFinding {
                    key: row.try_get("finding_key")?,
                    connection: row.try_get("connection")?,
                    kind: row.try_get("kind")?,
                    details: serde_json::from_str(&details)
                        .unwrap_or(serde_json::Value::String(details)),
                    first_seen: parse_time(&first_seen),
                    last_seen: parse_time(&last_seen),
                })
            })
            .collect()
    }

    /// Audit events oldest first after sequence number `after`, optionally
    /// of one action and one actor.
    pub async fn audit_page(
        &self,
        action: Option<&str>,
        actor: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEvent>> {
        let (mut sql, values) = filtered(
            format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > $1"),
            &[("action", action), ("actor", actor)],
            2,
        );
        sql.push_str(&format!(" ORDER BY seq LIMIT ${}", 2 + values.len()));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after);
        for value in values {
            query = query.bind(value);
        }
        let rows = query.bind(limit).fetch_all(self.reader()).await?;
        rows.iter()
            .map(|row| Ok(event_from_raw(raw_event(row)?)))
            .collect()
    }

    /// The newest sync of every connection, without reading the snapshots.
    pub async fn latest_sync_summaries(&self) -> Result<Vec<SyncSummary>> {
        let rows = sqlx::query(
            "SELECT s.id, s.connection, s.system, s.finished_at, s.accounts, s.resources, s.grants FROM syncs s
             WHERE s.finished_ms = (SELECT MAX(finished_ms) FROM syncs t WHERE t.connection = s.connection)
             ORDER BY s.connection",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                let finished: String = row.try_get("finished_at")?;
                Ok(SyncSummary {
                    id: row.try_get("id")?,
                    connection: row.try_get("connection")?,
                    system: row.try_get("system")?,
                    finished_at: parse_time(&finished),
                    accounts: row.try_get("accounts")?,
                    resources: row.try_get("resources")?,
                    grants: row.try_get("grants")?,
                })
            })
            .collect()
    }

    /// The newest `sync.failed` event of a connection.
    pub async fn last_sync_failure(&self, connection: &str) -> Result<Option<AuditEvent>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE action = 'sync.failed' AND subject = $1
             ORDER BY seq DESC LIMIT 1"
        )))
        .bind(connection)
        .fetch_optional(self.reader())
        .await?;
        row.map(|row| Ok(event_from_raw(raw_event(&row)?)))
            .transpose()
    }
}
