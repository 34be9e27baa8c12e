//! The emulated Slack workspace in memory: users, channels with their members, write counts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::seed::SlackSeed;
use crate::emulator::{Core, Seeded, Writes};

pub const TEAM_ID: &str = "T0SANDBOX1";
/// The bot user behind the token; it creates channels and is the `user_id` of `auth.test`.
pub const BOT_USER_ID: &str = "U0BOT00001";

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub real_name: String,
    pub email: String,
    pub deleted: bool,
    pub is_admin: bool,
    pub updated: i64,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub is_private: bool,
    pub is_archived: bool,
    pub is_general: bool,
    pub purpose: String,
    pub created: i64,
    pub creator: String,
    pub members: BTreeSet<String>,
}

#[derive(Debug, Default)]
pub struct Inner {
    pub team: String,
    pub users: BTreeMap<String, User>,
    pub channels: BTreeMap<String, Channel>,
    pub writes: Writes,
    /// 429s answered, per method.
    pub throttled: BTreeMap<String, u64>,
    next_id: u64,
}

impl Seeded for Inner {
    type Seed = SlackSeed;

    fn seeded(seed: &SlackSeed, now: DateTime<Utc>) -> Self {
        let mut s = Inner {
            team: seed.team.clone().unwrap_or_else(|| "Example".into()),
            ..Inner::default()
        };
        let mut by_email = BTreeMap::new();
        for u in &seed.users {
            let id = s.new_id('U');
            by_email.insert(u.email.to_lowercase(), id.clone());
            s.users.insert(
                id.clone(),
                User {
                    id,
                    name: u.handle(),
                    real_name: u
                        .real_name
                        .clone()
                        .unwrap_or_else(|| crate::emulator::name_from_email(&u.email)),
                    email: u.email.clone(),
                    deleted: u.deleted,
                    is_admin: u.is_admin,
                    updated: now.timestamp(),
                },
            );
        }
        for c in &seed.channels {
            let id = s.new_id('C');
            let members = if c.general {
                s.users
                    .values()
                    .filter(|u| !u.deleted)
                    .map(|u| u.id.clone())
                    .collect()
            } else {
                c.members
                    .iter()
                    .filter_map(|m| by_email.get(&m.to_lowercase()).cloned())
                    .collect()
            };
            s.channels.insert(
                id.clone(),
                Channel {
                    id,
                    name: c.name.clone(),
                    is_private: c.private,
                    is_archived: c.archived,
                    is_general: c.general,
                    purpose: c.purpose.clone().unwrap_or_default(),
                    created: now.timestamp(),
                    creator: BOT_USER_ID.into(),
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
    /// Slack-looking ids that sort in creation order, which keeps cursors stable.
    pub fn new_id(&mut self, prefix: char) -> String {
        self.next_id += 1;
        format!("{prefix}0{:08X}", self.next_id)
    }

    pub fn user_json(&self, u: &User) -> Value {
        json!({
            "id": u.id,
            "team_id": TEAM_ID,
            "name": u.name,
            "deleted": u.deleted,
            "color": "9f69e7",
            "real_name": u.real_name,
            "tz": "Europe/Berlin",
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "profile": {
                "real_name": u.real_name,
                "real_name_normalized": u.real_name,
                "display_name": u.name,
                "display_name_normalized": u.name,
                "email": u.email,
                "team": TEAM_ID,
            },
            "is_admin": u.is_admin,
            "is_owner": false,
            "is_primary_owner": false,
            "is_restricted": false,
            "is_ultra_restricted": false,
            "is_bot": false,
            "is_app_user": false,
            "updated": u.updated,
        })
    }

    pub fn channel_json(&self, c: &Channel) -> Value {
        json!({
            "id": c.id,
            "name": c.name,
            "name_normalized": c.name,
            "is_channel": !c.is_private,
            "is_group": false,
            "is_im": false,
            "is_mpim": false,
            "is_private": c.is_private,
            "created": c.created,
            "is_archived": c.is_archived,
            "is_general": c.is_general,
            "unlinked": 0,
            "is_shared": false,
            "is_org_shared": false,
            "is_ext_shared": false,
            "is_pending_ext_shared": false,
            "is_member": c.members.contains(BOT_USER_ID),
            "creator": c.creator,
            "num_members": c.members.len(),
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": c.purpose, "creator": c.creator, "last_set": c.created},
            "previous_names": [],
        })
    }
}

/// Slack's documented tiers (per method, per workspace, per minute) and the tier of each emulated method.
pub const TIERS: &[(&str, u32)] = &[("tier1", 1), ("tier2", 20), ("tier3", 50), ("tier4", 100)];

pub fn tier_of(method: &str) -> &'static str {
    match method {
        "users.list" | "conversations.list" | "conversations.create" => "tier2",
        "users.lookupByEmail"
        | "conversations.invite"
        | "conversations.kick"
        | "conversations.info" => "tier3",
        _ => "tier4",
    }
}

/// One Slack workspace: everything behind the HTTP layer.
#[derive(Debug)]
pub struct Slack {
    pub(crate) core: Core<Inner>,
    pub token: String,
}
