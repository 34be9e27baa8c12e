//! One snapshot indexed by id, for the lookups planning and drift make.

use grantflow_model::{Account, Resource, Snapshot};
use std::collections::{HashMap, HashSet};

/// Lookups planning (and drift) do for every person, built once per
/// snapshot so a plan over 100,000 people stays linear.
pub struct SnapshotIndex<'s> {
    pub accounts: HashMap<&'s str, &'s Account>,
    pub resources: HashMap<&'s str, &'s Resource>,
    /// (account id, resource id, entitlement) of every grant held.
    pub held: HashSet<(&'s str, &'s str, &'s str)>,
}

impl<'s> SnapshotIndex<'s> {
    pub fn new(snapshot: &'s Snapshot) -> Self {
        Self {
            accounts: snapshot
                .accounts
                .iter()
                .map(|a| (a.id.as_str(), a))
                .collect(),
            resources: snapshot
                .resources
                .iter()
                .map(|r| (r.id.as_str(), r))
                .collect(),
            held: snapshot
                .grants
                .iter()
                .map(|g| {
                    (
                        g.account_id.as_str(),
                        g.resource_id.as_str(),
                        g.entitlement.as_str(),
                    )
                })
                .collect(),
        }
    }

    pub fn holds(&self, account: &str, resource: &str, entitlement: &str) -> bool {
        self.held.contains(&(account, resource, entitlement))
    }
}
