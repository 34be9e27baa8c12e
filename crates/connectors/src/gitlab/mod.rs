//! The GitLab connector: users, nested groups, and direct and inherited group membership by access level,
//! through GitLab's REST v4 API. A person whose GitLab user appears only at their first SSO login is addressed
//! as `pending:<email>` and makes `apply` wait instead of fail.
//!
//! It also reads which projects (repositories) each group reaches, for the production-reach graph: every project
//! a group lists (`GET /groups/:id/projects`, one paged listing per group) is a read-only `project` resource named
//! by its `path_with_namespace`, and the group holds a `ResourceGrant` with entitlement `member` on it. A member
//! reaches the project with their level in the group: a subgroup's projects come from the subgroup's own listing,
//! which members of its ancestors reach through their inherited membership of the subgroup (the group grants
//! with a `Group` source); a project shared with the group (listed too, GitLab's `with_shared=true`) is reached
//! at most at the share's `group_access_level`, kept in the project's `shared_with_groups` attribute. Archived
//! projects are included (members can still read them), marked by the `archived` attribute. Project membership
//! itself is not read or managed.
//!
//! With `accounts: admin_api` (self-managed GitLab, an administrator's token) users are created and retired
//! as policies declare (`accounts.rs`); otherwise they appear at the first SSO sign-in, as above, and with
//! `accounts: first_login_admin_retire` the administrator's token still retires a leaver's user.

mod accounts;
mod client;
mod config;
mod mapping;

pub use client::{GitlabClient, GitlabDialect, error_text};
pub use config::{GitlabAccounts, GitlabConfig};
pub use mapping::{ALIASES, PROJECT, PROJECT_MEMBER, level_of, project_id};

use async_trait::async_trait;
use grantflow_model::{
    AccountRef, ConnectionName, Grant, GrantSource, OpKind, Operation, Resource, ResourceGrant,
    SystemKind,
};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

use crate::{Applied, BuildContext, Connector, Description, Failure, Observed, SyncSink};
use mapping::GROUP;

pub const SYSTEM: &str = "gitlab";

pub struct GitlabConnector {
    connection: ConnectionName,
    client: GitlabClient,
    pending_recheck: chrono::Duration,
    accounts_created_on_first_login: bool,
    /// Who makes and retires users.
    accounts: GitlabAccounts,
}

fn id_of(value: &Value) -> Option<u64> {
    value.get("id").and_then(Value::as_u64)
}

fn level_in(value: &Value) -> Option<u8> {
    value
        .get("access_level")
        .and_then(Value::as_u64)
        .and_then(|l| u8::try_from(l).ok())
}

/// The target of one membership operation, once the user is known.
struct Target {
    group: String,
    user: u64,
    level: u8,
}

impl GitlabConnector {
    pub fn new(
        connection: ConnectionName,
        config: &GitlabConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let token = context.secret(&connection, "token", &config.token)?;
        let client = GitlabClient::new(
            SYSTEM,
            GitlabDialect { token },
            config,
            &connection,
            context,
            None,
        )?;
        Ok(Self {
            connection,
            client,
            // Created by grantflow, a user is not waited for.
            accounts_created_on_first_login: config.accounts_created_on_first_login
                && !config.accounts.creates(),
            accounts: config.accounts,
            pending_recheck: chrono::Duration::seconds(
                i64::try_from(config.pending_recheck_seconds).unwrap_or(5),
            ),
        })
    }

    fn unsupported(&self, op: &Operation, why: &str) -> Failure {
        Failure::unsupported(format!(
            "{}: gitlab cannot {} {} on a {} resource: {why}",
            self.connection,
            op.verb(),
            op.entitlement(),
            op.resource().kind
        ))
    }

    /// The GitLab user id for an account: its id, or for `pending:<email>` the user with that email if they
    /// have signed in since (searched by email, which GitLab matches only in full).
    async fn user_id(&self, account: &AccountRef) -> Result<Option<u64>, Failure> {
        let Some(email) = crate::pending_email(account) else {
            return account.id.parse().map(Some).map_err(|_| {
                Failure::permanent(
                    "invalid_account",
                    format!(
                        "{}: {:?} is not a GitLab user id",
                        self.connection, account.id
                    ),
                    None,
                )
            });
        };
        let users = self
            .client
            .get_all("users", &[("search", email)], |_| {})
            .await?;
        Ok(users
            .iter()
            .find(|u| {
                ["email", "public_email"].iter().any(|k| {
                    u.get(*k)
                        .and_then(Value::as_str)
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
                })
            })
            .and_then(id_of))
    }

