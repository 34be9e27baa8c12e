//! The door under hostile clients: stalled headers and bodies, too many
//! connections, idle keep-alives; and TLS from PEM files.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use grantflow_server::door::{DoorLimits, serve, tls_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start(
    limits: DoorLimits,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let app = Router::new().route("/", get(|| async { "hello" })).route(
        "/echo",
        post(|body: Bytes| async move { body.len().to_string() }),
    );
    tokio::spawn(serve(listener, app, limits, tls, std::future::pending()));
    address
}

/// Whether the server closed the connection (a read ends) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 answer before closing is fine too; keep reading to the end.
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn connections_that_never_finish_their_headers_are_closed() {
    let limits = DoorLimits {
        header_read_timeout: Duration::from_secs(1),
        max_connections: 100,
        ..DoorLimits::default()
    };
    let address = start(limits, None).await;
    let mut slow = Vec::new();
    for n in 0..300 {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        if n % 2 == 0 {
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .expect("partial headers");
        }
        slow.push(stream);
    }
    let started = Instant::now();
    for (n, stream) in slow.iter_mut().enumerate() {
        assert!(
            closed_within(stream, Duration::from_secs(5)).await,
            "connection {n} stayed open {:?} after its headers stalled",
            started.elapsed()
        );
    }
    let answer = reqwest::get(format!("http://{address}/"))
        .await
        .expect("a real client is served once the stalled ones are gone");
    assert_eq!(answer.text().await.expect("body"), "hello");
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_at_once_and_served_again_later() {
    let limits = DoorLimits {
        header_read_timeout: Duration::from_secs(30),
        max_connections: 10,
        ..DoorLimits::default()
    };
    let address = start(limits, None).await;
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(TcpStream::connect(address).await.expect("connect"));
    }
    // Give the server time to count the ten.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = TcpStream::connect(address).await.expect("connect");
    assert!(closed_within(&mut over, Duration::from_secs(2)).await);
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answer = reqwest::get(format!("http://{address}/"))
        .await
        .expect("served");
    assert!(answer.status().is_success());
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408() {
    let limits = DoorLimits {
        body_read_timeout: Duration::from_secs(1),
        ..DoorLimits::default()
    };
    let address = start(limits, None).await;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
        .await
        .expect("partial body");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    // The body extractor answers (axum says 400 with the reason) instead of waiting.
    assert!(
        answer.starts_with("HTTP/1.1 408") || answer.contains("not received within"),
        "{answer}"
    );
}

#[tokio::test]
async fn tls_is_served_from_pem_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).expect("write cert");
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).expect("write key");
    let config = tls_config(&cert_path, &key_path).expect("tls config");
    let address = start(DoorLimits::default(), Some(config)).await;
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("root"),
        )
        .resolve("localhost", address)
        .build()
        .expect("client");
    let answer = client
        .get(format!("https://localhost:{}/", address.port()))
        .send()
        .await
        .expect("https");
    assert_eq!(answer.text().await.expect("body"), "hello");
    // A key file that is not a key is refused with its path, and nothing of its content.
    std::fs::write(&key_path, "not a key: s3cr3t").expect("write");
    let error = tls_config(&cert_path, &key_path)
        .expect_err("bad key")
        .to_string();
    assert!(
        error.contains("key.pem") && !error.contains("s3cr3t"),
        "{error}"
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    let limits = DoorLimits {
        header_read_timeout: Duration::from_secs(1),
        ..DoorLimits::default()
    };
    let address = start(limits, None).await;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request");
    let mut buffer = [0u8; 512];
    let read = stream.read(&mut buffer).await.expect("answer");
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
    assert!(closed_within(&mut stream, Duration::from_secs(4)).await);
}
