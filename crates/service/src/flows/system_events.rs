//! Flows started by other systems' events: a Slack channel created (the Events API, at
//! `/hooks/slack/events`), a Jira issue created (an admin webhook, at `/hooks/jira/{connection}`), a
//! Salesforce record created (polled: `CreatedDate` after a cursor kept in the store). Each event is
//! normalised by `grantflow_workflows::system_event` and starts each matching flow once: the run's key is
//! the vendor's id of the event, so a redelivery, a retry or a second poll starts nothing more.

use std::sync::Arc;

use aws_lc_rs::{constant_time, hmac};
use grantflow_model::ConnectionName;
use grantflow_policy::{Diagnostic, Diagnostics};
use grantflow_store::RunStart;
use grantflow_workflows::{FlowSet, Start, SystemEvent, SystemEventKind, Trigger};
use serde_json::{Value as Json, json};

use super::{flow_actor, run_error};
use crate::slack_app::Verified;
use crate::{Result, Service, ServiceError};

/// What to answer Slack for a verified Events API request.
#[derive(Debug)]
pub enum SlackEventAnswer {
    /// The request URL's verification: answer the challenge.
    Challenge(String),
    /// An event, with the runs it started (none when no flow takes it, or when it was delivered before).
    Event(Vec<RunStart>),
}

impl Service {
    /// Every `event:` trigger names a configured connection of the system its kind belongs to; a mistake is
    /// reported at the trigger's `kind:`.
    pub fn check_event_triggers(&self, flows: &FlowSet) -> Result<()> {
        let mut problems = Vec::new();
        for flow in flows.iter() {
            let Some(Trigger::SystemEvent(trigger)) = &flow.trigger else {
                continue;
            };
            let at = |message: String| Diagnostic {
                file: flow.path.clone(),
                line: trigger.line,
                column: trigger.column,
                message,
            };
            let wanted = trigger.kind.system();
            match self
                .config
                .connections
                .get(&ConnectionName::new(&trigger.connection))
            {
                None => problems.push(at(format!(
                    "event: connection `{}` is not configured",
                    trigger.connection
                ))),
                Some(config) if config.system().as_str() != wanted => {
                    let system = config.system();
                    let kinds = SystemEventKind::of_system(system.as_str());
                    problems.push(at(format!(
                        "event kind `{}` is a {wanted} event, but connection `{}` is {}{}",
                        trigger.kind.name(),
                        trigger.connection,
                        system.as_str(),
                        if kinds.is_empty() {
                            " (no events of it start flows)".to_string()
                        } else {
                            format!(" (its kinds: {})", kinds.join(", "))
                        }
                    )))
                }
                Some(_) => {}
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Policy(Diagnostics(problems).to_string()))
        }
    }

    /// Starts one run of each flow whose trigger takes `event`, never two for one event.
    pub async fn start_flows_for_system_event(
        &self,
        flows: &Arc<FlowSet>,
        event: &SystemEvent,
    ) -> Result<Vec<RunStart>> {
        let runtime = self.flow_runtime(flows.clone(), "grantflow:events");
        let mut started = Vec::new();
        for flow in flows.iter() {
            let Some((view, key)) = flow.trigger.as_ref().and_then(|t| t.system_event(event))
            else {
                continue;
            };
            let start = Start {
                trigger: "event".into(),
                event: view,
                inputs: Json::Null,
                key: Some(key),
                actor: flow_actor(&flow.name),
            };
            started.push(runtime.start(flow, start).await.map_err(run_error)?);
        }
        Ok(started)
    }

    /// The Slack connections whose app may send events (those with a signing secret).
    pub fn slack_event_connections(&self) -> Vec<String> {
        self.config
            .connections
            .iter()
            .filter(|(name, config)| {
                config.system().as_str() == "slack" && self.slack_verifier(name.as_str()).is_ok()
            })
            .map(|(name, _)| name.to_string())
            .collect()
    }

