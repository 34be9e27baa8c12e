//! The Okta Privileged Access connector: users, group membership, top-level secret folders and security
//! policies through OPA's team API; creates groups, secret folders and security policies a policy file declares.

mod client;
mod config;
mod mapping;

pub use client::{OpaClient, OpaDialect};
pub use config::{OpaConfig, TeamName};

use async_trait::async_trait;
use grantflow_model::{
    AccountRef, ConnectionName, Grant, GrantSource, OpKind, Operation, ResourceGrant, ResourceRef,
    SystemKind,
};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

use crate::{Applied, BuildContext, Connector, Description, Failure, Observed, SyncSink};
use mapping::{GROUP, MEMBER, PRINCIPAL, SECRET_FOLDER, SECURITY_POLICY, text};

pub const SYSTEM: &str = "opa";

/// How long a security policy waits for a group that Okta's group push has not delivered yet.
const GROUP_PUSH_RECHECK_SECONDS: i64 = 30;

pub struct OpaConnector {
    connection: ConnectionName,
    client: OpaClient,
}

fn is_not_found(failure: &Failure) -> bool {
    failure.is_status(404)
}

fn is_conflict(failure: &Failure) -> bool {
    failure.is_status(409)
}

/// A top-level folder's place: resource group, project, folder name.
struct FolderPath<'a> {
    resource_group: &'a str,
    project: &'a str,
    name: &'a str,
}

impl<'a> FolderPath<'a> {
    fn parse(path: &'a str) -> Option<Self> {
        let mut parts = path.splitn(3, '/');
        let (resource_group, project, name) = (parts.next()?, parts.next()?, parts.next()?);
        (!resource_group.is_empty() && !project.is_empty() && !name.is_empty()).then_some(Self {
            resource_group,
            project,
            name,
        })
    }
}

/// Where a folder lives, by id, when the resource group and project exist.
struct FolderPlace {
    resource_group: String,
    project: String,
    folder: Option<Value>,
}

impl OpaConnector {
    pub fn new(
        connection: ConnectionName,
        config: &OpaConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let team = match &config.team {
            TeamName::Name(name) => name.clone(),
            TeamName::From(source) => context
                .secret(&connection, "team", source)?
                .expose_secret()
                .to_string(),
        };
        let key = (
            context.secret(&connection, "key_id", &config.key_id)?,
            context.secret(&connection, "key_secret", &config.key_secret)?,
        );
        let client = OpaClient::new(
            SYSTEM,
            OpaDialect::new(team, key),
            config,
            &connection,
            context,
            None,
        )?;
        Ok(Self { connection, client })
    }

    fn refuse(&self, op: &Operation, why: &str) -> Failure {
        Failure::unsupported(format!(
            "{}: opa cannot {} on {} \"{}\": {why}",
            self.connection,
            op.verb(),
            op.resource().kind,
            op.resource().name
        ))
    }

    /// The OPA user name of an account; `None` for a `pending:<email>` person OPA does not know.
    async fn user_name(&self, account: &AccountRef) -> Result<Option<String>, Failure> {
        let Some(email) = crate::pending_email(account) else {
            return Ok(Some(account.id.clone()));
        };
        let users = self.client.get_all(&["users"], &[]).await?;
        Ok(users
            .iter()
            .find(|u| text(u, "/details/email").is_some_and(|e| e.eq_ignore_ascii_case(email)))
            .and_then(|u| text(u, "/name")))
    }

    async fn group(&self, name: &str) -> Result<Option<Value>, Failure> {
        match self.client.get(&["groups", name]).await {
            Ok(group) => Ok(Some(group)),
            Err(f) if is_not_found(&f) => Ok(None),
            Err(f) => Err(f),
        }
    }

