//! The emulated Google Workspace customer: users, groups, memberships with roles and write counts; its faults
//! (the shared ones and the member visibility delay) and per-user quota.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::errors::{GoogleError, GoogleResult};
use crate::emulator::{
    AdminBody, AdminError, Core, FaultSettings, Faults, RateLimits, Seeded, Tally, Writes, bounds,
};

/// What the Google emulator is seeded with (the `google:` section of an organisation file).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleSeed {
    /// The customer id answered for `customer=my_customer`.
    #[serde(default = "default_customer")]
    pub customer_id: String,
    #[serde(default)]
    pub users: Vec<GoogleSeedUser>,
    #[serde(default)]
    pub groups: Vec<GoogleSeedGroup>,
}

fn default_customer() -> String {
    "C01sandbox".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GoogleSeedUser {
    pub primary_email: String,
    pub given_name: String,
    pub family_name: String,
    #[serde(default)]
    pub suspended: bool,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub org_unit_path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleSeedGroup {
    pub email: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub members: Vec<GoogleSeedMember>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleSeedMember {
    pub email: String,
    #[serde(default = "default_role")]
    pub role: String,
}

fn default_role() -> String {
    "MEMBER".into()
}

pub const ROLES: [&str; 3] = ["OWNER", "MANAGER", "MEMBER"];

impl GoogleSeed {
    /// Member emails must be seeded users and roles Google's three.
    pub fn validate(&self) -> anyhow::Result<()> {
        let emails: std::collections::BTreeSet<String> = self
            .users
            .iter()
            .map(|u| u.primary_email.to_lowercase())
            .collect();
        for g in &self.groups {
            for m in &g.members {
                if !emails.contains(&m.email.to_lowercase()) {
                    anyhow::bail!("google group {} lists unknown member {}", g.email, m.email);
                }
                if !ROLES.contains(&m.role.as_str()) {
                    anyhow::bail!(
                        "google group {} gives {} unknown role {}",
                        g.email,
                        m.email,
                        m.role
                    );
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub primary_email: String,
    pub given_name: String,
    pub family_name: String,
    pub suspended: bool,
    pub is_admin: bool,
    pub org_unit_path: String,
    pub created: DateTime<Utc>,
    /// Set at creation or update; the user must change the password at the next sign-in.
    pub change_password_at_next_login: bool,
    /// `customSchemas`: schema name → field → value (only in `projection=full` answers).
    pub custom_schemas: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub role: String,
    /// Reads that list members see it only from this instant (eventual consistency); `get` sees it at once.
    pub visible_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub email: String,
    pub name: String,
    pub description: String,
    /// Keyed by user id.
    pub members: BTreeMap<String, Member>,
}

#[derive(Debug, Default)]
pub struct Inner {
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub writes: Writes,
    pub next_id: u64,
}

/// Injected failures, set through `/__sandbox/faults`: the shared ones and Google's visibility delay.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct GoogleFaults {
    #[serde(flatten)]
    pub common: Faults,
    /// How long a new member stays out of `members.list` / `hasMember` (Google documents such delays).
    pub member_visibility_delay_ms: u64,
}

impl FaultSettings for GoogleFaults {
    const FIELDS: &'static [&'static str] = &[
        "latency_ms",
        "jitter_ms",
        "error_rate",
        "error_status",
        "member_visibility_delay_ms",
    ];

    fn read(body: &AdminBody) -> Result<Self, AdminError> {
        Ok(GoogleFaults {
            common: Faults::read(body)?,
            member_visibility_delay_ms: body
                .uint("member_visibility_delay_ms", 0..=bounds::DELAY_MS)?
                .unwrap_or(0),
        })
    }

    fn common(&self) -> &Faults {
        &self.common
    }
}

/// The reasons Google gives a spent quota, the first its default.
pub const QUOTA_REASONS: &[&str] = &[
    "userRateLimitExceeded",
    "rateLimitExceeded",
    "quotaExceeded",
];

/// Per-token query quota: `limit` queries per `window_seconds`, answered with 403 `reason` when spent.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Quota {
    pub window_seconds: u64,
    pub limit: u32,
    pub reason: String,
    #[serde(skip)]
    window: Option<(DateTime<Utc>, u32)>,
    #[serde(skip)]
    tally: Tally,
}

impl Quota {
    pub fn new(window_seconds: u64) -> Self {
        Self {
            window_seconds: window_seconds.clamp(1, bounds::WINDOW_SECONDS),
            // 2,400 queries per minute per user (developers.google.com/admin-sdk/directory/v1/limits).
            limit: 2400,
            reason: QUOTA_REASONS[0].into(),
            window: None,
            tally: Tally::default(),
        }
    }

    /// Charges one query; `false` when the window's budget is spent.
    pub fn charge(&mut self, now: DateTime<Utc>) -> bool {
        // Bounded by `bounds::WINDOW_SECONDS`.
        let length = Duration::seconds(i64::try_from(self.window_seconds).unwrap_or(60));
        let (start, used) = match self.window {
            Some((start, used)) if now < start + length => (start, used),
            _ => (now, 0),
        };
        let allowed = used < self.limit;
        self.window = Some((start, used + u32::from(allowed)));
        self.tally.count("queries", allowed);
        allowed
    }
}

/// `{"window_seconds": 1, "limit": 2, "reason": "userRateLimitExceeded" | "rateLimitExceeded" | "quotaExceeded"}`.
impl RateLimits for Quota {
    const FIELDS: &'static [&'static str] = &["window_seconds", "limit", "reason"];

    fn settings(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn configure(&mut self, body: &AdminBody) -> Result<(), AdminError> {
        let window_seconds = body.uint("window_seconds", 1..=bounds::WINDOW_SECONDS)?;
        let limit = body.uint("limit", 0..=bounds::LIMIT)?;
        let reason = body.string("reason", QUOTA_REASONS)?;
        if let Some(w) = window_seconds {
            self.window_seconds = w;
        }
        if let Some(l) = limit {
            self.limit = u32::try_from(l).unwrap_or(u32::MAX);
        }
        if let Some(r) = reason {
            self.reason = r;
        }
        self.window = None;
        Ok(())
    }

    fn tally(&self) -> Tally {
        self.tally.clone()
    }
}

/// One Workspace customer behind the HTTP layer.
#[derive(Debug)]
pub struct Google {
    pub(crate) core: Core<Inner, Quota, GoogleFaults>,
    pub token: String,
    pub customer_id: String,
    /// The service account's key and the tokens its grants were issued; `None` if no key could be made.
    pub(crate) issuer: Option<crate::emulator::tokens::TokenIssuer>,
    /// The key's `private_key_id`.
    pub(crate) key_id: String,
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Seeded for Inner {
    type Seed = GoogleSeed;

    fn seeded(seed: &GoogleSeed, now: DateTime<Utc>) -> Self {
        let mut inner = Inner::default();
        for u in &seed.users {
            let id = inner.user_id();
            inner.users.insert(
                id.clone(),
                User {
                    id,
                    primary_email: u.primary_email.clone(),
                    given_name: u.given_name.clone(),
                    family_name: u.family_name.clone(),
                    suspended: u.suspended,
                    is_admin: u.is_admin,
                    org_unit_path: u.org_unit_path.clone().unwrap_or_else(|| "/".into()),
                    created: now,
                    change_password_at_next_login: false,
                    custom_schemas: serde_json::Map::new(),
                },
            );
        }
        // Members by email through an index: a lookup per membership over every user would take minutes
        // for a domain of 50,000 users and 400,000 memberships.
        let by_email: std::collections::HashMap<String, String> = inner
            .users
            .values()
            .map(|u| (u.primary_email.to_lowercase(), u.id.clone()))
            .collect();
        for g in &seed.groups {
            let id = inner.group_id();
            let mut members = BTreeMap::new();
            for m in &g.members {
                if let Some(user_id) = by_email.get(&m.email.to_lowercase()) {
                    let member = Member {
                        role: m.role.clone(),
                        visible_at: now,
                    };
                    members.insert(user_id.clone(), member);
                }
            }
            inner.groups.insert(
                id.clone(),
                Group {
                    id,
                    email: g.email.clone(),
                    name: g.name.clone(),
                    description: g.description.clone().unwrap_or_default(),
                    members,
                },
            );
        }
        inner
    }

    fn writes(&self) -> &Writes {
        &self.writes
    }
}

impl Inner {
    /// Google user ids are 21-digit decimal strings; a sequence keeps them ordered by creation.
    pub fn user_id(&mut self) -> String {
        self.next_id += 1;
        format!("1{:020}", 17_000_000 + self.next_id)
    }

    pub fn group_id(&mut self) -> String {
        self.next_id += 1;
        format!("03{:013x}", 0x3d_0000_0000u64 + self.next_id)
    }

    /// A userKey: the primary email (any case) or the id.
    pub fn find_user(&self, key: &str) -> Option<&User> {
        self.users.get(key).or_else(|| {
            self.users
                .values()
                .find(|u| u.primary_email.eq_ignore_ascii_case(key))
        })
    }

    /// A groupKey: the email (any case) or the id.
    pub fn group_key(&self, key: &str) -> GoogleResult<String> {
        if self.groups.contains_key(key) {
            return Ok(key.to_owned());
        }
        self.groups
            .values()
            .find(|g| g.email.eq_ignore_ascii_case(key))
            .map(|g| g.id.clone())
            .ok_or_else(|| GoogleError::not_found("groupKey"))
    }

    /// The user as `projection=full` answers it: with its custom schemas (`basic`, the default, leaves
    /// them out).
    pub fn user_json_full(&self, u: &User, customer: &str) -> Value {
        let mut user = self.user_json(u, customer);
        if !u.custom_schemas.is_empty() {
            user["customSchemas"] = Value::Object(u.custom_schemas.clone());
        }
        user
    }

    pub fn user_json(&self, u: &User, customer: &str) -> Value {
        let mut user = json!({
            "kind": "admin#directory#user",
            "id": u.id,
            "etag": etag(&u.id),
            "primaryEmail": u.primary_email,
            "name": {
                "givenName": u.given_name,
                "familyName": u.family_name,
                "fullName": format!("{} {}", u.given_name, u.family_name),
            },
            "isAdmin": u.is_admin,
            "isDelegatedAdmin": false,
            "suspended": u.suspended,
            "archived": false,
            "changePasswordAtNextLogin": u.change_password_at_next_login,
            "orgUnitPath": u.org_unit_path,
            "customerId": customer,
            "creationTime": ts(u.created),
            "emails": [{"address": u.primary_email, "primary": true}],
            "includeInGlobalAddressList": true,
        });
        // Output only, "returned only if the `suspended` property is `true`".
        if u.suspended {
            user["suspensionReason"] = Value::String("ADMIN".into());
        }
        user
    }

    pub fn group_json(&self, g: &Group, now: DateTime<Utc>) -> Value {
        let visible = g.members.values().filter(|m| m.visible_at <= now).count();
        json!({
            "kind": "admin#directory#group",
            "id": g.id,
            "etag": etag(&g.id),
            "email": g.email,
            "name": g.name,
            "description": g.description,
            // A string in the discovery document, not a number.
            "directMembersCount": visible.to_string(),
            "adminCreated": true,
            "nonEditableAliases": [],
        })
    }

    pub fn member_json(&self, uid: &str, m: &Member) -> Value {
        let email = self
            .users
            .get(uid)
            .map(|u| u.primary_email.clone())
            .unwrap_or_default();
        json!({
            "kind": "admin#directory#member",
            "etag": etag(&format!("{uid}{}", m.role)),
            "id": uid,
            "email": email,
            "role": m.role,
            "type": "USER",
            "status": "ACTIVE",
            "delivery_settings": "ALL_MAIL",
        })
    }
}

fn etag(seed: &str) -> String {
    format!("\"{seed}/sandbox\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_takes_known_reasons_and_bounded_numbers_and_keeps_what_is_left_out() {
        let mut q = Quota::new(60);
        let body = |text: &str| AdminBody::parse(text.as_bytes(), Quota::FIELDS).expect("body");
        for (text, field) in [
            (r#"{"reason": "tooMany"}"#, "reason"),
            (r#"{"limit": 99999999999}"#, "limit"),
            (r#"{"window_seconds": 0}"#, "window_seconds"),
        ] {
            let err = q.configure(&body(text)).expect_err(text);
            assert!(
                err.message().starts_with(field),
                "{text}: {}",
                err.message()
            );
        }
        q.configure(&body(r#"{"limit": 0, "reason": "quotaExceeded"}"#))
            .expect("valid");
        assert_eq!(
            q.settings(),
            serde_json::json!({"window_seconds": 60, "limit": 0, "reason": "quotaExceeded"})
        );
        assert!(!q.charge(Utc::now()));
        let faults = AdminBody::parse(
            br#"{"member_visibility_delay_ms": 86400000}"#,
            GoogleFaults::FIELDS,
        )
        .expect("body");
        let err = GoogleFaults::read(&faults).expect_err("a day");
        assert!(
            err.message().starts_with("member_visibility_delay_ms"),
            "{}",
            err.message()
        );
    }
}
