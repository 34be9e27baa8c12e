//! The emulator's in-memory organisation (users, groups, apps, assignments, System Log, write counts) and seeding.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::context::Ctx;
use super::ids::{self, ts};
use super::rate_limit::OktaLimits;
use super::seed::{OktaSeed, SeedStatus};
use crate::emulator::{Core, CoreAdmin, Seeded, Writes, lock};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Active,
    Deprovisioned,
    LockedOut,
    PasswordExpired,
    Provisioned,
    Recovery,
    Staged,
    Suspended,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Deprovisioned => "DEPROVISIONED",
            Self::LockedOut => "LOCKED_OUT",
            Self::PasswordExpired => "PASSWORD_EXPIRED",
            Self::Provisioned => "PROVISIONED",
            Self::Recovery => "RECOVERY",
            Self::Staged => "STAGED",
            Self::Suspended => "SUSPENDED",
        }
    }
}

impl From<SeedStatus> for UserStatus {
    fn from(s: SeedStatus) -> Self {
        match s {
            SeedStatus::Active => Self::Active,
            SeedStatus::Staged => Self::Staged,
            SeedStatus::Provisioned => Self::Provisioned,
            SeedStatus::Suspended => Self::Suspended,
            SeedStatus::Deprovisioned => Self::Deprovisioned,
            SeedStatus::LockedOut => Self::LockedOut,
            SeedStatus::PasswordExpired => Self::PasswordExpired,
            SeedStatus::Recovery => Self::Recovery,
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub status: UserStatus,
    pub created: DateTime<Utc>,
    pub activated: Option<DateTime<Utc>>,
    pub status_changed: Option<DateTime<Utc>>,
    pub last_updated: DateTime<Utc>,
    pub password_changed: Option<DateTime<Utc>>,
    pub profile: Map<String, Value>,
    pub has_password: bool,
    pub recovery_question: Option<String>,
}

impl User {
    pub fn login(&self) -> &str {
        self.profile
            .get("login")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn display_name(&self) -> String {
        let f = self
            .profile
            .get("firstName")
            .and_then(Value::as_str)
            .unwrap_or("");
        let l = self
            .profile
            .get("lastName")
            .and_then(Value::as_str)
            .unwrap_or("");
        format!("{f} {l}").trim().to_owned()
    }

    pub fn set_status(&mut self, status: UserStatus, now: DateTime<Utc>) {
        if status == UserStatus::Active && self.activated.is_none() {
            self.activated = Some(now);
        }
        self.status = status;
        self.status_changed = Some(now);
        self.last_updated = now;
    }

    pub fn to_json(&self, ctx: &Ctx) -> Value {
        let me = format!("/api/v1/users/{}", self.id);
        let lc = |op: &str| ctx.href(&format!("{me}/lifecycle/{op}"));
        let mut links = Map::new();
        links.insert("self".into(), ctx.href(&me));
        // Okta advertises only the transitions the current status allows.
        match self.status {
            UserStatus::Staged => {
                links.insert("activate".into(), lc("activate"));
            }
            UserStatus::Provisioned => {
                links.insert("reactivate".into(), lc("reactivate"));
                links.insert("deactivate".into(), lc("deactivate"));
            }
            UserStatus::Deprovisioned => {
                links.insert("activate".into(), lc("activate"));
            }
            UserStatus::Suspended => {
                links.insert("unsuspend".into(), lc("unsuspend"));
                links.insert("deactivate".into(), lc("deactivate"));
            }
            UserStatus::LockedOut => {
                links.insert("unlock".into(), lc("unlock"));
                links.insert("deactivate".into(), lc("deactivate"));
            }
            _ => {
                links.insert("suspend".into(), lc("suspend"));
                links.insert("resetPassword".into(), lc("reset_password"));
                links.insert("expirePassword".into(), lc("expire_password"));
                links.insert("resetFactors".into(), lc("reset_factors"));
                links.insert("deactivate".into(), lc("deactivate"));
            }
        }
        links.insert(
            "schema".into(),
            ctx.href("/api/v1/meta/schemas/user/default"),
        );
        links.insert(
            "type".into(),
            ctx.href(&format!("/api/v1/meta/types/user/{USER_TYPE_ID}")),
        );
        let mut credentials = Map::new();
        if self.has_password {
            credentials.insert("password".into(), json!({}));
        }
        if let Some(q) = &self.recovery_question {
            credentials.insert("recovery_question".into(), json!({ "question": q }));
        }
        credentials.insert("provider".into(), json!({"type": "OKTA", "name": "OKTA"}));
        let opt = |t: Option<DateTime<Utc>>| t.map(|t| Value::String(ts(t))).unwrap_or(Value::Null);
        json!({
            "id": self.id,
            "status": self.status.as_str(),
            "created": ts(self.created),
            "activated": opt(self.activated),
            "statusChanged": opt(self.status_changed),
            "lastLogin": Value::Null,
            "lastUpdated": ts(self.last_updated),
            "passwordChanged": opt(self.password_changed),
            "type": { "id": USER_TYPE_ID },
            "profile": self.profile,
            "credentials": credentials,
            "_links": links,
        })
    }
}

pub const USER_TYPE_ID: &str = "otyDEFAULTUSERTYPE01";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupType {
    OktaGroup,
    BuiltIn,
}

impl GroupType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OktaGroup => "OKTA_GROUP",
            Self::BuiltIn => "BUILT_IN",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub kind: GroupType,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    pub last_membership_updated: DateTime<Utc>,
    pub profile: Map<String, Value>,
    pub members: BTreeSet<String>,
}

impl Group {
    pub fn name(&self) -> &str {
        self.profile
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn to_json(&self, ctx: &Ctx, apps_count: Option<usize>) -> Value {
        let me = format!("/api/v1/groups/{}", self.id);
        let mut v = json!({
            "id": self.id,
            "created": ts(self.created),
            "lastUpdated": ts(self.last_updated),
            "lastMembershipUpdated": ts(self.last_membership_updated),
            "objectClass": ["okta:user_group"],
            "type": self.kind.as_str(),
            "profile": self.profile,
            "_links": {
                "logo": [
                    {"name": "medium", "href": ctx.url("/img/logos/groups/okta-medium.png"), "type": "image/png"},
                    {"name": "large", "href": ctx.url("/img/logos/groups/okta-large.png"), "type": "image/png"}
                ],
                "users": ctx.href(&format!("{me}/users")),
                "apps": ctx.href(&format!("{me}/apps")),
            },
        });
        if let Some(apps) = apps_count {
            v["_embedded"] = json!({"stats": {
                "usersCount": self.members.len(),
                "appsCount": apps,
                "groupPushMappingsCount": 0,
                "hasAdminPrivlege": false,
            }});
        }
        v
    }
}

#[derive(Debug, Clone)]
pub struct GroupAssignment {
    pub priority: i64,
    pub profile: Map<String, Value>,
    pub last_updated: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct App {
    pub id: String,
    pub name: String,
    pub label: String,
    pub active: bool,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    /// Direct (scope USER) assignments: user id → assigned at.
    pub users: BTreeMap<String, DateTime<Utc>>,
    pub groups: BTreeMap<String, GroupAssignment>,
}

/// Counters for effects that have no readable state in Okta's API, so tests can observe them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    pub sessions_cleared: BTreeMap<String, u64>,
    pub oauth_tokens_revoked: BTreeMap<String, u64>,
    pub factors_reset: BTreeMap<String, u64>,
    pub passwords_reset: BTreeMap<String, u64>,
    /// 429s answered, per rate-limit bucket.
    pub throttled: BTreeMap<String, u64>,
    /// OAuth access tokens issued, per service app.
    pub tokens_issued: BTreeMap<String, u64>,
}

#[derive(Debug, Clone)]
pub struct LogRecord {
    pub seq: u64,
    pub published: DateTime<Utc>,
    pub event: Value,
}

#[derive(Debug, Default)]
pub struct Inner {
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub apps: BTreeMap<String, App>,
    pub logs: Vec<LogRecord>,
    pub writes: Writes,
    pub counters: Counters,
    pub next_id: u64,
    pub log_seq: u64,
    pub everyone: String,
    /// Stable AppLink `appAssignmentId`s per (app, user).
    pub assignment_ids: BTreeMap<(String, String), String>,
    /// Group push mappings by id.
    pub push_mappings: BTreeMap<String, PushMapping>,
    /// Group rules by id.
    pub rules: BTreeMap<String, super::rules::Rule>,
    /// Memberships a rule made: (group id, user id) → rule id.
    pub rule_members: BTreeMap<(String, String), String>,
    /// Sign-in passwords by user id (Okta never returns them; only the sign-in page reads them).
    pub passwords: BTreeMap<String, String>,
    /// OpenID Connect apps by client id.
    pub oidc_apps: BTreeMap<String, super::oidc::OidcApp>,
    /// Wrong passwords in a row per user id, reset by a good one or an unlock.
    pub failed_sign_ins: BTreeMap<String, u32>,
    /// Wrong passwords in a row that lock a user out (0: never).
    pub lockout_max_attempts: u32,
}

#[derive(Debug, Clone)]
pub struct PushMapping {
    pub id: String,
    pub app_id: String,
    pub source_group_id: String,
    pub target_group_id: String,
    pub active: bool,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    pub last_push: Option<DateTime<Utc>>,
}

/// The principal behind the API token; it is the `actor` of every System Log event the API causes.
pub const ACTOR_ID: &str = "00uSANDBOXADMIN00001";
pub const ACTOR_LOGIN: &str = "sandbox-admin@example.com";
pub const API_TOKEN_ID: &str = "00TSANDBOXTOKEN00001";

/// A system an app's group push mappings feed: it is told, after every change, the groups actively pushed to
/// the app (group name → member emails), and makes its own groups match.
pub trait GroupPushTarget: Send + Sync + std::fmt::Debug {
    fn pushed_groups(&self, groups: &BTreeMap<String, Vec<String>>);
}

/// One Okta org: everything behind the HTTP layer.
#[derive(Debug)]
pub struct Okta {
    pub(crate) core: Core<Inner, OktaLimits>,
    pub(crate) oauth: Mutex<super::oauth::OAuthState>,
    pub(crate) hooks: Mutex<super::hooks::Hooks>,
    /// The authorization servers' signing keys and sign-ins in progress.
    pub(crate) oidc: super::oidc::OidcState,
    /// Systems that receive the groups pushed to an app (by the app's `name`).
    pub(crate) push_targets: Mutex<Vec<(String, Arc<dyn GroupPushTarget>)>>,
    pub token: String,
}

impl Okta {
    /// Sends `target` the groups pushed to the app named `app_name` now and after every later change.
    pub fn on_group_push(&self, app_name: &str, target: Arc<dyn GroupPushTarget>) {
        lock(&self.push_targets).push((app_name.to_owned(), target));
        self.notify_group_push();
    }

    /// Tells every push target what its app's ACTIVE mappings push: each source group with its active members
    /// that are assigned to the app (directly or through a group assigned to it). Okta's Group Push
    /// prerequisite: "Any group members that you want to push to the target app MUST be previously provisioned
    /// and assigned to the target app"; "only successfully assigned members appear in the target app".
    pub(crate) fn notify_group_push(&self) {
        let targets = lock(&self.push_targets).clone();
        if targets.is_empty() {
            return;
        }
        let mut outgoing = Vec::new();
        {
            let inner = self.core.state();
            for (app_name, target) in targets {
                let mut groups = BTreeMap::new();
                for app in inner.apps.values().filter(|a| a.name == app_name) {
                    for m in inner
                        .push_mappings
                        .values()
                        .filter(|m| m.app_id == app.id && m.active)
                    {
                        let Some(group) = inner.groups.get(&m.source_group_id) else {
                            continue;
                        };
                        let assigned = |uid: &String| {
                            app.users.contains_key(uid)
                                || app.groups.keys().any(|gid| {
                                    inner
                                        .groups
                                        .get(gid)
                                        .is_some_and(|g| g.members.contains(uid))
                                })
                        };
                        let emails = group
                            .members
                            .iter()
                            .filter(|uid| assigned(uid))
                            .filter_map(|uid| inner.users.get(uid))
                            .filter(|u| u.status == UserStatus::Active)
                            .map(|u| {
                                u.profile
                                    .get("email")
                                    .and_then(Value::as_str)
                                    .unwrap_or(u.login())
                                    .to_owned()
                            })
                            .collect();
                        groups.insert(group.name().to_owned(), emails);
                    }
                }
                outgoing.push((target, groups));
            }
        }
        for (target, groups) in outgoing {
            target.pushed_groups(&groups);
        }
    }

    /// Back to the seeded org with default limits, no faults, no OAuth clients or event hooks; push targets
    /// hear of the seeded groups.
    pub fn reset(&self) {
        self.core.reset();
        *lock(&self.oauth) = Default::default();
        *lock(&self.hooks) = Default::default();
        self.oidc.reset();
        self.notify_group_push();
    }
}

impl Seeded for Inner {
    type Seed = OktaSeed;

    fn seeded(seed: &OktaSeed, now: DateTime<Utc>) -> Self {
        let mut s = Inner::default();
        let everyone = s.new_id("00g");
        s.groups.insert(
            everyone.clone(),
            Group {
                id: everyone.clone(),
                kind: GroupType::BuiltIn,
                created: now,
                last_updated: now,
                last_membership_updated: now,
                profile: json_map(
                    json!({"name": "Everyone", "description": "All users in your organization"}),
                ),
                members: BTreeSet::new(),
            },
        );
        s.everyone = everyone.clone();
        let mut by_login = BTreeMap::new();
        for su in &seed.users {
            let id = s.new_id("00u");
            let mut profile = Map::new();
            profile.insert("firstName".into(), su.first_name.clone().into());
            profile.insert("lastName".into(), su.last_name.clone().into());
            profile.insert("mobilePhone".into(), Value::Null);
            profile.insert("secondEmail".into(), Value::Null);
            profile.insert("login".into(), su.login.clone().into());
            profile.insert(
                "email".into(),
                su.email.clone().unwrap_or_else(|| su.login.clone()).into(),
            );
            let opt = [
                ("department", &su.department),
                ("title", &su.title),
                ("manager", &su.manager),
                ("city", &su.city),
                ("employeeNumber", &su.employee_number),
                ("employmentStatus", &su.employment_status),
            ];
            for (k, v) in opt {
                if let Some(v) = v {
                    profile.insert(k.into(), v.clone().into());
                }
            }
            for (k, v) in &su.extra {
                profile.insert(k.clone(), v.clone());
            }
            let status: UserStatus = su.status.into();
            let activated = !matches!(status, UserStatus::Staged | UserStatus::Provisioned);
            s.users.insert(
                id.clone(),
                User {
                    id: id.clone(),
                    status,
                    created: now,
                    activated: activated.then_some(now),
                    status_changed: (status != UserStatus::Staged).then_some(now),
                    last_updated: now,
                    password_changed: activated.then_some(now),
                    profile,
                    has_password: activated,
                    recovery_question: None,
                },
            );
            if let Some(g) = s.groups.get_mut(&everyone) {
                g.members.insert(id.clone());
            }
            if activated {
                let password = su
                    .password
                    .as_deref()
                    .unwrap_or(super::oidc::SANDBOX_PASSWORD);
                s.passwords.insert(id.clone(), password.to_owned());
            }
            by_login.insert(su.login.to_lowercase(), id);
        }
        s.lockout_max_attempts = seed.password_lockout.max_attempts;
        s.oidc_apps = seed
            .oidc_apps
            .iter()
            .map(|app| (app.client_id.clone(), app.clone()))
            .collect();
        let mut by_label = BTreeMap::new();
        for sa in &seed.apps {
            let id = s.new_id("0oa");
            let users = sa
                .users
                .iter()
                .filter_map(|l| {
                    by_login
                        .get(&l.to_lowercase())
                        .map(|u: &String| (u.clone(), now))
                })
                .collect();
            s.apps.insert(
                id.clone(),
                App {
                    id: id.clone(),
                    name: sa.name.clone(),
                    label: sa.label.clone(),
                    active: true,
                    created: now,
                    last_updated: now,
                    users,
                    groups: BTreeMap::new(),
                },
            );
            by_label.insert(sa.label.clone(), id);
        }
        for sg in &seed.groups {
            let id = s.new_id("00g");
            let mut profile = Map::new();
            profile.insert("name".into(), sg.name.clone().into());
            profile.insert(
                "description".into(),
                sg.description
                    .clone()
                    .map(Value::from)
                    .unwrap_or(Value::Null),
            );
            let members = sg
                .members
                .iter()
                .filter_map(|l| by_login.get(&l.to_lowercase()).cloned())
                .collect();
            for (prio, label) in sg.apps.iter().enumerate() {
                if let Some(app) = by_label.get(label).and_then(|a| s.apps.get_mut(a)) {
                    app.groups.insert(
                        id.clone(),
                        GroupAssignment {
                            priority: prio as i64,
                            profile: Map::new(),
                            last_updated: now,
                        },
                    );
                }
            }
            s.groups.insert(
                id.clone(),
                Group {
                    id,
                    kind: GroupType::OktaGroup,
                    created: now,
                    last_updated: now,
                    last_membership_updated: now,
                    profile,
                    members,
                },
            );
        }
        s
    }

    fn writes(&self) -> &Writes {
        &self.writes
    }
}

impl Inner {
    pub fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        ids::object_id(prefix, self.next_id)
    }

    pub fn find_user(&self, id_or_login: &str) -> Option<&User> {
        self.users.get(id_or_login).or_else(|| {
            self.users
                .values()
                .find(|u| u.login().eq_ignore_ascii_case(id_or_login))
        })
    }

    /// Apps the user can use, with whether the access is direct (USER scope) or only via a group.
    pub fn user_apps(&self, uid: &str) -> BTreeMap<String, &'static str> {
        let mut out = BTreeMap::new();
        let deprovisioned = self
            .users
            .get(uid)
            .is_none_or(|u| u.status == UserStatus::Deprovisioned);
        if deprovisioned {
            return out;
        }
        for app in self.apps.values() {
            if let Some(scope) = self.app_user_scope(app, uid) {
                out.insert(app.id.clone(), scope);
            }
        }
        out
    }

    pub fn app_user_scope(&self, app: &App, uid: &str) -> Option<&'static str> {
        if app.users.contains_key(uid) {
            return Some("USER");
        }
        let active = self
            .users
            .get(uid)
            .is_some_and(|u| u.status != UserStatus::Deprovisioned);
        let via_group = app
            .groups
            .keys()
            .any(|g| self.groups.get(g).is_some_and(|g| g.members.contains(uid)));
        (active && via_group).then_some("GROUP")
    }

