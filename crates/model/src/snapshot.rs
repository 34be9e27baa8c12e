//! What a connection holds at one instant: accounts, resources and grants,
//! in the common vocabulary, plus the people derived from the directory.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

use crate::{ConnectionName, LifecycleState, ProfileSchema, SystemKind};

/// A human, keyed by work email (the canonical identifier across systems).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub email: String,
    pub login: String,
    pub display_name: String,
    /// The directory's own status for the person (for Okta: ACTIVE,
    /// PASSWORD_EXPIRED, SUSPENDED, …), as people read it.
    pub status: String,
    /// The common lifecycle state the directory's status maps to; what
    /// conditions (`person.active`, `person.state`) and drift decide on.
    #[serde(default)]
    pub state: LifecycleState,
    /// Everything the directory knows (department, title, manager, location,
    /// employment status, custom attributes), as policy conditions see it.
    pub attributes: Map<String, Value>,
}

/// An identity inside one system; matched to a person by email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// The system's own id for the account.
    pub id: String,
    pub login: String,
    pub email: Option<String>,
    pub display_name: String,
    /// The system's own status for the account, as people read it.
    pub status: String,
    /// The common lifecycle state the connector maps `status` to.
    #[serde(default)]
    pub state: LifecycleState,
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// What kind of thing a resource is inside its system ("group", "app",
/// "team", "channel", …). A string so new systems bring their own kinds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceKind(pub String);

impl ResourceKind {
    pub fn new(kind: impl Into<String>) -> Self {
        Self(kind.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Anything access is granted on: an Okta group or app, a GitHub team, …
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub kind: ResourceKind,
    /// The human name policies refer to (an Okta group's name, an app's label).
    pub name: String,
    /// Entitlements a policy may ask for on this resource; the first is the
    /// default when a policy names none.
    pub entitlements: Vec<String>,
    /// The common access vocabulary (`read`, `write`, `admin`, …) mapped to
    /// this resource's native entitlements, so a policy may say `write` for a
    /// GitHub repository (`push`) or a GitLab group (`access_level:30`).
    #[serde(default)]
    pub entitlement_aliases: BTreeMap<String, String>,
    /// Whether grantflow may add and remove grants here (an Okta APP_GROUP or
    /// the built-in Everyone group is read-only).
    pub writable: bool,
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// Why an account holds an entitlement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GrantSource {
    /// Assigned to the account itself; the only kind grantflow adds or removes.
    Direct,
    /// Held because the account is in a group that holds it.
    Group { group_id: String },
    /// Made by the system's own automation (an Okta group rule).
    Rule { rule_id: String },
}

/// An account holding one entitlement on one resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub account_id: String,
    pub resource_id: String,
    pub entitlement: String,
    pub source: GrantSource,
}

/// A resource holding an entitlement on another resource, which its members
/// inherit: an Okta group assigned to an app.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceGrant {
    pub holder_id: String,
    pub resource_id: String,
    pub entitlement: String,
}

/// Everything one connection held when it was synced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub connection: Option<ConnectionName>,
    pub system: Option<SystemKind>,
    pub accounts: Vec<Account>,
    pub resources: Vec<Resource>,
    pub grants: Vec<Grant>,
    #[serde(default)]
    pub resource_grants: Vec<ResourceGrant>,
    /// The system creates a person's account at their first sign-in (GitLab
    /// with SSO): grants for people without an account yet are planned and
    /// wait for it, instead of being skipped.
    #[serde(default)]
    pub accounts_created_on_first_login: bool,
    /// The profile attributes the system declares for its users (the
    /// directory's user schema), when it publishes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_schema: Option<ProfileSchema>,
}

