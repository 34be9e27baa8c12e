//! The Salesforce connector: Users as accounts and permission-set assignments, through the REST API and SOQL.
//! An assignment is created with a PermissionSetAssignment (DUPLICATE_VALUE means it is already there) and
//! removed by finding its Id with SOQL and deleting it. Permission sets a profile owns are left alone. Users are
//! created, retired (deactivated or frozen) and updated as `accounts.rs` says.

mod accounts;
mod auth;
mod client;
mod config;
mod mapping;

pub use client::{SalesforceClient, SalesforceDialect, api_usage, error_of, quote};
pub use config::SalesforceConfig;

use async_trait::async_trait;
use grantflow_model::{
    AccountRef, ConnectionName, Grant, GrantSource, OpKind, Operation, SystemKind,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{Applied, BuildContext, Connector, Description, Failure, Observed, SyncSink};
use mapping::{ASSIGNED, PERMISSION_SET};

pub const SYSTEM: &str = "salesforce";

pub struct SalesforceConnector {
    connection: ConnectionName,
    client: SalesforceClient,
}

fn id_of(record: &Value) -> Option<String> {
    record.get("Id").and_then(Value::as_str).map(str::to_string)
}

impl SalesforceConnector {
    pub fn new(
        connection: ConnectionName,
        config: &SalesforceConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let ca = match &config.ca_certificate {
            Some(path) => Some(std::fs::read(context.base_dir.join(path)).map_err(|error| {
                Failure::Config {
                    message: format!(
                        "connection {connection}: cannot read ca_certificate {}: {error}",
                        path.display()
                    ),
                }
            })?),
            None => None,
        };
        let auth = match (&config.token, &config.private_key) {
            (Some(token), None) => {
                auth::SalesforceAuth::Token(context.secret(&connection, "token", token)?)
            }
            (None, Some(key)) => auth::SalesforceAuth::jwt(
                &connection,
                config,
                context.secret(&connection, "private_key", key)?,
                ca.as_deref(),
            )?,
            _ => {
                return Err(Failure::config(format!(
                    "connection {connection}: give exactly one of `token` (a session id) or `private_key` (the connected app's JWT bearer flow)"
                )));
            }
        };
        let client = SalesforceClient::new(
            SYSTEM,
            SalesforceDialect::new(config, auth),
            config,
            &connection,
            context,
            ca.as_deref(),
        )?;
        Ok(Self { connection, client })
    }

    fn unsupported(&self, op: &Operation, why: &str) -> Failure {
        Failure::unsupported(format!(
            "{}: salesforce cannot {} {} on a {} resource: {why}",
            self.connection,
            op.verb(),
            op.entitlement(),
            op.resource().kind
        ))
    }

    /// The User Id; for `pending:<email>` (an account the plan creates), the user with that Username (the
    /// login), else that email, if there is one now.
    async fn user_id(&self, account: &AccountRef) -> Result<Option<String>, Failure> {
        let Some(email) = crate::pending_email(account) else {
            return Ok(Some(account.id.clone()));
        };
        if let Some(user) = accounts::user_by_username(&self.client, &account.login).await? {
            return Ok(id_of(&user));
        }
        let soql = format!("SELECT Id FROM User WHERE Email = {} LIMIT 2", quote(email));
        let found = self.client.query(&soql, |_| {}).await?;
        // Two users with one email: nothing is granted on a guess.
        Ok(if found.len() == 1 {
            found.first().and_then(id_of)
        } else {
            None
        })
    }

    /// The Id of the permission set named `name`, refusing one a profile owns.
    async fn permission_set_id(&self, op: &Operation, name: &str) -> Result<String, Failure> {
        let soql = format!(
            "SELECT Id, IsOwnedByProfile FROM PermissionSet WHERE Name = {} LIMIT 1",
            quote(name)
        );
        let found = self.client.query(&soql, |_| {}).await?;
        let set = found.first().ok_or_else(|| Failure::Permanent {
            vendor_code: "NOT_FOUND".into(),
            message: format!("{}: no permission set named {name:?}", self.connection),
            status: None,
        })?;
        if set.get("IsOwnedByProfile").and_then(Value::as_bool) == Some(true) {
            return Err(self.unsupported(op, "the permission set belongs to a profile"));
        }
        id_of(set).ok_or_else(|| Failure::Permanent {
            vendor_code: "unexpected_response".into(),
            message: format!("{}: permission set {name:?} has no Id", self.connection),
            status: None,
        })
    }

    /// The user and permission set ids of an assignment operation; the user is `None` without an account.
    async fn target(&self, op: &Operation) -> Result<(Option<String>, String), Failure> {
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
            return Err(self.unsupported(op, "only permission set assignments are supported"));
        };
        if resource.kind.as_str() != PERMISSION_SET || entitlement != ASSIGNED {
            return Err(self.unsupported(op, "only permission set assignments are supported"));
        }
        let set = self.permission_set_id(op, &resource.id).await?;
        Ok((self.user_id(account).await?, set))
    }

    async fn assignment(&self, user: &str, set: &str) -> Result<Option<String>, Failure> {
        let soql = format!(
            "SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = {} AND PermissionSetId = {}",
            quote(user),
            quote(set)
        );
        Ok(self
            .client
            .query(&soql, |_| {})
            .await?
            .first()
            .and_then(id_of))
    }
}