    /// An Events API request to `connection`'s app, its signature already checked: the URL verification's
    /// challenge, or an `event_callback` starting the flows it triggers.
    pub async fn receive_slack_event(
        &self,
        flows: &Arc<FlowSet>,
        connection: &str,
        request: &Verified<'_>,
    ) -> Result<SlackEventAnswer> {
        let body: Json = serde_json::from_slice(request.body()).map_err(|e| {
            ServiceError::Invalid(format!(
                "the Slack event on connection {connection} is not JSON: {e}"
            ))
        })?;
        match body.get("type").and_then(Json::as_str) {
            Some("url_verification") => {
                let challenge = body
                    .get("challenge")
                    .and_then(Json::as_str)
                    .ok_or_else(|| {
                        ServiceError::Invalid(
                            "Slack's url_verification request has no challenge".into(),
                        )
                    })?;
                Ok(SlackEventAnswer::Challenge(challenge.to_string()))
            }
            Some("event_callback") => {
                if body.get("event_id").and_then(Json::as_str).is_none() {
                    return Err(ServiceError::Invalid(format!(
                        "the Slack event_callback on connection {connection} has no event_id"
                    )));
                }
                let started = match SystemEvent::from_slack(connection, &body) {
                    Some(event) => self.start_flows_for_system_event(flows, &event).await?,
                    None => vec![],
                };
                Ok(SlackEventAnswer::Event(started))
            }
            other => Err(ServiceError::Invalid(format!(
                "a Slack Events API request of type {} is not one grantflow takes",
                other.unwrap_or("(none)")
            ))),
        }
    }

