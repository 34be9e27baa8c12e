//! Ordering: the review order of changes and the dependencies between
//! operations (removal before addition, directory first), checked for
//! cycles.

use crate::PlanError;
use crate::correlate::Correlated;
use grantflow_model::{ConnectionName, OpKind, Operation, OperationId};
use petgraph::graph::DiGraph;
use std::collections::{BTreeMap, HashMap};

/// What ordering a person's access directory-first needs.
pub(crate) struct DirectoryFirst<'a, 's> {
    pub(crate) directory: &'a ConnectionName,
    pub(crate) correlated: &'a BTreeMap<&'s ConnectionName, Correlated<'s>>,
}

impl DirectoryFirst<'_, '_> {
    /// The email of the person whose account `op` acts on, when it acts on a person's account.
    fn person_of(&self, op: &Operation) -> Option<String> {
        let account = op.account()?;
        if let Some(email) = account.pending_email() {
            return Some(email.to_string());
        }
        self.correlated
            .get(&op.connection)?
            .person_of
            .get(account.id.as_str())
            .cloned()
    }
}

/// A leaver's order: their directory sessions revoked first; their grants removed next; each of
/// their accounts retired after the removals from it; their directory account retired last, after
/// everything else of theirs (downstream systems before the directory).
pub(crate) fn order_leavers(operations: &mut [Operation], first: &DirectoryFirst<'_, '_>) {
    let is_sessions = |op: &Operation| {
        matches!(&op.kind, OpKind::AccountAction { action, .. } if action == "clear_sessions")
            && op.reasons.iter().any(|r| r.starts_with("leaver: "))
    };
    // Per leaver: the sessions' revocation, and every removal and retirement of theirs.
    let mut sessions: HashMap<String, OperationId> = HashMap::new();
    let mut leavers: HashMap<String, Vec<(OperationId, ConnectionName, String, bool)>> =
        HashMap::new();
    for op in operations.iter() {
        let (Some(person), Some(account)) = (first.person_of(op), op.account()) else {
            continue;
        };
        if is_sessions(op) {
            sessions.insert(person, op.id);
        } else if !op.widens_access() {
            let retirement = matches!(op.kind, OpKind::RetireAccount { .. });
            leavers.entry(person).or_default().push((
                op.id,
                op.connection.clone(),
                account.id.clone(),
                retirement,
            ));
        }
    }
    leavers.retain(|person, ops| sessions.contains_key(person) || ops.iter().any(|o| o.3));
    if leavers.is_empty() {
        return;
    }
    for op in operations.iter_mut() {
        let Some(person) = first.person_of(op) else {
            continue;
        };
        let (Some(theirs), Some(account)) = (leavers.get(&person), op.account()) else {
            continue;
        };
        if op.widens_access() || sessions.get(&person) == Some(&op.id) {
            continue;
        }
        let mut before: Vec<OperationId> = sessions.get(&person).copied().into_iter().collect();
        if matches!(op.kind, OpKind::RetireAccount { .. }) {
            let last = op.connection == *first.directory;
            for (id, connection, holder, retirement) in theirs {
                let same_account = *connection == op.connection && *holder == account.id;
                let downstream = last && *connection != *first.directory;
                if *id != op.id && (same_account && !retirement || downstream) {
                    before.push(*id);
                }
            }
        }
        for id in before {
            if id != op.id && !op.depends_on.contains(&id) {
                op.depends_on.push(id);
            }
        }
        op.depends_on.sort();
    }
}

/// A person's access elsewhere follows their directory access (single
/// sign-on and provisioning key off the directory's groups): their additions
/// in other systems wait for their additions in the directory, and their
/// removals from the directory wait until the other systems took access away.
pub(crate) fn order_directory_first(operations: &mut [Operation], first: &DirectoryFirst<'_, '_>) {
    let person_of = |op: &Operation| first.person_of(op);
    let mut directory_adds: HashMap<String, Vec<OperationId>> = HashMap::new();
    let mut downstream_removals: HashMap<String, Vec<OperationId>> = HashMap::new();
    for op in operations.iter() {
        let Some(person) = person_of(op) else {
            continue;
        };
        let in_directory = op.connection == *first.directory;
        match (&op.kind, in_directory) {
            (OpKind::AddGrant { .. }, true) => {
                directory_adds.entry(person).or_default().push(op.id)
            }
            (OpKind::RemoveGrant { .. }, false) => {
                downstream_removals.entry(person).or_default().push(op.id)
            }
            _ => {}
        }
    }
    for op in operations.iter_mut() {
        let Some(person) = person_of(op) else {
            continue;
        };
        let in_directory = op.connection == *first.directory;
        let before = match (&op.kind, in_directory) {
            (OpKind::AddGrant { .. }, false) => directory_adds.get(&person),
            (OpKind::RemoveGrant { .. }, true) => downstream_removals.get(&person),
            _ => None,
        };
        let Some(before) = before.cloned() else {
            continue;
        };
        let depends_on = &mut op.depends_on;
        for id in before {
            if !depends_on.contains(&id) {
                depends_on.push(id);
            }
        }
        depends_on.sort();
    }
}

