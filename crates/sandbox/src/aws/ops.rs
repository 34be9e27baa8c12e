//! The emulated operations of `identitystore` (`AWSIdentityStore.*`) and `sso-admin` (`SWBExternalService.*`),
//! with the exception names from botocore's service models.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::state::{Assignment, Inner, Request, RequestKind};

/// An AWS JSON 1.1 error: `{"__type": code, "Message": message}` with its HTTP status.
#[derive(Debug, Clone)]
pub struct AwsError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl AwsError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub(super) fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", message)
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        let body = json!({"__type": self.code, "Message": self.message, "RequestId": request_id});
        let mut resp = super::json_1_1(self.status, &body);
        crate::emulator::set_header(&mut resp, "x-amzn-requestid", &request_id);
        resp
    }
}

pub type OpResult = Result<Value, AwsError>;

pub(super) fn text<'a>(body: &'a Value, key: &str) -> Result<&'a str, AwsError> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            AwsError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(key)
            ))
        })
}

fn lower_first(key: &str) -> String {
    let mut c = key.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// One page of `items` by `MaxResults` (1–100, default 100) and an opaque `NextToken`.
fn page(body: &Value, items: Vec<Value>) -> Result<(Vec<Value>, Option<String>), AwsError> {
    let max = match body.get("MaxResults") {
        None | Some(Value::Null) => 100,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=100) => n as usize,
            _ => {
                return Err(AwsError::validation(format!(
                    "1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"
                )));
            }
        },
    };
    let start = match body.get("NextToken").and_then(Value::as_str) {
        None => 0,
        Some(t) => t
            .strip_prefix("nt1.")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| AwsError::validation("The NextToken is invalid."))?,
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| format!("nt1.{end}"));
    Ok((items[start..end].to_vec(), next))
}

fn listed(key: &str, (items, next): (Vec<Value>, Option<String>)) -> Value {
    let mut v = json!({ key: items });
    if let (Some(next), Some(obj)) = (next, v.as_object_mut()) {
        obj.insert("NextToken".into(), Value::String(next));
    }
    v
}

fn check_store(inner: &Inner, body: &Value) -> Result<(), AwsError> {
    let store = text(body, "IdentityStoreId")?;
    if store != inner.identity_store_id {
        return Err(AwsError::not_found(format!(
            "IdentityStore not found: {store}"
        )));
    }
    Ok(())
}

fn check_instance(inner: &Inner, body: &Value) -> Result<(), AwsError> {
    let arn = text(body, "InstanceArn")?;
    if !arn.starts_with("arn:aws:sso:::instance/") {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{arn}' at 'instanceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{{16}}"
        )));
    }
    if arn != inner.instance_arn {
        return Err(AwsError::not_found(format!(
            "Instance {arn} does not exist."
        )));
    }
    Ok(())
}

fn user_id_of(body: &Value) -> Result<&str, AwsError> {
    body.pointer("/MemberId/UserId")
        .and_then(Value::as_str)
        .ok_or_else(|| AwsError::validation("MemberId must name a UserId"))
}

