//! Incremental sync from the System Log: read the events after a stored polling cursor, collect the users,
//! groups and apps they name, re-read only those, and patch the previous snapshot so it equals what a full
//! sync would read now.

use std::collections::{BTreeMap, BTreeSet};

use grantflow_model::{Grant, GrantSource, Snapshot};
use reqwest::Url;
use serde_json::Value;
use std::ops::ControlFlow;

use super::client::OktaClient;
use super::config::SyncScope;
use super::mapping::{self, APP, ASSIGNED, GROUP, MEMBER};
use super::{id_of, is_not_found};
use crate::{Failure, SyncChanges};

/// How far back the cursor taken before a full sync looks, so changes the
/// full sync might miss are replayed (patching twice is harmless).
const CURSOR_OVERLAP_MINUTES: i64 = 10;

fn after_of(url: &Url) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.into_owned())
}

/// Follows a polling query until a page comes back empty; returns the events and the cursor to resume at.
async fn poll(
    client: &OktaClient,
    first: Url,
    mut cursor: String,
) -> Result<(Vec<Value>, String), Failure> {
    let mut events = Vec::new();
    client
        .pages(first, |page| {
            if let Some(after) = page.next.and_then(after_of) {
                cursor = after;
            }
            if page.items.is_empty() {
                return ControlFlow::Break(());
            }
            events.extend(page.items);
            ControlFlow::Continue(())
        })
        .await?;
    Ok((events, cursor))
}

/// The polling position now (minus a small overlap).
pub async fn head(client: &OktaClient) -> Result<String, Failure> {
    let since = client.now() - chrono::Duration::minutes(CURSOR_OVERLAP_MINUTES);
    let since = since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let url = client.url("/api/v1/logs", &[("since", &since), ("limit", "1000")])?;
    let (_, cursor) = poll(client, url, String::new()).await?;
    if cursor.is_empty() {
        return Err(Failure::unexpected_response(
            "the System Log gave no polling cursor (no rel=\"next\" link)",
            None,
        ));
    }
    Ok(cursor)
}

/// The System Log's events after `cursor` (without one: from now on) and the polling cursor to resume at,
/// read by the same polling query as an incremental sync (the `logs` bucket's budget paces it).
pub async fn events(
    client: &OktaClient,
    cursor: Option<&str>,
) -> Result<crate::EventLogRead, Failure> {
    let url = match cursor {
        Some(cursor) => client.url("/api/v1/logs", &[("after", cursor), ("limit", "1000")])?,
        None => {
            let since = client
                .now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            client.url("/api/v1/logs", &[("since", &since), ("limit", "1000")])?
        }
    };
    let (events, cursor) = poll(client, url, cursor.unwrap_or_default().to_string()).await?;
    if cursor.is_empty() {
        return Err(Failure::unexpected_response(
            "the System Log gave no polling cursor (no rel=\"next\" link)",
            None,
        ));
    }
    Ok(crate::EventLogRead { events, cursor })
}

/// What the events name, by Okta's target type.
#[derive(Default)]
struct Dirty {
    users: BTreeSet<String>,
    groups: BTreeSet<String>,
    apps: BTreeSet<String>,
}

impl Dirty {
    fn from_events(events: &[Value]) -> Self {
        let mut dirty = Dirty::default();
        for target in events
            .iter()
            .filter_map(|e| e.get("target").and_then(Value::as_array))
            .flatten()
        {
            let Some(id) = id_of(target) else { continue };
            match target.get("type").and_then(Value::as_str) {
                Some("User") => dirty.users.insert(id),
                Some("UserGroup") => dirty.groups.insert(id),
                Some("AppInstance") => dirty.apps.insert(id),
                _ => false,
            };
        }
        dirty
    }
}

