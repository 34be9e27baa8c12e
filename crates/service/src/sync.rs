//! Sync: read every connection into a stored snapshot; after a first full
//! sync, read only the changes since the stored cursor where the connector
//! reads a change feed and the cursor is within the feed's retention.

use grantflow_connectors::{Connector, SyncChanges, SyncSink};
use grantflow_model::{
    Account, ConnectionName, Grant, ProfileSchema, Resource, ResourceGrant, Snapshot,
};
use grantflow_store::SyncRecord;

use crate::{Actor, Result, Service, ServiceError};

/// How one connection was synced.
#[derive(Debug, Clone)]
pub struct Synced {
    pub record: SyncRecord,
    /// `Some(events)` for an incremental sync, `None` for a full one.
    pub incremental: Option<u64>,
}

/// Told what a sync is doing, for progress bars and logs.
pub trait SyncReporter: Send + Sync {
    /// `stage` is what is being read ("users", "groups", …); `done` counts
    /// objects read so far in it.
    fn progress(&self, _connection: &ConnectionName, _stage: &str, _done: u64) {}
    fn finished(&self, _connection: &ConnectionName) {}
    /// Something worth telling a person that is not a failure.
    fn note(&self, _connection: &ConnectionName, _message: &str) {}
}

/// A reporter that says nothing.
pub struct Quiet;

impl SyncReporter for Quiet {}

/// The snapshot being read, reporting progress as it goes.
struct Reading<'r> {
    snapshot: Snapshot,
    connection: ConnectionName,
    reporter: &'r dyn SyncReporter,
}

impl SyncSink for Reading<'_> {
    fn account(&mut self, account: Account) {
        SyncSink::account(&mut self.snapshot, account);
    }
    fn resource(&mut self, resource: Resource) {
        SyncSink::resource(&mut self.snapshot, resource);
    }
    fn grant(&mut self, grant: Grant) {
        SyncSink::grant(&mut self.snapshot, grant);
    }
    fn resource_grant(&mut self, grant: ResourceGrant) {
        SyncSink::resource_grant(&mut self.snapshot, grant);
    }
    fn profile_schema(&mut self, schema: ProfileSchema) {
        SyncSink::profile_schema(&mut self.snapshot, schema);
    }
    fn progress(&mut self, stage: &str, done: u64) {
        self.reporter.progress(&self.connection, stage, done);
    }
}

impl Service {
    /// Syncs every connection (or the one named): incrementally where a
    /// cursor and a previous snapshot allow it and `full` is not asked for,
    /// else in full.
    pub async fn sync(
        &self,
        actor: &Actor,
        only: Option<&str>,
        full: bool,
        reporter: &dyn SyncReporter,
    ) -> Result<Vec<Synced>> {
        if let Some(name) = only {
            self.connector(&ConnectionName::new(name))?;
        }
        let mut done = Vec::new();
        for (name, connector) in &self.connectors {
            if only.is_some_and(|only| only != name.as_str()) {
                continue;
            }
            if !actor.may_operate(name.as_str()) {
                return Err(ServiceError::Forbidden(format!(
                    "{actor} may not sync {name}"
                )));
            }
            done.push(
                self.sync_one(actor, name, connector.as_ref(), full, reporter)
                    .await?,
            );
        }
        Ok(done)
    }

