//! The Slack app as Slack sees it: its settings (slash command, request URLs), the signed requests Slack sends
//! it when a person types the command or clicks a button, and the `response_url`s it may answer through.
//!
//! | route                              | what                                                                   |
//! |------------------------------------|------------------------------------------------------------------------|
//! | `GET`/`POST /__sandbox/app`        | `{"command", "command_url", "interactivity_url"}`; a POST changes the fields it names (`""` clears a URL) |
//! | `POST /__sandbox/slash-command`    | `{"user", "channel"?, "text"?, "command"?}`: the person types the command (in their DM with the app when `channel` is left out) |
//! | `POST /__sandbox/click`            | `{"user", "ts", "action_id", "channel"?, "block_id"?}`: the person clicks that button of a posted message |
//! | `GET /__sandbox/messages`          | `{"messages": [...]}`, each with its `channel`; `?channel=` filters     |
//! | `GET /__sandbox/responses`         | `{"responses": [...]}`: what the app answered through `response_url`s and slash-command replies |
//! | `POST /actions/{team}/{id}/{key}`  | a `response_url` (vendor side, not admin)                              |
//!
//! People are named by id, handle or email; channels by id or name. The two "person" calls answer 200 with what
//! the app replied (`status`, `body`, `json`) and what was sent (`request`: URL, timestamp, signature, raw
//! body), or 502 when the app could not be reached within Slack's 3 seconds.
//!
//! Each request is signed as Slack signs them: `X-Slack-Request-Timestamp` (Unix seconds) and
//! `X-Slack-Signature: v0=` + hex(HMAC-SHA256(signing secret, `v0:{timestamp}:{raw body}`)).

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Slack;
use super::chat::{MAX_TEXT, check_blocks};
use super::envelope::SlackError;
use super::state::{APP_ID, BOT_USER_ID, Inner, MAX_RESPONSE_URLS, Message, ResponseUrl, TEAM_ID};
use crate::emulator::{AdminBody, AdminError, Now, json_response, random_token};

/// Slack waits this long for the app's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(3);
/// How much of the app's reply is kept.
const MAX_REPLY_BYTES: usize = 64 * 1024;
const MAX_URL: usize = 2048;
/// Slack's documented limit on a slash command's text is not known to us; this bounds the admin input.
const MAX_COMMAND_TEXT: usize = 4000;
/// [unverified, third-party] a `response_url` is good for 5 answers within 30 minutes.
const RESPONSE_URL_USES: u32 = 5;
const RESPONSE_URL_SECONDS: i64 = 30 * 60;

/// `v0=` + hex(HMAC-SHA256(secret, `v0:{timestamp}:{body}`)).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(format!("v0:{timestamp}:").as_bytes());
    ctx.update(body);
    format!("v0={}", hex::encode(ctx.sign().as_ref()))
}

fn config_json(inner: &Inner) -> Value {
    json!({
        "app_id": APP_ID,
        "team_id": TEAM_ID,
        "command": inner.app.command,
        "command_url": inner.app.command_url,
        "interactivity_url": inner.app.interactivity_url,
        "events_url": inner.app.events_url,
    })
}

pub async fn get_app(State(s): State<Arc<Slack>>) -> Response {
    json_response(StatusCode::OK, &config_json(&s.core.state()))
}

/// A request URL: http(s) on a loopback host, without credentials. The sandbox never calls out of the machine.
fn request_url(body: &AdminBody, name: &str) -> Result<Option<Option<String>>, AdminError> {
    let Some(text) = body.string(name, &[])? else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(Some(None));
    }
    let refuse = |why: &str| AdminError::field(name, format!("{why}, not {text:?}"));
    if text.len() > MAX_URL {
        return Err(AdminError::field(
            name,
            format!("must be at most {MAX_URL} characters"),
        ));
    }
    let url = url::Url::parse(&text).map_err(|_| refuse("must be an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("must be an http or https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("must not carry credentials"));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if !loopback {
        return Err(refuse(
            "must be on a loopback host (the sandbox calls nothing else)",
        ));
    }
    Ok(Some(Some(text)))
}

