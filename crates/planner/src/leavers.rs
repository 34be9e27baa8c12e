//! Leavers: once a person leaves — the directory marks them deprovisioned or suspended, or their HRIS
//! end date has passed — the plan revokes their directory sessions, removes their grants (the normal
//! diff: a leaver is wanted nothing) and retires each account a policy's `accounts:` declares for them
//! as its `retire:` says, downstream systems before the directory. A deletion with a grace period waits,
//! deactivated, until `delete_after_days` after the HRIS end date.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use grantflow_model::{AccountRef, ConnectionName, LifecycleState, OpKind, Person, RetireMode};
use grantflow_policy::PolicySet;

use crate::accounts::hris_date;
use crate::{ActualState, PlanError, correlate};

/// Planned changes: each operation with its connection and reasons.
type Changes = Vec<(OpKind, ConnectionName, Vec<String>)>;

/// Why `person` has left, or `None` while they have not. The HRIS end date is their last day: they
/// have left the day after.
pub(crate) fn left(person: &Person, today: NaiveDate) -> Option<String> {
    match person.state {
        LifecycleState::Deprovisioned => Some("the directory deprovisioned them".into()),
        LifecycleState::Suspended => Some("the directory suspended them".into()),
        _ => hris_date(person, "end_date")
            .filter(|end| *end < today)
            .map(|end| format!("their HRIS end date {end} has passed")),
    }
}

/// What the leaver plan retires: for each leaver and each connection a matching policy declares an
/// account in, the account retired as `retire:` says (unless it already is), and the directory
/// account's sessions revoked while it is still active.
pub(crate) fn plan_leavers(
    policies: &PolicySet,
    actual: &ActualState,
    people: &[Person],
    today: NaiveDate,
) -> Result<(Changes, Vec<String>), PlanError> {
    let (mut changes, mut notes) = (Vec::new(), Vec::new());
    if !policies.declares_accounts() {
        return Ok((changes, notes));
    }
    let mut correlated = BTreeMap::new();
    for person in people {
        let Some(why) = left(person, today) else {
            continue;
        };
        let mut retire: BTreeMap<&ConnectionName, (RetireMode, u32, &str)> = BTreeMap::new();
        for policy in policies.matching(person).map_err(PlanError::Policy)? {
            for spec in &policy.accounts {
                retire.entry(&spec.connection).or_insert((
                    spec.retire,
                    spec.delete_after_days,
                    policy.name.as_str(),
                ));
            }
        }
        for (connection, (mode, grace, policy)) in retire {
            let Some((name, snapshot)) = actual.snapshots.get_key_value(connection) else {
                continue;
            };
            let matches = correlated
                .entry(name)
                .or_insert_with(|| correlate(snapshot, people, &actual.correlation));
            let Some(account) = matches.account_for(&person.email) else {
                continue;
            };
            let reference = AccountRef {
                id: account.id.clone(),
                login: account.login.clone(),
            };
            let reasons = vec![format!("policy {policy}"), format!("leaver: {why}")];
            if *connection == actual.directory && account.state.is_active() {
                changes.push((
                    OpKind::account_action(reference.clone(), "clear_sessions", BTreeMap::new()),
                    connection.clone(),
                    reasons.clone(),
                ));
            }
            let mode = match mode {
                RetireMode::Delete if grace > 0 => {
                    let due = hris_date(person, "end_date")
                        .and_then(|end| end.checked_add_days(Days::new(u64::from(grace))));
                    match due {
                        Some(due) if due < today => RetireMode::Delete,
                        _ => {
                            notes.push(format!(
                                "{}'s {connection} account is deleted {grace} day(s) after their HRIS end date; until then it is deactivated",
                                person.email
                            ));
                            RetireMode::Deactivate
                        }
                    }
                }
                mode => mode,
            };
            let done = match mode.state_after() {
                Some(state) => account.state == state,
                None => false,
            };
            // A deprovisioned account is as retired as a suspension would make it.
            if done || (mode == RetireMode::Suspend && account.state.is_deprovisioned()) {
                continue;
            }
            changes.push((
                OpKind::retire_account(reference, mode),
                connection.clone(),
                reasons,
            ));
        }
    }
    Ok((changes, notes))
}

