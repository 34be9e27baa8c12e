//! A generic SCIM 2.0 connector (RFC 7643 / RFC 7644): Users as accounts, Groups as resources with `member`,
//! membership changed with PATCH after reading the group (so a repeated operation changes nothing), and
//! deactivation / reactivation with PATCH `replace active`; accounts created, retired and their profiles
//! updated through `/Users` (`accounts.rs`, shared with Slack's SCIM API).

pub(crate) mod accounts;
mod client;
mod config;
mod mapping;

pub use client::{BUCKET, Reply, ScimClient, ScimDialect};
pub use config::ScimConfig;

use async_trait::async_trait;
use grantflow_model::{
    AccountRef, ConnectionName, Grant, GrantSource, OpKind, Operation, SystemKind,
};
use reqwest::Method;
use scim_v2::filter::{AttrExp, AttrPath, CompValue, CompareOp, Filter};
use serde_json::{Value, json};

use crate::{Applied, BuildContext, Connector, Description, Failure, Observed, SyncSink};
use mapping::{GROUP, MEMBER};

pub const SYSTEM: &str = "scim";

pub(crate) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Account actions: SCIM has one lifecycle switch, `active`.
pub const ACTIONS: &[(&str, bool)] = &[
    ("deactivate", false),
    ("suspend", false),
    ("activate", true),
    ("reactivate", true),
    ("unsuspend", true),
];

pub struct ScimConnector {
    connection: ConnectionName,
    app: String,
    client: ScimClient,
}

/// `attr eq "value"`, quoted and escaped by the `scim_v2` crate's filter printer.
pub(crate) fn eq_filter(attr: &str, value: &str) -> String {
    Filter::Attr(AttrExp::Comparison(
        AttrPath::with_name(attr),
        CompareOp::Eq,
        CompValue::Str(value.to_string()),
    ))
    .to_string()
}

/// What one operation acts on, resolved to SCIM ids.
enum Target {
    Member { group: String, user: Option<String> },
    Active { user: Option<String>, active: bool },
}

impl ScimConnector {
    pub fn new(
        connection: ConnectionName,
        config: &ScimConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let token = context.secret(&connection, "token", &config.token)?;
        let app = config.app.clone().unwrap_or_else(|| connection.to_string());
        let client = ScimClient::new(
            SYSTEM,
            ScimDialect::new(app.clone(), config, token),
            config,
            &connection,
            context,
            None,
        )?;
        Ok(Self {
            connection,
            app,
            client,
        })
    }

    fn unsupported(&self, op: &Operation) -> Failure {
        Failure::Permanent {
            vendor_code: "unsupported".into(),
            message: format!(
                "{} ({}): SCIM can add or remove group members and deactivate or reactivate users, not {} {} on a {}",
                self.connection,
                self.app,
                op.verb(),
                op.entitlement(),
                op.resource().kind
            ),
            status: None,
        }
    }

    fn target_kind(&self, op: &Operation) -> Result<(), Failure> {
        match &op.kind {
            OpKind::AddGrant {
                resource,
                entitlement,
                ..
            }
            | OpKind::RemoveGrant {
                resource,
                entitlement,
                ..
            } if resource.kind.as_str() == GROUP && entitlement == MEMBER => Ok(()),
            OpKind::AccountAction { action, params, .. } => {
                if !ACTIONS.iter().any(|(a, _)| a == action) {
                    let known: Vec<&str> = ACTIONS.iter().map(|(a, _)| *a).collect();
                    return Err(Failure::Permanent {
                        vendor_code: "invalid_action".into(),
                        message: format!(
                            "{}: SCIM has no action \"{action}\" (known: {})",
                            self.connection,
                            known.join(", ")
                        ),
                        status: None,
                    });
                }
                if let Some(key) = params.keys().next() {
                    return Err(Failure::Permanent {
                        vendor_code: "invalid_action".into(),
                        message: format!(
                            "{}: SCIM action {action} takes no option \"{key}\"",
                            self.connection
                        ),
                        status: None,
                    });
                }
                Ok(())
            }
            OpKind::CreateAccount { .. } | OpKind::UpdateProfile { .. } => Ok(()),
            OpKind::RetireAccount { .. } => Ok(()),
            _ => Err(self.unsupported(op)),
        }
    }

