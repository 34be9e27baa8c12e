//! The automatic lifecycle: of the plan the policies call for, only what belongs to the people whose
//! lifecycle is due — a joiner's account to create (a pre-hire's staged), a staged account whose start
//! date has come, a leaver's sessions and accounts — with everything else of theirs in that plan (the
//! grants that follow a creation, the removals before a retirement) and what those depend on. Nobody
//! else's changes: those wait for a person to plan and review them.
//!
//! Each due change is named by a key (the operation's natural key and the HRIS date it follows), so a
//! caller that records the keys it planned never plans one twice, across restarts and repeated checks.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use grantflow_model::{OpKind, Operation, OperationId, Plan};
use grantflow_policy::PolicySet;

use crate::accounts::{hris_date, planning_people};
use crate::{ActualState, GroupKind, PlanError, by_person, plan_policies, preconditions};

/// What kind of lifecycle change is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStep {
    /// A joiner's account is created (staged for a pre-hire).
    Joiner,
    /// A pre-hire's staged directory account is activated on the start date.
    Start,
    /// A leaver's sessions are revoked and accounts retired.
    Leaver,
}

/// One due lifecycle change of one person.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct DueChange {
    /// The person's work email, in lower case.
    pub person: String,
    pub step: LifecycleStep,
    /// Names the change for good: the operation's natural key and the HRIS date it follows.
    pub key: String,
    /// The operation, as the review reads it.
    pub change: String,
}

/// The lifecycle plan: the due changes it makes, and the plan (no operations when nothing is due).
#[derive(Debug, Clone)]
pub struct LifecyclePlan {
    pub plan: Plan,
    pub due: Vec<DueChange>,
}

impl LifecyclePlan {
    /// Whether the plan retires accounts (and so needs the leaver allowance past the safety rail).
    pub fn retires_accounts(&self) -> bool {
        self.plan
            .operations
            .iter()
            .any(|op| matches!(op.kind, OpKind::RetireAccount { .. }))
    }
}

/// The lifecycle step `op` is, if it is one.
fn step_of(op: &Operation) -> Option<LifecycleStep> {
    match &op.kind {
        OpKind::CreateAccount { .. } => Some(LifecycleStep::Joiner),
        OpKind::RetireAccount { .. } => Some(LifecycleStep::Leaver),
        // The policies' plan activates only a staged directory account whose start date has come,
        // and revokes sessions only of a leaver.
        OpKind::AccountAction { action, .. } if action == "activate" => Some(LifecycleStep::Start),
        OpKind::AccountAction { action, .. } if action == "clear_sessions" => {
            Some(LifecycleStep::Leaver)
        }
        _ => None,
    }
}

/// Plans the policies and keeps only the due lifecycle changes: those whose key is not in `done`, of
/// people not in `busy` (a lifecycle plan of theirs still running), with the rest of those people's
/// changes and what they depend on.
pub fn plan_lifecycle(
    policies: &PolicySet,
    actual: &ActualState,
    origin: &str,
    now: DateTime<Utc>,
    done: &BTreeSet<String>,
    busy: &BTreeSet<String>,
) -> Result<LifecyclePlan, PlanError> {
    let full = plan_policies(policies, actual, origin, now)?;
    let today = now.date_naive();
    let people: HashMap<String, grantflow_model::Person> =
        planning_people(policies, actual, today)?
            .into_iter()
            .map(|p| (p.email.to_lowercase(), p))
            .collect();
    let mut person_of: HashMap<OperationId, String> = HashMap::new();
    for group in by_person(&full, actual) {
        let (GroupKind::Person, Some(email)) = (group.kind, &group.email) else {
            continue;
        };
        for account in &group.accounts {
            for id in &account.operations {
                person_of.insert(*id, email.to_lowercase());
            }
        }
    }
    let mut due = Vec::new();
    for op in &full.operations {
        let (Some(step), Some(person)) = (step_of(op), person_of.get(&op.id)) else {
            continue;
        };
        if busy.contains(person) {
            continue;
        }
        let field = match step {
            LifecycleStep::Joiner | LifecycleStep::Start => "start_date",
            LifecycleStep::Leaver => "end_date",
        };
        let date = people
            .get(person)
            .and_then(|p| hris_date(p, field))
            .map_or_else(|| "-".to_string(), |d| d.to_string());
        let key = format!("{} {date}", op.natural_key());
        if done.contains(&key) {
            continue;
        }
        due.push(DueChange {
            person: person.clone(),
            step,
            key,
            change: op.describe(),
        });
    }
    due.sort();
    due.dedup_by(|a, b| a.key == b.key);
    let due_people: BTreeSet<&str> = due.iter().map(|d| d.person.as_str()).collect();
    let keep: BTreeSet<OperationId> = full
        .operations
        .iter()
        .filter(|op| {
            person_of
                .get(&op.id)
                .is_some_and(|p| due_people.contains(p.as_str()))
        })
        .map(|op| op.id)
        .collect();
    let plan = restricted(full, &keep, &due_people, actual);
    Ok(LifecyclePlan { plan, due })
}

