//! The BambooHR connector: a read-only HRIS source. It syncs every employee, current and former, as an
//! account keyed by BambooHR's employee id and matched to a person by work email, with the HRIS facts
//! (start and end date, status, department, title, manager, location, division) as its attributes; the
//! planner hands them to policies as `person.hris.*` (see [`grantflow_model::HRIS_ATTRIBUTE`]). It grants
//! nothing, so every operation is refused before it is planned.
//!
//! Incremental syncs read the change feed (`GET /api/v1/employees/changed?since=…`) and re-read only the
//! employees it names; BambooHR's signed webhooks ([`webhook`]) wake one through `grantflow serve`.

mod client;
mod config;
mod mapping;
pub mod webhook;

pub use client::{
    API_BUCKET, BamboohrClient, BamboohrDialect, Change, Changes, FIELDS, error_text,
};
pub use config::BamboohrConfig;
pub use mapping::{employee, resolve_managers};
pub use webhook::BamboohrHooks;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use grantflow_model::{ConnectionName, Operation, Snapshot, SystemKind};
use std::collections::BTreeSet;

use crate::{
    Applied, BuildContext, Connector, Description, Failure, HookReceiver, Observed, SyncChanges,
    SyncSink,
};

pub const SYSTEM: &str = "bamboohr";

/// The change feed is asked from this long before a full sync began, so a change made while it ran is
/// read again rather than missed (re-reading an employee is harmless).
const CURSOR_OVERLAP: chrono::Duration = chrono::Duration::minutes(1);

/// The `since` of a change feed read covering everything.
const BEGINNING: &str = "1970-01-01T00:00:00Z";

pub struct BamboohrConnector {
    connection: ConnectionName,
    client: BamboohrClient,
    hooks: Option<BamboohrHooks>,
}

fn iso(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl BamboohrConnector {
    pub fn new(
        connection: ConnectionName,
        config: &BamboohrConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let api_key = context.secret(&connection, "api_key", &config.api_key)?;
        let hooks = config
            .webhook_private_key
            .as_ref()
            .map(|source| context.secret(&connection, "webhook_private_key", source))
            .transpose()?
            .map(|key| BamboohrHooks::new(&key));
        let settings = config.resolved()?;
        let client = BamboohrClient::new(
            SYSTEM,
            BamboohrDialect {
                connection: connection.clone(),
                api_key,
            },
            &settings,
            &connection,
            context,
            None,
        )?;
        Ok(Self {
            connection,
            client,
            hooks,
        })
    }

    fn read_only(&self, op: &Operation) -> Failure {
        Failure::unsupported(format!(
            "{}: the BambooHR connection is read-only (an HRIS source of people and their dates); it cannot {} {} on {}",
            self.connection,
            op.verb(),
            op.entitlement(),
            op.resource().kind
        ))
    }

    /// Every employee id BambooHR lists: the directory (current and former) and whatever the change feed
    /// has ever named and not deleted (the directory may leave out inactive employees).
    async fn employee_ids(&self) -> Result<BTreeSet<String>, Failure> {
        let mut ids: BTreeSet<String> = self
            .client
            .directory()
            .await?
            .iter()
            .filter_map(client::id_of)
            .collect();
        for change in self.client.changed(BEGINNING).await?.changes {
            if change.action.eq_ignore_ascii_case("deleted") {
                ids.remove(&change.id);
            } else {
                ids.insert(change.id);
            }
        }
        Ok(ids)
    }
}

/// Employee ids sort as numbers where they are numbers.
fn by_id(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

#[async_trait]
impl Connector for BamboohrConnector {
    fn describe(&self) -> Description {
        Description {
            system: SystemKind::new(SYSTEM),
            connection: self.connection.clone(),
            base_url: self.client.base().to_string(),
            // Read-only: it grants nothing.
            operations: Vec::new(),
            rate_limit_buckets: vec![API_BUCKET],
            accounts_created_on_first_login: false,
        }
    }

    /// One read of the change feed from now: authenticated and cheap whatever the company's size.
    async fn health(&self) -> Result<(), Failure> {
        self.client
            .changed(&iso(self.client.now()))
            .await
            .map(|_| ())
    }

    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure> {
        let mut ids: Vec<String> = self.employee_ids().await?.into_iter().collect();
        ids.sort_by(|a, b| by_id(a, b));
        let mut accounts = Vec::with_capacity(ids.len());
        for (done, id) in ids.iter().enumerate() {
            if let Some(found) = self.client.employee(id).await? {
                accounts.extend(mapping::employee(&found));
            }
            sink.progress("employees", done as u64 + 1);
        }
        mapping::resolve_managers(&mut accounts);
        for account in accounts {
            sink.account(account);
        }
        Ok(())
    }

    fn check(&self, op: &Operation) -> Result<(), Failure> {
        Err(self.read_only(op))
    }

    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
        Err(self.read_only(op))
    }

    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        Err(self.read_only(op))
    }

    async fn change_cursor(&self) -> Result<Option<String>, Failure> {
        Ok(Some(iso(self.client.now() - CURSOR_OVERLAP)))
    }

    /// Re-reads the employees the change feed names since `cursor`: a deleted or vanished one leaves the
    /// snapshot, the others replace their account.
    async fn sync_changes(
        &self,
        cursor: &str,
        snapshot: &mut Snapshot,
    ) -> Result<SyncChanges, Failure> {
        // A cursor that is not a moment (another system's, or damaged) cannot resume: sync in full.
        if DateTime::parse_from_rfc3339(cursor).is_err()
            && DateTime::parse_from_str(cursor, "%Y-%m-%dT%H:%M:%S%z").is_err()
        {
            return Ok(SyncChanges::CursorExpired {
                message: format!(
                    "{}: the change cursor is not an ISO 8601 moment; syncing in full",
                    self.connection
                ),
            });
        }
        let started = self.client.now();
        let Changes { latest, changes } = self.client.changed(cursor).await?;
        let events = changes.len() as u64;
        for change in changes {
            snapshot.accounts.retain(|a| a.id != change.id);
            if change.action.eq_ignore_ascii_case("deleted") {
                continue;
            }
            if let Some(found) = self.client.employee(&change.id).await?
                && let Some(account) = mapping::employee(&found)
            {
                snapshot.accounts.push(account);
            }
        }
        snapshot.accounts.sort_by(|a, b| by_id(&a.id, &b.id));
        mapping::resolve_managers(&mut snapshot.accounts);
        // BambooHR's `latest` is its own clock; without one, from just before this read.
        let cursor = latest.unwrap_or_else(|| iso(started - CURSOR_OVERLAP));
        Ok(SyncChanges::Applied { cursor, events })
    }

    fn hook_receiver(&self) -> Option<&dyn HookReceiver> {
        self.hooks.as_ref().map(|h| h as &dyn HookReceiver)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_as_numbers() {
        let mut ids = vec!["10", "9", "100", "x"];
        ids.sort_by(|a, b| by_id(a, b));
        assert_eq!(ids, vec!["9", "10", "100", "x"]);
        assert_eq!(
            iso(DateTime::from_timestamp(0, 0).expect("epoch")),
            BEGINNING
        );
    }
}
