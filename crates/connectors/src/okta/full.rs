//! The full sync of an Okta org at the pace its rate-limit buckets allow.
//!
//! Okta charges each listing to a bucket of its own (notes/okta.md §3): users to `users`, groups, their
//! members and group rules to `groups`, apps and everything under `/api/v1/apps/{id}` to the small `apps`
//! bucket (100 a minute). Read one after the other, a sync takes the sum of the buckets' times; read side by
//! side, the slowest bucket alone. So the users, the groups with their members and the apps with their
//! assignments are read at the same time, and within the groups and the apps several lists are in flight at
//! once; the shared budgets ([`crate::RateBudgets`]) keep every bucket within its window.
//!
//! Memory: pages are turned into what the snapshot keeps as they arrive (a user object is ~40 times the
//! size of its id), and memberships are held as indexes of interned user ids until the snapshot is written.

use futures::stream::{self, StreamExt, TryStreamExt};
use grantflow_model::{Grant, GrantSource, Resource, ResourceGrant};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Mutex;

use super::client::OktaClient;
use super::mapping::{self, ASSIGNED};
use super::{OktaConnector, id_of, incremental, pushed_groups};
use crate::{Failure, SyncSink};

/// Users a page: the most `/api/v1/users` serves ("200 for most orgs").
const USERS_PAGE: &str = "200";
/// Groups a page: the spec's maximum; an org that serves fewer pages on with `next` links all the same.
const GROUPS_PAGE: &str = "10000";
/// A group's members a page. The spec gives a default of 1000 and no maximum (Okta recommends 200, which
/// would double the calls to the `groups` bucket for groups of 200 to 1000 people, the usual size).
const MEMBERS_PAGE: &str = "1000";
/// The most `/api/v1/apps` and `/api/v1/apps/{id}/groups` serve, and `/api/v1/apps/{id}/users`.
const APPS_PAGE: &str = "200";
const APP_GROUPS_PAGE: &str = "200";
const APP_USERS_PAGE: &str = "500";

/// Member lists read at once. Okta allows 75 requests in flight for the whole org (a 76th is a 429 with
/// `X-Rate-Limit-Limit: 0`), shared with the tenant's other users; the calls are a few milliseconds each,
/// so 16 keep the `groups` bucket busy far beyond its 600 a minute.
const CONCURRENT_GROUPS: usize = 16;
/// Apps read at once, each with its three lists in flight together.
const CONCURRENT_APPS: usize = 6;

/// User ids as small numbers, so 1.3 million memberships take 4 bytes each rather than a string.
#[derive(Default)]
struct Interner {
    index: HashMap<String, u32>,
    ids: Vec<String>,
}

impl Interner {
    fn intern(&mut self, id: &str) -> u32 {
        if let Some(n) = self.index.get(id) {
            return *n;
        }
        let n = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        self.ids.push(id.to_string());
        self.index.insert(id.to_string(), n);
        n
    }
}

/// A group and its members (interned, sorted).
struct GroupRead {
    group: Resource,
    members: Vec<u32>,
}

/// An app and what is assigned to it.
struct AppRead {
    app: Resource,
    groups: BTreeSet<String>,
    /// (user id, scope) of every assigned user.
    users: Vec<(String, String)>,
    pushed: Vec<ResourceGrant>,
}

/// The items of every page of `path`, each turned into `T` as its page arrives.
async fn each<T>(
    client: &OktaClient,
    path: &str,
    query: &[(&str, &str)],
    mut keep: impl FnMut(&Value) -> Option<T>,
) -> Result<Vec<T>, Failure> {
    let mut kept = Vec::new();
    client
        .pages(client.url(path, query)?, |page| {
            kept.extend(page.items.iter().filter_map(&mut keep));
            ControlFlow::Continue(())
        })
        .await?;
    Ok(kept)
}

/// Every user, including DEPROVISIONED ones, which a plain list omits (both lists read at once).
async fn accounts(client: &OktaClient) -> Result<Vec<grantflow_model::Account>, Failure> {
    let (mut listed, deprovisioned) = tokio::try_join!(
        each(
            client,
            "/api/v1/users",
            &[("limit", USERS_PAGE)],
            mapping::account
        ),
        each(
            client,
            "/api/v1/users",
            &[
                ("search", "status eq \"DEPROVISIONED\""),
                ("limit", USERS_PAGE)
            ],
            mapping::account,
        ),
    )?;
    let seen: HashSet<String> = listed.iter().map(|a| a.id.clone()).collect();
    listed.extend(deprovisioned.into_iter().filter(|a| !seen.contains(&a.id)));
    Ok(listed)
}

/// The groups the scope wants, each with its members, and the group rules (all in the `groups` bucket).
async fn groups(
    connector: &OktaConnector,
    interner: &Mutex<Interner>,
) -> Result<(Vec<GroupRead>, BTreeMap<String, String>), Failure> {
    let client = &connector.client;
    let listed = async {
        each(
            client,
            "/api/v1/groups",
            &[("limit", GROUPS_PAGE)],
            mapping::group,
        )
        .await
    };
    let (listed, rule_of) = tokio::try_join!(listed, incremental::rule_groups(client))?;
    let wanted = listed
        .into_iter()
        .filter(|g| connector.scope.wants_group(&g.name));
    // Unordered, so a group of 100,000 members paged one page after another does not hold back the
    // lists behind it; put back in listing order after.
    let mut read: Vec<(usize, GroupRead)> = stream::iter(wanted.enumerate())
        .map(|(at, group)| async move {
            let path = format!("/api/v1/groups/{}/users", group.id);
            let mut members = Vec::new();
            client
                .pages(client.url(&path, &[("limit", MEMBERS_PAGE)])?, |page| {
                    if let Ok(mut interner) = interner.lock() {
                        members.extend(
                            page.items
                                .iter()
                                .filter_map(|u| u.get("id").and_then(Value::as_str))
                                .map(|id| interner.intern(id)),
                        );
                    }
                    ControlFlow::Continue(())
                })
                .await?;
            members.sort_unstable();
            members.dedup();
            Ok::<_, Failure>((at, GroupRead { group, members }))
        })
        .buffer_unordered(CONCURRENT_GROUPS)
        .try_collect()
        .await?;
    read.sort_unstable_by_key(|(at, _)| *at);
    Ok((read.into_iter().map(|(_, read)| read).collect(), rule_of))
}

