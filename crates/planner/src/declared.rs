//! Resources and group pushes the policy files declare: creating what the
//! last sync lacks, updating what differs from its declaration, deleting
//! what grantflow created once its declaration is gone, and wiring what
//! depends on it.

use grantflow_model::{
    ConnectionName, OpKind, Operation, OperationId, ResourceRef, Snapshot, spec_difference,
};
use grantflow_policy::PolicySet;
use std::collections::{BTreeMap, HashMap};

use crate::{ActualState, GROUP_PUSH, resource_ref};

/// A resource by connection, kind and name: what creations and pushes produce and what others need.
pub(crate) type ResourceKey = (ConnectionName, String, String);

/// Dependencies beyond those an operation implies by itself: what each declared creation requires
/// (keyed by the creation's natural key), and what each push creates in another system.
#[derive(Default)]
pub(crate) struct Wiring {
    requires: HashMap<String, Vec<ResourceKey>>,
    push_creates: HashMap<String, ResourceKey>,
    /// Operations (by natural key) that wait for others (by natural key): a push for its group's app
    /// assignment, a push's deletion for its deactivation, a deletion for the later creations'.
    after: HashMap<String, Vec<String>>,
    /// What the review should say about declared resources (fields not compared, resources left alone).
    pub(crate) notes: Vec<String>,
}

impl Wiring {
    fn wait(&mut self, op: &Operation, for_op: &Operation) {
        self.after
            .entry(op.natural_key())
            .or_default()
            .push(for_op.natural_key());
    }
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
        let existing = actual
            .snapshots
            .get(&target.connection)
            .and_then(|s| s.resource_by_name(&target.kind, &target.name));
        if let Some(existing) = existing {
            let difference = spec_difference(&declared.spec, &existing.attributes);
            if !difference.not_read.is_empty() {
                wiring.notes.push(format!(
                    "{} {} \"{}\": the sync does not read {}, so it is not compared with the declaration",
                    target.connection,
                    target.kind,
                    target.name,
                    difference.not_read.join(", ")
                ));
            }
            if !difference.is_empty() {
                changes.push((
                    OpKind::UpdateResource {
                        resource: resource_ref(existing),
                        spec: declared.spec.clone(),
                        before: difference.before,
                        after: difference.after,
                    },
                    target.connection.clone(),
                    vec![format!(
                        "its settings differ from the declaration in {}",
                        declared.file.display()
                    )],
                ));
            }
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
        let holds = |entitlement: &str| {
            snapshot.resource_grants.iter().any(|g| {
                g.holder_id == group.id && g.resource_id == app.id && g.entitlement == entitlement
            })
        };
        let kind = OpKind::PushGroup {
            group: resource_ref(group),
            resource: resource_ref(app),
            target_name: push.target_name.clone(),
        };
        let push_op = probe(&kind, &push.group.connection);
        // A group's members are pushed only when they are assigned to the app (Okta's group push
        // prerequisite): the group is assigned to the app first.
        if let Some(assigned) = app.entitlements.first()
            && !holds(assigned)
        {
            let assign = OpKind::AddGroupGrant {
                group: resource_ref(group),
                resource: resource_ref(app),
                entitlement: assigned.clone(),
            };
            wiring.wait(&push_op, &probe(&assign, &push.group.connection));
            changes.push((
                assign,
                push.group.connection.clone(),
                vec![format!(
                    "members of a pushed group must be assigned to the app (push declared in {})",
                    push.file.display()
                )],
            ));
        }
        if holds(grantflow_model::PUSH_ENTITLEMENT) {
            continue;
        }
        if let Some(creates) = &push.creates {
            wiring
                .push_creates
                .insert(push_op.natural_key(), creates.key());
        }
        changes.push((
            kind,
            push.group.connection.clone(),
            vec![format!("push declared in {}", push.file.display())],
        ));
    }
    plan_removals(policies, actual, changes, &mut wiring);
    wiring
}

