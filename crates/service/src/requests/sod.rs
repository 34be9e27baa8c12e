//! Separation of duties: the conflict rules of the policy files
//! (`conflicts:`), each a CEL condition over a person's grants in every
//! system, judged for what a request would leave them holding.

use grantflow_model::{OpKind, Plan};
use grantflow_policy::PolicySet;
use serde::Serialize;
use serde_json::{Map, Value};
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

/// The conflict rules `grants` satisfies.
pub(crate) fn conflicts_in(
    policies: &PolicySet,
    grants: &BTreeSet<String>,
) -> Result<Vec<(usize, bool)>> {
    let mut variables = Map::new();
    variables.insert(
        "grants".into(),
        Value::Array(grants.iter().cloned().map(Value::String).collect()),
    );
    let mut found = Vec::new();
    for (index, conflict) in policies.conflicts.iter().enumerate() {
        let holds = conflict
            .when
            .evaluate_with(&variables)
            .map_err(|e| ServiceError::Policy(format!("conflict \"{}\": {e}", conflict.name)))?;
        if holds {
            found.push((index, conflict.blocking));
        }
    }
    Ok(found)
}

impl Service {
    /// The conflicts `subject` would be in once `plan` applied; blocking
    /// only where the plan creates the conflict.
    pub(crate) fn conflicts_after(
        &self,
        policies: &PolicySet,
        subject: &str,
        plan: &Plan,
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
        for op in &plan.operations {
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
        let already: BTreeSet<usize> = conflicts_in(policies, &before)?
            .into_iter()
            .map(|(index, _)| index)
            .collect();
        Ok(conflicts_in(policies, &after)?
            .into_iter()
            .filter_map(|(index, blocking)| {
                let conflict = policies.conflicts.get(index)?;
                let already = already.contains(&index);
                Some(ConflictVerdict {
                    name: conflict.name.clone(),
                    description: conflict.description.clone(),
                    blocking: blocking && !already,
                    already,
                })
            })
            .collect())
    }
}