/// Reads the changes after `cursor` and patches `snapshot`.
pub async fn sync_changes(
    client: &OktaClient,
    scope: &SyncScope,
    cursor: &str,
    snapshot: &mut Snapshot,
) -> Result<SyncChanges, Failure> {
    let url = client.url("/api/v1/logs", &[("after", cursor), ("limit", "1000")])?;
    let (events, next_cursor) = match poll(client, url, cursor.to_string()).await {
        Ok(read) => read,
        // Okta answers E0000053 for a cursor it no longer knows (older than the log's retention).
        Err(Failure::Permanent {
            vendor_code,
            message,
            ..
        }) if vendor_code == "E0000053" => {
            return Ok(SyncChanges::CursorExpired { message });
        }
        Err(failure) => return Err(failure),
    };
    let dirty = Dirty::from_events(&events);
    let mut apps = dirty.apps.clone();
    // Apps whose grants a changed user or group may have carried before the change.
    apps.extend(apps_of(snapshot, &dirty.users, &dirty.groups));
    for user in &dirty.users {
        patch_user(client, scope, snapshot, user).await?;
    }
    for group in &dirty.groups {
        patch_group(client, scope, snapshot, group).await?;
    }
    // …and the apps they carry now.
    apps.extend(apps_of(snapshot, &dirty.users, &dirty.groups));
    let members_of = members_of(snapshot);
    for app in &apps {
        patch_app(client, scope, snapshot, app, &members_of).await?;
    }
    let rule_of = rule_groups(client).await?;
    for grant in &mut snapshot.grants {
        mark_rules(grant, &rule_of);
    }
    Ok(SyncChanges::Applied {
        cursor: next_cursor,
        events: events.len() as u64,
    })
}

/// Apps a user holds (directly or through a group) or a group is assigned to.
fn apps_of(
    snapshot: &Snapshot,
    users: &BTreeSet<String>,
    groups: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut holders: BTreeSet<&String> = groups.iter().collect();
    let mut apps = BTreeSet::new();
    for grant in snapshot
        .grants
        .iter()
        .filter(|g| users.contains(&g.account_id))
    {
        if grant.entitlement == MEMBER {
            holders.insert(&grant.resource_id);
        } else {
            apps.insert(grant.resource_id.clone());
        }
    }
    for held in snapshot
        .resource_grants
        .iter()
        .filter(|r| holders.contains(&r.holder_id))
    {
        apps.insert(held.resource_id.clone());
    }
    apps
}

fn members_of(snapshot: &Snapshot) -> BTreeMap<String, BTreeSet<String>> {
    let groups: BTreeSet<&str> = snapshot
        .resources
        .iter()
        .filter(|r| r.kind.as_str() == GROUP)
        .map(|r| r.id.as_str())
        .collect();
    let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for grant in &snapshot.grants {
        if grant.entitlement == MEMBER && groups.contains(grant.resource_id.as_str()) {
            members
                .entry(grant.account_id.clone())
                .or_default()
                .insert(grant.resource_id.clone());
        }
    }
    members
}

/// Reads one object; `None` when Okta says it is gone.
async fn fetch(client: &OktaClient, path: &str) -> Result<Option<Value>, Failure> {
    match client.get(path, &[]).await {
        Ok(response) => Ok(Some(response.body)),
        Err(failure) if is_not_found(&failure) => Ok(None),
        Err(failure) => Err(failure),
    }
}

fn upsert<T>(items: &mut Vec<T>, item: T, same: impl Fn(&T) -> bool) {
    match items.iter_mut().find(|existing| same(existing)) {
        Some(existing) => *existing = item,
        None => items.push(item),
    }
}

async fn patch_user(
    client: &OktaClient,
    scope: &SyncScope,
    snapshot: &mut Snapshot,
    id: &str,
) -> Result<(), Failure> {
    let user = fetch(client, &format!("/api/v1/users/{id}")).await?;
    let account = user
        .as_ref()
        .and_then(mapping::account)
        .filter(|a| scope.wants_status(&a.status));
    snapshot
        .grants
        .retain(|g| !(g.account_id == id && g.entitlement == MEMBER));
    let Some(account) = account else {
        snapshot.accounts.retain(|a| a.id != id);
        snapshot.grants.retain(|g| g.account_id != id);
        return Ok(());
    };
    upsert(&mut snapshot.accounts, account, |a| a.id == id);
    let groups = client
        .get_all(&format!("/api/v1/users/{id}/groups"), &[], |_| {})
        .await?;
    let known: BTreeSet<&str> = snapshot
        .resources
        .iter()
        .filter(|r| r.kind.as_str() == GROUP)
        .map(|r| r.id.as_str())
        .collect();
    let memberships: Vec<Grant> = groups
        .iter()
        .filter_map(id_of)
        .filter(|g| known.contains(g.as_str()))
        .map(|group| membership(id.to_string(), group))
        .collect();
    snapshot.grants.extend(memberships);
    Ok(())
}

pub(super) fn membership(account_id: String, group_id: String) -> Grant {
    Grant {
        account_id,
        resource_id: group_id,
        entitlement: MEMBER.into(),
        source: GrantSource::Direct,
    }
}

