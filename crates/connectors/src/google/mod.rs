//! The Google Workspace connector: users, groups and group memberships with their roles (member, manager,
//! owner) through the Admin SDK Directory API.
//!
//! Idempotency: a membership is read (`members.get`, which sees a new member at once, unlike `members.list`)
//! before it is written, and a 409 `duplicate` from `members.insert` counts as already present, so a retry
//! after a write whose effect is not yet visible in listings never inserts twice.

mod client;
mod config;
mod full;
mod mapping;

pub use client::{GoogleClient, GoogleDialect};
pub use config::GoogleConfig;

use async_trait::async_trait;
use grantflow_model::{ConnectionName, OpKind, Operation, SystemKind};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{Applied, BuildContext, Connector, Description, Failure, Observed, SyncSink};
use mapping::{ENTITLEMENTS, GROUP};

pub const SYSTEM: &str = "google";

pub struct GoogleConnector {
    connection: ConnectionName,
    client: GoogleClient,
    customer: String,
}

impl GoogleConnector {
    pub fn new(
        connection: ConnectionName,
        config: &GoogleConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let token = context.secret(&connection, "token", &config.token)?;
        let client = GoogleClient::new(
            SYSTEM,
            GoogleDialect { token },
            config,
            &connection,
            context,
            None,
        )?;
        Ok(Self {
            connection,
            client,
            customer: config.customer.clone(),
        })
    }

    fn unsupported(&self, op: &Operation) -> Failure {
        Failure::unsupported(format!(
            "{}: google cannot {} \"{}\" on a {} resource",
            self.connection,
            op.verb(),
            op.entitlement(),
            op.resource().kind
        ))
    }

    /// The (group id, user id, native role) an operation acts on, or why it cannot be done here.
    fn target<'a>(&self, op: &'a Operation) -> Result<(&'a str, &'a str, String), Failure> {
        let resource = op.resource();
        let account = op.account().ok_or_else(|| self.unsupported(op))?;
        if resource.kind.as_str() != GROUP || !ENTITLEMENTS.contains(&op.entitlement()) {
            return Err(self.unsupported(op));
        }
        Ok((&resource.id, &account.id, op.entitlement().to_uppercase()))
    }

    /// The member's current role, `None` when not a member (`members.get` reads through, not a listing).
    async fn current_role(&self, group: &str, user: &str) -> Result<Option<String>, Failure> {
        match self
            .client
            .get(&["groups", group, "members", user], &[])
            .await
        {
            Ok(member) => Ok(member
                .get("role")
                .and_then(Value::as_str)
                .map(str::to_string)),
            Err(failure) if failure.is_vendor_code("notFound") => {
                // A missing group is worth saying, not hiding as "not a member".
                self.client.get(&["groups", group], &[]).await?;
                Ok(None)
            }
            Err(failure) => Err(failure),
        }
    }

    async fn set_role(&self, group: &str, user: &str, role: &str) -> Result<Applied, Failure> {
        let url = self.client.url(&["groups", group, "members", user], &[])?;
        self.client
            .send_json(Method::PATCH, url, Some(json!({ "role": role })))
            .await?;
        Ok(Applied::Changed)
    }

    async fn add(&self, group: &str, user: &str, role: &str) -> Result<Applied, Failure> {
        match self.current_role(group, user).await? {
            Some(current) if current == role => return Ok(Applied::AlreadyPresent),
            Some(_) => return self.set_role(group, user, role).await,
            None => {}
        }
        let url = self.client.url(&["groups", group, "members"], &[])?;
        match self
            .client
            .send_json(Method::POST, url, Some(json!({ "id": user, "role": role })))
            .await
        {
            Ok(_) => Ok(Applied::Changed),
            Err(failure) if failure.is_vendor_code("duplicate") => {
                match self.current_role(group, user).await? {
                    Some(current) if current != role => self.set_role(group, user, role).await,
                    _ => Ok(Applied::AlreadyPresent),
                }
            }
            Err(failure) => Err(failure),
        }
    }

    /// Removes the membership only while it carries the role being taken away: removing `member` from a
    /// manager would take more than asked.
    async fn remove(&self, group: &str, user: &str, role: &str) -> Result<Applied, Failure> {
        match self.current_role(group, user).await? {
            Some(current) if current == role => {}
            _ => return Ok(Applied::AlreadyPresent),
        }
        let url = self.client.url(&["groups", group, "members", user], &[])?;
        match self.client.send_json(Method::DELETE, url, None).await {
            Ok(_) => Ok(Applied::Changed),
            Err(failure) if failure.is_vendor_code("notFound") => Ok(Applied::AlreadyPresent),
            Err(failure) => Err(failure),
        }
    }
}

#[async_trait]
impl Connector for GoogleConnector {
    fn describe(&self) -> Description {
        Description {
            system: SystemKind::new(SYSTEM),
            connection: self.connection.clone(),
            base_url: self.client.base().to_string(),
            operations: vec!["add_grant", "remove_grant"],
            rate_limit_buckets: vec![client::BUCKET],
            accounts_created_on_first_login: false,
        }
    }

    async fn health(&self) -> Result<(), Failure> {
        self.client
            .get(
                &["users"],
                &[("customer", &self.customer), ("maxResults", "1")],
            )
            .await
            .map(|_| ())
    }

    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure> {
        full::sync(self, sink).await
    }

    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
        let (group, user, role) = self.target(op)?;
        match &op.kind {
            OpKind::AddGrant { .. } => self.add(group, user, &role).await,
            OpKind::RemoveGrant { .. } => self.remove(group, user, &role).await,
            _ => Err(self.unsupported(op)),
        }
    }

    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        let (group, user, role) = self.target(op)?;
        let present = self
            .current_role(group, user)
            .await?
            .is_some_and(|r| r == role);
        Ok(Observed::of(op, present))
    }
}