    async fn sync_one(
        &self,
        actor: &Actor,
        name: &ConnectionName,
        connector: &dyn Connector,
        full: bool,
        reporter: &dyn SyncReporter,
    ) -> Result<Synced> {
        if !full && let Some(synced) = self.incremental(actor, name, connector, reporter).await? {
            reporter.finished(name);
            return Ok(synced);
        }
        let started = self.now();
        // Taken before reading, so changes made during the full sync are replayed next time.
        let cursor = match connector.change_cursor().await {
            Ok(cursor) => cursor,
            Err(failure) => {
                reporter.note(
                    name,
                    &format!("cannot read the change feed ({failure}); the next sync will be a full one too"),
                );
                None
            }
        };
        let description = connector.describe();
        let mut reading = Reading {
            snapshot: Snapshot::new(name.clone(), description.system.clone()),
            connection: name.clone(),
            reporter,
        };
        let outcome = connector.sync(&mut reading).await;
        reporter.finished(name);
        let mut snapshot = reading.snapshot;
        snapshot.accounts_created_on_first_login = description.accounts_created_on_first_login;
        if let Err(failure) = outcome {
            self.record_failure(actor, name, &failure).await?;
            return Err(sync_refused(format!("sync of {name}"), &failure));
        }
        let record = self
            .store
            .record_sync(&snapshot, started, &actor.id)
            .await?;
        if let Some(cursor) = cursor {
            self.store.set_sync_cursor(name, &cursor).await?;
        }
        Ok(Synced {
            record,
            incremental: None,
        })
    }

    async fn record_failure(
        &self,
        actor: &Actor,
        name: &ConnectionName,
        failure: &grantflow_connectors::Failure,
    ) -> Result<()> {
        self.store
            .audit(
                &actor.id,
                grantflow_store::AuditAction::SyncFailed,
                name.as_str(),
                serde_json::json!({"vendor_code": failure.code(), "message": failure.message()}),
            )
            .await?;
        Ok(())
    }

    /// Applies the changes since the stored cursor to the newest snapshot;
    /// `None` when a full sync is needed instead (no cursor or snapshot, a
    /// cursor older than the feed keeps changes, or no change feed).
    async fn incremental(
        &self,
        actor: &Actor,
        name: &ConnectionName,
        connector: &dyn Connector,
        reporter: &dyn SyncReporter,
    ) -> Result<Option<Synced>> {
        let Some(cursor) = self.store.sync_cursor(name).await? else {
            return Ok(None);
        };
        let previous = self
            .store
            .latest_syncs()
            .await?
            .into_iter()
            .find(|(record, _)| record.connection == name.as_str());
        let Some((_, mut snapshot)) = previous else {
            return Ok(None);
        };
        let age = self.now() - cursor.updated_at;
        if let Some(retention) = connector.change_feed_retention()
            && age.to_std().is_ok_and(|age| age > retention)
        {
            reporter.note(
                name,
                &format!(
                    "the change cursor is {} days old, beyond the change feed's retention of {} days; syncing in full",
                    age.num_days(),
                    retention.as_secs() / 86_400
                ),
            );
            return Ok(None);
        }
        let started = self.now();
        match connector.sync_changes(&cursor.cursor, &mut snapshot).await {
            Ok(SyncChanges::Applied { cursor, events }) => {
                let record = self
                    .store
                    .record_sync(&snapshot, started, &actor.id)
                    .await?;
                self.store.set_sync_cursor(name, &cursor).await?;
                Ok(Some(Synced {
                    record,
                    incremental: Some(events),
                }))
            }
            Ok(SyncChanges::Unsupported) => Ok(None),
            Ok(SyncChanges::CursorExpired { message }) => {
                reporter.note(
                    name,
                    &format!("the change cursor expired ({message}); syncing in full"),
                );
                Ok(None)
            }
            Err(failure) => {
                self.record_failure(actor, name, &failure).await?;
                Err(sync_refused(
                    format!("incremental sync of {name}"),
                    &failure,
                ))
            }
        }
    }
}

/// A failed sync as the caller sees it: `sync_rate_limited` when the vendor's
/// rate limit stopped it (try again after its reset), else `sync_failed`.
fn sync_refused(what: String, failure: &grantflow_connectors::Failure) -> ServiceError {
    let code = match failure {
        grantflow_connectors::Failure::RateLimited { .. } => "sync_rate_limited",
        _ => "sync_failed",
    };
    ServiceError::Refused {
        code,
        message: format!("{what} failed: {failure}"),
    }
}
