//! The Okta connector: users, groups, memberships, apps and app assignments
//! through Okta's Management API.

mod accounts;
mod actions;
mod auth;
mod client;
mod config;
mod full;
mod hooks;
mod incremental;
mod mapping;

pub use actions::ACTIONS;
pub use auth::scopes_for;
pub use client::{OktaClient, OktaDialect, bucket_for};
pub use config::{EventHookConfig, OktaAuth, OktaConfig, SyncScope};
pub use incremental::canonical;

use async_trait::async_trait;
use grantflow_model::{
    ConnectionName, Grant, GrantSource, OpKind, Operation, ProfileSchema, ResourceGrant, Snapshot,
    SystemKind,
};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Mutex;

use crate::{
    Applied, BuildContext, Connector, Description, Failure, Observed, SyncChanges, SyncSink,
};
use auth::{Auth, ServiceApp};
use mapping::{APP, ASSIGNED, GROUP};

pub const SYSTEM: &str = "okta";

pub struct OktaConnector {
    connection: ConnectionName,
    client: OktaClient,
    scope: SyncScope,
    /// Secrets an applied operation produced (temporary passwords), by
    /// natural key, until the caller takes them.
    secrets: crate::secret::OneTimeSecrets,
    /// Natural keys of the account actions this connector performed. Okta
    /// refuses to repeat a lifecycle call (E0000001 for a user already
    /// suspended), and that refusal is what a fresh request to suspend a
    /// suspended user should get; a repeat of a call made here is a retry,
    /// which reads the status first and is a no-op when it holds.
    performed_actions: Mutex<HashSet<String>>,
    hooks: Option<hooks::OktaHooks>,
}

impl OktaConnector {
    pub fn new(
        connection: ConnectionName,
        config: &OktaConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let auth = match (&config.token, &config.auth) {
            (Some(token), None) => Auth::Ssws(context.secret(&connection, "token", token)?),
            (
                None,
                Some(OktaAuth::Oauth {
                    client_id,
                    private_key,
                    key_id,
                    scopes,
                }),
            ) => {
                let pem = context.secret(&connection, "auth.private_key", private_key)?;
                Auth::OAuth(Box::new(ServiceApp::new(
                    client_id.clone(),
                    &pem,
                    key_id.clone(),
                    scopes.clone(),
                )?))
            }
            _ => {
                return Err(Failure::config(format!(
                    "connection {connection}: give exactly one of `token` (API token) or `auth` (OAuth service app)"
                )));
            }
        };
        let client = OktaClient::new(
            SYSTEM,
            OktaDialect { auth },
            config,
            &connection,
            context,
            None,
        )?;
        let hooks = match &config.event_hook {
            Some(hook) => Some(hooks::OktaHooks::new(
                &hook.header,
                context.secret(&connection, "event_hook.secret", &hook.secret)?,
            )),
            None => None,
        };
        Ok(Self {
            connection,
            client,
            scope: config.sync.clone(),
            secrets: crate::secret::OneTimeSecrets::default(),
            performed_actions: Mutex::new(HashSet::new()),
            hooks,
        })
    }

    /// The default user type's profile schema. A token without
    /// `okta.schemas.read` (or an org that hides it) leaves conditions checked
    /// against the attributes the sync saw, so that is not a sync failure.
    async fn user_schema(&self) -> Result<Option<ProfileSchema>, Failure> {
        match self
            .client
            .get("/api/v1/meta/schemas/user/default", &[])
            .await
        {
            Ok(response) => Ok(Some(mapping::profile_schema(&response.body))),
            Err(Failure::InsufficientScope { .. }) => Ok(None),
            Err(Failure::Permanent {
                status: Some(403 | 404),
                ..
            }) => Ok(None),
            Err(failure) => Err(failure),
        }
    }

    fn unsupported(&self, op: &Operation) -> Failure {
        Failure::unsupported(format!(
            "{}: okta cannot {} on a {} resource",
            self.connection,
            op.verb(),
            op.resource().kind
        ))
    }
}

fn id_of(value: &Value) -> Option<String> {
    value.get("id").and_then(Value::as_str).map(str::to_string)
}

/// The ids of a group's members.
async fn group_members(client: &OktaClient, group_id: &str) -> Result<Vec<String>, Failure> {
    let path = format!("/api/v1/groups/{group_id}/users");
    let members = client.get_all(&path, &[("limit", "200")], |_| {}).await?;
    Ok(members.iter().filter_map(id_of).collect())
}

