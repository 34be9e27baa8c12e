//! An SMTP sink for flows' email card: it accepts mail on 127.0.0.1 (EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT,
//! DATA, QUIT) and keeps every message for tests, which read them at `GET /__sandbox/messages`.
//!
//! It is not a connector system: flows reach it through the organisation's SMTP connection (`flows.smtp`),
//! so the sandbox publishes it under `SandboxInfo.services`, with its SMTP address in `settings` (`smtp_host`,
//! `smtp_port`, `from`) and the account mail is sent with in `credentials` (`username`, `password`). Its HTTP
//! side is only the admin endpoints: `messages` (every message kept, newest last) and `reject` (answer a
//! recipient, or every recipient, with a given reply code, as a real server answers `550 5.1.1 mailbox
//! unavailable`), both cleared by the shared `reset`.
//!
//! The protocol is the `mailin` crate's state machine (RFC 5321 commands, dot-unstuffing, authentication
//! before MAIL when it is offered), which does no IO; this module drives it over tokio so the sink lives
//! and stops with the sandbox. `mailin-embedded`, its ready-made server, runs on blocking threads that
//! cannot be stopped, and `samotop` is built on async-std.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Weak};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::sync::watch;

use crate::emulator::{
    Core, CoreAdmin, Emulator, EmulatorConfig, Seeded, Writes, credentials, json_response,
    random_token,
};
use crate::hand_change::HandChange;

/// The organisation file's `smtp:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSeed {
    /// The sender flows write from (published as the `from` setting).
    #[serde(default = "default_from")]
    pub from: String,
    /// The account mail is submitted with (its password is made at start).
    #[serde(default = "default_username")]
    pub username: String,
}

fn default_from() -> String {
    "grantflow@example.com".into()
}

fn default_username() -> String {
    "grantflow".into()
}

/// A recipient the sink refuses, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// The address refused at RCPT (case-insensitive); absent: every recipient.
    #[serde(default)]
    pub recipient: Option<String>,
    /// The reply code, 400–599 (4xx a transient refusal, 5xx a permanent one).
    pub code: u16,
    #[serde(default = "default_rejection")]
    pub message: String,
}

fn default_rejection() -> String {
    "5.1.1 Mailbox unavailable".into()
}

/// The messages received and the refusals set.
#[derive(Debug, Default)]
pub struct Mailbox {
    messages: Vec<Value>,
    rejections: Vec<Rejection>,
    writes: Writes,
}

impl Seeded for Mailbox {
    type Seed = SmtpSeed;

    fn seeded(_: &SmtpSeed, _: DateTime<Utc>) -> Self {
        Mailbox::default()
    }

    fn writes(&self) -> &Writes {
        &self.writes
    }
}

/// The SMTP sink.
#[derive(Debug)]
pub struct Smtp {
    pub username: String,
    pub password: String,
    pub from: String,
    /// Where the SMTP listener is (0 when it could not bind: every send then fails to connect).
    pub port: u16,
    core: Core<Mailbox>,
    /// Dropped with the sink, which ends the SMTP listener.
    _stop: watch::Sender<bool>,
}

impl Emulator for Smtp {
    const KIND: &'static str = "smtp";
    type Seed = SmtpSeed;

    fn start(seed: &SmtpSeed, config: EmulatorConfig) -> Arc<Self> {
        let (stop, stopped) = watch::channel(false);
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .and_then(tokio::net::TcpListener::from_std);
        let (listener, port) = match listener {
            Ok(listener) => {
                let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
                (Some(listener), port)
            }
            Err(error) => {
                tracing::error!(message = "The SMTP sink could not listen on 127.0.0.1.", error = %error);
                (None, 0)
            }
        };
        let smtp = Arc::new(Smtp {
            username: seed.username.clone(),
            password: random_token("smtp-", 32),
            from: seed.from.clone(),
            port,
            core: config.core(seed, config.windows(&[("smtp", 6000)])),
            _stop: stop,
        });
        if let Some(listener) = listener {
            tokio::spawn(accept(listener, Arc::downgrade(&smtp), stopped));
        }
        smtp
    }

    fn credentials(&self) -> BTreeMap<String, String> {
        credentials([("username", &self.username), ("password", &self.password)])
    }

    fn settings(&self) -> serde_json::Map<String, Value> {
        let mut settings = serde_json::Map::new();
        settings.insert("smtp_host".into(), json!("127.0.0.1"));
        settings.insert("smtp_port".into(), json!(self.port));
        settings.insert("from".into(), json!(self.from));
        settings
    }

    fn core(&self) -> &dyn CoreAdmin {
        &self.core
    }

    /// No HTTP API: mail arrives over SMTP.
    fn api(_: &Arc<Self>) -> Router<Arc<Self>> {
        Router::new()
    }

    fn admin_routes() -> Router<Arc<Self>> {
        Router::new()
            .route("/__sandbox/messages", get(admin_messages))
            .route("/__sandbox/reject", post(admin_reject))
    }

    fn hand_change(&self, change: &HandChange) -> Result<(), String> {
        Err(format!(
            "smtp has no accounts or grants to change by hand (user {})",
            change.user()
        ))
    }
}

