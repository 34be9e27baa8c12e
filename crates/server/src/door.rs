//! The door: how `grantflow serve` accepts connections. The HTTP API and
//! event hooks face the network, so a client must not be able to hold the
//! server with connections that never finish their headers, bodies that
//! never end, or more connections than it can serve.
//!
//! Written on hyper-util's connection builder rather than `axum::serve`
//! because `axum::serve` offers neither a header-read timeout nor a
//! connection cap, and axum-server's acceptor cannot refuse a connection
//! over the cap before spawning it; everything else (HTTP/1 and HTTP/2,
//! graceful shutdown, TLS) is the crates' own.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// How long and how much a client may take.
#[derive(Debug, Clone)]
pub struct DoorLimits {
    /// From accepting a connection (or the end of the last request on it)
    /// to the end of a request's headers, TLS handshake included.
    pub header_read_timeout: Duration,
    /// For reading a request's whole body.
    pub body_read_timeout: Duration,
    /// Open connections at once; more are closed as they arrive.
    pub max_connections: usize,
    /// How long in-flight requests get to finish at shutdown.
    pub shutdown_grace: Duration,
}

impl Default for DoorLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DoorError {
    #[error("TLS certificate file {path}: {problem}")]
    Certificate { path: PathBuf, problem: String },
    #[error("TLS private key file {path}: {problem}")]
    PrivateKey { path: PathBuf, problem: String },
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// A rustls server configuration from PEM files (a certificate chain and
/// its private key), offering HTTP/2 and HTTP/1.1.
pub fn tls_config(
    certificate_chain: &Path,
    private_key: &Path,
) -> Result<Arc<rustls::ServerConfig>, DoorError> {
    let chain = CertificateDer::pem_file_iter(certificate_chain)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| DoorError::Certificate {
            path: certificate_chain.to_path_buf(),
            problem: error.to_string(),
        })?;
    if chain.is_empty() {
        return Err(DoorError::Certificate {
            path: certificate_chain.to_path_buf(),
            problem: "no PEM certificate in the file".into(),
        });
    }
    // The key's content never appears in an error: only what went wrong.
    let key = PrivateKeyDer::from_pem_file(private_key).map_err(|error| DoorError::PrivateKey {
        path: private_key.to_path_buf(),
        problem: error.to_string(),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` on `listener` until `shutdown` completes, then lets
/// in-flight requests finish for the grace period. Handlers see the peer
/// address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: DoorLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) {
    let app = app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        limits.body_read_timeout,
    ));
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    // Each connection's protocol is known before hyper reads a byte (plain
    // TCP speaks HTTP/1.1, TLS says through ALPN): hyper-util's protocol
    // sniffing waits for bytes with no deadline, before any timeout applies.
    let mut http1 = Builder::new(TokioExecutor::new()).http1_only();
    http1
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut http2 = Builder::new(TokioExecutor::new()).http2_only();
    http2
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit = limits.max_connections, "connection refused: too many open connections");
            drop(stream);
            continue;
        };
        let service = app
            .clone()
            .map_request(move |mut request: axum::extract::Request<_>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let service = TowerToHyperService::new(service);
        let (http1, http2) = (http1.clone(), http2.clone());
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let handshake_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let _held = permit;
            match tls {
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(
                        handshake_timeout,
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let negotiated_h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                    let builder = if negotiated_h2 { http2 } else { http1 };
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(connection.into_owned()).await;
                }
                None => {
                    let connection = http1.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(connection.into_owned()).await;
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests still running after the shutdown grace period");
    }
}

/// The peer of a request served through [`serve`].
pub fn peer(request: &axum::extract::Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer)
}
