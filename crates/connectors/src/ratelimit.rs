//! Rate budgets: what each vendor's rate-limit headers said about each
//! bucket, shared by every call to that connection, so calls are scheduled
//! within the budget instead of discovering it by 429s.
//!
//! A share of each bucket (`reserve_share`) is left unused for the other
//! users of the tenant (Okta's admin console, other integrations), but never
//! the whole bucket: a budget of one call a window still allows that call.
//! Calls in flight count against the budget before their responses arrive, so
//! concurrent calls cannot overshoot it together.
//!
//! Hand-written rather than `governor`: governor enforces a rate we choose,
//! while here the vendor tells us the budget and its reset in every
//! response, and the budget must be shared by all calls of a connection.
//! Google and Slack announce no budget (Google answers a quota error, Slack a
//! tiered 429), so their buckets stay unknown and are never held back.
//!
//! Where a vendor documents a budget but announces none (Slack's method tiers, GitHub's secondary limit on
//! content-creating requests), the dialect names it ([`Documented`]) and the bucket starts from it: the
//! calls of a window are counted as they are sent, so the connection paces itself before the first 429
//! instead of learning the budget from one refusal a window.
//!
//! Time comes from the injected clock; a wait for a reset is drawn from the
//! call's [`WaitBudget`], so no call waits longer than the transport allows.

use chrono::{DateTime, Utc};
use grantflow_model::{Clock, ConnectionName};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Failure;
use crate::transport::{WaitBudget, until};

/// What one answer said about its bucket: the window's limit, what is left of it, and when it resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u64,
    pub remaining: u64,
    pub reset: DateTime<Utc>,
}

/// What is known of one bucket of one connection, as [`RateBudgets::buckets`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketState {
    pub bucket: String,
    /// 0 when no answer announced a budget: only a refusal (`held_until`) or calls in flight are known.
    pub limit: u64,
    /// What the vendor (or, for a documented budget, our count) said is left of the window ending at `reset`.
    pub remaining: u64,
    pub reset: DateTime<Utc>,
    /// The calls of each window left for the tenant's other users (`rate_limits.reserve_share`).
    pub reserved: u64,
    pub in_flight: u64,
    /// A 429 said no call before then.
    pub held_until: Option<DateTime<Utc>>,
    /// The budget is the vendor's documented one, counted here, not announced in answers.
    pub documented: bool,
}

/// A budget a vendor documents but does not announce in its answers: `limit` calls per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Documented {
    pub limit: u64,
    pub window: Duration,
}

impl Documented {
    /// `limit` calls a minute.
    pub const fn per_minute(limit: u64) -> Self {
        Self {
            limit,
            window: Duration::from_secs(60),
        }
    }

    /// `limit` calls an hour.
    pub const fn per_hour(limit: u64) -> Self {
        Self {
            limit,
            window: Duration::from_secs(3600),
        }
    }

    /// Our window is a little longer than the vendor's: the vendor's starts when our first call arrives,
    /// a few milliseconds after we send it, so a window of exactly the documented length would send the
    /// next window's first calls into the end of the vendor's current one.
    fn paced_window(self) -> chrono::Duration {
        chrono::Duration::from_std(self.window + WINDOW_MARGIN)
            .unwrap_or_else(|_| chrono::Duration::seconds(3600))
    }
}

/// See [`Documented::paced_window`]; a second, like a `Retry-After` rounded up.
const WINDOW_MARGIN: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    limit: u64,
    remaining: u64,
    reset: DateTime<Utc>,
    in_flight: u64,
    /// Set by a refusal (a 429 and its reset): no call goes to the bucket before then, whether or not the
    /// vendor announces its budget — every call sent meanwhile would only meet the same refusal.
    held_until: Option<DateTime<Utc>>,
    /// A documented budget's window: `remaining` is then counted down as calls are sent (no answer says
    /// what is left), and a new window starts at the first call after the reset.
    window: Option<chrono::Duration>,
}

/// Where budgets are shared between processes (the store, in PostgreSQL
/// mode, where several workers call one tenant): every process publishes
/// what its responses said and reads what the others saw before calling.
#[async_trait::async_trait]
pub trait BudgetLedger: Send + Sync {
    async fn publish(
        &self,
        connection: &ConnectionName,
        bucket: &str,
        limit: u64,
        remaining: u64,
        reset: DateTime<Utc>,
    );
    async fn latest(
        &self,
        connection: &ConnectionName,
        bucket: &str,
    ) -> Option<(u64, u64, DateTime<Utc>)>;
}

