//! The emulated OPA team in memory: users, groups, resource groups, projects, secret folders, security policies,
//! service-token bearer tokens and write counts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::seed::OpaSeed;
use crate::emulator::{Core, Seeded, Writes};
use crate::hand_change::{self, HandChange};

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub status: &'static str,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub roles: Vec<String>,
    /// Member user names.
    pub members: BTreeSet<String>,
    /// Pushed from Okta: Okta owns its membership.
    pub pushed: bool,
}

#[derive(Debug, Clone)]
pub struct ResourceGroup {
    pub id: String,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub resource_group: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Folder {
    pub id: String,
    pub resource_group: String,
    pub project: String,
    pub parent: Option<String>,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    pub name: String,
    pub description: String,
    pub active: bool,
    pub groups: Vec<String>,
    /// Rules as the client sent them (unknown keys kept), each with its id.
    pub rules: Vec<Value>,
}

#[derive(Debug, Default)]
pub struct Inner {
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub resource_groups: BTreeMap<String, ResourceGroup>,
    pub projects: BTreeMap<String, Project>,
    pub folders: BTreeMap<String, Folder>,
    pub policies: BTreeMap<String, Policy>,
    /// Bearer token → when it expires.
    pub tokens: BTreeMap<String, DateTime<Utc>>,
    pub writes: Writes,
    /// Changes the Okta group push made (not API writes).
    pub pushed: BTreeMap<String, u64>,
    /// 429s answered.
    pub throttled: u64,
    pub tokens_issued: u64,
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Seeded for Inner {
    type Seed = OpaSeed;

    fn seeded(seed: &OpaSeed, now: DateTime<Utc>) -> Self {
        let mut s = Inner::default();
        let mut by_email = BTreeMap::new();
        for u in &seed.users {
            let id = new_id();
            let name = u.user_name();
            by_email.insert(u.email.to_lowercase(), name.clone());
            s.users.insert(
                name.clone(),
                User {
                    id,
                    name,
                    email: u.email.clone(),
                    status: if u.disabled { "DISABLED" } else { "ACTIVE" },
                },
            );
        }
        for g in &seed.groups {
            let members = g
                .members
                .iter()
                .filter_map(|m| by_email.get(&m.to_lowercase()).cloned())
                .collect();
            s.insert_group(&g.name, &g.roles, members, false);
        }
        let mut folder_ids = BTreeMap::new();
        for rg in &seed.resource_groups {
            let rg_id = new_id();
            s.resource_groups.insert(
                rg_id.clone(),
                ResourceGroup {
                    id: rg_id.clone(),
                    name: rg.name.clone(),
                    description: rg.description.clone().unwrap_or_default(),
                },
            );
            for p in &rg.projects {
                let p_id = new_id();
                s.projects.insert(
                    p_id.clone(),
                    Project {
                        id: p_id.clone(),
                        resource_group: rg_id.clone(),
                        name: p.name.clone(),
                    },
                );
                for f in &p.folders {
                    let f_id = new_id();
                    folder_ids.insert(format!("{}/{}/{f}", rg.name, p.name), f_id.clone());
                    s.folders.insert(
                        f_id.clone(),
                        Folder {
                            id: f_id,
                            resource_group: rg_id.clone(),
                            project: p_id.clone(),
                            parent: None,
                            name: f.clone(),
                            description: String::new(),
                            created_at: now,
                            updated_at: now,
                        },
                    );
                }
            }
        }
        for p in &seed.security_policies {
            let groups = p
                .groups
                .iter()
                .filter_map(|g| s.group_by_name(g).map(|g| g.id.clone()))
                .collect();
            let selectors: Vec<Value> = p
                .folders
                .iter()
                .filter_map(|f| folder_ids.get(f))
                .map(|id| json!({"selector_type": "secret_folder", "selector": {"secret_folder": {"id": id}}}))
                .collect();
            let id = new_id();
            let rules = vec![json!({
                "id": new_id(),
                "security_policy_id": id,
                "name": "Secret access",
                "resource_type": "secret_based_resource",
                "resource_selector": {"selectors": selectors},
                "privileges": [{"privilege_type": "secret", "privilege_value": {
                    "list": true, "folder_create": false, "folder_update": false, "folder_delete": false,
                    "secret_create": true, "secret_update": true, "secret_reveal": true, "secret_delete": false}}],
                "conditions": [],
            })];
            s.policies.insert(
                id.clone(),
                Policy {
                    id,
                    name: p.name.clone(),
                    description: p.description.clone().unwrap_or_default(),
                    active: true,
                    groups,
                    rules,
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
    pub fn insert_group(
        &mut self,
        name: &str,
        roles: &[String],
        members: BTreeSet<String>,
        pushed: bool,
    ) -> String {
        let id = new_id();
        self.groups.insert(
            id.clone(),
            Group {
                id: id.clone(),
                name: name.to_owned(),
                roles: if roles.is_empty() {
                    vec!["end_user".to_owned()]
                } else {
                    roles.to_vec()
                },
                members,
                pushed,
            },
        );
        id
    }

    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.groups.values().find(|g| g.name == name)
    }

    pub fn group_by_name_mut(&mut self, name: &str) -> Option<&mut Group> {
        self.groups.values_mut().find(|g| g.name == name)
    }

    /// A change made by hand in the OPA console (`crate::hand_change`): a member added to or removed from
    /// `group/<name>` (entitlement `member`), or a user disabled (status `DISABLED`). Groups pushed from Okta are
    /// refused as the API refuses them: Okta owns their membership.
    pub fn hand_change(&mut self, change: &HandChange) -> Result<(), String> {
        let who = change.user();
        let Some(user) = self
            .users
            .values()
            .find(|u| u.name.eq_ignore_ascii_case(who) || u.email.eq_ignore_ascii_case(who))
            .map(|u| u.name.clone())
        else {
            return Err(format!("unknown user {who}"));
        };
        let Some((resource, entitlement)) = change.target("member") else {
            if let Some(u) = self.users.get_mut(&user) {
                u.status = "DISABLED";
            }
            return Ok(());
        };
        if resource.kind != "group" {
            return Err(hand_change::unknown_kind(resource, &["group"]));
        }
        if let Some(e) = entitlement.filter(|e| *e != "member") {
            return Err(hand_change::unknown_entitlement(e, resource, &["member"]));
        }
        let Some(group) = self.group_by_name_mut(&resource.name) else {
            return Err(format!("unknown group {}", resource.name));
        };
        if group.pushed {
            return Err(format!(
                "The membership of {} is managed by Okta group push",
                resource.name
            ));
        }
        if entitlement.is_some() {
            group.members.insert(user);
        } else {
            group.members.remove(&user);
        }
        Ok(())
    }

    pub fn user_json(u: &User) -> Value {
        json!({
            "id": u.id,
            "name": u.name,
            "status": u.status,
            "user_type": "human",
            "details": {"email": u.email},
            "deleted_at": null,
        })
    }

    pub fn group_json(g: &Group) -> Value {
        json!({"id": g.id, "name": g.name, "roles": g.roles, "deleted_at": null})
    }

    pub fn named(&self, kind: &str, id: &str) -> Value {
        let name = match kind {
            "user_group" => self.groups.get(id).map(|g| g.name.clone()),
            "resource_group" => self.resource_groups.get(id).map(|r| r.name.clone()),
            "project" => self.projects.get(id).map(|p| p.name.clone()),
            "secret_folder" => self.folders.get(id).map(|f| f.name.clone()),
            _ => None,
        };
        json!({"id": id, "name": name.clone().unwrap_or_default(), "type": kind, "missing": name.is_none()})
    }

    pub fn resource_group_json(&self, r: &ResourceGroup) -> Value {
        json!({"id": r.id, "name": r.name, "description": r.description,
               "delegated_resource_admin_groups": [], "team_id": super::TEAM_ID})
    }

    pub fn project_json(&self, p: &Project) -> Value {
        json!({"id": p.id, "name": p.name, "resource_group": p.resource_group, "team": super::TEAM_ID})
    }

    /// The folder's path from the top, each step `{id, name}`.
    pub fn folder_path(&self, f: &Folder) -> Vec<Value> {
        let mut path = vec![json!({"id": f.id, "name": f.name})];
        let mut parent = f.parent.clone();
        while let Some(id) = parent {
            match self.folders.get(&id) {
                Some(p) => {
                    path.insert(0, json!({"id": p.id, "name": p.name}));
                    parent = p.parent.clone();
                }
                None => break,
            }
        }
        path
    }

    pub fn folder_json(&self, f: &Folder) -> Value {
        json!({
            "id": f.id,
            "name": f.name,
            "description": f.description,
            "type": "folder",
            "path": self.folder_path(f),
            "project": self.named("project", &f.project),
            "resource_group": self.named("resource_group", &f.resource_group),
            "created_at": ts(f.created_at),
            "created_by": super::SERVICE_USER,
            "updated_at": ts(f.updated_at),
            "updated_by": super::SERVICE_USER,
        })
    }

    pub fn policy_json(&self, p: &Policy) -> Value {
        json!({
            "id": p.id,
            "name": p.name,
            "description": p.description,
            "active": p.active,
            "principals": {"user_groups": p.groups.iter().map(|g| self.named("user_group", g)).collect::<Vec<_>>()},
            "rules": p.rules,
        })
    }
}

/// One OPA team: everything behind the HTTP layer.
#[derive(Debug)]
pub struct Opa {
    pub(crate) core: Core<Inner>,
    pub team: String,
    pub key_id: String,
    pub key_secret: String,
    /// How long a bearer token lives.
    pub token_ttl: chrono::Duration,
}

impl Opa {
    /// Makes every group pushed from Okta match `groups` (name → member emails): creates the missing ones (and
    /// users for members OPA does not know yet, named as Okta's provisioning names them) and sets their members.
    pub fn sync_pushed_groups(&self, groups: &BTreeMap<String, Vec<String>>) {
        let mut inner = self.core.state();
        for (name, emails) in groups {
            let mut members = BTreeSet::new();
            for email in emails {
                let existing = inner
                    .users
                    .values()
                    .find(|u| u.email.eq_ignore_ascii_case(email))
                    .map(|u| u.name.clone());
                let user = match existing {
                    Some(user) => user,
                    None => {
                        let user = crate::emulator::local_part(email).to_owned();
                        inner.users.insert(
                            user.clone(),
                            User {
                                id: new_id(),
                                name: user.clone(),
                                email: email.clone(),
                                status: "ACTIVE",
                            },
                        );
                        *inner.pushed.entry(format!("user/{user}")).or_default() += 1;
                        user
                    }
                };
                members.insert(user);
            }
            let changed = match inner.group_by_name_mut(name) {
                Some(g) => {
                    g.pushed = true;
                    let changed = g.members != members;
                    g.members = members;
                    changed
                }
                None => {
                    inner.insert_group(name, &[], members, true);
                    true
                }
            };
            if changed {
                *inner.pushed.entry(format!("group/{name}")).or_default() += 1;
            }
        }
    }
}
