//! Durable storage: sync snapshots, plans, one job per operation, and the
//! audit hash chain.
//!
//! Architecture invariant: the store knows no vendor. It stores common-model
//! values (as JSON where they are read whole) and commits every job state
//! change in the same transaction as the audit event that records it, so the
//! audit trail can never disagree with what the engine believes happened.

mod approvals;
mod audit;
mod budgets;
mod cursors;
mod declared;
mod drift;
mod event_cursors;
mod flow_waits;
mod flows;
mod group_commit;
mod jobs;
mod lifecycle;
mod overlay;
mod pages;
mod plans;
mod recent;
mod removals;
mod requests;
#[doc(hidden)]
pub mod testing;
mod tokens;

pub use approvals::{Approval, ApprovalError};
pub use audit::{AuditAction, AuditEvent, ChainAnchor, GENESIS, NewAuditEvent, Verification};
pub use budgets::SharedBudget;
pub use cursors::SyncCursor;
pub use declared::{DeclaredObject, GROUP_PUSH};
pub use drift::{DriftChanges, FindingRecord};
pub use flow_waits::FlowEventWait;
pub use flows::{
    FlowRunRecord, FlowRunState, FlowStepRecord, FlowStepState, NewFlowRun, RunStart, StepWrite,
};
pub use jobs::{BY_GRANTFLOW, Job, JobOutcome, JobState, Lease};
pub use lifecycle::{LifecycleChange, LifecycleState};
pub use overlay::StateVersion;
pub use pages::{OpenFinding, PlanSummary, SyncSummary};
pub use plans::StoredPlan;
pub use removals::BudgetExceeded;
pub use requests::{RequestChange, RequestFilter, RequestRecord, ReviewRecord};
pub use tokens::{NewToken, TokenRecord};

use chrono::{DateTime, SecondsFormat, Utc};
use grantflow_model::{Clock, Snapshot};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, Row, Transaction};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {url}: {source}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot migrate the store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("stored data is not valid JSON ({what}): {source}")]
    Corrupt {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("unsupported database URL \"{0}\": use sqlite://PATH or postgres://USER@HOST/DATABASE")]
    Unsupported(String),
    #[error("no plan with id \"{0}\"")]
    UnknownPlan(String),
    /// A worker's lease on a job was taken over (it ran out, and another
    /// worker claimed the job): the first worker's change is refused.
    #[error("the lease of {owner} on job {job} was taken over; its result was not recorded")]
    LeaseLost { job: String, owner: String },
    /// Verifying the audit chain stopped before it could answer (a hashing task failed).
    #[error("audit verification stopped: {0}")]
    Verification(String),
    /// A row holds a value no version of grantflow writes.
    #[error("corrupt row in {table} ({key}): {problem}")]
    CorruptRow {
        table: &'static str,
        key: String,
        problem: String,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A completed sync of one connection.
#[derive(Debug, Clone)]
pub struct SyncRecord {
    pub id: String,
    pub connection: String,
    pub system: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub digest: String,
    pub accounts: i64,
    pub resources: i64,
    pub grants: i64,
}

/// Which database is behind the store. Queries are shared; the few places
/// that differ (locking, leasing) ask this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Read-only SQLite connections beside the writer: enough for the server's concurrent readers on a small
/// machine; each is a file handle and a page cache.
const SQLITE_READERS: u32 = 4;

/// PostgreSQL connections for reads per process: a server's readers each make a few short queries
/// (token, fingerprint, a page), so they need more connections than its writers.
const POSTGRES_READERS: u32 = 16;

/// The store talks to SQLite and PostgreSQL through sqlx's `Any` driver:
/// every column is TEXT or a 64-bit integer (timestamps are RFC 3339 text
/// plus epoch-millisecond integers, JSON is text), which is exactly what
/// `Any` carries, so one set of queries serves both databases.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Read-only queries go here: on SQLite, a few read-only connections beside the one writer, so that
    /// readers (WAL: each sees the last commit) never queue behind a write; on PostgreSQL, a pool of its
    /// own beside the writers' (each read sees what was committed before it began).
    reader: AnyPool,
    backend: Backend,
    /// The SQLite database's file (none on PostgreSQL or in memory): the audit chain's verification
    /// reads it on threads of its own.
    sqlite_file: Option<Arc<std::path::Path>>,
    clock: Arc<dyn Clock>,
    recent: Arc<recent::Recent>,
    /// Flow runs' writes made at the same moment share a commit (see `group_commit`).
    group_commit: Arc<group_commit::GroupCommit>,
}

