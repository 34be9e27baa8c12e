//! Issues and the admin webhooks they fire: `POST issue` (the minimal fields Atlassian documents: project,
//! issue type, summary, an optional description), `GET issue/{idOrKey}`, and, for each issue created, a
//! `jira:issue_created` delivery to every webhook an administrator registered.
//!
//! | route                        | what                                                                        |
//! |------------------------------|-----------------------------------------------------------------------------|
//! | `POST /rest/api/3/issue`     | `{"fields": {"project": {"key"|"id"}, "issuetype": {"name"|"id"}, "summary", "description"?}}` → 201 `{id, key, self}` |
//! | `GET /rest/api/3/issue/{k}`  | the issue with its `fields`                                                 |
//! | `GET`/`POST /__sandbox/webhooks` | the registered webhooks and their deliveries; a POST `{"url", "secret"?}` registers one (`{"url": ""}` removes all) |
//!
//! A delivery is what Jira Cloud sends an admin webhook: the JSON body `{timestamp, webhookEvent,
//! issue_event_type_name, user, issue}`, `X-Atlassian-Webhook-Identifier` (unique per delivery, unchanged on a
//! retry) and, when the webhook has a secret, `X-Hub-Signature: sha256=` + hex(HMAC-SHA256(secret, raw body)).

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::errors::{JiraError, JiraResult, api_root, json_body};
use super::state::{ADMIN_ACCOUNT_ID, Inner, Jira};
use crate::emulator::{AdminBody, AdminError, Ctx, json_response};

/// How long the emulator waits for a receiver, as Jira gives up on a slow one.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries kept per webhook for tests to read.
const KEPT_DELIVERIES: usize = 50;

#[derive(Debug, Clone)]
pub struct Issue {
    pub id: u64,
    pub key: String,
    pub project_id: u64,
    pub issue_type: String,
    pub summary: String,
    pub description: Value,
    pub reporter: String,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    pub secret: Option<String>,
    /// `{identifier, status}` or `{identifier, error}` of the latest deliveries.
    pub deliveries: Vec<Value>,
}

fn respond(result: JiraResult<Response>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Issue types are site-wide in Jira; their ids follow the order in which the projects name them.
fn issue_type_json(inner: &Inner, name: &str, api: &str) -> Value {
    let mut names: Vec<&str> = Vec::new();
    for p in inner.projects.values() {
        for t in &p.issue_types {
            if !names.contains(&t.as_str()) {
                names.push(t);
            }
        }
    }
    let id = 10001 + names.iter().position(|n| *n == name).unwrap_or(0);
    json!({
        "self": format!("{api}/issuetype/{id}"),
        "id": id.to_string(),
        "name": name,
        "subtask": false,
    })
}

impl Inner {
    pub fn issue_json(&self, issue: &Issue, api: &str) -> Value {
        let project = self.projects.get(&issue.project_id).map(|p| {
            json!({
                "self": format!("{api}/project/{}", p.id),
                "id": p.id.to_string(),
                "key": p.key,
                "name": p.name,
            })
        });
        let reporter = self
            .users
            .get(&issue.reporter)
            .map(|u| self.user_json(u, api));
        let created = issue
            .created
            .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
            .to_string();
        json!({
            "id": issue.id.to_string(),
            "key": issue.key,
            "self": format!("{api}/issue/{}", issue.id),
            "fields": {
                "summary": issue.summary,
                "description": issue.description,
                "issuetype": issue_type_json(self, &issue.issue_type, api),
                "project": project,
                "reporter": reporter,
                "creator": reporter,
                "created": created,
                "updated": created,
                "status": {"name": "To Do", "statusCategory": {"key": "new", "name": "To Do"}},
            },
        })
    }

    fn issue_by_id_or_key(&self, id_or_key: &str) -> Option<&Issue> {
        if let Ok(id) = id_or_key.parse::<u64>() {
            return self.issues.get(&id);
        }
        self.issues
            .values()
            .find(|i| i.key.eq_ignore_ascii_case(id_or_key))
    }
}

/// A `{"key": …}` / `{"id": …}` / `{"name": …}` reference inside `fields`.
fn reference<'a>(fields: &'a Map<String, Value>, field: &str, names: &[&str]) -> Option<&'a str> {
    let object = fields.get(field)?.as_object()?;
    names
        .iter()
        .find_map(|n| object.get(*n).and_then(Value::as_str))
        .filter(|v| !v.trim().is_empty())
}