/// An app's group assignments and its users' grants (of `known` accounts).
/// Okta does not say through which group a GROUP-scope user holds the app;
/// the first of the user's groups assigned to it is named.
async fn app_grants(
    client: &OktaClient,
    app_id: &str,
    members_of: &BTreeMap<String, BTreeSet<String>>,
    known: &BTreeSet<String>,
) -> Result<(Vec<ResourceGrant>, Vec<Grant>), Failure> {
    let groups_path = format!("/api/v1/apps/{app_id}/groups");
    let app_groups: BTreeSet<String> = client
        .get_all(&groups_path, &[("limit", "200")], |_| {})
        .await?
        .iter()
        .filter_map(id_of)
        .collect();
    let held = app_groups
        .iter()
        .map(|group_id| ResourceGrant {
            holder_id: group_id.clone(),
            resource_id: app_id.to_string(),
            entitlement: ASSIGNED.into(),
        })
        .collect();
    let users_path = format!("/api/v1/apps/{app_id}/users");
    let app_users = client
        .get_all(&users_path, &[("limit", "500")], |_| {})
        .await?;
    let mut grants = Vec::new();
    for app_user in &app_users {
        let Some(user_id) = id_of(app_user).filter(|id| known.contains(id)) else {
            continue;
        };
        let scope = app_user
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or("USER");
        let source = if scope == "GROUP" {
            let via = members_of
                .get(&user_id)
                .and_then(|groups| groups.iter().find(|g| app_groups.contains(*g)))
                .cloned()
                .unwrap_or_default();
            GrantSource::Group { group_id: via }
        } else {
            GrantSource::Direct
        };
        grants.push(Grant {
            account_id: user_id,
            resource_id: app_id.to_string(),
            entitlement: ASSIGNED.into(),
            source,
        });
    }
    Ok((held, grants))
}

/// The groups an app's ACTIVE group push mappings push, as the group holding `push` on the app. An app
/// that cannot push groups answers the listing with an error; it pushes nothing.
async fn pushed_groups(client: &OktaClient, app_id: &str) -> Result<Vec<ResourceGrant>, Failure> {
    let path = format!("/api/v1/apps/{app_id}/group-push/mappings");
    let mappings = match client
        .get_all(&path, &[("status", "ACTIVE"), ("limit", "1000")], |_| {})
        .await
    {
        Ok(mappings) => mappings,
        Err(Failure::Permanent { .. }) => return Ok(vec![]),
        Err(failure) => return Err(failure),
    };
    Ok(mappings
        .iter()
        .filter(|m| m.get("status").and_then(Value::as_str) == Some("ACTIVE"))
        .filter_map(|m| m.get("sourceGroupId").and_then(Value::as_str))
        .map(|group| ResourceGrant {
            holder_id: group.to_string(),
            resource_id: app_id.to_string(),
            entitlement: grantflow_model::PUSH_ENTITLEMENT.into(),
        })
        .collect())
}

/// `E0000007` (not found) when removing means the grant is already gone.
fn is_not_found(failure: &Failure) -> bool {
    failure.is_vendor_code("E0000007")
}

/// The id of the group named exactly `name`, if one exists (`q` matches name prefixes).
async fn group_id_by_name(client: &OktaClient, name: &str) -> Result<Option<String>, Failure> {
    let groups = client
        .get_all("/api/v1/groups", &[("q", name), ("limit", "200")], |_| {})
        .await?;
    Ok(groups
        .iter()
        .find(|g| g.pointer("/profile/name").and_then(Value::as_str) == Some(name))
        .and_then(id_of))
}

