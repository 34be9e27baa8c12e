//! Serving the emulators on loopback ports, and the info file that tells clients where they are and how to authenticate.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::emulator::{EmulatorConfig, bounds};
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
    /// How long access tokens minted by the Google and Salesforce token endpoints live (an hour; tests
    /// shorten it, or change it later through `/__sandbox/tokens`).
    pub token_lifetime_seconds: u64,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            okta_port: 0,
            okta_token: None,
            rate_limit_window_seconds: 60,
            clock: None,
            token_lifetime_seconds: crate::emulator::tokens::DEFAULT_LIFETIME_SECONDS,
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
    /// Non-secret connection settings a client needs besides the base URL (see `Emulator::settings`).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// For a system served over HTTPS: the PEM file of the CA its certificate is signed by, for clients to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<std::path::PathBuf>,
}

impl SystemInfo {
    /// The credentials a grantflow connection to this system is written with: all of them, except the fixed
    /// `token` of a system that also publishes a key its connector mints renewable tokens with (Google's
    /// `service_account_key`, Salesforce's `private_key`). That is how a long-running deployment is set up;
    /// the fixed token stays in the info for clients that take only one (the vendors' SDKs in conformance
    /// suites), and a connection takes one or the other.
    pub fn connection_credentials(&self) -> BTreeMap<String, String> {
        let mints = ["service_account_key", "private_key"]
            .iter()
            .any(|key| self.credentials.contains_key(*key));
        self.credentials
            .iter()
            .filter(|(key, _)| !(mints && key.as_str() == "token"))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }

    /// An HTTP client for this system's API and admin endpoint; it trusts the sandbox's CA when the system is
    /// served over HTTPS.
    pub fn http_client(&self) -> anyhow::Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder();
        if let Some(path) = &self.ca_certificate {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            builder = builder.tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem)?);
        }
        Ok(builder.build()?)
    }
}

/// Written to a file for out-of-process clients (conformance suites, the CLI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxInfo {
    pub systems: BTreeMap<String, SystemInfo>,
    /// Services flows call through the custom HTTP card (the 1Password Connect emulator, key `vault`): not
    /// connector systems, so apart from `systems`, which become grantflow connections.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceInfo>,
}

/// Where a service listens and how to authenticate to it: the same fields as a system's.
pub type ServiceInfo = SystemInfo;

/// The running emulators; dropping it leaves them running until the runtime stops.
#[derive(Debug)]
pub struct RunningSandbox {
    pub info: SandboxInfo,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
    /// Holds the CA certificate that HTTPS systems' `ca_certificate` names, while the sandbox runs.
    _tls_dir: Option<tempfile::TempDir>,
}

/// Starts every emulator in `org` on 127.0.0.1.
pub async fn start(org: &Org, opts: SandboxOptions) -> anyhow::Result<RunningSandbox> {
    org.validate()?;
    if !(1..=bounds::WINDOW_SECONDS).contains(&opts.rate_limit_window_seconds) {
        anyhow::bail!(
            "rate_limit_window_seconds must be from 1 to {}, not {}",
            bounds::WINDOW_SECONDS,
            opts.rate_limit_window_seconds
        );
    }
    let clock: Arc<dyn Clock> = opts
        .clock
        .clone()
        .unwrap_or_else(|| Arc::new(crate::clock::SystemClock));
    let config = EmulatorConfig {
        token: None,
        clock: clock.clone(),
        rate_limit_window_seconds: opts.rate_limit_window_seconds,
        token_lifetime_seconds: opts.token_lifetime_seconds,
    };
    let (stop, stopped) = watch::channel(false);
    let mut info = SandboxInfo {
        systems: BTreeMap::new(),
        services: BTreeMap::new(),
    };
    let mut tasks = Vec::new();
    // One CA for every HTTPS system of this sandbox, made only when one is configured.
    let mut tls: Option<(
        crate::tls::TlsIdentity,
        tempfile::TempDir,
        std::path::PathBuf,
    )> = None;
    for sys in systems::build(org, &config, opts.okta_token.clone(), opts.okta_port) {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, sys.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{} for {}", sys.port, sys.kind))?;
        let addr = listener.local_addr()?;
        let https = sys.https;
        if https && tls.is_none() {
            let identity = crate::tls::identity()?;
            let dir = tempfile::Builder::new()
                .prefix("grantflow-sandbox-tls")
                .tempdir()?;
            let pem = dir.path().join("sandbox-ca.pem");
            std::fs::write(&pem, &identity.ca_pem)
                .with_context(|| format!("writing {}", pem.display()))?;
            tls = Some((identity, dir, pem));
        }
        let base_url = format!("{}://{addr}", if https { "https" } else { "http" });
        let published = (sys.published)(&base_url);
        let listing = if sys.service {
            &mut info.services
        } else {
            &mut info.systems
        };
        listing.insert(
            sys.kind.to_owned(),
            SystemInfo {
                kind: sys.kind.to_owned(),
                admin_url: format!("{base_url}/__sandbox"),
                base_url,
                credentials: published.credentials,
                settings: published.settings,
                ca_certificate: tls
                    .as_ref()
                    .filter(|_| https)
                    .map(|(_, _, pem)| pem.clone()),
            },
        );
        let mut stopped = stopped.clone();
        let service = crate::network_faults::wrap(sys.router, clock.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        if let Some((identity, _, _)) = tls.as_ref().filter(|_| https) {
            let config =
                axum_server::tls_rustls::RustlsConfig::from_config(identity.config.clone());
            let handle = axum_server::Handle::new();
            let server =
                axum_server::from_tcp_rustls(listener.into_std()?, config)?.handle(handle.clone());
            tokio::spawn(async move {
                let _ = stopped.wait_for(|s| *s).await;
                handle.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
            });
            tasks.push(tokio::spawn(server.serve(service)));
            continue;
        }
        tasks.push(tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        }));
    }
    Ok(RunningSandbox {
        info,
        stop,
        tasks,
        _tls_dir: tls.map(|(_, dir, _)| dir),
    })
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
