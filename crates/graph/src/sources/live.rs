//! The graph's inputs read from what grantflow syncs, instead of files: the AWS IAM Identity Center
//! connection's snapshot as an [`AwsExport`], the Datadog connection's monitors, and the teams and
//! repositories of GitHub and GitLab. Each adapter maps the common model back to the shapes the
//! file sources produce, so `build` treats both alike.

use std::collections::{BTreeMap, HashMap};

use grantflow_model::{GrantSource, Snapshot};

use super::aws::{Account, AccountAssignment, AwsExport, IdcGroup, IdcUser, PermissionSet, Tag};
use super::monitors::{ServiceMonitor, datadog_monitor};
use crate::build::user_key;

/// Access to code in one system: teams with their members and repositories, and people's direct
/// access to repositories. Repositories are keyed `<system>:<full path>`, lowercased, like the
/// catalog's annotations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeAccess {
    /// The connection, so a plan's operation finds its holder's account (`<connection>#<account id>`).
    pub connection: String,
    pub system: String,
    pub teams: Vec<Team>,
    /// (person's key, connection-scoped account id, repository).
    pub direct: Vec<(String, String, String)>,
    /// (person's key, connection-scoped account id): every account, so a first grant finds its holder.
    pub accounts: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Team {
    pub name: String,
    /// Persons' keys ([`user_key`] of the email, else the login).
    pub members: Vec<String>,
    pub repositories: Vec<String>,
}

/// A person's key from an account: the email joins them with the directory's user.
fn person_key(account: &grantflow_model::Account) -> String {
    user_key(account.email.as_deref().unwrap_or(&account.login))
}

/// The account key a plan's operation names: `<connection>#<account id>`.
pub fn account_alias(connection: &str, account_id: &str) -> String {
    format!("{connection}#{account_id}")
}