#[cfg(test)]
mod tests {
    use crate::plan_policies;
    use crate::tests::{lines, policies, state};
    use chrono::{DateTime, Utc};
    use grantflow_model::{ConnectionName, Grant, GrantSource, OpKind, Operation};
    use serde_json::json;

    const SALES: &str = r#"policies:
  - name: sales
    when: has(person.hris) && person.hris.department == "Sales"
    accounts:
      - system: okta
        attributes: {login: person.email, email: person.email}
      - system: slack
        attributes: {email: person.email}
        retire: delete
        delete_after_days: 30
    grants:
      - {system: okta, resource: group/Sales}
      - {system: slack, resource: channel/sales}
"#;

    fn at(date: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{date}T09:00:00Z"))
            .map(|d| d.with_timezone(&Utc))
            .expect("a date")
    }

    fn direct(account: &str, resource: &str) -> Grant {
        Grant {
            account_id: account.into(),
            resource_id: resource.into(),
            entitlement: "member".into(),
            source: GrantSource::Direct,
        }
    }

    /// The joiners' state where bob, in Sales with an Okta and a Slack account, has an HRIS end date.
    fn bob_leaves(end_date: &str) -> crate::ActualState {
        let mut actual = crate::accounts::tests::joiners();
        if let Some(okta) = actual.snapshots.get_mut(&ConnectionName::new("okta")) {
            okta.grants.push(direct("u2", "g9"));
        }
        if let Some(slack) = actual.snapshots.get_mut(&ConnectionName::new("slack")) {
            slack.grants.push(direct("U1", "C1"));
        }
        if let Some(hris) = actual.snapshots.get_mut(&ConnectionName::new("bamboohr"))
            && let Some(bob) = hris.accounts.iter_mut().find(|a| a.id == "1")
        {
            bob.attributes.insert("end_date".into(), json!(end_date));
        }
        actual
    }

