//! The injected clock: code that needs "now" asks a `Clock`, so leases,
//! retries, rate-limit resets and audit timestamps can be driven by tests.

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock. The only place production code reads the time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