/// An sObject's API name (`Opportunity`, `Invoice__c`): it is written into SOQL, so nothing else passes.
fn object_name(object: &str) -> Result<&str, Failure> {
    let valid = object.starts_with(|c: char| c.is_ascii_alphabetic())
        && object.len() <= 80
        && object
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(object)
    } else {
        Err(Failure::Config {
            message: format!("{object:?} is not a Salesforce object's API name"),
        })
    }
}

/// A `CreatedDate` as a SOQL datetime literal (whole seconds, UTC: SOQL takes no fractions).
fn soql_datetime(text: &str) -> Result<String, Failure> {
    chrono::DateTime::parse_from_rfc3339(text)
        .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .map_err(|_| Failure::Config {
            message: format!("{text:?} is not a Salesforce datetime"),
        })
}

#[async_trait]
impl crate::RecordFeed for SalesforceConnector {
    async fn records_created(
        &self,
        object: &str,
        since: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Value>, Failure> {
        let object = object_name(object)?;
        // `>=`: records of the cursor's own second may arrive after it was read; runs are keyed by record Id,
        // so one seen twice starts nothing twice.
        let soql = match since {
            Some(since) => format!(
                "SELECT Id, Name, CreatedDate, CreatedById FROM {object} WHERE CreatedDate >= {} ORDER BY CreatedDate ASC LIMIT {limit}",
                soql_datetime(since)?
            ),
            None => format!(
                "SELECT Id, Name, CreatedDate, CreatedById FROM {object} ORDER BY CreatedDate DESC LIMIT 1"
            ),
        };
        self.client.query(&soql, |_| {}).await
    }
}

#[async_trait]
impl Connector for SalesforceConnector {
    fn record_feed(&self) -> Option<&dyn crate::RecordFeed> {
        Some(self)
    }

    fn describe(&self) -> Description {
        Description {
            system: SystemKind::new(SYSTEM),
            connection: self.connection.clone(),
            base_url: self.client.base().to_string(),
            operations: vec![
                "add_grant",
                "remove_grant",
                "create_account",
                "retire_account",
                "update_profile",
            ],
            rate_limit_buckets: vec![client::API_BUCKET],
            accounts_created_on_first_login: false,
        }
    }

