//! Matching a system's accounts to the directory's people.
//!
//! The work email is the canonical identifier. Where a system's accounts do
//! not carry it, configured fallbacks (login, employee number) are tried in
//! order. A person or an account that matches more than one counterpart is
//! *ambiguous*: it is reported and nothing is granted or removed on a guess.

use grantflow_model::{Account, Person, Snapshot};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// How accounts are matched to people, after the work email.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correlation {
    /// Tried in order for a person no account matches by work email.
    #[serde(default)]
    pub fallbacks: Vec<MatchField>,
}

/// A person attribute an account may be matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchField {
    /// The account's login equals the person's directory login, or the local
    /// part of their work email (GitHub and Slack handles often are).
    Login,
    /// The account's `employeeNumber` attribute equals the person's.
    EmployeeNumber,
}

impl MatchField {
    pub fn label(self) -> &'static str {
        match self {
            MatchField::Login => "login",
            MatchField::EmployeeNumber => "employee number",
        }
    }
}

/// Two or more candidates for one identity; nothing is decided on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ambiguity {
    /// The person's work email.
    pub person: String,
    /// Account ids that matched.
    pub accounts: Vec<String>,
    /// What they matched on ("work email", "login", …).
    pub matched_on: &'static str,
}

/// The result of matching one system's accounts to people.
#[derive(Debug, Default)]
pub struct Correlated<'s> {
    /// Person email (lower case) → their account.
    pub account_of: HashMap<String, &'s Account>,
    /// Account id → person email (lower case).
    pub person_of: HashMap<&'s str, String>,
    pub ambiguous: Vec<Ambiguity>,
}

impl<'s> Correlated<'s> {
    pub fn account_for(&self, email: &str) -> Option<&'s Account> {
        self.account_of.get(&email.to_lowercase()).copied()
    }

    /// Whether the person's match is ambiguous in this system.
    pub fn is_ambiguous(&self, email: &str) -> bool {
        let email = email.to_lowercase();
        self.ambiguous.iter().any(|a| a.person == email)
    }
}

fn lower(value: &str) -> String {
    value.trim().to_lowercase()
}

fn employee_number(attributes: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    ["employeeNumber", "employee_number"]
        .iter()
        .find_map(|key| match attributes.get(*key)? {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

/// Matches `snapshot`'s accounts to `people`.
pub fn correlate<'s>(
    snapshot: &'s Snapshot,
    people: &[Person],
    correlation: &Correlation,
) -> Correlated<'s> {
    let mut by_login: HashMap<String, Vec<&'s Account>> = HashMap::new();
    let mut by_email: HashMap<String, Vec<&'s Account>> = HashMap::new();
    let mut by_employee: HashMap<String, Vec<&'s Account>> = HashMap::new();
    for account in &snapshot.accounts {
        by_login
            .entry(lower(&account.login))
            .or_default()
            .push(account);
        if let Some(email) = &account.email
            && lower(email) != lower(&account.login)
        {
            by_email.entry(lower(email)).or_default().push(account);
        }
        if let Some(number) = employee_number(&account.attributes) {
            by_employee.entry(number).or_default().push(account);
        }
    }

    let mut correlated = Correlated::default();
    // Account id → the people it matched, to find accounts claimed twice.
    let mut claimed: BTreeMap<&'s str, Vec<String>> = BTreeMap::new();
    for person in people {
        let email = lower(&person.email);
        // A login equal to the email is the strongest match (Okta's own
        // convention); then the account's email attribute.
        let by_work_email: Vec<&'s Account> = by_login
            .get(&email)
            .or_else(|| by_email.get(&email))
            .cloned()
            .unwrap_or_default();
        let mut found: Option<(Vec<&'s Account>, &'static str)> = None;
        if !by_work_email.is_empty() {
            found = Some((by_work_email, "work email"));
        } else {
            for field in &correlation.fallbacks {
                let candidates: Vec<&'s Account> = match field {
                    MatchField::Login => {
                        let local = email.split('@').next().unwrap_or_default().to_string();
                        let mut candidates = by_login
                            .get(&lower(&person.login))
                            .cloned()
                            .unwrap_or_default();
                        for account in by_login.get(&local).into_iter().flatten() {
                            if !candidates.iter().any(|c| c.id == account.id) {
                                candidates.push(account);
                            }
                        }
                        candidates
                    }
                    MatchField::EmployeeNumber => employee_number(&person.attributes)
                        .and_then(|n| by_employee.get(&n).cloned())
                        .unwrap_or_default(),
                };
                if !candidates.is_empty() {
                    found = Some((candidates, field.label()));
                    break;
                }
            }
        }
        let Some((candidates, matched_on)) = found else {
            continue;
        };
        if candidates.len() > 1 {
            correlated.ambiguous.push(Ambiguity {
                person: email,
                accounts: candidates.iter().map(|a| a.id.clone()).collect(),
                matched_on,
            });
            continue;
        }
        let account = candidates[0];
        claimed
            .entry(account.id.as_str())
            .or_default()
            .push(email.clone());
        correlated.account_of.insert(email, account);
    }
    for (account_id, emails) in claimed {
        if emails.len() < 2 {
            if let Some(email) = emails.into_iter().next() {
                correlated.person_of.insert(account_id, email);
            }
            continue;
        }
        for email in emails {
            correlated.account_of.remove(&email);
            correlated.ambiguous.push(Ambiguity {
                person: email,
                accounts: vec![account_id.to_string()],
                matched_on: "an account two people match",
            });
        }
    }
    correlated
}
