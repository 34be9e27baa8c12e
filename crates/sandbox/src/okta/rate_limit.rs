//! Okta's per-minute rate-limit buckets (Enterprise column of rl-global-mgmt), matched by method and path.
//!
//! | bucket       | requests                                                   | limit/window |
//! |--------------|------------------------------------------------------------|--------------|
//! | `apps`       | `/api/v1/apps` and `/api/v1/apps/{id}/*` (users, groups, …) | 100          |
//! | `app`        | `/api/v1/apps/{id}` exactly                                 | 600          |
//! | `groups`     | `/api/v1/groups` and `/api/v1/groups/{id}/*`                | 600          |
//! | `group`      | `/api/v1/groups/{id}` exactly                               | 600          |
//! | `users`      | GET/POST `/api/v1/users`                                    | 600          |
//! | `user-get`   | GET `/api/v1/users/{idOrLogin}`                             | 1000         |
//! | `user-write` | POST/PUT/DELETE `/api/v1/users/{id}`                        | 600          |
//! | `logs`       | `/api/v1/logs`                                              | 50           |
//! | `other`      | everything else under `/api/v1` (lifecycle, sessions, …)    | 600          |
//!
//! Concurrency is limited separately (Okta: 75 in-flight requests for Workforce orgs); a request over it gets
//! a 429 with `X-Rate-Limit-Limit: 0` and `X-Rate-Limit-Remaining: 0`, as Okta signals concurrency violations.
//!
//! Windows start at a bucket's first request (Okta's are not aligned to wall-clock minutes) and last
//! `window_seconds` (60 by default; tests shorten it so the SDK's reset-based sleep stays short).

use axum::http::Method;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::emulator::{AdminBody, AdminError, Decision, FixedWindows, RateLimits, Tally, bounds};

pub const BUCKETS: &[(&str, u32)] = &[
    ("apps", 100),
    ("app", 600),
    ("groups", 600),
    ("group", 600),
    ("users", 600),
    ("user-get", 1000),
    ("user-write", 600),
    ("logs", 50),
    ("other", 600),
];

/// Most specific match first, as Okta does; the method matters only for the users buckets.
pub fn bucket_for(method: &Method, path: &str) -> &'static str {
    let segs: Vec<&str> = path
        .trim_end_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let rest = match segs.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        _ => return "other",
    };
    let read_or_create = *method == Method::GET || *method == Method::POST;
    match rest {
        ["logs", ..] => "logs",
        ["apps", _] => "app",
        ["apps", ..] => "apps",
        ["groups", id] if *id != "rules" => "group",
        ["groups", ..] => "groups",
        ["users"] if read_or_create => "users",
        ["users", _] if *method == Method::GET => "user-get",
        ["users", _]
            if *method == Method::POST || *method == Method::PUT || *method == Method::DELETE =>
        {
            "user-write"
        }
        _ => "other",
    }
}

pub const DEFAULT_CONCURRENCY: u32 = 75;

/// Okta's buckets (fixed windows) and its concurrency limit: `{"window_seconds", "buckets", "concurrency"}`;
/// a POST may also set `all` buckets at once.
#[derive(Debug, Clone)]
pub struct OktaLimits {
    windows: FixedWindows,
    concurrency: u32,
    in_flight: u32,
    /// Requests refused for Okta's concurrency limit (the buckets' own counts are the windows').
    over_concurrency: u64,
}

impl OktaLimits {
    pub fn new(window_seconds: u64) -> Self {
        Self {
            windows: FixedWindows::new(window_seconds, BUCKETS),
            concurrency: DEFAULT_CONCURRENCY,
            in_flight: 0,
            over_concurrency: 0,
        }
    }

    /// Takes an in-flight slot; `false` means the org's concurrency limit is reached.
    pub fn enter(&mut self) -> bool {
        if self.in_flight >= self.concurrency {
            self.over_concurrency += 1;
            return false;
        }
        self.in_flight += 1;
        true
    }

