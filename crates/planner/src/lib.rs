//! The planner: desired access (policies, requests) against actual access
//! (the last sync) gives an ordered set of operations with dependencies.
//!
//! Architecture invariant: no IO. The planner reads snapshots and policies
//! that were loaded elsewhere and returns a plan draft; storing it, giving
//! it an id and executing it are other crates' business.

mod correlate;
mod declared;
mod people;
mod request;

pub use correlate::{Ambiguity, Correlated, Correlation, MatchField, correlate};
use declared::{Wiring, add_creation_dependencies, order_by_dependencies, plan_creations};
pub use people::{AccountChanges, ChangesFor, GroupKind, by_person};

pub use request::{Action, ChangeRequest, RequestError, parse_request};

use chrono::{DateTime, Utc};
use grantflow_model::{
    Account, AccountRef, Basis, ConnectionName, GrantSource, OpKind, Operation, OperationId,
    Person, Plan, PlannedId, Precondition, Resource, ResourceRef, Review, ReviewItem,
    ReviewedResource, Snapshot,
};
use grantflow_policy::PolicySet;
use petgraph::graph::DiGraph;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::collections::{HashMap, HashSet};

/// The synced state planning starts from: one snapshot (and its sync id)
/// per connection, and which connection is the directory of people.
#[derive(Clone)]
pub struct ActualState {
    pub directory: ConnectionName,
    pub snapshots: BTreeMap<ConnectionName, Snapshot>,
    pub sync_ids: BTreeMap<ConnectionName, String>,
    /// Each snapshot's digest as recorded when it was synced; computed here
    /// for a snapshot that has none (hashing a large snapshot takes a while).
    pub digests: BTreeMap<ConnectionName, String>,
    /// How each system's accounts are matched to the directory's people.
    pub correlation: Correlation,
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
pub type GrantKey<'s> = (&'s ConnectionName, Cow<'s, str>, &'s str, &'s str);

/// Who should hold what, according to the policies, over the actual state.
pub struct Desired<'s> {
    /// Each wanted grant, with the policies (by position in the set) that want it.
    pub grants: HashMap<GrantKey<'s>, BTreeSet<usize>>,
    /// Every resource some policy names, with the policies that name it:
    /// grantflow judges and changes grants on these only.
    pub managed: HashMap<(&'s ConnectionName, &'s str), BTreeSet<usize>>,
    /// Each connection's accounts matched to the directory's people.
    pub correlated: BTreeMap<&'s ConnectionName, Correlated<'s>>,
    /// What could not be planned, and why (no account, ambiguous match).
    pub notes: Vec<String>,
}

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
    let augmented = with_declared(policies, actual);
    let actual_declared = augmented.as_ref();
    let people = directory_people(actual)?;
    let desired = desired_access(policies, actual_declared, &people)?;
    let indexes: BTreeMap<&ConnectionName, Index<'_>> = actual_declared
        .snapshots
        .iter()
        .map(|(name, snapshot)| (name, Index::new(snapshot)))
        .collect();

    let mut changes: Vec<(OpKind, ConnectionName, Vec<String>)> = Vec::new();
    for ((connection, account_id, resource_id, entitlement), wanted_by) in &desired.grants {
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
                login: PlannedId::parse(account_id)
                    .pending_name()
                    .unwrap_or(account_id)
                    .to_string(),
            },
        };
        let kind = OpKind::AddGrant {
            account,
            resource: resource_ref(resource),
            entitlement: entitlement.to_string(),
        };
        changes.push((
            kind,
            (*connection).clone(),
            policy_reasons(policies, wanted_by),
        ));
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
                || !desired
                    .managed
                    .contains_key(&(connection, grant.resource_id.as_str()))
            {
                continue;
            }
            let key = (
                connection,
                Cow::Borrowed(grant.account_id.as_str()),
                grant.resource_id.as_str(),
                grant.entitlement.as_str(),
            );
            if desired.grants.contains_key(&key) {
                continue;
            }
            // An account two people match is reported, not acted on.
            if desired.correlated.get(connection).is_some_and(|c| {
                c.ambiguous
                    .iter()
                    .any(|a| a.accounts.contains(&grant.account_id))
            }) {
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

    let wiring = plan_creations(policies, actual, &actual_declared.snapshots, &mut changes);
    let directory_first = DirectoryFirst {
        directory: &actual.directory,
        correlated: &desired.correlated,
    };
    build_plan(
        changes,
        actual,
        origin,
        now,
        desired.notes,
        &wiring,
        Some(&directory_first),
    )
}

