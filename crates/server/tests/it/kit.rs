//! A running server over the sandbox's Okta, a token per role, and a
//! client that speaks to it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use grantflow_model::Clock;
use grantflow_server::{Running, ServeOptions};
use grantflow_service::config::{NewConnection, new_config};
use grantflow_service::tokens::{self, TokenRequest};
use grantflow_service::{Actor, Role, Service};
use grantflow_store::Store;
use secrecy::ExposeSecret;
use serde_json::Value;

/// The change every plan of these tests asks for.
pub const REQUEST: &str = "assign okta-demo-user@example.com to the Production Access Demo group";
pub const PERSON: &str = "okta-demo-user@example.com";

/// The wall clock, moved forward on demand (to expire tokens).
#[derive(Debug, Default)]
pub struct SkewedClock {
    ahead_ms: AtomicI64,
}

impl SkewedClock {
    pub fn advance(&self, by: Duration) {
        self.ahead_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for SkewedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.ahead_ms.load(Ordering::SeqCst))
    }
}

/// The emulators may read the same clock (`Server::start_sharing_clock`): dates move for both sides.
impl grantflow_sandbox::Clock for SkewedClock {
    fn now(&self) -> DateTime<Utc> {
        Clock::now(self)
    }
}

pub struct Server {
    pub base: String,
    /// Where `/metrics` is served on its own (server.metrics_listen).
    pub metrics_address: Option<std::net::SocketAddr>,
    pub store: Store,
    pub clock: Arc<SkewedClock>,
    /// Token per role name (`admin`, `viewer`, …, `operator:okta`).
    pub tokens: BTreeMap<String, String>,
    pub client: reqwest::Client,
    /// Each sandbox system's admin URL (its `/__sandbox/…` endpoints).
    pub systems: BTreeMap<String, String>,
    /// The configuration the server was opened with, for a restart.
    config: grantflow_service::Config,
    worker: bool,
    running: Option<Running>,
    pub sandbox: grantflow_sandbox::RunningSandbox,
    _dir: tempfile::TempDir,
}

pub const ROLES: [&str; 6] = [
    "admin",
    "approver",
    "requester",
    "auditor",
    "viewer",
    "operator:okta",
];

impl Server {
    /// The sandbox's Okta as the one connection (synced), the demo's
    /// reachability data, and a token per role; `worker` runs queued plans.
    pub async fn start(worker: bool) -> Server {
        Self::start_with(worker, |_, _| {}).await
    }

    /// [`Server::start`] with the configuration changed first (`configure`
    /// gets it and the configuration's folder).
    pub async fn start_with(
        worker: bool,
        configure: impl FnOnce(&mut grantflow_service::Config, &std::path::Path),
    ) -> Server {
        Self::start_systems(worker, &["okta"], configure).await
    }

    /// [`Server::start_with`] over several of the sandbox's systems (each
    /// connection named after its system, each synced).
    pub async fn start_systems(
        worker: bool,
        systems: &[&str],
        configure: impl FnOnce(&mut grantflow_service::Config, &std::path::Path),
    ) -> Server {
        Self::start_in(
            grantflow_sandbox::SandboxOptions::default(),
            worker,
            systems,
            configure,
        )
        .await
    }

    /// [`Server::start_systems`] against a sandbox started with `options`.
    pub async fn start_in(
        options: grantflow_sandbox::SandboxOptions,
        worker: bool,
        systems: &[&str],
        configure: impl FnOnce(&mut grantflow_service::Config, &std::path::Path),
    ) -> Server {
        Self::start_clocked(
            options,
            Arc::new(SkewedClock::default()),
            worker,
            systems,
            configure,
        )
        .await
    }

    /// [`Server::start_systems`] with the emulators on the server's clock: moving it moves dates (a
    /// start or end date passing) on both sides, and signed webhooks stay fresh.
    pub async fn start_sharing_clock(
        worker: bool,
        systems: &[&str],
        configure: impl FnOnce(&mut grantflow_service::Config, &std::path::Path),
    ) -> Server {
        let clock = Arc::new(SkewedClock::default());
        let options = grantflow_sandbox::SandboxOptions {
            clock: Some(clock.clone()),
            ..Default::default()
        };
        Self::start_clocked(options, clock, worker, systems, configure).await
    }

