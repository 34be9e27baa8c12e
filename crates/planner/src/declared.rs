//! Resources and group pushes the policy files declare: creating what the
//! last sync lacks, and wiring what depends on it.

use grantflow_model::{ConnectionName, OpKind, Operation, OperationId, ResourceRef, Snapshot};
use grantflow_policy::PolicySet;
use std::collections::{BTreeMap, HashMap};

use crate::{ActualState, resource_ref};

/// A resource by connection, kind and name: what creations and pushes produce and what others need.
pub(crate) type ResourceKey = (ConnectionName, String, String);

/// Dependencies beyond those an operation implies by itself: what each declared creation requires
/// (keyed by the creation's natural key), and what each push creates in another system.
#[derive(Default)]
pub(crate) struct Wiring {
    requires: HashMap<String, Vec<ResourceKey>>,
    push_creates: HashMap<String, ResourceKey>,
}

/// Adds a creation for every declared resource the last sync lacks and a push for every declared push that
/// is not mapped yet, and returns how they depend on one another.
pub(crate) fn plan_creations(
    policies: &PolicySet,
    actual: &ActualState,
    snapshots: &BTreeMap<ConnectionName, Snapshot>,
    changes: &mut Vec<(OpKind, ConnectionName, Vec<String>)>,
) -> Wiring {
    let mut wiring = Wiring::default();
    for declared in &policies.resources {
        let target = &declared.target;
        let exists = actual
            .snapshots
            .get(&target.connection)
            .and_then(|s| s.resource_by_name(&target.kind, &target.name))
            .is_some();
        if exists {
            continue;
        }
        let kind = OpKind::CreateResource {
            resource: ResourceRef::pending(target.kind.clone(), target.name.clone()),
            spec: declared.spec.clone(),
        };
        let op = probe(&kind, &target.connection);
        wiring.requires.insert(
            op.natural_key(),
            declared.requires.iter().map(|r| r.key()).collect(),
        );
        changes.push((
            kind,
            target.connection.clone(),
            vec![format!("declared in {}", declared.file.display())],
        ));
    }
    for push in &policies.pushes {
        let Some(snapshot) = snapshots.get(&push.group.connection) else {
            continue;
        };
        let (Some(group), Some(app)) = (
            snapshot.resource_by_name(&push.group.kind, &push.group.name),
            snapshot.resource_by_name(&push.app.kind, &push.app.name),
        ) else {
            continue;
        };
        let mapped = snapshot.resource_grants.iter().any(|g| {
            g.holder_id == group.id
                && g.resource_id == app.id
                && g.entitlement == grantflow_model::PUSH_ENTITLEMENT
        });
        if mapped {
            continue;
        }
        let kind = OpKind::PushGroup {
            group: resource_ref(group),
            resource: resource_ref(app),
            target_name: push.target_name.clone(),
        };
        if let Some(creates) = &push.creates {
            let op = probe(&kind, &push.group.connection);
            wiring.push_creates.insert(op.natural_key(), creates.key());
        }
        changes.push((
            kind,
            push.group.connection.clone(),
            vec![format!("push declared in {}", push.file.display())],
        ));
    }
    wiring
}

/// An operation around `kind`, for its natural key and other derived values.
fn probe(kind: &OpKind, connection: &ConnectionName) -> Operation {
    Operation {
        id: OperationId(0),
        connection: connection.clone(),
        kind: kind.clone(),
        reasons: vec![],
        depends_on: vec![],
    }
}

/// Wires what creations imply: an operation on a pending resource waits for its creation (or for the push
/// that makes it), a push waits for its group's creation, and a declared `requires` waits for whatever
/// produces the required resource in this plan.
pub(crate) fn add_creation_dependencies(operations: &mut [Operation], wiring: &Wiring) {
    let mut producers: HashMap<ResourceKey, OperationId> = HashMap::new();
    for op in operations.iter() {
        if let OpKind::CreateResource { resource, .. } = &op.kind {
            producers.insert(
                (
                    op.connection.clone(),
                    resource.kind.to_string(),
                    resource.name.clone(),
                ),
                op.id,
            );
        }
        if let Some(key) = wiring.push_creates.get(&op.natural_key()) {
            producers.insert(key.clone(), op.id);
        }
    }
    for op in operations.iter_mut() {
        let mut needs: Vec<ResourceKey> = Vec::new();
        let pending = |r: &ResourceRef| {
            r.is_pending()
                .then(|| (op.connection.clone(), r.kind.to_string(), r.name.clone()))
        };
        match &op.kind {
            OpKind::AddGrant { resource, .. } | OpKind::RemoveGrant { resource, .. } => {
                needs.extend(pending(resource));
            }
            OpKind::AddGroupGrant {
                group, resource, ..
            }
            | OpKind::RemoveGroupGrant {
                group, resource, ..
            }
            | OpKind::PushGroup {
                group, resource, ..
            } => {
                needs.extend(pending(group));
                needs.extend(pending(resource));
            }
            OpKind::AccountAction { .. } | OpKind::CreateResource { .. } => {}
        }
        if let Some(required) = wiring.requires.get(&op.natural_key()) {
            needs.extend(required.iter().cloned());
        }
        for need in needs {
            if let Some(producer) = producers.get(&need)
                && *producer != op.id
                && !op.depends_on.contains(producer)
            {
                op.depends_on.push(*producer);
            }
        }
    }
}

/// Reorders operations so each comes after what it depends on, keeping the review order otherwise, and
/// renumbers them. Leaves a cyclic plan as it is (the cycle check reports it).
pub(crate) fn order_by_dependencies(operations: Vec<Operation>) -> Vec<Operation> {
    let count = operations.len();
    let mut placed = vec![false; count];
    let mut order = Vec::with_capacity(count);
    let index_of: HashMap<OperationId, usize> = operations
        .iter()
        .enumerate()
        .map(|(i, op)| (op.id, i))
        .collect();
    while order.len() < count {
        let next = (0..count).find(|&i| {
            !placed[i]
                && operations[i]
                    .depends_on
                    .iter()
                    .all(|d| index_of.get(d).is_none_or(|&j| placed[j]))
        });
        let Some(next) = next else {
            return operations;
        };
        placed[next] = true;
        order.push(next);
    }
    let renumber: HashMap<OperationId, OperationId> = order
        .iter()
        .enumerate()
        .map(|(new, &old)| {
            (
                operations[old].id,
                OperationId(u32::try_from(new).unwrap_or(u32::MAX)),
            )
        })
        .collect();
    let mut slots: Vec<Option<Operation>> = operations.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|old| slots[old].take())
        .map(|mut op| {
            op.id = renumber.get(&op.id).copied().unwrap_or(op.id);
            op.depends_on = op
                .depends_on
                .iter()
                .map(|d| renumber.get(d).copied().unwrap_or(*d))
                .collect();
            op.depends_on.sort();
            op
        })
        .collect()
}