type Key = (ConnectionName, String);

/// Budgets per (connection, bucket), learned from responses.
pub struct RateBudgets {
    reserve_share: f64,
    buckets: Mutex<HashMap<Key, Bucket>>,
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
    key: Key,
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
            reserve_share: if reserve_share.is_finite() {
                reserve_share.clamp(0.0, 0.9)
            } else {
                0.0
            },
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

    /// The budgets of one connection, read with `clock`.
    pub fn handle(
        self: &Arc<Self>,
        connection: ConnectionName,
        clock: Arc<dyn Clock>,
    ) -> BudgetHandle {
        BudgetHandle {
            connection,
            budgets: self.clone(),
            clock,
        }
    }

    /// The calls of a `limit` left for others: the share, rounded up, but never the whole bucket.
    fn reserve(&self, limit: u64) -> u64 {
        let share = (limit as f64 * self.reserve_share).ceil() as u64;
        share.min(limit.saturating_sub(1))
    }

    /// What is known of a bucket: (limit, remaining, reset).
    pub fn snapshot(
        &self,
        connection: &ConnectionName,
        bucket: &str,
    ) -> Option<(u64, u64, DateTime<Utc>)> {
        let buckets = self.buckets.lock().ok()?;
        let state = buckets.get(&(connection.clone(), bucket.to_string()))?;
        Some((state.limit, state.remaining, state.reset))
    }

    /// Everything known of one connection's buckets, in bucket order: what people read on the Connections page
    /// and in the API (the figures a sync or an apply is paced by).
    pub fn buckets(&self, connection: &ConnectionName) -> Vec<BucketState> {
        let Ok(buckets) = self.buckets.lock() else {
            return Vec::new();
        };
        let mut known: Vec<BucketState> = buckets
            .iter()
            .filter(|((name, _), _)| name == connection)
            .map(|((_, bucket), state)| BucketState {
                bucket: bucket.clone(),
                limit: state.limit,
                remaining: state.remaining,
                reset: state.reset,
                reserved: self.reserve(state.limit),
                in_flight: state.in_flight,
                held_until: state.held_until,
                documented: state.window.is_some(),
            })
            .collect();
        known.sort_by(|a, b| a.bucket.cmp(&b.bucket));
        known
    }

    /// Waits until one more call to `bucket` fits in its budget (or the budget is not known yet), and takes a
    /// place in it; the reset it would have to wait for when that wait does not fit in `waits`.
    async fn acquire(
        self: &Arc<Self>,
        connection: &ConnectionName,
        bucket: &str,
        documented: Option<Documented>,
        clock: &dyn Clock,
        waits: &mut WaitBudget,
    ) -> Result<BudgetPermit, DateTime<Utc>> {
        let key = (connection.clone(), bucket.to_string());
        if let Some(documented) = documented
            && let Ok(mut buckets) = self.buckets.lock()
        {
            let now = clock.now();
            let state = buckets.entry(key.clone()).or_insert(Bucket {
                limit: documented.limit,
                remaining: documented.limit,
                reset: now,
                in_flight: 0,
                held_until: None,
                window: None,
            });
            if state.window.is_none() {
                // Until now unknown, or known only by a refusal: from here on the documented budget.
                state.limit = documented.limit;
                state.remaining = documented.limit;
                state.reset = now;
                state.window = Some(documented.paced_window());
            }
        }
        loop {
            if let Some(ledger) = &self.ledger
                && let Some((limit, remaining, reset)) = ledger.latest(connection, bucket).await
            {
                self.merge(
                    &key,
                    Budget {
                        limit,
                        remaining,
                        reset,
                    },
                );
            }
            let wait_until = {
                let Ok(mut buckets) = self.buckets.lock() else {
                    break;
                };
                match buckets.get_mut(&key) {
                    None => break,
                    Some(state) if state.held_until.is_some_and(|until| clock.now() < until) => {
                        state.held_until.unwrap_or(state.reset)
                    }
                    Some(state) => {
                        let now = clock.now();
                        state.held_until = None;
                        if now >= state.reset {
                            // A new window: the vendor will tell us the new
                            // figures; until then assume the full budget.
                            state.remaining = state.limit;
                            state.reset =
                                now + state.window.unwrap_or(chrono::Duration::seconds(1));
                        }
                        // A documented budget counts calls as they are sent, so those in flight are
                        // already off `remaining`.
                        let in_flight = if state.window.is_some() {
                            0
                        } else {
                            state.in_flight
                        };
                        let usable = state
                            .remaining
                            .saturating_sub(in_flight)
                            .saturating_sub(self.reserve(state.limit));
                        if usable > 0 || state.limit == 0 {
                            state.in_flight += 1;
                            if state.window.is_some() {
                                state.remaining = state.remaining.saturating_sub(1);
                            }
                            return Ok(BudgetPermit {
                                budgets: self.clone(),
                                key,
                            });
                        }
                        state.reset
                    }
                }
            };
            let wait = until(clock.now(), wait_until).max(Duration::from_millis(10))
                + Duration::from_millis(25);
            if !waits.sleep(wait).await {
                return Err(wait_until);
            }
        }
        if let Ok(mut buckets) = self.buckets.lock() {
            buckets
                .entry(key.clone())
                .or_insert(Bucket {
                    limit: 0,
                    remaining: 0,
                    reset: clock.now(),
                    in_flight: 0,
                    held_until: None,
                    window: None,
                })
                .in_flight += 1;
        }
        Ok(BudgetPermit {
            budgets: self.clone(),
            key,
        })
    }