/// Deletes what grantflow created and no file declares any more: each resource (the last created first),
/// and each group push (deactivated, then deleted). What grantflow found already there is left alone.
fn plan_removals(
    policies: &PolicySet,
    actual: &ActualState,
    changes: &mut Vec<(OpKind, ConnectionName, Vec<String>)>,
    wiring: &mut Wiring,
) {
    let declared = |connection: &ConnectionName, kind: &str, name: &str| {
        policies.resources.iter().any(|d| {
            d.target.connection == *connection && d.target.kind == kind && d.target.name == name
        })
    };
    let pushed = |connection: &ConnectionName, group: &str, app: &str| {
        policies.pushes.iter().any(|p| {
            p.group.connection == *connection && p.group.name == group && p.app.name == app
        })
    };
    // Deletions so far per connection, newest creation last: each waits for those created after it.
    let mut deletions: Vec<Operation> = Vec::new();
    let mut push_removals: Vec<(ConnectionName, String, Operation)> = Vec::new();
    for created in actual.created.iter().rev() {
        let Some(snapshot) = actual.snapshots.get(&created.connection) else {
            continue;
        };
        if created.kind == GROUP_PUSH {
            if pushed(&created.connection, &created.name, &created.app) {
                continue;
            }
            let (Some(group), Some(app)) = (
                snapshot.resource_by_name("group", &created.name),
                snapshot.resource_by_name("app", &created.app),
            ) else {
                continue;
            };
            let active = snapshot.resource_grants.iter().any(|g| {
                g.holder_id == group.id
                    && g.resource_id == app.id
                    && g.entitlement == grantflow_model::PUSH_ENTITLEMENT
            });
            if !active {
                continue;
            }
            if !created.by_grantflow {
                wiring.notes.push(format!(
                    "{} push of group \"{}\" to app \"{}\" is no longer declared, but grantflow did not create it: left in place",
                    created.connection, created.name, created.app
                ));
                continue;
            }
            let reasons =
                vec!["grantflow created this push and no file declares it any more".to_string()];
            let deactivate = OpKind::DeactivatePush {
                group: resource_ref(group),
                resource: resource_ref(app),
            };
            let delete = OpKind::DeletePush {
                group: resource_ref(group),
                resource: resource_ref(app),
            };
            let (first, second) = (
                probe(&deactivate, &created.connection),
                probe(&delete, &created.connection),
            );
            wiring.wait(&second, &first);
            push_removals.push((created.connection.clone(), created.name.clone(), second));
            changes.push((deactivate, created.connection.clone(), reasons.clone()));
            changes.push((delete, created.connection.clone(), reasons));
            continue;
        }
        if declared(&created.connection, &created.kind, &created.name) {
            continue;
        }
        let Some(resource) = snapshot.resource_by_name(&created.kind, &created.name) else {
            continue;
        };
        if !created.by_grantflow {
            wiring.notes.push(format!(
                "{} {} \"{}\" is no longer declared, but grantflow did not create it: it is never deleted",
                created.connection, created.kind, created.name
            ));
            continue;
        }
        let kind = OpKind::DeleteResource {
            resource: resource_ref(resource),
        };
        let op = probe(&kind, &created.connection);
        for later in deletions
            .iter()
            .filter(|d| d.connection == created.connection)
        {
            wiring.wait(&op, later);
        }
        deletions.push(op);
        changes.push((
            kind,
            created.connection.clone(),
            vec!["grantflow created it and no file declares it any more".to_string()],
        ));
    }
    // A group goes after its pushes.
    for deletion in &deletions {
        if let OpKind::DeleteResource { resource } = &deletion.kind {
            for (_, _, push) in push_removals
                .iter()
                .filter(|(c, g, _)| *c == deletion.connection && *g == resource.name)
            {
                wiring.wait(deletion, push);
            }
        }
    }
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
    let by_key: HashMap<String, OperationId> = operations
        .iter()
        .map(|op| (op.natural_key(), op.id))
        .collect();
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
            OpKind::AccountAction { .. }
            | OpKind::UpdateProfile { .. }
            | OpKind::CreateAccount { .. }
            | OpKind::RetireAccount { .. }
            | OpKind::CreateResource { .. }
            | OpKind::UpdateResource { .. }
            | OpKind::DeleteResource { .. }
            | OpKind::DeactivatePush { .. }
            | OpKind::DeletePush { .. } => {}
        }
        let key = op.natural_key();
        if let Some(required) = wiring.requires.get(&key) {
            needs.extend(required.iter().cloned());
        }
        for waited in wiring.after.get(&key).into_iter().flatten() {
            if let Some(id) = by_key.get(waited)
                && *id != op.id
                && !op.depends_on.contains(id)
            {
                op.depends_on.push(*id);
            }
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
