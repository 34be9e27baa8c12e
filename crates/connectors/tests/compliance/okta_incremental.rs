//! Property: after any random sequence of changes made directly in the Okta emulator, incremental sync from
//! the System Log yields exactly the snapshot a full sync yields.

use grantflow_connectors::okta::{OktaConnector, canonical};
use grantflow_connectors::{Connector, SyncChanges};
use grantflow_model::Snapshot;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::okta_full::{Org, sync};

/// One change made in Okta by someone other than grantflow. Indices pick among the objects that exist at
/// that moment; changes Okta refuses (a wrong status, a duplicate) are part of the realism.
#[derive(Debug, Clone)]
enum Change {
    CreateUser(u16),
    UpdateUser(u16, u8),
    Lifecycle(u16, u8),
    DeleteUser(u16),
    CreateGroup(u16),
    DeleteGroup(u16),
    AddMember(u16, u16),
    RemoveMember(u16, u16),
    AssignApp(u16, u16),
    UnassignApp(u16, u16),
    AssignGroupToApp(u16, u16),
    UnassignGroupFromApp(u16, u16),
}

fn change() -> impl Strategy<Value = Change> {
    let i = any::<u16>;
    prop_oneof![
        2 => i().prop_map(Change::CreateUser),
        2 => (i(), any::<u8>()).prop_map(|(u, d)| Change::UpdateUser(u, d)),
        3 => (i(), any::<u8>()).prop_map(|(u, v)| Change::Lifecycle(u, v)),
        1 => i().prop_map(Change::DeleteUser),
        1 => i().prop_map(Change::CreateGroup),
        1 => i().prop_map(Change::DeleteGroup),
        5 => (i(), i()).prop_map(|(u, g)| Change::AddMember(u, g)),
        3 => (i(), i()).prop_map(|(u, g)| Change::RemoveMember(u, g)),
        3 => (i(), i()).prop_map(|(u, a)| Change::AssignApp(u, a)),
        2 => (i(), i()).prop_map(|(u, a)| Change::UnassignApp(u, a)),
        2 => (i(), i()).prop_map(|(g, a)| Change::AssignGroupToApp(g, a)),
        1 => (i(), i()).prop_map(|(g, a)| Change::UnassignGroupFromApp(g, a)),
    ]
}

struct Okta {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Okta {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("SSWS {}", self.token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("okta reachable");
        response.json().await.unwrap_or(Value::Null)
    }

