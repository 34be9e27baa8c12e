//! The GitHub connector: organisation members and invitations as accounts, teams (member, maintainer) and
//! repositories (a team's pull/triage/push/maintain/admin permission) through the REST API.
//!
//! Every write is preceded by a read of the one object it changes, so a replayed operation sends nothing.
//! A team membership for someone outside the organisation is an invitation (`pending`), which counts as done:
//! the rest is up to the invitee.
//!
//! Accounts (`accounts.rs`): an organisation invitation by email, found by email among invitations and members;
//! retired by removing the membership or cancelling the invitation.

mod accounts;
mod client;
mod config;
mod full;
mod mapping;

pub use client::{GithubClient, GithubDialect};
pub use config::GithubConfig;

use accounts::Resolved;
use async_trait::async_trait;
use grantflow_model::{ConnectionName, OpKind, Operation, SystemKind};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{Applied, BuildContext, Connector, Description, Failure, Observed, SyncSink};
use client::REPOSITORY_JSON;
use mapping::{PERMISSIONS, REPOSITORY, TEAM, TEAM_ROLES};

pub const SYSTEM: &str = "github";

pub struct GithubConnector {
    connection: ConnectionName,
    client: GithubClient,
    configured_org: Option<String>,
    org: tokio::sync::OnceCell<String>,
}

fn is_not_found(failure: &Failure) -> bool {
    failure.is_status(404)
}

