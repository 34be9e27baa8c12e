//! The common model every other crate speaks: people, accounts, resources,
//! entitlements, grants and operations.
//!
//! Architecture invariant: this crate does no IO and knows no vendor API. A
//! connector maps its native objects into these types; the planner, store and
//! engine only ever see these types.

mod accounts;
mod clock;
mod hris;
mod lifecycle;
mod operation;
mod schema;
mod snapshot;
mod spec;

pub use accounts::{AccountOptions, RetireMode};
pub use clock::{Clock, ManualClock, SystemClock};
pub use hris::{HRIS_ATTRIBUTE, HRIS_SYSTEMS, hris_only_people, is_hris, with_hris};
pub use lifecycle::LifecycleState;
pub use operation::{
    ACCOUNT_KIND, AccountRef, CREATE_ENTITLEMENT, DELETE_ENTITLEMENT, Holder, OpKind, Operation,
    OperationId, PENDING_PREFIX, PROFILE_ENTITLEMENT, PUSH_ENTITLEMENT, PlannedId, ResourceRef,
    UPDATE_ENTITLEMENT, pending_id,
};
pub use schema::{AttributeDecl, AttributeType, ProfileSchema};
pub use spec::{SpecDifference, spec_difference, spec_matches};
mod plan;

pub use plan::{Basis, Plan, Precondition, Review, ReviewItem, ReviewedResource};
pub use snapshot::{
    Account, Grant, GrantSource, Person, Resource, ResourceGrant, ResourceKind, Snapshot,
};

use serde::{Deserialize, Serialize};
use std::fmt;

/// A named connection to one system: a system kind plus a name chosen by the
/// operator ("okta", "okta-partner-b", "github-oss").
///
/// Objects are keyed by connection, never by system kind alone, because one
/// company may run two GitHub organisations or an Okta partner may manage
/// several customer orgs at once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectionName(pub String);

impl ConnectionName {
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kind of system behind a connection ("okta", "github", …).
///
/// A string rather than an enum so that adding a system means adding one
/// connector module, not editing the model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SystemKind(pub String);

impl SystemKind {
    pub fn new(kind: impl Into<String>) -> Self {
        Self(kind.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SystemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lower-case hex SHA-256 of `bytes`; used for plan identity, snapshot
/// digests and the audit chain so all three hash the same way.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
