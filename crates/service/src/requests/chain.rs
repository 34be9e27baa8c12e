//! Which approval rule decides a request, and its chain of stages resolved
//! to people: the subject's manager from the directory, the rule's owners,
//! a directory group's members, named people, or grantflow's approvers.

use grantflow_model::{OpKind, Plan, Snapshot};
use grantflow_planner::ActualState;
use grantflow_policy::{ApprovalRule, PolicySet, Reviewers, TargetKind};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One stage of a request's chain, as stored with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStage {
    pub name: String,
    /// How many different reviewers must approve.
    pub need: u32,
    /// The people (emails) who may decide.
    pub reviewers: Vec<String>,
    /// Whether anyone holding grantflow's approver role may decide.
    pub approvers: bool,
    /// After how long `escalate_to` may decide too.
    pub sla_seconds: Option<u64>,
    pub escalate_to: Vec<String>,
    pub escalate_to_approvers: bool,
}

/// What a request asks for, as rules are matched against it.
pub(crate) struct Asks<'a> {
    pub bundle: Option<&'a str>,
    pub action: Option<&'a str>,
    pub plan: &'a Plan,
}

/// The first rule (in file order) covering anything the request asks for,
/// for `person` in `groups`.
pub(crate) fn rule_for<'p>(
    policies: &'p PolicySet,
    asks: &Asks<'_>,
    person: &Value,
    groups: &[String],
) -> Result<Option<&'p ApprovalRule>, String> {
    let mut variables = Map::new();
    variables.insert("person".into(), person.clone());
    variables.insert(
        "groups".into(),
        Value::Array(groups.iter().cloned().map(Value::String).collect()),
    );
    for rule in &policies.approvals {
        for target in &rule.targets {
            if !covers(&target.what, asks) {
                continue;
            }
            let applies = match &target.when {
                None => true,
                Some(condition) => condition
                    .evaluate_with(&variables)
                    .map_err(|e| format!("approval rule \"{}\": {e}", rule.name))?,
            };
            if applies {
                return Ok(Some(rule));
            }
        }
    }
    Ok(None)
}

fn covers(target: &TargetKind, asks: &Asks<'_>) -> bool {
    match target {
        TargetKind::Bundle(name) => asks.bundle.is_some_and(|b| b.eq_ignore_ascii_case(name)),
        TargetKind::Action(verb) => asks
            .action
            .is_some_and(|a| verb == "*" || a.replace('-', "_").eq_ignore_ascii_case(verb)),
        TargetKind::System(connection) => asks
            .plan
            .operations
            .iter()
            .any(|op| op.connection.as_str() == connection),
        TargetKind::Resource {
            connection,
            kind,
            name,
        } => asks.plan.operations.iter().any(|op| {
            op.connection.as_str() == connection
                && match &op.kind {
                    OpKind::AddGrant { resource, .. } | OpKind::RemoveGrant { resource, .. } => {
                        resource.kind.0 == *kind && resource.name.eq_ignore_ascii_case(name)
                    }
                    _ => false,
                }
        }),
    }
}

