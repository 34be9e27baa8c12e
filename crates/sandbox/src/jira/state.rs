//! The emulated Jira Cloud site in memory: users, groups, global project roles, projects with their role actors,
//! and the JSON shapes Jira answers with.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::seed::JiraSeed;
use crate::emulator::{Core, Seeded, Writes};
use crate::hand_change::{self, HandChange};

/// The account behind the API token: `GET myself` answers with it.
pub const ADMIN_EMAIL: &str = "jira-admin@example.com";
pub const ADMIN_ACCOUNT_ID: &str = "5b10a0effa615349cb016cd8";

#[derive(Debug, Clone)]
pub struct User {
    pub account_id: String,
    pub email: String,
    pub display_name: String,
    pub active: bool,
    /// The products the account may use (`jira-software`, …); empty: no Jira access.
    pub products: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub group_id: String,
    pub name: String,
    /// Member account ids.
    pub members: BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Actors {
    /// Account ids.
    pub users: BTreeSet<String>,
    /// Group ids.
    pub groups: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: u64,
    pub key: String,
    pub name: String,
    /// Role id → actors.
    pub roles: BTreeMap<u64, Actors>,
    /// The issue types its issues may have, by name.
    pub issue_types: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub id: u64,
    pub name: String,
}

#[derive(Debug, Default)]
pub struct Inner {
    pub title: String,
    pub users: BTreeMap<String, User>,
    /// By group id.
    pub groups: BTreeMap<String, Group>,
    pub roles: Vec<Role>,
    /// By project id.
    pub projects: BTreeMap<u64, Project>,
    pub writes: Writes,
    /// 429s answered.
    pub throttled: u64,
    /// By issue id.
    pub issues: BTreeMap<u64, super::issues::Issue>,
    /// The admin webhooks Jira calls when an issue is created.
    pub webhooks: Vec<super::issues::Webhook>,
    /// Accounts created through the API so far (their ids follow the seeded ones).
    pub created_users: usize,
}

/// Cloud-style 24-hex-digit account ids, stable for a seed position.
pub fn account_id(n: usize) -> String {
    format!("5b10ac8d82e05b22cc7d{:04x}", n + 1)
}

/// A UUID-shaped group id, stable for a seed position.
pub fn group_id(n: usize) -> String {
    format!("{:08x}-8b5e-4c3a-9f0d-{:012x}", 0x2762_0000 + n, n + 1)
}

impl Seeded for Inner {
    type Seed = JiraSeed;