    /// A Jira Cloud admin-webhook delivery to `/hooks/jira/{connection}`: `X-Hub-Signature` must be the
    /// HMAC-SHA256 of the raw body under the connection's `flows.webhook_secrets` secret. An unknown
    /// connection is refused like a wrong signature, so nothing can be probed.
    pub async fn receive_jira_webhook(
        &self,
        flows: &Arc<FlowSet>,
        connection: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Vec<RunStart>> {
        let refused = |why: &str| {
            ServiceError::refused(
                "webhook_refused",
                format!("Jira webhook for connection {connection}: {why}"),
            )
        };
        let is_jira = self
            .config
            .connections
            .get(&ConnectionName::new(connection))
            .is_some_and(|c| c.system().as_str() == "jira");
        let source = self
            .config
            .flows
            .webhook_secrets
            .get(connection)
            .filter(|_| is_jira)
            .ok_or_else(|| refused("no webhook secret is configured for it"))?;
        let source =
            grantflow_connectors::SecretSource::from_reference(source).ok_or_else(|| {
                ServiceError::Config(format!(
                    "flows.webhook_secrets.{connection} is env:NAME or file:PATH"
                ))
            })?;
        let secret = source
            .read(
                &format!("Jira webhook secret of connection {connection}"),
                &self.config.base_dir,
            )
            .map_err(|f| ServiceError::Config(f.message()))?;
        let presented = signature
            .and_then(|s| s.trim().strip_prefix("sha256="))
            .and_then(|hex_text| hex::decode(hex_text).ok())
            .ok_or_else(|| refused("no X-Hub-Signature: sha256=… header"))?;
        let key = hmac::Key::new(
            hmac::HMAC_SHA256,
            secrecy::ExposeSecret::expose_secret(&secret).as_bytes(),
        );
        let expected = hmac::sign(&key, body);
        constant_time::verify_slices_are_equal(expected.as_ref(), &presented)
            .map_err(|_| refused("the signature does not match the body"))?;
        let delivery: Json = serde_json::from_slice(body).map_err(|e| {
            ServiceError::Invalid(format!(
                "the Jira webhook for connection {connection} is not JSON: {e}"
            ))
        })?;
        match SystemEvent::from_jira(connection, &delivery) {
            Some(event) => self.start_flows_for_system_event(flows, &event).await,
            None => Ok(vec![]),
        }
    }
}

/// Records read per feed per poll; a busier feed catches up over the next polls.
const RECORDS_PER_POLL: usize = 200;
/// The cursor of a feed whose object had no records when it started: every record is newer.
const BEFORE_EVERYTHING: &str = "1970-01-01T00:00:00.000+0000";

impl Service {
    /// Polls each Salesforce object a `record_created` trigger watches: the records created since the feed's
    /// cursor start their flows (once each: the run's key is the record Id), then the cursor moves to the
    /// newest `CreatedDate` read. A feed's first poll only sets its cursor at the newest record, so records
    /// that existed before the flow start nothing. The cursor is in the store: a restart neither loses nor
    /// repeats a record.
    pub async fn poll_record_feeds(&self, flows: &Arc<FlowSet>) -> Result<Vec<RunStart>> {
        let mut feeds: Vec<(String, String)> = flows
            .iter()
            .filter_map(|flow| match &flow.trigger {
                Some(Trigger::SystemEvent(t)) if t.kind == SystemEventKind::RecordCreated => t
                    .object
                    .clone()
                    .map(|object| (t.connection.clone(), object)),
                _ => None,
            })
            .collect();
        feeds.sort();
        feeds.dedup();
        let mut started = Vec::new();
        for (connection, object) in feeds {
            let name = ConnectionName::new(&connection);
            let Some(feed) = self.connectors.get(&name).and_then(|c| c.record_feed()) else {
                continue;
            };
            let key = format!("{connection}:{object}");
            let failed = |f: grantflow_connectors::Failure| {
                ServiceError::Other(anyhow::anyhow!(
                    "polling {object} records of connection {connection}: {}",
                    f.message()
                ))
            };
            let Some(cursor) = self.store.event_cursor(&key).await? else {
                let newest = feed
                    .records_created(&object, None, 1)
                    .await
                    .map_err(failed)?;
                let mut start = FeedCursor {
                    created: BEFORE_EVERYTHING.into(),
                    ids: vec![],
                };
                if let Some(record) = newest.first() {
                    start.advance(record);
                }
                self.store.set_event_cursor(&key, &start.text()).await?;
                // Records of the newest one's second that were not read yet are taken by the next poll.
                continue;
            };
            let mut cursor = FeedCursor::parse(&cursor);
            let records = feed
                .records_created(&object, Some(&cursor.created), RECORDS_PER_POLL)
                .await
                .map_err(failed)?;
            let before = cursor.clone();
            for record in &records {
                let Some(event) = SystemEvent::from_salesforce(&connection, &object, record) else {
                    continue;
                };
                if cursor.ids.contains(&event.id) {
                    continue;
                }
                started.extend(self.start_flows_for_system_event(flows, &event).await?);
                cursor.advance(record);
            }
            if cursor != before {
                self.store.set_event_cursor(&key, &cursor.text()).await?;
            }
        }
        Ok(started)
    }
}

/// Where a record feed has read up to: the newest `CreatedDate` read and the records of that second
/// already taken. The query asks for `CreatedDate >=` that second (SOQL compares whole seconds, and a
/// record of that second may be committed after the poll), so those ids are what keeps one from being
/// taken twice.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct FeedCursor {
    created: String,
    ids: Vec<String>,
}

fn second_of(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.timestamp())
}

impl FeedCursor {
    fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_else(|_| FeedCursor {
            created: text.to_string(),
            ids: vec![],
        })
    }

    fn text(&self) -> String {
        json!({"created": self.created, "ids": self.ids}).to_string()
    }

    /// Takes `record` (read in `CreatedDate` order) as read.
    fn advance(&mut self, record: &Json) {
        let (Some(id), Some(created)) = (
            record.get("Id").and_then(Json::as_str),
            record.get("CreatedDate").and_then(Json::as_str),
        ) else {
            return;
        };
        match (second_of(created), second_of(&self.created)) {
            (Some(new), Some(old)) if new > old => {
                self.created = created.to_string();
                self.ids = vec![id.to_string()];
            }
            (Some(new), Some(old)) if new == old => self.ids.push(id.to_string()),
            _ => {}
        }
    }
}

/// The audit detail of a refused event delivery: the reason, never the body.
pub fn refusal_detail(code: &str, reason: &str) -> Json {
    json!({"status": 401, "code": code, "reason": reason})
}
