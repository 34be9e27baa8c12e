//! Turning changes into a plan: ordered for review, numbered, with
//! dependencies, the review of what each change brings, the basis and the
//! preconditions.

use crate::declared::{Wiring, add_creation_dependencies, order_by_dependencies};
use crate::order::{
    DirectoryFirst, add_dependencies, check_acyclic, order_accounts_first, order_directory_first,
    order_leavers, sort_key,
};
use crate::review::{preconditions, review_item};
use crate::{ActualState, PlanError};
use chrono::{DateTime, Utc};
use grantflow_model::{Basis, ConnectionName, OpKind, Operation, OperationId, Plan, Review};

/// Orders changes for review (by connection, person, resource), numbers
/// them, adds dependencies and the review of what each change brings.
pub(crate) fn build_plan(
    mut changes: Vec<(OpKind, ConnectionName, Vec<String>)>,
    actual: &ActualState,
    origin: &str,
    now: DateTime<Utc>,
    notes: Vec<String>,
    wiring: &Wiring,
    directory_first: Option<&DirectoryFirst<'_, '_>>,
) -> Result<Plan, PlanError> {
    changes.sort_by_key(|a| sort_key(&a.0, &a.1));
    let mut operations: Vec<Operation> = changes
        .into_iter()
        .enumerate()
        .map(|(index, (kind, connection, reasons))| Operation {
            id: OperationId(u32::try_from(index).unwrap_or(u32::MAX)),
            connection,
            kind,
            reasons,
            depends_on: vec![],
        })
        .collect();
    add_dependencies(&mut operations);
    add_creation_dependencies(&mut operations, wiring);
    order_accounts_first(&mut operations, &actual.directory);
    if let Some(first) = directory_first {
        order_directory_first(&mut operations, first);
        order_leavers(&mut operations, first);
    }
    check_acyclic(&operations)?;
    let operations = order_by_dependencies(operations);

    let review = Review {
        items: operations
            .iter()
            .filter(|op| op.widens_access())
            .filter_map(|op| review_item(op, actual))
            .collect(),
        notes,
    };
    let basis = actual
        .snapshots
        .iter()
        .map(|(connection, snapshot)| Basis {
            connection: connection.clone(),
            sync_id: actual.sync_ids.get(connection).cloned().unwrap_or_default(),
            digest: actual
                .digests
                .get(connection)
                .cloned()
                .unwrap_or_else(|| snapshot.digest()),
        })
        .collect();
    let preconditions = preconditions(&operations, actual);
    let mut plan = Plan {
        id: String::new(),
        created_at: now,
        origin: origin.to_string(),
        basis,
        operations,
        review,
        preconditions,
    };
    plan.seal();
    Ok(plan)
}
