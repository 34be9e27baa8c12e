//! The emulated Identity Center instance in memory: identity store users, groups and memberships, permission sets,
//! accounts, account assignments and the asynchronous requests that create and delete them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::seed::AwsSeed;
use crate::emulator::{Core, Seeded, Writes, name_from_email};
use crate::hand_change::{self, HandChange};

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub user_name: String,
    pub display_name: String,
    pub email: String,
    /// `UserStatus` DISABLED: the user cannot sign in to the AWS access portal.
    pub disabled: bool,
    /// The other attributes `CreateUser`/`UpdateUser` set, as `DescribeUser` answers them (`Name`, `Title`, …).
    pub profile: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Membership {
    pub id: String,
    pub group_id: String,
    pub user_id: String,
}

#[derive(Debug, Clone)]
pub struct PermissionSet {
    pub arn: String,
    pub name: String,
    pub description: String,
    pub session_duration: String,
    pub created: f64,
}

/// (account id, permission set ARN, principal type, principal id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Assignment {
    pub account_id: String,
    pub permission_set_arn: String,
    pub principal_type: String,
    pub principal_id: String,
}

impl Assignment {
    pub fn json(&self) -> Value {
        json!({
            "AccountId": self.account_id,
            "PermissionSetArn": self.permission_set_arn,
            "PrincipalType": self.principal_type,
            "PrincipalId": self.principal_id,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Create,
    Delete,
}

/// One `CreateAccountAssignment` or `DeleteAccountAssignment` request and how it is getting on.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: String,
    pub kind: RequestKind,
    pub assignment: Assignment,
    /// Further answers that still say `IN_PROGRESS`.
    pub remaining: u32,
    /// `None` while in progress; then `Ok(())` or the failure reason.
    pub outcome: Option<Result<(), String>>,
    pub created: f64,
    /// When it settles even if nobody reads its status (epoch seconds).
    pub settle_at: f64,
}

impl Request {
    pub fn status_json(&self) -> Value {
        let (status, reason) = match &self.outcome {
            None => ("IN_PROGRESS", None),
            Some(Ok(())) => ("SUCCEEDED", None),
            Some(Err(reason)) => ("FAILED", Some(reason.clone())),
        };
        let mut v = json!({
            "Status": status,
            "RequestId": self.id,
            "TargetId": self.assignment.account_id,
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": self.assignment.permission_set_arn,
            "PrincipalType": self.assignment.principal_type,
            "PrincipalId": self.assignment.principal_id,
            "CreatedDate": self.created,
        });
        if let (Some(reason), Some(obj)) = (reason, v.as_object_mut()) {
            obj.insert("FailureReason".into(), Value::String(reason));
        }
        v
    }
}

#[derive(Debug, Default)]
pub struct Inner {
    pub instance_arn: String,
    pub identity_store_id: String,
    pub owner_account_id: String,
    pub created: f64,
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub memberships: BTreeMap<String, Membership>,
    pub permission_sets: BTreeMap<String, PermissionSet>,
    pub accounts: BTreeSet<String>,
    /// Account id → its Organizations name, which only a change made by hand (in the console) can name it by.
    pub account_names: BTreeMap<String, String>,
    /// Account id → its tags in Organizations.
    pub account_tags: BTreeMap<String, BTreeMap<String, String>>,
    /// (permission set ARN, account id) pairs the permission set is provisioned to.
    pub provisioned: BTreeSet<(String, String)>,
    pub assignments: BTreeSet<Assignment>,
    pub requests: BTreeMap<String, Request>,
    pub in_progress_reads: u32,
    pub in_progress_seconds: f64,
    /// The next this many API requests fail with `ThrottlingException`.
    pub throttle_next: u32,
    pub writes: Writes,
    next_id: u64,
}

/// Ten hex digits that prefix identity store ids, as AWS's do (`9067a1b2c3-<uuid>`).
fn store_prefix(store: &str) -> String {
    let hex: String = store
        .trim_start_matches("d-")
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect();
    format!("{hex:0<10}").chars().take(10).collect()
}

impl Seeded for Inner {
    type Seed = AwsSeed;

    fn seeded(seed: &AwsSeed, now: DateTime<Utc>) -> Self {
        let created = now.timestamp() as f64;
        let mut s = Inner {
            instance_arn: seed.instance_arn.clone(),
            identity_store_id: seed.identity_store_id.clone(),
            owner_account_id: seed.owner_account_id.clone(),
            created,
            in_progress_reads: seed.in_progress_reads,
            in_progress_seconds: seed.in_progress_seconds,
            ..Inner::default()
        };
        let mut by_email = BTreeMap::new();
        for u in &seed.users {
            let id = s.new_store_id(1);
            by_email.insert(u.email.to_lowercase(), id.clone());
            s.users.insert(
                id.clone(),
                User {
                    id,
                    user_name: u.user_name.clone().unwrap_or_else(|| u.email.clone()),
                    display_name: u
                        .display_name
                        .clone()
                        .unwrap_or_else(|| name_from_email(&u.email)),
                    email: u.email.clone(),
                    disabled: false,
                    profile: serde_json::Map::new(),
                },
            );
        }
        let mut by_group = BTreeMap::new();
        for g in &seed.groups {
            let id = g.id.clone().unwrap_or_else(|| s.new_store_id(2));
            by_group.insert(g.name.clone(), id.clone());
            s.groups.insert(
                id.clone(),
                Group {
                    id: id.clone(),
                    display_name: g.name.clone(),
                    description: g.description.clone().unwrap_or_default(),
                },
            );
            for m in &g.members {
                if let Some(user_id) = by_email.get(&m.to_lowercase()) {
                    let mid = s.new_store_id(3);
                    s.memberships.insert(
                        mid.clone(),
                        Membership {
                            id: mid,
                            group_id: id.clone(),
                            user_id: user_id.clone(),
                        },
                    );
                }
            }
        }
        s.accounts = seed.accounts.iter().map(|a| a.id.clone()).collect();
        s.account_names = seed
            .accounts
            .iter()
            .filter_map(|a| Some((a.id.clone(), a.name.clone()?)))
            .collect();
        s.account_tags = seed
            .accounts
            .iter()
            .map(|a| (a.id.clone(), a.tags.clone()))
            .collect();
        let instance_id = seed
            .instance_arn
            .rsplit('/')
            .next()
            .unwrap_or("ssoins-0000000000000000")
            .to_owned();
        let mut by_set = BTreeMap::new();
        for p in &seed.permission_sets {
            s.next_id += 1;
            let ps_id =
                p.id.clone()
                    .unwrap_or_else(|| format!("ps-{:016x}", 0x5eed_0000_0000_0000u64 + s.next_id));
            let arn = format!("arn:aws:sso:::permissionSet/{instance_id}/{ps_id}");
            by_set.insert(p.name.clone(), arn.clone());
            for a in &p.provisioned_to {
                s.provisioned.insert((arn.clone(), a.clone()));
            }
            s.permission_sets.insert(
                arn.clone(),
                PermissionSet {
                    arn,
                    name: p.name.clone(),
                    description: p.description.clone().unwrap_or_default(),
                    session_duration: p.session_duration.clone().unwrap_or_else(|| "PT1H".into()),
                    created,
                },
            );
        }
        for a in &seed.assignments {
            let (principal_type, principal_id) = match (&a.user, &a.group) {
                (Some(u), _) => ("USER", by_email.get(&u.to_lowercase())),
                (None, Some(g)) => ("GROUP", by_group.get(g)),
                (None, None) => continue,
            };
            let (Some(principal_id), Some(arn)) = (principal_id, by_set.get(&a.permission_set))
            else {
                continue;
            };
            s.provisioned.insert((arn.clone(), a.account.clone()));
            s.assignments.insert(Assignment {
                account_id: a.account.clone(),
                permission_set_arn: arn.clone(),
                principal_type: principal_type.into(),
                principal_id: principal_id.clone(),
            });
        }
        s
    }

    fn writes(&self) -> &Writes {
        &self.writes
    }
}

impl Inner {
    /// Identity store ids that sort in creation order: `<prefix>-<kind>…-<counter>`.
    pub fn new_store_id(&mut self, kind: u32) -> String {
        self.next_id += 1;
        format!(
            "{}-{kind:08x}-0000-4000-8000-{:012x}",
            store_prefix(&self.identity_store_id),
            self.next_id
        )
    }

    pub fn user_json(&self, u: &User) -> Value {
        let mut words = u.display_name.splitn(2, ' ');
        let given = words.next().unwrap_or_default();
        let family = words.next().unwrap_or_default();
        let mut v = json!({
            "IdentityStoreId": self.identity_store_id,
            "UserId": u.id,
            "UserName": u.user_name,
            "DisplayName": u.display_name,
            "Name": {"Formatted": u.display_name, "GivenName": given, "FamilyName": family},
            "Emails": [{"Value": u.email, "Type": "work", "Primary": true}],
            "UserStatus": if u.disabled { "DISABLED" } else { "ENABLED" },
        });
        if let Some(obj) = v.as_object_mut() {
            obj.extend(u.profile.clone());
        }
        v
    }

    pub fn group_json(&self, g: &Group) -> Value {
        json!({
            "IdentityStoreId": self.identity_store_id,
            "GroupId": g.id,
            "DisplayName": g.display_name,
            "Description": g.description,
        })
    }

    pub fn membership_json(&self, m: &Membership) -> Value {
        json!({
            "IdentityStoreId": self.identity_store_id,
            "MembershipId": m.id,
            "GroupId": m.group_id,
            "MemberId": {"UserId": m.user_id},
        })
    }

    /// A change made by hand in the Identity Center console (`crate::hand_change`): a member added to or removed
    /// from `group/<DisplayName>` (`member`); a permission set assigned directly to the user in
    /// `account/<id or name>` (entitlement = the permission set's name), effective at once as no request is
    /// left in progress; every direct assignment in the account removed; or the user disabled.
    pub fn hand_change(&mut self, change: &HandChange) -> Result<(), String> {
        let who = change.user();
        let Some(uid) = self
            .users
            .values()
            .find(|u| u.user_name.eq_ignore_ascii_case(who) || u.email.eq_ignore_ascii_case(who))
            .map(|u| u.id.clone())
        else {
            return Err(format!("unknown user {who}"));
        };
        // An account has no default permission set; "" marks an add that names none.
        let Some((resource, entitlement)) = change.target("") else {
            if let Some(u) = self.users.get_mut(&uid) {
                u.disabled = true;
            }
            return Ok(());
        };
        match resource.kind.as_str() {
            "group" => {
                if let Some(e) = entitlement.filter(|e| !e.is_empty() && *e != "member") {
                    return Err(hand_change::unknown_entitlement(e, resource, &["member"]));
                }
                let Some(gid) = self
                    .groups
                    .values()
                    .find(|g| g.display_name == resource.name)
                    .map(|g| g.id.clone())
                else {
                    return Err(format!("unknown group {}", resource.name));
                };
                let held: Vec<String> = self
                    .memberships
                    .values()
                    .filter(|m| m.group_id == gid && m.user_id == uid)
                    .map(|m| m.id.clone())
                    .collect();
                if entitlement.is_some() {
                    if held.is_empty() {
                        let id = self.new_store_id(3);
                        self.memberships.insert(
                            id.clone(),
                            Membership {
                                id,
                                group_id: gid,
                                user_id: uid,
                            },
                        );
                    }
                } else {
                    for id in held {
                        self.memberships.remove(&id);
                    }
                }
                Ok(())
            }
            "account" => {
                let Some(account) = self
                    .accounts
                    .iter()
                    .find(|id| {
                        **id == resource.name || self.account_names.get(*id) == Some(&resource.name)
                    })
                    .cloned()
                else {
                    return Err(format!("unknown account {}", resource.name));
                };
                let direct = |a: &Assignment| {
                    a.account_id == account && a.principal_type == "USER" && a.principal_id == uid
                };
                let Some(set) = entitlement else {
                    self.assignments.retain(|a| !direct(a));
                    return Ok(());
                };
                let Some(arn) = self
                    .permission_sets
                    .values()
                    .find(|p| p.name == set)
                    .map(|p| p.arn.clone())
                else {
                    let known: Vec<&str> = self
                        .permission_sets
                        .values()
                        .map(|p| p.name.as_str())
                        .collect();
                    if set.is_empty() {
                        return Err(format!(
                            "add to {resource} needs an entitlement: a permission set, one of {}",
                            known.join(", ")
                        ));
                    }
                    return Err(hand_change::unknown_entitlement(set, resource, &known));
                };
                // The console provisions the permission set to the account as it assigns it.
                self.provisioned.insert((arn.clone(), account.clone()));
                self.assignments.insert(Assignment {
                    account_id: account,
                    permission_set_arn: arn,
                    principal_type: "USER".into(),
                    principal_id: uid,
                });
                Ok(())
            }
            _ => Err(hand_change::unknown_kind(resource, &["group", "account"])),
        }
    }

    /// A key for the writes counter that names the assignment by its permission set's name.
    pub fn assignment_key(&self, a: &Assignment) -> String {
        let set = self
            .permission_sets
            .get(&a.permission_set_arn)
            .map_or(a.permission_set_arn.as_str(), |p| p.name.as_str());
        format!(
            "assignment/{}/{set}/{}/{}",
            a.account_id, a.principal_type, a.principal_id
        )
    }

    /// Answers one status read: counts it down while in progress, then settles the request (once).
    pub fn read_status(&mut self, id: &str) -> Option<Value> {
        let request = self.requests.get_mut(id)?;
        if request.outcome.is_none() {
            if request.remaining > 0 {
                request.remaining -= 1;
            } else {
                self.settle(id);
            }
        }
        self.requests.get(id).map(Request::status_json)
    }

    /// Applies a request's effect, or records why it failed.
    pub fn settle(&mut self, id: &str) {
        let Some(request) = self.requests.get(id).cloned() else {
            return;
        };
        if request.outcome.is_some() {
            return;
        }
        let a = &request.assignment;
        let outcome = if !self.permission_sets.contains_key(&a.permission_set_arn) {
            Err(format!(
                "Permission set {} does not exist in instance {}.",
                a.permission_set_arn, self.instance_arn
            ))
        } else if !self.accounts.contains(&a.account_id) {
            Err(format!(
                "Account {} is not a member of the organization that owns instance {}.",
                a.account_id, self.instance_arn
            ))
        } else {
            let key = self.assignment_key(a);
            match request.kind {
                RequestKind::Create => {
                    self.provisioned
                        .insert((a.permission_set_arn.clone(), a.account_id.clone()));
                    if self.assignments.insert(a.clone()) {
                        self.writes.count(key);
                    }
                }
                RequestKind::Delete => {
                    if self.assignments.remove(a) {
                        self.writes.count(key);
                    }
                }
            }
            Ok(())
        };
        if let Some(r) = self.requests.get_mut(id) {
            r.outcome = Some(outcome);
        }
    }

    /// Settles every request whose time is up.
    pub fn sweep(&mut self, now: DateTime<Utc>) {
        let now = now.timestamp_millis() as f64 / 1000.0;
        let due: Vec<String> = self
            .requests
            .values()
            .filter(|r| r.outcome.is_none() && r.settle_at <= now)
            .map(|r| r.id.clone())
            .collect();
        for id in due {
            self.settle(&id);
        }
    }

    /// Whether a request for the same assignment is still in progress.
    pub fn pending_for(&self, a: &Assignment) -> bool {
        self.requests
            .values()
            .any(|r| r.outcome.is_none() && &r.assignment == a)
    }

    /// A new in-progress default: requests already waiting wait at most that many more answers, and new
    /// ones settle after `seconds` when given.
    pub fn set_in_progress(&mut self, reads: u32, seconds: Option<f64>) {
        self.in_progress_reads = reads;
        if let Some(seconds) = seconds {
            self.in_progress_seconds = seconds;
        }
        let pending: Vec<String> = self
            .requests
            .values_mut()
            .filter(|r| r.outcome.is_none())
            .map(|r| {
                r.remaining = r.remaining.min(reads);
                r.id.clone()
            })
            .collect();
        if reads == 0 {
            for id in pending {
                self.settle(&id);
            }
        }
    }
}

/// Identity Center's throttle is 20 transactions per second per API family; per minute here, like the other
/// emulators' windows.
/// Organizations' read calls are throttled far below Identity Center's.
pub const BUCKETS: &[(&str, u32)] = &[
    ("identitystore", 1200),
    ("sso", 1200),
    ("organizations", 300),
];

/// One Identity Center instance: everything behind the HTTP layer.
#[derive(Debug)]
pub struct Aws {
    pub(crate) core: Core<Inner>,
    pub access_key_id: String,
    pub secret_access_key: String,
}