/// Timestamps are written with a fixed number of fractional digits so that
/// the text that is hashed into the audit chain is reproducible.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `url`:
    /// `sqlite://PATH` or `postgres://…`.
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let open_error = |source| StoreError::Open {
            url: redact_url(url),
            source,
        };
        let mut sqlite_file = None;
        let (backend, pool, reader) = if let Some(path) = url.strip_prefix("sqlite://") {
            let url = if path.contains('?') {
                url.to_string()
            } else {
                format!("{url}?mode=rwc")
            };
            // One connection: SQLite has one writer anyway, and serialising
            // here avoids SQLITE_BUSY on read-to-write lock upgrades.
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .after_connect(|connection, _| {
                    Box::pin(async move {
                        sqlx::raw_sql(
                            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON;",
                        )
                        .execute(connection)
                        .await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await
                .map_err(open_error)?;
            let reader = AnyPoolOptions::new()
                .max_connections(SQLITE_READERS)
                .after_connect(|connection, _| {
                    Box::pin(async move {
                        sqlx::raw_sql("PRAGMA busy_timeout = 30000; PRAGMA query_only = ON;")
                            .execute(connection)
                            .await?;
                        Ok(())
                    })
                })
                .connect_lazy(&url)
                .map_err(open_error)?;
            // An in-memory database exists once per connection: its readers must be its writer.
            let in_memory = path.contains(":memory:") || path.contains("mode=memory");
            if !in_memory {
                let file = path.split('?').next().unwrap_or(path);
                sqlite_file = Some(Arc::from(std::path::Path::new(file)));
            }
            (Backend::Sqlite, pool, (!in_memory).then_some(reader))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = AnyPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(open_error)?;
            // Readers get their own connections, so that a burst of writes (each holding a connection
            // for its transaction) never makes a read wait for one.
            let reader = AnyPoolOptions::new()
                .max_connections(POSTGRES_READERS)
                .acquire_timeout(Duration::from_secs(10))
                .connect_lazy(url)
                .map_err(open_error)?;
            (Backend::Postgres, pool, Some(reader))
        } else {
            return Err(StoreError::Unsupported(redact_url(url)));
        };
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Store {
            reader: reader.unwrap_or_else(|| pool.clone()),
            pool,
            backend,
            sqlite_file,
            clock,
            recent: Arc::default(),
            group_commit: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Stores a completed sync and its audit event; returns its record.
    pub async fn record_sync(
        &self,
        snapshot: &Snapshot,
        started_at: DateTime<Utc>,
        actor: &str,
    ) -> Result<SyncRecord> {
        let finished_at = self.clock.now();
        let connection = snapshot
            .connection
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let system = snapshot
            .system
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        // The digest and the stored body are each a pass over the whole snapshot (~100 MB of
        // JSON at a million grants): on two cores they take the time of one.
        let (digest, body) = std::thread::scope(|scope| {
            let digest = scope.spawn(|| snapshot.digest());
            let body = serde_json::to_string(snapshot);
            (digest.join(), body)
        });
        let digest = digest.unwrap_or_else(|_| snapshot.digest());
        let body = body.map_err(|source| StoreError::Corrupt {
            what: "snapshot".into(),
            source,
        })?;
        let record = SyncRecord {
            id: format!("s-{}", uuid::Uuid::now_v7().simple()),
            connection: connection.clone(),
            system,
            started_at,
            finished_at,
            digest,
            accounts: snapshot.accounts.len() as i64,
            resources: snapshot.resources.len() as i64,
            grants: snapshot.grants.len() as i64,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO syncs (id, connection, system, started_at, finished_at, finished_ms, digest, accounts, resources, grants, snapshot)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&record.id)
        .bind(&record.connection)
        .bind(&record.system)
        .bind(timestamp(started_at))
        .bind(timestamp(finished_at))
        .bind(finished_at.timestamp_millis())
        .bind(&record.digest)
        .bind(record.accounts)
        .bind(record.resources)
        .bind(record.grants)
        .bind(body)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            self.backend,
            self.clock.now(),
            actor,
            AuditAction::SyncCompleted,
            &connection,
            serde_json::json!({
                "sync_id": record.id,
                "system": record.system,
                "digest": record.digest,
                "accounts": record.accounts,
                "resources": record.resources,
                "grants": record.grants,
            }),
        )
        .await?;
        tx.commit().await?;
        self.recent.state_written();
        Ok(record)
    }

    /// The newest sync of every connection.
    pub async fn latest_syncs(&self) -> Result<Vec<(SyncRecord, Snapshot)>> {
        let rows = sqlx::query(
            "SELECT s.* FROM syncs s
             WHERE s.finished_ms = (SELECT MAX(finished_ms) FROM syncs t WHERE t.connection = s.connection)
             ORDER BY s.connection",
        )
        .fetch_all(&self.reader)
        .await?;
        let mut out = Vec::new();
        for row in rows {
            let body: String = row.try_get("snapshot")?;
            let snapshot: Snapshot =
                serde_json::from_str(&body).map_err(|source| StoreError::Corrupt {
                    what: "snapshot".into(),
                    source,
                })?;
            let started: String = row.try_get("started_at")?;
            let finished: String = row.try_get("finished_at")?;
            out.push((
                SyncRecord {
                    id: row.try_get("id")?,
                    connection: row.try_get("connection")?,
                    system: row.try_get("system")?,
                    started_at: parse_time(&started),
                    finished_at: parse_time(&finished),
                    digest: row.try_get("digest")?,
                    accounts: row.try_get("accounts")?,
                    resources: row.try_get("resources")?,
                    grants: row.try_get("grants")?,
                },
                snapshot,
            ));
        }
        Ok(out)
    }

    /// Appends one audit event on its own (a confirmation, an export, …).
    pub async fn audit(
        &self,
        actor: &str,
        action: AuditAction,
        subject: &str,
        details: serde_json::Value,
    ) -> Result<AuditEvent> {
        let mut tx = self.pool.begin().await?;
        let event = audit::append(
            &mut tx,
            self.backend,
            self.clock.now(),
            actor,
            action,
            subject,
            details,
        )
        .await?;
        tx.commit().await?;
        Ok(event)
    }

    /// Appends events in one transaction, in order: the chain's head is read once and moved once,
    /// and the events are written with multi-row INSERTs, so a batch lands whole or not at all.
    pub async fn audit_batch(&self, events: Vec<NewAuditEvent>) -> Result<Vec<AuditEvent>> {
        let mut tx = self.pool.begin().await?;
        let mut appender = audit::Appender::open(&mut tx, self.backend).await?;
        let now = self.clock.now();
        for event in events {
            appender.push(
                now,
                &event.actor,
                event.action,
                &event.subject,
                event.details,
            );
        }
        let written = appender.write(&mut tx).await?;
        tx.commit().await?;
        Ok(written)
    }

    pub async fn audit_events(&self) -> Result<Vec<AuditEvent>> {
        audit::all(&self.reader).await
    }

    /// Checks the hash chain from the first event to the recorded head.
    pub async fn verify_audit(&self) -> Result<Verification> {
        audit::verify(self.chain_source(), &[]).await
    }

    /// Checks the chain, then that it still passes through every anchor
    /// (signed checkpoints kept outside the database): a database writer who
    /// edits an event and recomputes every later hash and the head is caught
    /// here.
    pub async fn verify_audit_against(&self, anchors: &[ChainAnchor]) -> Result<Verification> {
        audit::verify(self.chain_source(), anchors).await
    }

    /// Checks only the events after `from` (the newest anchor) up to the
    /// head, and returns the head (`Intact.events` is its sequence number):
    /// what to anchor next, without re-reading the whole chain.
    pub async fn verify_audit_since(&self, from: Option<&ChainAnchor>) -> Result<Verification> {
        audit::verify_since(self.chain_source(), from).await
    }

    fn chain_source(&self) -> audit::ChainSource<'_> {
        audit::ChainSource {
            pool: &self.reader,
            backend: self.backend,
            sqlite_file: self.sqlite_file.as_deref(),
        }
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>> {
        Ok(self.pool.begin().await?)
    }

    /// Direct access for tests that tamper with the database on purpose.
    #[doc(hidden)]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool for read-only queries (see [`Store::reader`]'s field).
    pub(crate) fn reader(&self) -> &AnyPool {
        &self.reader
    }
}

/// A database URL without its password, for error messages.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

pub(crate) fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
