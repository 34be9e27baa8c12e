//! Rate budgets shared through the store, for PostgreSQL mode where several
//! worker processes call the same tenant: connectors see the budget every
//! worker learned, not only their own.

use chrono::{DateTime, Utc};
use grantflow_connectors::BudgetLedger;
use grantflow_model::ConnectionName;
use grantflow_store::Store;

pub struct StoreLedger(pub Store);

#[async_trait::async_trait]
impl BudgetLedger for StoreLedger {
    async fn publish(
        &self,
        connection: &ConnectionName,
        bucket: &str,
        limit: u64,
        remaining: u64,
        reset: DateTime<Utc>,
    ) {
        // Sharing is best effort: a failed write only means other workers
        // learn this budget from their own next response.
        if let Err(error) = self
            .0
            .publish_budget(
                connection.as_str(),
                bucket,
                (limit, remaining, reset.timestamp_millis()),
            )
            .await
        {
            tracing::warn!(message = "Could not share a rate budget.", %connection, bucket, %error);
        }
    }

    async fn latest(
        &self,
        connection: &ConnectionName,
        bucket: &str,
    ) -> Option<(u64, u64, DateTime<Utc>)> {
        let (limit, remaining, reset_ms) = self
            .0
            .shared_budget(connection.as_str(), bucket)
            .await
            .ok()??;
        Some((limit, remaining, DateTime::from_timestamp_millis(reset_ms)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantflow_connectors::transport::WaitBudget;
    use grantflow_connectors::{Budget, RateBudgets};
    use grantflow_model::SystemClock;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    async fn stores() -> Vec<(Store, tempfile::TempDir)> {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("l.db").display());
        let mut stores = vec![(
            Store::open(&url, Arc::new(SystemClock))
                .await
                .expect("open"),
            dir,
        )];
        if let Some(url) =
            grantflow_store::testing::postgres_url("budgets_shared_through_the_store").await
        {
            let store = Store::open(&url, Arc::new(SystemClock))
                .await
                .expect("postgres");
            stores.push((store, tempfile::tempdir().expect("tempdir")));
        }
        stores
    }

    #[tokio::test]
    async fn a_budget_one_worker_spent_holds_back_another() {
        for (store, _dir) in stores().await {
            let okta = || ConnectionName::new("okta");
            let first = Arc::new(RateBudgets::shared(
                0.0,
                Arc::new(StoreLedger(store.clone())),
            ))
            .handle(okta(), Arc::new(SystemClock));
            let second = Arc::new(RateBudgets::shared(
                0.0,
                Arc::new(StoreLedger(store.clone())),
            ))
            .handle(okta(), Arc::new(SystemClock));
            let reset = Utc::now() + chrono::Duration::milliseconds(400);
            first
                .record(
                    "groups",
                    Budget {
                        limit: 600,
                        remaining: 0,
                        reset,
                    },
                )
                .await;
            let started = Instant::now();
            let mut waits = WaitBudget::new(Duration::from_secs(10));
            let _permit = second
                .acquire("groups", &mut waits, String::new)
                .await
                .expect("a place in the budget");
            assert!(
                started.elapsed() >= Duration::from_millis(300),
                "waited for the shared reset"
            );
        }
    }
}