/// The apps the scope wants, each with its group assignments, its users and its group pushes (all in the
/// `apps` bucket).
async fn apps(connector: &OktaConnector) -> Result<Vec<AppRead>, Failure> {
    let client = &connector.client;
    let listed = each(
        client,
        "/api/v1/apps",
        &[("limit", APPS_PAGE)],
        mapping::app,
    )
    .await?;
    let wanted = listed
        .into_iter()
        .filter(|a| connector.scope.wants_app(&a.name));
    let mut read: Vec<(usize, AppRead)> = stream::iter(wanted.enumerate())
        .map(|(at, app)| async move {
            let groups_path = format!("/api/v1/apps/{}/groups", app.id);
            let users_path = format!("/api/v1/apps/{}/users", app.id);
            let (groups, users, pushed) = tokio::try_join!(
                each(client, &groups_path, &[("limit", APP_GROUPS_PAGE)], id_of),
                each(client, &users_path, &[("limit", APP_USERS_PAGE)], |u| {
                    let scope = u.get("scope").and_then(Value::as_str).unwrap_or("USER");
                    id_of(u).map(|id| (id, scope.to_string()))
                }),
                pushed_groups(client, &app.id),
            )?;
            Ok::<_, Failure>((
                at,
                AppRead {
                    app,
                    groups: groups.into_iter().collect(),
                    users,
                    pushed,
                },
            ))
        })
        .buffer_unordered(CONCURRENT_APPS)
        .try_collect()
        .await?;
    read.sort_unstable_by_key(|(at, _)| *at);
    Ok(read.into_iter().map(|(_, read)| read).collect())
}

/// Reads the whole org into `sink`: the user schema, accounts, groups with their memberships, apps with
/// their assignments and group pushes.
pub(super) async fn sync(
    connector: &OktaConnector,
    sink: &mut dyn SyncSink,
) -> Result<(), Failure> {
    let interner = Mutex::new(Interner::default());
    let (schema, accounts, (groups, rule_of), apps) = crate::transport::patiently(async {
        tokio::try_join!(
            connector.user_schema(),
            accounts(&connector.client),
            groups(connector, &interner),
            apps(connector),
        )
    })
    .await?;
    let interner = interner.into_inner().unwrap_or_default();

    if let Some(schema) = schema {
        sink.profile_schema(schema);
    }
    let mut known: HashSet<String> = HashSet::new();
    let mut known_index = vec![false; interner.ids.len()];
    let mut read = 0u64;
    for account in accounts {
        read += 1;
        if !connector.scope.wants_status(&account.status) {
            continue;
        }
        if let Some(n) = interner.index.get(&account.id)
            && let Some(slot) = known_index.get_mut(*n as usize)
        {
            *slot = true;
        }
        known.insert(account.id.clone());
        sink.account(account);
    }
    sink.progress("users", read);

    let mut read = 0u64;
    let mut group_at: HashMap<String, usize> = HashMap::new();
    for (at, GroupRead { group, members }) in groups.iter().enumerate() {
        group_at.insert(group.id.clone(), at);
        for &n in members {
            let (Some(true), Some(user_id)) = (
                known_index.get(n as usize).copied(),
                interner.ids.get(n as usize),
            ) else {
                continue;
            };
            let mut grant = incremental::membership(user_id.clone(), group.id.clone());
            incremental::mark_rules(&mut grant, &rule_of);
            sink.grant(grant);
        }
        read += 1;
        sink.resource(group.clone());
    }
    sink.progress("memberships", read);

    // Okta does not say through which group a GROUP-scope user holds an app; the first (in id order) of
    // the user's groups assigned to it is named, as the incremental sync does.
    let via_group = |user_id: &str, app_groups: &BTreeSet<String>| -> String {
        let Some(n) = interner.index.get(user_id) else {
            return String::new();
        };
        app_groups
            .iter()
            .find(|g| {
                group_at
                    .get(g.as_str())
                    .and_then(|at| groups.get(*at))
                    .is_some_and(|read| read.members.binary_search(n).is_ok())
            })
            .cloned()
            .unwrap_or_default()
    };
    let mut read = 0u64;
    for AppRead {
        app,
        groups: app_groups,
        users,
        pushed,
    } in apps
    {
        for group_id in &app_groups {
            sink.resource_grant(ResourceGrant {
                holder_id: group_id.clone(),
                resource_id: app.id.clone(),
                entitlement: ASSIGNED.into(),
            });
        }
        for grant in pushed {
            sink.resource_grant(grant);
        }
        for (user_id, scope) in users {
            if !known.contains(&user_id) {
                continue;
            }
            let source = if scope == "GROUP" {
                GrantSource::Group {
                    group_id: via_group(&user_id, &app_groups),
                }
            } else {
                GrantSource::Direct
            };
            sink.grant(Grant {
                account_id: user_id,
                resource_id: app.id.clone(),
                entitlement: ASSIGNED.into(),
                source,
            });
        }
        read += 1;
        sink.progress("app assignments", read);
        sink.resource(app);
    }
    Ok(())
}
