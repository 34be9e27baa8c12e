//! Rate-limit budgets shared by every process using the store: each worker
//! publishes what the vendor's headers said, and reads what the others saw.

use sqlx::Row;

use crate::{Result, Store};

/// A bucket's budget as last seen: (limit, remaining, reset in epoch ms).
pub type SharedBudget = (u64, u64, i64);

impl Store {
    /// Records a budget a response reported. Within one window the lowest
    /// `remaining` wins (responses race); a later window replaces it.
    pub async fn publish_budget(
        &self,
        connection: &str,
        bucket: &str,
        (limit, remaining, reset_ms): SharedBudget,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO rate_budgets (connection, bucket, budget, remaining, reset_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (connection, bucket) DO UPDATE SET
                budget = excluded.budget,
                remaining = CASE
                    WHEN excluded.reset_ms > rate_budgets.reset_ms THEN excluded.remaining
                    WHEN excluded.remaining < rate_budgets.remaining THEN excluded.remaining
                    ELSE rate_budgets.remaining END,
                reset_ms = CASE WHEN excluded.reset_ms > rate_budgets.reset_ms
                    THEN excluded.reset_ms ELSE rate_budgets.reset_ms END",
        )
        .bind(connection)
        .bind(bucket)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(i64::try_from(remaining).unwrap_or(i64::MAX))
        .bind(reset_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The newest budget any process published for the bucket.
    pub async fn shared_budget(
        &self,
        connection: &str,
        bucket: &str,
    ) -> Result<Option<SharedBudget>> {
        let row = sqlx::query(
            "SELECT budget, remaining, reset_ms FROM rate_budgets WHERE connection = $1 AND bucket = $2",
        )
        .bind(connection)
        .bind(bucket)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let limit: i64 = row.try_get("budget")?;
        let remaining: i64 = row.try_get("remaining")?;
        let reset_ms: i64 = row.try_get("reset_ms")?;
        Ok(Some((
            u64::try_from(limit).unwrap_or(0),
            u64::try_from(remaining).unwrap_or(0),
            reset_ms,
        )))
    }
}
