//! Shared helpers: an in-process sandbox with a known token, and small HTTP/assertion helpers.

pub use std::sync::Arc;

pub use grantflow_sandbox::{
    ManualClock, OktaConfig, RunningSandbox, SandboxOptions, demo_org, okta_router, start,
};
pub use reqwest::{Client, Method, StatusCode};
pub use serde_json::{Value, json};

pub const TOKEN: &str = "00test-token-for-the-okta-emulator-0000000";

pub struct Env {
    pub sb: RunningSandbox,
    pub http: Client,
    pub base: String,
}

pub async fn env() -> Env {
    let sb = start(
        &demo_org(),
        SandboxOptions {
            okta_token: Some(TOKEN.into()),
            rate_limit_window_seconds: 1,
            ..SandboxOptions::default()
        },
    )
    .await
    .unwrap();
    let base = sb.info.systems["okta"].base_url.clone();
    Env {
        sb,
        http: Client::new(),
        base,
    }
}

/// The sandbox for `org` on a clock the test moves, and that clock.
pub async fn env_on_clock(org: &grantflow_sandbox::Org) -> (Env, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let sb = start(
        org,
        SandboxOptions {
            okta_token: Some(TOKEN.into()),
            clock: Some(clock.clone() as Arc<dyn grantflow_sandbox::Clock>),
            ..SandboxOptions::default()
        },
    )
    .await
    .unwrap();
    let base = sb.info.systems["okta"].base_url.clone();
    let env = Env {
        sb,
        http: Client::new(),
        base,
    };
    (env, clock)
}

impl Env {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = self
            .http
            .request(method, url)
            .header("Authorization", format!("SSWS {TOKEN}"))
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, headers, v)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, v) = self.call(Method::POST, path, Some(body)).await;
        (s, v)
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}/__sandbox{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let text = req.send().await.unwrap().text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn user_id(&self, login: &str) -> String {
        let (s, _, v) = self
            .get(&format!("/api/v1/users/{}", login.replace('@', "%40")))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    pub async fn group_id(&self, name: &str) -> String {
        let (_, _, v) = self
            .get(&format!("/api/v1/groups?q={}", name.replace(' ', "%20")))
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .find(|g| g["profile"]["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn app_id(&self, label: &str) -> String {
        let (_, _, v) = self.get("/api/v1/apps?limit=200").await;
        v.as_array()
            .unwrap()
            .iter()
            .find(|a| a["label"] == label)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

pub fn code(v: &Value) -> &str {
    v["errorCode"].as_str().unwrap_or("<none>")
}

pub fn next_link(h: &reqwest::header::HeaderMap) -> Option<String> {
    h.get_all("link").iter().find_map(|v| {
        let s = v.to_str().ok()?;
        let end = s.find('>')?;
        s.ends_with("rel=\"next\"").then(|| s[1..end].to_owned())
    })
}
