//! The Google Workspace connector: users, groups and group memberships with their roles (member, manager,
//! owner) through the Admin SDK Directory API.
//!
//! Idempotency: a membership is read (`members.get`, which sees a new member at once, unlike `members.list`)
//! before it is written, and a 409 `duplicate` from `members.insert` counts as already present, so a retry
//! after a write whose effect is not yet visible in listings never inserts twice.
//!
//! Accounts (`accounts.rs`): users created, suspended, deleted and their declared profile fields updated,
//! when the connection's credential may write users (a fixed token, or a service account given
//! `admin.directory.user`).

mod accounts;
mod auth;
mod client;
mod config;
mod full;
mod mapping;

pub use auth::GOOGLE_TOKEN_AUDIENCE;
pub use client::{GoogleClient, GoogleDialect};
pub use config::GoogleConfig;

use async_trait::async_trait;
use grantflow_model::{ConnectionName, OpKind, Operation, SystemKind};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::{Applied, BuildContext, Connector, Description, Failure, Observed, SyncSink};
use mapping::{ENTITLEMENTS, GROUP};

pub const SYSTEM: &str = "google";

pub struct GoogleConnector {
    connection: ConnectionName,
    client: GoogleClient,
    customer: String,
    /// The credential may write users: a fixed token (its scopes are the token's business; a missing
    /// one is reported by Google), or a service account asking for `admin.directory.user`.
    manages_accounts: bool,
    /// Passwords of users this connector created, by natural key, until the caller takes them.
    secrets: crate::secret::OneTimeSecrets,
}

/// The connection's credential: a fixed token, or a service account acting as `subject`.
fn auth_of(
    connection: &ConnectionName,
    config: &GoogleConfig,
    context: &BuildContext,
) -> Result<auth::GoogleAuth, Failure> {
    match (&config.token, &config.service_account_key, &config.subject) {
        (Some(token), None, _) => Ok(auth::GoogleAuth::Token(
            context.secret(connection, "token", token)?,
        )),
        (None, Some(key), Some(subject)) => {
            let json = context.secret(connection, "service_account_key", key)?;
            auth::GoogleAuth::service_account(
                connection,
                auth::ServiceAccountKey::parse(connection, &json)?,
                subject,
                &config.scopes,
                config.allow_insecure_http,
                std::time::Duration::from_secs(config.timeout_seconds),
            )
        }
        (None, Some(_), None) => Err(Failure::config(format!(
            "connection {connection}: service_account_key needs `subject`, the administrator the service account acts as"
        ))),
        _ => Err(Failure::config(format!(
            "connection {connection}: give exactly one of `token` (an access token) or `service_account_key` (a service account with domain-wide delegation)"
        ))),
    }
}

impl GoogleConnector {
    pub fn new(
        connection: ConnectionName,
        config: &GoogleConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let auth = auth_of(&connection, config, context)?;
        let client = GoogleClient::new(
            SYSTEM,
            GoogleDialect { auth },
            config,
            &connection,
            context,
            None,
        )?;
        let manages_accounts =
            config.token.is_some() || config.scopes.iter().any(|s| s == accounts::USER_SCOPE);
        Ok(Self {
            connection,
            client,
            customer: config.customer.clone(),
            manages_accounts,
            secrets: crate::secret::OneTimeSecrets::default(),
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

    /// `op` with a `pending:<email>` account (created in the same plan) replaced by its user's id; `None`
    /// while no such user exists.
    async fn resolve_pending(&self, op: &Operation) -> Result<Option<Operation>, Failure> {
        let mut resolved = op.clone();
        if let OpKind::AddGrant { account, .. } | OpKind::RemoveGrant { account, .. } =
            &mut resolved.kind
            && account.pending_email().is_some()
        {
            let Some(user) = accounts::pending_user(&self.client, account).await? else {
                return Ok(None);
            };
            account.id = user
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| Failure::unexpected_response("a google user without an id", None))?;
        }
        Ok(Some(resolved))
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
            operations: if self.manages_accounts {
                vec![
                    "add_grant",
                    "remove_grant",
                    "create_account",
                    "retire_account",
                    "update_profile",
                ]
            } else {
                vec!["add_grant", "remove_grant"]
            },
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
        match &op.kind {
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
                return accounts::update_profile(&self.client, account, after).await;
            }
            _ => {}
        }
        let Some(resolved) = self.resolve_pending(op).await? else {
            if !op.widens_access() {
                // No user yet: nothing to take away.
                return Ok(Applied::AlreadyPresent);
            }
            // Its dependency (the account's creation) succeeded, so the user should be readable soon.
            return Err(Failure::retry_later(
                None,
                format!(
                    "{}: the google user that {} names does not exist yet",
                    self.connection,
                    op.describe()
                ),
            ));
        };
        let op = &resolved;
        let (group, user, role) = self.target(op)?;
        match &op.kind {
            OpKind::AddGrant { .. } => self.add(group, user, &role).await,
            OpKind::RemoveGrant { .. } => self.remove(group, user, &role).await,
            _ => Err(self.unsupported(op)),
        }
    }

    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        match &op.kind {
            OpKind::CreateAccount { account, .. } => {
                return accounts::created(&self.client, account).await;
            }
            OpKind::RetireAccount { account, mode, .. } => {
                return accounts::retired(&self.client, account, *mode).await;
            }
            OpKind::UpdateProfile { account, after, .. } => {
                return accounts::profile_updated(&self.client, account, after).await;
            }
            _ => {}
        }
        let Some(resolved) = self.resolve_pending(op).await? else {
            // No user yet: nothing is held.
            return Ok(Observed::of(op, false));
        };
        let op = &resolved;
        let (group, user, role) = self.target(op)?;
        let present = self
            .current_role(group, user)
            .await?
            .is_some_and(|r| r == role);
        Ok(Observed::of(op, present))
    }

    fn check(&self, op: &Operation) -> Result<(), Failure> {
        match &op.kind {
            OpKind::CreateAccount {
                account,
                attributes,
                ..
            } => accounts::check(self.connection.as_str(), account, attributes, true),
            OpKind::UpdateProfile { account, after, .. } => {
                accounts::check(self.connection.as_str(), account, after, false)
            }
            _ => Ok(()),
        }
    }

    fn take_secret(&self, op: &Operation) -> Option<SecretString> {
        self.secrets.take(op)
    }
}
