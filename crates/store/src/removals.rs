//! The removal budget: how much access each connection lost through
//! grantflow in a rolling window, whatever started it (a plan, `do`, an
//! action, drift remediation). Checking and reserving happen in one
//! transaction, so two commands started at once cannot both slip under it.

use grantflow_model::ConnectionName;
use sqlx::Row;
use std::time::Duration;

use crate::{AuditAction, Backend, Result, Store, audit};

/// A reservation that would take a connection past its budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetExceeded {
    pub connection: ConnectionName,
    /// Removals already made in the window (by other plans).
    pub used: u64,
    /// What this plan would remove.
    pub wanted: u64,
    pub limit: u64,
}

impl Store {
    /// Reserves `weights` (removals per connection) for `plan_id` within
    /// the window, unless that would take a connection past `limit`; a plan
    /// that reserved before (a resumed apply) is not counted twice. With
    /// `allow_over` the reservation is made anyway (the person named the
    /// plan to allow it) and the overshoot is reported.
    pub async fn reserve_removals(
        &self,
        plan_id: &str,
        weights: &[(ConnectionName, u64)],
        window: Duration,
        limit: u64,
        allow_over: bool,
        actor: &str,
    ) -> Result<Vec<BudgetExceeded>> {
        let now = self.now();
        let since =
            now.timestamp_millis() - i64::try_from(window.as_millis()).unwrap_or(i64::MAX / 2);
        let mut tx = self.begin().await?;
        if self.backend() == Backend::Postgres {
            // One reservation at a time across workers on several machines.
            sqlx::query("SELECT pg_advisory_xact_lock(7261627)")
                .execute(&mut *tx)
                .await?;
        }
        let mut exceeded = Vec::new();
        let mut to_reserve = Vec::new();
        for (connection, wanted) in weights {
            if *wanted == 0 {
                continue;
            }
            let already =
                sqlx::query("SELECT 1 FROM removal_budget WHERE plan_id = $1 AND connection = $2")
                    .bind(plan_id)
                    .bind(connection.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if already.is_some() {
                continue;
            }
            let row = sqlx::query(
                "SELECT COALESCE(SUM(weight), 0) AS used FROM removal_budget WHERE connection = $1 AND at_ms > $2",
            )
            .bind(connection.as_str())
            .bind(since)
            .fetch_one(&mut *tx)
            .await?;
            let used: i64 = row.try_get("used")?;
            let used = u64::try_from(used).unwrap_or(0);
            if used.saturating_add(*wanted) > limit {
                exceeded.push(BudgetExceeded {
                    connection: connection.clone(),
                    used,
                    wanted: *wanted,
                    limit,
                });
            }
            to_reserve.push((connection, *wanted));
        }
        if !exceeded.is_empty() && !allow_over {
            tx.rollback().await?;
            return Ok(exceeded);
        }
        for (connection, wanted) in &to_reserve {
            sqlx::query(
                "INSERT INTO removal_budget (plan_id, connection, weight, at_ms) VALUES ($1, $2, $3, $4)",
            )
            .bind(plan_id)
            .bind(connection.as_str())
            .bind(i64::try_from(*wanted).unwrap_or(i64::MAX))
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
        }
        if !to_reserve.is_empty() {
            audit::append(
                &mut tx,
                self.backend(),
                now,
                actor,
                AuditAction::PlanRemovalsReserved,
                plan_id,
                serde_json::json!({
                    "removals": weights.iter().map(|(c, w)| serde_json::json!({"connection": c, "weight": w})).collect::<Vec<_>>(),
                    "over_budget": exceeded.iter().map(|e| e.connection.as_str()).collect::<Vec<_>>(),
                }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(exceeded)
    }
}
