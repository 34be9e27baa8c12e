//! The two AWS SDK clients (identitystore, sso-admin) built from one configuration, the instance they work on,
//! every read and write the connector makes through them (paginators collected in one place), and how an SDK
//! error becomes a [`Failure`]. The SDK speaks HTTP itself: its retries are bounded by the connection's
//! `max_attempts` and a backoff that fits in [`TransportLimits::max_wait`], it follows no redirects, and it
//! signs requests for the configured endpoint only.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_identitystore::types::{Group, MemberId, User};
use aws_sdk_ssoadmin::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_ssoadmin::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ssoadmin::types::{
    AccountAssignmentOperationStatus, PrincipalType, StatusValues, TargetType,
};
use aws_smithy_async::future::pagination_stream::PaginationStream;
use chrono::{DateTime, Utc};
use grantflow_model::{Clock, ConnectionName};
use secrecy::{ExposeSecret, SecretString};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

use crate::transport::{TransportLimits, WaitBudget};
use crate::{Applied, Failure};

/// Which API family a call belongs to: the rate-limit bucket a throttle is reported under.
#[derive(Debug, Clone, Copy)]
pub enum Api {
    IdentityStore,
    SsoAdmin,
    Organizations,
}

impl Api {
    fn bucket(self) -> &'static str {
        match self {
            Api::IdentityStore => "identitystore",
            Api::SsoAdmin => "sso",
            Api::Organizations => "organizations",
        }
    }
}

/// The Identity Center instance and its identity store.
#[derive(Debug, Clone)]
pub struct Instance {
    pub arn: String,
    pub identity_store_id: String,
}

/// Which way an assignment request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Create,
    Delete,
}

/// How long the engine is asked to wait before looking again at an assignment AWS is still provisioning.
const IN_PROGRESS_RECHECK_SECONDS: i64 = 10;

/// The longest wait between two reads of an assignment request's status.
const MAX_STATUS_POLL: Duration = Duration::from_secs(5);

pub struct AwsClient {
    pub connection: ConnectionName,
    store: aws_sdk_identitystore::Client,
    sso: aws_sdk_ssoadmin::Client,
    /// Only read during a sync (account names and tags), never while a person waits.
    organizations: aws_sdk_organizations::Client,
    /// The same clients without retries, for calls made while a person waits
    /// ([`crate::transport::without_waiting`]).
    store_at_once: aws_sdk_identitystore::Client,
    sso_at_once: aws_sdk_ssoadmin::Client,
    endpoint: String,
    configured: (Option<String>, Option<String>),
    instance: OnceCell<Instance>,
    /// Permission set name → ARN, read once and again when a name is missing.
    permission_sets: tokio::sync::Mutex<Option<BTreeMap<String, String>>>,
    clock: Arc<dyn Clock>,
    limits: TransportLimits,
}

/// Credential errors AWS answers for a bad, unknown or expired key or signature.
const UNAUTHORIZED: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "MissingAuthenticationToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignatureException",
];

const THROTTLED: &[&str] = &[
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
];

/// How long a throttled caller is told to wait: AWS gives no reset time (identitystore sometimes sends
/// `RetryAfterSeconds`, which the generic error metadata does not carry).
const THROTTLE_WAIT_SECONDS: i64 = 5;