    async fn start_clocked(
        options: grantflow_sandbox::SandboxOptions,
        clock: Arc<SkewedClock>,
        worker: bool,
        systems: &[&str],
        configure: impl FnOnce(&mut grantflow_service::Config, &std::path::Path),
    ) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let sandbox = grantflow_sandbox::start(&grantflow_sandbox::demo_org(), options)
            .await
            .expect("sandbox");
        let mut connections = Vec::new();
        let mut bases = BTreeMap::new();
        for system in systems {
            let info = sandbox.info.systems.get(*system).expect("a sandbox system");
            bases.insert(system.to_string(), info.admin_url.clone());
            connections.push(NewConnection {
                name: system.to_string(),
                kind: system.to_string(),
                base_url: info.base_url.clone(),
                credentials: info
                    .connection_credentials()
                    .into_iter()
                    .map(|(k, v)| (k, v.into()))
                    .collect(),
                ca_certificate: info.ca_certificate.clone(),
                settings: info.settings.clone(),
            });
        }
        grantflow_sandbox::demo_reach::write_files(&dir.path().join("reach")).expect("reach");
        let mut reach: Value =
            serde_saphyr::from_str(grantflow_sandbox::demo_reach::CONFIG).expect("reach config");
        reach["sources"]["root"] = "reach".into();
        let mut extra = serde_json::Map::new();
        extra.insert("reachability".into(), reach);
        let text =
            new_config(&connections, "okta", dir.path(), extra, "API tests").expect("config");
        let path = dir.path().join("grantflow.yaml");
        std::fs::write(&path, text).expect("write config");
        std::fs::create_dir_all(dir.path().join("policies")).expect("policies");
        // A policy that only reports drift, so that a drift check has something to check and changes nothing.
        std::fs::write(
            dir.path().join("policies/payments.yaml"),
            "policies:\n  - name: payments-oncall\n    when: person.department == \"Payments\"\n    grants:\n      - { system: okta, resource: group/Payments Oncall }\n",
        )
        .expect("policy");
        let mut config = grantflow_service::Config::load(&path).expect("load config");
        config.database = format!("sqlite://{}", dir.path().join("grantflow.db").display());
        configure(&mut config, dir.path());
        let service = Service::open_with_clock(config.clone(), clock.clone())
            .await
            .expect("service");
        let store = service.store.clone();
        let setup = Actor::new("test:setup", [Role::Admin]);
        let mut issued = BTreeMap::new();
        for role in ROLES {
            let created = tokens::create(
                &store,
                &setup,
                &TokenRequest {
                    name: role.replace(':', "-"),
                    roles: vec![grantflow_service::access::parse_role(role).expect("role")],
                    // A day: tests move the clock hours ahead (time-bound access, escalations).
                    expires_in: Duration::from_secs(86_400),
                    person: None,
                },
            )
            .await
            .expect("token");
            issued.insert(role.to_string(), created.token.expose_secret().to_string());
        }
        let running = serve(service, worker).await;
        let server = Server {
            base: format!("http://{}", running.address),
            metrics_address: running.metrics_address,
            store,
            clock,
            tokens: issued,
            client: reqwest::Client::new(),
            systems: bases,
            config,
            worker,
            running: Some(running),
            sandbox,
            _dir: dir,
        };
        for system in systems {
            let (status, body) = server
                .call(
                    "admin",
                    "POST",
                    &format!("/api/v1/connections/{system}/sync"),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
        server
    }

    /// Stops the server and starts a new one on the same store, clock and
    /// configuration (a restart of `grantflow serve`).
    pub async fn restart(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("the server stops");
        }
        let service = Service::open_with_clock(self.config.clone(), self.clock.clone())
            .await
            .expect("service");
        self.store = service.store.clone();
        let running = serve(service, self.worker).await;
        self.base = format!("http://{}", running.address);
        self.metrics_address = running.metrics_address;
        self.running = Some(running);
    }

    /// A token with `roles` acting for the person `email`.
    pub async fn person_token(&self, email: &str, roles: &[Role]) -> String {
        let created = tokens::create(
            &self.store,
            &Actor::new("test:setup", [Role::Admin]),
            &TokenRequest {
                name: email.replace(['@', '.'], "-"),
                roles: roles.to_vec(),
                expires_in: Duration::from_secs(86_400),
                person: Some(email.to_string()),
            },
        )
        .await
        .expect("token");
        created.token.expose_secret().to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A call as `role`, with a JSON body when given: (status, body).
    pub async fn call(
        &self,
        role: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let token = self.tokens.get(role).expect("a token for the role").clone();
        self.call_with(Some(&token), method, path, body).await
    }

    pub async fn call_with(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("server answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = response.text().await.expect("body");
        if status >= 400 {
            assert_eq!(
                content_type, "application/problem+json",
                "every refusal is a problem: {status} {text}"
            );
        }
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// A plan asked for by the requester (it waits for an approval).
    pub async fn requested_plan(&self) -> String {
        let (status, body) = self
            .call(
                "requester",
                "POST",
                "/api/v1/plans",
                Some(serde_json::json!({ "request": REQUEST })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("plan id").to_string()
    }

    /// A plan asked for by the requester and approved by the approver.
    pub async fn approved_plan(&self) -> String {
        let id = self.requested_plan().await;
        let (status, body) = self
            .call(
                "approver",
                "POST",
                &format!("/api/v1/plans/{id}/approve"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        id
    }
}

async fn serve(service: Service, worker: bool) -> Running {
    grantflow_server::start(
        service,
        ServeOptions {
            listen: "127.0.0.1:0".into(),
            sync_interval_seconds: 0,
            drift_interval_seconds: 0,
            worker: worker.then(grantflow_service::ApplyOptions::default),
        },
    )
    .await
    .expect("server")
}
