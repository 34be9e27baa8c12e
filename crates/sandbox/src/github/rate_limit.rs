//! GitHub's REST rate limits: the primary `core` budget (5,000 requests per window for a token, reported in
//! `x-ratelimit-*` on every response) and the secondary limits on content-creating requests (80 per minute per
//! GitHub's docs) and on points per REST endpoint (900 a minute; a read is one point), answered with 403 (or
//! 429) and `Retry-After`.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::emulator::{AdminBody, AdminError, RateLimits, Tally, bounds};

/// Settings, read and written through `/__sandbox/rate-limits`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LimitsConfig {
    /// Length of the primary window (GitHub: an hour; the sandbox default follows the sandbox option).
    pub window_seconds: u64,
    pub limit: u32,
    /// 403 or 429: GitHub uses both for the primary limit.
    pub status: u16,
    pub secondary_window_seconds: u64,
    /// Writes (POST, PUT, PATCH, DELETE) allowed per secondary window.
    pub secondary_limit: u32,
    pub secondary_status: u16,
    /// Reads allowed per minute to one REST endpoint: "no more than 900 points per minute are allowed for
    /// REST API endpoints", a GET being one point (docs.github.com, "Rate limits for the REST API").
    pub points_per_minute: u32,
}

impl LimitsConfig {
    fn new(window_seconds: u64) -> Self {
        Self {
            window_seconds: window_seconds.clamp(1, bounds::WINDOW_SECONDS),
            limit: 5000,
            status: 403,
            secondary_window_seconds: 60,
            secondary_limit: 80,
            secondary_status: 403,
            points_per_minute: 900,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: DateTime<Utc>,
    used: u32,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub config: LimitsConfig,
    primary: Option<Window>,
    secondary: Option<Window>,
    /// Each endpoint's minute of reads, by route (`orgs/{}/teams/{}/members`).
    points: BTreeMap<String, Window>,
    tally: Tally,
}

/// What one request is told: the `x-ratelimit-*` values, and whether it is refused (and how).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub limit: u32,
    pub remaining: u32,
    pub used: u32,
    pub reset: i64,
    pub refused: Option<Refusal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Primary { status: u16 },
    Secondary { status: u16, retry_after: u64 },
}

fn current(w: Option<Window>, length: Duration, now: DateTime<Utc>) -> Window {
    match w {
        Some(w) if now < w.start + length => w,
        _ => Window {
            start: now,
            used: 0,
        },
    }
}

impl Limits {
    pub fn new(window_seconds: u64) -> Self {
        Self {
            config: LimitsConfig::new(window_seconds),
            primary: None,
            secondary: None,
            points: BTreeMap::new(),
            tally: Tally::default(),
        }
    }

    pub fn set_config(&mut self, config: LimitsConfig) {
        self.config = config;
        self.primary = None;
        self.secondary = None;
        self.points.clear();
    }
    /// Charges one request to `endpoint` (the route, from [`endpoint`]); a refused request is not counted,
    /// as on GitHub. The tally counts every request under `core` (a write refused there only by the primary
    /// limit, a read by the primary limit or its endpoint's points) and every write that passed the primary
    /// limit under `secondary`, so one refusal is tallied once.
    pub fn charge(&mut self, now: DateTime<Utc>, write: bool, endpoint: &str) -> Decision {
        let decision = self.charge_windows(now, write, endpoint);
        let passed_primary = !matches!(decision.refused, Some(Refusal::Primary { .. }));
        if write {
            self.tally.count("core", passed_primary);
            if passed_primary {
                self.tally.count("secondary", decision.refused.is_none());
            }
        } else {
            self.tally.count("core", decision.refused.is_none());
        }
        decision
    }

