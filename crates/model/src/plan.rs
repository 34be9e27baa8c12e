//! A plan: the reviewed, stored list of operations computed from a known
//! state, which `apply` executes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ConnectionName, LifecycleState, Operation, OperationId};

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

/// The state of an account a widening operation gives access to, when the
/// plan was made. A plan whose target has since been switched off
/// (suspended, deprovisioned) is not applied as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Precondition {
    pub connection: ConnectionName,
    pub account_id: String,
    pub login: String,
    pub state: LifecycleState,
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
    /// The states of the accounts the plan gives access to, as they were.
    #[serde(default)]
    pub preconditions: Vec<Precondition>,
}

impl Plan {
    pub fn operation(&self, id: OperationId) -> Option<&Operation> {
        self.operations.iter().find(|op| op.id == id)
    }

    /// The SHA-256 of everything the plan says except its id: when it was
    /// made, what asked for it, the state it was made from, its operations
    /// and its review. A stored plan whose body no longer hashes to this
    /// was edited after it was made.
    pub fn digest(&self) -> String {
        let content = serde_json::json!({
            "created_at": self.created_at,
            "origin": self.origin,
            "basis": self.basis,
            "operations": self.operations,
            "review": self.review,
            "preconditions": self.preconditions,
        });
        crate::sha256_hex(content.to_string().as_bytes())
    }

    /// The id the plan's content names: `p-` and the first twelve hex
    /// digits of its digest.
    pub fn id_for(digest: &str) -> String {
        format!("p-{}", digest.get(..12).unwrap_or(digest))
    }

    /// Names the plan by its content; called once the content is final, so
    /// the same id always means the same operations from the same state.
    pub fn seal(&mut self) {
        self.id = Self::id_for(&self.digest());
    }

    /// Whether the plan's id is the one its content names.
    pub fn is_sealed(&self) -> bool {
        self.id == Self::id_for(&self.digest())
    }
}
