//! `chat.postMessage` and `chat.update`, and the Block Kit checks they share with `response_url` answers.
//!
//! Slack's rules as documented (method pages, as scraped in slack-ruby/slack-api-ref): `channel` is a channel id,
//! a name, or a user id (a bot's DM to that person, answered with the `D…` conversation id); at least one of
//! `text`, `blocks`, `attachments`, `markdown_text` (else `no_text`), `text` and `markdown_text` not both;
//! `chat.update` keeps the blocks, attachments and metadata it is not given and removes those given as an empty
//! array. `blocks` are an array of at most 50 known block types, each `block_id` unique; Slack fills in the
//! `block_id`s and buttons' `action_id`s left out, which is what a click later reports.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::envelope::{Args, SlackError, SlackResult};
use super::methods::fields;
use super::state::{BOT_USER_ID, Inner, Message};
use crate::emulator::random_token;

/// Slack truncates longer texts and refuses them with `msg_too_long`.
pub const MAX_TEXT: usize = 40_000;
const MAX_BLOCKS: usize = 50;
const MAX_ATTACHMENTS: usize = 100;
const MAX_ID: usize = 255;
const BLOCK_TYPES: &[&str] = &[
    "actions",
    "context",
    "context_actions",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "table",
    "video",
];

/// `invalid_blocks` with Slack's `[ERROR] … [json-pointer:…]` line.
fn invalid(pointer: String, problem: &str) -> SlackError {
    SlackError {
        messages: vec![format!("[ERROR] {problem} [json-pointer:{pointer}]")],
        ..SlackError::new("invalid_blocks")
    }
}

/// A composition text object (`{"type": "plain_text"|"mrkdwn", "text": …}`) of at most `max` characters.
fn text_object(
    v: Option<&Value>,
    pointer: &str,
    kinds: &[&str],
    max: usize,
) -> Result<(), SlackError> {
    let Some(obj) = v.and_then(Value::as_object) else {
        return Err(invalid(pointer.to_owned(), "must be a text object"));
    };
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
    if !kinds.contains(&kind) {
        return Err(invalid(
            format!("{pointer}/type"),
            &format!("must be one of {}", kinds.join(", ")),
        ));
    }
    match obj.get("text").and_then(Value::as_str) {
        Some(t) if !t.is_empty() && t.chars().count() <= max => Ok(()),
        _ => Err(invalid(
            format!("{pointer}/text"),
            &format!("must be from 1 to {max} characters"),
        )),
    }
}

/// An optional id field: a string of at most 255 characters; the generated one when left out.
fn id_field(
    obj: &mut Map<String, Value>,
    name: &str,
    pointer: &str,
    generate: impl FnOnce() -> String,
) -> Result<String, SlackError> {
    match obj.get(name) {
        None | Some(Value::Null) => {
            let id = generate();
            obj.insert(name.to_owned(), json!(id));
            Ok(id)
        }
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_ID => Ok(s.clone()),
        Some(_) => Err(invalid(
            format!("{pointer}/{name}"),
            "must be a string of 1 to 255 characters",
        )),
    }
}

fn button(el: &mut Map<String, Value>, pointer: &str) -> Result<String, SlackError> {
    text_object(
        el.get("text"),
        &format!("{pointer}/text"),
        &["plain_text"],
        75,
    )?;
    match el.get("value") {
        None | Some(Value::Null) => {}
        Some(Value::String(v)) if v.chars().count() <= 2000 => {}
        Some(_) => {
            return Err(invalid(
                format!("{pointer}/value"),
                "must be a string of at most 2000 characters",
            ));
        }
    }
    match el.get("style") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "primary" || s == "danger" => {}
        Some(_) => {
            return Err(invalid(
                format!("{pointer}/style"),
                "must be primary or danger",
            ));
        }
    }
    id_field(el, "action_id", pointer, || random_token("", 5))
}

/// An interactive element: buttons are checked and get their `action_id`; others keep what they have.
fn element(
    el: &mut Value,
    pointer: &str,
    action_ids: &mut BTreeSet<String>,
) -> Result<(), SlackError> {
    let Some(obj) = el.as_object_mut() else {
        return Err(invalid(pointer.to_owned(), "must be an element object"));
    };
    let Some(kind) = obj.get("type").and_then(Value::as_str).map(str::to_owned) else {
        return Err(invalid(format!("{pointer}/type"), "is required"));
    };
    if kind == "button" {
        let id = button(obj, pointer)?;
        if !action_ids.insert(id) {
            return Err(invalid(
                format!("{pointer}/action_id"),
                "must be unique within the block",
            ));
        }
    }
    Ok(())
}