    /// The vendor refused a call to `bucket` until `reset` (a 429): hold the bucket's other calls until then.
    fn hold(&self, key: &Key, reset: DateTime<Utc>, now: DateTime<Utc>) {
        let Ok(mut buckets) = self.buckets.lock() else {
            return;
        };
        let state = buckets.entry(key.clone()).or_insert(Bucket {
            limit: 0,
            remaining: 0,
            reset: now,
            in_flight: 0,
            held_until: None,
            window: None,
        });
        state.held_until = Some(state.held_until.map_or(reset, |held| held.max(reset)));
    }

    /// Records what a response said about its bucket (and publishes it to
    /// the other processes, when shared).
    async fn record(&self, connection: &ConnectionName, bucket: &str, budget: Budget) {
        self.merge(&(connection.clone(), bucket.to_string()), budget);
        if let Some(ledger) = &self.ledger {
            ledger
                .publish(
                    connection,
                    bucket,
                    budget.limit,
                    budget.remaining,
                    budget.reset,
                )
                .await;
        }
    }

    /// Within one window the lowest `remaining` seen wins: responses may
    /// arrive out of order.
    fn merge(&self, key: &Key, budget: Budget) {
        let Ok(mut buckets) = self.buckets.lock() else {
            return;
        };
        let state = buckets.entry(key.clone()).or_insert(Bucket {
            limit: budget.limit,
            remaining: budget.remaining,
            reset: budget.reset,
            in_flight: 0,
            held_until: None,
            window: None,
        });
        if budget.limit != state.limit {
            // Another limit is another budget (the vendor changed the window): its figures stand as they are.
            state.remaining = budget.remaining;
            state.reset = budget.reset;
        } else if budget.reset > state.reset {
            state.remaining = budget.remaining;
        } else {
            state.remaining = state.remaining.min(budget.remaining);
        }
        state.limit = budget.limit;
        state.reset = state.reset.max(budget.reset);
    }
}

/// One connection's view of the shared budgets: its name, the budgets and the clock they are read with.
#[derive(Clone)]
pub struct BudgetHandle {
    connection: ConnectionName,
    budgets: Arc<RateBudgets>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for BudgetHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BudgetHandle")
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

impl BudgetHandle {
    pub fn connection(&self) -> &ConnectionName {
        &self.connection
    }

    /// Waits until one more call to `bucket` fits in its budget, drawing the wait from `waits`; a wait that
    /// does not fit is `RateLimited` with the reset and the message `spent` gives.
    pub async fn acquire(
        &self,
        bucket: &str,
        waits: &mut WaitBudget,
        spent: impl FnOnce() -> String,
    ) -> Result<BudgetPermit, Failure> {
        self.acquire_documented(bucket, None, waits, spent).await
    }

