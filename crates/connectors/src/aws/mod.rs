//! The AWS IAM Identity Center connector: identity store users and group memberships, and account assignments
//! of permission sets, through the official AWS SDK for Rust (`aws-sdk-identitystore`, `aws-sdk-ssoadmin`).
//!
//! Common model:
//! - users → accounts (login `UserName`, email the primary email, matched to people by work email);
//! - groups → resources `group/<DisplayName>` with the one entitlement `member`
//!   (`CreateGroupMembership` / `DeleteGroupMembership`, made idempotent by asking `GetGroupMembershipId`
//!   first; `ConflictException` on create means already a member);
//! - AWS accounts → resources `account/<name>` (the id, or its `account_names` alias) whose entitlements are
//!   permission set names. A user's assignment is a direct grant (`CreateAccountAssignment` /
//!   `DeleteAccountAssignment`, principal type USER); a group's assignment is a resource grant from the group
//!   (principal type GROUP), and its members hold the permission set through the group.
//!
//! The accounts synced are those in `account_names` plus every account a permission set is provisioned to
//! (`ListAccountsForProvisionedPermissionSet`; AWS provisions on the first assignment). Identity Center itself
//! has no call that lists the organisation's accounts.
//!
//! Assignment requests are asynchronous: AWS answers `IN_PROGRESS` with a request id, and `apply` reads
//! `DescribeAccountAssignment{Creation,Deletion}Status` with a short doubling backoff (`status_polls`,
//! `status_poll_ms`). `FAILED` is permanent with AWS's `FailureReason`; still `IN_PROGRESS` after the budget is
//! retry-later, and the engine's `observe` (`ListAccountAssignments`) tells whether it landed.
//!
//! Accounts (`accounts.rs`): identity store users created (`CreateUser`, found first with `GetUserId`), deleted
//! (`DeleteUser`; the API cannot disable a user, so suspend and deactivate are refused) and updated
//! (`UpdateUser`).
//!
//! Errors: `ThrottlingException` → rate limited (after the SDK's own retries); `ResourceNotFoundException`,
//! `ValidationException`, `AccessDeniedException` → permanent with AWS's code and message; credential errors
//! (`UnrecognizedClientException`, `InvalidSignatureException`, …) → unauthorized; 5xx, timeouts and connection
//! failures → retry later.
//!
//! Where moto (5.2.5, `moto_server`; the compliance module `aws_moto` runs the connector against it) differs
//! from AWS, checked with boto3 against it:
//! - `CreateAccountAssignment` answers `SUCCEEDED` at once and every status read says `SUCCEEDED`: moto never
//!   exercises the `IN_PROGRESS` or `FAILED` paths (the sandbox emulator does);
//! - it validates nothing in an assignment (an unknown permission set or account "succeeds"), and a duplicate
//!   create stores a second, identical row; `CreateGroupMembership` likewise accepts a duplicate membership
//!   instead of `ConflictException`. The connector reads before it writes, so it never sends either;
//! - assignments do not provision: `ListAccountsForProvisionedPermissionSet` stays empty, so against moto the
//!   accounts come from `account_names`;
//! - `DeleteAccountAssignment` of an assignment that does not exist is `ResourceNotFoundException` with an
//!   empty message (the connector then checks and reports it already gone); `DeleteGroupMembership` of an
//!   unknown membership id succeeds;
//! - the identity store accepts any `IdentityStoreId`, and permission set ARNs look like
//!   `arn:aws:sso:::instance/ssoins-…/ps-…` rather than AWS's `arn:aws:sso:::permissionSet/ssoins-…/ps-…`
//!   (the connector never parses them);
//! - operations moto lacks answer HTTP 500, which the SDK retries; the moto test uses one attempt.

mod accounts;
mod client;
mod config;
mod mapping;

pub use client::{Api, AssignmentTarget, AwsClient, Direction, Instance, classify};
pub use config::AwsConfig;
pub use mapping::{ACCOUNT, GROUP, MEMBER};

