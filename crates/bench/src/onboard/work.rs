//! The onboarding workload: an organisation where N new hires already have their accounts in seven systems
//! (as SCIM or first sign-in would leave them) and none of their access, and the plan that gives it: for
//! each hire, their team's Okta group and app, then — after the Okta group, as the planner orders a person's
//! grants in other systems after the directory's — their team's Google group, GitHub team, GitLab group,
//! Slack channel, Jira project role and AWS account assignment.

use std::collections::BTreeMap;
use std::fmt::Write;

use grantflow_model::{
    AccountRef, ConnectionName, OpKind, Operation, OperationId, ResourceRef, Snapshot,
};

/// Teams the hires are spread over; each team has its group, channel, project, … in every system.
pub const TEAMS: usize = 10;

/// The systems, in the order their operations appear for a hire.
pub const SYSTEMS: [&str; 7] = ["okta", "google", "github", "gitlab", "slack", "jira", "aws"];

/// Operations per hire: two in Okta (group and app), one in each other system.
pub const PER_HIRE: usize = 8;

pub fn email(n: usize) -> String {
    format!("hire{n}@example.com")
}

pub fn github_login(n: usize) -> String {
    format!("hire-{n}")
}

pub fn team(n: usize) -> usize {
    n % TEAMS
}

/// Jira project keys are letters: team 0 is `TA`, team 1 `TB`, …
pub fn jira_key(t: usize) -> String {
    let letter = char::from(b'A' + u8::try_from(t % 26).unwrap_or(0));
    format!("T{letter}")
}

/// The organisation file.
pub fn org(hires: usize) -> String {
    let mut y = String::new();
    let each = |y: &mut String, line: &dyn Fn(usize) -> String| {
        for n in 0..hires {
            let _ = writeln!(y, "    - {}", line(n));
        }
    };
    let teams = |y: &mut String, line: &dyn Fn(usize) -> String| {
        for t in 0..TEAMS {
            let _ = writeln!(y, "    - {}", line(t));
        }
    };
    y.push_str("okta:\n  users:\n");
    each(&mut y, &|n| {
        format!("{{ login: {}, firstName: Hire, lastName: N{n} }}", email(n))
    });
    y.push_str("  groups:\n");
    teams(&mut y, &|t| format!("{{ name: team-{t}, members: [] }}"));
    y.push_str("  apps:\n");
    teams(&mut y, &|t| {
        format!("{{ name: tool_{t}, label: Tool {t} }}")
    });

    y.push_str("google:\n  customer_id: C0bench01\n  users:\n");
    each(&mut y, &|n| {
        format!(
            "{{ primaryEmail: {}, givenName: Hire, familyName: N{n} }}",
            email(n)
        )
    });
    y.push_str("  groups:\n");
    teams(&mut y, &|t| {
        format!("{{ email: team-{t}@example.com, name: Team {t} }}")
    });

    y.push_str("github:\n  org: bench-org\n  users:\n");
    each(&mut y, &|n| {
        format!(
            "{{ login: {}, name: Hire {n}, email: {} }}",
            github_login(n),
            email(n)
        )
    });
    y.push_str("  teams:\n");
    teams(&mut y, &|t| format!("{{ name: Team {t} }}"));

    y.push_str("gitlab:\n  users:\n");
    each(&mut y, &|n| format!("{{ email: {} }}", email(n)));
    y.push_str("  groups:\n");
    teams(&mut y, &|t| format!("{{ name: Team {t}, path: team-{t} }}"));

    y.push_str("slack:\n  team: Bench\n  users:\n");
    each(&mut y, &|n| format!("{{ email: {} }}", email(n)));
    y.push_str("  channels:\n    - { name: general, general: true }\n");
    teams(&mut y, &|t| format!("{{ name: team-{t} }}"));

    y.push_str("jira:\n  title: Bench Jira\n  users:\n");
    each(&mut y, &|n| format!("{{ email: {} }}", email(n)));
    y.push_str("  projects:\n");
    teams(&mut y, &|t| {
        format!(
            "{{ key: {}, name: Team {t}, roles: {{ Developers: {{}} }} }}",
            jira_key(t)
        )
    });

    y.push_str(
        "aws:\n  instance_arn: arn:aws:sso:::instance/ssoins-7223a1f8c0d5e6b2\n  identity_store_id: d-9067a1b2c3\n  users:\n",
    );
    each(&mut y, &|n| format!("{{ email: {} }}", email(n)));
    y.push_str("  accounts:\n");
    teams(&mut y, &|t| {
        format!("{{ id: \"{:012}\", name: team-{t} }}", 100_000_000_000 + t)
    });
    y.push_str("  permission_sets:\n    - { name: developer, description: Build and operate the team's services }\n");
    y
}