/// The active group rule that assigns users to each group. Okta does not say which memberships a rule
/// made, so every membership of a rule's target group counts as rule-managed: grantflow never removes it
/// and does not add it again.
pub(super) async fn rule_groups(client: &OktaClient) -> Result<BTreeMap<String, String>, Failure> {
    let rules = client
        .get_all("/api/v1/groups/rules", &[("limit", "200")], |_| {})
        .await?;
    let mut rule_of = BTreeMap::new();
    for rule in rules
        .iter()
        .filter(|r| r.get("status").and_then(Value::as_str) == Some("ACTIVE"))
    {
        let Some(rule_id) = id_of(rule) else { continue };
        let groups = rule
            .pointer("/actions/assignUserToGroups/groupIds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str);
        for group in groups {
            rule_of
                .entry(group.to_string())
                .or_insert_with(|| rule_id.clone());
        }
    }
    Ok(rule_of)
}

/// Marks memberships of rule-managed groups as made by their rule.
pub(super) fn mark_rules(grant: &mut Grant, rule_of: &BTreeMap<String, String>) {
    if grant.entitlement == MEMBER {
        grant.source = match rule_of.get(&grant.resource_id) {
            Some(rule_id) => GrantSource::Rule {
                rule_id: rule_id.clone(),
            },
            None => GrantSource::Direct,
        };
    }
}

async fn patch_group(
    client: &OktaClient,
    scope: &SyncScope,
    snapshot: &mut Snapshot,
    id: &str,
) -> Result<(), Failure> {
    let group = fetch(client, &format!("/api/v1/groups/{id}")).await?;
    let resource = group
        .as_ref()
        .and_then(mapping::group)
        .filter(|g| scope.wants_group(&g.name));
    snapshot
        .grants
        .retain(|g| !(g.resource_id == id && g.entitlement == MEMBER));
    let Some(resource) = resource else {
        snapshot.resources.retain(|r| r.id != id);
        snapshot.resource_grants.retain(|r| r.holder_id != id);
        return Ok(());
    };
    upsert(&mut snapshot.resources, resource, |r| r.id == id);
    let members = super::group_members(client, id).await?;
    let known: BTreeSet<&str> = snapshot.accounts.iter().map(|a| a.id.as_str()).collect();
    let grants: Vec<Grant> = members
        .into_iter()
        .filter(|u| known.contains(u.as_str()))
        .map(|u| membership(u, id.to_string()))
        .collect();
    snapshot.grants.extend(grants);
    Ok(())
}

async fn patch_app(
    client: &OktaClient,
    scope: &SyncScope,
    snapshot: &mut Snapshot,
    id: &str,
    members_of: &BTreeMap<String, BTreeSet<String>>,
) -> Result<(), Failure> {
    let app = fetch(client, &format!("/api/v1/apps/{id}")).await?;
    let resource = app
        .as_ref()
        .and_then(mapping::app)
        .filter(|a| scope.wants_app(&a.name));
    snapshot
        .grants
        .retain(|g| !(g.resource_id == id && g.entitlement == ASSIGNED));
    snapshot.resource_grants.retain(|r| r.resource_id != id);
    let Some(resource) = resource else {
        snapshot.resources.retain(|r| r.id != id);
        return Ok(());
    };
    upsert(&mut snapshot.resources, resource, |r| {
        r.id == id && r.kind.as_str() == APP
    });
    let known: BTreeSet<String> = snapshot.accounts.iter().map(|a| a.id.clone()).collect();
    let (held, grants) = super::app_grants(client, id, members_of, &known).await?;
    snapshot.resource_grants.extend(held);
    snapshot
        .resource_grants
        .extend(super::pushed_groups(client, id).await?);
    snapshot.grants.extend(grants);
    Ok(())
}

/// A snapshot in a canonical order, so two syncs of the same state compare equal.
pub fn canonical(snapshot: &mut Snapshot) {
    snapshot.accounts.sort_by(|a, b| a.id.cmp(&b.id));
    snapshot.resources.sort_by(|a, b| a.id.cmp(&b.id));
    snapshot.grants.sort();
    snapshot.grants.dedup();
    snapshot
        .resource_grants
        .sort_by(|a, b| (&a.holder_id, &a.resource_id).cmp(&(&b.holder_id, &b.resource_id)));
}