    pub fn user_target(&self, uid: &str) -> Value {
        match self.users.get(uid) {
            Some(u) => {
                json!({"id": u.id, "type": "User", "alternateId": u.login(), "displayName": u.display_name()})
            }
            None => {
                json!({"id": uid, "type": "User", "alternateId": "unknown", "displayName": "unknown"})
            }
        }
    }

    pub fn group_target(&self, gid: &str) -> Value {
        let name = self
            .groups
            .get(gid)
            .map(|g| g.name().to_owned())
            .unwrap_or_default();
        json!({"id": gid, "type": "UserGroup", "alternateId": "unknown", "displayName": name})
    }

    pub fn app_target(&self, aid: &str) -> Value {
        let (name, label) = self
            .apps
            .get(aid)
            .map(|a| (a.name.clone(), a.label.clone()))
            .unwrap_or_default();
        json!({"id": aid, "type": "AppInstance", "alternateId": label, "displayName": name})
    }

    /// Appends a System Log event for a successful write made through the API.
    pub fn log(&mut self, ctx: &Ctx, event_type: &str, message: &str, targets: Vec<Value>) {
        self.log_seq += 1;
        let event = json!({
            "uuid": ids::uuid(),
            "published": ts(ctx.now),
            "eventType": event_type,
            "version": "0",
            "severity": "INFO",
            "legacyEventType": event_type,
            "displayMessage": message,
            "actor": {
                "id": ACTOR_ID,
                "type": "User",
                "alternateId": ACTOR_LOGIN,
                "displayName": "Sandbox Admin",
            },
            "client": {
                "userAgent": {"rawUserAgent": ctx.user_agent, "os": "Unknown", "browser": "UNKNOWN"},
                "zone": "null",
                "device": "Unknown",
                "ipAddress": "127.0.0.1",
            },
            "outcome": {"result": "SUCCESS"},
            "target": targets,
            "transaction": {
                "type": "WEB",
                "id": ctx.request_id,
                "detail": {"requestApiTokenId": API_TOKEN_ID},
            },
            "debugContext": {"debugData": {
                "requestId": ctx.request_id,
                "requestUri": ctx.path,
                "url": ctx.path,
            }},
            "authenticationContext": {"authenticationStep": 0, "externalSessionId": "trs-sandbox"},
            "request": {"ipChain": [{"ip": "127.0.0.1", "version": "V4"}]},
        });
        self.logs.push(LogRecord {
            seq: self.log_seq,
            published: ctx.now,
            event,
        });
    }

    /// Logs `application.user_membership.add|remove` for apps a user gained or lost through a group change.
    pub fn log_app_access_diff(
        &mut self,
        ctx: &Ctx,
        uid: &str,
        before: &BTreeMap<String, &'static str>,
    ) {
        let after = self.user_apps(uid);
        for aid in after.keys().filter(|a| !before.contains_key(*a)) {
            let t = vec![self.app_target(aid), self.user_target(uid)];
            self.log(
                ctx,
                "application.user_membership.add",
                "Add user to application membership",
                t,
            );
        }
        for aid in before.keys().filter(|a| !after.contains_key(*a)) {
            let t = vec![self.app_target(aid), self.user_target(uid)];
            self.log(
                ctx,
                "application.user_membership.remove",
                "Remove user's application membership",
                t,
            );
        }
    }
}

pub fn json_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