    fn charge_windows(&mut self, now: DateTime<Utc>, write: bool, endpoint: &str) -> Decision {
        let c = &self.config;
        // Windows are bounded by `bounds::WINDOW_SECONDS`, so these conversions cannot wrap.
        let length = Duration::seconds(c.window_seconds as i64);
        let mut p = current(self.primary, length, now);
        // Rounded up, as the other emulators' windows (`emulator::limits`): a client that waits until the
        // announced second must not arrive before the window has ended.
        let end = p.start + length;
        let reset = end.timestamp() + i64::from(end.timestamp_subsec_nanos() > 0);
        let decision = |used: u32, refused| Decision {
            limit: c.limit,
            remaining: c.limit.saturating_sub(used),
            used,
            reset,
            refused,
        };
        if p.used >= c.limit {
            self.primary = Some(p);
            return decision(p.used, Some(Refusal::Primary { status: c.status }));
        }
        if write {
            let s_length = Duration::seconds(c.secondary_window_seconds as i64);
            let mut s = current(self.secondary, s_length, now);
            if s.used >= c.secondary_limit {
                let left = (s.start + s_length - now).num_milliseconds().max(0) as u64;
                self.secondary = Some(s);
                let retry_after = left.div_ceil(1000).max(1);
                return decision(
                    p.used,
                    Some(Refusal::Secondary {
                        status: c.secondary_status,
                        retry_after,
                    }),
                );
            }
            s.used += 1;
            self.secondary = Some(s);
        } else {
            let minute = Duration::seconds(60);
            let mut e = current(self.points.get(endpoint).copied(), minute, now);
            if e.used >= c.points_per_minute {
                let left = (e.start + minute - now).num_milliseconds().max(0) as u64;
                self.points.insert(endpoint.to_owned(), e);
                return decision(
                    p.used,
                    Some(Refusal::Secondary {
                        status: c.secondary_status,
                        retry_after: left.div_ceil(1000).max(1),
                    }),
                );
            }
            e.used += 1;
            self.points.insert(endpoint.to_owned(), e);
        }
        p.used += 1;
        self.primary = Some(p);
        decision(p.used, None)
    }
}

/// The route a request's path is charged to for the points limit: each id in the path (the segment after
/// `orgs`, `teams`, `users`, `members`, `memberships`, `invitations`, and the owner and name after `repos`)
/// as `{}`, so every team's member list is one endpoint, as on GitHub.
pub fn endpoint(path: &str) -> String {
    let mut route = Vec::new();
    let mut ids = 0;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        if ids > 0 {
            route.push("{}");
            ids -= 1;
            continue;
        }
        ids = match segment {
            "orgs" | "teams" | "users" | "members" | "memberships" | "invitations" => 1,
            "repos" => 2,
            _ => 0,
        };
        route.push(segment);
    }
    route.join("/")
}