pub fn identity_store(op: &str, inner: &mut Inner, body: &Value) -> OpResult {
    check_store(inner, body)?;
    match op {
        "ListUsers" => {
            let filter = filter_of(body, "UserName")?;
            let users: Vec<Value> = inner
                .users
                .values()
                .filter(|u| filter.is_none_or(|f| u.user_name.eq_ignore_ascii_case(f)))
                .map(|u| inner.user_json(u))
                .collect();
            Ok(listed("Users", page(body, users)?))
        }
        "DescribeUser" => {
            let id = text(body, "UserId")?;
            let u = inner
                .users
                .get(id)
                .ok_or_else(|| AwsError::not_found(format!("USER not found: {id}")))?;
            Ok(inner.user_json(u))
        }
        "GetUserId" => {
            let (path, value) = unique_attribute(body)?;
            let u = inner
                .users
                .values()
                .find(|u| match path.as_str() {
                    "username" => u.user_name.eq_ignore_ascii_case(&value),
                    "emails.value" => u.email.eq_ignore_ascii_case(&value),
                    _ => false,
                })
                .ok_or_else(|| AwsError::not_found("USER not found"))?;
            Ok(json!({"UserId": u.id, "IdentityStoreId": inner.identity_store_id}))
        }
        "ListGroups" => {
            let filter = filter_of(body, "DisplayName")?;
            let groups: Vec<Value> = inner
                .groups
                .values()
                .filter(|g| filter.is_none_or(|f| g.display_name == f))
                .map(|g| inner.group_json(g))
                .collect();
            Ok(listed("Groups", page(body, groups)?))
        }
        "DescribeGroup" => {
            let id = text(body, "GroupId")?;
            let g = inner
                .groups
                .get(id)
                .ok_or_else(|| AwsError::not_found(format!("GROUP not found: {id}")))?;
            Ok(inner.group_json(g))
        }
        "GetGroupId" => {
            let (path, value) = unique_attribute(body)?;
            let g = inner
                .groups
                .values()
                .find(|g| path == "displayname" && g.display_name == value)
                .ok_or_else(|| AwsError::not_found("GROUP not found"))?;
            Ok(json!({"GroupId": g.id, "IdentityStoreId": inner.identity_store_id}))
        }
        "ListGroupMemberships" => {
            let group = text(body, "GroupId")?;
            if !inner.groups.contains_key(group) {
                return Err(AwsError::not_found(format!("GROUP not found: {group}")));
            }
            let members: Vec<Value> = inner
                .memberships
                .values()
                .filter(|m| m.group_id == group)
                .map(|m| inner.membership_json(m))
                .collect();
            Ok(listed("GroupMemberships", page(body, members)?))
        }
        "ListGroupMembershipsForMember" => {
            let user = user_id_of(body)?;
            let members: Vec<Value> = inner
                .memberships
                .values()
                .filter(|m| m.user_id == user)
                .map(|m| inner.membership_json(m))
                .collect();
            Ok(listed("GroupMemberships", page(body, members)?))
        }
        "GetGroupMembershipId" => {
            let group = text(body, "GroupId")?;
            let user = user_id_of(body)?;
            let m = inner
                .memberships
                .values()
                .find(|m| m.group_id == group && m.user_id == user)
                .ok_or_else(|| AwsError::not_found("GROUP_MEMBERSHIP not found"))?;
            Ok(json!({"MembershipId": m.id, "IdentityStoreId": inner.identity_store_id}))
        }
        "DescribeGroupMembership" => {
            let id = text(body, "MembershipId")?;
            let m = inner
                .memberships
                .get(id)
                .ok_or_else(|| AwsError::not_found(format!("GROUP_MEMBERSHIP not found: {id}")))?;
            Ok(inner.membership_json(m))
        }
        "CreateGroupMembership" => {
            let group = text(body, "GroupId")?.to_owned();
            let user = user_id_of(body)?.to_owned();
            if !inner.groups.contains_key(&group) {
                return Err(AwsError::not_found(format!("GROUP not found: {group}")));
            }
            if !inner.users.contains_key(&user) {
                return Err(AwsError::not_found(format!("USER not found: {user}")));
            }
            if inner
                .memberships
                .values()
                .any(|m| m.group_id == group && m.user_id == user)
            {
                return Err(AwsError::new(
                    "ConflictException",
                    format!("Member {user} already exists in group {group}"),
                ));
            }
            let id = inner.new_store_id(3);
            inner.memberships.insert(
                id.clone(),
                super::state::Membership {
                    id: id.clone(),
                    group_id: group.clone(),
                    user_id: user.clone(),
                },
            );
            inner.writes.count(format!("membership/{group}/{user}"));
            Ok(json!({"MembershipId": id, "IdentityStoreId": inner.identity_store_id}))
        }
        "DeleteGroupMembership" => {
            let id = text(body, "MembershipId")?;
            let m = inner
                .memberships
                .remove(id)
                .ok_or_else(|| AwsError::not_found(format!("GROUP_MEMBERSHIP not found: {id}")))?;
            inner
                .writes
                .count(format!("membership/{}/{}", m.group_id, m.user_id));
            Ok(json!({}))
        }
        _ => super::users::write(op, inner, body).unwrap_or_else(|| Err(unknown(op))),
    }
}

