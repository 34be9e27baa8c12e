//! How long a call may wait, and how far ahead a vendor is believed when it says when to come back.

use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;

/// Bounds on what a vendor's answers can make a call do. One set per [`crate::BuildContext`], so the
/// engine can keep every wait inside a call shorter than its job lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportLimits {
    /// The longest one call waits in all: for a spent budget's reset, a 429's `Retry-After`, and the backoff
    /// between transient retries. A wait that does not fit is not waited: the call reports the rate limit
    /// (with its reset) or the transient failure to the engine instead. Keep it below the engine's job lease.
    pub max_wait: Duration,
    /// How far ahead a vendor's `Retry-After` or rate-limit reset is believed. A later one (a reset in the
    /// year 3000, `Retry-After: 9223372036854775807`) is taken to be this far ahead.
    pub max_reset: Duration,
}

impl Default for TransportLimits {
    fn default() -> Self {
        Self {
            // Half the engine's default job lease (60 s).
            max_wait: Duration::from_secs(30),
            max_reset: Duration::from_secs(15 * 60),
        }
    }
}

impl TransportLimits {
    /// `at`, kept between `now` and `now + max_reset`.
    pub fn bound(&self, now: DateTime<Utc>, at: DateTime<Utc>) -> DateTime<Utc> {
        at.clamp(now, self.latest(now))
    }

    /// `now + wait`, at most `now + max_reset`; never overflows.
    pub fn after(&self, now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
        TimeDelta::from_std(wait)
            .ok()
            .and_then(|wait| now.checked_add_signed(wait))
            .map_or_else(|| self.latest(now), |at| self.bound(now, at))
    }

    /// The latest moment a vendor is believed about: `now + max_reset`.
    pub fn latest(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        TimeDelta::from_std(self.max_reset)
            .ok()
            .and_then(|cap| now.checked_add_signed(cap))
            .unwrap_or(now)
    }
}

/// What is left of one call's [`TransportLimits::max_wait`]: every sleep inside the call is drawn from it.
/// It counts the time slept, not the clock, so a clock that stands still cannot make a call wait forever.
#[derive(Debug, Clone, Copy)]
pub struct WaitBudget {
    left: Duration,
}

impl WaitBudget {
    pub fn new(max_wait: Duration) -> Self {
        Self { left: max_wait }
    }

    /// Takes `wait` from the budget when it fits; `false` (and nothing taken) when it does not.
    pub fn take(&mut self, wait: Duration) -> bool {
        match self.left.checked_sub(wait) {
            Some(left) => {
                self.left = left;
                true
            }
            None => false,
        }
    }

    /// Sleeps `wait` when it fits in the budget; `false` without sleeping when it does not.
    pub async fn sleep(&mut self, wait: Duration) -> bool {
        if !self.take(wait) {
            return false;
        }
        tokio::time::sleep(wait).await;
        true
    }

    pub fn left(&self) -> Duration {
        self.left
    }
}

/// How long until `at`, as seen at `now`; zero when it has passed.
pub fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_are_kept_between_now_and_the_cap() {
        let limits = TransportLimits {
            max_wait: Duration::from_secs(1),
            max_reset: Duration::from_secs(60),
        };
        let now = Utc::now();
        assert_eq!(
            limits.after(now, Duration::MAX),
            now + TimeDelta::seconds(60)
        );
        assert_eq!(
            limits.after(now, Duration::from_secs(5)),
            now + TimeDelta::seconds(5)
        );
        assert_eq!(limits.bound(now, now - TimeDelta::days(1)), now);
        assert_eq!(
            limits.bound(now, DateTime::<Utc>::MAX_UTC),
            now + TimeDelta::seconds(60)
        );
    }

    #[test]
    fn a_wait_budget_refuses_what_does_not_fit() {
        let mut budget = WaitBudget::new(Duration::from_millis(100));
        assert!(budget.take(Duration::from_millis(60)));
        assert!(!budget.take(Duration::from_millis(60)));
        assert!(budget.take(Duration::from_millis(40)));
        assert_eq!(budget.left(), Duration::ZERO);
    }
}