impl Snapshot {
    pub fn new(connection: ConnectionName, system: SystemKind) -> Self {
        Self {
            connection: Some(connection),
            system: Some(system),
            ..Self::default()
        }
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }

    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.id == id)
    }

    /// Finds a resource by kind and name, as a policy names it. Names are
    /// compared exactly: two Okta groups may differ only in case. When no
    /// resource has that name, the one whose vendor id it is (an AWS account
    /// is named by its alias where one is configured, and still known by its
    /// 12-digit id).
    pub fn resource_by_name(&self, kind: &str, name: &str) -> Option<&Resource> {
        let of_kind = || self.resources.iter().filter(|r| r.kind.as_str() == kind);
        of_kind()
            .find(|r| r.name == name)
            .or_else(|| of_kind().find(|r| r.id == name))
    }

    /// Finds the account for a login or email, case-insensitively as Okta does.
    pub fn account_by_login_or_email(&self, login_or_email: &str) -> Option<&Account> {
        let wanted = login_or_email.to_lowercase();
        self.accounts.iter().find(|a| {
            a.login.to_lowercase() == wanted
                || a.email.as_deref().map(str::to_lowercase).as_deref() == Some(wanted.as_str())
        })
    }

    /// What members of `holder_id` inherit: the resources it is granted on.
    pub fn inherited_through(&self, holder_id: &str) -> Vec<&Resource> {
        self.resource_grants
            .iter()
            .filter(|g| g.holder_id == holder_id)
            .filter_map(|g| self.resource(&g.resource_id))
            .collect()
    }

    /// Grants per account id, for lookups during planning.
    pub fn grants_by_account(&self) -> BTreeMap<&str, Vec<&Grant>> {
        let mut map: BTreeMap<&str, Vec<&Grant>> = BTreeMap::new();
        for grant in &self.grants {
            map.entry(grant.account_id.as_str())
                .or_default()
                .push(grant);
        }
        map
    }

    /// The people this directory knows: every account with an email. The
    /// directory connection (Okta) is the source of people and attributes.
    pub fn people(&self) -> Vec<Person> {
        self.accounts
            .iter()
            .filter_map(|account| {
                let email = account.email.clone()?;
                Some(Person {
                    email,
                    login: account.login.clone(),
                    display_name: account.display_name.clone(),
                    status: account.status.clone(),
                    state: account.state,
                    attributes: account.attributes.clone(),
                })
            })
            .collect()
    }

    /// A stable digest of the snapshot's content; a plan records the digest
    /// of the state it was computed from.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        // The same bytes as serialising a sorted copy, without the copy or the buffer: a
        // million-grant snapshot is ~100 MB of JSON, hashed as it is written.
        let mut accounts: Vec<&Account> = self.accounts.iter().collect();
        accounts.sort_by(|a, b| a.id.cmp(&b.id));
        let mut resources: Vec<&Resource> = self.resources.iter().collect();
        resources.sort_by(|a, b| a.id.cmp(&b.id));
        let mut grants: Vec<&Grant> = self.grants.iter().collect();
        grants.sort_unstable();
        let mut resource_grants: Vec<&ResourceGrant> = self.resource_grants.iter().collect();
        resource_grants.sort_unstable();
        let normalised = Normalised {
            connection: &self.connection,
            system: &self.system,
            accounts,
            resources,
            grants,
            resource_grants,
            accounts_created_on_first_login: self.accounts_created_on_first_login,
            profile_schema: &self.profile_schema,
        };
        let mut hasher = HashWriter(Sha256::new());
        {
            // Writing into a hasher cannot fail, and every field serialises.
            let mut buffered = std::io::BufWriter::with_capacity(1 << 16, &mut hasher);
            let _ = serde_json::to_writer(&mut buffered, &normalised);
            let _ = std::io::Write::flush(&mut buffered);
        }
        hex::encode(hasher.0.finalize())
    }
}

/// [`Snapshot`]'s serialised form over borrowed, sorted parts: field for field the same, so
/// the digest equals the hash of a sorted copy's JSON.
#[derive(Serialize)]
struct Normalised<'a> {
    connection: &'a Option<ConnectionName>,
    system: &'a Option<SystemKind>,
    accounts: Vec<&'a Account>,
    resources: Vec<&'a Resource>,
    grants: Vec<&'a Grant>,
    resource_grants: Vec<&'a ResourceGrant>,
    accounts_created_on_first_login: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile_schema: &'a Option<ProfileSchema>,
}

