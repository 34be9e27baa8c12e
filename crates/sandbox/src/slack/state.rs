//! The emulated Slack workspace in memory: users, channels with their members, the messages the app posted,
//! its configuration (request URLs) and its `response_url`s, write counts.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::seed::SlackSeed;
use crate::emulator::{Core, Seeded, Writes};

pub const TEAM_ID: &str = "T0SANDBOX1";
/// The bot user behind the token; it creates channels and is the `user_id` of `auth.test`.
pub const BOT_USER_ID: &str = "U0BOT00001";
pub const BOT_ID: &str = "B0SANDBOX1";
pub const APP_ID: &str = "A0SANDBOX1";

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub real_name: String,
    pub email: String,
    pub deleted: bool,
    pub is_admin: bool,
    pub updated: i64,
    /// What Slack's SCIM API keeps of the member besides handle, email and status (name, title, …), as SCIM
    /// attributes.
    pub scim: serde_json::Map<String, Value>,
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

/// One message in a conversation (a channel, or a DM whose `D…` id is in [`Inner::ims`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub channel: String,
    pub ts: String,
    /// Who posted it: [`BOT_USER_ID`] for the app.
    pub user: String,
    pub text: String,
    /// Block Kit blocks (a JSON array), `None` when the message has none.
    pub blocks: Option<Value>,
    pub attachments: Option<Value>,
    pub metadata: Option<Value>,
    pub thread_ts: Option<String>,
    /// The `ts` of the last `chat.update`.
    pub edited: Option<String>,
}

/// The app's settings page: its slash command and the request URLs Slack posts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    pub command: String,
    pub command_url: Option<String>,
    pub interactivity_url: Option<String>,
    /// The Events API request URL (`channel_created` is sent there).
    pub events_url: Option<String>,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            command: "/grantflow".into(),
            command_url: None,
            interactivity_url: None,
            events_url: None,
        }
    }
}

/// Where a `response_url` answers to: the slash command or the click it was handed out with.
#[derive(Debug, Clone)]
pub struct ResponseUrl {
    pub secret: String,
    pub created: i64,
    pub uses: u32,
    /// `slash_command` or `block_actions`.
    pub source: &'static str,
    pub channel: String,
    pub user: String,
    /// The message clicked on (what `replace_original` and `delete_original` act on).
    pub message_ts: Option<String>,
}

#[derive(Debug, Default)]
pub struct Inner {
    pub team: String,
    pub users: BTreeMap<String, User>,
    pub channels: BTreeMap<String, Channel>,
    /// The DM conversation (`D…`) with each user, opened by the first message to them.
    pub ims: BTreeMap<String, String>,
    /// Oldest first, at most [`MAX_MESSAGES`].
    pub messages: VecDeque<Message>,
    pub app: AppConfig,
    pub response_urls: BTreeMap<String, ResponseUrl>,
    /// What the app answered through `response_url`s and slash-command replies, oldest first.
    pub responses: VecDeque<Value>,
    /// The Events API events sent, oldest first, at most [`super::events::MAX_EVENTS`].
    pub events: VecDeque<super::events::SentEvent>,
    pub writes: Writes,
    /// 429s answered, per method.
    pub throttled: BTreeMap<String, u64>,
    next_id: u64,
    next_ts: u64,
}

