//! Accounts as code: the accounts a policy's `accounts:` says each matching person must have. A
//! person with no account in that connection gets a `create_account` (its id `pending:<email>`, so
//! their grants there target it and wait for it); a pre-hire (HRIS start date still ahead) gets a
//! staged directory account, and a plan made on or after the start date activates it.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use grantflow_model::{
    AccountOptions, AccountRef, ConnectionName, HRIS_ATTRIBUTE, LifecycleState, OpKind, Person,
    pending_id,
};
use grantflow_policy::{AccountSpec, PolicySet};
use serde_json::{Map, Value};

use crate::{ActualState, PlanError, correlate};

/// Planned changes: each operation with its connection and reasons.
type Changes = Vec<(OpKind, ConnectionName, Vec<String>)>;

/// The accounts a plan creates and activates.
#[derive(Default)]
pub(crate) struct PlannedAccounts {
    pub(crate) changes: Changes,
    pub(crate) notes: Vec<String>,
    /// (connection, person's email in lower case) → the id of the account the plan creates, which
    /// the person's grants in that connection target.
    pub(crate) pending: HashMap<(ConnectionName, String), String>,
}

/// What the matching policies want of one person's account in one connection.
struct Wanted<'p> {
    spec: &'p AccountSpec,
    attributes: Map<String, Value>,
    policies: Vec<&'p str>,
}

/// The people a plan is made for: the directory's, and — when a policy declares accounts — the
/// joiners only the HRIS knows yet (their HRIS end date, if any, still ahead), with their HR facts.
pub(crate) fn planning_people(
    policies: &PolicySet,
    actual: &ActualState,
    today: NaiveDate,
) -> Result<Vec<Person>, PlanError> {
    let mut people = crate::directory_people(actual)?;
    if policies.declares_accounts() {
        let mut joiners = grantflow_model::hris_only_people(&people, &actual.snapshots);
        grantflow_model::with_hris(&mut joiners, &actual.snapshots);
        joiners.retain(|person| crate::leavers::left(person, today).is_none());
        people.extend(joiners);
    }
    Ok(people)
}

