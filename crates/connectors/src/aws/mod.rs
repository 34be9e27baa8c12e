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

mod client;
mod config;
mod mapping;

pub use client::{Api, AwsClient, Instance, classify};
pub use config::AwsConfig;
pub use mapping::{ACCOUNT, GROUP, MEMBER};

use async_trait::async_trait;
use aws_sdk_identitystore::types::{Group, MemberId, User};
use aws_sdk_ssoadmin::types::{
    AccountAssignmentOperationStatus, PrincipalType, StatusValues, TargetType,
};
use grantflow_model::{
    AccountRef, ConnectionName, Grant, GrantSource, OpKind, Operation, ResourceGrant, SystemKind,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::{Applied, BuildContext, Connector, Description, Failure, Observed, SyncSink};
use client::{ClientSettings, is_code};

pub const SYSTEM: &str = "aws";

/// The account id the planner gives a person who has no account in the system yet.
const PENDING_PREFIX: &str = "pending:";

/// How long the engine is asked to wait before looking again at an assignment AWS is still provisioning.
const IN_PROGRESS_RECHECK_SECONDS: i64 = 10;

pub struct AwsConnector {
    connection: ConnectionName,
    client: AwsClient,
    account_names: BTreeMap<String, String>,
    status_polls: u32,
    status_poll: Duration,
    /// Permission set name → ARN, read once and again when a name is missing.
    permission_sets: tokio::sync::Mutex<Option<BTreeMap<String, String>>>,
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

/// Which way an assignment request goes.
#[derive(Clone, Copy)]
enum Direction {
    Create,
    Delete,
}

impl AwsConnector {
    pub fn new(
        connection: ConnectionName,
        config: &AwsConfig,
        context: &BuildContext,
    ) -> Result<Self, Failure> {
        let access_key_id = config.access_key_id.read(
            &format!("connection {connection}: access_key_id"),
            &context.base_dir,
        )?;
        let secret_access_key = config.secret_access_key.read(
            &format!("connection {connection}: secret_access_key"),
            &context.base_dir,
        )?;
        let region = match (&config.region, &config.endpoint_url) {
            (Some(region), _) => region.clone(),
            (None, Some(_)) => "us-east-1".to_string(),
            (None, None) => {
                return Err(Failure::Config {
                    message: format!(
                        "connection {connection}: `region` is required (the region of the Identity Center instance)"
                    ),
                });
            }
        };
        let client = AwsClient::new(
            connection.as_str(),
            ClientSettings {
                region,
                endpoint_url: config.endpoint_url.clone(),
                instance_arn: config.instance_arn.clone(),
                identity_store_id: config.identity_store_id.clone(),
                timeout: Duration::from_secs(config.timeout_seconds.max(1)),
                max_attempts: config.max_attempts,
            },
            access_key_id,
            secret_access_key,
        )?;
        Ok(Self {
            connection,
            client,
            account_names: config.account_names.clone(),
            status_polls: config.status_polls,
            status_poll: Duration::from_millis(config.status_poll_ms),
            permission_sets: tokio::sync::Mutex::new(None),
        })
    }

    fn unsupported(&self, op: &Operation) -> Failure {
        Failure::Permanent {
            vendor_code: "unsupported".into(),
            message: format!(
                "{}: aws can add or remove group members and account assignments (a permission set on an \
                 account, for a user or a group), not {} {} on a {}",
                self.connection,
                op.verb(),
                op.entitlement(),
                op.resource().kind
            ),
            status: None,
        }
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
        let Some(email) = account.id.strip_prefix(PENDING_PREFIX) else {
            return Ok(Some(account.id.clone()));
        };
        let email = if email.is_empty() {
            account.login.as_str()
        } else {
            email
        };
        Ok(self
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

    async fn users(&self, mut progress: impl FnMut(usize)) -> Result<Vec<User>, Failure> {
        let store = self.client.instance().await?.identity_store_id.clone();
        let mut pages = self
            .client
            .store
            .list_users()
            .identity_store_id(&store)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(user) = pages
            .try_next()
            .await
            .map_err(|e| self.client.fail(Api::IdentityStore, "ListUsers", e))?
        {
            out.push(user);
            progress(out.len());
        }
        Ok(out)
    }

    async fn groups(&self, mut progress: impl FnMut(usize)) -> Result<Vec<Group>, Failure> {
        let store = self.client.instance().await?.identity_store_id.clone();
        let mut pages = self
            .client
            .store
            .list_groups()
            .identity_store_id(&store)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(group) = pages
            .try_next()
            .await
            .map_err(|e| self.client.fail(Api::IdentityStore, "ListGroups", e))?
        {
            out.push(group);
            progress(out.len());
        }
        Ok(out)
    }

    /// (membership id, user id) of every member of `group`.
    async fn memberships(&self, group: &str) -> Result<Vec<(String, String)>, Failure> {
        let store = self.client.instance().await?.identity_store_id.clone();
        let mut pages = self
            .client
            .store
            .list_group_memberships()
            .identity_store_id(&store)
            .group_id(group)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(m) = pages.try_next().await.map_err(|e| {
            self.client.fail(
                Api::IdentityStore,
                &format!("ListGroupMemberships {group}"),
                e,
            )
        })? {
            if let (Some(id), Some(MemberId::UserId(user))) = (m.membership_id(), m.member_id()) {
                out.push((id.to_string(), user.clone()));
            }
        }
        Ok(out)
    }

    /// The membership id of `user` in `group` (`GetGroupMembershipId`), `None` when not a member.
    async fn membership_of(&self, group: &str, user: &str) -> Result<Option<String>, Failure> {
        let store = self.client.instance().await?.identity_store_id.clone();
        match self
            .client
            .store
            .get_group_membership_id()
            .identity_store_id(&store)
            .group_id(group)
            .member_id(MemberId::UserId(user.to_string()))
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.membership_id().to_string())),
            Err(e) => {
                let f = self.client.fail(
                    Api::IdentityStore,
                    &format!("GetGroupMembershipId of {user} in group {group}"),
                    e,
                );
                if is_code(&f, "ResourceNotFoundException") {
                    Ok(None)
                } else {
                    Err(f)
                }
            }
        }
    }

    /// Permission set name → ARN, read from AWS (`ListPermissionSets`, then `DescribePermissionSet` each).
    async fn read_permission_sets(&self) -> Result<BTreeMap<String, String>, Failure> {
        let instance = self.client.instance().await?.arn.clone();
        let mut pages = self
            .client
            .sso
            .list_permission_sets()
            .instance_arn(&instance)
            .into_paginator()
            .items()
            .send();
        let mut arns = Vec::new();
        while let Some(arn) = pages
            .try_next()
            .await
            .map_err(|e| self.client.fail(Api::SsoAdmin, "ListPermissionSets", e))?
        {
            arns.push(arn);
        }
        let mut by_name = BTreeMap::new();
        for arn in arns {
            let out = self
                .client
                .sso
                .describe_permission_set()
                .instance_arn(&instance)
                .permission_set_arn(&arn)
                .send()
                .await
                .map_err(|e| {
                    self.client
                        .fail(Api::SsoAdmin, &format!("DescribePermissionSet {arn}"), e)
                })?;
            if let Some(name) = out.permission_set().and_then(|p| p.name()) {
                by_name.insert(name.to_string(), arn);
            }
        }
        *self.permission_sets.lock().await = Some(by_name.clone());
        Ok(by_name)
    }

    async fn permission_set_arn(&self, name: &str) -> Result<String, Failure> {
        let cached = self.permission_sets.lock().await.clone();
        let known = match cached {
            Some(sets) if sets.contains_key(name) => sets,
            _ => self.read_permission_sets().await?,
        };
        known.get(name).cloned().ok_or_else(|| Failure::Permanent {
            vendor_code: "PermissionSetNotFound".into(),
            message: format!(
                "{}: no permission set named {name:?} in the Identity Center instance",
                self.connection
            ),
            status: None,
        })
    }

    async fn provisioned_accounts(&self, arn: &str) -> Result<Vec<String>, Failure> {
        let instance = self.client.instance().await?.arn.clone();
        let mut pages = self
            .client
            .sso
            .list_accounts_for_provisioned_permission_set()
            .instance_arn(&instance)
            .permission_set_arn(arn)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(account) = pages.try_next().await.map_err(|e| {
            self.client.fail(
                Api::SsoAdmin,
                &format!("ListAccountsForProvisionedPermissionSet {arn}"),
                e,
            )
        })? {
            out.push(account);
        }
        Ok(out)
    }

    /// (principal type, principal id) of every assignment of permission set `arn` in `account`.
    async fn assignments(
        &self,
        account: &str,
        arn: &str,
    ) -> Result<BTreeSet<(String, String)>, Failure> {
        let instance = self.client.instance().await?.arn.clone();
        let mut pages = self
            .client
            .sso
            .list_account_assignments()
            .instance_arn(&instance)
            .account_id(account)
            .permission_set_arn(arn)
            .into_paginator()
            .items()
            .send();
        let mut out = BTreeSet::new();
        while let Some(a) = pages.try_next().await.map_err(|e| {
            self.client.fail(
                Api::SsoAdmin,
                &format!("ListAccountAssignments {account} {arn}"),
                e,
            )
        })? {
            if let (Some(t), Some(id)) = (a.principal_type(), a.principal_id()) {
                out.insert((t.as_str().to_string(), id.to_string()));
            }
        }
        Ok(out)
    }

    async fn assigned(
        &self,
        account: &str,
        arn: &str,
        principal_type: &PrincipalType,
        principal: &str,
    ) -> Result<bool, Failure> {
        Ok(self
            .assignments(account, arn)
            .await?
            .contains(&(principal_type.as_str().to_string(), principal.to_string())))
    }

    /// Sends a create or delete request and reads its status until it settles or the budget is spent.
    async fn request(
        &self,
        direction: Direction,
        account: &str,
        arn: &str,
        permission_set: &str,
        principal_type: &PrincipalType,
        principal: &str,
    ) -> Result<Applied, Failure> {
        let instance = self.client.instance().await?.arn.clone();
        let what = format!(
            "{} of {permission_set} in account {account} for {} {principal}",
            match direction {
                Direction::Create => "CreateAccountAssignment",
                Direction::Delete => "DeleteAccountAssignment",
            },
            principal_type.as_str()
        );
        // The two calls take the same arguments but are distinct SDK types, so one macro fills either.
        macro_rules! send_assignment {
            ($builder:expr, $status:ident) => {
                $builder
                    .instance_arn(&instance)
                    .target_id(account)
                    .target_type(TargetType::AwsAccount)
                    .permission_set_arn(arn)
                    .principal_type(principal_type.clone())
                    .principal_id(principal)
                    .send()
                    .await
                    .map(|o| o.$status().cloned())
                    .map_err(|e| self.client.fail(Api::SsoAdmin, &what, e))
            };
        }
        let sent = match direction {
            Direction::Create => send_assignment!(
                self.client.sso.create_account_assignment(),
                account_assignment_creation_status
            ),
            Direction::Delete => send_assignment!(
                self.client.sso.delete_account_assignment(),
                account_assignment_deletion_status
            ),
        };
        let mut status = match sent {
            Ok(status) => status,
            // A conflict is an earlier request for the same assignment still propagating: done if its
            // effect is visible, otherwise AWS's advice is to retry with backoff.
            Err(f)
                if is_code(&f, "ConflictException") || is_code(&f, "ResourceNotFoundException") =>
            {
                let present = self
                    .assigned(account, arn, principal_type, principal)
                    .await?;
                let wanted = matches!(direction, Direction::Create);
                return if present == wanted {
                    Ok(Applied::AlreadyPresent)
                } else if is_code(&f, "ConflictException") {
                    Err(Failure::RetryLater {
                        at: Some(chrono::Utc::now() + chrono::Duration::seconds(2)),
                        vendor_code: Some("ConflictException".into()),
                        message: f.message(),
                    })
                } else {
                    Err(f)
                };
            }
            Err(f) => return Err(f),
        };
        let mut wait = self.status_poll;
        for poll in 0..=self.status_polls {
            let Some(current) = &status else {
                return Err(Failure::RetryLater {
                    at: None,
                    vendor_code: Some("NoStatus".into()),
                    message: format!("{}: {what}: AWS answered without a status", self.connection),
                });
            };
            match current.status() {
                Some(StatusValues::Succeeded) => return Ok(Applied::Changed),
                Some(StatusValues::Failed) => {
                    return Err(Failure::Permanent {
                        vendor_code: "FAILED".into(),
                        message: format!(
                            "{}: {what}: {}",
                            self.connection,
                            current
                                .failure_reason()
                                .unwrap_or("AWS gave no FailureReason")
                        ),
                        status: None,
                    });
                }
                _ => {}
            }
            let Some(request_id) = current.request_id().map(str::to_string) else {
                break;
            };
            if poll == self.status_polls {
                return Err(in_progress(&self.connection, &what, &request_id));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
            status = self
                .read_status(direction, &instance, &request_id, &what)
                .await?;
        }
        Err(in_progress(&self.connection, &what, "unknown"))
    }

    async fn read_status(
        &self,
        direction: Direction,
        instance: &str,
        request_id: &str,
        what: &str,
    ) -> Result<Option<AccountAssignmentOperationStatus>, Failure> {
        match direction {
            Direction::Create => self
                .client
                .sso
                .describe_account_assignment_creation_status()
                .instance_arn(instance)
                .account_assignment_creation_request_id(request_id)
                .send()
                .await
                .map(|o| o.account_assignment_creation_status().cloned())
                .map_err(|e| {
                    self.client.fail(
                        Api::SsoAdmin,
                        &format!("DescribeAccountAssignmentCreationStatus {request_id} ({what})"),
                        e,
                    )
                }),
            Direction::Delete => self
                .client
                .sso
                .describe_account_assignment_deletion_status()
                .instance_arn(instance)
                .account_assignment_deletion_request_id(request_id)
                .send()
                .await
                .map(|o| o.account_assignment_deletion_status().cloned())
                .map_err(|e| {
                    self.client.fail(
                        Api::SsoAdmin,
                        &format!("DescribeAccountAssignmentDeletionStatus {request_id} ({what})"),
                        e,
                    )
                }),
        }
    }

    fn no_user(&self, op: &Operation) -> Failure {
        Failure::Permanent {
            vendor_code: "UserNotFound".into(),
            message: format!(
                "{}: {} has no IAM Identity Center user",
                self.connection,
                op.holder().label()
            ),
            status: None,
        }
    }
}

fn in_progress(connection: &ConnectionName, what: &str, request_id: &str) -> Failure {
    Failure::RetryLater {
        at: Some(chrono::Utc::now() + chrono::Duration::seconds(IN_PROGRESS_RECHECK_SECONDS)),
        vendor_code: Some("IN_PROGRESS".into()),
        message: format!(
            "{connection}: {what}: AWS is still working on request {request_id}; observe whether it landed"
        ),
    }
}

#[async_trait]
impl Connector for AwsConnector {
    fn describe(&self) -> Description {
        Description {
            system: SystemKind::new(SYSTEM),
            connection: self.connection.clone(),
            base_url: self.client.endpoint().to_string(),
            operations: vec![
                "add_grant",
                "remove_grant",
                "add_group_grant",
                "remove_group_grant",
            ],
            rate_limit_buckets: vec!["identitystore", "sso"],
            accounts_created_on_first_login: false,
        }
    }

    async fn health(&self) -> Result<(), Failure> {
        self.client
            .sso
            .list_instances()
            .max_results(1)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.client.fail(Api::SsoAdmin, "ListInstances", e))
    }

    fn check(&self, op: &Operation) -> Result<(), Failure> {
        self.shape(op)
    }

    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure> {
        for user in self.users(|n| sink.progress("users", n as u64)).await? {
            sink.account(mapping::account(&user));
        }
        let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let groups = self.groups(|n| sink.progress("groups", n as u64)).await?;
        for (read, group) in groups.iter().enumerate() {
            let Some(resource) = mapping::group(group) else {
                continue;
            };
            let users: Vec<String> = self
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
        let sets = self.read_permission_sets().await?;
        let mut accounts: BTreeSet<String> = self.account_names.keys().cloned().collect();
        for arn in sets.values() {
            accounts.extend(self.provisioned_accounts(arn).await?);
        }
        let names: Vec<String> = sets.keys().cloned().collect();
        for (read, account) in accounts.iter().enumerate() {
            for (name, arn) in &sets {
                for (kind, principal) in self.assignments(account, arn).await? {
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
            sink.resource(mapping::aws_account(
                account,
                self.account_names.get(account).map(String::as_str),
                &names,
            ));
            sink.progress("assignments", read as u64 + 1);
        }
        Ok(())
    }

    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
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
            } => {
                let store = self.client.instance().await?.identity_store_id.clone();
                let existing = self.membership_of(&group, &user).await?;
                match (widen, existing) {
                    (true, Some(_)) | (false, None) => Ok(Applied::AlreadyPresent),
                    (true, None) => {
                        match self
                            .client
                            .store
                            .create_group_membership()
                            .identity_store_id(&store)
                            .group_id(&group)
                            .member_id(MemberId::UserId(user.clone()))
                            .send()
                            .await
                        {
                            Ok(_) => Ok(Applied::Changed),
                            Err(e) => {
                                let f = self.client.fail(
                                    Api::IdentityStore,
                                    &format!("CreateGroupMembership of {user} in group {group}"),
                                    e,
                                );
                                if is_code(&f, "ConflictException") {
                                    Ok(Applied::AlreadyPresent)
                                } else {
                                    Err(f)
                                }
                            }
                        }
                    }
                    (false, Some(membership)) => {
                        match self
                            .client
                            .store
                            .delete_group_membership()
                            .identity_store_id(&store)
                            .membership_id(&membership)
                            .send()
                            .await
                        {
                            Ok(_) => Ok(Applied::Changed),
                            Err(e) => {
                                let f = self.client.fail(
                                    Api::IdentityStore,
                                    &format!(
                                        "DeleteGroupMembership {membership} of {user} in group {group}"
                                    ),
                                    e,
                                );
                                if is_code(&f, "ResourceNotFoundException") {
                                    Ok(Applied::AlreadyPresent)
                                } else {
                                    Err(f)
                                }
                            }
                        }
                    }
                }
            }
            Target::Assignment {
                account,
                permission_set,
                principal_type,
                principal: Some(principal),
            } => {
                let arn = self.permission_set_arn(&permission_set).await?;
                let present = self
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
                self.request(
                    direction,
                    &account,
                    &arn,
                    &permission_set,
                    &principal_type,
                    &principal,
                )
                .await
            }
        }
    }

    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        let present = match self.target(op).await? {
            Target::Membership { user: None, .. }
            | Target::Assignment {
                principal: None, ..
            } => false,
            Target::Membership {
                group,
                user: Some(user),
            } => self.membership_of(&group, &user).await?.is_some(),
            Target::Assignment {
                account,
                permission_set,
                principal_type,
                principal: Some(principal),
            } => {
                let arn = self.permission_set_arn(&permission_set).await?;
                self.assigned(&account, &arn, &principal_type, &principal)
                    .await?
            }
        };
        Ok(if present == op.widens_access() {
            Observed::Done
        } else {
            Observed::NotDone
        })
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