/// Accounts first: whatever acts on an account the plan creates (its grants, its profile) waits for
/// the creation, and a person's account in any other system waits for their directory account's
/// creation (single sign-on and provisioning key off the directory account). A staged directory
/// account activated on the start date is the same: its grants and the person's other accounts wait
/// for the activation.
pub(crate) fn order_accounts_first(operations: &mut [Operation], directory: &ConnectionName) {
    let mut creations: HashMap<(ConnectionName, String), OperationId> = HashMap::new();
    // The directory step each person's other accounts wait for, by email.
    let mut directory_steps: HashMap<String, OperationId> = HashMap::new();
    for op in operations.iter() {
        match &op.kind {
            OpKind::CreateAccount { account, .. } => {
                creations.insert((op.connection.clone(), account.id.clone()), op.id);
                if op.connection == *directory
                    && let Some(email) = account.pending_email()
                {
                    directory_steps.insert(email.to_string(), op.id);
                }
            }
            OpKind::AccountAction {
                account, action, ..
            } if op.connection == *directory && action == "activate" => {
                creations.insert((op.connection.clone(), account.id.clone()), op.id);
                directory_steps.insert(account.login.to_lowercase(), op.id);
            }
            _ => {}
        }
    }
    if creations.is_empty() {
        return;
    }
    for op in operations.iter_mut() {
        let Some(account) = op.account() else {
            continue;
        };
        let mut before = Vec::new();
        if matches!(op.kind, OpKind::CreateAccount { .. }) {
            if op.connection != *directory
                && let Some(id) = account
                    .pending_email()
                    .and_then(|email| directory_steps.get(email))
            {
                before.push(*id);
            }
        } else if let Some(id) = creations.get(&(op.connection.clone(), account.id.clone()))
            && *id != op.id
        {
            before.push(*id);
        }
        for id in before {
            if !op.depends_on.contains(&id) {
                op.depends_on.push(id);
            }
        }
        op.depends_on.sort();
    }
}

pub(crate) fn sort_key(
    kind: &OpKind,
    connection: &ConnectionName,
) -> (String, String, String, String, u8) {
    let op = Operation {
        id: OperationId(0),
        connection: connection.clone(),
        kind: kind.clone(),
        reasons: vec![],
        depends_on: vec![],
    };
    let resource = op.resource();
    (
        connection.to_string(),
        op.holder().label().to_lowercase(),
        format!("{}/{}", resource.kind, resource.name),
        op.entitlement().to_string(),
        u8::from(op.widens_access()),
    )
}

/// A removal and an addition on the same account and resource (an
/// entitlement changing level) must not run at once: remove first, so a
/// system that allows one entitlement per resource never sees two.
pub(crate) fn add_dependencies(operations: &mut [Operation]) {
    let removals: BTreeMap<(ConnectionName, String, String), OperationId> = operations
        .iter()
        .filter(|op| !op.widens_access())
        .map(|op| {
            (
                (
                    op.connection.clone(),
                    op.holder().id().to_string(),
                    op.resource().id.clone(),
                ),
                op.id,
            )
        })
        .collect();
    for op in operations.iter_mut().filter(|op| op.widens_access()) {
        let key = (
            op.connection.clone(),
            op.holder().id().to_string(),
            op.resource().id.clone(),
        );
        if let Some(removal) = removals.get(&key) {
            op.depends_on.push(*removal);
        }
    }
}

pub(crate) fn check_acyclic(operations: &[Operation]) -> Result<(), PlanError> {
    let mut graph = DiGraph::<OperationId, ()>::new();
    let nodes: BTreeMap<OperationId, _> = operations
        .iter()
        .map(|op| (op.id, graph.add_node(op.id)))
        .collect();
    for op in operations {
        for dependency in &op.depends_on {
            if let (Some(from), Some(to)) = (nodes.get(dependency), nodes.get(&op.id)) {
                graph.add_edge(*from, *to, ());
            }
        }
    }
    petgraph::algo::toposort(&graph, None)
        .map(|_| ())
        .map_err(|cycle| {
            let id = graph.node_weight(cycle.node_id()).copied();
            PlanError::Cycle(id.map(|id| id.to_string()).unwrap_or_default())
        })
}
