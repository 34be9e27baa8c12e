//! The Jira Cloud connector: Atlassian accounts, project roles (user actors as grants, group actors as resource
//! grants) and group membership, through the REST v3 API; accounts created and deleted as `accounts.rs` says.

mod accounts;
mod client;
mod config;
mod mapping;

pub use client::{JiraClient, JiraDialect, error_text};
pub use config::JiraConfig;

use async_trait::async_trait;
use grantflow_model::{
    AccountRef, ConnectionName, Grant, GrantSource, OpKind, Operation, ResourceGrant, ResourceRef,
    SystemKind,
};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use crate::{Applied, BuildContext, Connector, Description, Failure, Observed, SyncSink};
use mapping::{GROUP, MEMBER, PROJECT, ROLE_PREFIX};

pub const SYSTEM: &str = "jira";

pub struct JiraConnector {
    connection: ConnectionName,
    client: JiraClient,
}

/// Who an operation gives or takes the entitlement from.
enum Actor {
    User(String),
    Group(String),
}

/// What an operation changes.
enum Target {
    /// A role in a project: (project key, role name).
    Role(String, String),
    /// Membership of a group, by name.
    Group(String),
}

/// The role id at the end of a role URL (`…/project/10000/role/10002`), as the jira library reads it.
fn trailing_id(url: &str) -> Option<String> {
    url.rsplit('/')
        .next()
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string)
}

/// The user and group actors of a role, as account ids and group names.
fn actors(role: &Value) -> (Vec<String>, Vec<String>) {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    for actor in role
        .get("actors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match actor.get("type").and_then(Value::as_str) {
            Some("atlassian-user-role-actor") => {
                if let Some(id) = actor
                    .pointer("/actorUser/accountId")
                    .and_then(Value::as_str)
                {
                    users.push(id.to_string());
                }
            }
            Some("atlassian-group-role-actor") => {
                let name = actor
                    .pointer("/actorGroup/name")
                    .or_else(|| actor.get("name"))
                    .and_then(Value::as_str);
                if let Some(name) = name {
                    groups.push(name.to_string());
                }
            }
            _ => {}
        }
    }
    (users, groups)
}

impl JiraConnector {
    pub fn new(
        connection: ConnectionName,
        config: &JiraConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let email = context.secret(&connection, "email", &config.email)?;
        let token = context.secret(&connection, "token", &config.token)?;
        let client = JiraClient::new(
            SYSTEM,
            JiraDialect { email, token },
            config,
            &connection,
            context,
            None,
        )?;
        Ok(Self { connection, client })
    }

    fn unsupported(&self, op: &Operation, why: &str) -> Failure {
        Failure::unsupported(format!(
            "{}: jira cannot {} {} on a {} resource: {why}",
            self.connection,
            op.verb(),
            op.entitlement(),
            op.resource().kind
        ))
    }

    /// The account id; for `pending:<email>` (an account the plan creates, or one made at a first sign-in), the
    /// account with that email if there is one now.
    async fn account_id(&self, account: &AccountRef) -> Result<Option<String>, Failure> {
        let Some(email) = crate::pending_email(account) else {
            return Ok(Some(account.id.clone()));
        };
        accounts::account_by_email(&self.client, email).await
    }

    /// The operation's target and actor; the actor is `None` for a person with no Jira account.
    async fn parse(&self, op: &Operation) -> Result<(Target, Option<Actor>), Failure> {
        let (resource, entitlement): (&ResourceRef, &str) = match &op.kind {
            OpKind::AddGrant {
                resource,
                entitlement,
                ..
            }
            | OpKind::RemoveGrant {
                resource,
                entitlement,
                ..
            }
            | OpKind::AddGroupGrant {
                resource,
                entitlement,
                ..
            }
            | OpKind::RemoveGroupGrant {
                resource,
                entitlement,
                ..
            } => (resource, entitlement),
            _ => return Err(self.unsupported(op, "only grants are supported")),
        };
        let target = match resource.kind.as_str() {
            PROJECT => {
                let role = entitlement.strip_prefix(ROLE_PREFIX).ok_or_else(|| {
                    self.unsupported(op, "a project's entitlements are role:<Role name>")
                })?;
                Target::Role(resource.id.clone(), role.to_string())
            }
            GROUP if entitlement == MEMBER => Target::Group(resource.id.clone()),
            _ => {
                return Err(
                    self.unsupported(op, "only project roles and group membership are supported")
                );
            }
        };
        let actor = match &op.kind {
            OpKind::AddGroupGrant { group, .. } | OpKind::RemoveGroupGrant { group, .. } => {
                if group.kind.as_str() != GROUP || matches!(target, Target::Group(_)) {
                    return Err(self.unsupported(op, "only a group can be given a project role"));
                }
                Some(Actor::Group(group.id.clone()))
            }
            OpKind::AddGrant { account, .. } | OpKind::RemoveGrant { account, .. } => {
                self.account_id(account).await?.map(Actor::User)
            }
            _ => None,
        };
        Ok((target, actor))
    }

