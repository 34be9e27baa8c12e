//! The full sync of a GitHub organisation at the pace its rate limits allow.
//!
//! Every REST read is charged to the one `core` budget (5,000 an hour for a token, announced in
//! `x-ratelimit-*` on every answer), so reading lists side by side does not buy more calls; it keeps the
//! budget busy. Read one after the other, a sync of a large org spends most of its time waiting for
//! answers rather than for the budget: 1,000 teams take three lists each (members, maintainers,
//! repositories). So the account lists, the repositories and the teams are read at the same time, and
//! [`CONCURRENT_TEAMS`] teams have their three lists in flight at once; the transport keeps the calls
//! within the announced budget and waits for its reset when it is spent.
//!
//! GitHub's secondary limits bound the concurrency: "no more than 100 concurrent requests", shared by
//! REST and GraphQL and by everything else the token does (docs.github.com, "Rate limits for the REST
//! API", secondary rate limits). Three lists for each of [`CONCURRENT_TEAMS`] teams (48), with
//! [`CONCURRENT_PROFILES`] profile reads and the account lists beside them, stay under it.
//!
//! Memory: a team's lists are turned into grants as its answers arrive and handed to the sink in listing
//! order (so the snapshot does not depend on which answer came first); the members are held, as the few
//! fields the account takes, until the teams are done.

use futures::stream::{self, StreamExt, TryStreamExt};
use grantflow_model::{Account, Grant, GrantSource, Resource, ResourceGrant};
use serde_json::Value;
use std::collections::BTreeSet;
use std::ops::ControlFlow;

use super::mapping::{self, TEAM_ROLES};
use super::{GithubConnector, login_of};
use crate::{Failure, SyncSink};

/// Teams read at once, each with its three lists in flight together: 48 requests at most, under half of
/// GitHub's 100 concurrent requests, leaving room for the accounts' lists and the token's other users.
const CONCURRENT_TEAMS: usize = 16;
/// User profiles read at once, for members the listing shows without an email (github.com leaves the
/// email out of list items; GitHub Enterprise Server and the sandbox include it).
const CONCURRENT_PROFILES: usize = 16;

/// What a team's lists say.
struct TeamRead {
    team: Resource,
    /// (account id, team role) of every listed member.
    members: Vec<(String, &'static str)>,
    /// (repository name, permission).
    repos: Vec<(String, String)>,
    /// Invitees with a pending membership: (account id, role).
    pending: Vec<(String, String)>,
}

/// An invitee: account id, login, and whether the invitation may carry teams (`team_count` absent or not 0).
struct Invitee {
    id: String,
    login: String,
    in_teams: bool,
}

/// Every item of a listing under `segments`, each kept as `keep` makes it when its page arrives. The URL is
/// made before the future, so the future borrows only the connector.
fn each<'c, T, F>(
    connector: &'c GithubConnector,
    segments: &[&str],
    query: &[(&str, &str)],
    mut keep: F,
) -> impl Future<Output = Result<Vec<T>, Failure>> + use<'c, T, F>
where
    F: FnMut(&Value) -> Option<T> + 'c,
{
    let first = connector.client.list_url(segments, query);
    async move {
        let mut kept = Vec::new();
        connector
            .client
            .each_item_page(first?, |items| {
                kept.extend(items.iter().filter_map(&mut keep));
                ControlFlow::Continue(())
            })
            .await?;
        Ok(kept)
    }
}

/// The members of the org as accounts (admins marked), their profiles read where the listing lacks an
/// email.
async fn members(
    connector: &GithubConnector,
    org: &str,
    admins: &BTreeSet<String>,
) -> Result<Vec<Account>, Failure> {
    let listed = each(connector, &["orgs", org, "members"], &[], |u| {
        login_of(u).map(|_| trim_user(u))
    })
    .await?;
    stream::iter(listed)
        .map(|user| async move {
            let role = login_of(&user).map(|l| {
                if admins.contains(&l) {
                    "admin"
                } else {
                    "member"
                }
            });
            let (email, suspended) = connector.profile(&user).await?;
            let status = if suspended {
                mapping::SUSPENDED
            } else {
                mapping::ACTIVE
            };
            Ok::<_, Failure>(mapping::account(&user, email, status, role))
        })
        .buffered(CONCURRENT_PROFILES)
        .try_filter_map(|account| async move { Ok(account) })
        .try_collect()
        .await
}

/// The fields of a listed user the sync reads (a list item carries a dozen URLs besides).
fn trim_user(user: &Value) -> Value {
    let mut kept = serde_json::Map::new();
    for key in ["id", "login", "name", "email", "suspended_at"] {
        if let Some(v) = user.get(key) {
            kept.insert(key.into(), v.clone());
        }
    }
    Value::Object(kept)
}