/// The actual state with every resource the policy files declare (and every
/// resource a push creates) that the last sync lacks added as pending
/// (`pending:<name>`), so grants on it can be planned. Borrowed as it is
/// when nothing is missing.
pub fn with_declared<'a>(policies: &PolicySet, actual: &'a ActualState) -> Cow<'a, ActualState> {
    match policies.with_declared(&actual.snapshots) {
        Cow::Borrowed(_) => Cow::Borrowed(actual),
        Cow::Owned(snapshots) => Cow::Owned(ActualState {
            directory: actual.directory.clone(),
            snapshots,
            sync_ids: actual.sync_ids.clone(),
            digests: actual.digests.clone(),
            correlation: actual.correlation.clone(),
        }),
    }
}

/// What ordering a person's access directory-first needs.
struct DirectoryFirst<'a, 's> {
    directory: &'a ConnectionName,
    correlated: &'a BTreeMap<&'s ConnectionName, Correlated<'s>>,
}

/// A person's access elsewhere follows their directory access (single
/// sign-on and provisioning key off the directory's groups): their additions
/// in other systems wait for their additions in the directory, and their
/// removals from the directory wait until the other systems took access away.
fn order_directory_first(operations: &mut [Operation], first: &DirectoryFirst<'_, '_>) {
    let correlated = first.correlated;
    let person_of = |op: &Operation| -> Option<String> {
        let account = op.account()?;
        if let Some(email) = account.pending_email() {
            return Some(email.to_string());
        }
        correlated
            .get(&op.connection)?
            .person_of
            .get(account.id.as_str())
            .cloned()
    };
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

/// `policy <name>` for each policy position, as a change's reasons.
pub fn policy_reasons(policies: &PolicySet, positions: &BTreeSet<usize>) -> Vec<String> {
    positions
        .iter()
        .filter_map(|i| policies.policies.get(*i))
        .map(|policy| format!("policy {}", policy.name))
        .collect()
}

/// The people of the directory connection.
pub fn directory_people(actual: &ActualState) -> Result<Vec<Person>, PlanError> {
    actual
        .snapshots
        .get(&actual.directory)
        .map(Snapshot::people)
        .ok_or_else(|| PlanError::DirectoryNotSynced(actual.directory.clone()))
}

/// Evaluates every policy for every person of `people` (the directory's).
pub fn desired_access<'s>(
    policies: &PolicySet,
    actual: &'s ActualState,
    people: &[Person],
) -> Result<Desired<'s>, PlanError> {
    policies
        .check(&actual.snapshots, &actual.directory)
        .map_err(|d| PlanError::Policy(d.to_string()))?;

    let mut desired: HashMap<GrantKey<'s>, BTreeSet<usize>> = HashMap::new();
    let mut managed: HashMap<(&'s ConnectionName, &'s str), BTreeSet<usize>> = HashMap::new();
    let mut notes = Vec::new();
    let correlated: BTreeMap<&'s ConnectionName, Correlated<'s>> = actual
        .snapshots
        .iter()
        .map(|(name, snapshot)| (name, correlate(snapshot, people, &actual.correlation)))
        .collect();
    for (connection, matches) in &correlated {
        for ambiguity in &matches.ambiguous {
            notes.push(format!(
                "{} matches more than one account in {connection} by {} ({}); nothing is granted or removed for it until that is resolved",
                ambiguity.person,
                ambiguity.matched_on,
                ambiguity.accounts.join(", ")
            ));
        }
    }

    // Each policy's grants resolve to the same resources for everyone.
    let mut resolved: Vec<Vec<(&'s ConnectionName, &'s Resource, &'s str)>> = Vec::new();
    for (position, policy) in policies.policies.iter().enumerate() {
        let mut grants = Vec::new();
        for grant in &policy.grants {
            let (resource, entitlement) =
                grantflow_policy::resolve(grant, &actual.snapshots).map_err(PlanError::Policy)?;
            let Some((connection, _)) = actual.snapshots.get_key_value(&grant.connection) else {
                continue;
            };
            // Keys borrow from the snapshot: the native entitlement is one the resource lists.
            let Some(entitlement) = resource
                .entitlements
                .iter()
                .find(|e| **e == entitlement)
                .map(String::as_str)
            else {
                return Err(PlanError::Policy(format!(
                    "{} \"{}\": entitlement \"{entitlement}\" is not one it offers",
                    resource.kind, resource.name
                )));
            };
            if grant.authoritative {
                managed
                    .entry((connection, resource.id.as_str()))
                    .or_default()
                    .insert(position);
            }
            grants.push((connection, resource, entitlement));
        }
        resolved.push(grants);
    }
    let position: BTreeMap<&str, usize> = policies
        .policies
        .iter()
        .enumerate()
        .map(|(index, policy)| (policy.name.as_str(), index))
        .collect();

    for person in people {
        // A departed person is granted nothing; whatever they still hold on
        // managed resources is planned for removal.
        if person.state.is_deprovisioned() {
            continue;
        }
        let matched = policies.matching(person).map_err(PlanError::Policy)?;
        for policy in matched {
            let Some(position) = position.get(policy.name.as_str()) else {
                continue;
            };
            let Some(grants) = resolved.get(*position) else {
                continue;
            };
            for (connection, resource, entitlement) in grants {
                let (Some(matches), Some(snapshot)) = (
                    correlated.get(connection),
                    actual.snapshots.get(*connection),
                ) else {
                    continue;
                };
                let account_id: Cow<'s, str> = match matches.account_for(&person.email) {
                    Some(account) => Cow::Borrowed(account.id.as_str()),
                    None if matches.is_ambiguous(&person.email) => continue,
                    // The system makes the account itself at the person's
                    // first sign-in: plan the grant; it waits until then.
                    None if snapshot.accounts_created_on_first_login => {
                        Cow::Owned(AccountRef::pending(&person.email).id)
                    }
                    None => {
                        notes.push(format!(
                            "{} has no account in {connection}; policy \"{}\" cannot grant {} \"{}\" yet",
                            person.email, policy.name, resource.kind, resource.name
                        ));
                        continue;
                    }
                };
                desired
                    .entry((*connection, account_id, resource.id.as_str(), *entitlement))
                    .or_default()
                    .insert(*position);
            }
        }
    }
    Ok(Desired {
        grants: desired,
        managed,
        correlated,
        notes,
    })
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
        None,
    )
    .map_err(|e| RequestError::Invalid(e.to_string()))
}

