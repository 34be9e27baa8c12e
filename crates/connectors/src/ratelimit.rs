//! Rate budgets: what each vendor's rate-limit headers said about each
//! bucket, shared by every call to that connection, so calls are scheduled
//! within the budget instead of discovering it by 429s.
//!
//! A share of each bucket (`reserve_share`) is left unused for the other
//! users of the tenant (Okta's admin console, other integrations). Calls in
//! flight count against the budget before their responses arrive, so
//! concurrent calls cannot overshoot it together.
//!
//! Hand-written rather than `governor`: governor enforces a rate we choose,
//! while here the vendor tells us the budget and its reset in every
//! response, and the budget must be shared by all calls of a connection.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    limit: u64,
    remaining: u64,
    reset: DateTime<Utc>,
    in_flight: u64,
}

/// Where budgets are shared between processes (the store, in PostgreSQL
/// mode, where several workers call one tenant): every process publishes
/// what its responses said and reads what the others saw before calling.
#[async_trait::async_trait]
pub trait BudgetLedger: Send + Sync {
    async fn publish(
        &self,
        connection: &str,
        bucket: &str,
        limit: u64,
        remaining: u64,
        reset: DateTime<Utc>,
    );
    async fn latest(&self, connection: &str, bucket: &str) -> Option<(u64, u64, DateTime<Utc>)>;
}

/// Budgets per (connection, bucket), learned from responses.
pub struct RateBudgets {
    reserve_share: f64,
    buckets: Mutex<HashMap<(String, String), Bucket>>,
    ledger: Option<Arc<dyn BudgetLedger>>,
}

impl std::fmt::Debug for RateBudgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateBudgets")
            .field("reserve_share", &self.reserve_share)
            .field("shared", &self.ledger.is_some())
            .finish()
    }
}

impl Default for RateBudgets {
    fn default() -> Self {
        Self::new(0.0)
    }
}

/// Holds a place in a bucket's budget until the response has been recorded.
pub struct BudgetPermit {
    budgets: Arc<RateBudgets>,
    key: (String, String),
}

impl Drop for BudgetPermit {
    fn drop(&mut self) {
        if let Ok(mut buckets) = self.budgets.buckets.lock()
            && let Some(bucket) = buckets.get_mut(&self.key)
        {
            bucket.in_flight = bucket.in_flight.saturating_sub(1);
        }
    }
}

impl RateBudgets {
    /// `reserve_share` (0.0–0.9) of every bucket is left for others.
    pub fn new(reserve_share: f64) -> Self {
        Self {
            reserve_share: reserve_share.clamp(0.0, 0.9),
            buckets: Mutex::new(HashMap::new()),
            ledger: None,
        }
    }

    /// Budgets shared with other processes through `ledger`.
    pub fn shared(reserve_share: f64, ledger: Arc<dyn BudgetLedger>) -> Self {
        Self {
            ledger: Some(ledger),
            ..Self::new(reserve_share)
        }
    }

    pub fn reserve_share(&self) -> f64 {
        self.reserve_share
    }

    /// Waits until one more call to `bucket` fits in its budget (or the
    /// budget is not known yet), and takes a place in it.
    pub async fn acquire(self: &Arc<Self>, connection: &str, bucket: &str) -> BudgetPermit {
        let key = (connection.to_string(), bucket.to_string());
        loop {
            if let Some(ledger) = &self.ledger
                && let Some((limit, remaining, reset)) = ledger.latest(connection, bucket).await
            {
                self.merge(connection, bucket, limit, remaining, reset);
            }
            let wait_until = {
                let Ok(mut buckets) = self.buckets.lock() else {
                    break;
                };
                match buckets.get_mut(&key) {
                    None => break,
                    Some(state) => {
                        let now = Utc::now();
                        if now >= state.reset {
                            // A new window: the vendor will tell us the new
                            // figures; until then assume the full budget.
                            state.remaining = state.limit;
                            state.reset = now + chrono::Duration::seconds(1);
                        }
                        let reserve = (state.limit as f64 * self.reserve_share).ceil() as u64;
                        let usable = state
                            .remaining
                            .saturating_sub(state.in_flight)
                            .saturating_sub(reserve);
                        if usable > 0 || state.limit == 0 {
                            state.in_flight += 1;
                            return BudgetPermit {
                                budgets: self.clone(),
                                key,
                            };
                        }
                        state.reset
                    }
                }
            };
            let wait = (wait_until - Utc::now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait.max(Duration::from_millis(10)) + Duration::from_millis(25))
                .await;
        }
        if let Ok(mut buckets) = self.buckets.lock() {
            buckets
                .entry(key.clone())
                .or_insert(Bucket {
                    limit: 0,
                    remaining: 0,
                    reset: Utc::now(),
                    in_flight: 0,
                })
                .in_flight += 1;
        }
        BudgetPermit {
            budgets: self.clone(),
            key,
        }
    }

