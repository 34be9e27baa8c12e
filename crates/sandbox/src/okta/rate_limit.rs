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

use std::collections::BTreeMap;

use axum::http::Method;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

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

#[derive(Debug, Clone, Copy)]
struct Window {
    start: DateTime<Utc>,
    used: u32,
}

/// Outcome of charging one request to its bucket; `reset` is epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    pub reset: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RateLimitConfig {
    pub window_seconds: u64,
    pub buckets: BTreeMap<String, u32>,
    pub concurrency: u32,
}

pub const DEFAULT_CONCURRENCY: u32 = 75;

#[derive(Debug)]
pub struct RateLimiter {
    window_seconds: u64,
    limits: BTreeMap<String, u32>,
    windows: BTreeMap<String, Window>,
    concurrency: u32,
    in_flight: u32,
}

impl RateLimiter {
    pub fn new(window_seconds: u64) -> Self {
        Self {
            window_seconds: window_seconds.max(1),
            limits: BUCKETS.iter().map(|(n, l)| ((*n).to_owned(), *l)).collect(),
            windows: BTreeMap::new(),
            concurrency: DEFAULT_CONCURRENCY,
            in_flight: 0,
        }
    }

    /// Takes an in-flight slot; `false` means the org's concurrency limit is reached.
    pub fn enter(&mut self) -> bool {
        if self.in_flight >= self.concurrency {
            return false;
        }
        self.in_flight += 1;
        true
    }

    pub fn leave(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    pub fn config(&self) -> RateLimitConfig {
        RateLimitConfig {
            window_seconds: self.window_seconds,
            buckets: self.limits.clone(),
            concurrency: self.concurrency,
        }
    }

    /// Changing limits starts fresh windows so a test's new budget applies at once.
    pub fn configure(
        &mut self,
        window_seconds: Option<u64>,
        all: Option<u32>,
        buckets: &BTreeMap<String, u32>,
        concurrency: Option<u32>,
    ) -> Result<(), String> {
        if let Some(unknown) = buckets.keys().find(|b| !self.limits.contains_key(*b)) {
            return Err(format!("unknown bucket {unknown:?}"));
        }
        if let Some(w) = window_seconds {
            self.window_seconds = w.max(1);
        }
        if let Some(c) = concurrency {
            self.concurrency = c;
        }
        if let Some(all) = all {
            self.limits.values_mut().for_each(|l| *l = all);
        }
        for (b, l) in buckets {
            self.limits.insert(b.clone(), *l);
        }
        self.windows.clear();
        Ok(())
    }

    pub fn charge(&mut self, bucket: &str, now: DateTime<Utc>) -> Decision {
        let limit = self.limits.get(bucket).copied().unwrap_or(600);
        let len = Duration::seconds(self.window_seconds as i64);
        let w = self.windows.entry(bucket.to_owned()).or_insert(Window {
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
        // Round up so `X-Rate-Limit-Reset - Date` is never negative for the SDK's sleep computation.
        let reset = end.timestamp() + i64::from(end.timestamp_subsec_nanos() > 0);
        if w.used >= limit {
            return Decision {
                allowed: false,
                limit,
                remaining: 0,
                reset,
            };
        }
        w.used += 1;
        Decision {
            allowed: true,
            limit,
            remaining: limit - w.used,
            reset,
        }
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
        let mut r = RateLimiter::new(2);
        r.configure(None, None, &[("logs".to_owned(), 2)].into(), None)
            .unwrap();
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(r.charge("logs", t0).allowed);
        assert_eq!(r.charge("logs", t0).remaining, 0);
        let d = r.charge("logs", t0);
        assert!(!d.allowed);
        assert_eq!(d.reset, 1_700_000_002);
        assert!(r.charge("logs", t0 + Duration::seconds(2)).allowed);
    }
}
