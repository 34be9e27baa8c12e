//! The Salesforce connector: Users as accounts and permission-set assignments, through the REST API and SOQL.
//! An assignment is created with a PermissionSetAssignment (DUPLICATE_VALUE means it is already there) and
//! removed by finding its Id with SOQL and deleting it. Permission sets a profile owns are left alone.

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

    /// The User Id; for `pending:<email>`, the user with that email if there is one now.
    async fn user_id(&self, account: &AccountRef) -> Result<Option<String>, Failure> {
        let Some(email) = crate::pending_email(account) else {
            return Ok(Some(account.id.clone()));
        };
        let soql = format!("SELECT Id FROM User WHERE Email = {} LIMIT 1", quote(email));
        Ok(self
            .client
            .query(&soql, |_| {})
            .await?
            .first()
            .and_then(id_of))
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
            operations: vec!["add_grant", "remove_grant"],
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
        for account in users.iter().filter_map(mapping::account) {
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

    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
        let (user, set) = self.target(op).await?;
        let Some(user) = user else {
            return if op.widens_access() {
                Err(Failure::Permanent {
                    vendor_code: "NOT_FOUND".into(),
                    message: format!(
                        "{}: {} has no Salesforce user",
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
        let (user, set) = self.target(op).await?;
        let present = match user {
            Some(user) => self.assignment(&user, &set).await?.is_some(),
            None => false,
        };
        Ok(Observed::of(op, present))
    }
}