    async fn target(&self, op: &Operation) -> Result<Target, Failure> {
        self.target_kind(op)?;
        match &op.kind {
            OpKind::AddGrant {
                account, resource, ..
            }
            | OpKind::RemoveGrant {
                account, resource, ..
            } => Ok(Target::Member {
                group: resource.id.clone(),
                user: self.user_id(account).await?,
            }),
            OpKind::AccountAction {
                account, action, ..
            } => Ok(Target::Active {
                user: self.user_id(account).await?,
                active: ACTIONS
                    .iter()
                    .find(|(a, _)| a == action)
                    .is_some_and(|(_, active)| *active),
            }),
            _ => Err(self.unsupported(op)),
        }
    }

    /// The SCIM id of an account; a `pending:<email>` person is looked up by userName, then by email.
    async fn user_id(&self, account: &AccountRef) -> Result<Option<String>, Failure> {
        let Some(email) = crate::pending_email(account) else {
            return Ok(Some(account.id.clone()));
        };
        for attr in ["userName", "emails.value"] {
            let found = match self
                .client
                .list("Users", Some(&eq_filter(attr, email)), |_| {})
                .await
            {
                Ok(found) => found,
                // Not every provider filters on emails.value; for this lookup that only means "not found".
                Err(Failure::Permanent { vendor_code, .. })
                    if attr != "userName" && vendor_code == "invalidFilter" =>
                {
                    continue;
                }
                Err(f) => return Err(f),
            };
            if let Some(id) = found
                .first()
                .and_then(|u| u.get("id"))
                .and_then(Value::as_str)
            {
                return Ok(Some(id.to_string()));
            }
        }
        Ok(None)
    }

    /// The group's member user ids and its ETag, read just before a change.
    async fn members(&self, group: &str) -> Result<(Vec<String>, Option<String>), Failure> {
        let reply = self
            .client
            .get(&["Groups", group], &[("attributes", "members")])
            .await?;
        Ok((mapping::user_members(&reply.body), reply.etag))
    }

    async fn active(&self, user: &str) -> Result<(bool, Option<String>), Failure> {
        let reply = self
            .client
            .get(&["Users", user], &[("attributes", "active")])
            .await?;
        Ok((mapping::is_active(&reply.body), reply.etag))
    }

    async fn patch(
        &self,
        endpoint: &str,
        id: &str,
        operation: Value,
        etag: Option<&str>,
    ) -> Result<(), Failure> {
        let body = json!({ "schemas": [PATCH_OP], "Operations": [operation] });
        self.client
            .call(Method::PATCH, &[endpoint, id], &[], Some(&body), etag)
            .await
            .map(|_| ())
    }

    fn no_account(&self, op: &Operation) -> Failure {
        // A person the plan creates the account of: the creation may not have taken effect yet.
        if op.account().is_some_and(|a| a.pending_email().is_some()) {
            return Failure::retry_later(
                Some("user_not_found".into()),
                format!(
                    "{} ({}): {} has no SCIM user yet",
                    self.connection,
                    self.app,
                    op.holder().label()
                ),
            );
        }
        Failure::Permanent {
            vendor_code: "user_not_found".into(),
            message: format!(
                "{} ({}): {} has no SCIM user",
                self.connection,
                self.app,
                op.holder().label()
            ),
            status: None,
        }
    }
}

