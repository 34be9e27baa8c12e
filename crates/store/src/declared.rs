//! What grantflow created of the declared resources and group pushes: written when a creation succeeds
//! (in the transaction recording the success), removed when its deletion succeeds. Only what grantflow's
//! own call created is ever deleted when its declaration goes.

use chrono::{DateTime, Utc};
use grantflow_model::{ConnectionName, OpKind, Operation};
use sqlx::{Any, Row, Transaction};

use crate::{Result, Store};

/// The kind under which a group push mapping is recorded.
pub const GROUP_PUSH: &str = "group_push";

/// One declared object grantflow went to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredObject {
    pub connection: ConnectionName,
    pub kind: String,
    pub name: String,
    /// A push's app; empty for a resource.
    pub app: String,
    /// `true` when grantflow's call created it; `false` when it was there already.
    pub by_grantflow: bool,
    pub plan_id: String,
    pub created_at: DateTime<Utc>,
}

/// The record key of what `op` creates or deletes: `(kind, name, app)`.
fn key_of(op: &Operation) -> Option<(String, String, String)> {
    match &op.kind {
        OpKind::CreateResource { resource, .. } | OpKind::DeleteResource { resource } => Some((
            resource.kind.to_string(),
            resource.name.clone(),
            String::new(),
        )),
        OpKind::PushGroup {
            group, resource, ..
        }
        | OpKind::DeletePush { group, resource } => Some((
            GROUP_PUSH.to_string(),
            group.name.clone(),
            resource.name.clone(),
        )),
        _ => None,
    }
}

impl Store {
    /// Records what a succeeded creation made (`by_grantflow`: grantflow's call made it) or forgets what a
    /// succeeded deletion removed. A first record is kept: a resource grantflow found is never re-recorded
    /// as its own by a later plan.
    pub(crate) async fn record_declared(
        &self,
        tx: &mut Transaction<'static, Any>,
        plan_id: &str,
        op: &Operation,
        by_grantflow: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let Some((kind, name, app)) = key_of(op) else {
            return Ok(());
        };
        match &op.kind {
            OpKind::CreateResource { .. } | OpKind::PushGroup { .. } => {
                sqlx::query(
                    "INSERT INTO declared_objects (connection, kind, name, app, by_grantflow, plan_id, created_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (connection, kind, name, app) DO NOTHING",
                )
                .bind(op.connection.as_str())
                .bind(kind)
                .bind(name)
                .bind(app)
                .bind(i64::from(by_grantflow))
                .bind(plan_id)
                .bind(now.timestamp_millis())
                .execute(&mut **tx)
                .await?;
            }
            _ => {
                sqlx::query(
                    "DELETE FROM declared_objects WHERE connection = $1 AND kind = $2 AND name = $3 AND app = $4",
                )
                .bind(op.connection.as_str())
                .bind(kind)
                .bind(name)
                .bind(app)
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }

    /// Every declared object grantflow went to create, oldest first.
    pub async fn declared_objects(&self) -> Result<Vec<DeclaredObject>> {
        let rows = sqlx::query(
            "SELECT connection, kind, name, app, by_grantflow, plan_id, created_ms FROM declared_objects
             ORDER BY created_ms, connection, kind, name, app",
        )
        .fetch_all(self.reader())
        .await?;
        let mut objects = Vec::with_capacity(rows.len());
        for row in rows {
            let created_ms: i64 = row.try_get("created_ms")?;
            let by_grantflow: i64 = row.try_get("by_grantflow")?;
            objects.push(DeclaredObject {
                connection: ConnectionName::new(row.try_get::<String, _>("connection")?),
                kind: row.try_get("kind")?,
                name: row.try_get("name")?,
                app: row.try_get("app")?,
                by_grantflow: by_grantflow != 0,
                plan_id: row.try_get("plan_id")?,
                created_at: DateTime::from_timestamp_millis(created_ms).unwrap_or_default(),
            });
        }
        Ok(objects)
    }
}