    fn seeded(seed: &JiraSeed, _now: chrono::DateTime<chrono::Utc>) -> Self {
        let mut s = Inner {
            title: seed.title.clone().unwrap_or_else(|| "Example Jira".into()),
            ..Inner::default()
        };
        s.users.insert(
            ADMIN_ACCOUNT_ID.into(),
            User {
                account_id: ADMIN_ACCOUNT_ID.into(),
                email: ADMIN_EMAIL.into(),
                display_name: "Jira Admin".into(),
                active: true,
                products: [super::users::DEFAULT_PRODUCT.to_owned()].into(),
            },
        );
        let mut by_email = BTreeMap::new();
        for (n, u) in seed.users.iter().enumerate() {
            let id = u.account_id.clone().unwrap_or_else(|| account_id(n));
            by_email.insert(u.email.to_lowercase(), id.clone());
            s.users.insert(
                id.clone(),
                User {
                    account_id: id,
                    email: u.email.clone(),
                    display_name: u
                        .display_name
                        .clone()
                        .unwrap_or_else(|| crate::emulator::name_from_email(&u.email)),
                    active: !u.inactive,
                    products: [super::users::DEFAULT_PRODUCT.to_owned()].into(),
                },
            );
        }
        let member_ids = |emails: &[String]| -> BTreeSet<String> {
            emails
                .iter()
                .filter_map(|e| by_email.get(&e.to_lowercase()).cloned())
                .collect()
        };
        let mut group_by_name = BTreeMap::new();
        for (n, g) in seed.groups.iter().enumerate() {
            let id = group_id(n);
            group_by_name.insert(g.name.to_lowercase(), id.clone());
            s.groups.insert(
                id.clone(),
                Group {
                    group_id: id,
                    name: g.name.clone(),
                    members: member_ids(&g.members),
                },
            );
        }
        s.roles = seed
            .role_names()
            .into_iter()
            .zip(10002u64..)
            .map(|(name, id)| Role { id, name })
            .collect();
        for (p, id) in seed.projects.iter().zip(10000u64..) {
            let mut roles = BTreeMap::new();
            for role in &s.roles {
                let actors = p
                    .roles
                    .get(&role.name)
                    .map(|a| Actors {
                        users: member_ids(&a.users),
                        groups: a
                            .groups
                            .iter()
                            .filter_map(|g| group_by_name.get(&g.to_lowercase()).cloned())
                            .collect(),
                    })
                    .unwrap_or_default();
                roles.insert(role.id, actors);
            }
            s.projects.insert(
                id,
                Project {
                    id,
                    key: p.key.clone(),
                    name: p.name.clone(),
                    roles,
                    issue_types: if p.issue_types.is_empty() {
                        super::seed::DEFAULT_ISSUE_TYPES
                            .iter()
                            .map(|t| (*t).to_owned())
                            .collect()
                    } else {
                        p.issue_types.clone()
                    },
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
    /// A project by key (case-insensitive, as Jira) or numeric id.
    pub fn project_id(&self, id_or_key: &str) -> Option<u64> {
        if let Ok(id) = id_or_key.parse::<u64>() {
            return self.projects.contains_key(&id).then_some(id);
        }
        self.projects
            .values()
            .find(|p| p.key.eq_ignore_ascii_case(id_or_key))
            .map(|p| p.id)
    }

    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.groups
            .values()
            .find(|g| g.name.eq_ignore_ascii_case(name))
    }

    pub fn role(&self, id: u64) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// A change made by hand in Jira's admin pages (`crate::hand_change`): the user as a user actor on a role of
    /// `project/<name or key>` (entitlement `role:<Name>`, required), a member of `group/<name>` (`member`), or
    /// deactivated (`active: false`). A user may be an actor on several roles of a project, as in Jira's People
    /// page, so an add keeps the other roles and a remove drops the user from every role there; group actors
    /// are left alone. Not API writes.
    pub fn hand_change(&mut self, change: &HandChange) -> Result<(), String> {
        let who = change.user();
        let Some(account) = self
            .users
            .values()
            .find(|u| u.email.eq_ignore_ascii_case(who) || u.account_id == who)
            .map(|u| u.account_id.clone())
        else {
            return Err(format!("unknown user {who}"));
        };
        let Some((resource, entitlement)) = change.target("") else {
            if let Some(u) = self.users.get_mut(&account) {
                u.active = false;
            }
            return Ok(());
        };
        match resource.kind.as_str() {
            "project" => {
                let Some(project) = self
                    .projects
                    .values()
                    .find(|p| p.name == resource.name)
                    .or_else(|| {
                        self.projects
                            .values()
                            .find(|p| p.key.eq_ignore_ascii_case(&resource.name))
                    })
                    .map(|p| p.id)
                else {
                    return Err(format!("unknown project {}", resource.name));
                };
                let Some(entitlement) = entitlement else {
                    if let Some(p) = self.projects.get_mut(&project) {
                        for actors in p.roles.values_mut() {
                            actors.users.remove(&account);
                        }
                    }
                    return Ok(());
                };
                let known: Vec<String> = self
                    .roles
                    .iter()
                    .map(|r| format!("role:{}", r.name))
                    .collect();
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                if entitlement.is_empty() {
                    return Err(format!(
                        "add to {resource} needs an entitlement: one of {}",
                        known.join(", ")
                    ));
                }
                let Some(role) = entitlement.strip_prefix("role:").and_then(|name| {
                    self.roles
                        .iter()
                        .find(|r| r.name.eq_ignore_ascii_case(name))
                        .map(|r| r.id)
                }) else {
                    return Err(hand_change::unknown_entitlement(
                        entitlement,
                        resource,
                        &known,
                    ));
                };
                if let Some(p) = self.projects.get_mut(&project) {
                    p.roles.entry(role).or_default().users.insert(account);
                }
                Ok(())
            }
            "group" => {
                if let Some(e) = entitlement.filter(|e| !e.is_empty() && *e != "member") {
                    return Err(hand_change::unknown_entitlement(e, resource, &["member"]));
                }
                let Some(group) = self
                    .groups
                    .values_mut()
                    .find(|g| g.name.eq_ignore_ascii_case(&resource.name))
                else {
                    return Err(format!("unknown group {}", resource.name));
                };
                if entitlement.is_some() {
                    group.members.insert(account);
                } else {
                    group.members.remove(&account);
                }
                Ok(())
            }
            _ => Err(hand_change::unknown_kind(resource, &["project", "group"])),
        }
    }

    pub fn user_json(&self, u: &User, api: &str) -> Value {
        let avatar = format!(
            "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/default/{}",
            u.account_id
        );
        json!({
            "self": format!("{api}/user?accountId={}", u.account_id),
            "accountId": u.account_id,
            "accountType": "atlassian",
            "emailAddress": u.email,
            "avatarUrls": {
                "48x48": format!("{avatar}/48"),
                "24x24": format!("{avatar}/24"),
                "16x16": format!("{avatar}/16"),
                "32x32": format!("{avatar}/32"),
            },
            "displayName": u.display_name,
            "active": u.active,
            "timeZone": "Europe/Berlin",
            "locale": "en_US",
        })
    }

    pub fn group_json(&self, g: &Group, api: &str) -> Value {
        json!({
            "name": g.name,
            "groupId": g.group_id,
            "self": format!("{api}/group?groupId={}", g.group_id),
        })
    }

    pub fn project_json(&self, p: &Project, api: &str) -> Value {
        json!({
            "self": format!("{api}/project/{}", p.id),
            "id": p.id.to_string(),
            "key": p.key,
            "name": p.name,
            "projectTypeKey": "software",
            "simplified": false,
            "style": "classic",
            "isPrivate": false,
            "roles": self.role_map(p, api),
        })
    }

    /// Role name → the role's URL in this project, as `GET project/{key}/role` answers.
    pub fn role_map(&self, p: &Project, api: &str) -> Value {
        Value::Object(
            self.roles
                .iter()
                .map(|r| {
                    (
                        r.name.clone(),
                        Value::String(format!("{api}/project/{}/role/{}", p.id, r.id)),
                    )
                })
                .collect(),
        )
    }

    pub fn role_json(&self, p: &Project, role: &Role, api: &str) -> Value {
        let actors = p.roles.get(&role.id).cloned().unwrap_or_default();
        let mut list = Vec::new();
        let mut actor_id = 10_000 + role.id * 100;
        for account in &actors.users {
            actor_id += 1;
            let name = self
                .users
                .get(account)
                .map(|u| u.display_name.clone())
                .unwrap_or_default();
            list.push(json!({
                "id": actor_id,
                "displayName": name,
                "type": "atlassian-user-role-actor",
                "actorUser": {"accountId": account},
            }));
        }
        for gid in &actors.groups {
            actor_id += 1;
            let name = self
                .groups
                .get(gid)
                .map(|g| g.name.clone())
                .unwrap_or_default();
            list.push(json!({
                "id": actor_id,
                "displayName": name,
                "name": name,
                "type": "atlassian-group-role-actor",
                "actorGroup": {"name": name, "displayName": name, "groupId": gid},
            }));
        }
        json!({
            "self": format!("{api}/project/{}/role/{}", p.id, role.id),
            "name": role.name,
            "id": role.id,
            "description": format!("Members of the {} role", role.name),
            "actors": list,
            "scope": {
                "type": "PROJECT",
                "project": {"id": p.id.to_string(), "key": p.key, "name": p.name},
            },
        })
    }
}

/// One Jira Cloud site: everything behind the HTTP layer.
#[derive(Debug)]
pub struct Jira {
    pub(crate) core: Core<Inner>,
    pub email: String,
    pub token: String,
}

/// Jira Cloud's documented budget is cost-based; the emulator counts requests per window in one bucket.
pub const BUCKETS: &[(&str, u32)] = &[("api", 600)];