    async fn members(&self, group: &str) -> Result<Option<Vec<String>>, Failure> {
        match self.client.get_all(&["groups", group, "users"], &[]).await {
            Ok(users) => Ok(Some(
                users.iter().filter_map(|u| text(u, "/name")).collect(),
            )),
            Err(f) if is_not_found(&f) => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// The ids of a folder's resource group and project, and the folder if it exists; `None` when the
    /// resource group or project does not exist.
    async fn folder_place(&self, path: &FolderPath<'_>) -> Result<Option<FolderPlace>, Failure> {
        let groups = self.client.get_all(&["resource_groups"], &[]).await?;
        let Some(rg) = groups
            .iter()
            .find(|g| text(g, "/name").as_deref() == Some(path.resource_group))
            .and_then(|g| text(g, "/id"))
        else {
            return Ok(None);
        };
        let projects = self
            .client
            .get_all(&["resource_groups", &rg, "projects"], &[])
            .await?;
        let Some(project) = projects
            .iter()
            .find(|p| text(p, "/name").as_deref() == Some(path.project))
            .and_then(|p| text(p, "/id"))
        else {
            return Ok(None);
        };
        let folders = self
            .client
            .get_all(
                &[
                    "resource_groups",
                    &rg,
                    "projects",
                    &project,
                    "secret_folders",
                ],
                &[],
            )
            .await?;
        let folder = folders
            .into_iter()
            .find(|f| text(f, "/name").as_deref() == Some(path.name));
        Ok(Some(FolderPlace {
            resource_group: rg,
            project,
            folder,
        }))
    }

    async fn policy(&self, name: &str) -> Result<Option<Value>, Failure> {
        let policies = self.client.get_all(&["security_policy"], &[]).await?;
        Ok(policies
            .into_iter()
            .find(|p| text(p, "/name").as_deref() == Some(name)))
    }

    /// A secret folder's name, `<resource group>/<project>/<folder>`, taken apart.
    fn folder_path<'n>(&self, op: &Operation, name: &'n str) -> Result<FolderPath<'n>, Failure> {
        FolderPath::parse(name).ok_or_else(|| {
            self.refuse(
                op,
                "a secret folder is named <resource group>/<project>/<folder>",
            )
        })
    }

    /// Whether the resource a `CreateResource` names exists (looked up by name, never by id).
    async fn exists(&self, op: &Operation, resource: &ResourceRef) -> Result<bool, Failure> {
        match resource.kind.as_str() {
            GROUP => Ok(self.group(&resource.name).await?.is_some()),
            SECRET_FOLDER => {
                let path = self.folder_path(op, &resource.name)?;
                Ok(self
                    .folder_place(&path)
                    .await?
                    .is_some_and(|place| place.folder.is_some()))
            }
            SECURITY_POLICY => Ok(self.policy(&resource.name).await?.is_some()),
            _ => Err(self.refuse(
                op,
                "only groups, secret folders and security policies are created",
            )),
        }
    }

    /// Where a declared resource's settings go and what is sent: to its collection for a creation
    /// (`held` is `None`: POST), to the resource itself for an update (`held` is what OPA has: PUT). A
    /// setting the declaration leaves out keeps what OPA holds, else OPA's default.
    async fn declared_request(
        &self,
        op: &Operation,
        resource: &ResourceRef,
        spec: &Map<String, Value>,
        held: Option<&Value>,
    ) -> Result<(reqwest::Url, Value), Failure> {
        let setting = |name: &str, default: Value| {
            spec.get(name)
                .cloned()
                .or_else(|| held.and_then(|held| held.get(name).cloned()))
                .unwrap_or(default)
        };
        let held_id = held.map(|held| text(held, "/id").unwrap_or_default());
        match resource.kind.as_str() {
            GROUP => {
                let url = match held {
                    None => self.client.url(&["groups"])?,
                    Some(_) => self.client.url(&["groups", &resource.name])?,
                };
                let roles = setting("roles", json!(["end_user"]));
                Ok((url, json!({"name": resource.name, "roles": roles})))
            }
            SECRET_FOLDER => {
                let path = self.folder_path(op, &resource.name)?;
                let Some(place) = self.folder_place(&path).await? else {
                    return Err(Failure::Permanent {
                        vendor_code: "resource_not_found".into(),
                        message: format!(
                            "{}: resource group \"{}\" or its project \"{}\" does not exist in OPA",
                            self.connection, path.resource_group, path.project
                        ),
                        status: None,
                    });
                };
                let mut segments = vec![
                    "resource_groups",
                    place.resource_group.as_str(),
                    "projects",
                    place.project.as_str(),
                    "secret_folders",
                ];
                segments.extend(held_id.as_deref());
                let description = setting("description", json!(""));
                Ok((
                    self.client.url(&segments)?,
                    json!({"name": path.name, "description": description}),
                ))
            }
            SECURITY_POLICY => {
                let mut segments = vec!["security_policy"];
                segments.extend(held_id.as_deref());
                Ok((
                    self.client.url(&segments)?,
                    self.policy_body(op, resource, spec).await?,
                ))
            }
            _ => Err(self.refuse(
                op,
                "only groups, secret folders and security policies are declared",
            )),
        }
    }