#[async_trait]
impl Connector for ScimConnector {
    fn describe(&self) -> Description {
        Description {
            system: SystemKind::new(SYSTEM),
            connection: self.connection.clone(),
            base_url: self.client.base().to_string(),
            operations: vec![
                "add_grant",
                "remove_grant",
                "account_action",
                "create_account",
                "retire_account",
                "update_profile",
            ],
            rate_limit_buckets: vec![BUCKET],
            accounts_created_on_first_login: false,
        }
    }

    async fn health(&self) -> Result<(), Failure> {
        // /ServiceProviderConfig may be served without auth; a one-user page proves the token.
        self.client
            .get(&["Users"], &[("startIndex", "1"), ("count", "1")])
            .await
            .map(|_| ())
    }

    fn check(&self, op: &Operation) -> Result<(), Failure> {
        self.target_kind(op)
    }

    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure> {
        let users = self
            .client
            .list("Users", None, |n| sink.progress("users", n as u64))
            .await?;
        for account in users.iter().filter_map(mapping::account) {
            sink.account(account);
        }
        let groups = self
            .client
            .list("Groups", None, |n| sink.progress("groups", n as u64))
            .await?;
        for g in &groups {
            let Some(resource) = mapping::group(g) else {
                continue;
            };
            for member in mapping::user_members(g) {
                sink.grant(Grant {
                    account_id: member,
                    resource_id: resource.id.clone(),
                    entitlement: MEMBER.into(),
                    source: GrantSource::Direct,
                });
            }
            sink.resource(resource);
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
                let body = accounts::creation_body(account, attributes, options, str::to_string);
                return accounts::create(&self.client, account, &body).await;
            }
            OpKind::RetireAccount { account, mode, .. } => {
                return accounts::retire(&self.client, account, *mode, accounts::DeleteMeans::Gone)
                    .await;
            }
            OpKind::UpdateProfile { account, after, .. } => {
                return accounts::update_profile(&self.client, account, after, || {
                    self.no_account(op)
                })
                .await;
            }
            _ => {}
        }
        match self.target(op).await? {
            Target::Member { group, user } => {
                let Some(user) = user else {
                    return if op.widens_access() {
                        Err(self.no_account(op))
                    } else {
                        Ok(Applied::AlreadyPresent)
                    };
                };
                let (members, etag) = self.members(&group).await?;
                let add = op.widens_access();
                if members.contains(&user) == add {
                    return Ok(Applied::AlreadyPresent);
                }
                let operation = if add {
                    json!({"op": "add", "path": "members", "value": [{"value": user}]})
                } else {
                    json!({"op": "remove", "path": format!("members[{}]", eq_filter("value", &user))})
                };
                self.patch("Groups", &group, operation, etag.as_deref())
                    .await?;
                Ok(Applied::Changed)
            }
            Target::Active { user, active } => {
                let Some(user) = user else {
                    return Err(self.no_account(op));
                };
                let (now, etag) = self.active(&user).await?;
                if now == active {
                    return Ok(Applied::AlreadyPresent);
                }
                let operation = json!({"op": "replace", "path": "active", "value": active});
                self.patch("Users", &user, operation, etag.as_deref())
                    .await?;
                Ok(Applied::Changed)
            }
        }
    }

    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        match &op.kind {
            OpKind::CreateAccount { account, .. } => {
                return accounts::created(&self.client, account).await;
            }
            OpKind::RetireAccount { account, mode, .. } => {
                return accounts::retired(
                    &self.client,
                    account,
                    *mode,
                    accounts::DeleteMeans::Gone,
                )
                .await;
            }
            OpKind::UpdateProfile { account, after, .. } => {
                return accounts::profile_updated(&self.client, account, after).await;
            }
            _ => {}
        }
        let done = match self.target(op).await? {
            Target::Member { group, user } => match user {
                Some(user) => self.members(&group).await?.0.contains(&user) == op.widens_access(),
                None => !op.widens_access(),
            },
            Target::Active { user, active } => match user {
                Some(user) => self.active(&user).await?.0 == active,
                None => false,
            },
        };
        Ok(Observed::from(done))
    }
}