    async fn ids(&self, path: &str) -> Vec<String> {
        let listed = self.call(reqwest::Method::GET, path, None).await;
        listed
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Applies one change; Okta's refusals are ignored.
    async fn apply(&self, change: &Change, n: usize) {
        use reqwest::Method as M;
        let mut users = self.ids("/api/v1/users?limit=200").await;
        users.extend(
            self.ids("/api/v1/users?limit=200&search=status%20eq%20%22DEPROVISIONED%22")
                .await,
        );
        let groups = self.ids("/api/v1/groups?limit=200").await;
        let apps = self.ids("/api/v1/apps?limit=200").await;
        let pick = |list: &Vec<String>, i: u16| -> String {
            if list.is_empty() {
                "missing".into()
            } else {
                list[i as usize % list.len()].clone()
            }
        };
        let (u, g, a) = (
            |i| pick(&users, i),
            |i| pick(&groups, i),
            |i| pick(&apps, i),
        );
        let departments = ["Engineering", "Platform", "Sales", "Finance"];
        let verbs = [
            "suspend",
            "unsuspend",
            "deactivate",
            "activate",
            "unlock",
            "expire_password",
            "reset_factors",
        ];
        match change {
            Change::CreateUser(i) => {
                let login = format!("random{n}.{i}@example.com");
                let body = json!({"profile": {"login": login, "email": login, "firstName": "R",
                    "lastName": format!("U{i}"), "department": departments[*i as usize % 4]},
                    "credentials": {"password": {"value": "Str0ng!Passw0rd"}}});
                let activate = if i % 3 == 0 { "false" } else { "true" };
                self.call(
                    M::POST,
                    &format!("/api/v1/users?activate={activate}"),
                    Some(body),
                )
                .await;
            }
            Change::UpdateUser(i, d) => {
                let body = json!({"profile": {"department": departments[*d as usize % 4]}});
                self.call(M::POST, &format!("/api/v1/users/{}", u(*i)), Some(body))
                    .await;
            }
            Change::Lifecycle(i, v) => {
                let verb = verbs[*v as usize % verbs.len()];
                let path = format!("/api/v1/users/{}/lifecycle/{verb}", u(*i));
                self.call(M::POST, &path, None).await;
            }
            Change::DeleteUser(i) => {
                self.call(M::DELETE, &format!("/api/v1/users/{}", u(*i)), None)
                    .await;
            }
            Change::CreateGroup(i) => {
                let body = json!({"profile": {"name": format!("Random {n} {i}")}});
                self.call(M::POST, "/api/v1/groups", Some(body)).await;
            }
            Change::DeleteGroup(i) => {
                self.call(M::DELETE, &format!("/api/v1/groups/{}", g(*i)), None)
                    .await;
            }
            Change::AddMember(i, j) => {
                let path = format!("/api/v1/groups/{}/users/{}", g(*j), u(*i));
                self.call(M::PUT, &path, None).await;
            }
            Change::RemoveMember(i, j) => {
                let path = format!("/api/v1/groups/{}/users/{}", g(*j), u(*i));
                self.call(M::DELETE, &path, None).await;
            }
            Change::AssignApp(i, j) => {
                let path = format!("/api/v1/apps/{}/users", a(*j));
                self.call(M::POST, &path, Some(json!({"id": u(*i), "scope": "USER"})))
                    .await;
            }
            Change::UnassignApp(i, j) => {
                let path = format!("/api/v1/apps/{}/users/{}", a(*j), u(*i));
                self.call(M::DELETE, &path, None).await;
            }
            Change::AssignGroupToApp(i, j) => {
                let path = format!("/api/v1/apps/{}/groups/{}", a(*j), g(*i));
                self.call(M::PUT, &path, Some(json!({}))).await;
            }
            Change::UnassignGroupFromApp(i, j) => {
                let path = format!("/api/v1/apps/{}/groups/{}", a(*j), g(*i));
                self.call(M::DELETE, &path, None).await;
            }
        }
    }
}

fn canonical_json(mut snapshot: Snapshot) -> Value {
    canonical(&mut snapshot);
    serde_json::to_value(&snapshot).expect("json")
}

async fn incremental(connector: &OktaConnector, cursor: &str, snapshot: &mut Snapshot) -> String {
    match connector
        .sync_changes(cursor, snapshot)
        .await
        .expect("incremental sync")
    {
        SyncChanges::Applied { cursor, .. } => cursor,
        other => panic!("expected the changes to be applied, got {other:?}"),
    }
}

async fn case(changes: Vec<Change>) {
    let org = Org::start().await;
    let admin = &org.sandbox.info.systems["okta"].admin_url;
    reqwest::Client::new()
        .post(format!("{admin}/rate-limits"))
        .json(&json!({"all": 1_000_000}))
        .send()
        .await
        .expect("admin");
    let connector = org.token_connector();
    let okta = Okta {
        http: reqwest::Client::new(),
        base: org.base_url(),
        token: org.sandbox.info.systems["okta"].credentials["token"].clone(),
    };
    let mut cursor = connector
        .change_cursor()
        .await
        .expect("cursor")
        .expect("okta has a change feed");
    let mut snapshot = sync(&connector).await;
    // Several incremental syncs along the way, so cursors are chained as `grantflow sync` chains them.
    for (n, chunk) in changes.chunks(70).enumerate() {
        for change in chunk {
            okta.apply(change, n).await;
        }
        cursor = incremental(&connector, &cursor, &mut snapshot).await;
        let full = sync(&connector).await;
        assert_eq!(
            canonical_json(snapshot.clone()),
            canonical_json(full),
            "after {} changes",
            (n + 1) * 70
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, max_shrink_iters: 0, ..ProptestConfig::default() })]

    #[test]
    fn incremental_sync_equals_full_sync(changes in prop::collection::vec(change(), 200..240)) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(case(changes));
    }
}
