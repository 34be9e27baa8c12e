//! The emulated Google Workspace customer: users, groups, memberships with roles, write counts, faults and quota.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::errors::{GoogleError, GoogleResult};
use crate::clock::Clock;

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
    pub writes: BTreeMap<String, u64>,
    pub next_id: u64,
}

/// Injected failures, set through `/__sandbox/faults`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    pub latency_ms: u64,
    pub error_rate: f64,
    pub error_status: u16,
    /// How long a new member stays out of `members.list` / `hasMember` (Google documents such delays).
    pub member_visibility_delay_ms: u64,
}

/// Per-token query quota: `limit` queries per `window_seconds`, answered with 403 `reason` when spent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Quota {
    pub window_seconds: u64,
    pub limit: u32,
    pub reason: String,
    #[serde(skip)]
    window: Option<(DateTime<Utc>, u32)>,
}

impl Quota {
    pub fn new(window_seconds: u64) -> Self {
        Self {
            window_seconds,
            // 2,400 queries per minute per user (developers.google.com/admin-sdk/directory/v1/limits).
            limit: 2400,
            reason: "userRateLimitExceeded".into(),
            window: None,
        }
    }

    /// Charges one query; `false` when the window's budget is spent.
    pub fn charge(&mut self, now: DateTime<Utc>) -> bool {
        let length = Duration::seconds(self.window_seconds.max(1) as i64);
        let (start, used) = match self.window {
            Some((start, used)) if now < start + length => (start, used),
            _ => (now, 0),
        };
        let allowed = used < self.limit;
        self.window = Some((start, used + u32::from(allowed)));
        allowed
    }
}

impl Default for Quota {
    fn default() -> Self {
        Self::new(60)
    }
}

/// One Workspace customer behind the HTTP layer.
#[derive(Debug)]
pub struct Google {
    pub(crate) inner: Mutex<Inner>,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) quota: Mutex<Quota>,
    pub clock: Arc<dyn Clock>,
    pub token: String,
    pub customer_id: String,
    seed: GoogleSeed,
    window_seconds: u64,
}

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in one handler must not wedge the emulator for every later request.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Google {
    pub fn new(
        seed: GoogleSeed,
        token: String,
        clock: Arc<dyn Clock>,
        window_seconds: u64,
    ) -> Self {
        Self {
            inner: Mutex::new(Inner::seeded(&seed, clock.now())),
            faults: Mutex::new(Faults::default()),
            quota: Mutex::new(Quota::new(window_seconds)),
            clock,
            token,
            customer_id: seed.customer_id.clone(),
            seed,
            window_seconds,
        }
    }

    /// Back to the seeded customer with the default quota and no faults.
    pub fn reset(&self) {
        *lock(&self.inner) = Inner::seeded(&self.seed, self.clock.now());
        *lock(&self.faults) = Faults::default();
        *lock(&self.quota) = Quota::new(self.window_seconds);
    }
}

impl Inner {
    pub fn seeded(seed: &GoogleSeed, now: DateTime<Utc>) -> Self {
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
                },
            );
        }
        for g in &seed.groups {
            let id = inner.group_id();
            let mut members = BTreeMap::new();
            for m in &g.members {
                if let Some(u) = inner.find_user(&m.email) {
                    let member = Member {
                        role: m.role.clone(),
                        visible_at: now,
                    };
                    members.insert(u.id.clone(), member);
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

    /// Google user ids are 21-digit decimal strings; a sequence keeps them ordered by creation.
    pub fn user_id(&mut self) -> String {
        self.next_id += 1;
        format!("1{:020}", 17_000_000 + self.next_id)
    }

    pub fn group_id(&mut self) -> String {
        self.next_id += 1;
        format!("03{:013x}", 0x3d_0000_0000u64 + self.next_id)
    }

    pub fn count_write(&mut self, key: String) {
        *self.writes.entry(key).or_default() += 1;
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

    pub fn user_json(&self, u: &User, customer: &str) -> Value {
        json!({
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
            "changePasswordAtNextLogin": false,
            "orgUnitPath": u.org_unit_path,
            "customerId": customer,
            "creationTime": ts(u.created),
            "emails": [{"address": u.primary_email, "primary": true}],
            "includeInGlobalAddressList": true,
        })
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