fn command_name(body: &AdminBody) -> Result<Option<String>, AdminError> {
    let Some(c) = body.string("command", &[])? else {
        return Ok(None);
    };
    let valid = c.len() >= 2
        && c.len() <= 32
        && c.starts_with('/')
        && c[1..]
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '-' | '_'));
    if !valid {
        return Err(AdminError::field(
            "command",
            format!("must be / and 1 to 31 lower-case letters, digits, - or _, not {c:?}"),
        ));
    }
    Ok(Some(c))
}

pub async fn set_app(State(s): State<Arc<Slack>>, body: Bytes) -> Response {
    let parsed = (|| {
        let body = AdminBody::parse(
            &body,
            &["command", "command_url", "interactivity_url", "events_url"],
        )?;
        let command = command_name(&body)?;
        let command_url = request_url(&body, "command_url")?;
        let interactivity_url = request_url(&body, "interactivity_url")?;
        let events_url = request_url(&body, "events_url")?;
        Ok::<_, AdminError>((command, command_url, interactivity_url, events_url))
    })();
    let (command, command_url, interactivity_url, events_url) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    // Slack checks an Events API URL before it takes it.
    if let Some(Some(url)) = &events_url
        && let Err(e) = super::events::verify_url(&s, url).await
    {
        return e.into_response();
    }
    let mut inner = s.core.state();
    if let Some(u) = events_url {
        inner.app.events_url = u;
    }
    if let Some(c) = command {
        inner.app.command = c;
    }
    if let Some(u) = command_url {
        inner.app.command_url = u;
    }
    if let Some(u) = interactivity_url {
        inner.app.interactivity_url = u;
    }
    json_response(StatusCode::OK, &config_json(&inner))
}

#[derive(Debug, serde::Deserialize)]
pub struct ChannelFilter {
    channel: Option<String>,
}

pub async fn messages(
    State(s): State<Arc<Slack>>,
    Query(filter): Query<ChannelFilter>,
) -> Response {
    let inner = s.core.state();
    let list: Vec<Value> = inner
        .messages
        .iter()
        .filter(|m| filter.channel.as_ref().is_none_or(|c| *c == m.channel))
        .map(|m| {
            let mut v = inner.message_json(m);
            v["channel"] = json!(m.channel);
            v
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "messages": list }))
}

pub async fn responses(State(s): State<Arc<Slack>>) -> Response {
    let inner = s.core.state();
    json_response(
        StatusCode::OK,
        &json!({ "responses": inner.responses.iter().collect::<Vec<_>>() }),
    )
}

/// The host the admin request came to, so `response_url`s point back at this emulator.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn required(body: &AdminBody, name: &str) -> Result<String, AdminError> {
    body.string(name, &[])?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AdminError::field(name, "is required"))
}

/// An active person of the workspace: `(id, handle)`.
fn person(inner: &Inner, who: &str) -> Result<(String, String), AdminError> {
    match inner.find_user(who) {
        Some(u) if u.deleted => Err(AdminError::field("user", format!("{who} is deactivated"))),
        Some(u) => Ok((u.id.clone(), u.name.clone())),
        None => Err(AdminError::field(
            "user",
            format!("{who} is not a member of the workspace"),
        )),
    }
}

/// Where the person acts: `(id, name)` of a channel they can see, or of their DM with the app.
fn place(
    inner: &mut Inner,
    channel: Option<&str>,
    user: &str,
) -> Result<(String, String), AdminError> {
    let Some(channel) = channel else {
        return Ok((inner.im_with(user), "directmessage".into()));
    };
    if let Some(c) = inner.find_channel(channel) {
        if c.is_private && !c.members.contains(user) {
            return Err(AdminError::field(
                "channel",
                format!("{user} is not in the private channel {}", c.name),
            ));
        }
        return Ok((c.id.clone(), c.name.clone()));
    }
    match inner.ims.iter().find(|(_, d)| d.as_str() == channel) {
        Some((with, d)) if with == user => Ok((d.clone(), "directmessage".into())),
        Some((with, _)) => Err(AdminError::field(
            "channel",
            format!("{channel} is the app's DM with {with}, not with {user}"),
        )),
        None => Err(AdminError::field(
            "channel",
            format!("unknown channel {channel}"),
        )),
    }
}

