//! A wait for an event: the step registers what it waits for (whose event, the matcher, the deadline) in
//! the store and parks the run until the deadline. An event that matches (from the Okta event hook or the
//! System Log poll, through the service) is kept in the wait's row and wakes the run, which records it as
//! the step's output; a run woken at the deadline with nothing matched fails the step with `wait_timeout`,
//! which `on_error`/`catch` may handle like any card's error.

use chrono::{DateTime, Utc};
use grantflow_store::FlowStepState;
use serde_json::{Map, Value as Json, json};

use super::card::recorded_error;
use super::{Control, Exec, Halt, StepFailure};
use crate::flow::Step;
use crate::host::CardError;
use crate::template::Template;
use crate::trigger::Trigger;

/// Where a run's person is found when the wait does not say `who:`, first found first.
const PERSON_PATHS: &[&str] = &[
    "/event/user/login",
    "/event/person/email",
    "/event/subject",
    "/inputs/who",
];

impl Exec<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn wait_event(
        &self,
        step: &Step,
        matcher: &Trigger,
        timeout: std::time::Duration,
        who: Option<&Template>,
        scope: &Map<String, Json>,
        path: &str,
        now: DateTime<Utc>,
    ) -> Result<(Control, Json), StepFailure> {
        let recorded = self.recorded(path);
        let store = &self.rt.store;
        if let Some(done) = &recorded {
            match done.state {
                FlowStepState::Succeeded => {
                    return Ok((Control::Next, done.output.clone().unwrap_or_default()));
                }
                FlowStepState::Failed => {
                    return Err(StepFailure::Card(recorded_error(done.error.as_ref())));
                }
                FlowStepState::Started => {}
            }
        }
        let Some(started) = recorded else {
            let subject = self.subject(step, who, scope)?;
            let deadline = now + chrono::Duration::from_std(timeout).unwrap_or_default();
            let waiting_for = matcher.okta_matcher().unwrap_or_default();
            let output =
                json!({"until": deadline.to_rfc3339(), "who": subject, "waiting_for": waiting_for});
            // The step's row first: a run resumed after a crash between the two writes registers again.
            self.write(
                step,
                path,
                "wait",
                FlowStepState::Started,
                1,
                None,
                Some(&output),
                None,
                None,
                now,
                None,
            )
            .await?;
            store
                .add_flow_event_wait(&self.run.id, path, &subject, &waiting_for, deadline)
                .await
                .map_err(Halt::from)?;
            return Err(StepFailure::Halt(Halt::Park(deadline)));
        };
        let output = started.output.clone().unwrap_or_default();
        let deadline = output
            .get("until")
            .and_then(Json::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        let wait = store
            .flow_event_wait(&self.run.id, path)
            .await
            .map_err(Halt::from)?;
        if wait.is_none() {
            // The process died between the step's row and the wait's: register it now.
            let subject = output.get("who").and_then(Json::as_str).unwrap_or_default();
            let waiting_for = output.get("waiting_for").cloned().unwrap_or_default();
            store
                .add_flow_event_wait(&self.run.id, path, subject, &waiting_for, deadline)
                .await
                .map_err(Halt::from)?;
        }
        if let Some(event) = wait.and_then(|w| w.matched) {
            let done = json!({"until": deadline.to_rfc3339(), "event": event});
            self.write(
                step,
                path,
                "wait",
                FlowStepState::Succeeded,
                1,
                None,
                Some(&done),
                None,
                None,
                started.started_at,
                None,
            )
            .await?;
            store
                .end_flow_event_wait(&self.run.id, path)
                .await
                .map_err(Halt::from)?;
            return Ok((Control::Next, done));
        }
        if now < deadline {
            return Err(StepFailure::Halt(Halt::Park(deadline)));
        }
        let error = CardError::new(
            "wait_timeout",
            format!(
                "step `{}` (line {}): no matching event for {} came by {}",
                step.id,
                step.line,
                output
                    .get("who")
                    .and_then(Json::as_str)
                    .unwrap_or("the person"),
                deadline.to_rfc3339()
            ),
        );
        self.write(
            step,
            path,
            "wait",
            FlowStepState::Failed,
            1,
            None,
            Some(&output),
            Some(&error.to_json()),
            None,
            started.started_at,
            None,
        )
        .await?;
        store
            .end_flow_event_wait(&self.run.id, path)
            .await
            .map_err(Halt::from)?;
        Err(StepFailure::Card(error))
    }

    /// Whose event the wait is for: `who:` evaluated, else the run's person.
    fn subject(
        &self,
        step: &Step,
        who: Option<&Template>,
        scope: &Map<String, Json>,
    ) -> Result<String, StepFailure> {
        let found = match who {
            Some(template) => {
                let value = template
                    .evaluate(scope)
                    .map_err(|m| StepFailure::expression(step, m))?;
                value.as_str().map(str::to_string)
            }
            None => {
                let scope = Json::Object(scope.clone());
                PERSON_PATHS
                    .iter()
                    .find_map(|p| scope.pointer(p).and_then(Json::as_str).map(str::to_string))
            }
        };
        match found.map(|s| s.trim().to_lowercase()) {
            Some(subject) if !subject.is_empty() => Ok(subject),
            _ => Err(StepFailure::Card(CardError::new(
                "invalid_input",
                format!(
                    "step `{}` (line {}): whose event to wait for is not known: say `who:` (a login, email or Okta user id)",
                    step.id, step.line
                ),
            ))),
        }
    }
}