/// Bounds on what the emulator keeps, so a long-running sandbox does not grow without end.
pub const MAX_MESSAGES: usize = 10_000;
pub const MAX_RESPONSES: usize = 10_000;
pub const MAX_RESPONSE_URLS: usize = 10_000;

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
                    scim: serde_json::Map::new(),
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

    /// A message `ts` (`seconds.micros`): unique and increasing, also when the clock stands still.
    pub fn new_ts(&mut self, now: i64) -> String {
        self.next_ts += 1;
        format!("{now}.{:06}", self.next_ts % 1_000_000)
    }

    /// The DM conversation with `user`, opened if need be.
    pub fn im_with(&mut self, user: &str) -> String {
        if let Some(id) = self.ims.get(user) {
            return id.clone();
        }
        let id = self.new_id('D');
        self.ims.insert(user.to_owned(), id.clone());
        id
    }

    pub fn message(&self, channel: &str, ts: &str) -> Option<&Message> {
        self.messages
            .iter()
            .find(|m| m.channel == channel && m.ts == ts)
    }

    pub fn message_mut(&mut self, channel: &str, ts: &str) -> Option<&mut Message> {
        self.messages
            .iter_mut()
            .find(|m| m.channel == channel && m.ts == ts)
    }

    pub fn keep_message(&mut self, message: Message) {
        if self.messages.len() >= MAX_MESSAGES {
            self.messages.pop_front();
        }
        self.messages.push_back(message);
    }

    pub fn keep_response(&mut self, response: Value) {
        if self.responses.len() >= MAX_RESPONSES {
            self.responses.pop_front();
        }
        self.responses.push_back(response);
    }

    /// A user by id, handle or email (any case), as the admin endpoints name people.
    pub fn find_user(&self, who: &str) -> Option<&User> {
        self.users.get(who).or_else(|| {
            self.users
                .values()
                .find(|u| u.name.eq_ignore_ascii_case(who) || u.email.eq_ignore_ascii_case(who))
        })
    }

    /// A channel by id or name (with or without `#`).
    pub fn find_channel(&self, id_or_name: &str) -> Option<&Channel> {
        self.channels.get(id_or_name).or_else(|| {
            let name = id_or_name.trim_start_matches('#');
            self.channels.values().find(|c| c.name == name)
        })
    }

    pub fn message_json(&self, m: &Message) -> Value {
        let mut v = json!({
            "type": "message",
            "user": m.user,
            "text": m.text,
            "ts": m.ts,
            "team": TEAM_ID,
        });
        if m.user == BOT_USER_ID {
            v["bot_id"] = json!(BOT_ID);
            v["app_id"] = json!(APP_ID);
        }
        if let Some(b) = &m.blocks {
            v["blocks"] = b.clone();
        }
        if let Some(a) = &m.attachments {
            v["attachments"] = a.clone();
        }
        if let Some(md) = &m.metadata {
            v["metadata"] = md.clone();
        }
        if let Some(t) = &m.thread_ts {
            v["thread_ts"] = json!(t);
        }
        if let Some(e) = &m.edited {
            v["edited"] = json!({ "user": m.user, "ts": e });
        }
        v
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
                "title": u.scim.get("title").and_then(Value::as_str).unwrap_or(""),
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
/// `special` is chat.postMessage's: about one message a second per channel, with short bursts, so 60 a
/// (minute-long) window, counted per channel.
pub const TIERS: &[(&str, u32)] = &[
    ("tier1", 1),
    ("tier2", 20),
    ("tier3", 50),
    ("tier4", 100),
    ("special", 60),
    // Slack's SCIM API, org-wide per minute (docs.slack.dev/reference/scim-api/rate-limits).
    ("scim_writes", 600),
    ("scim_reads", 1000),
];

pub fn tier_of(method: &str) -> &'static str {
    match method {
        "chat.postMessage" => "special",
        "users.list" | "conversations.list" | "conversations.create" => "tier2",
        "users.lookupByEmail"
        | "conversations.invite"
        | "conversations.kick"
        | "conversations.info"
        | "chat.update" => "tier3",
        _ => "tier4",
    }
}

/// One Slack workspace: everything behind the HTTP layer.
#[derive(Debug)]
pub struct Slack {
    pub(crate) core: Core<Inner>,
    pub token: String,
    /// The SCIM API's token (a user token with the `admin` scope, `xoxp-…`).
    pub scim_token: String,
    /// The app's signing secret: every request the emulator sends the app is signed with it.
    pub signing_secret: String,
    /// The deprecated verification token Slack still puts in payloads.
    pub verification_token: String,
}