    /// The id of a project's role by name.
    async fn role_id(&self, key: &str, role: &str) -> Result<String, Failure> {
        let roles = self.client.get(&format!("project/{key}/role"), &[]).await?;
        roles
            .get(role)
            .and_then(Value::as_str)
            .and_then(trailing_id)
            .ok_or_else(|| Failure::Permanent {
                vendor_code: "404".into(),
                message: format!(
                    "{}: project {key} has no role named {role:?}",
                    self.connection
                ),
                status: Some(404),
            })
    }

    async fn group_members(&self, group: &str) -> Result<Vec<String>, Failure> {
        let members = self
            .client
            .get_all(
                "group/member",
                &[("groupname", group), ("includeInactiveUsers", "true")],
                |_| {},
            )
            .await?;
        Ok(members
            .iter()
            .filter_map(|m| m.get("accountId").and_then(Value::as_str))
            .map(str::to_string)
            .collect())
    }

    /// Whether the actor holds the target now; for a role, also the role's id.
    async fn holds(
        &self,
        target: &Target,
        actor: &Actor,
    ) -> Result<(bool, Option<String>), Failure> {
        match (target, actor) {
            (Target::Role(key, role), actor) => {
                let id = self.role_id(key, role).await?;
                let body = self
                    .client
                    .get(&format!("project/{key}/role/{id}"), &[])
                    .await?;
                let (users, groups) = actors(&body);
                let held = match actor {
                    Actor::User(a) => users.contains(a),
                    Actor::Group(g) => groups.iter().any(|n| n.eq_ignore_ascii_case(g)),
                };
                Ok((held, Some(id)))
            }
            (Target::Group(group), Actor::User(a)) => {
                Ok((self.group_members(group).await?.contains(a), None))
            }
            (Target::Group(_), Actor::Group(_)) => Ok((false, None)),
        }
    }

    async fn change(
        &self,
        target: &Target,
        actor: &Actor,
        role_id: Option<String>,
        add: bool,
    ) -> Result<(), Failure> {
        match target {
            Target::Role(key, _) => {
                let path = format!("project/{key}/role/{}", role_id.unwrap_or_default());
                let (field, who) = match actor {
                    Actor::User(a) => ("user", a.as_str()),
                    Actor::Group(g) => ("group", g.as_str()),
                };
                if add {
                    self.client
                        .send(Method::POST, &path, &[], Some(json!({ field: [who] })))
                        .await
                        .map(|_| ())
                } else {
                    self.client
                        .send(Method::DELETE, &path, &[(field, who)], None)
                        .await
                        .map(|_| ())
                }
            }
            Target::Group(group) => {
                let Actor::User(account) = actor else {
                    return Ok(());
                };
                if add {
                    self.client
                        .send(
                            Method::POST,
                            "group/user",
                            &[("groupname", group)],
                            Some(json!({ "accountId": account })),
                        )
                        .await
                        .map(|_| ())
                } else {
                    self.client
                        .send(
                            Method::DELETE,
                            "group/user",
                            &[("groupname", group), ("accountId", account)],
                            None,
                        )
                        .await
                        .map(|_| ())
                }
            }
        }
    }
}

#[async_trait]
impl Connector for JiraConnector {
    fn describe(&self) -> Description {
        Description {
            system: SystemKind::new(SYSTEM),
            connection: self.connection.clone(),
            base_url: self.client.base().to_string(),
            operations: vec![
                "add_grant",
                "remove_grant",
                "add_group_grant",
                "remove_group_grant",
                "create_account",
                "retire_account",
            ],
            rate_limit_buckets: vec![client::API_BUCKET],
            accounts_created_on_first_login: false,
        }
    }

