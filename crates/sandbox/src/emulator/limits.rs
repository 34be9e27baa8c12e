//! Rate limits as `/__sandbox/rate-limits` sees them ([`RateLimits`]), and the fixed-window counter most
//! emulators charge requests to ([`FixedWindows`]). Which bucket a request is charged to, and how a refusal
//! looks on the wire, are each vendor's rules.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::admin::{AdminBody, AdminError, bounds};

/// An emulator's rate-limit settings and counters, as the admin routes read and change them.
pub trait RateLimits: Clone + Send + Sync + 'static {
    /// The fields `POST /__sandbox/rate-limits` takes; any other is refused by name.
    const FIELDS: &'static [&'static str];
    /// What `GET /__sandbox/rate-limits` answers (and a POST echoes).
    fn settings(&self) -> Value;
    /// Applies a POST body: fields left out keep their values, and windows start afresh so a test's new
    /// budget applies at once.
    fn configure(&mut self, body: &AdminBody) -> Result<(), AdminError>;
    /// What `GET /__sandbox/calls` answers: the requests each bucket was charged and refused.
    fn tally(&self) -> Tally;
}

/// Requests charged to each bucket and how many of them it refused, since the emulator started or was last
/// reset (a new budget set through `/__sandbox/rate-limits` keeps the counts): what a benchmark reads to
/// know how many calls a workload cost each bucket, and how many 429s it met.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    counts: BTreeMap<String, (u64, u64)>,
}

impl Tally {
    pub fn count(&mut self, bucket: &str, allowed: bool) {
        self.add(bucket, 1, u64::from(!allowed));
    }

    /// Adds `calls` requests to `bucket`, `refused` of them refused.
    pub fn add(&mut self, bucket: &str, calls: u64, refused: u64) {
        let (c, r) = self.counts.entry(bucket.to_owned()).or_default();
        *c += calls;
        *r += refused;
    }

    /// `{"buckets": {"<bucket>": {"calls": n, "refused": n}}}`.
    pub fn json(&self) -> Value {
        let buckets: serde_json::Map<String, Value> = self
            .counts
            .iter()
            .map(|(bucket, (calls, refused))| {
                (bucket.clone(), json!({"calls": calls, "refused": refused}))
            })
            .collect();
        json!({ "buckets": buckets })
    }
}

/// Outcome of charging one request to a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    /// Requests counted in the current window, including this one.
    pub used: u32,
    pub remaining: u32,
    /// Epoch seconds when the window ends.
    pub reset: i64,
    /// Whole seconds until the reset, at least 1 (clients call `int()` on `Retry-After`).
    pub retry_after: i64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: DateTime<Utc>,
    used: u32,
}

/// Per-bucket fixed windows, each starting at its bucket's first request (vendors' windows are not aligned to
/// the wall clock). `{"window_seconds", "buckets": {name: limit}}`; a POST may also set `all` buckets at once.
#[derive(Debug, Clone)]
pub struct FixedWindows {
    window_seconds: u64,
    limits: BTreeMap<String, u32>,
    windows: BTreeMap<String, Window>,
    tally: Tally,
}

impl FixedWindows {
    pub fn new(window_seconds: u64, limits: &[(&str, u32)]) -> Self {
        Self {
            window_seconds: window_seconds.clamp(1, bounds::WINDOW_SECONDS),
            limits: limits.iter().map(|(n, l)| ((*n).to_owned(), *l)).collect(),
            windows: BTreeMap::new(),
            tally: Tally::default(),
        }
    }

    pub fn window_seconds(&self) -> u64 {
        self.window_seconds
    }

    pub fn limit(&self, bucket: &str) -> Option<u32> {
        self.limits.get(bucket).copied()
    }

    pub fn charge(&mut self, bucket: &str, now: DateTime<Utc>) -> Decision {
        self.charge_keyed(bucket, bucket, now)
    }