/// The invitees as accounts (status INVITED), each from its invitation and the user's profile. An invitation of
/// an email no GitHub user has yet is an account `invitation:<id>` named by the email (no team reads: it can
/// hold no team membership until accepted).
async fn invitees(
    connector: &GithubConnector,
    org: &str,
) -> Result<Vec<(Account, Option<Invitee>)>, Failure> {
    let invitations = each(connector, &["orgs", org, "invitations"], &[], |i| {
        Some(i.clone())
    })
    .await?;
    let read: Vec<Option<(Account, Option<Invitee>)>> = stream::iter(invitations)
        .map(|invitation| async move {
            let Some(login) = login_of(&invitation) else {
                return Ok(mapping::email_invitation(&invitation).map(|a| (a, None)));
            };
            let user = connector.client.get(&["users", &login], None).await?.body;
            let email = match invitation.get("email").and_then(Value::as_str) {
                Some(e) => Some(e.to_string()),
                None => connector.email(&user).await?,
            };
            let role = invitation
                .get("role")
                .and_then(Value::as_str)
                .map(|r| if r == "admin" { "admin" } else { "member" });
            // An invitation says how many teams it carries; one with none holds no pending team membership,
            // which saves a read per team.
            let in_teams = invitation
                .get("team_count")
                .and_then(Value::as_u64)
                .is_none_or(|n| n > 0);
            Ok::<_, Failure>(mapping::account(&user, email, mapping::INVITED, role).map(
                |account| {
                    let invitee = Invitee {
                        id: account.id.clone(),
                        login: login.clone(),
                        in_teams,
                    };
                    (account, Some(invitee))
                },
            ))
        })
        .buffered(CONCURRENT_PROFILES)
        .try_collect()
        .await?;
    Ok(read.into_iter().flatten().collect())
}

/// A team's members (both roles), repositories and invitees' pending memberships, read side by side.
async fn team(
    connector: &GithubConnector,
    org: &str,
    team: Resource,
    invitees: &[Invitee],
) -> Result<TeamRead, Failure> {
    let path = ["orgs", org, "teams", &team.id, "members"];
    let listed = |role: &'static str| {
        each(connector, &path, &[("role", role)], move |u| {
            u.get("id")
                .and_then(Value::as_u64)
                .map(|id| (id.to_string(), role))
        })
    };
    let repos = each(
        connector,
        &["orgs", org, "teams", &team.id, "repos"],
        &[],
        |repo| {
            let name = repo.get("name").and_then(Value::as_str)?;
            Some((name.to_string(), mapping::permission(repo)?))
        },
    );
    let (members, maintainers, repos) =
        tokio::try_join!(listed(TEAM_ROLES[0]), listed(TEAM_ROLES[1]), repos)?;
    // A pending team membership is access grantflow asked for and the invitee completes by accepting: it is
    // held as far as planning goes, so a second plan does not ask for it again.
    let mut pending = Vec::new();
    for invitee in invitees.iter().filter(|i| i.in_teams) {
        if let Some(role) = connector.team_role(&team.id, &invitee.login).await? {
            pending.push((invitee.id.clone(), role));
        }
    }
    let mut all = members;
    all.extend(maintainers);
    Ok(TeamRead {
        team,
        members: all,
        repos,
        pending,
    })
}

/// Hands a team's grants to the sink: its members' roles, its repository permissions, the permissions its
/// members hold through it, and the invitees' pending memberships.
fn emit(read: TeamRead, sink: &mut dyn SyncSink) {
    let TeamRead {
        team,
        members,
        repos,
        pending,
    } = read;
    for (id, role) in &members {
        sink.grant(Grant {
            account_id: id.clone(),
            resource_id: team.id.clone(),
            entitlement: role.to_string(),
            source: GrantSource::Direct,
        });
    }
    for (name, permission) in repos {
        sink.resource_grant(ResourceGrant {
            holder_id: team.id.clone(),
            resource_id: name.clone(),
            entitlement: permission.clone(),
        });
        for (id, _) in &members {
            sink.grant(Grant {
                account_id: id.clone(),
                resource_id: name.clone(),
                entitlement: permission.clone(),
                source: GrantSource::Group {
                    group_id: team.id.clone(),
                },
            });
        }
    }
    for (id, role) in pending {
        sink.grant(Grant {
            account_id: id,
            resource_id: team.id.clone(),
            entitlement: role,
            source: GrantSource::Direct,
        });
    }
    sink.resource(team);
}

/// Reads the whole organisation into `sink`: members and invitees as accounts, repositories, and teams with
/// their members and repository permissions.
pub(super) async fn sync(
    connector: &GithubConnector,
    sink: &mut dyn SyncSink,
) -> Result<(), Failure> {
    crate::transport::patiently(async {
        let org = connector.org().await?;
        // The short lists first, side by side: the teams' reads need the invitees, the members' the admins.
        let (admins, invited, repos, teams) = tokio::try_join!(
            each(
                connector,
                &["orgs", org, "members"],
                &[("role", "admin")],
                login_of
            ),
            invitees(connector, org),
            each(connector, &["orgs", org, "repos"], &[], mapping::repository),
            each(connector, &["orgs", org, "teams"], &[], mapping::team),
        )?;
        let admins: BTreeSet<String> = admins.into_iter().collect();
        for repo in repos {
            sink.resource(repo);
        }
        let (invited, invitees): (Vec<Account>, Vec<Option<Invitee>>) = invited.into_iter().unzip();
        let invitees: Vec<Invitee> = invitees.into_iter().flatten().collect();
        let invitees = &invitees;

        // The members beside the teams; the teams' grants go to the sink as each team is read.
        let accounts = members(connector, org, &admins);
        let teams = async {
            let mut read = stream::iter(teams)
                .map(|t| team(connector, org, t, invitees))
                .buffered(CONCURRENT_TEAMS);
            let mut done = 0u64;
            while let Some(t) = read.try_next().await? {
                emit(t, sink);
                done += 1;
                sink.progress("teams", done);
            }
            Ok::<_, Failure>(())
        };
        let (accounts, ()) = tokio::try_join!(accounts, teams)?;
        sink.progress("members", accounts.len() as u64);
        for account in accounts.into_iter().chain(invited) {
            sink.account(account);
        }
        Ok(())
    })
    .await
}