/// `GET /__sandbox/messages`: every message received, oldest first.
async fn admin_messages(State(smtp): State<Arc<Smtp>>) -> Response {
    let messages = smtp.core.state().messages.clone();
    json_response(StatusCode::OK, &json!({ "messages": messages }))
}

/// `POST /__sandbox/reject`: from now on, refuse a recipient (or all) with the given reply code.
async fn admin_reject(State(smtp): State<Arc<Smtp>>, body: axum::body::Bytes) -> Response {
    let rejection: Rejection = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(error) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("reject: {error}")}),
            );
        }
    };
    if !(400..=599).contains(&rejection.code) {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "reject: code is a 4xx or 5xx reply code"}),
        );
    }
    let mut state = smtp.core.state();
    state.rejections.push(rejection);
    let rejections = state.rejections.clone();
    json_response(StatusCode::OK, &json!({ "rejections": rejections }))
}

/// The longest line the sink reads (RFC 5321 allows 1000 octets; a little slack for sloppy clients).
const MAX_LINE: usize = 4096;
/// The largest message kept.
const MAX_MESSAGE: usize = 10 * 1024 * 1024;

async fn accept(
    listener: tokio::net::TcpListener,
    smtp: Weak<Smtp>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            // The sender goes with the sink: the sandbox stopped.
            _ = stopped.changed() => return,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let Some(smtp) = smtp.upgrade() else {
            return;
        };
        tokio::spawn(async move {
            if let Err(error) = session(stream, peer.ip(), smtp).await {
                tracing::debug!(message = "An SMTP session ended with an error.", error = %error);
            }
        });
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    peer: IpAddr,
    smtp: Arc<Smtp>,
) -> std::io::Result<()> {
    let mut builder = mailin::SessionBuilder::new("sandbox.grantflow.local");
    // Loopback only, and the sandbox offers no TLS: authentication over plain text is what it can do.
    builder
        .enable_auth(mailin::AuthMechanism::Plain)
        .enable_auth(mailin::AuthMechanism::Login)
        .insecure_enable_plaintext_auth();
    let mut session = builder.build(peer, Receiver::new(smtp));
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(&session.greeting().buffer()?).await?;
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if read == 0 {
            return Ok(());
        }
        let response = session.process(&line);
        match response.action {
            mailin::Action::NoReply => {}
            mailin::Action::Reply => write.write_all(&response.buffer()?).await?,
            // STARTTLS is not offered, so an upgrade is never agreed; close as for QUIT.
            mailin::Action::Close | mailin::Action::UpgradeTls => {
                write.write_all(&response.buffer()?).await?;
                return Ok(());
            }
        }
    }
}

/// One connection's transaction, as `mailin` reports it.
struct Receiver {
    smtp: Arc<Smtp>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Receiver {
    fn new(smtp: Arc<Smtp>) -> Self {
        Receiver {
            smtp,
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        }
    }

    fn authenticate(&self, username: &str, password: &str) -> mailin::Response {
        if username == self.smtp.username && password == self.smtp.password {
            mailin::response::AUTH_OK
        } else {
            mailin::response::INVALID_CREDENTIALS
        }
    }
}

impl mailin::Handler for Receiver {
    fn rcpt(&mut self, to: &str) -> mailin::Response {
        let state = self.smtp.core.state();
        let refused = state.rejections.iter().find(|r| {
            r.recipient
                .as_deref()
                .is_none_or(|address| address.eq_ignore_ascii_case(to))
        });
        match refused {
            Some(r) => mailin::Response::custom(r.code, r.message.clone()),
            None => mailin::response::OK,
        }
    }

    fn data_start(
        &mut self,
        _domain: &str,
        from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin::Response {
        self.from = from.to_string();
        self.to = to.to_vec();
        self.data.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.data.len() + buf.len() > MAX_MESSAGE {
            return Err(std::io::Error::other("the message is too large"));
        }
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin::Response {
        let message = parse_message(&self.data);
        let mut state = self.smtp.core.state();
        let received_at = self.smtp.core.now().to_rfc3339();
        state.writes.count("message".into());
        state.messages.push(json!({
            "from": self.from,
            "recipients": self.to,
            "subject": message.header("subject"),
            "to": message.header("to"),
            "cc": message.header("cc"),
            "message_id": message.header("message-id"),
            "body": message.body,
            "received_at": received_at,
        }));
        mailin::response::OK
    }

    fn auth_plain(
        &mut self,
        _authorization_id: &str,
        authentication_id: &str,
        password: &str,
    ) -> mailin::Response {
        self.authenticate(authentication_id, password)
    }

    fn auth_login(&mut self, username: &str, password: &str) -> mailin::Response {
        self.authenticate(username, password)
    }
}

/// A message's headers (unfolded, names lower-cased) and its body, as received.
struct Parsed {
    headers: Vec<(String, String)>,
    body: String,
}

impl Parsed {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a message into its headers and body (RFC 5322: a blank line between; a line starting with
/// white space continues the header before it).
fn parse_message(data: &[u8]) -> Parsed {
    let text = String::from_utf8_lossy(data).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((text.as_str(), ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    Parsed {
        headers,
        body: body.trim_end_matches('\n').to_string(),
    }
}