    async fn health(&self) -> Result<(), Failure> {
        self.client.get("myself", &[]).await.map(|_| ())
    }

    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure> {
        let users = self
            .client
            .get_all("users/search", &[], |n| sink.progress("users", n as u64))
            .await?;
        for account in users.iter().filter_map(mapping::account) {
            sink.account(account);
        }
        let groups = self
            .client
            .get_all("group/bulk", &[], |n| sink.progress("groups", n as u64))
            .await?;
        let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for group in groups.iter().filter_map(mapping::group) {
            let ids = self.group_members(&group.id).await?;
            for id in &ids {
                sink.grant(Grant {
                    account_id: id.clone(),
                    resource_id: group.id.clone(),
                    entitlement: MEMBER.into(),
                    source: GrantSource::Direct,
                });
            }
            members.insert(group.id.to_lowercase(), ids);
            sink.resource(group);
        }
        let projects = self
            .client
            .get_all("project/search", &[], |n| {
                sink.progress("projects", n as u64)
            })
            .await?;
        for (read, project) in projects.iter().enumerate() {
            let Some(key) = project.get("key").and_then(Value::as_str) else {
                continue;
            };
            let roles = self.client.get(&format!("project/{key}/role"), &[]).await?;
            let roles: Vec<(String, String)> = roles
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(name, url)| Some((name.clone(), trailing_id(url.as_str()?)?)))
                .collect();
            let names: Vec<String> = roles.iter().map(|(n, _)| n.clone()).collect();
            let Some(resource) = mapping::project(project, &names) else {
                continue;
            };
            for (name, id) in &roles {
                let role = self
                    .client
                    .get(&format!("project/{key}/role/{id}"), &[])
                    .await?;
                let entitlement = mapping::role_entitlement(name);
                let (users, groups) = actors(&role);
                for account in users {
                    sink.grant(Grant {
                        account_id: account,
                        resource_id: resource.id.clone(),
                        entitlement: entitlement.clone(),
                        source: GrantSource::Direct,
                    });
                }
                for group in groups {
                    sink.resource_grant(ResourceGrant {
                        holder_id: group.clone(),
                        resource_id: resource.id.clone(),
                        entitlement: entitlement.clone(),
                    });
                    for account in members.get(&group.to_lowercase()).into_iter().flatten() {
                        sink.grant(Grant {
                            account_id: account.clone(),
                            resource_id: resource.id.clone(),
                            entitlement: entitlement.clone(),
                            source: GrantSource::Group {
                                group_id: group.clone(),
                            },
                        });
                    }
                }
            }
            sink.progress("project roles", read as u64 + 1);
            sink.resource(resource);
        }
        Ok(())
    }

    fn check(&self, op: &Operation) -> Result<(), Failure> {
        let connection = self.connection.as_str();
        match &op.kind {
            OpKind::CreateAccount {
                account,
                attributes,
                options,
                ..
            } => accounts::check_create(connection, account, attributes, options),
            OpKind::RetireAccount { account, mode, .. } => {
                accounts::check_retire(connection, account, *mode)
            }
            _ => Ok(()),
        }
    }

    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
        let connection = self.connection.as_str();
        match &op.kind {
            OpKind::CreateAccount {
                account,
                attributes,
                ..
            } => {
                self.check(op)?;
                return accounts::create(&self.client, connection, account, attributes).await;
            }
            OpKind::RetireAccount { account, mode, .. } => {
                return accounts::retire(&self.client, connection, account, *mode).await;
            }
            _ => {}
        }
        let (target, actor) = self.parse(op).await?;
        let add = op.widens_access();
        let Some(actor) = actor else {
            let pending = op.account().is_some_and(|a| a.pending_email().is_some());
            return if add && pending {
                // The account the plan creates (its creation succeeded first) should be searchable soon.
                Err(Failure::retry_later(
                    None,
                    format!(
                        "{connection}: the jira account {} that {} names does not exist yet",
                        op.holder().label(),
                        op.describe()
                    ),
                ))
            } else if add {
                Err(Failure::Permanent {
                    vendor_code: "404".into(),
                    message: format!(
                        "{}: {} has no Jira account",
                        self.connection,
                        op.holder().label()
                    ),
                    status: None,
                })
            } else {
                Ok(Applied::AlreadyPresent)
            };
        };
        // Jira refuses an actor or member that is already there (and a removal of one that is not) with a
        // 400/404 whose wording is not a stable contract, so the current state is read first.
        let (held, role_id) = self.holds(&target, &actor).await?;
        if held == add {
            return Ok(Applied::AlreadyPresent);
        }
        match self.change(&target, &actor, role_id, add).await {
            Ok(()) => Ok(Applied::Changed),
            Err(f) if f.is_status(400) || f.is_status(404) => {
                // Someone else may have made the same change since the read, or the read was stale: Jira's
                // refusal says so, else a second read decides.
                let said = f.message().to_lowercase();
                if said.contains(if add {
                    "already a member"
                } else {
                    "not a member"
                }) {
                    return Ok(Applied::AlreadyPresent);
                }
                match self.holds(&target, &actor).await? {
                    (now, _) if now == add => Ok(Applied::AlreadyPresent),
                    _ => Err(f),
                }
            }
            Err(f) => Err(f),
        }
    }

    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        match &op.kind {
            OpKind::CreateAccount {
                account,
                attributes,
                ..
            } => return accounts::created(&self.client, account, attributes).await,
            OpKind::RetireAccount { account, .. } => {
                return accounts::retired(&self.client, account).await;
            }
            _ => {}
        }
        let (target, actor) = self.parse(op).await?;
        let held = match actor {
            Some(actor) => self.holds(&target, &actor).await?.0,
            None => false,
        };
        Ok(Observed::of(op, held))
    }
}