    fn find<'p>(plan: &'p grantflow_model::Plan, line: &str) -> &'p Operation {
        plan.operations
            .iter()
            .find(|op| op.describe() == line)
            .unwrap_or_else(|| panic!("no `{line}` in {:#?}", lines(plan)))
    }

    #[test]
    fn a_leaver_loses_sessions_then_grants_then_accounts_downstream_first() {
        let today = at("2026-12-05");
        let still_here =
            plan_policies(&policies(SALES), &bob_leaves("2026-12-05"), "t", today).expect("plans");
        assert!(
            !lines(&still_here).iter().any(|l| l.contains("bob")),
            "the end date is the last day: {:?}",
            lines(&still_here)
        );

        let plan =
            plan_policies(&policies(SALES), &bob_leaves("2026-12-04"), "t", today).expect("plans");
        let mut bob: Vec<String> = lines(&plan)
            .into_iter()
            .filter(|l| l.contains("bob"))
            .collect();
        bob.sort();
        assert_eq!(
            bob,
            vec![
                "- okta clear_sessions account bob@example.com",
                "- okta deactivate account bob@example.com",
                "- okta group \"Sales\" member for bob@example.com",
                "- slack channel \"sales\" member for bob",
                "- slack deactivate account bob",
            ],
            "a deletion waits, deactivated, for its grace period"
        );
        let sessions = find(&plan, "- okta clear_sessions account bob@example.com");
        let okta_removal = find(&plan, "- okta group \"Sales\" member for bob@example.com");
        let slack_removal = find(&plan, "- slack channel \"sales\" member for bob");
        let slack_retire = find(&plan, "- slack deactivate account bob");
        let okta_retire = find(&plan, "- okta deactivate account bob@example.com");
        assert!(okta_removal.depends_on.contains(&sessions.id));
        assert!(slack_removal.depends_on.contains(&sessions.id));
        assert!(slack_retire.depends_on.contains(&slack_removal.id));
        for downstream in [slack_retire, slack_removal, okta_removal, sessions] {
            assert!(
                okta_retire.depends_on.contains(&downstream.id),
                "the directory account goes last: {:?} lacks {}",
                okta_retire.depends_on,
                downstream.describe()
            );
        }
        assert!(
            okta_retire
                .reasons
                .iter()
                .any(|r| r.contains("end date 2026-12-04"))
        );
        let position = |op: &Operation| plan.operations.iter().position(|o| o.id == op.id);
        assert!(position(slack_retire) < position(okta_retire));

        // Past the grace period the deactivated Slack account is deleted; nothing is repeated.
        let mut later = bob_leaves("2026-12-04");
        for op in &plan.operations {
            if let Some(snapshot) = later.snapshots.get_mut(&op.connection) {
                snapshot.apply_change(op);
            }
        }
        let within = plan_policies(&policies(SALES), &later, "t", at("2027-01-03")).expect("plans");
        assert!(
            !lines(&within).iter().any(|l| l.contains("bob")),
            "{:?}",
            lines(&within)
        );
        let after = plan_policies(&policies(SALES), &later, "t", at("2027-01-04")).expect("plans");
        let bob: Vec<String> = lines(&after)
            .into_iter()
            .filter(|l| l.contains("bob"))
            .collect();
        assert_eq!(bob, vec!["- slack delete account bob"]);

        // Read against the state after it ran, the deleted account is still theirs in a report when
        // its login names them: a handle, where handles are matched (`correlation.fallbacks: [login]`),
        // or their email (Jira's, Google's).
        later.correlation.fallbacks = vec![crate::MatchField::Login];
        for op in &after.operations {
            if let Some(snapshot) = later.snapshots.get_mut(&op.connection) {
                snapshot.apply_change(op);
            }
        }
        let slack = later.snapshots.get(&ConnectionName::new("slack"));
        assert!(
            slack.is_some_and(|s| !s.accounts.iter().any(|a| a.id == "U1")),
            "deleted"
        );
        let bobs = |plan: &grantflow_model::Plan| {
            crate::by_person(plan, &later)
                .iter()
                .map(|g| g.email.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(bobs(&after), vec![Some("bob@example.com".to_string())]);
        // And so is one whose login is the person's email (Jira's, Google's).
        let mut by_email = after.clone();
        for op in &mut by_email.operations {
            if let OpKind::RetireAccount { account, .. } = &mut op.kind {
                account.login = "bob@example.com".into();
            }
        }
        assert_eq!(bobs(&by_email), vec![Some("bob@example.com".to_string())]);
    }

    #[test]
    fn a_mover_gets_exactly_the_difference_of_old_and_new_access_in_one_plan() {
        let text = r#"policies:
  - name: platform
    when: person.department == "Platform"
    grants:
      - {system: okta, resource: group/Production Access Demo}
      - {system: okta, resource: app/Production Monitors}
  - name: sales
    when: person.department == "Sales"
    grants:
      - {system: okta, resource: group/Unmanaged}
      - {system: okta, resource: app/Production Monitors}
"#;
        let mut actual = state();
        let okta = ConnectionName::new("okta");
        let before = plan_policies(&policies(text), &actual, "t", Utc::now()).expect("plans");
        if let Some(snapshot) = actual.snapshots.get_mut(&okta) {
            for op in &before.operations {
                snapshot.apply_change(op);
            }
            // ann moves from Platform to Sales.
            if let Some(ann) = snapshot.accounts.iter_mut().find(|a| a.id == "u1") {
                ann.attributes.insert("department".into(), json!("Sales"));
            }
        }
        let plan = plan_policies(&policies(text), &actual, "t", Utc::now()).expect("plans");
        let mut moved = lines(&plan);
        moved.sort();
        assert_eq!(
            moved,
            vec![
                "+ okta group \"Unmanaged\" member for ann@example.com",
                "- okta group \"Production Access Demo\" member for ann@example.com",
            ],
            "old minus new removed, new minus old added, what both give kept"
        );
    }
}
