//! The planner: desired access (policies, requests) against actual access
//! (the last sync) gives an ordered set of operations with dependencies.
//!
//! Architecture invariant: no IO. The planner reads snapshots and policies
//! that were loaded elsewhere and returns a plan draft; storing it, giving
//! it an id and executing it are other crates' business.

mod request;

pub use request::{Action, ChangeRequest, RequestError, parse_request};

use chrono::{DateTime, Utc};
use grantflow_model::{
    Account, AccountRef, Basis, ConnectionName, GrantSource, OpKind, Operation, OperationId, Plan,
    Resource, ResourceRef, Review, ReviewItem, ReviewedResource, Snapshot,
};
use grantflow_policy::PolicySet;
use petgraph::graph::DiGraph;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::collections::{HashMap, HashSet};

/// The synced state planning starts from: one snapshot (and its sync id)
/// per connection, and which connection is the directory of people.
pub struct ActualState {
    pub directory: ConnectionName,
    pub snapshots: BTreeMap<ConnectionName, Snapshot>,
    pub sync_ids: BTreeMap<ConnectionName, String>,
    /// Each snapshot's digest as recorded when it was synced; computed here
    /// for a snapshot that has none (hashing a large snapshot takes a while).
    pub digests: BTreeMap<ConnectionName, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("the directory connection \"{0}\" has not been synced yet: run `grantflow sync` first")]
    DirectoryNotSynced(ConnectionName),
    #[error("{0}")]
    Policy(String),
    #[error("dependency cycle between operations {0}")]
    Cycle(String),
}

/// One grant that should exist: (connection, account, resource, entitlement).
/// Borrowed from the snapshots, except a pending account's id, so a plan
/// over 100,000 people does not copy every key.
type GrantKey<'s> = (&'s ConnectionName, Cow<'s, str>, &'s str, &'s str);

/// Computes the plan that makes actual access match the policies.
///
/// Only resources that some policy names are managed: a grant on any other
/// resource is never removed, whoever made it.
pub fn plan_policies(
    policies: &PolicySet,
    actual: &ActualState,
    origin: &str,
    now: DateTime<Utc>,
) -> Result<Plan, PlanError> {
    let directory = actual
        .snapshots
        .get(&actual.directory)
        .ok_or_else(|| PlanError::DirectoryNotSynced(actual.directory.clone()))?;
    policies
        .check_references(&actual.snapshots)
        .map_err(|d| PlanError::Policy(d.to_string()))?;
    // Declared resources the last sync lacks are there as `pending:<name>`, so grants on them are planned.
    let snapshots = policies.with_declared(&actual.snapshots);
    let snapshots = snapshots.as_ref();

    // Values: the policies (by position) that want the grant.
    let mut desired: HashMap<GrantKey<'_>, BTreeSet<usize>> = HashMap::new();
    let mut managed: HashSet<(&ConnectionName, &str)> = HashSet::new();
    let mut notes = Vec::new();
    let indexes: BTreeMap<&ConnectionName, Index<'_>> = snapshots
        .iter()
        .map(|(name, snapshot)| (name, Index::new(snapshot)))
        .collect();

    // Each policy's grants resolve to the same resources for everyone.
    let mut resolved: Vec<Vec<(&ConnectionName, &Resource, String)>> = Vec::new();
    for policy in &policies.policies {
        let mut grants = Vec::new();
        for grant in &policy.grants {
            let (resource, entitlement) =
                grantflow_policy::resolve(grant, snapshots).map_err(PlanError::Policy)?;
            managed.insert((&grant.connection, resource.id.as_str()));
            grants.push((&grant.connection, resource, entitlement));
        }
        resolved.push(grants);
    }
    let position: BTreeMap<&str, usize> = policies
        .policies
        .iter()
        .enumerate()
        .map(|(index, policy)| (policy.name.as_str(), index))
        .collect();

    for person in directory.people() {
        // A departed person is granted nothing; whatever they still hold on
        // managed resources is planned for removal below.
        if person.status == "DEPROVISIONED" {
            continue;
        }
        let matched = policies.matching(&person).map_err(PlanError::Policy)?;
        for policy in matched {
            let Some(grants) = position
                .get(policy.name.as_str())
                .and_then(|i| resolved.get(*i))
            else {
                continue;
            };
            for (connection, resource, entitlement) in grants {
                let Some(index) = indexes.get(connection) else {
                    continue;
                };
                let account_id: Cow<'_, str> = match index.account_for(&person.email) {
                    Some(account) => Cow::Borrowed(account.id.as_str()),
                    // The system makes the account itself at the person's
                    // first sign-in: plan the grant; it waits until then.
                    None if index.snapshot.accounts_created_on_first_login => {
                        Cow::Owned(pending_account_id(&person.email))
                    }
                    None => {
                        notes.push(format!(
                            "{} has no account in {connection}; policy \"{}\" cannot grant {} \"{}\" yet",
                            person.email, policy.name, resource.kind, resource.name
                        ));
                        continue;
                    }
                };
                let Some(position) = position.get(policy.name.as_str()) else {
                    continue;
                };
                desired
                    .entry((
                        *connection,
                        account_id,
                        resource.id.as_str(),
                        entitlement.as_str(),
                    ))
                    .or_default()
                    .insert(*position);
            }
        }
    }

    let mut changes: Vec<(OpKind, ConnectionName, Vec<String>)> = Vec::new();
    for ((connection, account_id, resource_id, entitlement), wanted_by) in &desired {
        let Some(index) = indexes.get(connection) else {
            continue;
        };
        if index.holds(account_id, resource_id, entitlement) {
            continue;
        }
        let Some(resource) = index.resources.get(resource_id) else {
            continue;
        };
        let account = match index.accounts.get(account_id.as_ref()) {
            Some(account) => AccountRef {
                id: account.id.clone(),
                login: account.login.clone(),
            },
            None => AccountRef {
                id: account_id.to_string(),
                login: account_id.trim_start_matches(PENDING_PREFIX).to_string(),
            },
        };
        let kind = OpKind::AddGrant {
            account,
            resource: resource_ref(resource),
            entitlement: entitlement.to_string(),
        };
        let reasons = wanted_by
            .iter()
            .filter_map(|i| policies.policies.get(*i))
            .map(|policy| format!("policy {}", policy.name))
            .collect();
        changes.push((kind, (*connection).clone(), reasons));
    }
    for (connection, snapshot) in &actual.snapshots {
        let Some(index) = indexes.get(connection) else {
            continue;
        };
        for grant in &snapshot.grants {
            // Only direct grants are grantflow's to remove: a group-derived
            // app assignment goes away with the membership, and a rule-made
            // membership belongs to the rule.
            if grant.source != GrantSource::Direct
                || !managed.contains(&(connection, grant.resource_id.as_str()))
            {
                continue;
            }
            let key = (
                connection,
                Cow::Borrowed(grant.account_id.as_str()),
                grant.resource_id.as_str(),
                grant.entitlement.as_str(),
            );
            if desired.contains_key(&key) {
                continue;
            }
            let (Some(account), Some(resource)) = (
                index.accounts.get(grant.account_id.as_str()),
                index.resources.get(grant.resource_id.as_str()),
            ) else {
                continue;
            };
            let kind = OpKind::RemoveGrant {
                account: AccountRef {
                    id: account.id.clone(),
                    login: account.login.clone(),
                },
                resource: resource_ref(resource),
                entitlement: grant.entitlement.clone(),
            };
            changes.push((
                kind,
                connection.clone(),
                vec![format!(
                    "no policy grants it, and policy manages {} \"{}\"",
                    resource.kind, resource.name
                )],
            ));
        }
    }

    let wiring = plan_creations(policies, actual, snapshots, &mut changes);
    build_plan(changes, actual, origin, now, notes, &wiring)
}