use async_trait::async_trait;
use aws_sdk_ssoadmin::types::PrincipalType;
use grantflow_model::{
    AccountRef, ConnectionName, Grant, GrantSource, OpKind, Operation, ResourceGrant, SystemKind,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::{Applied, BuildContext, Connector, Description, Failure, Observed, SyncSink};
use client::ClientSettings;

pub const SYSTEM: &str = "aws";

/// The operations this connector performs.
const OPERATIONS: [&str; 7] = [
    "add_grant",
    "remove_grant",
    "add_group_grant",
    "remove_group_grant",
    "create_account",
    "retire_account",
    "update_profile",
];

pub struct AwsConnector {
    connection: ConnectionName,
    client: AwsClient,
    account_names: BTreeMap<String, String>,
    account_tags: bool,
    status_polls: u32,
    status_poll: Duration,
}

/// What Organizations said about the synced accounts.
#[derive(Default)]
struct Organization {
    names: BTreeMap<String, String>,
    tags: BTreeMap<String, BTreeMap<String, String>>,
    /// Why no account's tags could be read.
    unavailable: Option<String>,
    /// Why one account's tags could not be read.
    refused: BTreeMap<String, String>,
}

impl Organization {
    fn tags_of(&self, account: &str) -> Result<&BTreeMap<String, String>, &str> {
        match (self.tags.get(account), &self.unavailable) {
            (Some(tags), _) => Ok(tags),
            (None, Some(reason)) => Err(reason),
            (None, None) => Err(self
                .refused
                .get(account)
                .map_or("account_tags is off for this connection", String::as_str)),
        }
    }
}

/// Organizations answers these when the caller may not read it, or the account is outside it.
fn organizations_refused(failure: &Failure) -> bool {
    [
        "AccessDeniedException",
        "AWSOrganizationsNotInUseException",
        "TargetNotFoundException",
        "AccessDeniedForDependencyException",
    ]
    .iter()
    .any(|code| failure.is_vendor_code(code))
}

/// What one operation changes.
enum Target {
    Membership {
        group: String,
        user: Option<String>,
    },
    Assignment {
        account: String,
        permission_set: String,
        principal_type: PrincipalType,
        principal: Option<String>,
    },
}

impl AwsConnector {
    pub fn new(
        connection: ConnectionName,
        config: &AwsConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let keys = (
            context.secret(&connection, "access_key_id", &config.access_key_id)?,
            context.secret(&connection, "secret_access_key", &config.secret_access_key)?,
        );
        let region = match (&config.region, &config.endpoint_url) {
            (Some(region), _) => region.clone(),
            (None, Some(_)) => "us-east-1".to_string(),
            (None, None) => {
                return Err(Failure::config(format!(
                    "connection {connection}: `region` is required (the region of the Identity Center instance)"
                )));
            }
        };
        let client = AwsClient::new(
            &connection,
            ClientSettings {
                region,
                endpoint_url: config.endpoint_url.clone(),
                allow_insecure_http: config.allow_insecure_http,
                instance_arn: config.instance_arn.clone(),
                identity_store_id: config.identity_store_id.clone(),
                timeout: Duration::from_secs(config.timeout_seconds.max(1)),
                max_attempts: config.max_attempts,
            },
            keys,
            context.clock.clone(),
            context.limits,
        )?;
        Ok(Self {
            connection,
            client,
            account_names: config.account_names.clone(),
            account_tags: config.account_tags,
            status_polls: config.status_polls,
            status_poll: Duration::from_millis(config.status_poll_ms),
        })
    }

    fn unsupported(&self, op: &Operation) -> Failure {
        Failure::unsupported(format!(
            "{}: aws can add or remove group members and account assignments (a permission set on an \
             account, for a user or a group), not {} {} on a {}",
            self.connection,
            op.verb(),
            op.entitlement(),
            op.resource().kind
        ))
    }

    /// The operation's shape, before any id is looked up.
    fn shape(&self, op: &Operation) -> Result<(), Failure> {
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
            } if (resource.kind.as_str() == GROUP && entitlement == MEMBER)
                || resource.kind.as_str() == ACCOUNT =>
            {
                Ok(())
            }
            OpKind::AddGroupGrant {
                group, resource, ..
            }
            | OpKind::RemoveGroupGrant {
                group, resource, ..
            } if group.kind.as_str() == GROUP && resource.kind.as_str() == ACCOUNT => Ok(()),
            OpKind::CreateAccount {
                account,
                attributes,
                ..
            } => accounts::check_creation(self.connection.as_str(), account, attributes),
            OpKind::RetireAccount { account, mode, .. } => {
                accounts::check_retirement(self.connection.as_str(), account, *mode)
            }
            OpKind::UpdateProfile { account, after, .. } => {
                accounts::check_attributes(self.connection.as_str(), account, after)
            }
            _ => Err(self.unsupported(op)),
        }
    }

    async fn target(&self, op: &Operation) -> Result<Target, Failure> {
        self.shape(op)?;
        Ok(match &op.kind {
            OpKind::AddGrant {
                account,
                resource,
                entitlement,
            }
            | OpKind::RemoveGrant {
                account,
                resource,
                entitlement,
            } => {
                let user = self.user_id(account).await?;
                if resource.kind.as_str() == GROUP {
                    Target::Membership {
                        group: resource.id.clone(),
                        user,
                    }
                } else {
                    Target::Assignment {
                        account: resource.id.clone(),
                        permission_set: entitlement.clone(),
                        principal_type: PrincipalType::User,
                        principal: user,
                    }
                }
            }
            OpKind::AddGroupGrant {
                group,
                resource,
                entitlement,
            }
            | OpKind::RemoveGroupGrant {
                group,
                resource,
                entitlement,
            } => Target::Assignment {
                account: resource.id.clone(),
                permission_set: entitlement.clone(),
                principal_type: PrincipalType::Group,
                principal: Some(group.id.clone()),
            },
            _ => return Err(self.unsupported(op)),
        })
    }

    /// The user id of an account, or for `pending:<email>` the user whose UserName or email it is, if any.
    async fn user_id(&self, account: &AccountRef) -> Result<Option<String>, Failure> {
        let Some(email) = crate::pending_email(account) else {
            return Ok(Some(account.id.clone()));
        };
        Ok(self
            .client
            .users(|_| {})
            .await?
            .iter()
            .find(|u| {
                u.user_name().is_some_and(|n| n.eq_ignore_ascii_case(email))
                    || u.emails()
                        .iter()
                        .any(|e| e.value().is_some_and(|v| v.eq_ignore_ascii_case(email)))
            })
            .map(|u| u.user_id().to_string()))
    }

    /// The accounts' names and tags from Organizations, when `account_tags` is on. Organizations refusing
    /// (not the management account, no organisation) is no reason to fail the sync: each account then says
    /// why it has no tags, and production reach treats it as production.
    async fn organization(&self, accounts: &BTreeSet<String>) -> Result<Organization, Failure> {
        let mut organization = Organization::default();
        if !self.account_tags {
            return Ok(organization);
        }
        match self.client.organization_accounts().await {
            Ok(listed) => organization.names = listed.into_iter().collect(),
            Err(failure) if organizations_refused(&failure) => {
                organization.unavailable = Some(failure.to_string());
                return Ok(organization);
            }
            Err(failure) => return Err(failure),
        }
        for account in accounts {
            match self.client.account_tags(account).await {
                Ok(tags) => {
                    organization.tags.insert(account.clone(), tags);
                }
                Err(failure) if organizations_refused(&failure) => {
                    organization
                        .refused
                        .insert(account.clone(), failure.to_string());
                }
                Err(failure) => return Err(failure),
            }
        }
        Ok(organization)
    }

    fn no_user(&self, op: &Operation) -> Failure {
        // A person whose user the plan creates: the creation may not have taken effect yet.
        if op.account().is_some_and(|a| a.pending_email().is_some()) {
            return Failure::retry_later(
                Some("UserNotFound".into()),
                format!(
                    "{}: {} has no IAM Identity Center user yet",
                    self.connection,
                    op.holder().label()
                ),
            );
        }
        Failure::permanent(
            "UserNotFound",
            format!(
                "{}: {} has no IAM Identity Center user",
                self.connection,
                op.holder().label()
            ),
            None,
        )
    }
}

