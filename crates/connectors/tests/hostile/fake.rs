//! A tiny fake vendor on 127.0.0.1: it answers every request with the reply it is scripted to give (OPA's
//! service-token mint excepted, which always succeeds so the bearer token is what gets tested), and counts
//! the requests it receives and the credential headers they carry.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use std::sync::{Arc, Mutex};

/// Headers that carry a credential in one system or another.
pub const CREDENTIAL_HEADERS: &[&str] = &["authorization", "private-token", "cookie", "x-api-key"];

/// What the fake answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Default for Reply {
    fn default() -> Self {
        Self {
            status: 200,
            headers: vec![],
            body: "{}".into(),
        }
    }
}

#[derive(Default)]
struct Seen {
    requests: usize,
    credentials: Vec<String>,
}

#[derive(Clone, Default)]
struct Shared {
    reply: Arc<Mutex<Reply>>,
    seen: Arc<Mutex<Seen>>,
}

pub struct Fake {
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Fake {
    pub async fn start(reply: Reply) -> Fake {
        let shared = Shared {
            reply: Arc::new(Mutex::new(reply)),
            seen: Arc::default(),
        };
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake { url, shared, task }
    }

    /// How many requests arrived.
    pub fn requests(&self) -> usize {
        self.shared
            .seen
            .lock()
            .map(|s| s.requests)
            .unwrap_or(usize::MAX)
    }

    /// The credential headers that arrived (names only).
    pub fn credentials(&self) -> Vec<String> {
        self.shared
            .seen
            .lock()
            .map(|s| s.credentials.clone())
            .unwrap_or_else(|_| vec!["(lock poisoned)".into()])
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(shared): State<Shared>, request: Request) -> Response {
    if let Ok(mut seen) = shared.seen.lock() {
        seen.requests += 1;
        for name in CREDENTIAL_HEADERS {
            if request.headers().contains_key(*name) {
                seen.credentials.push((*name).to_string());
            }
        }
    }
    if request.method() == Method::POST && request.uri().path().ends_with("/service_token") {
        let body = r#"{"bearer_token":"opa-bearer-token","team_name":"acme","expires_at":"2999-01-01T00:00:00Z"}"#;
        return json(StatusCode::OK, body);
    }
    let reply = shared.reply.lock().map(|r| r.clone()).unwrap_or_default();
    let mut response = json(
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &reply.body,
    );
    for (name, value) in &reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn json(status: StatusCode, body: &str) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