    /// Charges the window `key` against `bucket`'s limit: Slack counts each method on its own, at its tier's rate.
    pub fn charge_keyed(&mut self, bucket: &str, key: &str, now: DateTime<Utc>) -> Decision {
        let limit = self.limits.get(bucket).copied().unwrap_or(u32::MAX);
        // Bounded by `bounds::WINDOW_SECONDS`, so the conversion and the sums below cannot overflow.
        let len = chrono::Duration::seconds(i64::try_from(self.window_seconds).unwrap_or(60));
        let w = self.windows.entry(key.to_owned()).or_insert(Window {
            start: now,
            used: 0,
        });
        if now >= w.start + len {
            *w = Window {
                start: now,
                used: 0,
            };
        }
        let end = w.start + len;
        // Rounded up so `reset - now` is never negative for a client's sleep computation.
        let reset = end.timestamp() + i64::from(end.timestamp_subsec_nanos() > 0);
        let retry_after = (reset - now.timestamp()).max(1);
        let allowed = w.used < limit;
        if allowed {
            w.used += 1;
        }
        // A bucket counted per key (Slack's methods) is tallied per key, as `<bucket>:<key>`: its windows are.
        if key == bucket {
            self.tally.count(bucket, allowed);
        } else {
            self.tally.count(&format!("{bucket}:{key}"), allowed);
        }
        Decision {
            allowed,
            limit,
            used: w.used,
            remaining: limit.saturating_sub(w.used),
            reset,
            retry_after,
        }
    }

    /// Reads `window_seconds`, `buckets` and `all` from `body` and applies them; the caller has checked the
    /// body's fields (it may take more, as Okta's `concurrency`).
    pub fn configure_from(&mut self, body: &AdminBody) -> Result<(), AdminError> {
        let window_seconds = body.uint("window_seconds", 1..=bounds::WINDOW_SECONDS)?;
        let all = body.uint("all", 0..=bounds::LIMIT)?;
        let known: Vec<&str> = self.limits.keys().map(String::as_str).collect();
        let buckets = body.limits("buckets", &known)?;
        if let Some(w) = window_seconds {
            self.window_seconds = w;
        }
        if let Some(all) = all {
            let all = u32::try_from(all).unwrap_or(u32::MAX);
            self.limits.values_mut().for_each(|l| *l = all);
        }
        self.limits.extend(buckets);
        self.windows.clear();
        Ok(())
    }
}

impl RateLimits for FixedWindows {
    const FIELDS: &'static [&'static str] = &["window_seconds", "buckets", "all"];

    fn settings(&self) -> Value {
        json!({"window_seconds": self.window_seconds, "buckets": self.limits})
    }

    fn configure(&mut self, body: &AdminBody) -> Result<(), AdminError> {
        self.configure_from(body)
    }

    fn tally(&self) -> Tally {
        self.tally.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> AdminBody {
        AdminBody::parse(text.as_bytes(), FixedWindows::FIELDS).expect("body")
    }

    #[test]
    fn a_window_exhausts_then_resets_and_says_how_long_to_wait() {
        let mut w = FixedWindows::new(2, &[("api", 1)]);
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        assert!(w.charge("api", t0).allowed);
        let refused = w.charge("api", t0);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, 2);
        assert!(w.charge("api", t0 + chrono::Duration::seconds(2)).allowed);
        assert_eq!(
            w.tally().json(),
            json!({"buckets": {"api": {"calls": 3, "refused": 1}}})
        );
    }

    #[test]
    fn configuring_names_unknown_buckets_and_out_of_range_values_and_changes_nothing() {
        let mut w = FixedWindows::new(60, &[("api", 10)]);
        for (text, named) in [
            (r#"{"buckets": {"nope": 1}}"#, "nope"),
            (r#"{"window_seconds": 0}"#, "window_seconds"),
            (
                r#"{"window_seconds": 9223372036854775807}"#,
                "window_seconds",
            ),
            (
                r#"{"window_seconds": 18446744073709551615}"#,
                "window_seconds",
            ),
            (r#"{"window_seconds": -1}"#, "window_seconds"),
            (r#"{"all": 4294967296}"#, "all"),
            (r#"{"buckets": {"api": -3}}"#, "buckets.api"),
        ] {
            let err = w.configure(&body(text)).expect_err(text);
            assert!(err.message().contains(named), "{text}: {}", err.message());
        }
        assert_eq!(
            w.settings(),
            json!({"window_seconds": 60, "buckets": {"api": 10}})
        );
        w.configure(&body(r#"{"window_seconds": 1, "all": 0}"#))
            .expect("valid");
        assert_eq!(
            w.settings(),
            json!({"window_seconds": 1, "buckets": {"api": 0}})
        );
        assert!(!w.charge("api", Utc::now()).allowed);
    }
}
