//! The Events API as Slack plays it towards the app: when the app's `events_url` is set, Slack first checks
//! it with a signed `url_verification` request (the URL must echo the `challenge`), then sends each event
//! it subscribes to as a signed `event_callback` envelope with its `event_id` — here `channel_created`,
//! when `conversations.create` makes a public channel.
//!
//! | route                             | what                                                                |
//! |-----------------------------------|---------------------------------------------------------------------|
//! | `POST /__sandbox/app`             | `{"events_url"}` sets the Events API request URL (verified first; `""` clears it) |
//! | `GET /__sandbox/events`           | `{"events": [...]}`: each event sent, its envelope and the app's answers |
//! | `POST /__sandbox/events/redeliver`| `{"event_id"}`: Slack's retry of that event (same body, `X-Slack-Retry-Num`) |

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Slack;
use super::app::signature;
use super::state::{APP_ID, Channel, TEAM_ID};
use crate::emulator::{AdminBody, AdminError, json_response, random_token};

/// Slack waits this long for the app's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(3);
/// Events kept for tests to read.
pub const MAX_EVENTS: usize = 1000;

/// One event sent: its envelope and what the app answered to each delivery.
#[derive(Debug, Clone)]
pub struct SentEvent {
    pub event_id: String,
    pub url: String,
    pub envelope: Value,
    pub answers: Vec<Value>,
}

/// Sends `body` to `url` signed as Slack signs it; the app's status, or why it could not be reached.
async fn post(
    s: &Slack,
    url: &str,
    body: &str,
    retry: Option<u32>,
) -> Result<(u16, String), String> {
    let timestamp = s.core.now().timestamp();
    let client = reqwest::Client::builder()
        .timeout(ACK_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Slackbot 1.0 (+https://api.slack.com/robots)")
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = client
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header(
            "x-slack-signature",
            signature(&s.signing_secret, timestamp, body.as_bytes()),
        );
    if let Some(n) = retry {
        request = request
            .header("x-slack-retry-num", n.to_string())
            .header("x-slack-retry-reason", "http_error");
    }
    let resp = request
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| format!("the app at {url} could not be reached: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    Ok((status, text.chars().take(4096).collect()))
}

/// Slack's check of a new request URL: the app must answer the challenge.
pub async fn verify_url(s: &Slack, url: &str) -> Result<(), AdminError> {
    let challenge = random_token("", 48);
    let body = json!({
        "token": s.verification_token,
        "challenge": challenge,
        "type": "url_verification",
    })
    .to_string();
    let (status, text) = post(s, url, &body, None).await.map_err(AdminError::new)?;
    let echoed = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("challenge")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| text.trim().to_owned());
    if status != 200 || echoed != challenge {
        return Err(AdminError::field(
            "events_url",
            format!("did not answer Slack's url_verification challenge (status {status})"),
        ));
    }
    Ok(())
}

/// The `channel_created` event of a public channel just made, sent to the events URL in the background.
pub fn channel_created(s: &Arc<Slack>, channel: &Channel) {
    if channel.is_private {
        return;
    }
    let now = s.core.now().timestamp();
    let mut inner = s.core.state();
    let Some(url) = inner.app.events_url.clone() else {
        return;
    };
    // Slack's event ids: `Ev` and upper-case letters and digits.
    let event_id = format!("Ev{}", random_token("", 10).to_uppercase());
    let envelope = json!({
        "token": s.verification_token,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": {
            "type": "channel_created",
            "channel": {
                "id": channel.id,
                "name": channel.name,
                "created": channel.created,
                "creator": channel.creator,
            },
            "event_ts": format!("{now}.000100"),
        },
        "type": "event_callback",
        "event_id": event_id,
        "event_time": now,
        "authorizations": [{"team_id": TEAM_ID, "is_bot": true, "is_enterprise_install": false}],
        "is_ext_shared_channel": false,
    });
    inner.events.push_back(SentEvent {
        event_id: event_id.clone(),
        url: url.clone(),
        envelope: envelope.clone(),
        answers: vec![],
    });
    while inner.events.len() > MAX_EVENTS {
        inner.events.pop_front();
    }
    drop(inner);
    tokio::spawn(send(s.clone(), event_id, url, envelope.to_string(), None));
}

async fn send(s: Arc<Slack>, event_id: String, url: String, body: String, retry: Option<u32>) {
    let answer = match post(&s, &url, &body, retry).await {
        Ok((status, text)) => json!({"status": status, "body": text, "retry": retry}),
        Err(error) => json!({"error": error, "retry": retry}),
    };
    let mut inner = s.core.state();
    if let Some(sent) = inner.events.iter_mut().find(|e| e.event_id == event_id) {
        sent.answers.push(answer);
    }
}

pub async fn list(State(s): State<Arc<Slack>>) -> Response {
    let inner = s.core.state();
    let events: Vec<Value> = inner
        .events
        .iter()
        .map(|e| json!({"event_id": e.event_id, "url": e.url, "envelope": e.envelope, "answers": e.answers}))
        .collect();
    json_response(StatusCode::OK, &json!({ "events": events }))
}

/// Slack's retry of an event: the same envelope (and `event_id`), freshly signed, with its retry number;
/// answers what the app said.
pub async fn redeliver(State(s): State<Arc<Slack>>, body: Bytes) -> Response {
    let found = (|| {
        let body = AdminBody::parse(&body, &["event_id"])?;
        let id = body
            .string("event_id", &[])?
            .ok_or_else(|| AdminError::field("event_id", "is required"))?;
        let inner = s.core.state();
        let sent = inner
            .events
            .iter()
            .find(|e| e.event_id == id)
            .ok_or_else(|| AdminError::field("event_id", format!("no event {id} was sent")))?;
        Ok::<_, AdminError>((
            id,
            sent.url.clone(),
            sent.envelope.to_string(),
            sent.answers.len(),
        ))
    })();
    let (id, url, envelope, tries) = match found {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let retry = u32::try_from(tries).unwrap_or(u32::MAX).max(1);
    send(s.clone(), id.clone(), url, envelope, Some(retry)).await;
    let inner = s.core.state();
    let answer = inner
        .events
        .iter()
        .find(|e| e.event_id == id)
        .and_then(|e| e.answers.last().cloned())
        .unwrap_or(Value::Null);
    json_response(StatusCode::OK, &answer)
}