struct HashWriter(sha2::Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        sha2::Digest::update(&mut self.0, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Snapshot {
    /// Brings the snapshot up to date with an operation grantflow applied
    /// after it was synced, so the next command reads its own writes without
    /// a sync (a later sync supersedes this). Applying a change that is
    /// already reflected changes nothing. Objects a plan names by a pending
    /// id keep that id until a sync learns the real one.
    pub fn apply_change(&mut self, op: &crate::Operation) {
        use crate::OpKind;
        match &op.kind {
            OpKind::AddGrant {
                account,
                resource,
                entitlement,
            } => {
                if self.account(&account.id).is_none() {
                    return;
                }
                self.add_grant(Grant {
                    account_id: account.id.clone(),
                    resource_id: resource.id.clone(),
                    entitlement: entitlement.clone(),
                    source: GrantSource::Direct,
                });
                // Members inherit what their new group holds.
                let inherited: Vec<(String, String)> = self
                    .resource_grants
                    .iter()
                    .filter(|g| g.holder_id == resource.id)
                    .map(|g| (g.resource_id.clone(), g.entitlement.clone()))
                    .collect();
                for (target, entitlement) in inherited {
                    self.add_grant(Grant {
                        account_id: account.id.clone(),
                        resource_id: target,
                        entitlement,
                        source: GrantSource::Group {
                            group_id: resource.id.clone(),
                        },
                    });
                }
            }
            OpKind::RemoveGrant {
                account,
                resource,
                entitlement,
            } => {
                let group = GrantSource::Group {
                    group_id: resource.id.clone(),
                };
                self.grants.retain(|g| {
                    let removed_itself = g.account_id == account.id
                        && g.resource_id == resource.id
                        && g.entitlement == *entitlement
                        && g.source == GrantSource::Direct;
                    let inherited_through_it = g.account_id == account.id && g.source == group;
                    !(removed_itself || inherited_through_it)
                });
            }
            OpKind::AddGroupGrant {
                group,
                resource,
                entitlement,
            } => {
                self.add_resource_grant(&group.id, &resource.id, entitlement);
                // The group's members inherit it.
                let members: Vec<String> = self
                    .grants
                    .iter()
                    .filter(|g| g.resource_id == group.id && g.source == GrantSource::Direct)
                    .map(|g| g.account_id.clone())
                    .collect();
                for member in members {
                    self.add_grant(Grant {
                        account_id: member,
                        resource_id: resource.id.clone(),
                        entitlement: entitlement.clone(),
                        source: GrantSource::Group {
                            group_id: group.id.clone(),
                        },
                    });
                }
            }
            OpKind::PushGroup {
                group, resource, ..
            } => {
                self.add_resource_grant(&group.id, &resource.id, crate::PUSH_ENTITLEMENT);
            }
            OpKind::RemoveGroupGrant {
                group,
                resource,
                entitlement,
            } => {
                self.resource_grants.retain(|g| {
                    !(g.holder_id == group.id
                        && g.resource_id == resource.id
                        && g.entitlement == *entitlement)
                });
                let source = GrantSource::Group {
                    group_id: group.id.clone(),
                };
                self.grants
                    .retain(|g| !(g.resource_id == resource.id && g.source == source));
            }
            OpKind::AccountAction {
                account, action, ..
            } => {
                let Some(now) = account_state_after(action) else {
                    return;
                };
                if action == "delete" {
                    self.accounts.retain(|a| a.id != account.id);
                    self.grants.retain(|g| g.account_id != account.id);
                    return;
                }
                if let Some(found) = self.accounts.iter_mut().find(|a| a.id == account.id) {
                    found.state = now;
                    found.status = now.as_str().to_ascii_uppercase();
                }
            }
            OpKind::UpdateResource {
                resource, after, ..
            } => {
                if let Some(found) = self.resources.iter_mut().find(|r| {
                    r.kind == resource.kind && (r.id == resource.id || r.name == resource.name)
                }) {
                    for (field, value) in after {
                        found.attributes.insert(field.clone(), value.clone());
                    }
                }
            }
            OpKind::UpdateProfile { account, after, .. } => {
                if let Some(found) = self.accounts.iter_mut().find(|a| a.id == account.id) {
                    for (field, value) in after {
                        found.attributes.insert(field.clone(), value.clone());
                    }
                }
            }
            OpKind::CreateAccount {
                account,
                attributes,
                options,
                ..
            } => {
                if self.account_by_login_or_email(&account.login).is_some() {
                    return;
                }
                let text = |name: &str| attributes.get(name).and_then(Value::as_str);
                let email = text("email")
                    .or(account.pending_email())
                    .map(str::to_lowercase);
                let names: Vec<&str> = [text("firstName"), text("lastName")]
                    .into_iter()
                    .flatten()
                    .collect();
                let state = if options.activate {
                    LifecycleState::Active
                } else {
                    LifecycleState::Pending
                };
                self.accounts.push(Account {
                    id: account.id.clone(),
                    login: account.login.clone(),
                    email,
                    display_name: if names.is_empty() {
                        account.login.clone()
                    } else {
                        names.join(" ")
                    },
                    status: state.as_str().to_ascii_uppercase(),
                    state,
                    attributes: attributes.clone(),
                });
            }
            OpKind::RetireAccount { account, mode, .. } => match mode.state_after() {
                Some(now) => {
                    if let Some(found) = self.accounts.iter_mut().find(|a| a.id == account.id) {
                        found.state = now;
                        found.status = now.as_str().to_ascii_uppercase();
                    }
                }
                None => {
                    self.accounts.retain(|a| a.id != account.id);
                    self.grants.retain(|g| g.account_id != account.id);
                }
            },
            OpKind::DeleteResource { resource } => {
                let Some(id) = self
                    .resources
                    .iter()
                    .find(|r| r.kind == resource.kind && r.name == resource.name)
                    .map(|r| r.id.clone())
                else {
                    return;
                };
                self.resources.retain(|r| r.id != id);
                let through = GrantSource::Group {
                    group_id: id.clone(),
                };
                self.grants
                    .retain(|g| g.resource_id != id && g.source != through);
                self.resource_grants
                    .retain(|g| g.holder_id != id && g.resource_id != id);
            }
            OpKind::DeactivatePush { group, resource } | OpKind::DeletePush { group, resource } => {
                self.resource_grants.retain(|g| {
                    !(g.holder_id == group.id
                        && g.resource_id == resource.id
                        && g.entitlement == crate::PUSH_ENTITLEMENT)
                });
            }
            OpKind::CreateResource { resource, spec } => {
                if self
                    .resource_by_name(resource.kind.as_str(), &resource.name)
                    .is_some()
                {
                    return;
                }
                let entitlements = if resource.kind.as_str() == "group" {
                    vec!["member".to_string()]
                } else {
                    vec![]
                };
                self.resources.push(Resource {
                    id: resource.id.clone(),
                    kind: resource.kind.clone(),
                    name: resource.name.clone(),
                    entitlement_aliases: entitlements
                        .iter()
                        .map(|e| (e.clone(), e.clone()))
                        .collect(),
                    entitlements,
                    writable: true,
                    // What the sync will read is what was declared.
                    attributes: spec.clone(),
                });
            }
        }
    }

    fn add_resource_grant(&mut self, holder: &str, resource: &str, entitlement: &str) {
        let held = ResourceGrant {
            holder_id: holder.to_string(),
            resource_id: resource.to_string(),
            entitlement: entitlement.to_string(),
        };
        if !self.resource_grants.contains(&held) {
            self.resource_grants.push(held);
        }
    }

    fn add_grant(&mut self, grant: Grant) {
        if !self.grants.contains(&grant) {
            self.grants.push(grant);
        }
    }
}

/// The lifecycle state an account action leaves the account in, for the
/// actions that change it.
fn account_state_after(action: &str) -> Option<LifecycleState> {
    Some(match action {
        "suspend" => LifecycleState::Suspended,
        "unsuspend" | "activate" | "reactivate" | "unlock" => LifecycleState::Active,
        "deactivate" | "deprovision" | "delete" => LifecycleState::Deprovisioned,
        "expire_password" => LifecycleState::PasswordExpired,
        _ => return None,
    })
}

#[cfg(test)]
mod digest_tests {
    use super::*;

    fn account(id: &str) -> Account {
        Account {
            id: id.into(),
            login: format!("{id}@example.com"),
            email: Some(format!("{id}@example.com")),
            display_name: id.into(),
            status: "ACTIVE".into(),
            state: LifecycleState::default(),
            attributes: [("department".to_string(), Value::String("Ops".into()))]
                .into_iter()
                .collect(),
        }
    }

    fn grant(account: &str, resource: &str) -> Grant {
        Grant {
            account_id: account.into(),
            resource_id: resource.into(),
            entitlement: "member".into(),
            source: GrantSource::Direct,
        }
    }

    /// What the digest always was: the hash of a sorted copy's JSON. Stored digests must keep
    /// meaning the same thing.
    fn digest_of_sorted_copy(snapshot: &Snapshot) -> String {
        let mut sorted = snapshot.clone();
        sorted.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        sorted.resources.sort_by(|a, b| a.id.cmp(&b.id));
        sorted.grants.sort();
        sorted.resource_grants.sort();
        crate::sha256_hex(&serde_json::to_vec(&sorted).expect("json"))
    }

    #[test]
    fn the_digest_is_the_hash_of_the_sorted_snapshot_and_ignores_order() {
        let mut snapshot = Snapshot::new(ConnectionName::new("okta"), SystemKind::new("okta"));
        snapshot.accounts = vec![account("u3"), account("u1"), account("u2")];
        snapshot.grants = vec![grant("u3", "g1"), grant("u1", "g2"), grant("u1", "g1")];
        snapshot.resource_grants = vec![
            ResourceGrant {
                holder_id: "g2".into(),
                resource_id: "a1".into(),
                entitlement: "assigned".into(),
            },
            ResourceGrant {
                holder_id: "g1".into(),
                resource_id: "a1".into(),
                entitlement: "assigned".into(),
            },
        ];
        assert_eq!(snapshot.digest(), digest_of_sorted_copy(&snapshot));
        let mut reordered = snapshot.clone();
        reordered.accounts.reverse();
        reordered.grants.reverse();
        assert_eq!(reordered.digest(), snapshot.digest());
        reordered.grants.pop();
        assert_ne!(reordered.digest(), snapshot.digest());
        snapshot.accounts_created_on_first_login = true;
        assert_eq!(snapshot.digest(), digest_of_sorted_copy(&snapshot));
    }
}
