//! The Okta connector: users, groups, memberships, apps and app assignments
//! through Okta's Management API.

mod client;
mod config;
mod mapping;

pub use client::{OktaClient, bucket_for};
pub use config::OktaConfig;

use async_trait::async_trait;
use grantflow_model::{
    ConnectionName, Grant, GrantSource, OpKind, Operation, ResourceGrant, SystemKind,
};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::{Applied, BuildContext, Connector, Description, Failure, Observed, SyncSink};
use mapping::{APP, ASSIGNED, GROUP, MEMBER};

pub const SYSTEM: &str = "okta";

pub struct OktaConnector {
    connection: ConnectionName,
    client: OktaClient,
}

impl OktaConnector {
    pub fn new(
        connection: ConnectionName,
        config: &OktaConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let token = config.token.read(
            &format!("connection {connection}: token"),
            &context.base_dir,
        )?;
        let client = OktaClient::new(
            &config.base_url,
            token,
            Duration::from_secs(config.timeout_seconds),
            config.max_rate_limit_waits,
            connection.as_str(),
            context.budgets.clone(),
        )?;
        Ok(Self { connection, client })
    }

    /// Every user, including DEPROVISIONED ones, which a plain list omits.
    async fn users(&self, sink: &mut dyn SyncSink) -> Result<Vec<Value>, Failure> {
        let mut users = self
            .client
            .get_all("/api/v1/users", &[("limit", "200")], |n| {
                sink.progress("users", n as u64)
            })
            .await?;
        let seen: BTreeSet<String> = users.iter().filter_map(id_of).collect();
        let deprovisioned = self
            .client
            .get_all(
                "/api/v1/users",
                &[("search", "status eq \"DEPROVISIONED\""), ("limit", "200")],
                |_| {},
            )
            .await?;
        users.extend(
            deprovisioned
                .into_iter()
                .filter(|u| id_of(u).is_some_and(|id| !seen.contains(&id))),
        );
        Ok(users)
    }

    fn unsupported(&self, op: &Operation) -> Failure {
        Failure::Permanent {
            vendor_code: "unsupported".into(),
            message: format!(
                "{}: okta cannot {} on a {} resource",
                self.connection,
                op.verb(),
                op.resource().kind
            ),
            status: None,
        }
    }
}

fn id_of(value: &Value) -> Option<String> {
    value.get("id").and_then(Value::as_str).map(str::to_string)
}

/// `E0000007` (not found) when removing means the grant is already gone.
fn is_not_found(failure: &Failure) -> bool {
    matches!(failure, Failure::Permanent { vendor_code, .. } if vendor_code == "E0000007")
}

#[async_trait]
impl Connector for OktaConnector {
    fn describe(&self) -> Description {
        Description {
            system: SystemKind::new(SYSTEM),
            connection: self.connection.clone(),
            base_url: self.client.base_url().to_string(),
            operations: vec![
                "add_grant",
                "remove_grant",
                "add_group_grant",
                "remove_group_grant",
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
        for user in self.users(sink).await? {
            if let Some(account) = mapping::account(&user) {
                sink.account(account);
            }
        }

        let groups = self
            .client
            .get_all("/api/v1/groups", &[("limit", "200")], |n| {
                sink.progress("groups", n as u64)
            })
            .await?;
        let mut members_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut read = 0u64;
        for group in groups.iter().filter_map(mapping::group) {
            let path = format!("/api/v1/groups/{}/users", group.id);
            let members = self
                .client
                .get_all(&path, &[("limit", "200")], |_| {})
                .await?;
            for user_id in members.iter().filter_map(id_of) {
                members_of
                    .entry(user_id.clone())
                    .or_default()
                    .insert(group.id.clone());
                sink.grant(Grant {
                    account_id: user_id,
                    resource_id: group.id.clone(),
                    entitlement: MEMBER.into(),
                    source: GrantSource::Direct,
                });
            }
            read += 1;
            sink.progress("memberships", read);
            sink.resource(group);
        }

        let apps = self
            .client
            .get_all("/api/v1/apps", &[("limit", "200")], |n| {
                sink.progress("apps", n as u64)
            })
            .await?;
        let mut read = 0u64;
        for app in apps.iter().filter_map(mapping::app) {
            let groups_path = format!("/api/v1/apps/{}/groups", app.id);
            let app_groups: BTreeSet<String> = self
                .client
                .get_all(&groups_path, &[("limit", "200")], |_| {})
                .await?
                .iter()
                .filter_map(id_of)
                .collect();
            for group_id in &app_groups {
                sink.resource_grant(ResourceGrant {
                    holder_id: group_id.clone(),
                    resource_id: app.id.clone(),
                    entitlement: ASSIGNED.into(),
                });
            }
            let users_path = format!("/api/v1/apps/{}/users", app.id);
            let app_users = self
                .client
                .get_all(&users_path, &[("limit", "500")], |_| {})
                .await?;
            for app_user in &app_users {
                let Some(user_id) = id_of(app_user) else {
                    continue;
                };
                let scope = app_user
                    .get("scope")
                    .and_then(Value::as_str)
                    .unwrap_or("USER");
                let source = if scope == "GROUP" {
                    // Okta does not say which group; name one that gives it.
                    let via = members_of
                        .get(&user_id)
                        .and_then(|groups| groups.iter().find(|g| app_groups.contains(*g)))
                        .cloned()
                        .unwrap_or_default();
                    GrantSource::Group { group_id: via }
                } else {
                    GrantSource::Direct
                };
                sink.grant(Grant {
                    account_id: user_id,
                    resource_id: app.id.clone(),
                    entitlement: ASSIGNED.into(),
                    source,
                });
            }
            read += 1;
            sink.progress("app assignments", read);
            sink.resource(app);
        }
        Ok(())
    }

    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
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
        match self.client.send(method.clone(), url, body).await {
            Ok(_) => Ok(Applied::Changed),
            // Okta's own "already assigned" is the effect we wanted.
            Err(Failure::Permanent { vendor_code, .. }) if vendor_code == "E0000062" => {
                Ok(Applied::AlreadyPresent)
            }
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
        Ok(if present == op.widens_access() {
            Observed::Done
        } else {
            Observed::NotDone
        })
    }
}
