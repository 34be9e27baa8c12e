//! The automatic lifecycle's record: each due change (a joiner's account, a start date's activation, a
//! leaver's retirement) with the plan made for it, stored in the plan's own transaction, so a change is
//! planned once however often the dates are checked and whenever the process restarts. Portable SQL.

use std::collections::BTreeSet;

use grantflow_model::Plan;
use sqlx::Row;

use crate::{Result, Store, timestamp};

/// One due change as the lifecycle records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleChange {
    /// The operation's natural key and the HRIS date it follows.
    pub key: String,
    /// The person's work email.
    pub person: String,
    /// `joiner`, `start` or `leaver`.
    pub step: String,
}

/// Where a lifecycle plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleState {
    /// Stored, not yet past the gate.
    Planned,
    /// Past the gate, queued for the engine's workers.
    Queued,
    /// Refused by the gate.
    Refused,
}

impl LifecycleState {
    fn as_str(self) -> &'static str {
        match self {
            LifecycleState::Planned => "planned",
            LifecycleState::Queued => "queued",
            LifecycleState::Refused => "refused",
        }
    }
}

impl Store {
    /// Stores `plan` and records `changes` as planned by it, in one transaction. `false` (nothing
    /// stored) when one of the changes was recorded already: another pass planned it first.
    pub async fn save_lifecycle_plan(
        &self,
        plan: &Plan,
        actor: &str,
        changes: &[LifecycleChange],
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let now = timestamp(self.now());
        for change in changes {
            let inserted = sqlx::query(
                "INSERT INTO lifecycle_changes (key, person, step, plan_id, state, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING",
            )
            .bind(&change.key)
            .bind(change.person.to_lowercase())
            .bind(&change.step)
            .bind(&plan.id)
            .bind(LifecycleState::Planned.as_str())
            .bind(&now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Ok(false);
            }
        }
        self.insert_plan(&mut tx, plan, actor, None).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every change the lifecycle has planned.
    pub async fn lifecycle_keys(&self) -> Result<BTreeSet<String>> {
        let rows = sqlx::query("SELECT key FROM lifecycle_changes")
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(|row| Ok(row.try_get("key")?)).collect()
    }

    /// The people with a lifecycle plan still under way: not yet past the gate, or queued with an
    /// operation not finished.
    pub async fn lifecycle_busy(&self) -> Result<BTreeSet<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT l.person AS person FROM lifecycle_changes l
             WHERE l.state = 'planned'
                OR (l.state = 'queued' AND EXISTS (
                    SELECT 1 FROM jobs j WHERE j.plan_id = l.plan_id
                    AND j.state NOT IN ('succeeded', 'failed', 'skipped')))",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|row| Ok(row.try_get("person")?)).collect()
    }

    /// The lifecycle plans stored but not yet past the gate (the process stopped in between), oldest
    /// first.
    pub async fn lifecycle_unapplied(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT plan_id, MIN(created_at) AS at FROM lifecycle_changes WHERE state = 'planned'
             GROUP BY plan_id ORDER BY at, plan_id",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|row| Ok(row.try_get("plan_id")?)).collect()
    }

    /// Records what the gate made of a lifecycle plan.
    pub async fn set_lifecycle_state(
        &self,
        plan_id: &str,
        state: LifecycleState,
        detail: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE lifecycle_changes SET state = $1, detail = $2 WHERE plan_id = $3")
            .bind(state.as_str())
            .bind(detail)
            .bind(plan_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Each recorded change: (key, person, step, plan, state), oldest first.
    pub async fn lifecycle_changes(&self) -> Result<Vec<(String, String, String, String, String)>> {
        let rows = sqlx::query(
            "SELECT key, person, step, plan_id, state FROM lifecycle_changes ORDER BY created_at, key",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("key")?,
                    row.try_get("person")?,
                    row.try_get("step")?,
                    row.try_get("plan_id")?,
                    row.try_get("state")?,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use grantflow_model::{Plan, SystemClock};
    use std::sync::Arc;

    use super::{LifecycleChange, LifecycleState};
    use crate::Store;

    fn plan(origin: &str) -> Plan {
        let mut plan = Plan {
            id: String::new(),
            created_at: chrono::Utc::now(),
            origin: origin.into(),
            basis: vec![],
            operations: vec![],
            review: Default::default(),
            preconditions: vec![],
        };
        plan.seal();
        plan
    }

    fn change(key: &str) -> LifecycleChange {
        LifecycleChange {
            key: key.into(),
            person: "Ann@example.com".into(),
            step: "joiner".into(),
        }
    }

    #[tokio::test]
    async fn a_change_is_planned_once_and_survives_reopening_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url, Arc::new(SystemClock)).await.unwrap();
        let first = plan("lifecycle 1");
        assert!(
            store
                .save_lifecycle_plan(&first, "grantflow:lifecycle", &[change("k1")])
                .await
                .unwrap()
        );
        assert_eq!(
            store.lifecycle_unapplied().await.unwrap(),
            vec![first.id.clone()]
        );
        assert!(
            store
                .lifecycle_busy()
                .await
                .unwrap()
                .contains("ann@example.com")
        );
        let second = plan("lifecycle 2");
        assert!(
            !store
                .save_lifecycle_plan(
                    &second,
                    "grantflow:lifecycle",
                    &[change("k2"), change("k1")]
                )
                .await
                .unwrap(),
            "k1 was planned already"
        );
        assert!(
            store.stored_plan(&second.id).await.is_err(),
            "nothing stored"
        );
        store
            .set_lifecycle_state(&first.id, LifecycleState::Queued, None)
            .await
            .unwrap();
        drop(store);
        let store = Store::open(&url, Arc::new(SystemClock)).await.unwrap();
        assert_eq!(
            store
                .lifecycle_keys()
                .await
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["k1".to_string()]
        );
        assert!(store.lifecycle_unapplied().await.unwrap().is_empty());
        assert!(
            store.lifecycle_busy().await.unwrap().is_empty(),
            "a queued plan with no open operation is not under way"
        );
    }
}