/// `POST issue`: 201 `{id, key, self}`; Jira's field errors for a missing project, issue type or summary.
pub async fn create_issue(State(j): State<Arc<Jira>>, ctx: Ctx, body: Bytes) -> Response {
    let created: JiraResult<_> = {
        let mut inner = j.core.state();
        (|| {
            let body = json_body(&body)?;
            let fields = body
                .get("fields")
                .and_then(Value::as_object)
                .ok_or_else(|| JiraError::field("fields", "Field 'fields' is required."))?;
            let project_ref = reference(fields, "project", &["key", "id"])
                .ok_or_else(|| JiraError::field("project", "Specify a valid project ID or key"))?;
            let project_id = inner
                .project_id(project_ref)
                .ok_or_else(|| JiraError::field("project", "Specify a valid project ID or key"))?;
            let project = inner
                .projects
                .get(&project_id)
                .ok_or_else(|| JiraError::project(project_ref))?;
            let wanted_type = reference(fields, "issuetype", &["name", "id"])
                .ok_or_else(|| JiraError::field("issuetype", "Specify an issue type"))?;
            let api = api_root(&ctx);
            let issue_type = project
                .issue_types
                .iter()
                .find(|t| {
                    t.eq_ignore_ascii_case(wanted_type)
                        || issue_type_json(&inner, t, &api)["id"] == wanted_type
                })
                .cloned()
                .ok_or_else(|| JiraError::field("issuetype", "Specify a valid issue type"))?;
            let summary = fields
                .get("summary")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| {
                    JiraError::field("summary", "You must specify a summary of the issue.")
                })?
                .to_owned();
            let number = inner
                .issues
                .values()
                .filter(|i| i.project_id == project_id)
                .count()
                + 1;
            let id = 10000 + inner.issues.len() as u64;
            let issue = Issue {
                id,
                key: format!("{}-{number}", project.key),
                project_id,
                issue_type,
                summary,
                description: fields.get("description").cloned().unwrap_or(Value::Null),
                reporter: inner
                    .users
                    .values()
                    .find(|u| u.email.eq_ignore_ascii_case(&j.email))
                    .map_or_else(|| ADMIN_ACCOUNT_ID.to_owned(), |u| u.account_id.clone()),
                created: ctx.now,
            };
            let answer = json!({
                "id": id.to_string(),
                "key": issue.key,
                "self": format!("{api}/issue/{id}"),
            });
            let event = json!({
                "timestamp": ctx.now.timestamp_millis(),
                "webhookEvent": "jira:issue_created",
                "issue_event_type_name": "issue_created",
                "user": inner.users.get(&issue.reporter).map(|u| inner.user_json(u, &api)),
                "issue": inner.issue_json(&issue, &api),
            });
            inner.writes.count(format!("issue/{}", issue.key));
            inner.issues.insert(id, issue);
            let hooks: Vec<(usize, String, Option<String>)> = inner
                .webhooks
                .iter()
                .enumerate()
                .map(|(n, w)| (n, w.url.clone(), w.secret.clone()))
                .collect();
            Ok((answer, event, hooks))
        })()
    };
    match created {
        Ok((answer, event, hooks)) => {
            for (n, url, secret) in hooks {
                tokio::spawn(deliver(j.clone(), n, url, secret, event.clone()));
            }
            json_response(StatusCode::CREATED, &answer)
        }
        Err(e) => e.into_response(),
    }
}