pub fn resource_ref(resource: &Resource) -> ResourceRef {
    ResourceRef {
        id: resource.id.clone(),
        kind: resource.kind.clone(),
        name: resource.name.clone(),
    }
}

/// Lookups planning does for every person, built once per snapshot so a
/// plan over 100,000 people stays linear.
struct Index<'s> {
    accounts: HashMap<&'s str, &'s Account>,
    resources: HashMap<&'s str, &'s Resource>,
    held: HashSet<(&'s str, &'s str, &'s str)>,
}

impl<'s> Index<'s> {
    fn new(snapshot: &'s Snapshot) -> Self {
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

    fn holds(&self, account: &str, resource: &str, entitlement: &str) -> bool {
        self.held.contains(&(account, resource, entitlement))
    }
}

/// A plan from changes decided elsewhere (drift remediation): ordered,
/// numbered, with dependencies and review, like every other plan.
pub fn plan_changes(
    changes: Vec<(OpKind, ConnectionName, Vec<String>)>,
    actual: &ActualState,
    origin: &str,
    now: DateTime<Utc>,
    notes: Vec<String>,
) -> Result<Plan, PlanError> {
    build_plan(
        changes,
        actual,
        origin,
        now,
        notes,
        &Wiring::default(),
        None,
    )
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
    if let Some(first) = directory_first {
        order_directory_first(&mut operations, first);
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

/// The states, as planned from, of every account a plan gives access to:
/// the account itself and the person's directory account.
pub fn preconditions(operations: &[Operation], actual: &ActualState) -> Vec<Precondition> {
    let mut found: BTreeMap<(ConnectionName, String), Precondition> = BTreeMap::new();
    let directory = actual.snapshots.get(&actual.directory);
    for op in operations.iter().filter(|op| op.widens_access()) {
        let (OpKind::AddGrant { account, .. }, Some(snapshot)) =
            (&op.kind, actual.snapshots.get(&op.connection))
        else {
            continue;
        };
        let Some(held) = snapshot.account(&account.id) else {
            continue;
        };
        let mut note = |connection: &ConnectionName, a: &Account| {
            found
                .entry((connection.clone(), a.id.clone()))
                .or_insert_with(|| Precondition {
                    connection: connection.clone(),
                    account_id: a.id.clone(),
                    login: a.login.clone(),
                    state: a.state,
                });
        };
        note(&op.connection, held);
        let person = held
            .email
            .as_deref()
            .and_then(|email| directory?.account_by_login_or_email(email));
        if let Some(person) = person {
            note(&actual.directory, person);
        }
    }
    found.into_values().collect()
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

#[cfg(test)]
mod tests;
