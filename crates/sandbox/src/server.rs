//! Serving the emulators on loopback ports, and the info file that tells clients where they are and how to authenticate.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::org::Org;
use crate::systems;

#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// 0 picks an ephemeral port.
    pub okta_port: u16,
    /// Defaults to a random 42-character token starting with `00`, like Okta's.
    pub okta_token: Option<String>,
    /// Length of every emulator's rate-limit window (vendors use 60 s; tests use 1–2 s).
    pub rate_limit_window_seconds: u64,
    /// Clock for every emulator; the wall clock when `None`.
    pub clock: Option<Arc<dyn Clock>>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            okta_port: 0,
            okta_token: None,
            rate_limit_window_seconds: 60,
            clock: None,
        }
    }
}

/// Where one emulated system listens and how to authenticate to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemInfo {
    pub kind: String,
    pub base_url: String,
    pub admin_url: String,
    pub credentials: BTreeMap<String, String>,
}

/// Written to a file for out-of-process clients (conformance suites, the CLI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxInfo {
    pub systems: BTreeMap<String, SystemInfo>,
}

/// The running emulators; dropping it leaves them running until the runtime stops.
#[derive(Debug)]
pub struct RunningSandbox {
    pub info: SandboxInfo,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

/// Starts every emulator in `org` on 127.0.0.1.
pub async fn start(org: &Org, opts: SandboxOptions) -> anyhow::Result<RunningSandbox> {
    org.validate()?;
    let (stop, stopped) = watch::channel(false);
    let mut info = SandboxInfo {
        systems: BTreeMap::new(),
    };
    let mut tasks = Vec::new();
    for sys in systems::build(org, &opts) {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, sys.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{} for {}", sys.port, sys.key))?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        info.systems.insert(
            sys.key.to_owned(),
            SystemInfo {
                kind: sys.kind.to_owned(),
                admin_url: format!("{base_url}/__sandbox"),
                base_url,
                credentials: sys.credentials,
            },
        );
        let mut stopped = stopped.clone();
        let clock: Arc<dyn Clock> = opts
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(crate::clock::SystemClock));
        let service = crate::network_faults::wrap(sys.router, clock)
            .into_make_service_with_connect_info::<SocketAddr>();
        tasks.push(tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        }));
    }
    Ok(RunningSandbox { info, stop, tasks })
}

impl RunningSandbox {
    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Serves until any emulator's server stops (normally never); for `grantflow sandbox`.
    pub async fn wait(self) -> anyhow::Result<()> {
        let _keep = self.stop;
        for t in self.tasks {
            t.await.context("sandbox server task panicked")??;
        }
        Ok(())
    }
}