/// A new `response_url` for what the person did (its URL and what it answers to), and a trigger id.
fn hand_out(
    inner: &mut Inner,
    base: &str,
    now: i64,
    source: &'static str,
    channel: &str,
    user: &str,
    message_ts: Option<String>,
) -> (String, String, ResponseUrl) {
    if inner.response_urls.len() >= MAX_RESPONSE_URLS
        && let Some(oldest) = inner
            .response_urls
            .iter()
            .min_by_key(|(_, r)| r.created)
            .map(|(k, _)| k.clone())
    {
        inner.response_urls.remove(&oldest);
    }
    let id = random_token("", 11);
    let key = random_token("", 24);
    let origin = ResponseUrl {
        secret: key.clone(),
        created: now,
        uses: 0,
        source,
        channel: channel.to_owned(),
        user: user.to_owned(),
        message_ts,
    };
    inner.response_urls.insert(id.clone(), origin.clone());
    let trigger = format!("{now}.{}.{}", &id, random_token("", 16).to_lowercase());
    (
        format!("{base}/actions/{TEAM_ID}/{id}/{key}"),
        trigger,
        origin,
    )
}

/// One signed delivery to the app, as Slack makes it.
struct Delivery {
    url: String,
    body: String,
    timestamp: i64,
    signature: String,
    source: &'static str,
    origin: ResponseUrl,
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub async fn slash_command(
    State(s): State<Arc<Slack>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let delivery = (|| {
        let body = AdminBody::parse(&body, &["user", "channel", "text", "command"])?;
        let who = required(&body, "user")?;
        let channel = body.string("channel", &[])?;
        let text = body.string("text", &[])?.unwrap_or_default();
        if text.chars().count() > MAX_COMMAND_TEXT {
            return Err(AdminError::field(
                "text",
                format!("must be at most {MAX_COMMAND_TEXT} characters"),
            ));
        }
        let command = command_name(&body)?;
        let now = s.core.now().timestamp();
        let mut inner = s.core.state();
        let url = inner.app.command_url.clone().ok_or_else(|| {
            AdminError::new("the app has no command_url: set it with POST /__sandbox/app")
        })?;
        let (user, handle) = person(&inner, &who)?;
        let (channel_id, channel_name) = place(&mut inner, channel.as_deref(), &user)?;
        let command = command.unwrap_or_else(|| inner.app.command.clone());
        let (response_url, trigger, origin) = hand_out(
            &mut inner,
            &base_url(&headers),
            now,
            "slash_command",
            &channel_id,
            &user,
            None,
        );
        let form = form_body(&[
            ("token", &s.verification_token),
            ("team_id", TEAM_ID),
            ("team_domain", "sandbox"),
            ("channel_id", &channel_id),
            ("channel_name", &channel_name),
            ("user_id", &user),
            ("user_name", &handle),
            ("command", &command),
            ("text", &text),
            ("api_app_id", APP_ID),
            ("is_enterprise_install", "false"),
            ("response_url", &response_url),
            ("trigger_id", &trigger),
        ]);
        Ok(Delivery {
            signature: signature(&s.signing_secret, now, form.as_bytes()),
            url,
            body: form,
            timestamp: now,
            source: "slash_command",
            origin,
        })
    })();
    match delivery {
        Ok(d) => deliver(&s, d).await,
        Err(e) => e.into_response(),
    }
}

/// The button `action_id` (in `block_id`, when given) of `blocks`: `(block_id, element)`.
fn find_button(blocks: &Value, action_id: &str, block_id: Option<&str>) -> Option<(String, Value)> {
    blocks.as_array()?.iter().find_map(|b| {
        let id = b.get("block_id")?.as_str()?;
        if block_id.is_some_and(|want| want != id) {
            return None;
        }
        let mut elements: Vec<&Value> = b
            .get("elements")
            .and_then(Value::as_array)
            .map(|e| e.iter().collect())
            .unwrap_or_default();
        elements.extend(b.get("accessory"));
        elements
            .into_iter()
            .find(|e| {
                e.get("type").and_then(Value::as_str) == Some("button")
                    && e.get("action_id").and_then(Value::as_str) == Some(action_id)
            })
            .map(|e| (id.to_owned(), e.clone()))
    })
}

fn action_ids(blocks: Option<&Value>) -> Vec<String> {
    let mut ids = Vec::new();
    for b in blocks.and_then(Value::as_array).into_iter().flatten() {
        let elements = b
            .get("elements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for e in elements.chain(b.get("accessory")) {
            if e.get("type").and_then(Value::as_str) == Some("button")
                && let Some(id) = e.get("action_id").and_then(Value::as_str)
            {
                ids.push(id.to_owned());
            }
        }
    }
    ids
}

pub async fn click(State(s): State<Arc<Slack>>, headers: HeaderMap, body: Bytes) -> Response {
    let delivery = (|| {
        let body = AdminBody::parse(&body, &["user", "channel", "ts", "action_id", "block_id"])?;
        let who = required(&body, "user")?;
        let ts = required(&body, "ts")?;
        let action_id = required(&body, "action_id")?;
        let block_id = body.string("block_id", &[])?;
        let channel = body.string("channel", &[])?;
        let now = s.core.now();
        let mut inner = s.core.state();
        let url = inner.app.interactivity_url.clone().ok_or_else(|| {
            AdminError::new("the app has no interactivity_url: set it with POST /__sandbox/app")
        })?;
        let (user, handle) = person(&inner, &who)?;
        let channel_id = match channel.as_deref() {
            Some(c) => inner
                .find_channel(c)
                .map(|c| c.id.clone())
                .unwrap_or_else(|| c.to_owned()),
            None => inner
                .messages
                .iter()
                .find(|m| m.ts == ts)
                .map(|m| m.channel.clone())
                .ok_or_else(|| AdminError::field("ts", format!("no message {ts}")))?,
        };
        let message = inner
            .message(&channel_id, &ts)
            .cloned()
            .ok_or_else(|| AdminError::field("ts", format!("no message {ts} in {channel_id}")))?;
        let (channel_id, channel_name) = place(&mut inner, Some(&channel_id), &user)?;
        let Some((block, button)) = find_button(
            message.blocks.as_ref().unwrap_or(&Value::Null),
            &action_id,
            block_id.as_deref(),
        ) else {
            return Err(AdminError::field(
                "action_id",
                format!(
                    "{action_id} is no button of message {ts}; its buttons: {}",
                    action_ids(message.blocks.as_ref()).join(", ")
                ),
            ));
        };
        let (response_url, trigger, origin) = hand_out(
            &mut inner,
            &base_url(&headers),
            now.timestamp(),
            "block_actions",
            &channel_id,
            &user,
            Some(ts.clone()),
        );
        let mut action = json!({
            "type": "button",
            "action_id": action_id,
            "block_id": block,
            "text": button.get("text").cloned().unwrap_or(Value::Null),
            "action_ts": format!("{}.{:06}", now.timestamp(), now.timestamp_subsec_micros()),
        });
        if let Some(v) = button.get("value") {
            action["value"] = v.clone();
        }
        if let Some(v) = button.get("style") {
            action["style"] = v.clone();
        }
        // `container`'s fields are as commonly seen in payloads; Slack's page does not list them all.
        let payload = json!({
            "type": "block_actions",
            "user": {"id": user, "username": handle, "name": handle, "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": s.verification_token,
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel_id,
                "is_ephemeral": false,
            },
            "trigger_id": trigger,
            "team": {"id": TEAM_ID, "domain": "sandbox"},
            "enterprise": null,
            "is_enterprise_install": false,
            "channel": {"id": channel_id, "name": channel_name},
            "message": inner.message_json(&message),
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        });
        let form = form_body(&[("payload", &payload.to_string())]);
        Ok(Delivery {
            signature: signature(&s.signing_secret, now.timestamp(), form.as_bytes()),
            url,
            body: form,
            timestamp: now.timestamp(),
            source: "block_actions",
            origin,
        })
    })();
    match delivery {
        Ok(d) => deliver(&s, d).await,
        Err(e) => e.into_response(),
    }
}

/// Reads at most [`MAX_REPLY_BYTES`] of the app's reply.
async fn bounded(mut resp: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = MAX_REPLY_BYTES.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_REPLY_BYTES {
            break;
        }
    }
    Ok(out)
}

