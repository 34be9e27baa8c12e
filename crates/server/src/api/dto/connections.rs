//! Connections, their last sync and their rate-limit budgets.

use serde::Serialize;
use utoipa::ToSchema;

/// A connection and its last sync.
#[derive(Debug, Serialize, ToSchema)]
pub struct Connection {
    pub name: String,
    pub system: String,
    /// `synced`, `failing` (the newest attempt failed) or `never_synced`.
    pub status: String,
    pub last_sync: Option<LastSync>,
    pub last_failure: Option<SyncFailure>,
    /// Each rate-limit bucket the server has heard of, in bucket order (empty before the first call).
    pub rate_limits: Vec<RateBudget>,
}

/// One rate-limit bucket of a connection: what the vendor's last answer announced, or for a budget the
/// vendor documents but does not announce (Slack's tiers, GitHub's secondary limit), what was counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateBudget {
    /// The vendor's bucket (Okta: `users`, `groups`, `apps`…; Slack: a method tier).
    pub bucket: String,
    /// Calls a window; absent when no answer announced one.
    pub limit: Option<u64>,
    /// Calls left in this window; the whole limit once the window has ended.
    pub remaining: Option<u64>,
    /// When this window ends; absent once it has ended.
    pub reset: Option<chrono::DateTime<chrono::Utc>>,
    /// Calls of each window left for the tenant's other users (`rate_limits.reserve_share`).
    pub reserved: u64,
    /// Calls sent and not answered yet.
    pub in_flight: u64,
    /// A 429 said to send nothing to this bucket before then.
    pub held_until: Option<chrono::DateTime<chrono::Utc>>,
    /// The limit is the vendor's documented one, counted by grantflow rather than announced.
    pub documented: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LastSync {
    pub id: String,
    pub finished_at: chrono::DateTime<chrono::Utc>,
    pub accounts: i64,
    pub resources: i64,
    pub grants: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncFailure {
    pub at: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Connections {
    pub items: Vec<Connection>,
}

impl From<grantflow_service::views::ConnectionStatus> for Connection {
    fn from(c: grantflow_service::views::ConnectionStatus) -> Self {
        Self {
            name: c.name,
            system: c.system,
            status: c.status,
            last_sync: c.last_sync.map(|s| LastSync {
                id: s.id,
                finished_at: s.finished_at,
                accounts: s.accounts,
                resources: s.resources,
                grants: s.grants,
            }),
            last_failure: c.last_failure.map(|f| SyncFailure {
                at: f.at,
                message: f.message,
            }),
            rate_limits: c
                .rate_limits
                .into_iter()
                .map(|b| RateBudget {
                    bucket: b.bucket,
                    limit: b.limit,
                    remaining: b.remaining,
                    reset: b.reset,
                    reserved: b.reserved,
                    in_flight: b.in_flight,
                    held_until: b.held_until,
                    documented: b.documented,
                })
                .collect(),
        }
    }
}