fn login_of(user: &Value) -> Option<String> {
    user.get("login")
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl GithubConnector {
    pub fn new(
        connection: ConnectionName,
        config: &GithubConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let token = context.secret(&connection, "token", &config.token)?;
        let client = GithubClient::new(
            SYSTEM,
            GithubDialect { token },
            config,
            &connection,
            context,
            None,
        )?;
        Ok(Self {
            connection,
            client,
            configured_org: config.organization.clone(),
            org: tokio::sync::OnceCell::new(),
        })
    }

    /// The organisation: configured, or the token's only one.
    async fn org(&self) -> Result<&str, Failure> {
        let org = self
            .org
            .get_or_try_init(|| async {
                if let Some(org) = &self.configured_org {
                    return Ok(org.clone());
                }
                let orgs: Vec<String> =
                    self.client.get_all(&["user", "orgs"], &[]).await?.iter().filter_map(login_of).collect();
                match orgs.as_slice() {
                    [only] => Ok(only.clone()),
                    _ => Err(Failure::Config {
                        message: format!(
                            "connection {}: set `organization`; the token belongs to {} organisations ({})",
                            self.connection,
                            orgs.len(),
                            orgs.join(", ")
                        ),
                    }),
                }
            })
            .await?;
        Ok(org.as_str())
    }

    fn unsupported(&self, op: &Operation) -> Failure {
        Failure::unsupported(format!(
            "{}: github cannot {} \"{}\" on a {} resource",
            self.connection,
            op.verb(),
            op.entitlement(),
            op.resource().kind
        ))
    }

    /// The account's email: from the listing when GitHub includes it, else from the user's profile.
    async fn email(&self, user: &Value) -> Result<Option<String>, Failure> {
        Ok(self.profile(user).await?.0)
    }

    /// The public email and whether a site administrator suspended the account (GitHub Enterprise Server's
    /// `suspended_at`), from the listed user, or from the full profile when the listing lacks the email.
    async fn profile(&self, user: &Value) -> Result<(Option<String>, bool), Failure> {
        if let Some(email) = user
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
        {
            return Ok((Some(email.to_string()), mapping::suspended(user)));
        }
        let Some(login) = login_of(user) else {
            return Ok((None, mapping::suspended(user)));
        };
        let profile = self.client.get(&["users", &login], None).await?;
        Ok((
            profile
                .body
                .get("email")
                .and_then(Value::as_str)
                .map(str::to_string),
            mapping::suspended(user) || mapping::suspended(&profile.body),
        ))
    }

    /// The account's role on a team, `None` when not on it (pending memberships count: the invitation is out).
    async fn team_role(&self, team: &str, login: &str) -> Result<Option<String>, Failure> {
        let org = self.org().await?;
        match self
            .client
            .get(&["orgs", org, "teams", team, "memberships", login], None)
            .await
        {
            Ok(r) => Ok(r
                .body
                .get("role")
                .and_then(Value::as_str)
                .map(str::to_string)),
            Err(failure) if is_not_found(&failure) => {
                // A missing team is worth saying, not hiding as "not a member".
                self.client.get(&["orgs", org, "teams", team], None).await?;
                Ok(None)
            }
            Err(failure) => Err(failure),
        }
    }

    /// The permission a team holds on a repository, `None` when it holds none.
    async fn team_permission(&self, team: &str, repo: &str) -> Result<Option<String>, Failure> {
        let org = self.org().await?;
        let path = ["orgs", org, "teams", team, "repos", org, repo];
        match self.client.get(&path, Some(REPOSITORY_JSON)).await {
            Ok(r) => Ok(mapping::permission(&r.body)),
            Err(failure) if is_not_found(&failure) => {
                self.client.get(&["orgs", org, "teams", team], None).await?;
                self.client.get(&["repos", org, repo], None).await?;
                Ok(None)
            }
            Err(failure) => Err(failure),
        }
    }

    /// What `op` wants to hold, what holds now, and the path that changes it.
    async fn state(&self, op: &Operation) -> Result<(Option<String>, Vec<String>), Failure> {
        let resource = op.resource();
        let entitlement = op.entitlement();
        let org = self.org().await?;
        match (&op.kind, resource.kind.as_str()) {
            (OpKind::AddGrant { account, .. } | OpKind::RemoveGrant { account, .. }, TEAM)
                if TEAM_ROLES.contains(&entitlement) =>
            {
                let current = self.team_role(&resource.id, &account.login).await?;
                let path = [
                    "orgs",
                    org,
                    "teams",
                    &resource.id,
                    "memberships",
                    &account.login,
                ];
                Ok((current, path.iter().map(|s| s.to_string()).collect()))
            }
            (
                OpKind::AddGroupGrant { group, .. } | OpKind::RemoveGroupGrant { group, .. },
                REPOSITORY,
            ) if group.kind.as_str() == TEAM && PERMISSIONS.contains(&entitlement) => {
                let current = self.team_permission(&group.id, &resource.id).await?;
                let path = ["orgs", org, "teams", &group.id, "repos", org, &resource.id];
                Ok((current, path.iter().map(|s| s.to_string()).collect()))
            }
            _ => Err(self.unsupported(op)),
        }
    }
}

#[async_trait]
impl Connector for GithubConnector {
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
            rate_limit_buckets: vec![client::CORE, client::SECONDARY, client::SECONDARY_HOURLY],
            accounts_created_on_first_login: false,
        }
    }

    async fn health(&self) -> Result<(), Failure> {
        let org = self.org().await?;
        self.client.get(&["orgs", org], None).await.map(|_| ())
    }

    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure> {
        full::sync(self, sink).await
    }

    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
        match &op.kind {
            OpKind::CreateAccount {
                account,
                attributes,
                ..
            } => return self.invite(account, attributes).await,
            OpKind::RetireAccount { account, mode, .. } => {
                return self.retire(account, *mode).await;
            }
            _ => {}
        }
        let resolved = match self.resolve_pending(op).await? {
            Ok(resolved) => resolved,
            // Nobody to take access from yet; someone to wait for.
            Err(_) if !op.widens_access() => return Ok(Applied::AlreadyPresent),
            Err(not_yet) => return Err(not_yet),
        };
        let op = &resolved;
        let (current, path) = self.state(op).await?;
        let wanted = op.entitlement();
        let holds = current.as_deref() == Some(wanted);
        let segments: Vec<&str> = path.iter().map(String::as_str).collect();
        let url = self.client.url(&segments, &[])?;
        if op.widens_access() {
            if holds {
                return Ok(Applied::AlreadyPresent);
            }
            // PUT sets the role or permission, replacing a different one.
            let key = if op.resource().kind.as_str() == TEAM {
                "role"
            } else {
                "permission"
            };
            self.client
                .send(Method::PUT, url, Some(json!({ key: wanted })), None)
                .await?;
            return Ok(Applied::Changed);
        }
        // Only take away what the operation names: removing `pull` must not strip a team's `admin`.
        if !holds {
            return Ok(Applied::AlreadyPresent);
        }
        match self.client.send(Method::DELETE, url, None, None).await {
            Ok(_) => Ok(Applied::Changed),
            Err(failure) if is_not_found(&failure) => Ok(Applied::AlreadyPresent),
            Err(failure) => Err(failure),
        }
    }

    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        match &op.kind {
            OpKind::CreateAccount {
                account,
                attributes,
                ..
            } => return self.invited(account, attributes).await,
            OpKind::RetireAccount { account, .. } => return self.retired(account).await,
            _ => {}
        }
        let Ok(resolved) = self.resolve_pending(op).await? else {
            // No login yet: nothing is held.
            return Ok(Observed::of(op, false));
        };
        let op = &resolved;
        let (current, _) = self.state(op).await?;
        let present = current.as_deref() == Some(op.entitlement());
        Ok(Observed::of(op, present))
    }

    fn check(&self, op: &Operation) -> Result<(), Failure> {
        match &op.kind {
            OpKind::CreateAccount {
                account,
                attributes,
                ..
            } => accounts::check_create(self.connection.as_str(), account, attributes),
            OpKind::RetireAccount { account, mode, .. } => {
                accounts::check_retire(self.connection.as_str(), account, *mode)
            }
            _ => Ok(()),
        }
    }
}

impl GithubConnector {
    /// `op` with a `pending:<email>` account (invited in the same plan), or an email-only invitation a sync read
    /// (`invitation:<id>`, named by the email), given its GitHub login; the inner
    /// `Err` is why there is none yet (waiting for the invitee, or the invitation not visible yet).
    async fn resolve_pending(&self, op: &Operation) -> Result<Result<Operation, Failure>, Failure> {
        let mut resolved = op.clone();
        if let OpKind::AddGrant { account, .. } | OpKind::RemoveGrant { account, .. } =
            &mut resolved.kind
            && (account.pending_email().is_some()
                || account.id.starts_with(accounts::INVITATION_PREFIX))
        {
            match self.pending_login(account).await? {
                Resolved::Login(login) => account.login = login,
                Resolved::NotYet(why) => return Ok(Err(why)),
            }
        }
        Ok(Ok(resolved))
    }
}
