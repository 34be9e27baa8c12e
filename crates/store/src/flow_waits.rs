//! What flows need to hear about events: where each event source (Okta's System Log per connection) was
//! read to, and the runs parked on a step waiting for an event about a person. An event that matches a
//! wait is kept in the wait's row and wakes its run, which records it as the step's output.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::flows::{json_column, millis};
use crate::{Result, Store};

/// A run's step waiting for an event.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowEventWait {
    pub run_id: String,
    pub path: String,
    pub subject: String,
    /// What matches, as the step wrote it (the trigger matcher's JSON).
    pub matcher: serde_json::Value,
    pub deadline: DateTime<Utc>,
    /// The event that matched, once one did.
    pub matched: Option<serde_json::Value>,
}

fn wait_from_row(row: &sqlx::any::AnyRow) -> Result<FlowEventWait> {
    let deadline: i64 = row.try_get("deadline_ms")?;
    Ok(FlowEventWait {
        run_id: row.try_get("run_id")?,
        path: row.try_get("path")?,
        subject: row.try_get("subject")?,
        matcher: json_column(row, "matcher", "flow event wait")?.unwrap_or_default(),
        deadline: DateTime::from_timestamp_millis(deadline).unwrap_or_default(),
        matched: json_column(row, "matched", "flow event wait")?,
    })
}

const WAIT_COLUMNS: &str = "run_id, path, subject, matcher, deadline_ms, matched";