    async fn create(
        &self,
        op: &Operation,
        resource: &ResourceRef,
        spec: &Map<String, Value>,
    ) -> Result<Applied, Failure> {
        // Read before write: a resource of that name is the effect wanted, whoever made it.
        if self.exists(op, resource).await? {
            return Ok(Applied::AlreadyPresent);
        }
        let (url, body) = self.declared_request(op, resource, spec, None).await?;
        match self.client.send(Method::POST, url, Some(body)).await {
            Ok(_) => Ok(Applied::Changed),
            // Made by someone else between the read and the write.
            Err(f) if is_conflict(&f) => Ok(Applied::AlreadyPresent),
            Err(f) => Err(f),
        }
    }

    /// The create request of a security policy from its spec: principal groups and folders by name, resolved
    /// to ids. A group that does not exist yet is waited for: it arrives through Okta's group push.
    async fn policy_body(
        &self,
        op: &Operation,
        resource: &ResourceRef,
        spec: &Map<String, Value>,
    ) -> Result<Value, Failure> {
        let names = |key: &str| -> Vec<String> {
            spec.get(key)
                .and_then(Value::as_array)
                .map(|v| {
                    v.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let (groups, folders) = (names("groups"), names("folders"));
        if groups.is_empty() || folders.is_empty() {
            return Err(self.refuse(
                op,
                "a security policy's spec names its `groups` and `folders`",
            ));
        }
        let mut group_refs = Vec::new();
        for name in &groups {
            match self.group(name).await?.and_then(|g| text(&g, "/id")) {
                Some(id) => group_refs.push(json!({"id": id})),
                None => {
                    return Err(Failure::Waiting {
                        reason: format!(
                            "{}: group \"{name}\" does not exist in OPA yet (it arrives through Okta's group push)",
                            self.connection
                        ),
                        recheck_at: self.client.now()
                            + chrono::Duration::seconds(GROUP_PUSH_RECHECK_SECONDS),
                    });
                }
            }
        }
        let mut selectors = Vec::new();
        for path in &folders {
            let parsed = FolderPath::parse(path).ok_or_else(|| {
                self.refuse(op, "folders are named <resource group>/<project>/<folder>")
            })?;
            let id = self
                .folder_place(&parsed)
                .await?
                .and_then(|p| p.folder)
                .and_then(|f| text(&f, "/id"));
            match id {
                Some(id) => selectors.push(json!({
                    "selector_type": "secret_folder",
                    "selector": {"secret_folder": {"id": id}},
                })),
                None => {
                    return Err(Failure::Waiting {
                        reason: format!(
                            "{}: secret folder \"{path}\" does not exist in OPA yet",
                            self.connection
                        ),
                        recheck_at: self.client.now()
                            + chrono::Duration::seconds(GROUP_PUSH_RECHECK_SECONDS),
                    });
                }
            }
        }
        let mut privileges = json!({
            "list": true, "folder_create": false, "folder_update": false, "folder_delete": false,
            "secret_create": false, "secret_update": false, "secret_reveal": true, "secret_delete": false,
        });
        if let (Some(Value::Object(wanted)), Some(all)) =
            (spec.get("privileges"), privileges.as_object_mut())
        {
            for (key, value) in wanted {
                if !all.contains_key(key) || !value.is_boolean() {
                    return Err(self.refuse(
                        op,
                        &format!("unknown or non-boolean secret privilege \"{key}\""),
                    ));
                }
                all.insert(key.clone(), value.clone());
            }
        }
        Ok(json!({
            "name": resource.name,
            "description": spec.get("description").cloned().unwrap_or(json!("Managed by grantflow")),
            "active": spec.get("active").and_then(Value::as_bool).unwrap_or(true),
            "principals": {"user_groups": group_refs},
            "rules": [{
                "name": format!("{} secrets", resource.name),
                "resource_type": "secret_based_resource",
                "resource_selector": {"selectors": selectors},
                "privileges": [{"privilege_type": "secret", "privilege_value": privileges}],
                "conditions": [],
            }],
        }))
    }

    /// Every top-level secret folder, named by its place.
    async fn folders(&self) -> Result<Vec<grantflow_model::Resource>, Failure> {
        let mut all = Vec::new();
        for rg in self.client.get_all(&["resource_groups"], &[]).await? {
            let (Some(rg_id), Some(rg_name)) = (text(&rg, "/id"), text(&rg, "/name")) else {
                continue;
            };
            for project in self
                .client
                .get_all(&["resource_groups", &rg_id, "projects"], &[])
                .await?
            {
                let (Some(p_id), Some(p_name)) = (text(&project, "/id"), text(&project, "/name"))
                else {
                    continue;
                };
                let folders = self
                    .client
                    .get_all(
                        &[
                            "resource_groups",
                            &rg_id,
                            "projects",
                            &p_id,
                            "secret_folders",
                        ],
                        &[],
                    )
                    .await?;
                all.extend(
                    folders
                        .iter()
                        .filter_map(|f| mapping::folder(f, &rg_name, &p_name)),
                );
            }
        }
        Ok(all)
    }

    /// A declared resource as a sync reads it (with the settings a declaration names), found by name.
    async fn declared(
        &self,
        op: &Operation,
        resource: &ResourceRef,
    ) -> Result<Option<(grantflow_model::Resource, Value)>, Failure> {
        match resource.kind.as_str() {
            GROUP => Ok(self
                .group(&resource.name)
                .await?
                .and_then(|g| mapping::group(&g).map(|r| (r, g)))),
            SECRET_FOLDER => {
                let path = self.folder_path(op, &resource.name)?;
                Ok(self
                    .folder_place(&path)
                    .await?
                    .and_then(|place| place.folder)
                    .and_then(|f| {
                        mapping::folder(&f, path.resource_group, path.project).map(|r| (r, f))
                    }))
            }
            SECURITY_POLICY => {
                let Some(policy) = self.policy(&resource.name).await? else {
                    return Ok(None);
                };
                let names: BTreeMap<String, String> = self
                    .folders()
                    .await?
                    .into_iter()
                    .map(|f| (f.id, f.name))
                    .collect();
                Ok(mapping::policy(&policy, &names).map(|r| (r, policy)))
            }
            _ => Err(self.refuse(
                op,
                "only groups, secret folders and security policies are declared",
            )),
        }
    }

    /// Whether the declared resource has the settings `after` wants.
    async fn has_settings(
        &self,
        op: &Operation,
        resource: &ResourceRef,
        after: &Map<String, Value>,
    ) -> Result<bool, Failure> {
        Ok(self.declared(op, resource).await?.is_some_and(|(held, _)| {
            after.iter().all(|(field, wanted)| {
                grantflow_model::spec_matches(
                    wanted,
                    held.attributes.get(field).unwrap_or(&Value::Null),
                )
            })
        }))
    }

    /// Sends a declared resource's settings: a group's roles, a folder's description, a policy's whole body
    /// (OPA replaces a policy with `PUT`), built from the declaration as a creation builds it.
    async fn update(
        &self,
        op: &Operation,
        resource: &ResourceRef,
        spec: &Map<String, Value>,
        after: &Map<String, Value>,
    ) -> Result<Applied, Failure> {
        let Some((_, held)) = self.declared(op, resource).await? else {
            return Err(Failure::Permanent {
                vendor_code: "resource_not_found".into(),
                message: format!(
                    "{}: {} \"{}\" to update does not exist in OPA",
                    self.connection, resource.kind, resource.name
                ),
                status: Some(404),
            });
        };
        if self.has_settings(op, resource, after).await? {
            return Ok(Applied::AlreadyPresent);
        }
        let (url, body) = self
            .declared_request(op, resource, spec, Some(&held))
            .await?;
        self.client.send(Method::PUT, url, Some(body)).await?;
        Ok(Applied::Changed)
    }

    /// Deletes a declared resource grantflow created, found by name; gone already is done.
    async fn delete(&self, op: &Operation, resource: &ResourceRef) -> Result<Applied, Failure> {
        let Some((_, held)) = self.declared(op, resource).await? else {
            return Ok(Applied::AlreadyPresent);
        };
        let url = match resource.kind.as_str() {
            GROUP => self.client.url(&["groups", &resource.name])?,
            SECRET_FOLDER => {
                let path = self.folder_path(op, &resource.name)?;
                let Some(place) = self.folder_place(&path).await? else {
                    return Ok(Applied::AlreadyPresent);
                };
                let id = text(&held, "/id").unwrap_or_default();
                self.client.url(&[
                    "resource_groups",
                    &place.resource_group,
                    "projects",
                    &place.project,
                    "secret_folders",
                    &id,
                ])?
            }
            _ => {
                let id = text(&held, "/id").unwrap_or_default();
                self.client.url(&["security_policy", &id])?
            }
        };
        match self.client.send(Method::DELETE, url, None).await {
            Ok(_) => Ok(Applied::Changed),
            Err(f) if is_not_found(&f) => Ok(Applied::AlreadyPresent),
            Err(f) => Err(f),
        }
    }

    /// The group and user of a membership operation.
    async fn membership(&self, op: &Operation) -> Result<(String, Option<String>), Failure> {
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
            return Err(self.refuse(
                op,
                "only group membership and resource creation are supported",
            ));
        };
        if resource.kind.as_str() != GROUP || entitlement != MEMBER {
            return Err(self.refuse(op, "only group membership is granted to accounts"));
        }
        Ok((resource.name.clone(), self.user_name(account).await?))
    }
}

#[async_trait]
impl Connector for OpaConnector {
    fn describe(&self) -> Description {
        Description {
            system: SystemKind::new(SYSTEM),
            connection: self.connection.clone(),
            base_url: self.client.base().to_string(),
            operations: vec![
                "add_grant",
                "remove_grant",
                "create_resource",
                "update_resource",
                "delete_resource",
            ],
            rate_limit_buckets: vec!["api"],
            accounts_created_on_first_login: false,
        }
    }

    /// One page of users and one of groups: the service user can read the two listings a sync needs.
    async fn health(&self) -> Result<(), Failure> {
        for listing in ["users", "groups"] {
            self.client.get_with(&[listing], &[("count", "1")]).await?;
        }
        Ok(())
    }

    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure> {
        let users = self.client.get_all(&["users"], &[]).await?;
        sink.progress("users", users.len() as u64);
        for account in users.iter().filter_map(mapping::account) {
            sink.account(account);
        }
        let groups = self.client.get_all(&["groups"], &[]).await?;
        let mut read = 0u64;
        for group in groups.iter().filter_map(mapping::group) {
            for member in self.members(&group.name).await?.unwrap_or_default() {
                sink.grant(Grant {
                    account_id: member,
                    resource_id: group.id.clone(),
                    entitlement: MEMBER.into(),
                    source: GrantSource::Direct,
                });
            }
            read += 1;
            sink.progress("memberships", read);
            sink.resource(group);
        }
        let mut folder_names = BTreeMap::new();
        for folder in self.folders().await? {
            folder_names.insert(folder.id.clone(), folder.name.clone());
            sink.resource(folder);
        }
        for policy in self.client.get_all(&["security_policy"], &[]).await? {
            let Some(resource) = mapping::policy(&policy, &folder_names) else {
                continue;
            };
            for group in mapping::principal_groups(&policy) {
                sink.resource_grant(ResourceGrant {
                    holder_id: group,
                    resource_id: resource.id.clone(),
                    entitlement: PRINCIPAL.into(),
                });
            }
            sink.resource(resource);
        }
        Ok(())
    }

    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
        match &op.kind {
            OpKind::CreateResource { resource, spec } => {
                return self.create(op, resource, spec).await;
            }
            OpKind::UpdateResource {
                resource,
                spec,
                after,
                ..
            } => return self.update(op, resource, spec, after).await,
            OpKind::DeleteResource { resource } => return self.delete(op, resource).await,
            _ => {}
        }
        let (group, user) = self.membership(op).await?;
        let Some(user) = user else {
            return if op.widens_access() {
                Err(Failure::Permanent {
                    vendor_code: "resource_not_found".into(),
                    message: format!(
                        "{}: {} has no OPA user",
                        self.connection,
                        op.holder().label()
                    ),
                    status: None,
                })
            } else {
                Ok(Applied::AlreadyPresent)
            };
        };
        if op.widens_access() {
            if self
                .members(&group)
                .await?
                .is_some_and(|m| m.contains(&user))
            {
                return Ok(Applied::AlreadyPresent);
            }
            let url = self.client.url(&["groups", &group, "users"])?;
            match self
                .client
                .send(Method::POST, url, Some(json!({"name": user})))
                .await
            {
                Ok(_) => Ok(Applied::Changed),
                Err(f) if is_conflict(&f) => Ok(Applied::AlreadyPresent),
                Err(f) => Err(f),
            }
        } else {
            let url = self.client.url(&["groups", &group, "users", &user])?;
            match self.client.send(Method::DELETE, url, None).await {
                Ok(_) => Ok(Applied::Changed),
                Err(f) if is_not_found(&f) => match self.members(&group).await? {
                    // The membership is gone, but a missing group is worth saying.
                    Some(members) if !members.contains(&user) => Ok(Applied::AlreadyPresent),
                    _ => Err(f),
                },
                Err(f) => Err(f),
            }
        }
    }

    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        match &op.kind {
            OpKind::CreateResource { resource, .. } => {
                return self.exists(op, resource).await.map(Observed::from);
            }
            OpKind::UpdateResource {
                resource, after, ..
            } => {
                return self
                    .has_settings(op, resource, after)
                    .await
                    .map(Observed::from);
            }
            OpKind::DeleteResource { resource } => {
                return Ok(Observed::from(self.declared(op, resource).await?.is_none()));
            }
            _ => {}
        }
        let (group, user) = self.membership(op).await?;
        let present = match user {
            Some(user) => self
                .members(&group)
                .await?
                .is_some_and(|m| m.contains(&user)),
            None => false,
        };
        Ok(Observed::of(op, present))
    }

    fn check(&self, op: &Operation) -> Result<(), Failure> {
        if let OpKind::CreateResource { resource, .. } = &op.kind
            && resource.kind.as_str() == SECRET_FOLDER
        {
            let Some(path) = FolderPath::parse(&resource.name) else {
                return Err(self.refuse(
                    op,
                    "a secret folder is named <resource group>/<project>/<folder>",
                ));
            };
            // OPA's folder name rule (help.okta.com, pam-secrets-folder): letters, digits, '-', '_', '.'.
            if !path
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(self.refuse(
                    op,
                    "folder names may contain only letters, digits, '-', '_' and '.'",
                ));
            }
        }
        Ok(())
    }
}