/// `plan` with only the operations in `keep` and those they depend on (transitively), renumbered in
/// the plan's order, with their review items, the notes about `people`, and preconditions anew.
fn restricted(
    plan: Plan,
    keep: &BTreeSet<OperationId>,
    people: &BTreeSet<&str>,
    actual: &ActualState,
) -> Plan {
    let by_id: BTreeMap<OperationId, &Operation> =
        plan.operations.iter().map(|op| (op.id, op)).collect();
    let mut kept: BTreeSet<OperationId> = BTreeSet::new();
    let mut stack: Vec<OperationId> = keep.iter().copied().collect();
    while let Some(id) = stack.pop() {
        if !kept.insert(id) {
            continue;
        }
        if let Some(op) = by_id.get(&id) {
            stack.extend(op.depends_on.iter().copied());
        }
    }
    // The plan's order already puts each operation after what it depends on: keep it.
    let renumber: HashMap<OperationId, OperationId> = plan
        .operations
        .iter()
        .filter(|op| kept.contains(&op.id))
        .enumerate()
        .map(|(new, op)| (op.id, OperationId(u32::try_from(new).unwrap_or(u32::MAX))))
        .collect();
    let operations: Vec<Operation> = plan
        .operations
        .into_iter()
        .filter_map(|mut op| {
            op.id = *renumber.get(&op.id)?;
            op.depends_on = op
                .depends_on
                .iter()
                .filter_map(|d| renumber.get(d).copied())
                .collect();
            Some(op)
        })
        .collect();
    let mut review = plan.review;
    review.items = review
        .items
        .into_iter()
        .filter_map(|mut item| {
            item.operation = *renumber.get(&item.operation)?;
            Some(item)
        })
        .collect();
    review.notes.retain(|note| {
        let note = note.to_lowercase();
        people.iter().any(|person| note.contains(person))
    });
    let mut plan = Plan {
        id: String::new(),
        preconditions: preconditions(&operations, actual),
        operations,
        review,
        ..plan
    };
    plan.seal();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::tests::joiners;
    use crate::tests::{lines, policies};
    use grantflow_model::ConnectionName;
    use serde_json::json;

    const SALES: &str = r#"policies:
  - name: sales
    when: has(person.hris) && person.hris.department == "Sales"
    accounts:
      - system: okta
        attributes: {login: person.email, email: person.email}
    grants:
      - {system: okta, resource: group/Sales}
"#;

    fn at(date: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{date}T09:00:00Z"))
            .map(|d| d.with_timezone(&Utc))
            .expect("a date")
    }

    fn sorted(plan: &Plan) -> Vec<String> {
        let mut lines = lines(plan);
        lines.sort();
        lines
    }

    #[test]
    fn only_the_people_whose_lifecycle_is_due_and_each_change_once() {
        let actual = joiners();
        let none = BTreeSet::new();
        let planned = plan_lifecycle(
            &policies(SALES),
            &actual,
            "t",
            at("2026-12-05"),
            &none,
            &none,
        )
        .expect("plans");
        assert_eq!(
            sorted(&planned.plan),
            vec![
                "+ okta create account nia@example.com (email \"nia@example.com\"; activated, no email)",
                "+ okta create account ola@example.com (email \"ola@example.com\"; staged)",
                "+ okta group \"Sales\" member for nia@example.com",
            ],
            "bob's missing grant is no lifecycle change: it waits for a person's plan; ola, a \
             pre-hire, is staged and her access waits for her start date"
        );
        let keys: Vec<&str> = planned.due.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys.len(), 2, "{keys:?}");
        assert!(keys.iter().any(|k| k.ends_with(" 2027-01-11")), "{keys:?}");
        assert!(!planned.retires_accounts());
        let grant = planned
            .plan
            .operations
            .iter()
            .find(|op| op.describe() == "+ okta group \"Sales\" member for nia@example.com")
            .expect("nia's grant");
        let create = planned
            .plan
            .operations
            .iter()
            .find(|op| {
                matches!(op.kind, OpKind::CreateAccount { .. }) && op.describe().contains("nia")
            })
            .expect("nia's account");
        assert_eq!(
            grant.depends_on,
            vec![create.id],
            "renumbered with the plan"
        );
        assert!(planned.plan.is_sealed());

        // Planned once: with its keys recorded, nothing is due again; nor while its plan runs.
        let done: BTreeSet<String> = planned.due.iter().map(|d| d.key.clone()).collect();
        let again = plan_lifecycle(
            &policies(SALES),
            &actual,
            "t",
            at("2026-12-05"),
            &done,
            &none,
        )
        .expect("plans");
        assert!(again.plan.operations.is_empty() && again.due.is_empty());
        let busy: BTreeSet<String> =
            ["nia@example.com".to_string(), "ola@example.com".into()].into();
        let running = plan_lifecycle(
            &policies(SALES),
            &actual,
            "t",
            at("2026-12-05"),
            &none,
            &busy,
        )
        .expect("plans");
        assert!(running.plan.operations.is_empty());
    }

    #[test]
    fn a_leaver_is_due_with_their_removals_and_nobody_else_is() {
        let mut actual = joiners();
        if let Some(okta) = actual.snapshots.get_mut(&ConnectionName::new("okta")) {
            okta.grants.push(grantflow_model::Grant {
                account_id: "u2".into(),
                resource_id: "g9".into(),
                entitlement: "member".into(),
                source: grantflow_model::GrantSource::Direct,
            });
        }
        if let Some(hris) = actual.snapshots.get_mut(&ConnectionName::new("bamboohr"))
            && let Some(bob) = hris.accounts.iter_mut().find(|a| a.id == "1")
        {
            bob.attributes
                .insert("end_date".into(), json!("2026-12-04"));
        }
        let done: BTreeSet<String> = plan_lifecycle(
            &policies(SALES),
            &actual,
            "t",
            at("2026-12-05"),
            &BTreeSet::new(),
            &BTreeSet::new(),
        )
        .expect("plans")
        .due
        .into_iter()
        .filter(|d| d.step == LifecycleStep::Joiner)
        .map(|d| d.key)
        .collect();
        let planned = plan_lifecycle(
            &policies(SALES),
            &actual,
            "t",
            at("2026-12-05"),
            &done,
            &BTreeSet::new(),
        )
        .expect("plans");
        assert_eq!(
            sorted(&planned.plan),
            vec![
                "- okta clear_sessions account bob@example.com",
                "- okta deactivate account bob@example.com",
                "- okta group \"Sales\" member for bob@example.com",
            ]
        );
        assert!(planned.retires_accounts());
        assert!(
            planned
                .due
                .iter()
                .all(|d| d.step == LifecycleStep::Leaver && d.key.ends_with(" 2026-12-04")),
            "{:?}",
            planned.due
        );
    }
}
