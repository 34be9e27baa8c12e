//! The full sync of a Google Workspace domain at the pace the Directory API's quota allows.
//!
//! Every Directory call is charged to one quota, 2,400 queries a minute per user per project by default
//! (developers.google.com/admin-sdk/directory/v1/limits), which Google does not announce in its answers;
//! the connection paces itself by it ([`super::client`]'s documented budget). A domain's sync is mostly
//! one member list per group, so [`CONCURRENT_GROUPS`] groups are read at once beside the user list: read
//! one after the other, 2,000 groups take 2,000 round trips even when the quota would allow them in one
//! minute. Page tokens are opaque, so a list's own pages are read one after another.
//!
//! Memory: a group's members are turned into grants as its pages arrive and handed to the sink in listing
//! order (the snapshot does not depend on which answer came first); the accounts are held until the
//! groups are done.

use futures::stream::{self, StreamExt, TryStreamExt};
use grantflow_model::{Account, Grant, GrantSource, Resource};
use std::ops::ControlFlow;

use super::GoogleConnector;
use super::mapping;
use crate::{Failure, SyncSink};

/// Member lists read at once. Google answers too many concurrent requests with 403 `quotaExceeded` and
/// publishes no number; 8 keep the quota's 40 calls a second busy at the Directory API's usual latency.
const CONCURRENT_GROUPS: usize = 8;
/// The most `users.list` serves a page.
const USERS_PAGE: &str = "500";
/// The most `groups.list` and `members.list` serve a page.
const GROUPS_PAGE: &str = "200";
const MEMBERS_PAGE: &str = "200";

/// A group and its members: (user id, role).
struct GroupRead {
    group: Resource,
    members: Vec<(String, String)>,
}

/// Every user of the customer as an account, mapped page by page.
async fn accounts(connector: &GoogleConnector) -> Result<Vec<Account>, Failure> {
    let query = [
        ("customer", connector.customer.as_str()),
        ("maxResults", USERS_PAGE),
        // `full` brings the custom schema fields a policy's profile may set.
        ("projection", "full"),
    ];
    let mut kept = Vec::new();
    connector
        .client
        .each_item_page(&["users"], &query, "users", |items| {
            kept.extend(items.iter().filter_map(mapping::account));
            ControlFlow::Continue(())
        })
        .await?;
    Ok(kept)
}

/// Every group of the customer.
async fn groups(connector: &GoogleConnector) -> Result<Vec<Resource>, Failure> {
    let query = [
        ("customer", connector.customer.as_str()),
        ("maxResults", GROUPS_PAGE),
    ];
    let mut kept = Vec::new();
    connector
        .client
        .each_item_page(&["groups"], &query, "groups", |items| {
            kept.extend(items.iter().filter_map(mapping::group));
            ControlFlow::Continue(())
        })
        .await?;
    Ok(kept)
}

/// A group's members with their roles.
async fn members(connector: &GoogleConnector, group: Resource) -> Result<GroupRead, Failure> {
    let mut members = Vec::new();
    connector
        .client
        .each_item_page(
            &["groups", &group.id, "members"],
            &[("maxResults", MEMBERS_PAGE)],
            "members",
            |items| {
                members.extend(items.iter().filter_map(mapping::member));
                ControlFlow::Continue(())
            },
        )
        .await?;
    Ok(GroupRead { group, members })
}

/// Reads the whole domain into `sink`: users as accounts, groups, and each group's memberships.
pub(super) async fn sync(
    connector: &GoogleConnector,
    sink: &mut dyn SyncSink,
) -> Result<(), Failure> {
    crate::transport::patiently(async {
        let users = accounts(connector);
        let groups = async {
            let listed = groups(connector).await?;
            sink.progress("groups", listed.len() as u64);
            let mut read = stream::iter(listed)
                .map(|group| members(connector, group))
                .buffered(CONCURRENT_GROUPS);
            let mut done = 0u64;
            while let Some(GroupRead { group, members }) = read.try_next().await? {
                for (user_id, role) in members {
                    sink.grant(Grant {
                        account_id: user_id,
                        resource_id: group.id.clone(),
                        entitlement: role,
                        source: GrantSource::Direct,
                    });
                }
                done += 1;
                sink.progress("memberships", done);
                sink.resource(group);
            }
            Ok::<_, Failure>(())
        };
        let (users, ()) = tokio::try_join!(users, groups)?;
        sink.progress("users", users.len() as u64);
        for account in users {
            sink.account(account);
        }
        Ok(())
    })
    .await
}