    pub fn leave(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    pub fn charge(&mut self, bucket: &str, now: DateTime<Utc>) -> Decision {
        self.windows.charge(bucket, now)
    }
}

impl RateLimits for OktaLimits {
    const FIELDS: &'static [&'static str] = &["window_seconds", "buckets", "all", "concurrency"];

    fn settings(&self) -> Value {
        let mut settings = self.windows.settings();
        settings["concurrency"] = self.concurrency.into();
        settings
    }

    fn configure(&mut self, body: &AdminBody) -> Result<(), AdminError> {
        let concurrency = body.uint("concurrency", 0..=bounds::LIMIT)?;
        self.windows.configure_from(body)?;
        if let Some(c) = concurrency {
            self.concurrency = u32::try_from(c).unwrap_or(u32::MAX);
        }
        Ok(())
    }

    fn tally(&self) -> Tally {
        let mut tally = self.windows.tally();
        if self.over_concurrency > 0 {
            tally.add("concurrency", self.over_concurrency, self.over_concurrency);
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_okta_table() {
        assert_eq!(bucket_for(&Method::GET, "/api/v1/users"), "users");
        assert_eq!(bucket_for(&Method::POST, "/api/v1/users"), "users");
        assert_eq!(bucket_for(&Method::GET, "/api/v1/users/00u1"), "user-get");
        assert_eq!(bucket_for(&Method::PUT, "/api/v1/users/00u1"), "user-write");
        assert_eq!(
            bucket_for(&Method::POST, "/api/v1/users/00u1/lifecycle/suspend"),
            "other"
        );
        assert_eq!(bucket_for(&Method::GET, "/api/v1/apps"), "apps");
        assert_eq!(bucket_for(&Method::GET, "/api/v1/apps/0oa1"), "app");
        assert_eq!(bucket_for(&Method::GET, "/api/v1/apps/0oa1/users"), "apps");
        assert_eq!(bucket_for(&Method::GET, "/api/v1/groups/00g1"), "group");
        assert_eq!(
            bucket_for(&Method::PUT, "/api/v1/groups/00g1/users/00u1"),
            "groups"
        );
        assert_eq!(bucket_for(&Method::GET, "/api/v1/logs"), "logs");
    }

    #[test]
    fn window_exhausts_and_resets() {
        let mut r = OktaLimits::new(2);
        let body = AdminBody::parse(br#"{"buckets": {"logs": 2}}"#, OktaLimits::FIELDS).unwrap();
        r.configure(&body).unwrap();
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(r.charge("logs", t0).allowed);
        assert_eq!(r.charge("logs", t0).remaining, 0);
        let d = r.charge("logs", t0);
        assert!(!d.allowed);
        assert_eq!(d.reset, 1_700_000_002);
        assert!(r.charge("logs", t0 + chrono::Duration::seconds(2)).allowed);
    }

    #[test]
    fn concurrency_is_a_setting_of_its_own_and_checked_like_the_rest() {
        let mut r = OktaLimits::new(60);
        let body = |text: &str| AdminBody::parse(text.as_bytes(), OktaLimits::FIELDS).unwrap();
        let err = r.configure(&body(r#"{"concurrency": -1}"#)).unwrap_err();
        assert!(
            err.message().starts_with("concurrency"),
            "{}",
            err.message()
        );
        let err = r
            .configure(&body(r#"{"concurrency": 2, "window_seconds": 0}"#))
            .unwrap_err();
        assert!(
            err.message().starts_with("window_seconds"),
            "{}",
            err.message()
        );
        assert_eq!(r.settings()["concurrency"], 75, "nothing changed");
        r.configure(&body(r#"{"concurrency": 1}"#)).unwrap();
        assert!(r.enter());
        assert!(!r.enter());
        r.leave();
        assert!(r.enter());
    }
}