impl OktaConnector {
    /// `op` with every `pending:<name>` group replaced by the group's id, looked up by name, and a
    /// `pending:<email>` account by its user's id; `None` when such a group or user does not exist (yet).
    async fn resolve_pending(&self, op: &Operation) -> Result<Option<Operation>, Failure> {
        let mut resolved = op.clone();
        // A grant planned with its account's creation names the account `pending:<email>`: it is
        // found by its login (the email, when the plan has no other).
        if let OpKind::AddGrant { account, .. } | OpKind::RemoveGrant { account, .. } =
            &mut resolved.kind
            && account.pending_email().is_some()
        {
            match accounts::pending_user(&self.client, account).await? {
                Some(user) => {
                    account.id = id_of(&user).ok_or_else(|| {
                        Failure::unexpected_response("an okta user without an id", None)
                    })?;
                }
                None => return Ok(None),
            }
        }
        let refs: Vec<&mut grantflow_model::ResourceRef> = match &mut resolved.kind {
            OpKind::AddGrant { resource, .. } | OpKind::RemoveGrant { resource, .. } => {
                vec![resource]
            }
            OpKind::AddGroupGrant {
                group, resource, ..
            }
            | OpKind::RemoveGroupGrant {
                group, resource, ..
            }
            | OpKind::PushGroup {
                group, resource, ..
            }
            | OpKind::DeactivatePush { group, resource }
            | OpKind::DeletePush { group, resource } => vec![group, resource],
            OpKind::AccountAction { .. }
            | OpKind::UpdateProfile { .. }
            | OpKind::CreateAccount { .. }
            | OpKind::RetireAccount { .. }
            | OpKind::CreateResource { .. }
            | OpKind::UpdateResource { .. }
            | OpKind::DeleteResource { .. } => vec![],
        };
        for reference in refs {
            if !reference.is_pending() {
                continue;
            }
            if reference.kind.as_str() != GROUP {
                return Err(self.unsupported(op));
            }
            match group_id_by_name(&self.client, &reference.name).await? {
                Some(id) => reference.id = id,
                None => return Ok(None),
            }
        }
        Ok(Some(resolved))
    }

    /// Creates the group a policy file declares, unless a group of that name exists.
    async fn create_group(
        &self,
        op: &Operation,
        resource: &grantflow_model::ResourceRef,
        spec: &serde_json::Map<String, Value>,
    ) -> Result<Applied, Failure> {
        if resource.kind.as_str() != GROUP {
            return Err(self.unsupported(op));
        }
        if group_id_by_name(&self.client, &resource.name)
            .await?
            .is_some()
        {
            return Ok(Applied::AlreadyPresent);
        }
        let mut profile = json!({"name": resource.name});
        if let Some(description) = spec.get("description").and_then(Value::as_str) {
            profile["description"] = json!(description);
        }
        let url = self.client.url("/api/v1/groups", &[])?;
        self.client
            .send_json(Method::POST, url, Some(json!({ "profile": profile })))
            .await?;
        Ok(Applied::Changed)
    }
}

impl OktaConnector {
    /// The group a declared-resource operation names, read by name (its id may be a plan's `pending:`).
    async fn declared_group(
        &self,
        op: &Operation,
        resource: &grantflow_model::ResourceRef,
    ) -> Result<Option<Value>, Failure> {
        if resource.kind.as_str() != GROUP {
            return Err(self.unsupported(op));
        }
        let Some(id) = group_id_by_name(&self.client, &resource.name).await? else {
            return Ok(None);
        };
        match self.client.get(&format!("/api/v1/groups/{id}"), &[]).await {
            Ok(response) => Ok(Some(response.body)),
            Err(failure) if is_not_found(&failure) => Ok(None),
            Err(failure) => Err(failure),
        }
    }

    /// Replaces a declared group's profile (`PUT /api/v1/groups/{id}`: name and description) with its spec.
    async fn update_group(
        &self,
        op: &Operation,
        resource: &grantflow_model::ResourceRef,
        after: &serde_json::Map<String, Value>,
    ) -> Result<Applied, Failure> {
        let Some(group) = self.declared_group(op, resource).await? else {
            return Err(Failure::Permanent {
                vendor_code: "E0000007".into(),
                message: format!(
                    "{}: okta group \"{}\" to update does not exist",
                    self.connection, resource.name
                ),
                status: Some(404),
            });
        };
        if updated(&group, after) {
            return Ok(Applied::AlreadyPresent);
        }
        let id = id_of(&group).unwrap_or_default();
        let mut profile = json!({"name": resource.name});
        let description = after
            .get("description")
            .cloned()
            .or_else(|| group.pointer("/profile/description").cloned());
        if let Some(description) = description.filter(|d| !d.is_null()) {
            profile["description"] = description;
        }
        let url = self.client.url(&format!("/api/v1/groups/{id}"), &[])?;
        self.client
            .send_json(Method::PUT, url, Some(json!({ "profile": profile })))
            .await?;
        Ok(Applied::Changed)
    }