    /// As [`BudgetHandle::acquire`], for a bucket whose budget the vendor documents but does not announce:
    /// the bucket starts from `documented` and counts its calls as they are sent.
    pub async fn acquire_documented(
        &self,
        bucket: &str,
        documented: Option<Documented>,
        waits: &mut WaitBudget,
        spent: impl FnOnce() -> String,
    ) -> Result<BudgetPermit, Failure> {
        self.budgets
            .acquire(
                &self.connection,
                bucket,
                documented,
                self.clock.as_ref(),
                waits,
            )
            .await
            .map_err(|reset| Failure::rate_limited(bucket, reset, spent()))
    }

    /// The vendor refused a call to `bucket` until `reset`: the connection's other calls to it wait for the
    /// reset instead of meeting the same refusal (Slack and Google announce no budget, so a refusal is all
    /// there is to go by).
    pub fn hold(&self, bucket: &str, reset: DateTime<Utc>) {
        self.budgets.hold(
            &(self.connection.clone(), bucket.to_string()),
            reset,
            self.clock.now(),
        );
    }

    /// Records what an answer said about `bucket`.
    pub async fn record(&self, bucket: &str, budget: Budget) {
        self.budgets.record(&self.connection, bucket, budget).await;
    }

    /// For a connection configured not to wait out rate limits: the bucket's budget is known to be spent,
    /// so that is reported to the engine (with the reset) instead of calling.
    pub fn refuse_if_spent(
        &self,
        bucket: &str,
        spent: impl FnOnce() -> String,
    ) -> Result<(), Failure> {
        match self.snapshot(bucket) {
            // A limit of 0 is a bucket whose budget nobody announced.
            Some(Budget {
                limit: 1..,
                remaining: 0,
                reset,
            }) if reset > self.clock.now() => Err(Failure::rate_limited(bucket, reset, spent())),
            _ => Ok(()),
        }
    }