/// Classifies an SDK error from `what` (the operation and its object) into grantflow's vocabulary, keeping
/// AWS's error code and message verbatim.
pub fn classify<E>(
    connection: &ConnectionName,
    api: Api,
    what: &str,
    err: SdkError<E>,
    now: DateTime<Utc>,
) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let context = format!("{connection}: {what}");
    match &err {
        SdkError::ConstructionFailure(_) => Failure::Config {
            message: format!("{context}: {}", DisplayErrorContext(&err)),
        },
        SdkError::TimeoutError(_) => Failure::RetryLater {
            at: None,
            vendor_code: Some("timeout".into()),
            message: format!("{context}: no answer in time"),
        },
        SdkError::DispatchFailure(failure) => Failure::RetryLater {
            at: None,
            vendor_code: Some(
                if failure.is_timeout() {
                    "timeout"
                } else {
                    "connection"
                }
                .into(),
            ),
            message: format!("{context}: {}", DisplayErrorContext(&err)),
        },
        SdkError::ResponseError(response) => {
            let status = response.raw().status().as_u16();
            if status >= 500 || status == 429 {
                Failure::RetryLater {
                    at: None,
                    vendor_code: Some(format!("http_{status}")),
                    message: format!("{context}: unreadable answer with status {status}"),
                }
            } else {
                Failure::Permanent {
                    vendor_code: format!("http_{status}"),
                    message: format!("{context}: unreadable answer with status {status}"),
                    status: Some(status),
                }
            }
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            // A proxy or load balancer in front of AWS may answer without AWS's error shape.
            let code = err
                .code()
                .map_or_else(|| format!("http_{status}"), str::to_string);
            let message = err.message().unwrap_or_default().to_string();
            if THROTTLED.contains(&code.as_str()) {
                Failure::RateLimited {
                    bucket: api.bucket().into(),
                    reset: now + chrono::Duration::seconds(THROTTLE_WAIT_SECONDS),
                    message: format!("{context}: {code}: {message}"),
                }
            } else if UNAUTHORIZED.contains(&code.as_str()) {
                Failure::Unauthorized {
                    vendor_code: Some(code),
                    message: format!("{context}: {message}"),
                }
            } else if status >= 500
                || code == "InternalServerException"
                || code == "ServiceUnavailableException"
            {
                Failure::RetryLater {
                    at: None,
                    vendor_code: Some(code),
                    message: format!("{context}: {message}"),
                }
            } else {
                Failure::Permanent {
                    vendor_code: code,
                    message: format!("{context}: {message}"),
                    status: Some(status),
                }
            }
        }
        _ => Failure::RetryLater {
            at: None,
            vendor_code: None,
            message: format!("{context}: {}", DisplayErrorContext(&err)),
        },
    }
}

pub fn is_code(failure: &Failure, code: &str) -> bool {
    failure.is_vendor_code(code)
}

/// `result`, with the failure AWS answers as `code` taken to mean `instead`.
pub(super) fn unless_code<T>(
    result: Result<T, Failure>,
    code: &str,
    instead: T,
) -> Result<T, Failure> {
    match result {
        Err(failure) if is_code(&failure, code) => Ok(instead),
        other => other,
    }
}

/// One account assignment: a permission set in an account for a principal.
#[derive(Debug, Clone, Copy)]
pub struct AssignmentTarget<'a> {
    pub account: &'a str,
    pub arn: &'a str,
    pub permission_set: &'a str,
    pub principal_type: &'a PrincipalType,
    pub principal: &'a str,
}

pub struct ClientSettings {
    pub region: String,
    pub endpoint_url: Option<String>,
    pub allow_insecure_http: bool,
    pub instance_arn: Option<String>,
    pub identity_store_id: Option<String>,
    pub timeout: Duration,
    pub max_attempts: u32,
}