    /// Deletes a declared group grantflow created (`DELETE /api/v1/groups/{id}`), found by name.
    async fn delete_group(
        &self,
        op: &Operation,
        resource: &grantflow_model::ResourceRef,
    ) -> Result<Applied, Failure> {
        let Some(group) = self.declared_group(op, resource).await? else {
            return Ok(Applied::AlreadyPresent);
        };
        let id = id_of(&group).unwrap_or_default();
        let url = self.client.url(&format!("/api/v1/groups/{id}"), &[])?;
        match self.client.send_json(Method::DELETE, url, None).await {
            Ok(_) => Ok(Applied::Changed),
            Err(failure) if is_not_found(&failure) => Ok(Applied::AlreadyPresent),
            Err(failure) => Err(failure),
        }
    }
}

/// Whether an Okta group already has the settings an update wants (as a sync reads them).
fn updated(group: &Value, after: &serde_json::Map<String, Value>) -> bool {
    let held = mapping::group(group)
        .map(|g| g.attributes)
        .unwrap_or_default();
    after.iter().all(|(field, wanted)| {
        grantflow_model::spec_matches(wanted, held.get(field).unwrap_or(&Value::Null))
    })
}

#[async_trait]
impl Connector for OktaConnector {
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
                "account_action",
                "push_group",
                "create_resource",
                "update_resource",
                "delete_resource",
                "deactivate_push",
                "delete_push",
                "update_profile",
                "create_account",
                "retire_account",
            ],
            rate_limit_buckets: vec![
                "apps",
                "app",
                "groups",
                "group",
                "users",
                "user-get",
                "user-write",
                "logs",
                "other",
            ],
            accounts_created_on_first_login: false,
        }
    }

    async fn health(&self) -> Result<(), Failure> {
        self.client
            .get("/api/v1/users", &[("limit", "1")])
            .await
            .map(|_| ())
    }

    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure> {
        full::sync(self, sink).await
    }

    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
        let created;
        let op = match accounts::with_created_account(&self.client, op).await? {
            accounts::CreatedAccount::NotPending => op,
            accounts::CreatedAccount::Found(resolved) => {
                created = resolved;
                &created
            }
            // A user the plan created and nobody can find is as retired as it gets; anything else
            // waits for the creation to show.
            accounts::CreatedAccount::Missing
                if matches!(op.kind, OpKind::RetireAccount { .. }) =>
            {
                return Ok(Applied::AlreadyPresent);
            }
            accounts::CreatedAccount::Missing => {
                return Err(Failure::retry_later(
                    None,
                    format!(
                        "{}: the user that {} names does not exist yet",
                        self.connection,
                        op.describe()
                    ),
                ));
            }
        };
        match &op.kind {
            OpKind::CreateResource { resource, spec } => {
                return self.create_group(op, resource, spec).await;
            }
            OpKind::UpdateResource {
                resource, after, ..
            } => return self.update_group(op, resource, after).await,
            OpKind::DeleteResource { resource } => return self.delete_group(op, resource).await,
            OpKind::CreateAccount {
                account,
                attributes,
                options,
                ..
            } => {
                let (applied, secret) =
                    accounts::create(&self.client, account, attributes, options).await?;
                self.secrets.keep(op, secret);
                return Ok(applied);
            }
            OpKind::RetireAccount { account, mode, .. } => {
                return accounts::retire(&self.client, account, *mode).await;
            }
            OpKind::UpdateProfile { account, after, .. } => {
                // Read first: an update Okta already holds would still be logged as a profile change.
                if self.observe(op).await? == Observed::Done {
                    return Ok(Applied::AlreadyPresent);
                }
                // POST is Okta's partial update: the attributes not sent keep their values.
                let url = self
                    .client
                    .url(&format!("/api/v1/users/{}", account.id), &[])?;
                self.client
                    .send_json(Method::POST, url, Some(json!({ "profile": after })))
                    .await?;
                return Ok(Applied::Changed);
            }
            _ => {}
        }
        let Some(resolved) = self.resolve_pending(op).await? else {
            if matches!(
                op.kind,
                OpKind::DeactivatePush { .. } | OpKind::DeletePush { .. }
            ) {
                // No group, no mapping from it.
                return Ok(Applied::AlreadyPresent);
            }
            // Its dependency (the group's creation) succeeded, so the group should be readable soon.
            return Err(Failure::retry_later(
                None,
                format!(
                    "{}: a group or user that {} names does not exist yet",
                    self.connection,
                    op.describe()
                ),
            ));
        };
        let op = &resolved;
        match &op.kind {
            OpKind::AccountAction {
                account,
                action,
                params,
                ..
            } => {
                let key = op.natural_key();
                let performed = self
                    .performed_actions
                    .lock()
                    .is_ok_and(|performed| performed.contains(&key));
                if performed
                    && actions::observe(&self.client, account, action).await? == Observed::Done
                {
                    return Ok(Applied::AlreadyPresent);
                }
                let (applied, secret) =
                    actions::apply(&self.client, account, action, params).await?;
                if let Ok(mut performed) = self.performed_actions.lock() {
                    performed.insert(key);
                }
                self.secrets.keep(op, secret);
                return Ok(applied);
            }
            OpKind::PushGroup {
                group,
                resource,
                target_name,
            } => {
                return actions::push_group(&self.client, group, resource, target_name.as_deref())
                    .await;
            }
            OpKind::DeactivatePush { group, resource } => {
                return actions::deactivate_push(&self.client, group, resource).await;
            }
            OpKind::DeletePush { group, resource } => {
                return actions::delete_push(&self.client, group, resource).await;
            }
            _ => {}
        }
        let resource = op.resource();
        let holder = op.holder().id().to_string();
        let (method, path, body) = match (&op.kind, resource.kind.as_str()) {
            (OpKind::AddGrant { .. }, GROUP) => (
                Method::PUT,
                format!("/api/v1/groups/{}/users/{holder}", resource.id),
                None,
            ),
            (OpKind::RemoveGrant { .. }, GROUP) => (
                Method::DELETE,
                format!("/api/v1/groups/{}/users/{holder}", resource.id),
                None,
            ),
            (OpKind::AddGrant { .. }, APP) => (
                Method::POST,
                format!("/api/v1/apps/{}/users", resource.id),
                Some(json!({ "id": holder, "scope": "USER" })),
            ),
            (OpKind::RemoveGrant { .. }, APP) => (
                Method::DELETE,
                format!("/api/v1/apps/{}/users/{holder}", resource.id),
                None,
            ),
            (OpKind::AddGroupGrant { .. }, APP) => (
                Method::PUT,
                format!("/api/v1/apps/{}/groups/{holder}", resource.id),
                Some(json!({})),
            ),
            (OpKind::RemoveGroupGrant { .. }, APP) => (
                Method::DELETE,
                format!("/api/v1/apps/{}/groups/{holder}", resource.id),
                None,
            ),
            _ => return Err(self.unsupported(op)),
        };
        let url = self.client.url(&path, &[])?;
        match self.client.send_json(method.clone(), url, body).await {
            Ok(_) => Ok(Applied::Changed),
            // Okta's own "already assigned" is the effect we wanted.
            Err(failure) if failure.is_vendor_code("E0000062") => Ok(Applied::AlreadyPresent),
            Err(failure) if method == Method::DELETE && is_not_found(&failure) => {
                // The grant is gone; but if the user or group itself is
                // missing, that is worth saying rather than hiding.
                match self.observe(op).await {
                    Ok(Observed::Done) => Ok(Applied::AlreadyPresent),
                    _ => Err(failure),
                }
            }
            Err(failure) => Err(failure),
        }
    }

    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        let created;
        let op = match accounts::with_created_account(&self.client, op).await? {
            accounts::CreatedAccount::NotPending => op,
            accounts::CreatedAccount::Found(resolved) => {
                created = resolved;
                &created
            }
            accounts::CreatedAccount::Missing => {
                let gone = matches!(op.kind, OpKind::RetireAccount { .. });
                return Ok(Observed::from(gone));
            }
        };
        match &op.kind {
            OpKind::CreateResource { resource, .. } => {
                let exists = group_id_by_name(&self.client, &resource.name)
                    .await?
                    .is_some();
                return Ok(Observed::of(op, exists));
            }
            OpKind::UpdateResource {
                resource, after, ..
            } => {
                let done = self
                    .declared_group(op, resource)
                    .await?
                    .is_some_and(|group| updated(&group, after));
                return Ok(Observed::from(done));
            }
            OpKind::DeleteResource { resource } => {
                let gone = self.declared_group(op, resource).await?.is_none();
                return Ok(Observed::from(gone));
            }
            OpKind::CreateAccount {
                account, options, ..
            } => return accounts::created(&self.client, account, options).await,
            OpKind::RetireAccount { account, mode, .. } => {
                return accounts::retired(&self.client, account, *mode).await;
            }
            OpKind::UpdateProfile { account, after, .. } => {
                let user = self
                    .client
                    .get(&format!("/api/v1/users/{}", account.id), &[])
                    .await?
                    .body;
                let profile = user.get("profile").cloned().unwrap_or(Value::Null);
                let done = after
                    .iter()
                    .all(|(name, wanted)| profile.get(name).unwrap_or(&Value::Null) == wanted);
                return Ok(Observed::from(done));
            }
            _ => {}
        }
        let Some(resolved) = self.resolve_pending(op).await? else {
            // No group yet: nothing is granted through it, nothing removed from it.
            return Ok(Observed::of(op, false));
        };
        let op = &resolved;
        match &op.kind {
            OpKind::AccountAction {
                account, action, ..
            } => return actions::observe(&self.client, account, action).await,
            OpKind::PushGroup {
                group, resource, ..
            } => return actions::pushed(&self.client, group, resource).await,
            OpKind::DeactivatePush { group, resource } => {
                return actions::push_stopped(&self.client, group, resource, false).await;
            }
            OpKind::DeletePush { group, resource } => {
                return actions::push_stopped(&self.client, group, resource, true).await;
            }
            _ => {}
        }
        let resource = op.resource();
        let holder = op.holder().id().to_string();
        let present = match (&op.kind, resource.kind.as_str()) {
            (OpKind::AddGrant { .. } | OpKind::RemoveGrant { .. }, GROUP) => {
                // The user's groups are few; the group's members may be many.
                let path = format!("/api/v1/users/{holder}/groups");
                match self.client.get_all(&path, &[], |_| {}).await {
                    Ok(groups) => groups.iter().filter_map(id_of).any(|id| id == resource.id),
                    Err(failure) if is_not_found(&failure) => false,
                    Err(failure) => return Err(failure),
                }
            }
            (OpKind::AddGrant { .. } | OpKind::RemoveGrant { .. }, APP) => {
                let path = format!("/api/v1/apps/{}/users/{holder}", resource.id);
                match self.client.get(&path, &[]).await {
                    Ok(response) => {
                        response
                            .body
                            .get("scope")
                            .and_then(Value::as_str)
                            .unwrap_or("USER")
                            == "USER"
                    }
                    Err(failure) if is_not_found(&failure) => false,
                    Err(failure) => return Err(failure),
                }
            }
            (OpKind::AddGroupGrant { .. } | OpKind::RemoveGroupGrant { .. }, APP) => {
                let path = format!("/api/v1/apps/{}/groups/{holder}", resource.id);
                match self.client.get(&path, &[]).await {
                    Ok(_) => true,
                    Err(failure) if is_not_found(&failure) => false,
                    Err(failure) => return Err(failure),
                }
            }
            _ => return Err(self.unsupported(op)),
        };
        Ok(Observed::of(op, present))
    }

    fn check(&self, op: &Operation) -> Result<(), Failure> {
        match &op.kind {
            OpKind::AccountAction { action, params, .. } => actions::validate(action, params),
            _ => Ok(()),
        }
    }

    /// Okta keeps System Log events for 90 days.
    fn change_feed_retention(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(90 * 24 * 3600))
    }

    async fn change_cursor(&self) -> Result<Option<String>, Failure> {
        incremental::head(&self.client).await.map(Some)
    }

    async fn sync_changes(
        &self,
        cursor: &str,
        snapshot: &mut Snapshot,
    ) -> Result<SyncChanges, Failure> {
        incremental::sync_changes(&self.client, &self.scope, cursor, snapshot).await
    }

    async fn read_events(
        &self,
        cursor: Option<&str>,
    ) -> Result<Option<crate::EventLogRead>, Failure> {
        incremental::events(&self.client, cursor).await.map(Some)
    }

    fn hook_receiver(&self) -> Option<&dyn crate::HookReceiver> {
        self.hooks.as_ref().map(|h| h as &dyn crate::HookReceiver)
    }

    fn take_secret(&self, op: &Operation) -> Option<SecretString> {
        self.secrets.take(op)
    }
}