/// `GET issue/{idOrKey}`.
pub async fn get_issue(
    State(j): State<Arc<Jira>>,
    ctx: Ctx,
    Path(id_or_key): Path<String>,
) -> Response {
    let inner = j.core.state();
    respond(
        inner
            .issue_by_id_or_key(&id_or_key)
            .map(|i| json_response(StatusCode::OK, &inner.issue_json(i, &api_root(&ctx))))
            .ok_or_else(|| {
                JiraError::not_found(
                    "Issue does not exist or you do not have permission to see it.",
                )
            }),
    )
}

/// `sha256=` + hex(HMAC-SHA256(secret, body)), the WebSub signature Jira Cloud puts in `X-Hub-Signature`.
pub fn hub_signature(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    format!("sha256={}", hex::encode(hmac::sign(&key, body).as_ref()))
}

async fn deliver(j: Arc<Jira>, n: usize, url: String, secret: Option<String>, event: Value) {
    let body = event.to_string();
    let identifier = uuid::Uuid::new_v4().to_string();
    let client = reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Atlassian Webhook HTTP Client")
        .build();
    let sent = match client {
        Ok(c) => {
            let mut request = c
                .post(&url)
                .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                .header("x-atlassian-webhook-identifier", &identifier)
                .header("x-atlassian-webhook-flow", "Primary");
            if let Some(secret) = &secret {
                request = request.header("x-hub-signature", hub_signature(secret, body.as_bytes()));
            }
            request.body(body).send().await
        }
        Err(e) => Err(e),
    };
    let record = match sent {
        Ok(resp) => json!({"identifier": identifier, "status": resp.status().as_u16()}),
        Err(e) => json!({"identifier": identifier, "error": e.to_string()}),
    };
    let mut inner = j.core.state();
    if let Some(hook) = inner.webhooks.get_mut(n) {
        hook.deliveries.push(record);
        let excess = hook.deliveries.len().saturating_sub(KEPT_DELIVERIES);
        hook.deliveries.drain(..excess);
    }
}

fn webhooks_json(inner: &Inner) -> Value {
    json!({
        "webhooks": inner.webhooks.iter().map(|w| json!({
            "url": w.url,
            "signed": w.secret.is_some(),
            "deliveries": w.deliveries,
        })).collect::<Vec<_>>(),
    })
}

pub async fn get_webhooks(State(j): State<Arc<Jira>>) -> Response {
    json_response(StatusCode::OK, &webhooks_json(&j.core.state()))
}

/// Registers a webhook for `jira:issue_created` (what an administrator does in System → WebHooks).
pub async fn set_webhook(State(j): State<Arc<Jira>>, body: Bytes) -> Response {
    let result = (|| {
        let body = AdminBody::parse(&body, &["url", "secret"])?;
        let url = body
            .string("url", &[])?
            .ok_or_else(|| AdminError::field("url", "is required"))?;
        let mut inner = j.core.state();
        if url.is_empty() {
            inner.webhooks.clear();
            return Ok(json_response(StatusCode::OK, &webhooks_json(&inner)));
        }
        let parsed = url::Url::parse(&url)
            .map_err(|_| AdminError::field("url", "must be an absolute URL"))?;
        let loopback = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        if !matches!(parsed.scheme(), "http" | "https") || !loopback {
            return Err(AdminError::field(
                "url",
                "must be an http(s) URL on a loopback host (the sandbox calls nothing else)",
            ));
        }
        let secret = body.string("secret", &[])?.filter(|s| !s.is_empty());
        inner.webhooks.push(Webhook {
            url,
            secret,
            deliveries: Vec::new(),
        });
        Ok(json_response(StatusCode::OK, &webhooks_json(&inner)))
    })();
    result.unwrap_or_else(|e: AdminError| e.into_response())
}
