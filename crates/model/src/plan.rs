//! A plan: the reviewed, stored list of operations computed from a known
//! state, which `apply` executes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ConnectionName, Operation, OperationId};

/// The synced state a plan was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basis {
    pub connection: ConnectionName,
    pub sync_id: String,
    pub digest: String,
}

/// What a reviewer should know about one operation beyond the change itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub operation: OperationId,
    /// Resources the change brings with it (an Okta group's apps), each
    /// marked whether the person already had it.
    pub brings: Vec<ReviewedResource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewedResource {
    pub kind: String,
    pub name: String,
    pub already_held: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub items: Vec<ReviewItem>,
    /// People or grants the planner could not act on, and why.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// What asked for the plan: `policies <dir>` or `request "<text>"`.
    pub origin: String,
    pub basis: Vec<Basis>,
    pub operations: Vec<Operation>,
    pub review: Review,
}

impl Plan {
    pub fn operation(&self, id: OperationId) -> Option<&Operation> {
        self.operations.iter().find(|op| op.id == id)
    }
}