/// Fields left out keep their current values.
impl RateLimits for Limits {
    const FIELDS: &'static [&'static str] = &[
        "window_seconds",
        "limit",
        "status",
        "secondary_window_seconds",
        "secondary_limit",
        "secondary_status",
        "points_per_minute",
    ];

    fn settings(&self) -> Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }

    fn configure(&mut self, body: &AdminBody) -> Result<(), AdminError> {
        let window = |name| body.uint(name, 1..=bounds::WINDOW_SECONDS);
        let limit = |name| {
            body.uint(name, 0..=bounds::LIMIT)
                .map(|l| l.map(|l| u32::try_from(l).unwrap_or(u32::MAX)))
        };
        // GitHub answers rate limits with 403 or 429.
        let status = |name| match body.uint(name, 0..=599)? {
            None => Ok(None),
            Some(403) => Ok(Some(403)),
            Some(429) => Ok(Some(429)),
            Some(other) => Err(AdminError::field(
                name,
                format!("must be 403 or 429 (GitHub answers rate limits with either), not {other}"),
            )),
        };
        let c = &self.config;
        let config = LimitsConfig {
            window_seconds: window("window_seconds")?.unwrap_or(c.window_seconds),
            limit: limit("limit")?.unwrap_or(c.limit),
            status: status("status")?.unwrap_or(c.status),
            secondary_window_seconds: window("secondary_window_seconds")?
                .unwrap_or(c.secondary_window_seconds),
            secondary_limit: limit("secondary_limit")?.unwrap_or(c.secondary_limit),
            secondary_status: status("secondary_status")?.unwrap_or(c.secondary_status),
            points_per_minute: limit("points_per_minute")?.unwrap_or(c.points_per_minute),
        };
        self.set_config(config);
        Ok(())
    }

    fn tally(&self) -> Tally {
        self.tally.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_primary_budget_is_spent_then_refused_until_the_window_ends() {
        let mut l = Limits::new(10);
        l.set_config(LimitsConfig {
            limit: 2,
            ..LimitsConfig::new(10)
        });
        let t = Utc::now();
        assert_eq!(l.charge(t, false, "orgs/{}/members").remaining, 1);
        assert_eq!(l.charge(t, false, "orgs/{}/members").remaining, 0);
        let refused = l.charge(t, false, "orgs/{}/members");
        assert_eq!(refused.refused, Some(Refusal::Primary { status: 403 }));
        let end = t + Duration::seconds(10);
        assert_eq!(
            refused.reset,
            end.timestamp() + i64::from(end.timestamp_subsec_nanos() > 0)
        );
        assert!(
            l.charge(t + Duration::seconds(11), false, "orgs/{}/members")
                .refused
                .is_none()
        );
    }

    #[test]
    fn writes_over_the_secondary_limit_get_a_retry_after() {
        let mut l = Limits::new(60);
        l.set_config(LimitsConfig {
            secondary_limit: 1,
            secondary_window_seconds: 3,
            ..LimitsConfig::new(60)
        });
        let t = Utc::now();
        assert!(l.charge(t, true, "orgs/{}/teams").refused.is_none());
        assert!(
            l.charge(t, false, "orgs/{}/members").refused.is_none(),
            "reads are not content-creating"
        );
        assert_eq!(
            l.charge(t, true, "orgs/{}/teams").refused,
            Some(Refusal::Secondary {
                status: 403,
                retry_after: 3
            })
        );
    }

    #[test]
    fn reads_over_an_endpoints_points_get_a_retry_after_and_other_endpoints_go_on() {
        let mut l = Limits::new(3600);
        l.set_config(LimitsConfig {
            points_per_minute: 2,
            ..LimitsConfig::new(3600)
        });
        let t = Utc::now();
        let members = endpoint("/orgs/acme/teams/dev/members");
        assert_eq!(members, endpoint("/orgs/acme/teams/ops/members"));
        assert_eq!(members, "orgs/{}/teams/{}/members");
        assert_eq!(endpoint("/repos/acme/web"), "repos/{}/{}");
        assert!(l.charge(t, false, &members).refused.is_none());
        assert!(l.charge(t, false, &members).refused.is_none());
        assert!(matches!(
            l.charge(t, false, &members).refused,
            Some(Refusal::Secondary { status: 403, retry_after }) if (59..=60).contains(&retry_after)
        ));
        assert!(l.charge(t, false, "orgs/{}/members").refused.is_none());
        assert!(
            l.charge(t + Duration::seconds(61), false, &members)
                .refused
                .is_none()
        );
    }

    #[test]
    fn settings_are_changed_by_name_and_refused_out_of_range() {
        let mut l = Limits::new(3600);
        let body = |text: &str| AdminBody::parse(text.as_bytes(), Limits::FIELDS).expect("body");
        for (text, field) in [
            (r#"{"status": 404}"#, "status"),
            (r#"{"secondary_status": 500}"#, "secondary_status"),
            (
                r#"{"secondary_window_seconds": 0}"#,
                "secondary_window_seconds",
            ),
            (
                r#"{"window_seconds": 9223372036854775807}"#,
                "window_seconds",
            ),
            (r#"{"limit": -1}"#, "limit"),
        ] {
            let err = RateLimits::configure(&mut l, &body(text)).expect_err(text);
            assert!(
                err.message().starts_with(field),
                "{text}: {}",
                err.message()
            );
        }
        assert_eq!(l.config, LimitsConfig::new(3600), "nothing changed");
        RateLimits::configure(&mut l, &body(r#"{"limit": 2, "status": 429}"#)).expect("valid");
        assert_eq!((l.config.limit, l.config.status), (2, 429));
        assert_eq!(l.config.secondary_limit, 80, "left out, kept");
    }
}