    /// Records what a response said about its bucket (and publishes it to
    /// the other processes, when shared).
    pub async fn record(
        &self,
        connection: &str,
        bucket: &str,
        limit: u64,
        remaining: u64,
        reset: DateTime<Utc>,
    ) {
        self.merge(connection, bucket, limit, remaining, reset);
        if let Some(ledger) = &self.ledger {
            ledger
                .publish(connection, bucket, limit, remaining, reset)
                .await;
        }
    }

    /// Within one window the lowest `remaining` seen wins: responses may
    /// arrive out of order.
    fn merge(
        &self,
        connection: &str,
        bucket: &str,
        limit: u64,
        remaining: u64,
        reset: DateTime<Utc>,
    ) {
        let Ok(mut buckets) = self.buckets.lock() else {
            return;
        };
        let key = (connection.to_string(), bucket.to_string());
        let state = buckets.entry(key).or_insert(Bucket {
            limit,
            remaining,
            reset,
            in_flight: 0,
        });
        if reset > state.reset {
            state.remaining = remaining;
        } else {
            state.remaining = state.remaining.min(remaining);
        }
        state.limit = limit;
        state.reset = state.reset.max(reset);
    }

    /// For a connection configured not to wait out rate limits: the bucket's
    /// budget is known to be spent, so report that to the engine (with the
    /// reset) instead of calling.
    pub fn refuse_if_spent(&self, connection: &str, bucket: &str) -> Result<(), crate::Failure> {
        match self.snapshot(connection, bucket) {
            Some((_, 0, reset)) if reset > Utc::now() => Err(crate::Failure::RateLimited {
                bucket: bucket.to_string(),
                reset,
                message: format!("the {bucket} budget is spent until its reset"),
            }),
            _ => Ok(()),
        }
    }

    /// What is known of a bucket: (limit, remaining, reset).
    pub fn snapshot(&self, connection: &str, bucket: &str) -> Option<(u64, u64, DateTime<Utc>)> {
        let buckets = self.buckets.lock().ok()?;
        let state = buckets.get(&(connection.to_string(), bucket.to_string()))?;
        Some((state.limit, state.remaining, state.reset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unknown_bucket_is_not_held_back() {
        let budgets = Arc::new(RateBudgets::new(0.1));
        let _permit = budgets.acquire("okta", "groups").await;
        assert!(budgets.snapshot("okta", "groups").is_some());
    }

    #[tokio::test]
    async fn the_reserve_is_left_unused_until_the_reset() {
        let budgets = Arc::new(RateBudgets::new(0.5));
        let reset = Utc::now() + chrono::Duration::milliseconds(300);
        budgets.record("okta", "groups", 10, 6, reset).await;
        // 6 remaining, 5 reserved: one call fits now.
        let first = budgets.acquire("okta", "groups").await;
        let started = std::time::Instant::now();
        drop(first);
        budgets.record("okta", "groups", 10, 5, reset).await;
        let _second = budgets.acquire("okta", "groups").await;
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "waited for the reset"
        );
    }

    /// A ledger in memory, standing in for the store.
    type Seen = (u64, u64, DateTime<Utc>);

    #[derive(Default)]
    struct Ledger(Mutex<HashMap<(String, String), Seen>>);

    #[async_trait::async_trait]
    impl BudgetLedger for Ledger {
        async fn publish(
            &self,
            c: &str,
            b: &str,
            limit: u64,
            remaining: u64,
            reset: DateTime<Utc>,
        ) {
            if let Ok(mut map) = self.0.lock() {
                map.insert((c.into(), b.into()), (limit, remaining, reset));
            }
        }
        async fn latest(&self, c: &str, b: &str) -> Option<(u64, u64, DateTime<Utc>)> {
            self.0
                .lock()
                .ok()?
                .get(&(c.to_string(), b.to_string()))
                .copied()
        }
    }

    #[tokio::test]
    async fn a_budget_spent_by_another_process_is_respected() {
        let ledger: Arc<dyn BudgetLedger> = Arc::new(Ledger::default());
        let first = Arc::new(RateBudgets::shared(0.0, ledger.clone()));
        let second = Arc::new(RateBudgets::shared(0.0, ledger));
        let reset = Utc::now() + chrono::Duration::milliseconds(300);
        first.record("okta", "groups", 600, 0, reset).await;
        let started = std::time::Instant::now();
        let _permit = second.acquire("okta", "groups").await;
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "the second process waited for the reset"
        );
    }

    #[tokio::test]
    async fn calls_in_flight_count_against_the_budget() {
        let budgets = Arc::new(RateBudgets::new(0.0));
        let reset = Utc::now() + chrono::Duration::milliseconds(200);
        budgets.record("okta", "apps", 100, 2, reset).await;
        let _a = budgets.acquire("okta", "apps").await;
        let _b = budgets.acquire("okta", "apps").await;
        let started = std::time::Instant::now();
        let _c = budgets.acquire("okta", "apps").await;
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "the third call waited"
        );
    }
}
