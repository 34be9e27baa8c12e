//! Separation of duties: the conflict rules of the policy files
//! (`conflicts:`), each a CEL condition over a person's grants in every
//! system, judged for what a request would leave them holding.

use grantflow_model::{OpKind, Operation};
use grantflow_policy::PolicySet;
use serde::Serialize;
use std::collections::BTreeSet;

use crate::directory::Directory;
use crate::{Result, Service, ServiceError};

/// A conflict a person would be in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConflictVerdict {
    pub name: String,
    pub description: Option<String>,
    /// Whether the rule refuses requests that create it.
    pub blocking: bool,
    /// Whether the person is in it already, before this change.
    pub already: bool,
}

/// A grant as conflict rules name it: `<connection>:<kind>/<name>`.
pub(crate) fn grant_name(connection: &str, kind: &str, name: &str) -> String {
    format!("{connection}:{kind}/{name}")
}

/// The conflict rules `grants` satisfies (their positions).
pub(crate) fn conflicts_in(policies: &PolicySet, grants: &BTreeSet<String>) -> Result<Vec<usize>> {
    policies.conflicts_for(grants).map_err(ServiceError::Policy)
}

impl Service {
    /// Warnings for a plan of the policies: each person it would put in a
    /// separation-of-duties conflict they are not in yet.
    pub(crate) async fn conflicts_of_plan(
        &self,
        policies: &PolicySet,
        plan: &grantflow_model::Plan,
        actual: &grantflow_planner::ActualState,
    ) -> Result<Vec<String>> {
        if policies.conflicts.is_empty() {
            return Ok(vec![]);
        }
        let directory = self.directory().await?;
        let mut warnings = Vec::new();
        for person in grantflow_planner::by_person(plan, actual) {
            let Some(email) = person.email.as_deref() else {
                continue;
            };
            let ops: Vec<&Operation> = person
                .accounts
                .iter()
                .flat_map(|a| a.operations.iter())
                .filter_map(|id| plan.operations.iter().find(|op| op.id == *id))
                .collect();
            for verdict in self.conflicts_after(policies, email, &ops, &directory)? {
                if !verdict.already {
                    warnings.push(format!(
                        "this plan puts {email} in the separation-of-duties conflict \"{}\"",
                        verdict.name
                    ));
                }
            }
        }
        Ok(warnings)
    }

    /// The conflicts `subject` would be in once `ops` (their changes)
    /// applied; blocking only where the change creates the conflict.
    pub(crate) fn conflicts_after(
        &self,
        policies: &PolicySet,
        subject: &str,
        ops: &[&Operation],
        directory: &Directory,
    ) -> Result<Vec<ConflictVerdict>> {
        if policies.conflicts.is_empty() {
            return Ok(vec![]);
        }
        let before: BTreeSet<String> = directory
            .person(subject)
            .map(|person| {
                person
                    .accounts
                    .iter()
                    .flat_map(|account| {
                        account
                            .grants
                            .iter()
                            .map(|g| grant_name(&account.connection, &g.resource_kind, &g.resource))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut after = before.clone();
        for op in ops {
            match &op.kind {
                OpKind::AddGrant { resource, .. } => {
                    after.insert(grant_name(
                        op.connection.as_str(),
                        &resource.kind.0,
                        &resource.name,
                    ));
                }
                OpKind::RemoveGrant { resource, .. } => {
                    after.remove(&grant_name(
                        op.connection.as_str(),
                        &resource.kind.0,
                        &resource.name,
                    ));
                }
                _ => {}
            }
        }
        let already: BTreeSet<usize> = conflicts_in(policies, &before)?.into_iter().collect();
        Ok(conflicts_in(policies, &after)?
            .into_iter()
            .filter_map(|index| {
                let conflict = policies.conflicts.get(index)?;
                let already = already.contains(&index);
                Some(ConflictVerdict {
                    name: conflict.name.clone(),
                    description: conflict.description.clone(),
                    blocking: conflict.blocking && !already,
                    already,
                })
            })
            .collect())
    }
}
