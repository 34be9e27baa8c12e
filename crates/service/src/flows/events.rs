//! Okta events for flows beyond the event hook: the System Log polled (when hooks are not configured, or
//! `flows.okta_events: poll`) from a cursor kept in the store, and every event — hooked or polled — given
//! to the runs parked on a step waiting for it. A polled event and the same event hooked carry the same
//! key (`okta:<connection>:<uuid>`), so together they start one run.

use std::sync::Arc;

use grantflow_connectors::Failure;
use grantflow_model::ConnectionName;
use grantflow_workflows::{FlowSet, Trigger};
use serde_json::Value as Json;

use super::LoadedFlows;
use crate::config::OktaEvents;
use crate::{Result, Service, ServiceError};

/// What one poll of the System Log did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OktaPoll {
    /// Events read, over every polled connection.
    pub events: usize,
    /// Runs started (not those an event had started already).
    pub started: usize,
}

/// The store's name for where flows read a connection's System Log to.
fn cursor_source(connection: &ConnectionName) -> String {
    format!("okta-log:{connection}")
}

impl Service {
    /// The Okta connections whose System Log flows poll: every Okta connection without event hooks, or
    /// every one with `flows.okta_events: poll`; none with `hook`.
    pub fn okta_polled_connections(&self) -> Vec<ConnectionName> {
        self.connectors
            .iter()
            .filter(|(_, connector)| connector.describe().system.as_str() == "okta")
            .filter(|(_, connector)| match self.config.flows.okta_events {
                OktaEvents::Hook => false,
                OktaEvents::Poll => true,
                OktaEvents::Auto => connector.hook_receiver().is_none(),
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Reads each polled connection's System Log after the stored cursor (the first read starts now) and
    /// starts the flows its events trigger, then stores the new cursor. A process that dies in between
    /// reads the same events again, which start nothing twice. Nothing is read when no loaded flow hears
    /// Okta events.
    pub async fn poll_okta_events(&self, flows: &Arc<FlowSet>) -> Result<OktaPoll> {
        let mut poll = OktaPoll::default();
        if !flows.iter().any(|f| f.hears_okta_events()) {
            return Ok(poll);
        }
        for connection in self.okta_polled_connections() {
            let Some(connector) = self.connectors.get(&connection) else {
                continue;
            };
            let source = cursor_source(&connection);
            let cursor = self.store.flow_cursor(&source).await?;
            let read = match connector.read_events(cursor.as_deref()).await {
                Ok(Some(read)) => read,
                Ok(None) => continue,
                // Okta answers E0000053 for a cursor it no longer knows: the events in between are gone.
                Err(Failure::Permanent {
                    vendor_code,
                    message,
                    ..
                }) if vendor_code == "E0000053" => {
                    tracing::error!(message = "The System Log no longer knows the flows' cursor; polling starts again from now, and the events in between start no flows.", connection = %connection, vendor_code = %vendor_code, vendor_message = %message);
                    self.store.clear_flow_cursor(&source).await?;
                    continue;
                }
                Err(failure) => {
                    return Err(ServiceError::Invalid(format!(
                        "polling {connection}'s System Log for flows: {}",
                        failure.message()
                    )));
                }
            };
            for event in &read.events {
                poll.events += 1;
                // As on the hook: an event whose flows cannot start (a flow needing inputs an event does
                // not give) is said and passed, so it never holds back the events after it.
                match self
                    .start_flows_for_okta_event(flows, connection.as_str(), event)
                    .await
                {
                    Ok(started) => {
                        poll.started += started
                            .iter()
                            .filter(|s| matches!(s, grantflow_store::RunStart::Started(_)))
                            .count();
                    }
                    Err(ServiceError::Store(error)) => return Err(ServiceError::Store(error)),
                    Err(error) => {
                        tracing::error!(message = "Could not start the flows of an Okta event.", connection = %connection, error = %error);
                    }
                }
            }
            self.store.set_flow_cursor(&source, &read.cursor).await?;
        }
        Ok(poll)
    }

    /// Polls on `flows.okta_poll_seconds` until dropped; a failed poll is logged and tried at the next tick.
    pub(super) async fn poll_okta_events_forever(&self, flows: &LoadedFlows) {
        if self.okta_polled_connections().is_empty() {
            return std::future::pending().await;
        }
        loop {
            match self.poll_okta_events(&flows.current()).await {
                Ok(poll) if poll.events > 0 => {
                    tracing::info!(
                        message = "Okta System Log polled for flows.",
                        events = poll.events,
                        started = poll.started
                    );
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(message = "Polling the Okta System Log for flows failed; trying again.", error = %error);
                }
            }
            tokio::time::sleep(self.config.flows.okta_poll_interval).await;
        }
    }

    /// Gives an Okta event to the runs waiting for one like it about its user; returns how many it woke.
    pub(super) async fn deliver_okta_event_to_waits(
        &self,
        connection: &str,
        event: &Json,
    ) -> Result<usize> {
        let Some(user) = event
            .get("target")
            .and_then(Json::as_array)
            .and_then(|targets| {
                targets
                    .iter()
                    .find(|t| t.get("type").and_then(Json::as_str) == Some("User"))
            })
        else {
            return Ok(0);
        };
        let subjects: Vec<String> = ["alternateId", "id"]
            .iter()
            .filter_map(|field| user.get(*field).and_then(Json::as_str))
            .map(str::to_lowercase)
            .collect();
        if subjects.is_empty() {
            return Ok(0);
        }
        let mut delivered = 0;
        for wait in self.store.open_flow_event_waits(&subjects).await? {
            let Some(matcher) = Trigger::okta_from_matcher(&wait.matcher) else {
                continue;
            };
            let Some((view, _)) = matcher.okta_event(connection, event) else {
                continue;
            };
            if self
                .store
                .deliver_flow_event(&wait.run_id, &wait.path, &view)
                .await?
            {
                delivered += 1;
            }
        }
        Ok(delivered)
    }
}
