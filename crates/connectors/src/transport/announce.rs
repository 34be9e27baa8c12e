//! What a vendor's headers say about when to come back, read defensively: both forms of `Retry-After`
//! (delta-seconds and HTTP-date, RFC 9110 §10.2.3), epoch-seconds reset headers, and numbers. Garbage,
//! negative values and dates that do not parse count as absent (the dialect then uses its default); values
//! too large for any clock count as "as late as believed" ([`TransportLimits::max_reset`]). Nothing here can
//! overflow or panic.

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::HeaderMap;
use std::time::{Duration, UNIX_EPOCH};

use super::TransportLimits;
use crate::ratelimit::Budget;

/// The moment an answer arrived and the limits its announcements are read within. Dialects read the
/// vendor's rate-limit headers through it.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The injected clock's reading when the answer arrived.
    pub now: DateTime<Utc>,
    /// How many times this call has already waited out a rate limit.
    pub rate_limit_waits: u32,
    limits: &'a TransportLimits,
}

impl<'a> Ctx<'a> {
    pub fn new(now: DateTime<Utc>, rate_limit_waits: u32, limits: &'a TransportLimits) -> Self {
        Self {
            now,
            rate_limit_waits,
            limits,
        }
    }

    /// `Retry-After` in either form, kept within the limits; `None` when absent or unreadable.
    pub fn retry_after(&self, headers: &HeaderMap) -> Option<DateTime<Utc>> {
        let value = text(headers, "retry-after")?;
        retry_after_value(value, self.now).map(|at| self.bound(at))
    }

    /// An epoch-seconds header (`X-Rate-Limit-Reset`, `RateLimit-Reset`, `X-RateLimit-Retry-At`), kept within
    /// the limits; `None` when absent, negative or not a whole number.
    pub fn epoch(&self, headers: &HeaderMap, name: &str) -> Option<DateTime<Utc>> {
        let seconds: i64 = text(headers, name)?.parse().ok()?;
        if seconds < 0 {
            return None;
        }
        Some(match DateTime::from_timestamp(seconds, 0) {
            Some(at) => self.bound(at),
            // Past anything a clock can hold: as late as believed.
            None => self.limits.latest(self.now),
        })
    }

    /// The budget announced by three headers: the window's limit, what is left, and its reset (epoch
    /// seconds); `None` unless all three are there and readable.
    pub fn budget(
        &self,
        headers: &HeaderMap,
        [limit, remaining, reset]: [&str; 3],
    ) -> Option<Budget> {
        Some(Budget {
            limit: number(headers, limit)?,
            remaining: number(headers, remaining)?,
            reset: self.epoch(headers, reset)?,
        })
    }

    /// `now + wait`, kept within the limits.
    pub fn after(&self, wait: Duration) -> DateTime<Utc> {
        self.limits.after(self.now, wait)
    }

    /// `at`, kept between now and the latest moment believed.
    pub fn bound(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        self.limits.bound(self.now, at)
    }
}

/// One header as trimmed text, when it is there and is text.
pub fn text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)?
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// A header holding a non-negative whole number.
pub fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    text(headers, name)?.parse().ok()
}

/// `Retry-After`'s value at `now`, unbounded: delta-seconds (any number of digits; too many for a clock is
/// the end of time) or an HTTP-date.
fn retry_after_value(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if value.bytes().all(|b| b.is_ascii_digit()) {
        let far = DateTime::<Utc>::MAX_UTC;
        let at = value
            .parse::<i64>()
            .ok()
            .and_then(TimeDelta::try_seconds)
            .and_then(|wait| now.checked_add_signed(wait))
            .unwrap_or(far);
        return Some(at);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    let seconds = date.duration_since(UNIX_EPOCH).ok()?.as_secs();
    DateTime::from_timestamp(i64::try_from(seconds).ok()?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().expect("header"));
        headers
    }

    const LIMITS: TransportLimits = TransportLimits {
        max_wait: Duration::from_secs(1),
        max_reset: Duration::from_secs(600),
    };

    #[test]
    fn retry_after_is_read_in_both_forms_and_bounded() {
        let now = Utc::now();
        let ctx = Ctx::new(now, 0, &LIMITS);
        let cap = now + TimeDelta::seconds(600);
        let read = |value: &str| ctx.retry_after(&headers("retry-after", value));
        assert_eq!(read("3"), Some(now + TimeDelta::seconds(3)));
        assert_eq!(read("0"), Some(now));
        assert_eq!(read("9223372036854775807"), Some(cap));
        assert_eq!(read("99999999999999999999999"), Some(cap));
        assert_eq!(read("1e14"), None);
        assert_eq!(read("-1"), None);
        assert_eq!(read("soon"), None);
        let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let at = read(&date).expect("an HTTP date");
        assert!((at - now).num_seconds().abs_diff(120) <= 1, "{at}");
        assert_eq!(read("Fri, 31 Dec 9999 23:59:59 GMT"), Some(cap));
        assert_eq!(read("Thu, 01 Jan 1970 00:00:00 GMT"), Some(now));
    }

    #[test]
    fn epoch_resets_are_bounded_and_garbage_is_absent() {
        let now = Utc::now();
        let ctx = Ctx::new(now, 0, &LIMITS);
        let cap = now + TimeDelta::seconds(600);
        let read =
            |value: &str| ctx.epoch(&headers("x-rate-limit-reset", value), "x-rate-limit-reset");
        assert_eq!(read("32503680000"), Some(cap), "the year 3000");
        assert_eq!(read("9223372036854775807"), Some(cap));
        assert_eq!(read("1"), Some(now), "long past");
        assert_eq!(read("-5"), None);
        assert_eq!(read("1e9"), None);
        let soon = now.timestamp() + 5;
        assert_eq!(read(&soon.to_string()).map(|at| at.timestamp()), Some(soon));
    }
}