/// Who the directory says `subject`'s manager is (an email), from the
/// `manager` attribute (a login or email) or `managerId` (the directory's id).
pub(crate) fn manager_of(actual: &ActualState, subject: &str) -> Option<String> {
    let directory = actual.snapshots.get(&actual.directory)?;
    let person = directory.account_by_login_or_email(subject)?;
    let named = |key: &str| {
        person
            .attributes
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let manager = named("manager")
        .and_then(|m| directory.account_by_login_or_email(m))
        .or_else(|| {
            named("managerId").and_then(|id| directory.accounts.iter().find(|a| a.id == id))
        })?;
    Some(email_of(manager))
}

fn email_of(account: &grantflow_model::Account) -> String {
    account
        .email
        .clone()
        .unwrap_or_else(|| account.login.clone())
        .to_lowercase()
}

/// The members (emails) of the directory group named `group`.
pub(crate) fn group_members(directory: &Snapshot, group: &str) -> Vec<String> {
    let Some(resource) = directory.resource_by_name("group", group) else {
        return vec![];
    };
    let mut members: Vec<String> = directory
        .grants
        .iter()
        .filter(|g| g.resource_id == resource.id)
        .filter_map(|g| directory.accounts.iter().find(|a| a.id == g.account_id))
        .filter(|a| a.state.is_active())
        .map(email_of)
        .collect();
    members.sort();
    members.dedup();
    members
}

/// The directory groups (names) `subject` is in.
pub(crate) fn groups_of(actual: &ActualState, subject: &str) -> Vec<String> {
    let Some(directory) = actual.snapshots.get(&actual.directory) else {
        return vec![];
    };
    let Some(account) = directory.account_by_login_or_email(subject) else {
        return vec![];
    };
    let mut groups: Vec<String> = directory
        .grants
        .iter()
        .filter(|g| g.account_id == account.id)
        .filter_map(|g| directory.resources.iter().find(|r| r.id == g.resource_id))
        .filter(|r| r.kind.0 == "group")
        .map(|r| r.name.clone())
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

/// `reviewers` as people, for a request about `subject`.
fn people_of(
    reviewers: &Reviewers,
    rule: &ApprovalRule,
    actual: &ActualState,
    subject: &str,
) -> Vec<String> {
    let mut people = reviewers.people.clone();
    if reviewers.manager
        && let Some(manager) = manager_of(actual, subject)
    {
        people.push(manager);
    }
    if reviewers.owner {
        people.extend(rule.owners.iter().cloned());
    }
    if let Some(group) = &reviewers.group
        && let Some(directory) = actual.snapshots.get(&actual.directory)
    {
        people.extend(group_members(directory, group));
    }
    people.sort();
    people.dedup();
    people
}

/// The rule's stages resolved to people for a request about `subject` made
/// by `requester`: neither of them ever reviews it. A stage nobody else
/// could decide is an error, said when the request is made.
pub(crate) fn resolve_chain(
    rule: &ApprovalRule,
    actual: &ActualState,
    subject: &str,
    requester: Option<&str>,
) -> Result<Vec<ChainStage>, String> {
    let excluded = |email: &String| {
        email.eq_ignore_ascii_case(subject)
            || requester.is_some_and(|r| email.eq_ignore_ascii_case(r))
    };
    let mut chain = Vec::new();
    for stage in &rule.stages {
        let mut reviewers = people_of(&stage.reviewers, rule, actual, subject);
        reviewers.retain(|e| !excluded(e));
        let (escalate_to, escalate_to_approvers) = match &stage.escalate_to {
            Some(escalation) => {
                let mut people = people_of(escalation, rule, actual, subject);
                people.retain(|e| !excluded(e));
                (people, escalation.approvers)
            }
            None => (vec![], false),
        };
        let possible =
            reviewers.len() as u32 + u32::from(stage.reviewers.approvers) * stage.approvals;
        if possible < stage.approvals && !stage.reviewers.approvers {
            let escalation =
                escalate_to.len() as u32 + u32::from(escalate_to_approvers) * stage.approvals;
            if possible + escalation < stage.approvals {
                return Err(format!(
                    "approval rule \"{}\", stage \"{}\": {} approval(s) are needed but only {} reviewer(s) other than the requester and {subject} can be found ({})",
                    rule.name,
                    stage.name,
                    stage.approvals,
                    reviewers.len() + escalate_to.len(),
                    if stage.reviewers.manager && manager_of(actual, subject).is_none() {
                        format!("the directory names no manager for {subject}")
                    } else {
                        stage.reviewers.describe()
                    }
                ));
            }
        }
        chain.push(ChainStage {
            name: stage.name.clone(),
            need: stage.approvals,
            reviewers,
            approvers: stage.reviewers.approvers,
            sla_seconds: stage.sla.map(|d| d.as_secs()),
            escalate_to,
            escalate_to_approvers,
        });
    }
    Ok(chain)
}

/// The chain of a request no rule covers: one approval by anyone holding
/// grantflow's approver role.
pub(crate) fn default_chain() -> Vec<ChainStage> {
    vec![ChainStage {
        name: "an approver".into(),
        need: 1,
        reviewers: vec![],
        approvers: true,
        sla_seconds: None,
        escalate_to: vec![],
        escalate_to_approvers: false,
    }]
}