/// A resource of the workload in one system: its kind, the names it may be listed under, and the
/// entitlement each hire gets on it.
fn resource(system: &str, okta_app: bool, t: usize) -> (&'static str, Vec<String>, &'static str) {
    match (system, okta_app) {
        ("okta", false) => ("group", vec![format!("team-{t}")], "member"),
        ("okta", true) => (
            "app",
            vec![format!("Tool {t}"), format!("tool_{t}")],
            "assigned",
        ),
        ("google", _) => ("group", vec![format!("team-{t}@example.com")], "member"),
        ("github", _) => (
            "team",
            vec![format!("Team {t}"), format!("team-{t}")],
            "member",
        ),
        ("gitlab", _) => (
            "group",
            vec![format!("team-{t}"), format!("Team {t}")],
            "access_level:30",
        ),
        ("slack", _) => ("channel", vec![format!("team-{t}")], "member"),
        ("jira", _) => (
            "project",
            vec![format!("Team {t}"), jira_key(t)],
            "role:Developers",
        ),
        _ => ("account", vec![format!("team-{t}")], "developer"),
    }
}

fn find_resource(
    system: &str,
    s: &Snapshot,
    kind: &str,
    names: &[String],
) -> anyhow::Result<ResourceRef> {
    s.resources
        .iter()
        .find(|r| r.kind.as_str() == kind && names.iter().any(|n| *n == r.name || *n == r.id))
        .map(|r| ResourceRef {
            id: r.id.clone(),
            kind: r.kind.clone(),
            name: r.name.clone(),
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{system}: no {kind} named {} after the sync",
                names.join(" or ")
            )
        })
}

/// Each system's accounts by every name a hire's account may be listed under (email, login).
fn accounts_by_name(s: &Snapshot) -> BTreeMap<String, AccountRef> {
    let mut by = BTreeMap::new();
    for a in &s.accounts {
        let r = AccountRef {
            id: a.id.clone(),
            login: a.login.clone(),
        };
        by.insert(a.login.to_lowercase(), r.clone());
        if let Some(e) = &a.email {
            by.insert(e.to_lowercase(), r.clone());
        }
    }
    by
}

/// The plan's operations, read against each system's synced snapshot: hire n's are ids `n*8 .. n*8+8`.
pub fn operations(
    snapshots: &BTreeMap<String, Snapshot>,
    hires: usize,
) -> anyhow::Result<Vec<Operation>> {
    let accounts: BTreeMap<&str, BTreeMap<String, AccountRef>> = snapshots
        .iter()
        .map(|(name, s)| (name.as_str(), accounts_by_name(s)))
        .collect();
    let mut ops = Vec::with_capacity(hires * PER_HIRE);
    for n in 0..hires {
        let t = team(n);
        let mut slot = 0;
        let first = u32::try_from(n * PER_HIRE)?;
        for system in SYSTEMS {
            let rounds: &[bool] = if system == "okta" {
                &[false, true]
            } else {
                &[false]
            };
            for &okta_app in rounds {
                let snapshot = snapshots
                    .get(system)
                    .ok_or_else(|| anyhow::anyhow!("no snapshot of {system}"))?;
                let (kind, names, entitlement) = resource(system, okta_app, t);
                let resource = find_resource(system, snapshot, kind, &names)?;
                let account = [email(n), github_login(n)]
                    .iter()
                    .find_map(|name| accounts[system].get(name))
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("{system}: no account of {}", email(n)))?;
                // Every grant outside Okta follows the hire's Okta group, as the planner orders them.
                let depends_on = if system == "okta" {
                    vec![]
                } else {
                    vec![OperationId(first)]
                };
                ops.push(Operation {
                    id: OperationId(first + slot),
                    connection: ConnectionName::new(system),
                    kind: OpKind::AddGrant {
                        account,
                        resource,
                        entitlement: entitlement.into(),
                    },
                    reasons: vec!["onboarding".into()],
                    depends_on,
                });
                slot += 1;
            }
        }
    }
    Ok(ops)
}

/// What the baseline script is given for each hire: the ids it writes, per system (an SDK script knows its
/// groups and people; the lookups it would make first are left out, in the baseline's favour).
pub fn baseline_work(ops: &[Operation]) -> serde_json::Value {
    let mut hires: BTreeMap<u32, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
    for op in ops {
        let OpKind::AddGrant {
            account, resource, ..
        } = &op.kind
        else {
            continue;
        };
        let key = match (op.connection.as_str(), resource.kind.as_str()) {
            ("okta", "app") => "okta_app".to_string(),
            (system, _) => system.to_string(),
        };
        hires.entry(op.id.0 / PER_HIRE as u32).or_default().insert(
            key,
            serde_json::json!({
                "resource_id": resource.id,
                "resource_name": resource.name,
                "account_id": account.id,
                "account_login": account.login,
            }),
        );
    }
    serde_json::Value::Array(hires.into_values().map(serde_json::Value::Object).collect())
}
