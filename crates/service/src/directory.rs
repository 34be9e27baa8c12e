//! The directory as readers see it, indexed once per actual state: people in
//! email order with their search keys, and in every system which account is
//! whose and which grants each account holds. A server answers many reads of
//! people between two syncs; scanning every snapshot per request would bound
//! them.
//!
//! Each grant says where it comes from ([`GrantOrigin`]): a group or a rule
//! (the snapshot says), or, for one assigned to the account itself, the
//! policies that want it ([`Wanted`], computed by the caller for this one
//! person), the time-bound request that gave it, or nobody: by hand.

use std::collections::HashMap;
use std::sync::Arc;

use grantflow_model::{ConnectionName, Grant, GrantSource, Person, Snapshot};
use grantflow_planner::ActualState;

use crate::views::{GrantOrigin, PersonAccess, PersonAccount, PersonGrant, PersonSummary};

/// For one person: (connection, resource id, entitlement) → the names of the policies that want it.
/// Keyed without the account: the person's account in each system is the one the index matched.
pub(crate) type Wanted = HashMap<(ConnectionName, String, String), Vec<String>>;

/// One system's side of the index.
struct SystemIndex {
    connection: ConnectionName,
    /// Person email (lower case) → index of their account in the snapshot.
    account_of: HashMap<String, usize>,
    /// Account id → indices of its grants in the snapshot.
    grants_of: HashMap<String, Vec<usize>>,
    /// Resource id → its index in the snapshot.
    resource_at: HashMap<String, usize>,
}

/// The directory's people and their accounts, for one actual state.
pub(crate) struct Directory {
    state: Arc<ActualState>,
    /// In email order (lower case).
    listed: Vec<PersonSummary>,
    /// The people themselves (attributes and all), in the same order: what policies are evaluated on.
    records: Vec<Person>,
    /// Lower-cased email of each listed person, in the same order.
    emails: Vec<String>,
    /// Lower-cased "email login display name" of each listed person.
    search_keys: Vec<String>,
    systems: Vec<SystemIndex>,
    /// Lower-cased email → the person's HR facts (`person.hris`), for those an HRIS knows.
    hris: HashMap<String, serde_json::Map<String, serde_json::Value>>,
}

impl Directory {
    /// Indexes `state`: the directory's people, correlated once with every
    /// system's accounts (all people at once, as the planner correlates).
    pub(crate) fn build(state: Arc<ActualState>) -> Result<Directory, String> {
        let mut people = grantflow_planner::directory_people(&state).map_err(|e| e.to_string())?;
        people.sort_by_cached_key(|p| p.email.to_lowercase());
        let listed: Vec<PersonSummary> = people.iter().map(summary).collect();
        let emails = listed.iter().map(|p| p.email.to_lowercase()).collect();
        let search_keys = listed
            .iter()
            .map(|p| format!("{}\n{}\n{}", p.email, p.login, p.display_name).to_lowercase())
            .collect();
        let systems = state
            .snapshots
            .iter()
            .map(|(connection, snapshot)| index_system(connection, snapshot, &people, &state))
            .collect();
        let hris = people
            .iter()
            .filter_map(|p| {
                let facts = p
                    .attributes
                    .get(grantflow_model::HRIS_ATTRIBUTE)?
                    .as_object()?;
                Some((p.email.to_lowercase(), facts.clone()))
            })
            .collect();
        Ok(Directory {
            state,
            listed,
            records: people,
            emails,
            search_keys,
            systems,
            hris,
        })
    }

    pub(crate) fn state(&self) -> &Arc<ActualState> {
        &self.state
    }

    /// The people whose email, login or name contains `q` (any case), in
    /// email order, starting after the email `after`.
    pub(crate) fn matching<'d>(
        &'d self,
        q: Option<&str>,
        after: Option<&str>,
    ) -> impl Iterator<Item = &'d PersonSummary> + 'd {
        let q = q.map(str::to_lowercase);
        let start = after.map_or(0, |after| {
            let after = after.to_lowercase();
            self.emails.partition_point(|email| *email <= after)
        });
        self.listed[start..]
            .iter()
            .zip(&self.search_keys[start..])
            .filter(move |(_, key)| q.as_deref().is_none_or(|q| key.contains(q)))
            .map(|(person, _)| person)
    }

    /// The directory's record of one person (by email, any case).
    pub(crate) fn record(&self, email: &str) -> Option<&Person> {
        let at = self.emails.binary_search(&email.to_lowercase()).ok()?;
        self.records.get(at)
    }

    /// One person and their accounts, with grants, in every system; a grant on an account itself is
    /// not attributed to a policy (see [`Directory::person_with`]).
    pub(crate) fn person(&self, email: &str) -> Option<PersonAccess> {
        self.person_with(email, None, None)
    }

    /// One person and their accounts, with grants and where each comes from, in every system.
    /// `policies` is what the policies want for this person, `None` when they were not evaluated
    /// (a grant assigned directly then says only that); `now` decides which time-bound requests are still
    /// in force (without it, every one the state holds: those were in force when it was read).
    pub(crate) fn person_with(
        &self,
        email: &str,
        policies: Option<&Wanted>,
        now: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Option<PersonAccess> {
        let wanted = email.to_lowercase();
        let at = self.emails.binary_search(&wanted).ok()?;
        let origins = Origins {
            state: &self.state,
            policies,
            now,
        };
        let accounts = self
            .systems
            .iter()
            .filter_map(|system| {
                let snapshot = self.state.snapshots.get(&system.connection)?;
                let account = snapshot.accounts.get(*system.account_of.get(&wanted)?)?;
                let grants = system
                    .grants_of
                    .get(&account.id)
                    .map(|held| grants(snapshot, system, held, &origins))
                    .unwrap_or_default();
                Some(PersonAccount {
                    connection: system.connection.to_string(),
                    system: snapshot
                        .system
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    account_id: account.id.clone(),
                    login: account.login.clone(),
                    status: account.status.clone(),
                    state: account.state,
                    grants,
                })
            })
            .collect();
        Some(PersonAccess {
            person: self.listed[at].clone(),
            accounts,
            hris: self.hris.get(&wanted).cloned(),
            policy_problem: None,
        })
    }
}

