//! The emulated GitLab instance in memory: users, nested groups, direct memberships, projects, pending SSO people,
//! write counts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::seed::{GitlabSeed, GitlabSeedGroup, GitlabSeedProject, name_from_email};
use crate::emulator::{Core, Ctx, Seeded, Writes};

#[derive(Debug, Clone)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub email: String,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub profile: UserProfile,
}

/// The profile fields an administrator may change with `PUT /users/:id` (and set at creation) that
/// the sandbox keeps; GitLab answers the text ones as `""` when unset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserProfile {
    pub organization: String,
    pub location: String,
    pub bio: String,
    pub external: bool,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: u64,
    pub name: String,
    pub path: String,
    pub description: String,
    pub parent_id: Option<u64>,
    pub created_at: DateTime<Utc>,
}

/// A project in a group's namespace.
#[derive(Debug, Clone)]
pub struct Project {
    pub id: u64,
    pub name: String,
    pub path: String,
    pub description: String,
    /// The owning group.
    pub namespace_id: u64,
    pub archived: bool,
    pub visibility: String,
    pub default_branch: String,
    /// Groups the project is shared with: group id → the share's maximum access level.
    pub shared_with: BTreeMap<u64, u8>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
pub struct Membership {
    pub access_level: u8,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Inner {
    pub users: BTreeMap<u64, User>,
    pub groups: BTreeMap<u64, Group>,
    /// Direct memberships: (group id, user id).
    pub members: BTreeMap<(u64, u64), Membership>,
    pub projects: BTreeMap<u64, Project>,
    /// Lower-cased emails of people who get a user at their first SSO login.
    pub pending: BTreeSet<String>,
    pub writes: Writes,
    pub throttled: u64,
    next_id: u64,
    /// Projects are numbered apart from users and groups, as in GitLab (separate tables), so a project and a
    /// group may share a number: a client must not take one for the other.
    next_project_id: u64,
}

/// GitLab's role names, used in its validation messages.
pub fn role_name(level: u8) -> &'static str {
    match level {
        5 => "Minimal Access",
        10 => "Guest",
        15 => "Planner",
        20 => "Reporter",
        30 => "Developer",
        40 => "Maintainer",
        50 => "Owner",
        _ => "No access",
    }
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Seeded for Inner {
    type Seed = GitlabSeed;

    fn seeded(seed: &GitlabSeed, now: DateTime<Utc>) -> Self {
        let mut s = Inner::default();
        for u in &seed.users {
            let id = s.next();
            s.users.insert(
                id,
                User {
                    id,
                    username: u.username(),
                    name: u.name(),
                    email: u.email.clone(),
                    state: u.state.clone().unwrap_or_else(|| "active".into()),
                    created_at: now,
                    profile: UserProfile::default(),
                },
            );
        }
        s.pending = seed.pending_sso.iter().map(|e| e.to_lowercase()).collect();
        s.seed_groups(&seed.groups, None, now);
        // After every group exists, so a project may be shared with a group seeded after it.
        s.seed_projects(&seed.groups, None, now);
        s
    }

    fn writes(&self) -> &Writes {
        &self.writes
    }
}

impl Inner {
    fn seed_groups(&mut self, groups: &[GitlabSeedGroup], parent: Option<u64>, now: DateTime<Utc>) {
        for g in groups {
            let id = self.next();
            self.groups.insert(
                id,
                Group {
                    id,
                    name: g.name.clone(),
                    path: g.path(),
                    description: g.description.clone().unwrap_or_default(),
                    parent_id: parent,
                    created_at: now,
                },
            );
            for (who, level) in &g.members {
                if let Some(uid) = self.find_user(who).map(|u| u.id) {
                    self.members.insert(
                        (id, uid),
                        Membership {
                            access_level: *level,
                            created_at: now,
                        },
                    );
                }
            }
            self.seed_groups(&g.subgroups, Some(id), now);
        }
    }

    fn seed_projects(
        &mut self,
        groups: &[GitlabSeedGroup],
        parent: Option<u64>,
        now: DateTime<Utc>,
    ) {
        for g in groups {
            let Some(gid) = self
                .groups
                .values()
                .find(|x| x.parent_id == parent && x.path.eq_ignore_ascii_case(&g.path()))
                .map(|x| x.id)
            else {
                continue;
            };
            for p in &g.projects {
                self.seed_project(p, gid, now);
            }
            self.seed_projects(&g.subgroups, Some(gid), now);
        }
    }

