//! Connection health: for each connection, whether the system answers,
//! whether it takes the credentials, and whether they carry the scopes the
//! connector needs (where the vendor says), with the vendor's own code when
//! something fails. `grantflow check` renders the report; `serve` prints it
//! at start.

use crate::Service;
use grantflow_connectors::{Connector, Failure};
use grantflow_model::{ConnectionName, SystemKind};
use serde::Serialize;
use std::time::{Duration, Instant};

/// The outcome of one aspect of a connection's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Passed,
    Failed,
    /// The check did not get far enough to tell (the system did not answer,
    /// or refused before saying whether the credentials are good).
    Unknown,
}

/// What the system said when the check failed, in its own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthFailure {
    /// How grantflow classifies it (`unauthorized`, `retry_later`, …).
    pub kind: &'static str,
    /// The vendor's code (`E0000011`, `invalid_auth`, …), or the kind when the vendor gave none.
    pub code: String,
    pub message: String,
    /// The scope the vendor says the credentials lack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_scope: Option<String>,
}

/// One connection's health.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionHealth {
    pub connection: ConnectionName,
    pub system: SystemKind,
    pub base_url: String,
    /// The system answered.
    pub reachable: Check,
    /// The system took the credentials (the check is an authenticated call).
    pub authenticated: Check,
    /// The credentials carry what the check's call needs.
    pub scopes: Check,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<HealthFailure>,
    pub elapsed_ms: u64,
}

impl ConnectionHealth {
    pub fn healthy(&self) -> bool {
        self.failure.is_none()
    }

    /// Classifies the answer of [`Connector::health`].
    fn from_outcome(
        connector: &dyn Connector,
        outcome: Result<(), Failure>,
        elapsed: Duration,
    ) -> Self {
        let description = connector.describe();
        use Check::{Failed, Passed, Unknown};
        let (reachable, authenticated, scopes) = match &outcome {
            Ok(()) => (Passed, Passed, Passed),
            Err(Failure::Unauthorized { .. }) => (Passed, Failed, Unknown),
            Err(Failure::InsufficientScope { .. }) => (Passed, Passed, Failed),
            // Refused for a reason other than the credentials (an unknown org, a
            // forbidden listing): the system answered; what it thinks of the
            // credentials is not known.
            Err(Failure::Permanent { .. }) | Err(Failure::RateLimited { .. }) => {
                (Passed, Unknown, Unknown)
            }
            // No usable answer: the connection failed, timed out or the
            // system is failing.
            Err(Failure::RetryLater { .. }) | Err(Failure::Waiting { .. }) => {
                (Failed, Unknown, Unknown)
            }
            // Nothing was sent.
            Err(Failure::Config { .. }) => (Unknown, Unknown, Unknown),
        };
        let failure = outcome.err().map(|failure| HealthFailure {
            kind: failure.kind(),
            code: failure.code(),
            message: failure.message(),
            missing_scope: match &failure {
                Failure::InsufficientScope { scope, .. } => Some(scope.clone()),
                _ => None,
            },
        });
        ConnectionHealth {
            connection: description.connection,
            system: description.system,
            base_url: description.base_url,
            reachable,
            authenticated,
            scopes,
            failure,
            elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Every connection's health, in connection-name order.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub connections: Vec<ConnectionHealth>,
}

impl HealthReport {
    /// Whether every connection passed.
    pub fn healthy(&self) -> bool {
        self.connections.iter().all(ConnectionHealth::healthy)
    }

    pub fn failing(&self) -> impl Iterator<Item = &ConnectionHealth> {
        self.connections.iter().filter(|c| !c.healthy())
    }
}

impl Service {
    /// Checks every connection at once with its connector's cheap
    /// authenticated call. A failing connection is reported, never an error:
    /// the report says which one and what the system answered.
    pub async fn check_health(&self) -> HealthReport {
        let checks = self.connectors.values().map(|connector| async move {
            let started = Instant::now();
            let outcome = connector.health().await;
            ConnectionHealth::from_outcome(connector.as_ref(), outcome, started.elapsed())
        });
        HealthReport {
            connections: futures::future::join_all(checks).await,
        }
    }
}