fn unknown(op: &str) -> AwsError {
    AwsError::new(
        "UnknownOperationException",
        format!("The operation {op} is not supported by the grantflow sandbox."),
    )
}

/// The one `Filters` entry `ListUsers`/`ListGroups` still accept (deprecated by AWS, but honoured).
fn filter_of<'a>(body: &'a Value, attribute: &str) -> Result<Option<&'a str>, AwsError> {
    let Some(filters) = body.get("Filters").and_then(Value::as_array) else {
        return Ok(None);
    };
    match filters.as_slice() {
        [] => Ok(None),
        [f] if f.get("AttributePath").and_then(Value::as_str) == Some(attribute) => {
            Ok(f.get("AttributeValue").and_then(Value::as_str))
        }
        _ => Err(AwsError::validation(format!(
            "Only one filter on {attribute} is supported"
        ))),
    }
}

/// `AlternateIdentifier.UniqueAttribute` as (lower-cased path, value).
fn unique_attribute(body: &Value) -> Result<(String, String), AwsError> {
    let u = body
        .pointer("/AlternateIdentifier/UniqueAttribute")
        .ok_or_else(|| AwsError::validation("AlternateIdentifier must be a UniqueAttribute"))?;
    let path = u
        .get("AttributePath")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_lowercase();
    let value = u
        .get("AttributeValue")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok((path, value))
}

fn assignment_of(inner: &Inner, body: &Value) -> Result<Assignment, AwsError> {
    let target_type = text(body, "TargetType")?;
    if target_type != "AWS_ACCOUNT" {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{target_type}' at 'targetType' failed to satisfy constraint: Member must satisfy enum value set: [AWS_ACCOUNT]"
        )));
    }
    let account = text(body, "TargetId")?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{account}' at 'targetId' failed to satisfy constraint: Member must satisfy regular expression pattern: \\d{{12}}"
        )));
    }
    let principal_type = text(body, "PrincipalType")?;
    let principal_id = text(body, "PrincipalId")?;
    let known = match principal_type {
        "USER" => inner.users.contains_key(principal_id),
        "GROUP" => inner.groups.contains_key(principal_id),
        other => {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'principalType' failed to satisfy constraint: Member must satisfy enum value set: [USER, GROUP]"
            )));
        }
    };
    if !known {
        return Err(AwsError::not_found(format!(
            "{principal_type} {principal_id} does not exist in identity store {}.",
            inner.identity_store_id
        )));
    }
    Ok(Assignment {
        account_id: account.to_owned(),
        permission_set_arn: text(body, "PermissionSetArn")?.to_owned(),
        principal_type: principal_type.to_owned(),
        principal_id: principal_id.to_owned(),
    })
}