    fn seed_project(&mut self, p: &GitlabSeedProject, namespace_id: u64, now: DateTime<Utc>) {
        self.next_project_id += 1;
        let id = self.next_project_id;
        let shared_with = p
            .shared_with
            .iter()
            .filter_map(|(path, level)| Some((self.find_group(path)?, *level)))
            .collect();
        self.projects.insert(
            id,
            Project {
                id,
                name: p.name.clone(),
                path: p.path(),
                description: p.description.clone().unwrap_or_default(),
                namespace_id,
                archived: p.archived,
                visibility: p.visibility.clone().unwrap_or_else(|| "private".into()),
                default_branch: p.default_branch.clone().unwrap_or_else(|| "main".into()),
                shared_with,
                created_at: now,
            },
        );
    }

    pub fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// By email or username, case-insensitively.
    pub fn find_user(&self, who: &str) -> Option<&User> {
        self.users
            .values()
            .find(|u| u.email.eq_ignore_ascii_case(who) || u.username.eq_ignore_ascii_case(who))
    }

    pub fn full_path(&self, gid: u64) -> String {
        self.ancestry(gid)
            .iter()
            .rev()
            .filter_map(|id| self.groups.get(id))
            .map(|g| g.path.as_str())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The group and its ancestors, nearest first.
    pub fn ancestry(&self, gid: u64) -> Vec<u64> {
        let mut out = Vec::new();
        let mut cur = Some(gid);
        while let Some(id) = cur {
            if out.contains(&id) {
                break;
            }
            out.push(id);
            cur = self.groups.get(&id).and_then(|g| g.parent_id);
        }
        out
    }

    /// A group by numeric id or (already decoded) full path, as GitLab's `:id` accepts both.
    pub fn find_group(&self, id_or_path: &str) -> Option<u64> {
        if let Ok(id) = id_or_path.parse::<u64>() {
            return self.groups.contains_key(&id).then_some(id);
        }
        self.groups
            .keys()
            .copied()
            .find(|id| self.full_path(*id).eq_ignore_ascii_case(id_or_path))
    }

    pub fn descendants(&self, gid: u64) -> Vec<u64> {
        self.groups
            .keys()
            .copied()
            .filter(|id| *id != gid && self.ancestry(*id).contains(&gid))
            .collect()
    }

    /// The highest membership a user holds in the group's ancestors (not the group itself), and where.
    pub fn inherited(&self, gid: u64, uid: u64) -> Option<(u64, Membership)> {
        self.ancestry(gid)
            .into_iter()
            .skip(1)
            .filter_map(|a| self.members.get(&(a, uid)).map(|m| (a, *m)))
            .max_by_key(|(_, m)| m.access_level)
    }

    /// Effective members (direct and inherited), each once with the highest level, as `members/all` lists them.
    pub fn effective(&self, gid: u64) -> BTreeMap<u64, Membership> {
        let mut out: BTreeMap<u64, Membership> = BTreeMap::new();
        for a in self.ancestry(gid) {
            for ((g, uid), m) in self.members.range((a, 0)..=(a, u64::MAX)) {
                debug_assert_eq!(*g, a);
                let better = out
                    .get(uid)
                    .is_none_or(|cur| m.access_level > cur.access_level);
                if better {
                    out.insert(*uid, *m);
                }
            }
        }
        out
    }

    /// Creates the GitLab user for a person at their first SSO login; `None` if they were not pending.
    pub fn first_login(&mut self, email: &str, now: DateTime<Utc>) -> Option<u64> {
        if let Some(existing) = self.find_user(email) {
            return Some(existing.id);
        }
        if !self.pending.remove(&email.to_lowercase()) {
            return None;
        }
        let id = self.next();
        let base = super::seed::local_part(email).to_owned();
        let mut username = base.clone();
        let mut n = 1;
        while self.find_user(&username).is_some() {
            n += 1;
            username = format!("{base}{n}");
        }
        self.users.insert(
            id,
            User {
                id,
                username,
                name: name_from_email(email),
                email: email.to_owned(),
                state: "active".into(),
                created_at: now,
                profile: UserProfile::default(),
            },
        );
        self.writes.count(format!("user/{id}"));
        Some(id)
    }

    pub fn user_json(&self, u: &User, ctx: &Ctx) -> Value {
        json!({
            "id": u.id,
            "username": u.username,
            "name": u.name,
            "state": u.state,
            "locked": false,
            "avatar_url": format!("{}/uploads/-/system/user/avatar/{}/avatar.png", ctx.base, u.id),
            "web_url": format!("{}/{}", ctx.base, u.username),
            "created_at": ts(u.created_at),
            "email": u.email,
            "public_email": "",
            "is_admin": false,
            "bot": false,
            "external": u.profile.external,
            "organization": u.profile.organization,
            "location": u.profile.location,
            "bio": u.profile.bio,
        })
    }

    /// The group's name with its ancestors', as GitLab shows it: `Acme / Platform`.
    fn full_name(&self, group: u64) -> String {
        self.ancestry(group)
            .iter()
            .rev()
            .filter_map(|id| self.groups.get(id))
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>()
            .join(" / ")
    }

    pub fn group_json(&self, g: &Group, ctx: &Ctx) -> Value {
        let full_path = self.full_path(g.id);
        let full_name = self.full_name(g.id);
        json!({
            "id": g.id,
            "web_url": format!("{}/groups/{full_path}", ctx.base),
            "name": g.name,
            "path": g.path,
            "description": g.description,
            "visibility": "private",
            "full_name": full_name,
            "full_path": full_path,
            "parent_id": g.parent_id,
            "created_at": ts(g.created_at),
        })
    }

    /// GitLab's project entity (`API::Entities::Project`), the fields clients and grantflow read.
    pub fn project_json(&self, p: &Project, ctx: &Ctx) -> Value {
        let namespace_path = self.full_path(p.namespace_id);
        let path_with_namespace = format!("{namespace_path}/{}", p.path);
        let namespace = self.groups.get(&p.namespace_id);
        let namespace_full_name = self.full_name(p.namespace_id);
        let host = ctx
            .base
            .split_once("://")
            .map_or(ctx.base.as_str(), |(_, h)| h);
        let host_name = host.split(':').next().unwrap_or(host);
        let shared_with_groups: Vec<Value> = p
            .shared_with
            .iter()
            .filter_map(|(gid, level)| {
                let g = self.groups.get(gid)?;
                Some(json!({
                    "group_id": gid,
                    "group_name": g.name,
                    "group_full_path": self.full_path(*gid),
                    "group_access_level": level,
                    "expires_at": null,
                }))
            })
            .collect();
        json!({
            "id": p.id,
            "description": p.description,
            "name": p.name,
            "name_with_namespace": format!("{namespace_full_name} / {}", p.name),
            "path": p.path,
            "path_with_namespace": path_with_namespace,
            "created_at": ts(p.created_at),
            "default_branch": p.default_branch,
            "tag_list": [],
            "topics": [],
            "ssh_url_to_repo": format!("git@{host_name}:{path_with_namespace}.git"),
            "http_url_to_repo": format!("{}/{path_with_namespace}.git", ctx.base),
            "web_url": format!("{}/{path_with_namespace}", ctx.base),
            "readme_url": format!("{}/{path_with_namespace}/-/blob/{}/README.md", ctx.base, p.default_branch),
            "avatar_url": null,
            "forks_count": 0,
            "star_count": 0,
            "last_activity_at": ts(p.created_at),
            "namespace": {
                "id": p.namespace_id,
                "name": namespace.map(|g| g.name.as_str()).unwrap_or_default(),
                "path": namespace.map(|g| g.path.as_str()).unwrap_or_default(),
                "kind": "group",
                "full_path": namespace_path,
                "parent_id": namespace.and_then(|g| g.parent_id),
                "avatar_url": null,
                "web_url": format!("{}/groups/{namespace_path}", ctx.base),
            },
            "empty_repo": false,
            "archived": p.archived,
            "visibility": p.visibility,
            "shared_with_groups": shared_with_groups,
        })
    }

    pub fn member_json(&self, uid: u64, m: &Membership, ctx: &Ctx) -> Value {
        let mut v = self
            .users
            .get(&uid)
            .map(|u| self.user_json(u, ctx))
            .unwrap_or_else(|| json!({ "id": uid }));
        if let Value::Object(map) = &mut v {
            map.retain(|k, _| {
                [
                    "id",
                    "username",
                    "name",
                    "state",
                    "locked",
                    "avatar_url",
                    "web_url",
                    "email",
                ]
                .contains(&k.as_str())
            });
            map.insert("access_level".into(), m.access_level.into());
            map.insert("created_at".into(), ts(m.created_at).into());
            map.insert("expires_at".into(), Value::Null);
            map.insert("membership_state".into(), "active".into());
            map.insert("group_saml_identity".into(), Value::Null);
        }
        v
    }
}

/// GitLab's one bucket: authenticated API requests per user (GitLab.com's default is 2000 a minute).
pub const BUCKETS: &[(&str, u32)] = &[("api", 2000)];

/// One GitLab instance: everything behind the HTTP layer.
#[derive(Debug)]
pub struct Gitlab {
    pub(crate) core: Core<Inner>,
    pub token: String,
}