impl Store {
    /// Where flows read `source` to; `None` before its first read.
    pub async fn flow_cursor(&self, source: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT cursor FROM flow_cursors WHERE source = $1")
            .bind(source)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| Ok(row.try_get("cursor")?)).transpose()
    }

    pub async fn set_flow_cursor(&self, source: &str, cursor: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO flow_cursors (source, cursor, updated_ms) VALUES ($1, $2, $3)
             ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_ms = excluded.updated_ms",
        )
        .bind(source)
        .bind(cursor)
        .bind(millis(self.now()))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Forgets where `source` was read to (the source no longer knows the cursor): the next read starts now.
    pub async fn clear_flow_cursor(&self, source: &str) -> Result<()> {
        sqlx::query("DELETE FROM flow_cursors WHERE source = $1")
            .bind(source)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Registers a step waiting for an event (once: a resumed run registering again changes nothing).
    pub async fn add_flow_event_wait(
        &self,
        run: &str,
        path: &str,
        subject: &str,
        matcher: &serde_json::Value,
        deadline: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO flow_event_waits (run_id, path, subject, matcher, deadline_ms, matched)
             VALUES ($1, $2, $3, $4, $5, NULL)
             ON CONFLICT (run_id, path) DO NOTHING",
        )
        .bind(run)
        .bind(path)
        .bind(subject.to_lowercase())
        .bind(matcher.to_string())
        .bind(millis(deadline))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The waits still open (nothing matched, deadline not passed) for events about any of `subjects`.
    pub async fn open_flow_event_waits(&self, subjects: &[String]) -> Result<Vec<FlowEventWait>> {
        let mut waits = Vec::new();
        for subject in subjects {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {WAIT_COLUMNS} FROM flow_event_waits
                 WHERE subject = $1 AND matched IS NULL AND deadline_ms > $2
                 ORDER BY run_id, path"
            )))
            .bind(subject.to_lowercase())
            .bind(millis(self.now()))
            .fetch_all(self.pool())
            .await?;
            for row in &rows {
                let wait = wait_from_row(row)?;
                if !waits
                    .iter()
                    .any(|w: &FlowEventWait| w.run_id == wait.run_id && w.path == wait.path)
                {
                    waits.push(wait);
                }
            }
        }
        Ok(waits)
    }

    /// A step's wait, as registered.
    pub async fn flow_event_wait(&self, run: &str, path: &str) -> Result<Option<FlowEventWait>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {WAIT_COLUMNS} FROM flow_event_waits WHERE run_id = $1 AND path = $2"
        )))
        .bind(run)
        .bind(path)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(wait_from_row).transpose()
    }

    /// Gives a wait the event that matched it (the first one only) and wakes its run when it is parked;
    /// `false` when another event matched it first.
    pub async fn deliver_flow_event(
        &self,
        run: &str,
        path: &str,
        event: &serde_json::Value,
    ) -> Result<bool> {
        let now = millis(self.now());
        let mut tx = self.begin().await?;
        let matched = sqlx::query(
            "UPDATE flow_event_waits SET matched = $3
             WHERE run_id = $1 AND path = $2 AND matched IS NULL AND deadline_ms > $4",
        )
        .bind(run)
        .bind(path)
        .bind(event.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if matched > 0 {
            sqlx::query("UPDATE flow_runs SET due_ms = $2 WHERE id = $1 AND state = 'waiting'")
                .bind(run)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(matched > 0)
    }

    /// Wakes a run just parked when an event matched one of its waits meanwhile (the delivery found it
    /// still running, so its wake-up would have been lost to the park).
    pub async fn wake_flow_run_if_matched(&self, run: &str) -> Result<()> {
        sqlx::query(
            "UPDATE flow_runs SET due_ms = $2
             WHERE id = $1 AND state = 'waiting'
               AND EXISTS (SELECT 1 FROM flow_event_waits w WHERE w.run_id = $1 AND w.matched IS NOT NULL)",
        )
        .bind(run)
        .bind(millis(self.now()))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes a wait its step has finished with (its outcome is the step's row now).
    pub async fn end_flow_event_wait(&self, run: &str, path: &str) -> Result<()> {
        sqlx::query("DELETE FROM flow_event_waits WHERE run_id = $1 AND path = $2")
            .bind(run)
            .bind(path)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use grantflow_model::{Clock, ManualClock};
    use serde_json::json;

    use crate::{FlowRunState, NewFlowRun, RunStart, Store, testing};

    async fn stores(test: &str, clock: Arc<dyn Clock>) -> Vec<(Store, tempfile::TempDir)> {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let mut stores = vec![(Store::open(&url, clock.clone()).await.expect("open"), dir)];
        if let Some(url) = testing::postgres_url(test).await {
            let store = Store::open(&url, clock).await.expect("open postgres");
            stores.push((store, tempfile::tempdir().expect("tempdir")));
        }
        stores
    }

    /// A run parked (waiting) until an hour from now.
    async fn parked_run(store: &Store) -> String {
        let run = NewFlowRun {
            id: format!("run-{}", uuid::Uuid::now_v7().simple()),
            flow: "f".into(),
            version: "v1".into(),
            path: "f.yaml".into(),
            source: "flow: f".into(),
            trigger_kind: "api".into(),
            event_key: None,
            event: json!({}),
            actor: "test".into(),
            record_io: true,
        };
        let RunStart::Started(run) = store.start_flow_run(&run).await.expect("start") else {
            panic!("a new run");
        };
        let (run, lease) = store
            .claim_flow_run("w@1", Some(&run.id), Duration::from_secs(60))
            .await
            .expect("claim")
            .expect("claimed");
        let later = store.now() + chrono::Duration::hours(1);
        store
            .park_flow_run(&run.id, &lease, later, FlowRunState::Waiting)
            .await
            .expect("park");
        run.id
    }

    #[tokio::test]
    async fn a_cursor_is_kept_replaced_and_forgotten() {
        for (store, _dir) in stores("flow_cursors", Arc::new(ManualClock::starting_now())).await {
            assert_eq!(store.flow_cursor("okta-log:okta").await.unwrap(), None);
            store.set_flow_cursor("okta-log:okta", "c1").await.unwrap();
            store.set_flow_cursor("okta-log:okta", "c2").await.unwrap();
            assert_eq!(
                store.flow_cursor("okta-log:okta").await.unwrap().as_deref(),
                Some("c2")
            );
            store.clear_flow_cursor("okta-log:okta").await.unwrap();
            assert_eq!(store.flow_cursor("okta-log:okta").await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn the_first_matching_event_wakes_the_run_and_a_wait_past_its_deadline_takes_none() {
        let clock = Arc::new(ManualClock::starting_now());
        for (store, _dir) in stores("flow_event_waits", clock.clone()).await {
            let run = parked_run(&store).await;
            let deadline = store.now() + chrono::Duration::minutes(30);
            let matcher = json!({"event_types": ["user.lifecycle.activate"]});
            store
                .add_flow_event_wait(&run, "/wait", "Kim@Example.com", &matcher, deadline)
                .await
                .unwrap();
            let open = store
                .open_flow_event_waits(&["kim@example.com".into(), "00u1".into()])
                .await
                .unwrap();
            assert_eq!(open.len(), 1);
            assert_eq!(open[0].matcher, matcher);
            assert!(
                store
                    .open_flow_event_waits(&["lena@example.com".into()])
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(
                store
                    .deliver_flow_event(&run, "/wait", &json!({"uuid": "e1"}))
                    .await
                    .unwrap()
            );
            // The run is due now, not in an hour.
            let (claimed, _) = store
                .claim_flow_run("w@2", None, Duration::from_secs(60))
                .await
                .unwrap()
                .expect("the run was woken");
            assert_eq!(claimed.id, run);
            // A second event does not replace the first.
            assert!(
                !store
                    .deliver_flow_event(&run, "/wait", &json!({"uuid": "e2"}))
                    .await
                    .unwrap()
            );
            let wait = store.flow_event_wait(&run, "/wait").await.unwrap().unwrap();
            assert_eq!(wait.matched, Some(json!({"uuid": "e1"})));
            store.end_flow_event_wait(&run, "/wait").await.unwrap();
            assert!(
                store
                    .flow_event_wait(&run, "/wait")
                    .await
                    .unwrap()
                    .is_none()
            );

            let late = parked_run(&store).await;
            let deadline = store.now() + chrono::Duration::minutes(30);
            store
                .add_flow_event_wait(&late, "/wait", "tom@example.com", &matcher, deadline)
                .await
                .unwrap();
            clock.advance(Duration::from_secs(31 * 60));
            assert!(
                store
                    .open_flow_event_waits(&["tom@example.com".into()])
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(
                !store
                    .deliver_flow_event(&late, "/wait", &json!({"uuid": "e3"}))
                    .await
                    .unwrap()
            );
        }
    }
}