fn summary(person: &Person) -> PersonSummary {
    PersonSummary {
        email: person.email.clone(),
        login: person.login.clone(),
        display_name: person.display_name.clone(),
        status: person.status.clone(),
        state: person.state,
    }
}

fn index_system(
    connection: &ConnectionName,
    snapshot: &Snapshot,
    people: &[Person],
    state: &ActualState,
) -> SystemIndex {
    let correlated = grantflow_planner::correlate(snapshot, people, &state.correlation);
    let position: HashMap<&str, usize> = snapshot
        .accounts
        .iter()
        .enumerate()
        .map(|(at, account)| (account.id.as_str(), at))
        .collect();
    let account_of = correlated
        .account_of
        .iter()
        .filter_map(|(email, account)| Some((email.clone(), *position.get(account.id.as_str())?)))
        .collect();
    let mut grants_of: HashMap<String, Vec<usize>> = HashMap::new();
    for (at, grant) in snapshot.grants.iter().enumerate() {
        grants_of
            .entry(grant.account_id.clone())
            .or_default()
            .push(at);
    }
    let resource_at = snapshot
        .resources
        .iter()
        .enumerate()
        .map(|(at, resource)| (resource.id.clone(), at))
        .collect();
    SystemIndex {
        connection: connection.clone(),
        account_of,
        grants_of,
        resource_at,
    }
}

/// What tells where a person's grants come from.
struct Origins<'a> {
    state: &'a ActualState,
    policies: Option<&'a Wanted>,
    now: Option<chrono::DateTime<chrono::Utc>>,
}

impl Origins<'_> {
    /// A group's name for a grant through it (its id when the sync lacks the group), a rule's id; for a
    /// grant on the account itself, the policies that want it first (they are what keeps it: a request's
    /// end does not take away what a policy wants), then the time-bound request in force that gave it,
    /// else by hand.
    fn of(
        &self,
        connection: &ConnectionName,
        system: &SystemIndex,
        snapshot: &Snapshot,
        grant: &Grant,
    ) -> GrantOrigin {
        match &grant.source {
            GrantSource::Group { group_id } => GrantOrigin::Group {
                group: system
                    .resource_at
                    .get(group_id)
                    .and_then(|at| snapshot.resources.get(*at))
                    .map_or_else(|| group_id.clone(), |group| group.name.clone()),
            },
            GrantSource::Rule { rule_id } => GrantOrigin::Rule {
                rule: rule_id.clone(),
            },
            GrantSource::Direct => {
                let key = (
                    connection.clone(),
                    grant.resource_id.clone(),
                    grant.entitlement.clone(),
                );
                if let Some(policies) = self.policies.and_then(|wanted| wanted.get(&key)) {
                    return GrantOrigin::Policy {
                        policies: policies.clone(),
                    };
                }
                if let Some(given) = self.state.held_until(
                    connection,
                    &grant.account_id,
                    &grant.resource_id,
                    &grant.entitlement,
                    self.now,
                ) {
                    return GrantOrigin::Request {
                        request: given.request.clone(),
                        until: given.until,
                    };
                }
                if self.policies.is_some() {
                    GrantOrigin::ByHand
                } else {
                    GrantOrigin::Direct
                }
            }
        }
    }
}

fn grants(
    snapshot: &Snapshot,
    system: &SystemIndex,
    held: &[usize],
    origins: &Origins<'_>,
) -> Vec<PersonGrant> {
    let mut grants: Vec<PersonGrant> = held
        .iter()
        .filter_map(|at| snapshot.grants.get(*at))
        .map(|g| {
            let resource = system
                .resource_at
                .get(&g.resource_id)
                .and_then(|at| snapshot.resources.get(*at));
            PersonGrant {
                resource_kind: resource
                    .map(|r| r.kind.as_str().to_string())
                    .unwrap_or_default(),
                resource: resource
                    .map(|r| r.name.clone())
                    .unwrap_or_else(|| g.resource_id.clone()),
                entitlement: g.entitlement.clone(),
                source: source_name(&g.source).to_string(),
                origin: origins.of(&system.connection, system, snapshot, g),
            }
        })
        .collect();
    grants.sort_by(|a, b| {
        (&a.resource_kind, &a.resource, &a.entitlement).cmp(&(
            &b.resource_kind,
            &b.resource,
            &b.entitlement,
        ))
    });
    grants
}

fn source_name(source: &GrantSource) -> &'static str {
    match source {
        GrantSource::Direct => "direct",
        GrantSource::Group { .. } => "group",
        GrantSource::Rule { .. } => "rule",
    }
}
