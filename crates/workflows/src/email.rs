//! The email card (`notify.email`): a plain-text message sent over the organisation's SMTP server
//! (`flows.smtp` in grantflow.yaml). The server belongs to the organisation like the HTTP connections: its
//! password is read from the environment or a file when a message is sent and is never written to a
//! history, a log or an error. A refusal keeps the server's reply code (`550`, `421`) as the card's error
//! code, and a 4xx refusal or a lost connection may be tried again by the step's retry policy.

use std::path::PathBuf;
use std::time::Duration;

use grantflow_connectors::SecretSource;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MessageBuilder};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::host::CardError;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text: allowed only to this machine (a local relay, the sandbox's sink).
    None,
    /// Plain connection upgraded with STARTTLS, which must succeed (submission, port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (implicit TLS, port 465).
    Tls,
}

/// `flows.smtp`: the organisation's SMTP server for the email card.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConnection {
    pub host: String,
    /// Default: 587 with STARTTLS, 465 with TLS, 25 without.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTls,
    /// The account mail is submitted with; none: the server takes mail without authentication.
    #[serde(default)]
    pub username: Option<String>,
    /// The account's password, from `env` or `file` (never in the configuration itself).
    #[serde(default)]
    pub password: Option<SecretSource>,
    /// The sender every message is from (`Grantflow <grantflow@example.com>`).
    pub from: String,
    /// Seconds before a send is given up (default 30).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

impl SmtpConnection {
    fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }
}

/// Sends the email cards' messages through the configuration's SMTP server.
pub struct EmailCards {
    connection: Option<SmtpConnection>,
    /// Where a relative password file is.
    base: PathBuf,
}

fn config_error(message: impl Into<String>) -> CardError {
    CardError::new("config", message).in_system("smtp")
}

fn invalid(message: impl Into<String>) -> CardError {
    CardError::new("invalid_input", message)
}

