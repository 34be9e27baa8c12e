//! The emulated Web API methods: `auth.test`, `users.*`, `conversations.*` and `chat.*` (in `chat.rs`), with
//! Slack's error strings.

use serde_json::{Map, Value, json};

use super::chat;
use super::envelope::{Args, SlackError, SlackResult, page};
use super::state::{BOT_ID, BOT_USER_ID, Channel, Inner, TEAM_ID};

pub(super) fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn with_cursor(mut m: Map<String, Value>, next: String) -> Map<String, Value> {
    m.insert("response_metadata".into(), json!({ "next_cursor": next }));
    m
}

pub fn dispatch(method: &str, inner: &mut Inner, args: &Args, now: i64) -> SlackResult {
    match method {
        "api.test" => Ok(Map::new()),
        "auth.test" => Ok(fields(json!({
            "url": "https://sandbox.slack.com/",
            "team": inner.team,
            "user": "grantflow",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": false,
        }))),
        "users.list" => users_list(inner, args, now),
        "users.info" => {
            let id = args.require("user")?;
            let u = inner
                .users
                .get(id)
                .ok_or_else(|| SlackError::new("user_not_found"))?;
            Ok(fields(json!({ "user": inner.user_json(u) })))
        }
        "users.lookupByEmail" => {
            let email = args.require("email")?;
            let u = inner
                .users
                .values()
                .find(|u| u.email.eq_ignore_ascii_case(email))
                .ok_or_else(|| SlackError::new("users_not_found"))?;
            Ok(fields(json!({ "user": inner.user_json(u) })))
        }
        "conversations.list" => conversations_list(inner, args),
        "conversations.info" => {
            let c = channel(inner, args)?;
            Ok(fields(json!({ "channel": inner.channel_json(c) })))
        }
        "conversations.members" => {
            let c = channel(inner, args)?;
            let (ids, next) = page(args, "member", c.members.iter().cloned().collect(), 100)?;
            Ok(with_cursor(fields(json!({ "members": ids })), next))
        }
        "conversations.create" => create(inner, args, now),
        "conversations.invite" => invite(inner, args),
        "conversations.kick" => kick(inner, args),
        "chat.postMessage" => chat::post_message(inner, args, now),
        "chat.update" => chat::update(inner, args, now),
        _ => Err(SlackError::new("unknown_method")),
    }
}

fn users_list(inner: &Inner, args: &Args, now: i64) -> SlackResult {
    // users.list without a limit returns everyone in one page.
    let (ids, next) = page(
        args,
        "user",
        inner.users.keys().cloned().collect(),
        usize::MAX,
    )?;
    let members: Vec<Value> = ids
        .iter()
        .filter_map(|id| inner.users.get(id))
        .map(|u| inner.user_json(u))
        .collect();
    Ok(with_cursor(
        fields(json!({ "members": members, "cache_ts": now })),
        next,
    ))
}

fn conversations_list(inner: &Inner, args: &Args) -> SlackResult {
    let types: Vec<&str> = args
        .get("types")
        .unwrap_or("public_channel")
        .split(',')
        .map(str::trim)
        .collect();
    let known = ["public_channel", "private_channel", "mpim", "im"];
    if types.iter().any(|t| !known.contains(t)) {
        return Err(SlackError::new("invalid_types"));
    }
    let exclude_archived = args.flag("exclude_archived");
    let ids: Vec<String> = inner
        .channels
        .values()
        .filter(|c| {
            (c.is_private && types.contains(&"private_channel"))
                || (!c.is_private && types.contains(&"public_channel"))
        })
        .filter(|c| !(exclude_archived && c.is_archived))
        .map(|c| c.id.clone())
        .collect();
    let (ids, next) = page(args, "channel", ids, 100)?;
    let channels: Vec<Value> = ids
        .iter()
        .filter_map(|id| inner.channels.get(id))
        .map(|c| inner.channel_json(c))
        .collect();
    Ok(with_cursor(fields(json!({ "channels": channels })), next))
}

fn channel<'a>(inner: &'a Inner, args: &Args) -> Result<&'a Channel, SlackError> {
    let id = args.require("channel")?;
    inner
        .channels
        .get(id)
        .ok_or_else(|| SlackError::new("channel_not_found"))
}

fn create(inner: &mut Inner, args: &Args, now: i64) -> SlackResult {
    let name = args.require("name")?;
    if name.len() > 80 {
        return Err(SlackError::new("invalid_name_maxlength"));
    }
    let valid = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'));
    if !valid {
        return Err(SlackError::new("invalid_name_specials"));
    }
    if inner.channels.values().any(|c| c.name == name) {
        return Err(SlackError::new("name_taken"));
    }
    let id = inner.new_id('C');
    let c = Channel {
        id: id.clone(),
        name: name.to_owned(),
        is_private: args.flag("is_private"),
        is_archived: false,
        is_general: false,
        purpose: String::new(),
        created: now,
        creator: BOT_USER_ID.into(),
        members: [BOT_USER_ID.to_owned()].into(),
    };
    let body = inner.channel_json(&c);
    inner.channels.insert(id.clone(), c);
    inner.writes.count(format!("channel/{id}"));
    Ok(fields(json!({ "channel": body })))
}

fn invite(inner: &mut Inner, args: &Args) -> SlackResult {
    let c = channel(inner, args)?;
    let cid = c.id.clone();
    if c.is_archived {
        return Err(SlackError::new("is_archived"));
    }
    let users: Vec<String> = args
        .get("users")
        .ok_or_else(|| SlackError::new("no_user"))?
        .split(',')
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .collect();
    if users.is_empty() {
        return Err(SlackError::new("no_user"));
    }
    if users.len() > 1000 {
        return Err(SlackError::new("too_many_users"));
    }
    if users.iter().any(|u| u == BOT_USER_ID) {
        return Err(SlackError::new("cant_invite_self"));
    }
    for u in &users {
        match inner.users.get(u) {
            None => return Err(SlackError::new("user_not_found")),
            Some(user) if user.deleted => return Err(SlackError::new("user_is_deactivated")),
            Some(_) => {}
        }
    }
    let new: Vec<String> = users
        .into_iter()
        .filter(|u| !c.members.contains(u))
        .collect();
    if new.is_empty() {
        return Err(SlackError::new("already_in_channel"));
    }
    for u in &new {
        if let Some(ch) = inner.channels.get_mut(&cid) {
            ch.members.insert(u.clone());
        }
        inner.writes.count(format!("channel/{cid}/member/{u}"));
    }
    let body = inner
        .channels
        .get(&cid)
        .map(|c| inner.channel_json(c))
        .unwrap_or(Value::Null);
    Ok(fields(json!({ "channel": body })))
}

fn kick(inner: &mut Inner, args: &Args) -> SlackResult {
    let c = channel(inner, args)?;
    let cid = c.id.clone();
    let uid = args.require("user")?.to_owned();
    if uid == BOT_USER_ID {
        return Err(SlackError::new("cant_kick_self"));
    }
    if !inner.users.contains_key(&uid) {
        return Err(SlackError::new("user_not_found"));
    }
    if c.is_general {
        return Err(SlackError::new("cant_kick_from_general"));
    }
    if !c.members.contains(&uid) {
        return Err(SlackError::new("not_in_channel"));
    }
    if let Some(ch) = inner.channels.get_mut(&cid) {
        ch.members.remove(&uid);
    }
    inner.writes.count(format!("channel/{cid}/member/{uid}"));
    Ok(fields(json!({ "errors": {} })))
}