    async fn health(&self) -> Result<(), Failure> {
        self.client
            .call(Method::GET, "limits/", None)
            .await
            .map(|_| ())
    }

    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure> {
        /// Every record of `soql`, reporting progress under `label`.
        async fn query(
            client: &SalesforceClient,
            sink: &mut dyn SyncSink,
            label: &str,
            soql: &str,
        ) -> Result<Vec<Value>, Failure> {
            client.query(soql, |n| sink.progress(label, n as u64)).await
        }
        let users = query(&self.client, sink, "users", "SELECT Id, Username, Email, Name, IsActive, ProfileId, Profile.Name, FederationIdentifier FROM User").await?;
        // Frozen users (UserLogin.IsFrozen) cannot sign in though they are active: read as suspended.
        let frozen: std::collections::BTreeSet<String> = query(
            &self.client,
            sink,
            "frozen users",
            "SELECT UserId FROM UserLogin WHERE IsFrozen = true",
        )
        .await?
        .iter()
        .filter_map(|l| l.get("UserId").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
        for mut account in users.iter().filter_map(mapping::account) {
            if frozen.contains(&account.id) {
                mapping::freeze(&mut account);
            }
            sink.account(account);
        }
        let sets = query(&self.client, sink, "permission sets", "SELECT Id, Name, Label, Type, IsOwnedByProfile FROM PermissionSet WHERE IsOwnedByProfile = false").await?;
        for set in sets.iter().filter_map(mapping::permission_set) {
            sink.resource(set);
        }
        let assignments = query(&self.client, sink, "assignments", "SELECT Id, AssigneeId, PermissionSet.Name FROM PermissionSetAssignment WHERE PermissionSet.IsOwnedByProfile = false").await?;
        for a in &assignments {
            let (Some(user), Some(set)) = (
                a.get("AssigneeId").and_then(Value::as_str),
                a.pointer("/PermissionSet/Name").and_then(Value::as_str),
            ) else {
                continue;
            };
            sink.grant(Grant {
                account_id: user.to_string(),
                resource_id: set.to_string(),
                entitlement: ASSIGNED.into(),
                source: GrantSource::Direct,
            });
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
            OpKind::UpdateProfile { account, after, .. } => {
                accounts::check_update(connection, account, after)
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
                options,
                ..
            } => {
                self.check(op)?;
                return accounts::create(&self.client, connection, account, attributes, options)
                    .await;
            }
            OpKind::RetireAccount { account, mode, .. } => {
                return accounts::retire(&self.client, connection, account, *mode).await;
            }
            OpKind::UpdateProfile { account, after, .. } => {
                self.check(op)?;
                return accounts::update(&self.client, connection, account, after).await;
            }
            _ => {}
        }
        let (user, set) = self.target(op).await?;
        let Some(user) = user else {
            return if !op.widens_access() {
                Ok(Applied::AlreadyPresent)
            } else if op.account().is_some_and(|a| a.pending_email().is_some()) {
                // The account the plan creates (its creation succeeded first) should be readable soon.
                Err(Failure::retry_later(
                    None,
                    format!(
                        "{connection}: the salesforce user {} that {} names does not exist yet",
                        op.holder().label(),
                        op.describe()
                    ),
                ))
            } else {
                Err(Failure::Permanent {
                    vendor_code: "NOT_FOUND".into(),
                    message: format!(
                        "{connection}: {} has no Salesforce user",
                        op.holder().label()
                    ),
                    status: None,
                })
            };
        };
        if op.widens_access() {
            let body = json!({ "AssigneeId": user, "PermissionSetId": set });
            return match self
                .client
                .call(
                    Method::POST,
                    "sobjects/PermissionSetAssignment/",
                    Some(body),
                )
                .await
            {
                Ok(_) => Ok(Applied::Changed),
                Err(f) if f.is_vendor_code("DUPLICATE_VALUE") => Ok(Applied::AlreadyPresent),
                Err(f) => Err(f),
            };
        }
        let Some(id) = self.assignment(&user, &set).await? else {
            return Ok(Applied::AlreadyPresent);
        };
        match self
            .client
            .call(
                Method::DELETE,
                &format!("sobjects/PermissionSetAssignment/{id}"),
                None,
            )
            .await
        {
            Ok(_) => Ok(Applied::Changed),
            Err(f) if f.is_vendor_code("NOT_FOUND") || f.is_vendor_code("ENTITY_IS_DELETED") => {
                Ok(Applied::AlreadyPresent)
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
            OpKind::RetireAccount { account, mode, .. } => {
                return accounts::retired(&self.client, account, *mode).await;
            }
            OpKind::UpdateProfile { account, after, .. } => {
                return accounts::updated(&self.client, account, after).await;
            }
            _ => {}
        }
        let (user, set) = self.target(op).await?;
        let present = match user {
            Some(user) => self.assignment(&user, &set).await?.is_some(),
            None => false,
        };
        Ok(Observed::of(op, present))
    }
}