async fn deliver(s: &Slack, d: Delivery) -> Response {
    let request = json!({
        "url": d.url,
        "timestamp": d.timestamp.to_string(),
        "signature": d.signature,
        "body": d.body,
    });
    let client = reqwest::Client::builder()
        .timeout(ACK_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Slackbot 1.0 (+https://api.slack.com/robots)")
        .build();
    let sent = match client {
        Ok(c) => {
            c.post(&d.url)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("x-slack-request-timestamp", d.timestamp.to_string())
                .header("x-slack-signature", &d.signature)
                .body(d.body.clone())
                .send()
                .await
        }
        Err(e) => Err(e),
    };
    let reply = match sent {
        Ok(resp) => {
            let status = resp.status();
            bounded(resp).await.map(|b| (status, b))
        }
        Err(e) => Err(e),
    };
    let (status, bytes) = match reply {
        Ok(r) => r,
        Err(e) => {
            let why = if e.is_timeout() {
                "did not answer within Slack's 3 seconds".to_owned()
            } else {
                format!("could not be reached: {e}")
            };
            return json_response(
                StatusCode::BAD_GATEWAY,
                &json!({ "error": format!("the app at {} {why}", d.url), "request": request }),
            );
        }
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    // A slash command's immediate reply is shown like a response_url answer; a click's is only an ack.
    if d.source == "slash_command" && status.is_success() && !text.trim().is_empty() {
        let body = if parsed.is_object() {
            parsed.clone()
        } else {
            json!({ "text": text })
        };
        let now = s.core.now().timestamp();
        let mut inner = s.core.state();
        let _ = respond(&mut inner, &d.origin, &body, "reply", now);
    }
    json_response(
        StatusCode::OK,
        &json!({
            "status": status.as_u16(),
            "body": text,
            "json": parsed,
            "request": request,
        }),
    )
}

/// What the app says through a `response_url` (or a slash command's reply): kept in the responses, and shown
/// in the channel (`in_channel`), in place of the message clicked (`replace_original`), or removing it
/// (`delete_original`).
fn respond(
    inner: &mut Inner,
    origin: &ResponseUrl,
    body: &Value,
    via: &str,
    now: i64,
) -> Result<(), SlackError> {
    let Some(obj) = body.as_object() else {
        return Err(SlackError::new("invalid_payload"));
    };
    let flag = |name: &str| obj.get(name).and_then(Value::as_bool).unwrap_or(false);
    let (replace, delete) = (flag("replace_original"), flag("delete_original"));
    let response_type = match obj.get("response_type") {
        None | Some(Value::Null) => "ephemeral",
        Some(Value::String(t)) if t == "ephemeral" || t == "in_channel" => t.as_str(),
        Some(_) => return Err(SlackError::new("invalid_payload")),
    };
    let text = match obj.get("text") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t.chars().count() > MAX_TEXT => {
            return Err(SlackError::new("msg_too_long"));
        }
        Some(Value::String(t)) => Some(t.clone()).filter(|t| !t.is_empty()),
        Some(_) => return Err(SlackError::new("invalid_payload")),
    };
    let blocks = match obj.get("blocks") {
        None | Some(Value::Null) => None,
        Some(b) => {
            Some(check_blocks(b.clone())?).filter(|b| b.as_array().is_some_and(|a| !a.is_empty()))
        }
    };
    let original = origin.message_ts.clone();
    if delete || replace {
        let Some(ts) = original
            .as_deref()
            .filter(|ts| inner.message(&origin.channel, ts).is_some())
        else {
            return Err(SlackError::new("message_not_found"));
        };
        let ts = ts.to_owned();
        if delete {
            inner
                .messages
                .retain(|m| !(m.channel == origin.channel && m.ts == ts));
        } else {
            if text.is_none() && blocks.is_none() {
                return Err(SlackError::new("no_text"));
            }
            let edited = inner.new_ts(now);
            if let Some(m) = inner.message_mut(&origin.channel, &ts) {
                m.text = text.clone().unwrap_or_default();
                m.blocks = blocks.clone();
                m.edited = Some(edited);
            }
        }
    } else if text.is_none() && blocks.is_none() {
        return Err(SlackError::new("no_text"));
    } else if response_type == "in_channel" {
        let ts = inner.new_ts(now);
        inner.keep_message(Message {
            channel: origin.channel.clone(),
            ts,
            user: BOT_USER_ID.into(),
            text: text.clone().unwrap_or_default(),
            blocks: blocks.clone(),
            attachments: None,
            metadata: None,
            thread_ts: obj
                .get("thread_ts")
                .and_then(Value::as_str)
                .map(str::to_owned),
            edited: None,
        });
    }
    inner.keep_response(json!({
        "via": via,
        "source": origin.source,
        "channel": origin.channel,
        "user": origin.user,
        "message_ts": original,
        "response_type": response_type,
        "replace_original": replace,
        "delete_original": delete,
        "text": text,
        "blocks": blocks,
        "at": now,
    }));
    Ok(())
}

fn hook_error(status: StatusCode, error: &'static str) -> Response {
    json_response(status, &json!({ "ok": false, "error": error }))
}

/// A `response_url`: JSON only. [unverified] the `{"ok": true}` answer and the `expired_url` refusal.
pub async fn response_url(
    State(s): State<Arc<Slack>>,
    Now(now): Now,
    Path((team, id, key)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let now = now.timestamp();
    let mut inner = s.core.state();
    let origin = match inner.response_urls.get_mut(&id) {
        Some(r)
            if team == TEAM_ID
                && aws_lc_rs::constant_time::verify_slices_are_equal(
                    r.secret.as_bytes(),
                    key.as_bytes(),
                )
                .is_ok()
                && now - r.created <= RESPONSE_URL_SECONDS
                && r.uses < RESPONSE_URL_USES =>
        {
            r.uses += 1;
            r.clone()
        }
        _ => return hook_error(StatusCode::NOT_FOUND, "expired_url"),
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return hook_error(StatusCode::BAD_REQUEST, "invalid_payload");
    };
    match respond(&mut inner, &origin, &body, "response_url", now) {
        Ok(()) => json_response(StatusCode::OK, &json!({ "ok": true })),
        Err(e) => hook_error(StatusCode::BAD_REQUEST, e.error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_slacks_v0_hmac_over_the_raw_body() {
        // printf 'v0:1531420618:body' | openssl dgst -sha256 -hmac secret
        let sig = signature("secret", 1_531_420_618, b"body");
        assert_eq!(
            sig,
            "v0=78e394d129df51c593e1d449277f576c39c361411fecc54edd326794263d3f84"
        );
        assert_ne!(sig, signature("secret", 1_531_420_618, b"bodz"));
        assert_ne!(sig, signature("secret", 1_531_420_619, b"body"));
        assert_ne!(sig, signature("secreT", 1_531_420_618, b"body"));
    }

    #[test]
    fn request_urls_must_be_loopback_http() {
        for (url, ok) in [
            ("http://127.0.0.1:8080/slack/commands", true),
            ("https://localhost/x", true),
            ("http://[::1]:9/x", true),
            ("http://example.com/x", false),
            ("ftp://127.0.0.1/x", false),
            ("http://user:pw@127.0.0.1/x", false),
            ("not a url", false),
        ] {
            let body = AdminBody::parse(
                json!({ "command_url": url }).to_string().as_bytes(),
                &["command_url"],
            )
            .expect("body");
            assert_eq!(request_url(&body, "command_url").is_ok(), ok, "{url}");
        }
    }

    #[test]
    fn buttons_are_found_by_action_id_and_block() {
        let blocks = json!([
            {"type": "section", "block_id": "s", "text": {"type": "mrkdwn", "text": "x"},
             "accessory": {"type": "button", "action_id": "more", "text": {"type": "plain_text", "text": "More"}}},
            {"type": "actions", "block_id": "a", "elements": [
                {"type": "button", "action_id": "approve", "value": "p1", "text": {"type": "plain_text", "text": "OK"}}]}
        ]);
        assert_eq!(
            find_button(&blocks, "approve", None).map(|(b, e)| (b, e["value"].clone())),
            Some(("a".into(), json!("p1")))
        );
        assert!(find_button(&blocks, "approve", Some("s")).is_none());
        assert_eq!(
            find_button(&blocks, "more", None).map(|(b, _)| b),
            Some("s".into())
        );
        assert_eq!(action_ids(Some(&blocks)), ["more", "approve"]);
    }
}