/// The Identity Center connection's snapshot as the export the graph reads. Permission sets are
/// named, not addressed by ARN: the name is what the role joins on.
pub fn aws(snapshot: &Snapshot, connection: &str) -> AwsExport {
    let mut export = AwsExport {
        connection: Some(connection.to_string()),
        ..AwsExport::default()
    };
    let ps_arn = |name: &str| format!("permission-set:{name}");
    let mut sets = std::collections::BTreeSet::new();
    let mut accounts: HashMap<&str, &str> = HashMap::new();
    for resource in &snapshot.resources {
        match resource.kind.as_str() {
            "account" => {
                let id = resource
                    .attributes
                    .get("account_id")
                    .and_then(|v| v.as_str())
                    .unwrap_or(&resource.id);
                accounts.insert(&resource.id, id);
                let tags = resource
                    .attributes
                    .get("tags")
                    .and_then(|t| t.as_object())
                    .map(|t| {
                        t.iter()
                            .filter_map(|(k, v)| {
                                Some(Tag {
                                    key: k.clone(),
                                    value: v.as_str()?.to_string(),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                export.accounts.push(Account {
                    id: id.to_string(),
                    name: Some(resource.name.clone()),
                    tags,
                });
                for ps in &resource.entitlements {
                    sets.insert(ps.clone());
                    export.offered.push((id.to_string(), ps.clone()));
                }
            }
            "group" => export.groups.push(IdcGroup {
                group_id: resource.id.clone(),
                display_name: resource.name.clone(),
            }),
            _ => {}
        }
    }
    export.permission_sets = sets
        .iter()
        .map(|name| PermissionSet {
            name: name.clone(),
            permission_set_arn: ps_arn(name),
        })
        .collect();
    for account in &snapshot.accounts {
        export.users.push(IdcUser {
            user_id: account.id.clone(),
            user_name: account.login.clone(),
        });
        export
            .people
            .push((account.id.clone(), person_key(account)));
    }
    let groups: HashMap<&str, ()> = snapshot
        .resources
        .iter()
        .filter(|r| r.kind.as_str() == "group")
        .map(|r| (r.id.as_str(), ()))
        .collect();
    for grant in &snapshot.grants {
        if grant.source != GrantSource::Direct {
            continue;
        }
        if let Some(&account) = accounts.get(grant.resource_id.as_str()) {
            export.account_assignments.push(AccountAssignment {
                account_id: account.to_string(),
                permission_set_arn: ps_arn(&grant.entitlement),
                principal_type: "USER".to_string(),
                principal_id: grant.account_id.clone(),
            });
        } else if groups.contains_key(grant.resource_id.as_str()) {
            export
                .memberships
                .push((grant.resource_id.clone(), grant.account_id.clone()));
        }
    }
    for rg in &snapshot.resource_grants {
        if let Some(&account) = accounts.get(rg.resource_id.as_str()) {
            export.account_assignments.push(AccountAssignment {
                account_id: account.to_string(),
                permission_set_arn: ps_arn(&rg.entitlement),
                principal_type: "GROUP".to_string(),
                principal_id: rg.holder_id.clone(),
            });
        }
    }
    export
}

/// The Datadog connection's monitors (resources of kind `monitor`), joined to services by their
/// `service:<name>` tags as the monitor list file is.
pub fn datadog(snapshot: &Snapshot) -> Vec<ServiceMonitor> {
    snapshot
        .resources
        .iter()
        .filter(|r| r.kind.as_str() == "monitor")
        .flat_map(|r| {
            let tags: Vec<String> = r
                .attributes
                .get("tags")
                .and_then(|t| t.as_array())
                .map(|t| {
                    t.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let state = r
                .attributes
                .get("overall_state")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            datadog_monitor(&r.id, &r.name, &tags, state)
        })
        .collect()
}

/// GitHub's teams (members, and repositories by the team's permission) and repositories people
/// hold directly; GitLab's groups (members, and the projects a group holds). `system` is `github`
/// or `gitlab`; anything else has no code.
pub fn code(snapshot: &Snapshot, connection: &str, system: &str) -> CodeAccess {
    let (team_kind, repo_kind) = match system {
        "github" => ("team", "repository"),
        "gitlab" => ("group", "project"),
        _ => return CodeAccess::default(),
    };
    let people: HashMap<&str, String> = snapshot
        .accounts
        .iter()
        .map(|a| (a.id.as_str(), person_key(a)))
        .collect();
    let repo_key = |r: &grantflow_model::Resource| {
        let path = match system {
            "github" => r
                .attributes
                .get("full_name")
                .and_then(|v| v.as_str())
                .unwrap_or(&r.name),
            _ => r
                .attributes
                .get("path_with_namespace")
                .and_then(|v| v.as_str())
                .unwrap_or(&r.name),
        };
        format!("{system}:{}", path.to_lowercase())
    };
    let repos: HashMap<&str, String> = snapshot
        .resources
        .iter()
        .filter(|r| r.kind.as_str() == repo_kind)
        .map(|r| (r.id.as_str(), repo_key(r)))
        .collect();
    let mut teams: BTreeMap<&str, Team> = snapshot
        .resources
        .iter()
        .filter(|r| r.kind.as_str() == team_kind)
        .map(|r| {
            (
                r.id.as_str(),
                Team {
                    name: r.name.clone(),
                    ..Team::default()
                },
            )
        })
        .collect();
    let mut access = CodeAccess {
        connection: connection.to_string(),
        system: system.to_string(),
        ..CodeAccess::default()
    };
    for grant in &snapshot.grants {
        let Some(person) = people.get(grant.account_id.as_str()) else {
            continue;
        };
        // An inherited group membership (GitLab) is membership all the same; a repository held
        // through a team is the team's edge, not the person's.
        if let Some(team) = teams.get_mut(grant.resource_id.as_str()) {
            team.members.push(person.clone());
        } else if grant.source == GrantSource::Direct
            && let Some(repo) = repos.get(grant.resource_id.as_str())
        {
            access
                .direct
                .push((person.clone(), grant.account_id.clone(), repo.clone()));
        }
    }
    for rg in &snapshot.resource_grants {
        if let (Some(team), Some(repo)) = (
            teams.get_mut(rg.holder_id.as_str()),
            repos.get(rg.resource_id.as_str()),
        ) {
            team.repositories.push(repo.clone());
        }
    }
    access.accounts = snapshot
        .accounts
        .iter()
        .map(|a| (person_key(a), a.id.clone()))
        .collect();
    access.teams = teams.into_values().collect();
    access
}