/// `to` or `cc`: one address or a list of them; each must parse as a mailbox.
fn mailboxes(input: &Json, name: &str) -> Result<Vec<Mailbox>, CardError> {
    let texts: Vec<&str> = match input.get(name) {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::String(one)) => vec![one.as_str()],
        Some(Json::Array(many)) => many
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| invalid(format!("`{name}` holds {v}, not an address")))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(invalid(format!(
                "`{name}` is an address or a list of addresses, not {other}"
            )));
        }
    };
    texts
        .into_iter()
        .map(|text| {
            text.trim()
                .parse::<Mailbox>()
                .map_err(|e| invalid(format!("`{name}`: `{text}` is not an email address: {e}")))
        })
        .collect()
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl EmailCards {
    pub fn new(connection: Option<SmtpConnection>, base: PathBuf) -> Self {
        Self { connection, base }
    }

    pub fn is_configured(&self) -> bool {
        self.connection.is_some()
    }

    /// The message a card's input makes: from the connection's sender, to `to` and `cc`, with `subject` and
    /// a plain-text `body`, and a fresh Message-ID.
    pub fn message(&self, from: &str, input: &Json) -> Result<Message, CardError> {
        let text = |name: &str| {
            input
                .get(name)
                .and_then(Json::as_str)
                .ok_or_else(|| invalid(format!("`{name}` is required text")))
        };
        let to = mailboxes(input, "to")?;
        if to.is_empty() {
            return Err(invalid("`to` names no recipient"));
        }
        let cc = mailboxes(input, "cc")?;
        let from = from.parse::<Mailbox>().map_err(|e| {
            config_error(format!("flows.smtp.from `{from}` is not an address: {e}"))
        })?;
        let mut builder: MessageBuilder = Message::builder()
            .from(from)
            .subject(text("subject")?)
            .header(ContentType::TEXT_PLAIN)
            .message_id(None);
        for mailbox in to {
            builder = builder.to(mailbox);
        }
        for mailbox in cc {
            builder = builder.cc(mailbox);
        }
        builder
            .body(text("body")?.to_string())
            .map_err(|e| invalid(format!("the message cannot be built: {e}")))
    }

    /// Sends the card's message; its output is the message's id and every recipient.
    pub async fn send(&self, input: &Json) -> Result<Json, CardError> {
        let connection = self.connection.as_ref().ok_or_else(|| {
            config_error("no SMTP server is configured: add `flows.smtp` to grantflow.yaml")
        })?;
        let message = self.message(&connection.from, input)?;
        let message_id = message
            .headers()
            .get_raw("Message-ID")
            .unwrap_or_default()
            .to_string();
        let recipients: Vec<String> = message
            .envelope()
            .to()
            .iter()
            .map(ToString::to_string)
            .collect();
        let transport = self.transport(connection)?;
        let host = format!("{}:{}", connection.host, connection.port());
        transport.send(message).await.map_err(|error| {
            // The reply code is the card's code; lettre's text names the code and the server's words, never
            // the credentials.
            let code = error
                .status()
                .map(|code| code.to_string())
                .unwrap_or_else(|| {
                    if error.is_timeout() {
                        "smtp_timeout".into()
                    } else if error.is_tls() {
                        "smtp_tls".into()
                    } else {
                        "smtp_unreachable".into()
                    }
                });
            let failed =
                CardError::new(code, format!("SMTP server {host}: {error}")).in_system("smtp");
            if error.is_permanent() {
                failed
            } else {
                failed.retryable()
            }
        })?;
        Ok(json!({"message_id": message_id, "recipients": recipients}))
    }

    fn transport(
        &self,
        connection: &SmtpConnection,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, CardError> {
        let host = connection.host.trim();
        let tls = match connection.tls {
            SmtpTls::None if !is_loopback(host) => {
                return Err(config_error(format!(
                    "flows.smtp: `tls: none` sends mail (and the password) in the clear; only a server on this machine may be reached so, not {host}"
                )));
            }
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls | SmtpTls::Tls => {
                let parameters = TlsParameters::new(host.to_string())
                    .map_err(|e| config_error(format!("flows.smtp: TLS for {host}: {e}")))?;
                if connection.tls == SmtpTls::Tls {
                    Tls::Wrapper(parameters)
                } else {
                    Tls::Required(parameters)
                }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(connection.port())
            .tls(tls)
            .timeout(Some(Duration::from_secs(
                connection.timeout_seconds.unwrap_or(30).clamp(1, 300),
            )));
        match (&connection.username, &connection.password) {
            (Some(username), Some(password)) => {
                let password = password
                    .read("flows.smtp: password", &self.base)
                    .map_err(|f| config_error(f.message()))?;
                builder = builder.credentials(Credentials::new(
                    username.clone(),
                    password.expose_secret().to_string(),
                ));
            }
            (None, None) => {}
            _ => {
                return Err(config_error(
                    "flows.smtp: give both `username` and `password`, or neither",
                ));
            }
        }
        Ok(builder.build())
    }
}

#[cfg(test)]
mod tests {
    //! What a card's input makes before anything is sent: recipients as one address or a list, refused
    //! addresses named, and no plain-text connection to another machine.

    use super::*;

    fn cards(tls: SmtpTls, host: &str) -> EmailCards {
        EmailCards::new(
            Some(SmtpConnection {
                host: host.into(),
                port: None,
                tls,
                username: None,
                password: None,
                from: "Grantflow <grantflow@example.com>".into(),
                timeout_seconds: None,
            }),
            PathBuf::from("."),
        )
    }

    #[test]
    fn recipients_are_one_address_or_a_list_and_each_must_be_an_address() {
        let email = cards(SmtpTls::None, "127.0.0.1");
        let one = email
            .message(
                "grantflow@example.com",
                &json!({"to": "kim@example.com", "subject": "Hi", "body": "Hello"}),
            )
            .expect("a message");
        assert_eq!(one.envelope().to().len(), 1);
        let many = email
            .message(
                "grantflow@example.com",
                &json!({"to": ["kim@example.com", "lena@example.com"], "cc": "it@example.com", "subject": "Hi", "body": "Hello"}),
            )
            .expect("a message");
        assert_eq!(many.envelope().to().len(), 3, "cc is a recipient too");
        let formatted = String::from_utf8_lossy(&many.formatted()).into_owned();
        assert!(formatted.contains("Cc: it@example.com"), "{formatted}");
        assert!(formatted.contains("Message-ID: <"), "{formatted}");

        let error = email
            .message(
                "grantflow@example.com",
                &json!({"to": ["kim@example.com", "not an address"], "subject": "Hi", "body": "x"}),
            )
            .expect_err("refused");
        assert_eq!(error.code, "invalid_input");
        assert!(error.message.contains("not an address"), "{error}");
        let error = email
            .message(
                "grantflow@example.com",
                &json!({"to": [], "subject": "Hi", "body": "x"}),
            )
            .expect_err("refused");
        assert!(error.message.contains("no recipient"), "{error}");
    }

    #[tokio::test]
    async fn plain_text_smtp_is_refused_to_another_machine_and_nothing_is_sent() {
        let email = cards(SmtpTls::None, "mail.example.com");
        let error = email
            .send(&json!({"to": "kim@example.com", "subject": "Hi", "body": "x"}))
            .await
            .expect_err("refused");
        assert_eq!(error.code, "config");
        assert!(error.message.contains("in the clear"), "{error}");

        let unconfigured = EmailCards::new(None, PathBuf::from("."));
        let error = unconfigured
            .send(&json!({"to": "kim@example.com", "subject": "Hi", "body": "x"}))
            .await
            .expect_err("refused");
        assert!(error.message.contains("flows.smtp"), "{error}");
    }
}
