//! The AWS IAM Identity Center export: the API shapes of the calls an Identity Center sync makes,
//! saved in one JSON file until the AWS connector syncs them into the store.
//!
//! ```json
//! { "IdentityCenter": { "InstanceArn": "arn:aws:sso:::instance/ssoins-…", "IdentityStoreId": "d-…", "Region": "eu-west-1" },
//!   "Accounts":  [ { "Id": "111122223333", "Name": "prod-payments", "Tags": [ { "Key": "environment", "Value": "production" } ] } ],   // organizations ListAccounts + ListTagsForResource
//!   "PermissionSets": [ { "Name": "prod-payments-admin", "PermissionSetArn": "arn:aws:sso:::permissionSet/…", "SessionDuration": "PT4H" } ],  // DescribePermissionSet
//!   "Groups": [ { "GroupId": "…", "DisplayName": "Production Access Demo" } ],        // identitystore ListGroups
//!   "Users":  [ { "UserId": "…", "UserName": "alice@example.com" } ],                  // identitystore ListUsers
//!   "AccountAssignments": [ { "AccountId": "…", "PermissionSetArn": "…", "PrincipalType": "GROUP", "PrincipalId": "…" } ],  // ListAccountAssignments
//!   "Roles": [ { "Path": "/aws-reserved/sso.amazonaws.com/eu-west-1/", "RoleName": "AWSReservedSSO_…", "Arn": "arn:aws:iam::…" } ] }  // iam ListRoles per account
//! ```

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsExport {
    #[serde(default)]
    pub identity_center: Option<serde_json::Value>,
    #[serde(default)]
    pub accounts: Vec<Account>,
    #[serde(default)]
    pub permission_sets: Vec<PermissionSet>,
    #[serde(default)]
    pub groups: Vec<IdcGroup>,
    #[serde(default)]
    pub users: Vec<IdcUser>,
    #[serde(default)]
    pub account_assignments: Vec<AccountAssignment>,
    #[serde(default)]
    pub roles: Vec<Role>,
    /// (account id, permission set name) pairs that can be assigned: a synced account offers its
    /// permission sets, so a first assignment can be reviewed before any role exists.
    #[serde(skip)]
    pub offered: Vec<(String, String)>,
    /// Group memberships (group id, user id); an export has none.
    #[serde(skip)]
    pub memberships: Vec<(String, String)>,
    /// User id → the person's key (their email), so an Identity Center user joins the directory's.
    #[serde(skip)]
    pub people: Vec<(String, String)>,
    /// The connection it was synced from; `None` for an export file.
    #[serde(skip)]
    pub connection: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Account {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PermissionSet {
    pub name: String,
    pub permission_set_arn: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdcGroup {
    pub group_id: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdcUser {
    pub user_id: String,
    pub user_name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountAssignment {
    pub account_id: String,
    pub permission_set_arn: String,
    /// `GROUP` or `USER`.
    pub principal_type: String,
    pub principal_id: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    #[serde(default)]
    pub path: Option<String>,
    pub role_name: String,
    pub arn: String,
}

pub fn parse(text: &str) -> Result<AwsExport, String> {
    serde_json::from_str(text).map_err(|e| format!("not an Identity Center export: {e}"))
}

impl Account {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key.eq_ignore_ascii_case(key))
            .map(|t| t.value.as_str())
    }
}

/// An IAM role ARN as `(account, role name)`, dropping any path: aws-auth must not carry the
/// `aws-reserved/sso.amazonaws.com/<region>/` path, access entries may, and the roles are the same.
pub fn normalise_role_arn(arn: &str) -> Option<(String, String)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("iam"), Some(_region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let path = resource.strip_prefix("role/")?;
    let name = path.rsplit('/').next()?;
    if account.is_empty() || name.is_empty() {
        return None;
    }
    Some((account.to_string(), name.to_string()))
}

/// The permission set behind an Identity Center role name: `AWSReservedSSO_<name>_<suffix>`.
/// The suffix changes when every assignment is deleted and re-made, so joins use the name.
pub fn permission_set_of_role(role_name: &str) -> Option<&str> {
    let rest = role_name.strip_prefix("AWSReservedSSO_")?;
    let (name, suffix) = rest.rsplit_once('_')?;
    (!name.is_empty() && !suffix.is_empty()).then_some(name)
}

/// The graph key of a role: the account plus the role name, or, for an Identity Center role, the
/// account plus the permission set (so a stale suffix still joins).
pub fn role_key(account: &str, role_name: &str) -> String {
    match permission_set_of_role(role_name) {
        Some(ps) => format!("{account}/AWSReservedSSO_{ps}"),
        None => format!("{account}/{role_name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_auth_and_access_entry_arns_of_one_sso_role_normalise_to_the_same_key() {
        let with_path = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_prod-payments-admin_0123456789abcdef";
        let without =
            "arn:aws:iam::111122223333:role/AWSReservedSSO_prod-payments-admin_0123456789abcdef";
        let a = normalise_role_arn(with_path).expect("arn with path");
        let b = normalise_role_arn(without).expect("arn without path");
        assert_eq!(a, b);
        assert_eq!(
            role_key(&a.0, &a.1),
            "111122223333/AWSReservedSSO_prod-payments-admin"
        );
        // us-east-1 identity sources have no region segment.
        let east = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_prod-payments-admin_fedcba9876543210";
        let c = normalise_role_arn(east).expect("arn without region");
        assert_eq!(role_key(&c.0, &c.1), role_key(&a.0, &a.1));
    }

    #[test]
    fn permission_set_names_may_contain_underscores() {
        assert_eq!(
            permission_set_of_role("AWSReservedSSO_Read_Only_0123456789abcdef"),
            Some("Read_Only")
        );
        assert_eq!(permission_set_of_role("eks-nodes"), None);
        assert_eq!(
            normalise_role_arn("arn:aws:iam::111122223333:user/admin"),
            None
        );
        assert_eq!(normalise_role_arn("not an arn"), None);
    }
}
