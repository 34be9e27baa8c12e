//! The planner: desired access (policies, requests) against actual access
//! (the last sync) gives an ordered set of operations with dependencies.
//!
//! Architecture invariant: no IO. The planner reads snapshots and policies
//! that were loaded elsewhere and returns a plan draft; storing it, giving
//! it an id and executing it are other crates' business.

mod accounts;
mod build;
mod correlate;
mod declared;
mod desired;
mod diff;
mod index;
mod leavers;
mod lifecycle;
mod order;
mod people;
mod profile;
mod request;
mod review;

pub use correlate::{Ambiguity, Correlated, Correlation, MatchField, correlate};
pub use desired::{
    Desired, GrantKey, desired_access, directory_people, policy_reasons, with_declared,
};
pub use diff::{plan_changes, plan_grants, plan_policies, plan_request, requested_grants};
pub use index::SnapshotIndex;
pub use lifecycle::{DueChange, LifecyclePlan, LifecycleStep, plan_lifecycle};
pub use people::{AccountChanges, ChangesFor, GroupKind, by_person};
pub use profile::plan_profiles;
pub use review::preconditions;

pub use request::{Action, ChangeRequest, RequestError, parse_request, requested_grant};

use grantflow_model::{ConnectionName, Resource, ResourceRef, Snapshot};
use std::collections::BTreeMap;

/// The synced state planning starts from: one snapshot (and its sync id)
/// per connection, and which connection is the directory of people.
#[derive(Clone)]
pub struct ActualState {
    pub directory: ConnectionName,
    pub snapshots: BTreeMap<ConnectionName, Snapshot>,
    pub sync_ids: BTreeMap<ConnectionName, String>,
    /// Each snapshot's digest as recorded when it was synced; computed here
    /// for a snapshot that has none (hashing a large snapshot takes a while).
    pub digests: BTreeMap<ConnectionName, String>,
    /// How each system's accounts are matched to the directory's people.
    pub correlation: Correlation,
    /// Grants approved requests gave for a limited time, still in force:
    /// plans and drift leave them alone until they end.
    pub time_bound: Vec<TimeBoundGrant>,
    /// The declared resources and group pushes grantflow made or found, oldest first (the store's
    /// record): only what grantflow created is ever deleted when its declaration goes.
    pub created: Vec<CreatedObject>,
}

/// A declared resource (or group push) grantflow created, or found already there when it went to create it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    pub connection: ConnectionName,
    /// The resource's kind, or [`GROUP_PUSH`] for a push mapping.
    pub kind: String,
    /// The resource's name; a push's group.
    pub name: String,
    /// A push's app; empty for a resource.
    pub app: String,
    /// `false` when it existed before grantflow went to create it: grantflow never deletes it.
    pub by_grantflow: bool,
}

/// The kind under which a group push mapping is recorded as created (the store's `GROUP_PUSH`).
pub const GROUP_PUSH: &str = "group_push";

/// A grant an approved request gave until `until`; its own timer removes it
/// then (unless a policy grants it for good).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBoundGrant {
    pub connection: ConnectionName,
    pub account_id: String,
    pub resource_id: String,
    pub entitlement: String,
    pub until: chrono::DateTime<chrono::Utc>,
    pub request: String,
}

impl ActualState {
    /// The time-bound grant of `account_id` on `resource_id`, in force at `now`.
    pub fn held_until(
        &self,
        connection: &ConnectionName,
        account_id: &str,
        resource_id: &str,
        entitlement: &str,
        now: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Option<&TimeBoundGrant> {
        self.time_bound.iter().find(|t| {
            t.connection == *connection
                && t.account_id == account_id
                && t.resource_id == resource_id
                && t.entitlement == entitlement
                && now.is_none_or(|now| t.until > now)
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("the directory connection \"{0}\" has not been synced yet: run `grantflow sync` first")]
    DirectoryNotSynced(ConnectionName),
    #[error("{0}")]
    Policy(String),
    #[error("dependency cycle between operations {0}")]
    Cycle(String),
}

pub fn resource_ref(resource: &Resource) -> ResourceRef {
    ResourceRef {
        id: resource.id.clone(),
        kind: resource.kind.clone(),
        name: resource.name.clone(),
    }
}

#[cfg(test)]
mod tests;