    fn waiting(&self, account: &AccountRef) -> Failure {
        let who = crate::pending_email(account).unwrap_or(&account.login);
        Failure::Waiting {
            reason: format!("{who} has no GitLab account yet (pending first SSO login)"),
            recheck_at: self.client.now() + self.pending_recheck,
        }
    }

    /// The group, the wanted level and the account of a membership operation; `None` for the user while a
    /// pending person has not signed in yet.
    async fn target<'a>(
        &self,
        op: &'a Operation,
    ) -> Result<(Option<u64>, String, u8, &'a AccountRef), Failure> {
        let (OpKind::AddGrant {
            account,
            resource,
            entitlement,
        }
        | OpKind::RemoveGrant {
            account,
            resource,
            entitlement,
        }) = &op.kind
        else {
            return Err(self.unsupported(op, "only account grants are supported"));
        };
        if resource.kind.as_str() != GROUP {
            return Err(self.unsupported(op, "only groups are supported"));
        }
        let level = level_of(entitlement)
            .ok_or_else(|| self.unsupported(op, "the entitlement is not a GitLab access level"))?;
        let user = self.user_id(account).await?;
        Ok((user, resource.id.clone(), level, account))
    }

    /// The projects a group lists: its own and those shared with it, archived or not. Subgroups' projects are
    /// left to each subgroup's own listing (`include_subgroups=false`), so a project is reached through the group
    /// that owns it and every project is read once per group that lists it. Ordered by id so a project created
    /// while the pages are read cannot shift the offset pages under us (GitLab's default is newest first).
    async fn group_projects(&self, gid: u64) -> Result<Vec<Value>, Failure> {
        self.client
            .get_all(
                &format!("groups/{gid}/projects"),
                &[
                    ("with_shared", "true"),
                    ("include_subgroups", "false"),
                    ("order_by", "id"),
                    ("sort", "asc"),
                ],
                |_| {},
            )
            .await
    }

    /// The user's direct level in the group, if a direct member.
    async fn direct_level(&self, t: &Target) -> Result<Option<u8>, Failure> {
        let path = format!("groups/{}/members/{}", t.group, t.user);
        match self.client.get(&path, &[]).await {
            Ok(r) => Ok(level_in(&r.body)),
            Err(f) if f.is_status(404) => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// The user's effective level (direct or inherited, the highest), if any.
    async fn effective_level(&self, t: &Target) -> Result<Option<u8>, Failure> {
        let path = format!("groups/{}/members/all/{}", t.group, t.user);
        match self.client.get(&path, &[]).await {
            Ok(r) => Ok(level_in(&r.body)),
            Err(f) if f.is_status(404) => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// GitLab refuses a direct level below an inherited one; that refusal means the wanted access is already
    /// held when the inherited level is at least the one wanted.
    async fn below_inherited(&self, t: &Target, refusal: Failure) -> Result<Applied, Failure> {
        match self.effective_level(t).await? {
            Some(effective) if effective >= t.level => Ok(Applied::AlreadyPresent),
            _ => Err(refusal),
        }
    }

    async fn add(&self, t: &Target) -> Result<Applied, Failure> {
        let url = self
            .client
            .url(&format!("groups/{}/members", t.group), &[])?;
        let body = json!({ "user_id": t.user, "access_level": t.level });
        match self.client.send_json(Method::POST, url, Some(body)).await {
            Ok(_) => Ok(Applied::Changed),
            Err(f) if f.is_status(409) => {
                // Already a direct member: the same level is the effect we want; another level is changed.
                if self.direct_level(t).await? == Some(t.level) {
                    return Ok(Applied::AlreadyPresent);
                }
                let url = self
                    .client
                    .url(&format!("groups/{}/members/{}", t.group, t.user), &[])?;
                let body = json!({ "access_level": t.level });
                match self.client.send_json(Method::PUT, url, Some(body)).await {
                    Ok(_) => Ok(Applied::Changed),
                    Err(f) if f.is_status(400) => self.below_inherited(t, f).await,
                    Err(f) => Err(f),
                }
            }
            Err(f) if f.is_status(400) && f.message().contains("inherited membership") => {
                self.below_inherited(t, f).await
            }
            Err(f) => Err(f),
        }
    }

    /// Removes the direct membership only when it is at the level the operation names; any other level is
    /// not this grant (a level change is an addition at the new level).
    async fn remove(&self, t: &Target) -> Result<Applied, Failure> {
        if self.direct_level(t).await? != Some(t.level) {
            return Ok(Applied::AlreadyPresent);
        }
        let url = self
            .client
            .url(&format!("groups/{}/members/{}", t.group, t.user), &[])?;
        match self.client.send_json(Method::DELETE, url, None).await {
            Ok(_) => Ok(Applied::Changed),
            Err(f) if f.is_status(404) => Ok(Applied::AlreadyPresent),
            Err(f) => Err(f),
        }
    }
}

#[async_trait]
impl Connector for GitlabConnector {
    fn describe(&self) -> Description {
        Description {
            system: SystemKind::new(SYSTEM),
            connection: self.connection.clone(),
            base_url: self.client.base().to_string(),
            operations: match self.accounts {
                GitlabAccounts::AdminApi => vec![
                    "add_grant",
                    "remove_grant",
                    "create_account",
                    "retire_account",
                    "update_profile",
                ],
                GitlabAccounts::FirstLoginAdminRetire => {
                    vec![
                        "add_grant",
                        "remove_grant",
                        "retire_account",
                        "update_profile",
                    ]
                }
                GitlabAccounts::FirstLogin => vec!["add_grant", "remove_grant"],
            },
            rate_limit_buckets: vec!["api"],
            accounts_created_on_first_login: self.accounts_created_on_first_login,
        }
    }

    async fn health(&self) -> Result<(), Failure> {
        self.client.get("user", &[]).await.map(|_| ())
    }

    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure> {
        let users = self
            .client
            .get_all("users", &[], |n| sink.progress("users", n as u64))
            .await?;
        for account in users.iter().filter_map(mapping::account) {
            sink.account(account);
        }
        let groups = self
            .client
            .get_all("groups", &[("all_available", "true")], |n| {
                sink.progress("groups", n as u64)
            })
            .await?;
        let parents: BTreeMap<u64, Option<u64>> = groups
            .iter()
            .filter_map(|g| Some((id_of(g)?, g.get("parent_id").and_then(Value::as_u64))))
            .collect();
        // Direct members per group: user id → level.
        let mut direct: BTreeMap<u64, BTreeMap<u64, u8>> = BTreeMap::new();
        for (read, gid) in parents.keys().enumerate() {
            let members = self
                .client
                .get_all(&format!("groups/{gid}/members"), &[], |_| {})
                .await?;
            let levels = members
                .iter()
                .filter_map(|m| Some((id_of(m)?, level_in(m)?)))
                .collect();
            direct.insert(*gid, levels);
            sink.progress("memberships", read as u64 + 1);
        }
        for group in &groups {
            let (Some(gid), Some(resource)) = (id_of(group), mapping::group(group)) else {
                continue;
            };
            for (uid, level) in direct.get(&gid).into_iter().flatten() {
                sink.grant(Grant {
                    account_id: uid.to_string(),
                    resource_id: resource.id.clone(),
                    entitlement: mapping::entitlement(*level),
                    source: GrantSource::Direct,
                });
            }
            // Members of ancestors are members here too, at their highest inherited level.
            let mut inherited: BTreeMap<u64, (u8, u64)> = BTreeMap::new();
            let mut seen = vec![gid];
            let mut parent = parents.get(&gid).copied().flatten();
            while let Some(ancestor) = parent.filter(|a| !seen.contains(a)) {
                seen.push(ancestor);
                for (uid, level) in direct.get(&ancestor).into_iter().flatten() {
                    let entry = inherited.entry(*uid).or_insert((*level, ancestor));
                    if *level > entry.0 {
                        *entry = (*level, ancestor);
                    }
                }
                parent = parents.get(&ancestor).copied().flatten();
            }
            for (uid, (level, from)) in inherited {
                sink.grant(Grant {
                    account_id: uid.to_string(),
                    resource_id: resource.id.clone(),
                    entitlement: mapping::entitlement(level),
                    source: GrantSource::Group {
                        group_id: from.to_string(),
                    },
                });
            }
            sink.resource(resource);
        }
        // Projects after groups: a project shared with several groups is listed by each, and recorded once.
        let mut projects: BTreeMap<String, Resource> = BTreeMap::new();
        let mut reached: BTreeSet<(u64, String)> = BTreeSet::new();
        for (read, gid) in parents.keys().enumerate() {
            for project in self.group_projects(*gid).await? {
                let Some(resource) = mapping::project(&project) else {
                    continue;
                };
                reached.insert((*gid, resource.id.clone()));
                projects.entry(resource.id.clone()).or_insert(resource);
            }
            sink.progress("projects", read as u64 + 1);
        }
        for resource in projects.into_values() {
            sink.resource(resource);
        }
        for (gid, project) in reached {
            sink.resource_grant(ResourceGrant {
                holder_id: gid.to_string(),
                resource_id: project,
                entitlement: mapping::PROJECT_MEMBER.to_string(),
            });
        }
        Ok(())
    }

    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
        match &op.kind {
            OpKind::CreateAccount {
                account,
                attributes,
                options,
                ..
            } => {
                self.accounts_allow(op)?;
                return accounts::create(&self.client, account, attributes, options).await;
            }
            OpKind::RetireAccount { account, mode, .. } => {
                self.accounts_allow(op)?;
                let Some(user) = self.user_id(account).await? else {
                    return Ok(Applied::AlreadyPresent);
                };
                return accounts::retire(&self.client, user, *mode).await;
            }
            OpKind::UpdateProfile { account, after, .. } => {
                self.accounts_allow(op)?;
                let Some(user) = self.user_id(account).await? else {
                    return Err(Failure::permanent(
                        "not_found",
                        format!(
                            "{}: gitlab has no user {} to change the profile of",
                            self.connection, account.login
                        ),
                        None,
                    ));
                };
                return accounts::update_profile(
                    self.connection.as_str(),
                    &self.client,
                    user,
                    after,
                )
                .await;
            }
            _ => {}
        }
        let (user, group, level, account) = self.target(op).await?;
        let widens = op.widens_access();
        let Some(user) = user else {
            // Nobody to remove; someone to wait for.
            return if widens {
                Err(self.waiting(account))
            } else {
                Ok(Applied::AlreadyPresent)
            };
        };
        let t = Target { group, user, level };
        if widens {
            self.add(&t).await
        } else {
            self.remove(&t).await
        }
    }

    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        match &op.kind {
            OpKind::CreateAccount {
                account,
                attributes,
                ..
            } => return accounts::created(&self.client, account, attributes).await,
            OpKind::RetireAccount { account, mode, .. } => {
                let Some(user) = self.user_id(account).await? else {
                    return Ok(Observed::Done);
                };
                return accounts::retired(&self.client, user, *mode).await;
            }
            OpKind::UpdateProfile { account, after, .. } => {
                let Some(user) = self.user_id(account).await? else {
                    return Ok(Observed::NotDone);
                };
                return accounts::profile_updated(&self.client, user, after).await;
            }
            _ => {}
        }
        let (user, group, level, _) = self.target(op).await?;
        let Some(user) = user else {
            return Ok(Observed::of(op, false));
        };
        let t = Target { group, user, level };
        let direct = self.direct_level(&t).await?;
        let present = if op.widens_access() {
            direct == Some(level)
                || (direct.is_none() && self.effective_level(&t).await?.is_some_and(|e| e >= level))
        } else {
            direct == Some(level)
        };
        Ok(Observed::of(op, present))
    }

    fn check(&self, op: &Operation) -> Result<(), Failure> {
        match &op.kind {
            OpKind::CreateAccount {
                account,
                attributes,
                options,
                ..
            } => {
                self.accounts_allow(op)?;
                accounts::check_create(self.connection.as_str(), account, attributes, options)
            }
            OpKind::RetireAccount { .. } => self.accounts_allow(op),
            OpKind::UpdateProfile { account, after, .. } => {
                self.accounts_allow(op)?;
                accounts::check_profile(self.connection.as_str(), account, after)
            }
            _ => Ok(()),
        }
    }
}

impl GitlabConnector {
    /// Users are made here only with `accounts: admin_api`; retired, and their profiles changed, with it
    /// or `first_login_admin_retire` (both hold an administrator's token).
    fn accounts_allow(&self, op: &Operation) -> Result<(), Failure> {
        let (allowed, why) = if matches!(op.kind, OpKind::RetireAccount { .. }) {
            (
                self.accounts.retires(),
                "users appear at their first SSO sign-in and grantflow does not retire them; set `accounts: first_login_admin_retire` or `admin_api` (self-managed GitLab, an administrator's token) to block, deactivate or delete a leaver's user",
            )
        } else if matches!(op.kind, OpKind::UpdateProfile { .. }) {
            (
                self.accounts.administers(),
                "changing a user's profile takes an administrator's token; set `accounts: first_login_admin_retire` or `admin_api` (self-managed GitLab)",
            )
        } else {
            (
                self.accounts.creates(),
                "users appear at their first SSO sign-in; set `accounts: admin_api` (self-managed GitLab, an administrator's token) to manage them",
            )
        };
        if allowed {
            return Ok(());
        }
        Err(Failure::unsupported(format!(
            "{}: gitlab cannot {} {}: {why}",
            self.connection,
            op.verb(),
            op.resource().name
        )))
    }
}
