//! The positions of polled event feeds (flows started by records created in a system without webhooks):
//! read before a poll, written once the poll's runs are started. Portable SQL.

use crate::{Result, Store, timestamp};

impl Store {
    /// Where `feed` has read up to, if it has started.
    pub async fn event_cursor(&self, feed: &str) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT cursor FROM event_cursors WHERE feed = $1")
                .bind(feed)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(cursor,)| cursor))
    }

    pub async fn set_event_cursor(&self, feed: &str, cursor: &str) -> Result<()> {
        let now = timestamp(self.now());
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM event_cursors WHERE feed = $1")
            .bind(feed)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO event_cursors (feed, cursor, updated_at) VALUES ($1, $2, $3)")
            .bind(feed)
            .bind(cursor)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use grantflow_model::SystemClock;
    use std::sync::Arc;

    use crate::Store;

    #[tokio::test]
    async fn a_feeds_cursor_survives_reopening_the_store_and_moves_forward() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url, Arc::new(SystemClock)).await.unwrap();
        assert_eq!(
            store.event_cursor("salesforce:Opportunity").await.unwrap(),
            None
        );
        store
            .set_event_cursor("salesforce:Opportunity", "2026-12-05T01:00:00.000+0000")
            .await
            .unwrap();
        store
            .set_event_cursor("salesforce:Opportunity", "2026-12-05T02:00:00.000+0000")
            .await
            .unwrap();
        drop(store);
        let reopened = Store::open(&url, Arc::new(SystemClock)).await.unwrap();
        assert_eq!(
            reopened
                .event_cursor("salesforce:Opportunity")
                .await
                .unwrap()
                .as_deref(),
            Some("2026-12-05T02:00:00.000+0000")
        );
        assert_eq!(
            reopened.event_cursor("salesforce:Account").await.unwrap(),
            None
        );
    }
}