fn block(b: &mut Value, i: usize, block_ids: &mut BTreeSet<String>) -> Result<(), SlackError> {
    let pointer = format!("/blocks/{i}");
    let Some(obj) = b.as_object_mut() else {
        return Err(invalid(pointer, "must be a block object"));
    };
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if !BLOCK_TYPES.contains(&kind.as_str()) {
        return Err(invalid(
            format!("{pointer}/type"),
            "must be a known block type",
        ));
    }
    let id = id_field(obj, "block_id", &pointer, || random_token("", 5))?;
    if !block_ids.insert(id) {
        return Err(invalid(
            format!("{pointer}/block_id"),
            "must be unique within the message",
        ));
    }
    let mut action_ids = BTreeSet::new();
    match kind.as_str() {
        "section" => {
            let has_fields = obj
                .get("fields")
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty() && f.len() <= 10);
            if !has_fields {
                text_object(
                    obj.get("text"),
                    &format!("{pointer}/text"),
                    &["plain_text", "mrkdwn"],
                    3000,
                )?;
            }
            if let Some(accessory) = obj.get_mut("accessory") {
                element(accessory, &format!("{pointer}/accessory"), &mut action_ids)?;
            }
        }
        "header" => text_object(
            obj.get("text"),
            &format!("{pointer}/text"),
            &["plain_text"],
            150,
        )?,
        "actions" | "context" => {
            let max = if kind == "actions" { 25 } else { 10 };
            let Some(elements) = obj
                .get_mut("elements")
                .and_then(Value::as_array_mut)
                .filter(|e| !e.is_empty() && e.len() <= max)
            else {
                return Err(invalid(
                    format!("{pointer}/elements"),
                    &format!("must be an array of 1 to {max} elements"),
                ));
            };
            if kind == "actions" {
                for (j, el) in elements.iter_mut().enumerate() {
                    element(el, &format!("{pointer}/elements/{j}"), &mut action_ids)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Checks `blocks` and fills in the ids Slack generates. `invalid_blocks_format` when it is no array.
pub fn check_blocks(blocks: Value) -> Result<Value, SlackError> {
    let Value::Array(mut items) = blocks else {
        return Err(SlackError::new("invalid_blocks_format"));
    };
    if items.len() > MAX_BLOCKS {
        return Err(invalid("/blocks".into(), "must contain at most 50 blocks"));
    }
    let mut block_ids = BTreeSet::new();
    for (i, b) in items.iter_mut().enumerate() {
        block(b, i, &mut block_ids)?;
    }
    Ok(Value::Array(items))
}

/// A structured argument as sent, `Err(format_error)` when its form text is not JSON.
fn structured(
    args: &Args,
    name: &str,
    format_error: &'static str,
) -> Result<Option<Value>, SlackError> {
    args.json(name).map_err(|()| SlackError::new(format_error))
}

/// What a post or an update says about the message's content. `None` fields were left out.
struct Content {
    text: Option<String>,
    blocks: Option<Value>,
    attachments: Option<Value>,
    metadata: Option<Value>,
}

fn non_empty(v: &Option<Value>) -> bool {
    v.as_ref()
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

fn content(args: &Args) -> Result<Content, SlackError> {
    let text = args.get("text").map(str::to_owned);
    let markdown = args.get("markdown_text").map(str::to_owned);
    if text.is_some() && markdown.is_some() {
        return Err(SlackError {
            messages: vec!["[ERROR] text and markdown_text cannot both be given".into()],
            ..SlackError::new("invalid_arguments")
        });
    }
    let text = text.or(markdown);
    if text.as_ref().is_some_and(|t| t.chars().count() > MAX_TEXT) {
        return Err(SlackError::new("msg_too_long"));
    }
    let blocks = structured(args, "blocks", "invalid_blocks_format")?
        .map(check_blocks)
        .transpose()?;
    let attachments = structured(args, "attachments", "invalid_attachments")?;
    match &attachments {
        None => {}
        Some(Value::Array(a)) if a.len() > MAX_ATTACHMENTS => {
            return Err(SlackError::new("too_many_attachments"));
        }
        Some(Value::Array(a)) if a.iter().all(Value::is_object) => {}
        Some(_) => return Err(SlackError::new("invalid_attachments")),
    }
    let metadata = structured(args, "metadata", "invalid_metadata_format")?;
    if let Some(m) = &metadata {
        let well_formed = m.get("event_type").is_some_and(Value::is_string)
            && m.get("event_payload").is_some_and(Value::is_object);
        if !well_formed {
            return Err(SlackError::new("invalid_metadata_format"));
        }
    }
    let c = Content {
        text,
        blocks,
        attachments,
        metadata,
    };
    if c.text.is_none() && !non_empty(&c.blocks) && !non_empty(&c.attachments) {
        return Err(SlackError::new("no_text"));
    }
    Ok(c)
}

/// The conversation `channel` names, for the app to post in: `(conversation id, is a DM)`.
fn conversation(inner: &mut Inner, channel: &str) -> Result<String, SlackError> {
    if let Some(c) = inner.find_channel(channel) {
        if c.is_archived {
            return Err(SlackError::new("is_archived"));
        }
        // A private channel takes messages only from members; public ones from any app with chat:write.public.
        if c.is_private && !c.members.contains(BOT_USER_ID) {
            return Err(SlackError::new("not_in_channel"));
        }
        return Ok(c.id.clone());
    }
    if inner.ims.values().any(|d| d == channel) {
        return Ok(channel.to_owned());
    }
    match inner.users.get(channel) {
        Some(u) if !u.deleted => Ok(inner.im_with(channel)),
        _ => Err(SlackError::new("channel_not_found")),
    }
}

fn empty_to_none(v: Option<Value>) -> Option<Value> {
    v.filter(|v| !v.as_array().is_some_and(Vec::is_empty))
}

pub fn post_message(inner: &mut Inner, args: &Args, now: i64) -> SlackResult {
    let channel = args
        .get("channel")
        .ok_or_else(|| SlackError::new("channel_not_found"))?;
    let channel = conversation(inner, channel)?;
    let c = content(args)?;
    let thread_ts = args.get("thread_ts").map(str::to_owned);
    if let Some(t) = &thread_ts
        && inner.message(&channel, t).is_none()
    {
        return Err(SlackError::new("thread_not_found"));
    }
    let ts = inner.new_ts(now);
    let message = Message {
        channel: channel.clone(),
        ts: ts.clone(),
        user: BOT_USER_ID.into(),
        text: c.text.unwrap_or_default(),
        blocks: empty_to_none(c.blocks),
        attachments: empty_to_none(c.attachments),
        metadata: c.metadata,
        thread_ts,
        edited: None,
    };
    let body = inner.message_json(&message);
    inner.keep_message(message);
    inner.writes.count(format!("message/{channel}/{ts}"));
    Ok(fields(
        json!({ "channel": channel, "ts": ts, "message": body }),
    ))
}

pub fn update(inner: &mut Inner, args: &Args, now: i64) -> SlackResult {
    let channel = args.require("channel")?.to_owned();
    let ts = args.require("ts")?.to_owned();
    // Updates name the conversation by id: a user id is not the DM's id.
    let known = inner.channels.contains_key(&channel) || inner.ims.values().any(|d| *d == channel);
    if !known {
        return Err(SlackError::new("channel_not_found"));
    }
    let Some(existing) = inner.message(&channel, &ts) else {
        return Err(SlackError::new("message_not_found"));
    };
    if existing.user != BOT_USER_ID {
        return Err(SlackError::new("cant_update_message"));
    }
    let c = content(args)?;
    let edited = inner.new_ts(now);
    let Some(m) = inner.message_mut(&channel, &ts) else {
        return Err(SlackError::new("message_not_found"));
    };
    if let Some(t) = c.text {
        m.text = t;
    }
    if let Some(b) = c.blocks {
        m.blocks = empty_to_none(Some(b));
    }
    if let Some(a) = c.attachments {
        m.attachments = empty_to_none(Some(a));
    }
    if let Some(md) = c.metadata {
        m.metadata = Some(md);
    }
    m.edited = Some(edited);
    let m = m.clone();
    let body = inner.message_json(&m);
    inner.writes.count(format!("message/{channel}/{ts}"));
    Ok(fields(json!({
        "channel": channel,
        "ts": ts,
        "text": m.text,
        "message": body,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::state::User;
    use axum::body::Bytes;
    use axum::http::{HeaderMap, HeaderValue, header};

    fn args(body: Value) -> Args {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Args::parse(None, &headers, &Bytes::from(body.to_string())).expect("args")
    }

    fn form(body: &str) -> Args {
        Args::parse(None, &HeaderMap::new(), &Bytes::from(body.to_owned())).expect("args")
    }

    fn workspace() -> Inner {
        let mut inner = Inner::default();
        inner.users.insert(
            "U1".into(),
            User {
                id: "U1".into(),
                name: "ana".into(),
                real_name: "Ana".into(),
                email: "ana@example.com".into(),
                deleted: false,
                is_admin: false,
                updated: 0,
                scim: Default::default(),
            },
        );
        inner
    }

    #[test]
    fn a_dm_by_user_id_opens_one_conversation_and_blocks_get_their_ids() {
        let mut inner = workspace();
        let blocks = json!([{"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Approve"}, "value": "yes"}]}]);
        let first = post_message(
            &mut inner,
            &args(json!({"channel": "U1", "text": "hi", "blocks": blocks})),
            100,
        )
        .expect("posted");
        let dm = first["channel"].as_str().expect("channel").to_owned();
        assert!(dm.starts_with('D'), "{dm}");
        let block = &first["message"]["blocks"][0];
        assert!(block["block_id"].is_string());
        assert!(block["elements"][0]["action_id"].is_string());
        let second = post_message(&mut inner, &form("channel=U1&text=again"), 100).expect("second");
        assert_eq!(second["channel"], json!(dm));
        assert!(second["ts"].as_str() > first["ts"].as_str());
        // chat.update needs the DM's id, not the user's.
        let ts = first["ts"].as_str().expect("ts");
        assert_eq!(
            update(
                &mut inner,
                &form(&format!("channel=U1&ts={ts}&text=x")),
                101
            )
            .expect_err("user id"),
            SlackError::new("channel_not_found")
        );
        let updated = update(
            &mut inner,
            &form(&format!("channel={dm}&ts={ts}&text=done")),
            101,
        )
        .expect("updated");
        assert_eq!(updated["message"]["text"], "done");
        assert!(
            updated["message"]["blocks"].is_array(),
            "blocks left out are kept"
        );
        let cleared = update(
            &mut inner,
            &args(json!({"channel": dm, "ts": ts, "text": "done", "blocks": []})),
            102,
        )
        .expect("cleared");
        assert!(cleared["message"].get("blocks").is_none());
    }

    #[test]
    fn slacks_errors_for_content_blocks_and_messages() {
        let mut inner = workspace();
        let cases = [
            (json!({"channel": "U1"}), "no_text"),
            (json!({"channel": "U1", "blocks": []}), "no_text"),
            (
                json!({"channel": "C0NOPE", "text": "x"}),
                "channel_not_found",
            ),
            (json!({"text": "x"}), "channel_not_found"),
            (
                json!({"channel": "U1", "blocks": {"type": "divider"}}),
                "invalid_blocks_format",
            ),
            (
                json!({"channel": "U1", "blocks": [{"type": "nope"}]}),
                "invalid_blocks",
            ),
            (
                json!({"channel": "U1", "blocks": [{"type": "section"}]}),
                "invalid_blocks",
            ),
            (
                json!({"channel": "U1", "blocks": [{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}]}),
                "invalid_blocks",
            ),
            (
                json!({"channel": "U1", "blocks": [{"type": "actions", "elements": [{"type": "button"}]}]}),
                "invalid_blocks",
            ),
            (
                json!({"channel": "U1", "text": "x".repeat(MAX_TEXT + 1)}),
                "msg_too_long",
            ),
            (
                json!({"channel": "U1", "attachments": "nope"}),
                "invalid_attachments",
            ),
            (
                json!({"channel": "U1", "text": "x", "metadata": {"event_type": 1}}),
                "invalid_metadata_format",
            ),
        ];
        for (body, error) in cases {
            let got = post_message(&mut inner, &args(body.clone()), 1).expect_err("refused");
            assert_eq!(got.error, error, "{body}");
        }
        assert_eq!(
            post_message(&mut inner, &form("channel=U1&blocks=%5Bnot+json"), 1)
                .expect_err("form")
                .error,
            "invalid_blocks_format"
        );
        assert!(inner.messages.is_empty());
        let posted = post_message(
            &mut inner,
            &form("channel=U1&blocks=%5B%7B%22type%22%3A%22divider%22%7D%5D"),
            1,
        )
        .expect("blocks as JSON text in a form");
        let dm = posted["channel"].as_str().expect("dm").to_owned();
        for (body, error) in [
            (
                format!("channel={dm}&ts=1.000009&text=x"),
                "message_not_found",
            ),
            (format!("channel={dm}&text=x"), "invalid_arguments"),
        ] {
            assert_eq!(
                update(&mut inner, &form(&body), 2)
                    .expect_err("refused")
                    .error,
                error
            );
        }
        inner.keep_message(Message {
            channel: dm.clone(),
            ts: "5.000001".into(),
            user: "U1".into(),
            text: "mine".into(),
            blocks: None,
            attachments: None,
            metadata: None,
            thread_ts: None,
            edited: None,
        });
        assert_eq!(
            update(
                &mut inner,
                &form(&format!("channel={dm}&ts=5.000001&text=x")),
                2
            )
            .expect_err("someone else's")
            .error,
            "cant_update_message"
        );
    }
}
