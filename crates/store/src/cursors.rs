//! Change-feed cursors per connection and the ids of event-hook deliveries
//! already handled. Portable SQL: `$n` placeholders, no dialect extensions.

use chrono::{DateTime, Utc};
use grantflow_model::ConnectionName;
use sqlx::Row;

use crate::{Result, Store, parse_time, timestamp};

/// A stored change-feed position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncCursor {
    pub cursor: String,
    pub updated_at: DateTime<Utc>,
}

impl Store {
    pub async fn sync_cursor(&self, connection: &ConnectionName) -> Result<Option<SyncCursor>> {
        let row = sqlx::query("SELECT cursor, updated_at FROM sync_cursors WHERE connection = $1")
            .bind(connection.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => Some(SyncCursor {
                cursor: row.try_get("cursor")?,
                updated_at: parse_time(&row.try_get::<String, _>("updated_at")?),
            }),
            None => None,
        })
    }

    pub async fn set_sync_cursor(&self, connection: &ConnectionName, cursor: &str) -> Result<()> {
        let now = timestamp(self.now());
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM sync_cursors WHERE connection = $1")
            .bind(connection.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sync_cursors (connection, cursor, updated_at) VALUES ($1, $2, $3)",
        )
        .bind(connection.as_str())
        .bind(cursor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a delivery id; `false` when it was already recorded (a
    /// duplicate delivery to ignore).
    pub async fn first_delivery(&self, connection: &str, event_id: &str) -> Result<bool> {
        // One statement, so two processes receiving the same delivery at
        // once cannot both see it as new.
        let inserted = sqlx::query(
            "INSERT INTO hook_deliveries (connection, event_id, received_at) VALUES ($1, $2, $3)
             ON CONFLICT (connection, event_id) DO NOTHING",
        )
        .bind(connection)
        .bind(event_id)
        .bind(timestamp(self.now()))
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(inserted > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantflow_model::SystemClock;
    use std::sync::Arc;

    async fn store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        Store::open(&url, Arc::new(SystemClock))
            .await
            .expect("store")
    }

    #[tokio::test]
    async fn a_cursor_is_replaced_and_read_back_per_connection() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        assert_eq!(
            store
                .sync_cursor(&ConnectionName::new("okta"))
                .await
                .expect("read"),
            None
        );
        store
            .set_sync_cursor(&ConnectionName::new("okta"), "1_1")
            .await
            .expect("set");
        store
            .set_sync_cursor(&ConnectionName::new("okta"), "2_9")
            .await
            .expect("set");
        store
            .set_sync_cursor(&ConnectionName::new("other"), "x")
            .await
            .expect("set");
        let cursor = store
            .sync_cursor(&ConnectionName::new("okta"))
            .await
            .expect("read")
            .expect("some");
        assert_eq!(cursor.cursor, "2_9");
    }

    #[tokio::test]
    async fn a_delivery_id_is_handled_once_per_connection() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        assert!(store.first_delivery("okta", "e1").await.expect("first"));
        assert!(!store.first_delivery("okta", "e1").await.expect("again"));
        assert!(store.first_delivery("okta2", "e1").await.expect("other"));
    }
}