/// The person's HRIS date `field` (`YYYY-MM-DD`), when it is readable.
pub(crate) fn hris_date(person: &Person, field: &str) -> Option<NaiveDate> {
    person
        .attributes
        .get(HRIS_ATTRIBUTE)
        .and_then(|hris| hris.get(field))
        .and_then(Value::as_str)
        .and_then(|date| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
}

/// `true` while the person's HRIS start date (`YYYY-MM-DD`) is after `today`.
pub(crate) fn before_start(person: &Person, today: NaiveDate) -> bool {
    hris_date(person, "start_date").is_some_and(|start| start > today)
}

/// The accounts matching policies declare for `people` that do not exist yet (created), and the
/// directory accounts a pre-hire was staged with whose start date has come (activated).
pub(crate) fn plan_accounts(
    policies: &PolicySet,
    actual: &ActualState,
    people: &[Person],
    today: NaiveDate,
) -> Result<PlannedAccounts, PlanError> {
    let mut planned = PlannedAccounts::default();
    if !policies.declares_accounts() {
        return Ok(planned);
    }
    let mut correlated = BTreeMap::new();
    for policy in &policies.policies {
        for spec in &policy.accounts {
            if let Some((name, snapshot)) = actual.snapshots.get_key_value(&spec.connection) {
                correlated
                    .entry(name)
                    .or_insert_with(|| correlate(snapshot, people, &actual.correlation));
            }
        }
    }
    for person in people {
        // A departed person gets no account; retiring theirs is the leaver plan's business.
        if person.state.is_deprovisioned() {
            continue;
        }
        let mut wanted: BTreeMap<&ConnectionName, Wanted<'_>> = BTreeMap::new();
        for policy in policies.matching(person).map_err(PlanError::Policy)? {
            for spec in &policy.accounts {
                let attributes = attribute_values(spec, &policy.name, person)?;
                match wanted.get_mut(&spec.connection) {
                    None => {
                        wanted.insert(
                            &spec.connection,
                            Wanted {
                                spec,
                                attributes,
                                policies: vec![&policy.name],
                            },
                        );
                    }
                    Some(earlier) => {
                        merge(earlier, spec, attributes, &policy.name, person)?;
                    }
                }
            }
        }
        for (connection, wanted) in wanted {
            let (Some(matches), Some(snapshot)) =
                (correlated.get(connection), actual.snapshots.get(connection))
            else {
                continue;
            };
            let reasons: Vec<String> = wanted
                .policies
                .iter()
                .map(|name| format!("policy {name}"))
                .collect();
            let pre_hire = before_start(person, today);
            if let Some(account) = matches.account_for(&person.email) {
                // A pre-hire's staged directory account, on or after the start date.
                if *connection == actual.directory
                    && account.state == LifecycleState::Pending
                    && wanted.spec.options.activate
                    && !pre_hire
                {
                    let params = BTreeMap::from([(
                        "send_email".to_string(),
                        wanted.spec.options.send_email.to_string(),
                    )]);
                    let reference = AccountRef {
                        id: account.id.clone(),
                        login: account.login.clone(),
                    };
                    let mut reasons = reasons;
                    reasons.push("the start date has come".to_string());
                    planned.changes.push((
                        OpKind::account_action(reference, "activate", params),
                        connection.clone(),
                        reasons,
                    ));
                }
                continue;
            }
            if matches.is_ambiguous(&person.email) {
                continue;
            }
            if snapshot.accounts_created_on_first_login {
                planned.notes.push(format!(
                    "{connection} makes {}'s account at their first sign-in; their grants there wait for it",
                    person.email
                ));
                continue;
            }
            // Before the start date only the directory account exists, staged: no other system's
            // account (and so no access there) is made for someone who has not started.
            if pre_hire && *connection != actual.directory {
                planned.notes.push(format!(
                    "{}'s {connection} account is created on their start date",
                    person.email
                ));
                continue;
            }
            let email = person.email.to_lowercase();
            let login = wanted
                .attributes
                .get("login")
                .and_then(Value::as_str)
                .map_or_else(|| email.clone(), str::to_string);
            let options = AccountOptions {
                // A pre-hire's account waits, staged, for the start date.
                activate: wanted.spec.options.activate && !pre_hire,
                ..wanted.spec.options
            };
            let mut reasons = reasons;
            if pre_hire && wanted.spec.options.activate {
                reasons.push("staged until the HRIS start date".to_string());
            }
            let id = pending_id(&email);
            planned
                .pending
                .insert((connection.clone(), email), id.clone());
            planned.changes.push((
                OpKind::create_account(AccountRef { id, login }, wanted.attributes, options),
                connection.clone(),
                reasons,
            ));
        }
    }
    Ok(planned)
}

/// Each attribute's value for `person`. As with conditions, an attribute the person lacks is an
/// error naming the policy and the person, never a silent null.
fn attribute_values(
    spec: &AccountSpec,
    policy: &str,
    person: &Person,
) -> Result<Map<String, Value>, PlanError> {
    let mut values = Map::new();
    for attribute in &spec.attributes {
        let value = attribute.expression.value_for(person).map_err(|why| {
            PlanError::Policy(format!(
                "policy \"{policy}\": {} account attribute `{}` for {}: {why}",
                spec.connection, attribute.name, person.email
            ))
        })?;
        values.insert(attribute.name.clone(), value);
    }
    Ok(values)
}

/// Two policies declaring one person's account in one connection must agree on every attribute
/// both set and on how it starts; nothing is guessed.
fn merge<'p>(
    earlier: &mut Wanted<'p>,
    spec: &'p AccountSpec,
    attributes: Map<String, Value>,
    policy: &'p str,
    person: &Person,
) -> Result<(), PlanError> {
    let conflict = |what: String| {
        PlanError::Policy(format!(
            "policies \"{}\" and \"{policy}\" declare {}'s {} account differently ({what})",
            earlier.policies.join("\", \""),
            person.email,
            spec.connection
        ))
    };
    if earlier.spec.options != spec.options {
        return Err(conflict(
            "activate, send_email or temporary_password".into(),
        ));
    }
    for (name, value) in attributes {
        match earlier.attributes.get(&name) {
            Some(held) if *held != value => {
                return Err(conflict(format!("`{name}`: {held} and {value}")));
            }
            Some(_) => {}
            None => {
                earlier.attributes.insert(name, value);
            }
        }
    }
    earlier.policies.push(policy);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plan_policies;
    use crate::tests::{lines, policies, state};
    use chrono::{DateTime, Utc};
    use grantflow_model::{Account, Operation, Resource, ResourceKind, Snapshot, SystemKind};
    use serde_json::json;

    const SALES: &str = r#"policies:
  - name: sales
    when: has(person.hris) && person.hris.department == "Sales"
    accounts:
      - system: okta
        attributes:
          login: person.email
          email: person.email
          firstName: person.hris.first_name
      - system: slack
        attributes: {email: person.email}
    grants:
      - {system: okta, resource: group/Sales}
      - {system: slack, resource: channel/sales}
"#;

    fn employee(id: &str, email: &str, first_name: &str, facts: Value) -> Account {
        let mut attributes = facts.as_object().cloned().unwrap_or_default();
        attributes.insert("first_name".into(), json!(first_name));
        attributes.insert("department".into(), json!("Sales"));
        Account {
            id: id.into(),
            login: email.into(),
            email: Some(email.into()),
            display_name: first_name.into(),
            status: "Active".into(),
            state: LifecycleState::Active,
            attributes,
        }
    }

    fn group(id: &str, kind: &str, name: &str) -> Resource {
        Resource {
            id: id.into(),
            kind: ResourceKind::new(kind),
            name: name.into(),
            entitlements: vec!["member".into()],
            entitlement_aliases: Default::default(),
            writable: true,
            attributes: Default::default(),
        }
    }

    /// The test directory, plus a Sales group, an HRIS (bob, already in Okta; nia, who started;
    /// ola, who starts on 2027-01-11; kim, who left before ever getting an account) and Slack, where
    /// only bob has an account.
    pub(crate) fn joiners() -> ActualState {
        let mut actual = state();
        let okta = ConnectionName::new("okta");
        if let Some(snapshot) = actual.snapshots.get_mut(&okta) {
            snapshot.resources.push(group("g9", "group", "Sales"));
        }
        let mut hris = Snapshot::new(ConnectionName::new("bamboohr"), SystemKind::new("bamboohr"));
        hris.accounts = vec![
            employee(
                "1",
                "bob@example.com",
                "Bob",
                json!({"start_date": "2020-01-01"}),
            ),
            employee(
                "2",
                "nia@example.com",
                "Nia",
                json!({"start_date": "2026-12-01"}),
            ),
            employee(
                "3",
                "ola@example.com",
                "Ola",
                json!({"start_date": "2027-01-11"}),
            ),
            employee(
                "4",
                "kim@example.com",
                "Kim",
                json!({"start_date": "2026-01-01", "end_date": "2026-06-30"}),
            ),
        ];
        let mut slack = Snapshot::new(ConnectionName::new("slack"), SystemKind::new("slack"));
        slack.accounts = vec![Account {
            id: "U1".into(),
            login: "bob".into(),
            email: Some("bob@example.com".into()),
            display_name: "Bob".into(),
            status: "active".into(),
            state: LifecycleState::Active,
            attributes: Default::default(),
        }];
        slack.resources.push(group("C1", "channel", "sales"));
        actual
            .snapshots
            .insert(ConnectionName::new("bamboohr"), hris);
        actual.snapshots.insert(ConnectionName::new("slack"), slack);
        actual
    }

    fn at(date: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{date}T09:00:00Z"))
            .map(|d| d.with_timezone(&Utc))
            .expect("a date")
    }

    fn find<'p>(plan: &'p grantflow_model::Plan, line: &str) -> &'p Operation {
        plan.operations
            .iter()
            .find(|op| op.describe() == line)
            .unwrap_or_else(|| panic!("no `{line}` in {:#?}", lines(plan)))
    }

    #[test]
    fn joiners_get_their_accounts_directory_first_and_their_grants_after() {
        let plan =
            plan_policies(&policies(SALES), &joiners(), "test", at("2026-12-05")).expect("plans");
        let mut described = lines(&plan);
        described.sort();
        assert_eq!(
            described,
            vec![
                "+ okta create account nia@example.com (email \"nia@example.com\", firstName \"Nia\"; activated, no email)",
                "+ okta create account ola@example.com (email \"ola@example.com\", firstName \"Ola\"; staged)",
                "+ okta group \"Sales\" member for bob@example.com",
                "+ okta group \"Sales\" member for nia@example.com",
                "+ slack channel \"sales\" member for bob",
                "+ slack channel \"sales\" member for nia@example.com",
                "+ slack create account nia@example.com (email \"nia@example.com\"; activated, no email)",
            ],
            "kim left before she ever had an account: nothing is created for her; ola has not started, so only her directory account exists (staged), and her access waits"
        );
        assert!(
            plan.review
                .notes
                .iter()
                .any(|n| n == "ola@example.com's access waits for their start date 2027-01-11"),
            "{:?}",
            plan.review.notes
        );
        assert!(
            plan.review
                .notes
                .iter()
                .any(|n| n == "ola@example.com's slack account is created on their start date"),
            "{:?}",
            plan.review.notes
        );
        let okta_create = find(
            &plan,
            "+ okta create account nia@example.com (email \"nia@example.com\", firstName \"Nia\"; activated, no email)",
        );
        let slack_create = find(
            &plan,
            "+ slack create account nia@example.com (email \"nia@example.com\"; activated, no email)",
        );
        let okta_grant = find(&plan, "+ okta group \"Sales\" member for nia@example.com");
        let slack_grant = find(
            &plan,
            "+ slack channel \"sales\" member for nia@example.com",
        );
        assert_eq!(
            okta_create.depends_on,
            vec![],
            "the directory account comes first"
        );
        assert_eq!(slack_create.depends_on, vec![okta_create.id]);
        assert_eq!(okta_grant.depends_on, vec![okta_create.id]);
        assert!(
            slack_grant.depends_on.contains(&slack_create.id)
                && slack_grant.depends_on.contains(&okta_grant.id),
            "{:?}",
            slack_grant.depends_on
        );
        assert_eq!(
            okta_grant.account().map(|a| a.id.as_str()),
            Some("pending:nia@example.com")
        );
        let position = |op: &Operation| plan.operations.iter().position(|o| o.id == op.id);
        assert!(position(okta_create) < position(slack_create));
        assert!(position(slack_create) < position(slack_grant));
        assert!(okta_create.reasons.contains(&"policy sales".to_string()));
        let staged = find(
            &plan,
            "+ okta create account ola@example.com (email \"ola@example.com\", firstName \"Ola\"; staged)",
        );
        assert!(
            staged.reasons.iter().any(|r| r.contains("start date")),
            "{:?}",
            staged.reasons
        );
    }

    #[test]
    fn a_staged_pre_hire_is_activated_by_a_plan_on_or_after_the_start_date() {
        let mut actual = joiners();
        let first =
            plan_policies(&policies(SALES), &actual, "test", at("2026-12-05")).expect("plans");
        for op in &first.operations {
            if let Some(snapshot) = actual.snapshots.get_mut(&op.connection) {
                snapshot.apply_change(op);
            }
        }
        let before =
            plan_policies(&policies(SALES), &actual, "test", at("2027-01-10")).expect("plans");
        assert!(
            !lines(&before)
                .iter()
                .any(|l| l.contains("activate") || l.contains("create account")),
            "nothing to do before the start date, and nothing created twice: {:?}",
            lines(&before)
        );
        let on = plan_policies(&policies(SALES), &actual, "test", at("2027-01-11")).expect("plans");
        assert!(
            lines(&on)
                .iter()
                .any(|l| l.starts_with("+ slack create account ola@example.com")),
            "her other accounts come on the start date: {:?}",
            lines(&on)
        );
        assert!(
            lines(&on)
                .iter()
                .any(|l| l == "+ okta group \"Sales\" member for ola@example.com"),
            "and her access with them: {:?}",
            lines(&on)
        );
        let activations: Vec<&Operation> = on
            .operations
            .iter()
            .filter(|op| op.verb() == "account_action")
            .collect();
        assert_eq!(activations.len(), 1, "{:?}", lines(&on));
        assert_eq!(
            activations[0].describe(),
            "+ okta activate account ola@example.com (send_email=false)"
        );
        let activation = activations[0].id;
        for line in [
            "+ okta group \"Sales\" member for ola@example.com",
            "+ slack create account ola@example.com",
        ] {
            let op = on
                .operations
                .iter()
                .find(|op| op.describe().starts_with(line))
                .unwrap_or_else(|| panic!("no `{line}` in {:?}", lines(&on)));
            assert!(
                op.depends_on.contains(&activation),
                "`{line}` waits for the directory account's activation: {:?}",
                op.depends_on
            );
        }
    }
}