#[async_trait]
impl Connector for AwsConnector {
    fn describe(&self) -> Description {
        Description {
            system: SystemKind::new(SYSTEM),
            connection: self.connection.clone(),
            base_url: self.client.endpoint().to_string(),
            operations: OPERATIONS.to_vec(),
            rate_limit_buckets: vec!["identitystore", "sso"],
            accounts_created_on_first_login: false,
        }
    }

    async fn health(&self) -> Result<(), Failure> {
        self.client.health().await
    }

    fn check(&self, op: &Operation) -> Result<(), Failure> {
        self.shape(op)
    }

    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure> {
        for user in self
            .client
            .users(|n| sink.progress("users", n as u64))
            .await?
        {
            sink.account(mapping::account(&user));
        }
        let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let groups = self
            .client
            .groups(|n| sink.progress("groups", n as u64))
            .await?;
        for (read, group) in groups.iter().enumerate() {
            let Some(resource) = mapping::group(group) else {
                continue;
            };
            let users: Vec<String> = self
                .client
                .memberships(&resource.id)
                .await?
                .into_iter()
                .map(|(_, user)| user)
                .collect();
            for user in &users {
                sink.grant(Grant {
                    account_id: user.clone(),
                    resource_id: resource.id.clone(),
                    entitlement: MEMBER.into(),
                    source: GrantSource::Direct,
                });
            }
            members.insert(resource.id.clone(), users);
            sink.resource(resource);
            sink.progress("memberships", read as u64 + 1);
        }
        let sets = self.client.permission_sets().await?;
        let mut accounts: BTreeSet<String> = self.account_names.keys().cloned().collect();
        for arn in sets.values() {
            accounts.extend(self.client.provisioned_accounts(arn).await?);
        }
        let names: Vec<String> = sets.keys().cloned().collect();
        let organization = self.organization(&accounts).await?;
        for (read, account) in accounts.iter().enumerate() {
            for (name, arn) in &sets {
                for (kind, principal) in self.client.assignments(account, arn).await? {
                    if kind == PrincipalType::User.as_str() {
                        sink.grant(Grant {
                            account_id: principal,
                            resource_id: account.clone(),
                            entitlement: name.clone(),
                            source: GrantSource::Direct,
                        });
                    } else if kind == PrincipalType::Group.as_str() {
                        for user in members.get(&principal).into_iter().flatten() {
                            sink.grant(Grant {
                                account_id: user.clone(),
                                resource_id: account.clone(),
                                entitlement: name.clone(),
                                source: GrantSource::Group {
                                    group_id: principal.clone(),
                                },
                            });
                        }
                        sink.resource_grant(ResourceGrant {
                            holder_id: principal,
                            resource_id: account.clone(),
                            entitlement: name.clone(),
                        });
                    }
                }
            }
            let name = self
                .account_names
                .get(account)
                .or_else(|| organization.names.get(account))
                .map(String::as_str);
            sink.resource(mapping::aws_account(
                account,
                name,
                &names,
                organization.tags_of(account),
            ));
            sink.progress("assignments", read as u64 + 1);
        }
        Ok(())
    }

    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
        match &op.kind {
            OpKind::CreateAccount {
                account,
                attributes,
                ..
            } => {
                self.shape(op)?;
                return self.client.create_user(account, attributes).await;
            }
            OpKind::RetireAccount { account, .. } => {
                self.shape(op)?;
                return self.client.delete_user(account).await;
            }
            OpKind::UpdateProfile { account, after, .. } => {
                self.shape(op)?;
                return match self.client.update_user(account, after).await? {
                    Some(applied) => Ok(applied),
                    None => Err(Failure::permanent(
                        "ResourceNotFoundException",
                        format!(
                            "{}: aws user {} to update does not exist",
                            self.connection, account.login
                        ),
                        Some(400),
                    )),
                };
            }
            _ => {}
        }
        let widen = op.widens_access();
        match self.target(op).await? {
            Target::Membership { user: None, .. }
            | Target::Assignment {
                principal: None, ..
            } => {
                if widen {
                    Err(self.no_user(op))
                } else {
                    Ok(Applied::AlreadyPresent)
                }
            }
            Target::Membership {
                group,
                user: Some(user),
            } => match (widen, self.client.membership_of(&group, &user).await?) {
                (true, Some(_)) | (false, None) => Ok(Applied::AlreadyPresent),
                (true, None) => self.client.add_member(&group, &user).await,
                (false, Some(membership)) => {
                    self.client.remove_member(&membership, &group, &user).await
                }
            },
            Target::Assignment {
                account,
                permission_set,
                principal_type,
                principal: Some(principal),
            } => {
                let arn = self.client.permission_set_arn(&permission_set).await?;
                let present = self
                    .client
                    .assigned(&account, &arn, &principal_type, &principal)
                    .await?;
                if present == widen {
                    return Ok(Applied::AlreadyPresent);
                }
                let direction = if widen {
                    Direction::Create
                } else {
                    Direction::Delete
                };
                let target = AssignmentTarget {
                    account: &account,
                    arn: &arn,
                    permission_set: &permission_set,
                    principal_type: &principal_type,
                    principal: &principal,
                };
                self.client
                    .request(direction, &target, (self.status_polls, self.status_poll))
                    .await
            }
        }
    }

    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        match &op.kind {
            OpKind::CreateAccount { account, .. } => {
                let exists = self.client.account_user(account).await?.is_some();
                return Ok(Observed::from(exists));
            }
            OpKind::RetireAccount { account, .. } => {
                let gone = self.client.account_user(account).await?.is_none();
                return Ok(Observed::from(gone));
            }
            OpKind::UpdateProfile { account, after, .. } => {
                let holds = self.client.profile_holds(account, after).await?;
                return Ok(Observed::from(holds == Some(true)));
            }
            _ => {}
        }
        let present = match self.target(op).await? {
            Target::Membership { user: None, .. }
            | Target::Assignment {
                principal: None, ..
            } => false,
            Target::Membership {
                group,
                user: Some(user),
            } => self.client.membership_of(&group, &user).await?.is_some(),
            Target::Assignment {
                account,
                permission_set,
                principal_type,
                principal: Some(principal),
            } => {
                let arn = self.client.permission_set_arn(&permission_set).await?;
                self.client
                    .assigned(&account, &arn, &principal_type, &principal)
                    .await?
            }
        };
        Ok(Observed::of(op, present))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConnectionConfig;
    use serde_json::json;

    fn context() -> BuildContext {
        BuildContext::new(std::env::temp_dir())
    }

    #[test]
    fn the_sandbox_configuration_builds_and_a_real_one_needs_a_region() {
        let dir = tempfile::tempdir().expect("tempdir");
        for key in ["id", "secret"] {
            std::fs::write(dir.path().join(key), "AKIAEXAMPLE").expect("key");
        }
        let keys = |extra: serde_json::Value| {
            let mut v = json!({
                "kind": "aws",
                "access_key_id": {"file": dir.path().join("id")},
                "secret_access_key": {"file": dir.path().join("secret")},
            });
            if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
                v.extend(extra.clone());
            }
            v
        };
        // What `grantflow init --sandbox` writes: `base_url`, no region.
        let sandbox: ConnectionConfig =
            serde_json::from_value(keys(json!({"base_url": "http://127.0.0.1:9"})))
                .expect("parses");
        assert_eq!(sandbox.system().as_str(), "aws");
        let built =
            crate::build(&ConnectionName::new("aws"), &sandbox, &context()).expect("builds");
        assert_eq!(built.describe().base_url, "http://127.0.0.1:9");

        let real: ConnectionConfig = serde_json::from_value(keys(json!({}))).expect("parses");
        match crate::build(&ConnectionName::new("aws"), &real, &context()) {
            Err(Failure::Config { message }) => assert!(message.contains("region"), "{message}"),
            other => panic!("expected a configuration error, got {:?}", other.err()),
        }
        assert!(
            serde_json::from_value::<ConnectionConfig>(keys(json!({"token": {"env": "X"}})))
                .is_err(),
            "unknown settings are refused"
        );
    }
}