impl AwsClient {
    pub fn new(
        connection: &ConnectionName,
        settings: ClientSettings,
        (access_key_id, secret_access_key): (SecretString, SecretString),
        clock: Arc<dyn Clock>,
        limits: TransportLimits,
    ) -> Result<Self, Failure> {
        if settings.max_attempts == 0 {
            return Err(Failure::config(format!(
                "connection {connection}: max_attempts must be at least 1"
            )));
        }
        // Static keys, no provider chain: the connection's settings are all that configure the clients, so
        // nothing in the environment (AWS_PROFILE, AWS_ENDPOINT_URL, …) redirects or re-keys them.
        let credentials = Credentials::new(
            access_key_id.expose_secret(),
            secret_access_key.expose_secret(),
            None,
            None,
            "grantflow",
        );
        // The SDK sleeps between attempts (honouring `x-amz-retry-after` up to the maximum backoff): all of
        // its sleeps together stay within the call's wait budget.
        let retries = settings.max_attempts.saturating_sub(1).max(1);
        let max_backoff = (limits.max_wait / retries).max(Duration::from_millis(1));
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(settings.max_attempts)
                    .with_initial_backoff(Duration::from_millis(200).min(max_backoff))
                    .with_max_backoff(max_backoff),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(settings.timeout)
                    .operation_attempt_timeout(settings.timeout)
                    .build(),
            );
        if let Some(url) = &settings.endpoint_url {
            let parsed = url::Url::parse(url).map_err(|e| {
                Failure::config(format!(
                    "connection {connection}: endpoint_url {url:?}: {e}"
                ))
            })?;
            crate::transport::check_scheme("aws", &parsed, settings.allow_insecure_http)?;
            builder = builder.endpoint_url(url.trim_end_matches('/'));
        }
        let sdk = builder.build();
        let at_once = sdk
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build();
        let endpoint = settings
            .endpoint_url
            .clone()
            .unwrap_or_else(|| format!("https://sso.{}.amazonaws.com", settings.region));
        Ok(Self {
            connection: connection.clone(),
            store: aws_sdk_identitystore::Client::new(&sdk),
            sso: aws_sdk_ssoadmin::Client::new(&sdk),
            organizations: aws_sdk_organizations::Client::new(&sdk),
            store_at_once: aws_sdk_identitystore::Client::new(&at_once),
            sso_at_once: aws_sdk_ssoadmin::Client::new(&at_once),
            endpoint,
            configured: (settings.instance_arn, settings.identity_store_id),
            instance: OnceCell::new(),
            permission_sets: tokio::sync::Mutex::new(None),
            clock,
            limits,
        })
    }

    pub(super) fn store(&self) -> &aws_sdk_identitystore::Client {
        if crate::transport::waiting_allowed() {
            &self.store
        } else {
            &self.store_at_once
        }
    }

    fn sso(&self) -> &aws_sdk_ssoadmin::Client {
        if crate::transport::waiting_allowed() {
            &self.sso
        } else {
            &self.sso_at_once
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The injected clock's reading.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn fail<E>(&self, api: Api, what: &str, err: SdkError<E>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        classify(&self.connection, api, what, err, self.clock.now())
    }

    /// Every item a paginator yields, with `progress` told the count after each.
    async fn all<T, E>(
        &self,
        api: Api,
        what: &str,
        mut items: PaginationStream<Result<T, SdkError<E>>>,
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<T>, Failure>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut out = Vec::new();
        while let Some(item) = items
            .try_next()
            .await
            .map_err(|e| self.fail(api, what, e))?
        {
            out.push(item);
            progress(out.len());
        }
        Ok(out)
    }

    /// The organisation's accounts as (id, name), from Organizations `ListAccounts`.
    pub async fn organization_accounts(&self) -> Result<Vec<(String, String)>, Failure> {
        // The SDK's ListAccounts paginator yields pages, not accounts.
        let pages = self
            .all(
                Api::Organizations,
                "ListAccounts",
                self.organizations.list_accounts().into_paginator().send(),
                |_| {},
            )
            .await?;
        Ok(pages
            .iter()
            .flat_map(|page| page.accounts())
            .filter_map(|a| Some((a.id()?.to_string(), a.name()?.to_string())))
            .collect())
    }

    /// An account's tags, from Organizations `ListTagsForResource`.
    pub async fn account_tags(&self, account: &str) -> Result<BTreeMap<String, String>, Failure> {
        let tags = self
            .all(
                Api::Organizations,
                &format!("ListTagsForResource {account}"),
                self.organizations
                    .list_tags_for_resource()
                    .resource_id(account)
                    .into_paginator()
                    .items()
                    .send(),
                |_| {},
            )
            .await?;
        Ok(tags
            .into_iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect())
    }

    pub(super) async fn store_id(&self) -> Result<String, Failure> {
        Ok(self.instance().await?.identity_store_id.clone())
    }

    async fn instance_arn(&self) -> Result<String, Failure> {
        Ok(self.instance().await?.arn.clone())
    }

    /// One cheap authenticated call.
    pub async fn health(&self) -> Result<(), Failure> {
        self.sso()
            .list_instances()
            .max_results(1)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.fail(Api::SsoAdmin, "ListInstances", e))
    }

    pub async fn users(&self, progress: impl FnMut(usize)) -> Result<Vec<User>, Failure> {
        let store = self.store_id().await?;
        let pages = self
            .store()
            .list_users()
            .identity_store_id(&store)
            .into_paginator()
            .items()
            .send();
        self.all(Api::IdentityStore, "ListUsers", pages, progress)
            .await
    }

    pub async fn groups(&self, progress: impl FnMut(usize)) -> Result<Vec<Group>, Failure> {
        let store = self.store_id().await?;
        let pages = self
            .store()
            .list_groups()
            .identity_store_id(&store)
            .into_paginator()
            .items()
            .send();
        self.all(Api::IdentityStore, "ListGroups", pages, progress)
            .await
    }

    /// (membership id, user id) of every member of `group`.
    pub async fn memberships(&self, group: &str) -> Result<Vec<(String, String)>, Failure> {
        let store = self.store_id().await?;
        let pages = self
            .store()
            .list_group_memberships()
            .identity_store_id(&store)
            .group_id(group)
            .into_paginator()
            .items()
            .send();
        let what = format!("ListGroupMemberships {group}");
        let members = self.all(Api::IdentityStore, &what, pages, |_| {}).await?;
        Ok(members
            .iter()
            .filter_map(|m| match (m.membership_id(), m.member_id()) {
                (Some(id), Some(MemberId::UserId(user))) => Some((id.to_string(), user.clone())),
                _ => None,
            })
            .collect())
    }

    /// The membership id of `user` in `group` (`GetGroupMembershipId`), `None` when not a member.
    pub async fn membership_of(&self, group: &str, user: &str) -> Result<Option<String>, Failure> {
        let store = self.store_id().await?;
        let read = self
            .store()
            .get_group_membership_id()
            .identity_store_id(&store)
            .group_id(group)
            .member_id(MemberId::UserId(user.to_string()))
            .send()
            .await
            .map(|out| Some(out.membership_id().to_string()))
            .map_err(|e| {
                let what = format!("GetGroupMembershipId of {user} in group {group}");
                self.fail(Api::IdentityStore, &what, e)
            });
        unless_code(read, "ResourceNotFoundException", None)
    }

    /// Makes `user` a member of `group`; a `ConflictException` means they already are.
    pub async fn add_member(&self, group: &str, user: &str) -> Result<Applied, Failure> {
        let store = self.store_id().await?;
        let sent = self
            .store()
            .create_group_membership()
            .identity_store_id(&store)
            .group_id(group)
            .member_id(MemberId::UserId(user.to_string()))
            .send()
            .await
            .map(|_| Applied::Changed)
            .map_err(|e| {
                let what = format!("CreateGroupMembership of {user} in group {group}");
                self.fail(Api::IdentityStore, &what, e)
            });
        unless_code(sent, "ConflictException", Applied::AlreadyPresent)
    }

    /// Deletes the membership `membership` (of `user` in `group`); a missing one is already gone.
    pub async fn remove_member(
        &self,
        membership: &str,
        group: &str,
        user: &str,
    ) -> Result<Applied, Failure> {
        let store = self.store_id().await?;
        let sent = self
            .store()
            .delete_group_membership()
            .identity_store_id(&store)
            .membership_id(membership)
            .send()
            .await
            .map(|_| Applied::Changed)
            .map_err(|e| {
                let what = format!("DeleteGroupMembership {membership} of {user} in group {group}");
                self.fail(Api::IdentityStore, &what, e)
            });
        unless_code(sent, "ResourceNotFoundException", Applied::AlreadyPresent)
    }

    /// Permission set name → ARN, read from AWS (`ListPermissionSets`, then `DescribePermissionSet` each).
    pub async fn permission_sets(&self) -> Result<BTreeMap<String, String>, Failure> {
        let instance = self.instance_arn().await?;
        let pages = self
            .sso()
            .list_permission_sets()
            .instance_arn(&instance)
            .into_paginator()
            .items()
            .send();
        let arns = self
            .all(Api::SsoAdmin, "ListPermissionSets", pages, |_| {})
            .await?;
        let mut by_name = BTreeMap::new();
        for arn in arns {
            let out = self
                .sso()
                .describe_permission_set()
                .instance_arn(&instance)
                .permission_set_arn(&arn)
                .send()
                .await
                .map_err(|e| {
                    self.fail(Api::SsoAdmin, &format!("DescribePermissionSet {arn}"), e)
                })?;
            if let Some(name) = out.permission_set().and_then(|p| p.name()) {
                by_name.insert(name.to_string(), arn);
            }
        }
        *self.permission_sets.lock().await = Some(by_name.clone());
        Ok(by_name)
    }

    /// The ARN of the permission set named `name` (read again when the cached list lacks it).
    pub async fn permission_set_arn(&self, name: &str) -> Result<String, Failure> {
        let cached = self.permission_sets.lock().await.clone();
        let known = match cached {
            Some(sets) if sets.contains_key(name) => sets,
            _ => self.permission_sets().await?,
        };
        known.get(name).cloned().ok_or_else(|| {
            Failure::permanent(
                "PermissionSetNotFound",
                format!(
                    "{}: no permission set named {name:?} in the Identity Center instance",
                    self.connection
                ),
                None,
            )
        })
    }

    pub async fn provisioned_accounts(&self, arn: &str) -> Result<Vec<String>, Failure> {
        let instance = self.instance_arn().await?;
        let pages = self
            .sso()
            .list_accounts_for_provisioned_permission_set()
            .instance_arn(&instance)
            .permission_set_arn(arn)
            .into_paginator()
            .items()
            .send();
        let what = format!("ListAccountsForProvisionedPermissionSet {arn}");
        self.all(Api::SsoAdmin, &what, pages, |_| {}).await
    }

    /// (principal type, principal id) of every assignment of permission set `arn` in `account`.
    pub async fn assignments(
        &self,
        account: &str,
        arn: &str,
    ) -> Result<BTreeSet<(String, String)>, Failure> {
        let instance = self.instance_arn().await?;
        let pages = self
            .sso()
            .list_account_assignments()
            .instance_arn(&instance)
            .account_id(account)
            .permission_set_arn(arn)
            .into_paginator()
            .items()
            .send();
        let what = format!("ListAccountAssignments {account} {arn}");
        let assignments = self.all(Api::SsoAdmin, &what, pages, |_| {}).await?;
        Ok(assignments
            .iter()
            .filter_map(|a| {
                Some((
                    a.principal_type()?.as_str().to_string(),
                    a.principal_id()?.to_string(),
                ))
            })
            .collect())
    }

    pub async fn assigned(
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

    /// Sends a create or delete request and reads its status until it settles, the configured polls are
    /// spent, or the waits between them would pass the call's wait budget.
    pub async fn request(
        &self,
        direction: Direction,
        target: &AssignmentTarget<'_>,
        polls: (u32, Duration),
    ) -> Result<Applied, Failure> {
        let AssignmentTarget {
            account,
            arn,
            permission_set,
            principal_type,
            principal,
        } = *target;
        let instance = self.instance_arn().await?;
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
                    .map_err(|e| self.fail(Api::SsoAdmin, &what, e))
            };
        }
        let sent = match direction {
            Direction::Create => send_assignment!(
                self.sso().create_account_assignment(),
                account_assignment_creation_status
            ),
            Direction::Delete => send_assignment!(
                self.sso().delete_account_assignment(),
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
                return if present == (direction == Direction::Create) {
                    Ok(Applied::AlreadyPresent)
                } else if is_code(&f, "ConflictException") {
                    Err(Failure::retry_at(
                        self.now() + chrono::Duration::seconds(2),
                        Some("ConflictException".into()),
                        f.message(),
                    ))
                } else {
                    Err(f)
                };
            }
            Err(f) => return Err(f),
        };
        let (status_polls, mut wait) = polls;
        let mut waits = WaitBudget::new(self.limits.max_wait);
        for poll in 0..=status_polls {
            let Some(current) = &status else {
                return Err(Failure::retry_later(
                    Some("NoStatus".into()),
                    format!("{}: {what}: AWS answered without a status", self.connection),
                ));
            };
            match current.status() {
                Some(StatusValues::Succeeded) => return Ok(Applied::Changed),
                Some(StatusValues::Failed) => {
                    return Err(Failure::permanent(
                        "FAILED",
                        format!(
                            "{}: {what}: {}",
                            self.connection,
                            current
                                .failure_reason()
                                .unwrap_or("AWS gave no FailureReason")
                        ),
                        None,
                    ));
                }
                _ => {}
            }
            let Some(request_id) = current.request_id().map(str::to_string) else {
                break;
            };
            if poll == status_polls || !waits.sleep(wait).await {
                return Err(self.in_progress(&what, &request_id));
            }
            wait = (wait * 2).min(MAX_STATUS_POLL);
            status = self
                .read_status(direction, &instance, &request_id, &what)
                .await?;
        }
        Err(self.in_progress(&what, "unknown"))
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
                .sso()
                .describe_account_assignment_creation_status()
                .instance_arn(instance)
                .account_assignment_creation_request_id(request_id)
                .send()
                .await
                .map(|o| o.account_assignment_creation_status().cloned())
                .map_err(|e| {
                    self.fail(
                        Api::SsoAdmin,
                        &format!("DescribeAccountAssignmentCreationStatus {request_id} ({what})"),
                        e,
                    )
                }),
            Direction::Delete => self
                .sso()
                .describe_account_assignment_deletion_status()
                .instance_arn(instance)
                .account_assignment_deletion_request_id(request_id)
                .send()
                .await
                .map(|o| o.account_assignment_deletion_status().cloned())
                .map_err(|e| {
                    self.fail(
                        Api::SsoAdmin,
                        &format!("DescribeAccountAssignmentDeletionStatus {request_id} ({what})"),
                        e,
                    )
                }),
        }
    }

    fn in_progress(&self, what: &str, request_id: &str) -> Failure {
        Failure::retry_at(
            self.now() + chrono::Duration::seconds(IN_PROGRESS_RECHECK_SECONDS),
            Some("IN_PROGRESS".into()),
            format!(
                "{}: {what}: AWS is still working on request {request_id}; observe whether it landed",
                self.connection
            ),
        )
    }

    /// The configured instance, or the one `ListInstances` reports (an organisation has at most one).
    pub async fn instance(&self) -> Result<&Instance, Failure> {
        self.instance
            .get_or_try_init(|| async {
                if let (Some(arn), Some(store)) = &self.configured {
                    return Ok(Instance {
                        arn: arn.clone(),
                        identity_store_id: store.clone(),
                    });
                }
                let out = self
                    .sso()
                    .list_instances()
                    .send()
                    .await
                    .map_err(|e| self.fail(Api::SsoAdmin, "ListInstances", e))?;
                let found = out.instances().iter().find(|i| {
                    self.configured
                        .0
                        .as_deref()
                        .is_none_or(|arn| i.instance_arn() == Some(arn))
                });
                match found.and_then(|i| Some((i.instance_arn()?, i.identity_store_id()?))) {
                    Some((arn, store)) => Ok(Instance {
                        arn: arn.to_string(),
                        identity_store_id: self.configured.1.clone().unwrap_or(store.to_string()),
                    }),
                    None => Err(Failure::permanent(
                        "NoInstance",
                        format!(
                            "{}: ListInstances found no IAM Identity Center instance{}",
                            self.connection,
                            self.configured
                                .0
                                .as_deref()
                                .map(|a| format!(" with ARN {a}"))
                                .unwrap_or_default()
                        ),
                        None,
                    )),
                }
            })
            .await
    }
}