fn start_request(
    inner: &mut Inner,
    kind: RequestKind,
    assignment: Assignment,
    now: DateTime<Utc>,
) -> OpResult {
    if inner.pending_for(&assignment) {
        return Err(AwsError::new(
            "ConflictException",
            "An account assignment request for this principal, permission set and account is already in progress.",
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    // The create/delete answer is the first of the `in_progress_reads` answers that say IN_PROGRESS.
    let reads = inner.in_progress_reads;
    inner.requests.insert(
        id.clone(),
        Request {
            id: id.clone(),
            kind,
            assignment,
            remaining: reads.saturating_sub(1),
            outcome: None,
            created: now.timestamp() as f64,
            settle_at: now.timestamp_millis() as f64 / 1000.0 + inner.in_progress_seconds,
        },
    );
    if reads == 0 {
        inner.settle(&id);
    }
    let status = inner
        .requests
        .get(&id)
        .map(Request::status_json)
        .unwrap_or_default();
    let key = match kind {
        RequestKind::Create => "AccountAssignmentCreationStatus",
        RequestKind::Delete => "AccountAssignmentDeletionStatus",
    };
    Ok(json!({ key: status }))
}

pub fn sso_admin(op: &str, inner: &mut Inner, body: &Value, now: DateTime<Utc>) -> OpResult {
    if op == "ListInstances" {
        let instances = vec![json!({
            "InstanceArn": inner.instance_arn,
            "IdentityStoreId": inner.identity_store_id,
            "OwnerAccountId": inner.owner_account_id,
            "Name": "grantflow-sandbox",
            "CreatedDate": inner.created,
            "Status": "ACTIVE",
        })];
        return Ok(listed("Instances", page(body, instances)?));
    }
    check_instance(inner, body)?;
    match op {
        "ListPermissionSets" => {
            let arns = inner
                .permission_sets
                .keys()
                .map(|a| Value::String(a.clone()))
                .collect();
            Ok(listed("PermissionSets", page(body, arns)?))
        }
        "DescribePermissionSet" => {
            let arn = text(body, "PermissionSetArn")?;
            let p = inner.permission_sets.get(arn).ok_or_else(|| {
                AwsError::not_found(format!("Could not find PermissionSet with id {arn}"))
            })?;
            Ok(json!({"PermissionSet": {
                "Name": p.name,
                "PermissionSetArn": p.arn,
                "Description": p.description,
                "CreatedDate": p.created,
                "SessionDuration": p.session_duration,
            }}))
        }
        "ListAccountsForProvisionedPermissionSet" => {
            let arn = text(body, "PermissionSetArn")?;
            if !inner.permission_sets.contains_key(arn) {
                return Err(AwsError::not_found(format!(
                    "Could not find PermissionSet with id {arn}"
                )));
            }
            let accounts = inner
                .provisioned
                .iter()
                .filter(|(p, _)| p == arn)
                .map(|(_, a)| Value::String(a.clone()))
                .collect();
            Ok(listed("AccountIds", page(body, accounts)?))
        }
        "ListAccountAssignments" => {
            let account = text(body, "AccountId")?;
            let arn = text(body, "PermissionSetArn")?;
            let rows = inner
                .assignments
                .iter()
                .filter(|a| a.account_id == account && a.permission_set_arn == arn)
                .map(Assignment::json)
                .collect();
            Ok(listed("AccountAssignments", page(body, rows)?))
        }
        "ListAccountAssignmentsForPrincipal" => {
            let principal = text(body, "PrincipalId")?;
            let kind = text(body, "PrincipalType")?;
            let account = body.pointer("/Filter/AccountId").and_then(Value::as_str);
            let rows = inner
                .assignments
                .iter()
                .filter(|a| a.principal_id == principal && a.principal_type == kind)
                .filter(|a| account.is_none_or(|acc| a.account_id == acc))
                .map(Assignment::json)
                .collect();
            Ok(listed("AccountAssignments", page(body, rows)?))
        }
        "CreateAccountAssignment" => {
            let a = assignment_of(inner, body)?;
            start_request(inner, RequestKind::Create, a, now)
        }
        "DeleteAccountAssignment" => {
            let a = assignment_of(inner, body)?;
            start_request(inner, RequestKind::Delete, a, now)
        }
        "DescribeAccountAssignmentCreationStatus" | "DescribeAccountAssignmentDeletionStatus" => {
            let (field, kind, key) = if op == "DescribeAccountAssignmentCreationStatus" {
                (
                    "AccountAssignmentCreationRequestId",
                    RequestKind::Create,
                    "AccountAssignmentCreationStatus",
                )
            } else {
                (
                    "AccountAssignmentDeletionRequestId",
                    RequestKind::Delete,
                    "AccountAssignmentDeletionStatus",
                )
            };
            let id = text(body, field)?;
            if inner.requests.get(id).is_none_or(|r| r.kind != kind) {
                return Err(AwsError::not_found(format!(
                    "Could not find request with id {id}"
                )));
            }
            let status = inner.read_status(id).unwrap_or_default();
            Ok(json!({ key: status }))
        }
        _ => Err(unknown(op)),
    }
}

/// The Organizations reads: the accounts with their names, and an account's tags. The emulated caller is the
/// management account, so both are allowed.
pub fn organizations(op: &str, inner: &Inner, body: &Value) -> OpResult {
    match op {
        "ListAccounts" => {
            let max = match body.get("MaxResults") {
                None | Some(Value::Null) => 20,
                Some(v) => match v.as_u64() {
                    Some(n @ 1..=20) => n,
                    _ => {
                        return Err(AwsError::new(
                            "InvalidInputException",
                            "You provided a value that does not match the required pattern.",
                        ));
                    }
                },
            };
            let accounts: Vec<Value> = inner
                .accounts
                .iter()
                .map(|id| {
                    let name = inner.account_names.get(id).cloned().unwrap_or_else(|| id.clone());
                    json!({
                        "Id": id,
                        "Arn": format!("arn:aws:organizations::{}:account/o-sandbox0001/{id}", inner.owner_account_id),
                        "Email": format!("aws+{name}@example.com"),
                        "Name": name,
                        "Status": "ACTIVE",
                        "State": "ACTIVE",
                        "JoinedMethod": if *id == inner.owner_account_id { "CREATED" } else { "INVITED" },
                        "JoinedTimestamp": inner.created,
                    })
                })
                .collect();
            let mut paged = body.clone();
            if let Some(obj) = paged.as_object_mut() {
                obj.insert("MaxResults".into(), json!(max));
            }
            Ok(listed("Accounts", page(&paged, accounts)?))
        }
        "ListTagsForResource" => {
            let id = text(body, "ResourceId")?;
            let tags = inner
                .account_tags
                .get(id)
                .filter(|_| inner.accounts.contains(id));
            let Some(tags) = tags else {
                return Err(AwsError::new(
                    "TargetNotFoundException",
                    "We can't find a root, OU, account, or policy with the TargetId that you specified.",
                ));
            };
            let tags: Vec<Value> = tags
                .iter()
                .map(|(k, v)| json!({"Key": k, "Value": v}))
                .collect();
            Ok(listed("Tags", page(body, tags)?))
        }
        _ => Err(unknown(op)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::seed::AwsSeed;
    use crate::emulator::Seeded;

    fn demo() -> (Inner, DateTime<Utc>) {
        let org = crate::demo_org();
        let seed: AwsSeed = org.aws.expect("demo org has an aws section");
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        (Inner::seeded(&seed, now), now)
    }

    fn create(inner: &mut Inner, now: DateTime<Utc>, account: &str) -> String {
        let user = inner.users.keys().next().cloned().expect("a user");
        let set = inner.permission_sets.keys().next().cloned().expect("a set");
        let body = json!({"InstanceArn": inner.instance_arn, "TargetId": account, "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": set, "PrincipalType": "USER", "PrincipalId": user});
        let out = sso_admin("CreateAccountAssignment", inner, &body, now).expect("accepted");
        assert_eq!(
            out["AccountAssignmentCreationStatus"]["Status"],
            "IN_PROGRESS"
        );
        out["AccountAssignmentCreationStatus"]["RequestId"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    #[test]
    fn a_request_settles_after_its_reads_or_its_time_whichever_comes_first() {
        let (mut inner, now) = demo();
        inner.set_in_progress(100, Some(5.0));
        let id = create(&mut inner, now, "222233334444");
        inner.sweep(now + chrono::Duration::seconds(4));
        assert!(inner.requests[&id].outcome.is_none());
        inner.sweep(now + chrono::Duration::seconds(5));
        assert_eq!(inner.requests[&id].outcome, Some(Ok(())));

        inner.set_in_progress(2, Some(600.0));
        let id = create(&mut inner, now, "999999999999");
        assert_eq!(
            inner.read_status(&id).expect("known")["Status"],
            "IN_PROGRESS"
        );
        let settled = inner.read_status(&id).expect("known");
        assert_eq!(settled["Status"], "FAILED");
        assert!(
            settled["FailureReason"]
                .as_str()
                .is_some_and(|r| r.contains("999999999999"))
        );
    }
}
