//! The SMTP sink over a real socket, spoken by hand as a client would: mail is accepted only after AUTH with
//! the published account, a message is kept with its envelope, headers and body, and a refusal set through
//! `/__sandbox/reject` is the reply code a client sees at RCPT.

use super::*;
use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
use tower::ServiceExt as _;

fn seed() -> SmtpSeed {
    SmtpSeed {
        from: default_from(),
        username: default_username(),
    }
}

struct Client {
    reader: tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    async fn connect(port: u16) -> (Client, String) {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("the sink listens");
        let (read, writer) = stream.into_split();
        let mut client = Client {
            reader: tokio::io::BufReader::new(read),
            writer,
        };
        let greeting = client.reply().await;
        (client, greeting)
    }

    /// One reply, its continuation lines joined.
    async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).await.expect("a reply");
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    async fn say(&mut self, line: &str) -> String {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
        self.reply().await
    }
}

fn plain(username: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{username}\0{password}"))
}

async fn messages(router: &Router) -> Vec<Value> {
    let response = router
        .clone()
        .oneshot(
            Request::get("/__sandbox/messages")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    body["messages"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_message_is_kept_once_the_client_authenticates() {
    let smtp = Smtp::start(&seed(), EmulatorConfig::default());
    let router = crate::emulator::router(&smtp);
    let (mut client, greeting) = Client::connect(smtp.port).await;
    assert!(greeting.starts_with("220 "), "{greeting}");
    let ehlo = client.say("EHLO client.example.com").await;
    assert!(ehlo.contains("AUTH"), "{ehlo}");
    let refused = client.say("MAIL FROM:<grantflow@example.com>").await;
    // mailin answers 503 (bad sequence: AUTH must come first) where RFC 4954 suggests 530; either refuses.
    assert!(refused.starts_with("5"), "mail before AUTH: {refused}");
    let wrong = client
        .say(&format!("AUTH PLAIN {}", plain("grantflow", "wrong")))
        .await;
    assert!(wrong.starts_with("535"), "{wrong}");
    let ok = client
        .say(&format!(
            "AUTH PLAIN {}",
            plain("grantflow", &smtp.password)
        ))
        .await;
    assert!(ok.starts_with("235"), "{ok}");
    assert!(
        client
            .say("MAIL FROM:<grantflow@example.com>")
            .await
            .starts_with("250")
    );
    assert!(
        client
            .say("RCPT TO:<kim@example.com>")
            .await
            .starts_with("250")
    );
    assert!(client.say("DATA").await.starts_with("354"));
    client
        .writer
        .write_all(
            b"Subject: Your new\r\n laptop\r\nMessage-ID: <m1@example.com>\r\nTo: kim@example.com\r\n\r\nHello Kim,\r\n..it ships today.\r\n.\r\n",
        )
        .await
        .expect("data");
    assert!(client.reply().await.starts_with("250"));
    assert!(client.say("QUIT").await.starts_with("221"));

    let kept = messages(&router).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["from"], "grantflow@example.com");
    assert_eq!(kept[0]["recipients"], json!(["kim@example.com"]));
    assert_eq!(kept[0]["subject"], "Your new laptop");
    assert_eq!(kept[0]["message_id"], "<m1@example.com>");
    assert_eq!(kept[0]["body"], "Hello Kim,\n.it ships today.");
}

#[tokio::test]
async fn a_refused_recipient_gets_the_reply_code_set_for_it() {
    let smtp = Smtp::start(&seed(), EmulatorConfig::default());
    let router = crate::emulator::router(&smtp);
    let response = router
        .clone()
        .oneshot(
            Request::post("/__sandbox/reject")
                .body(Body::from(
                    json!({"recipient": "gone@example.com", "code": 550, "message": "5.1.1 No such user"})
                        .to_string(),
                ))
                .expect("request"),
        )
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let (mut client, _) = Client::connect(smtp.port).await;
    client.say("EHLO client.example.com").await;
    client
        .say(&format!(
            "AUTH PLAIN {}",
            plain("grantflow", &smtp.password)
        ))
        .await;
    client.say("MAIL FROM:<grantflow@example.com>").await;
    let refused = client.say("RCPT TO:<Gone@example.com>").await;
    assert!(refused.starts_with("550 5.1.1 No such user"), "{refused}");
    let accepted = client.say("RCPT TO:<kim@example.com>").await;
    assert!(accepted.starts_with("250"), "{accepted}");

    let bad = router
        .clone()
        .oneshot(
            Request::post("/__sandbox/reject")
                .body(Body::from(json!({"code": 250}).to_string()))
                .expect("request"),
        )
        .await
        .expect("answer");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}