/// A resource by connection, kind and name: what creations and pushes produce and what others need.
type ResourceKey = (ConnectionName, String, String);

/// Dependencies beyond those an operation implies by itself: what each declared creation requires
/// (keyed by the creation's natural key), and what each push creates in another system.
#[derive(Default)]
struct Wiring {
    requires: HashMap<String, Vec<ResourceKey>>,
    push_creates: HashMap<String, ResourceKey>,
}

/// Adds a creation for every declared resource the last sync lacks and a push for every declared push that
/// is not mapped yet, and returns how they depend on one another.
fn plan_creations(
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
fn add_creation_dependencies(operations: &mut [Operation], wiring: &Wiring) {
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
fn order_by_dependencies(operations: Vec<Operation>) -> Vec<Operation> {
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

/// Computes the plan for one requested change (`grantflow do`).
pub fn plan_request(
    request: &ChangeRequest,
    actual: &ActualState,
    now: DateTime<Utc>,
) -> Result<Plan, RequestError> {
    let (kind, connection, notes) = request::resolve(request, actual)?;
    let reason = format!("request \"{}\"", request.text);
    let changes = match kind {
        Some(kind) => vec![(kind, connection, vec![reason])],
        None => vec![],
    };
    build_plan(
        changes,
        actual,
        &format!("request \"{}\"", request.text),
        now,
        notes,
        &Wiring::default(),
    )
    .map_err(|e| RequestError::Invalid(e.to_string()))
}

/// The account id planned for a person whose account does not exist yet;
/// the connector resolves it when the account appears.
pub const PENDING_PREFIX: &str = "pending:";

fn pending_account_id(email: &str) -> String {
    format!("{PENDING_PREFIX}{}", email.to_lowercase())
}

fn resource_ref(resource: &Resource) -> ResourceRef {
    ResourceRef {
        id: resource.id.clone(),
        kind: resource.kind.clone(),
        name: resource.name.clone(),
    }
}

/// Lookups planning does for every person, built once per snapshot so a
/// plan over 100,000 people stays linear.
struct Index<'s> {
    snapshot: &'s Snapshot,
    by_login_or_email: HashMap<String, &'s Account>,
    accounts: HashMap<&'s str, &'s Account>,
    resources: HashMap<&'s str, &'s Resource>,
    held: HashSet<(&'s str, &'s str, &'s str)>,
}

impl<'s> Index<'s> {
    fn new(snapshot: &'s Snapshot) -> Self {
        let mut by_login_or_email = HashMap::new();
        for account in &snapshot.accounts {
            by_login_or_email.insert(account.login.to_lowercase(), account);
            if let Some(email) = &account.email {
                by_login_or_email
                    .entry(email.to_lowercase())
                    .or_insert(account);
            }
        }
        Self {
            snapshot,
            by_login_or_email,
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

    fn account_for(&self, email: &str) -> Option<&'s Account> {
        self.by_login_or_email.get(&email.to_lowercase()).copied()
    }

    fn holds(&self, account: &str, resource: &str, entitlement: &str) -> bool {
        self.held.contains(&(account, resource, entitlement))
    }
}

/// Orders changes for review (by connection, person, resource), numbers
/// them, adds dependencies and the review of what each change brings.
fn build_plan(
    mut changes: Vec<(OpKind, ConnectionName, Vec<String>)>,
    actual: &ActualState,
    origin: &str,
    now: DateTime<Utc>,
    notes: Vec<String>,
    wiring: &Wiring,
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
    let mut plan = Plan {
        id: String::new(),
        created_at: now,
        origin: origin.to_string(),
        basis,
        operations,
        review,
    };
    plan.id = plan_id(&plan);
    Ok(plan)
}

fn sort_key(kind: &OpKind, connection: &ConnectionName) -> (String, String, String, String, u8) {
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
fn add_dependencies(operations: &mut [Operation]) {
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

fn check_acyclic(operations: &[Operation]) -> Result<(), PlanError> {
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

fn review_item(op: &Operation, actual: &ActualState) -> Option<ReviewItem> {
    let snapshot = actual.snapshots.get(&op.connection)?;
    let inherited = snapshot.inherited_through(&op.resource().id);
    if inherited.is_empty() {
        return None;
    }
    let held: BTreeSet<&str> = snapshot
        .grants
        .iter()
        .filter(|g| g.account_id == op.holder().id())
        .map(|g| g.resource_id.as_str())
        .collect();
    Some(ReviewItem {
        operation: op.id,
        brings: inherited
            .into_iter()
            .map(|resource| ReviewedResource {
                kind: resource.kind.to_string(),
                name: resource.name.clone(),
                already_held: held.contains(resource.id.as_str()),
            })
            .collect(),
    })
}

/// Plans are named by their content and moment, so the same id always
/// means the same operations computed from the same state.
fn plan_id(plan: &Plan) -> String {
    let content = serde_json::json!({
        "created_at": plan.created_at,
        "origin": plan.origin,
        "basis": plan.basis,
        "operations": plan.operations,
    });
    let digest = grantflow_model::sha256_hex(content.to_string().as_bytes());
    format!("p-{}", &digest[..12])
}

/// Limits on how much one plan may take away before a person must name it
/// explicitly (`grantflow apply --allow-mass-removal PLAN_ID`).
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyRail {
    /// Largest share (0.0–1.0) of a connection's existing direct grants one
    /// plan may remove.
    #[serde(default = "default_removal_share")]
    pub max_removal_share: f64,
    /// Most distinct accounts one plan may take access from.
    #[serde(default = "default_removed_accounts")]
    pub max_removed_accounts: usize,
}

fn default_removal_share() -> f64 {
    0.2
}

fn default_removed_accounts() -> usize {
    25
}

impl Default for SafetyRail {
    fn default() -> Self {
        Self {
            max_removal_share: default_removal_share(),
            max_removed_accounts: default_removed_accounts(),
        }
    }
}

/// Why `plan` trips the safety rail, if it does.
pub fn mass_removal(plan: &Plan, actual: &ActualState, rail: &SafetyRail) -> Option<String> {
    let removals: Vec<&Operation> = plan
        .operations
        .iter()
        .filter(|op| !op.widens_access())
        .collect();
    if removals.is_empty() {
        return None;
    }
    let accounts: BTreeSet<(&ConnectionName, String)> = removals
        .iter()
        .map(|op| (&op.connection, op.holder().id().to_string()))
        .collect();
    if accounts.len() > rail.max_removed_accounts {
        return Some(format!(
            "it takes access from {} accounts (the limit is {})",
            accounts.len(),
            rail.max_removed_accounts
        ));
    }
    let mut per_connection: BTreeMap<&ConnectionName, usize> = BTreeMap::new();
    for op in &removals {
        *per_connection.entry(&op.connection).or_default() += 1;
    }
    for (connection, removed) in per_connection {
        let existing = actual
            .snapshots
            .get(connection)
            .map(|s| {
                s.grants
                    .iter()
                    .filter(|g| g.source == GrantSource::Direct)
                    .count()
            })
            .unwrap_or(0)
            .max(1);
        let share = removed as f64 / existing as f64;
        if share > rail.max_removal_share {
            return Some(format!(
                "it removes {removed} of {existing} direct grants in {connection} ({:.0}%, the limit is {:.0}%)",
                share * 100.0,
                rail.max_removal_share * 100.0
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests;