    /// What is known of `bucket`.
    pub fn snapshot(&self, bucket: &str) -> Option<Budget> {
        let (limit, remaining, reset) = self.budgets.snapshot(&self.connection, bucket)?;
        Some(Budget {
            limit,
            remaining,
            reset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantflow_model::SystemClock;

    fn handle(budgets: &Arc<RateBudgets>) -> BudgetHandle {
        budgets.handle(ConnectionName::new("okta"), Arc::new(SystemClock))
    }

    fn waits() -> WaitBudget {
        WaitBudget::new(Duration::from_secs(10))
    }

    fn spent() -> String {
        "spent".into()
    }

    fn budget(limit: u64, remaining: u64, reset: DateTime<Utc>) -> Budget {
        Budget {
            limit,
            remaining,
            reset,
        }
    }

    #[tokio::test]
    async fn an_unknown_bucket_is_not_held_back() {
        let budgets = Arc::new(RateBudgets::new(0.1));
        let okta = handle(&budgets);
        let _permit = okta
            .acquire("groups", &mut waits(), spent)
            .await
            .expect("permit");
        assert!(okta.snapshot("groups").is_some());
    }

    #[tokio::test]
    async fn the_reserve_is_left_unused_until_the_reset() {
        let budgets = Arc::new(RateBudgets::new(0.5));
        let okta = handle(&budgets);
        let reset = Utc::now() + chrono::Duration::milliseconds(300);
        okta.record("groups", budget(10, 6, reset)).await;
        // 6 remaining, 5 reserved: one call fits now.
        let first = okta
            .acquire("groups", &mut waits(), spent)
            .await
            .expect("permit");
        let started = std::time::Instant::now();
        drop(first);
        okta.record("groups", budget(10, 5, reset)).await;
        let _second = okta
            .acquire("groups", &mut waits(), spent)
            .await
            .expect("permit");
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "waited for the reset"
        );
    }

    #[tokio::test]
    async fn a_refusal_holds_a_bucket_without_an_announced_budget_until_its_reset() {
        let budgets = Arc::new(RateBudgets::new(0.0));
        let slack = budgets.handle(ConnectionName::new("slack"), Arc::new(SystemClock));
        let bucket = "tier3:conversations.invite";
        drop(
            slack
                .acquire(bucket, &mut waits(), spent)
                .await
                .expect("an unknown bucket is not held back"),
        );
        slack.hold(bucket, Utc::now() + chrono::Duration::milliseconds(300));
        let started = std::time::Instant::now();
        drop(
            slack
                .acquire(bucket, &mut waits(), spent)
                .await
                .expect("permit after the reset"),
        );
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "the next call waited for the reset"
        );
        // Past the reset the bucket is unknown again, and calls go at once.
        let started = std::time::Instant::now();
        let _permit = slack
            .acquire(bucket, &mut waits(), spent)
            .await
            .expect("permit");
        assert!(started.elapsed() < Duration::from_millis(100));
        // A reset further away than the call may wait is handed back, with when to come again.
        let far = Utc::now() + chrono::Duration::seconds(600);
        slack.hold(bucket, far);
        let mut short = WaitBudget::new(Duration::from_millis(100));
        match slack.acquire(bucket, &mut short, spent).await {
            Err(Failure::RateLimited { reset, .. }) => assert_eq!(reset, far),
            Err(other) => panic!("expected RateLimited, got {other:?}"),
            Ok(_) => panic!("expected RateLimited, got a permit"),
        }
    }

    #[tokio::test]
    async fn a_budget_of_one_call_still_allows_that_call_whatever_the_reserve() {
        let budgets = Arc::new(RateBudgets::new(0.9));
        let okta = handle(&budgets);
        let reset = Utc::now() + chrono::Duration::seconds(60);
        okta.record("groups", budget(1, 1, reset)).await;
        let mut short = WaitBudget::new(Duration::from_millis(100));
        let permit = okta.acquire("groups", &mut short, spent).await;
        assert!(permit.is_ok(), "the one call of the window is allowed");
    }

    #[tokio::test]
    async fn a_wait_longer_than_the_call_may_wait_is_reported_with_the_reset() {
        let budgets = Arc::new(RateBudgets::new(0.0));
        let okta = handle(&budgets);
        let reset = Utc::now() + chrono::Duration::seconds(600);
        okta.record("groups", budget(100, 0, reset)).await;
        let started = std::time::Instant::now();
        let mut short = WaitBudget::new(Duration::from_millis(200));
        match okta.acquire("groups", &mut short, spent).await {
            Err(Failure::RateLimited {
                reset: at, message, ..
            }) => {
                assert_eq!((at, message.as_str()), (reset, "spent"));
            }
            Err(other) => panic!("expected RateLimited, got {other:?}"),
            Ok(_) => panic!("expected RateLimited, got a permit"),
        }
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_documented_budget_paces_the_calls_before_any_refusal() {
        let budgets = Arc::new(RateBudgets::new(0.0));
        let slack = budgets.handle(ConnectionName::new("slack"), Arc::new(SystemClock));
        let bucket = "tier3:conversations.invite";
        // Three calls a 200 ms window (as Slack's 50 a minute, scaled down).
        let documented = Documented {
            limit: 3,
            window: Duration::from_millis(200),
        };
        let started = std::time::Instant::now();
        for _ in 0..3 {
            // Each permit is dropped at once, as after a quick answer: the budget counts calls sent, not
            // calls in flight, since no answer says what is left.
            drop(
                slack
                    .acquire_documented(bucket, Some(documented), &mut waits(), spent)
                    .await
                    .expect("within the window's budget"),
            );
        }
        assert!(
            started.elapsed() < Duration::from_millis(150),
            "the window's budget went out at once"
        );
        assert_eq!(
            slack.snapshot(bucket).map(|b| (b.limit, b.remaining)),
            Some((3, 0))
        );
        drop(
            slack
                .acquire_documented(bucket, Some(documented), &mut waits(), spent)
                .await
                .expect("permit in the next window"),
        );
        // The next window opens a margin after the documented one, so its first call cannot land in the
        // vendor's current window.
        assert!(
            started.elapsed() >= Duration::from_millis(200) + WINDOW_MARGIN,
            "the fourth call waited for the next window: {:?}",
            started.elapsed()
        );
        // A wait the call may not afford is handed back, with when to come again.
        drop(
            slack
                .acquire_documented(bucket, Some(documented), &mut waits(), spent)
                .await
                .expect("permit"),
        );
        drop(
            slack
                .acquire_documented(bucket, Some(documented), &mut waits(), spent)
                .await
                .expect("permit"),
        );
        let mut short = WaitBudget::new(Duration::from_millis(100));
        assert!(matches!(
            slack
                .acquire_documented(bucket, Some(documented), &mut short, spent)
                .await,
            Err(Failure::RateLimited { .. })
        ));
    }

    #[tokio::test]
    async fn a_bucket_without_a_documented_budget_is_still_not_held_back() {
        let budgets = Arc::new(RateBudgets::new(0.0));
        let slack = budgets.handle(ConnectionName::new("slack"), Arc::new(SystemClock));
        let mut short = WaitBudget::new(Duration::ZERO);
        for _ in 0..100 {
            drop(
                slack
                    .acquire_documented("special:chat.postMessage:C1", None, &mut short, spent)
                    .await
                    .expect("an unknown bucket is not held back"),
            );
        }
    }

    /// A clock that never moves: waits are still bounded, because they count time slept.
    struct Frozen(DateTime<Utc>);

    impl Clock for Frozen {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    #[tokio::test]
    async fn a_clock_that_stands_still_cannot_make_a_call_wait_forever() {
        let budgets = Arc::new(RateBudgets::new(0.0));
        let now = Utc::now();
        let frozen = budgets.handle(ConnectionName::new("okta"), Arc::new(Frozen(now)));
        frozen
            .record(
                "groups",
                budget(10, 0, now + chrono::Duration::milliseconds(100)),
            )
            .await;
        let mut short = WaitBudget::new(Duration::from_millis(500));
        let started = std::time::Instant::now();
        assert!(frozen.acquire("groups", &mut short, spent).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    /// A ledger in memory, standing in for the store.
    type Seen = (u64, u64, DateTime<Utc>);

    #[derive(Default)]
    struct Ledger(Mutex<HashMap<(ConnectionName, String), Seen>>);

    #[async_trait::async_trait]
    impl BudgetLedger for Ledger {
        async fn publish(
            &self,
            c: &ConnectionName,
            b: &str,
            limit: u64,
            remaining: u64,
            reset: DateTime<Utc>,
        ) {
            if let Ok(mut map) = self.0.lock() {
                map.insert((c.clone(), b.into()), (limit, remaining, reset));
            }
        }
        async fn latest(&self, c: &ConnectionName, b: &str) -> Option<(u64, u64, DateTime<Utc>)> {
            self.0
                .lock()
                .ok()?
                .get(&(c.clone(), b.to_string()))
                .copied()
        }
    }

    #[tokio::test]
    async fn a_budget_spent_by_another_process_is_respected() {
        let ledger: Arc<dyn BudgetLedger> = Arc::new(Ledger::default());
        let first = handle(&Arc::new(RateBudgets::shared(0.0, ledger.clone())));
        let second = handle(&Arc::new(RateBudgets::shared(0.0, ledger)));
        let reset = Utc::now() + chrono::Duration::milliseconds(300);
        first.record("groups", budget(600, 0, reset)).await;
        let started = std::time::Instant::now();
        let _permit = second
            .acquire("groups", &mut waits(), spent)
            .await
            .expect("permit");
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "the second process waited for the reset"
        );
    }

    #[tokio::test]
    async fn calls_in_flight_count_against_the_budget() {
        let budgets = Arc::new(RateBudgets::new(0.0));
        let okta = handle(&budgets);
        let reset = Utc::now() + chrono::Duration::milliseconds(200);
        okta.record("apps", budget(100, 2, reset)).await;
        let _a = okta
            .acquire("apps", &mut waits(), spent)
            .await
            .expect("permit");
        let _b = okta
            .acquire("apps", &mut waits(), spent)
            .await
            .expect("permit");
        let started = std::time::Instant::now();
        let _c = okta
            .acquire("apps", &mut waits(), spent)
            .await
            .expect("permit");
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "the third call waited"
        );
    }

    #[tokio::test]
    async fn buckets_lists_one_connections_buckets_with_reserve_and_hold() {
        let budgets = Arc::new(RateBudgets::new(0.1));
        let okta = handle(&budgets);
        let reset = Utc::now() + chrono::Duration::seconds(60);
        okta.record("users", budget(600, 420, reset)).await;
        okta.hold("apps", reset);
        budgets
            .handle(ConnectionName::new("slack"), Arc::new(SystemClock))
            .record("tier2", budget(20, 1, reset))
            .await;
        let listed = budgets.buckets(&ConnectionName::new("okta"));
        let names: Vec<&str> = listed.iter().map(|b| b.bucket.as_str()).collect();
        assert_eq!(names, ["apps", "users"], "only okta's, in order");
        assert_eq!(
            (listed[1].limit, listed[1].remaining, listed[1].reserved),
            (600, 420, 60)
        );
        assert_eq!((listed[0].limit, listed[0].held_until), (0, Some(reset)));
    }
}
