//! A card step: replayed when recorded, else run with its retry policy; a change card through its plan,
//! an HTTP card with its idempotency key, a message recorded before it is sent.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use grantflow_store::FlowStepState;
use secrecy::ExposeSecret;
use serde_json::{Map, Value as Json, json};
use tracing::Instrument as _;

use super::{Exec, Halt, SECRET_PLACEHOLDER, StepFailure, evaluate_map};
use crate::cards::{Card, Effect};
use crate::flow::Step;
use crate::host::CardError;
use crate::pure;
use crate::template::{LOST_SECRET, Template};

impl Exec<'_> {
    /// A card step: replayed when recorded, else run with its retry policy.
    pub(super) async fn card(
        &self,
        step: &Step,
        card: &'static Card,
        with: &BTreeMap<String, Template>,
        scope: &Map<String, Json>,
        path: &str,
    ) -> Result<Json, StepFailure> {
        let recorded = self.recorded(path);
        if let Some(done) = &recorded {
            match done.state {
                FlowStepState::Succeeded => {
                    return Ok(replayed_output(
                        card,
                        done.output.clone().unwrap_or_default(),
                    ));
                }
                // A step that failed for good fails again when replayed: its error decides the path the run
                // took (a catch, or the run's failure), and a change is never tried anew behind it.
                FlowStepState::Failed => {
                    return Err(StepFailure::Card(recorded_error(done.error.as_ref())));
                }
                FlowStepState::Started => {}
            }
        }
        let input =
            Json::Object(evaluate_map(with, scope).map_err(|m| StepFailure::expression(step, m))?);
        let started = recorded
            .as_ref()
            .map(|r| r.started_at)
            .unwrap_or_else(|| self.rt.store.now());
        let mut attempts = recorded.as_ref().map(|r| r.attempts).unwrap_or(0);
        let mut backoff = step.retry.backoff;
        loop {
            attempts += 1;
            let result = match card.effect {
                Effect::Pure => {
                    pure::run(card.name, &input).map_err(|m| CardError::new("invalid_input", m))
                }
                Effect::Read => {
                    self.rt
                        .host
                        .read(card.name, &input)
                        .instrument(tracing::trace_span!("flow.card_work"))
                        .await
                }
                Effect::Change => {
                    // The plan recorded by an earlier attempt (in this process or before it died) is the one
                    // to finish: a retry never makes a second plan for the same step.
                    let recorded_plan = self.recorded(path).and_then(|r| r.effect);
                    self.change(
                        step,
                        card,
                        &input,
                        path,
                        attempts,
                        started,
                        recorded_plan.as_deref(),
                    )
                    .await?
                }
                Effect::Http => self.http(step, &input, path, attempts, started).await?,
                Effect::Notify => {
                    if self.recorded(path).is_none() {
                        let audit = json!({"flow": self.run.flow, "card": card.name, "connection": input.get("connection"), "channel": input.get("channel")});
                        self.write(
                            step,
                            path,
                            card.name,
                            FlowStepState::Started,
                            attempts,
                            Some(&input),
                            None,
                            None,
                            None,
                            started,
                            Some(audit),
                        )
                        .await
                        .map_err(StepFailure::Halt)?;
                    }
                    if self.rt.dry_run {
                        Ok(match card.name {
                            "notify.email" => {
                                json!({"message_id": "", "recipients": input.get("to"), "not_sent": true})
                            }
                            _ => {
                                json!({"channel": input.get("channel"), "ts": "", "not_sent": true})
                            }
                        })
                    } else {
                        self.rt.host.notify(card.name, &input).await
                    }
                }
            };
            match result {
                Ok(output) => {
                    let audit = matches!(card.effect, Effect::Change | Effect::Http | Effect::Notify)
                        .then(|| json!({"flow": self.run.flow, "card": card.name, "outcome": "succeeded", "output": output}));
                    self.write(
                        step,
                        path,
                        card.name,
                        FlowStepState::Succeeded,
                        attempts,
                        Some(&input),
                        Some(&recordable(card, &output)),
                        None,
                        None,
                        started,
                        audit,
                    )
                    .await
                    .map_err(StepFailure::Halt)?;
                    return Ok(output);
                }
                Err(error) if error.is_waiting() && card.effect == Effect::Change => {
                    // The effect is recorded as started with its plan or request: the resumed run asks again.
                    let recheck = error.retry_after.unwrap_or(Duration::from_secs(5));
                    let until = self.rt.store.now()
                        + chrono::Duration::from_std(recheck).unwrap_or_default();
                    return Err(StepFailure::Halt(Halt::Park(until)));
                }
                Err(error) if error.retryable && attempts < i64::from(step.retry.attempts) => {
                    let wait = error
                        .retry_after
                        .unwrap_or(backoff)
                        .min(Duration::from_secs(300));
                    tracing::info!(flow = %self.run.flow, run = %self.run.id, step = %path, error = %error, "A step failed and will be tried again.");
                    tokio::time::sleep(wait).await;
                    backoff = backoff.saturating_mul(2);
                }
                Err(error) => {
                    let audit = matches!(card.effect, Effect::Change | Effect::Http | Effect::Notify)
                        .then(|| json!({"flow": self.run.flow, "card": card.name, "outcome": "failed", "error": error.to_json()}));
                    self.write(
                        step,
                        path,
                        card.name,
                        FlowStepState::Failed,
                        attempts,
                        Some(&input),
                        None,
                        Some(&error.to_json()),
                        None,
                        started,
                        audit,
                    )
                    .await
                    .map_err(StepFailure::Halt)?;
                    return Err(StepFailure::Card(error));
                }
            }
        }
    }

    /// A change card: its plan made and recorded before it is applied, so a resumed run applies the same
    /// plan instead of making a second one.
    #[allow(clippy::too_many_arguments)]
    async fn change(
        &self,
        step: &Step,
        card: &Card,
        input: &Json,
        path: &str,
        attempts: i64,
        started: DateTime<Utc>,
        recorded_plan: Option<&str>,
    ) -> Result<Result<Json, CardError>, StepFailure> {
        let actor = &self.run.actor;
        let plan = match recorded_plan {
            Some(plan) => plan.to_string(),
            None => match self
                .rt
                .host
                .prepare(actor, card.name, input)
                .instrument(tracing::trace_span!("flow.card_work"))
                .await
            {
                Err(error) => return Ok(Err(error)),
                Ok(prepared) => match prepared.plan {
                    None => {
                        return Ok(Ok(json!({
                            "plan": "",
                            "outcome": "already_in_effect",
                            "changed": false,
                            "operations": prepared.operations,
                        })));
                    }
                    Some(plan) => {
                        let audit = json!({"flow": self.run.flow, "card": card.name, "plan": plan, "operations": prepared.operations});
                        self.write(
                            step,
                            path,
                            card.name,
                            FlowStepState::Started,
                            attempts,
                            Some(input),
                            None,
                            None,
                            Some(&plan),
                            started,
                            Some(audit),
                        )
                        .await
                        .map_err(StepFailure::Halt)?;
                        plan
                    }
                },
            },
        };
        let performed = self
            .rt
            .host
            .perform(actor, &plan)
            .instrument(tracing::trace_span!("flow.card_work"))
            .await;
        Ok(match performed {
            Ok(performed) => {
                let mut output = performed.output;
                if let Some(map) = output.as_object_mut() {
                    map.entry("plan").or_insert(Json::String(plan));
                    for (name, secret) in performed.secrets {
                        map.insert(name, Json::String(secret.expose_secret().to_string()));
                        if let Ok(mut secrets) = self.secrets.lock() {
                            secrets.push(secret);
                        }
                    }
                }
                Ok(output)
            }
            Err(error) => Err(error),
        })
    }

    async fn http(
        &self,
        step: &Step,
        input: &Json,
        path: &str,
        attempts: i64,
        started: DateTime<Utc>,
    ) -> Result<Result<Json, CardError>, StepFailure> {
        if self.rt.dry_run {
            return Ok(Ok(json!({
                "status": 0,
                "headers": {},
                "body": null,
                "not_sent": {"method": input.get("method").cloned().unwrap_or(json!("GET")), "url": input.get("url"), "connection": input.get("connection")},
            })));
        }
        let key = format!("grantflow-{}-{}", self.run.id, path);
        if attempts == 1 || self.recorded(path).is_none() {
            let audit = json!({"flow": self.run.flow, "card": "http", "method": input.get("method"), "url": input.get("url"), "connection": input.get("connection")});
            self.write(
                step,
                path,
                "http",
                FlowStepState::Started,
                attempts,
                Some(input),
                None,
                None,
                Some(&key),
                started,
                Some(audit),
            )
            .await
            .map_err(StepFailure::Halt)?;
        }
        Ok(self
            .rt
            .http
            .call(input, &key)
            .instrument(tracing::trace_span!("flow.card_work"))
            .await)
    }
}

pub(super) fn recorded_error(error: Option<&Json>) -> CardError {
    let text = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(Json::as_str)
            .map(str::to_string)
    };
    let mut out = CardError::new(
        text("code").unwrap_or_else(|| "failed".into()),
        text("message").unwrap_or_else(|| "the step failed".into()),
    );
    out.system = text("system");
    out
}

/// A card's output as recorded: its secret fields replaced.
fn recordable(card: &Card, output: &Json) -> Json {
    let mut output = output.clone();
    if let Some(map) = output.as_object_mut() {
        for field in card.outputs.iter().filter(|f| f.secret) {
            if map.contains_key(field.name) {
                map.insert(
                    field.name.to_string(),
                    Json::String(SECRET_PLACEHOLDER.into()),
                );
            }
        }
    }
    output
}

/// A recorded output as a resumed run sees it: a secret that was replaced reads as lost.
fn replayed_output(card: &Card, mut output: Json) -> Json {
    if let Some(map) = output.as_object_mut() {
        for field in card.outputs.iter().filter(|f| f.secret) {
            if map.get(field.name).and_then(Json::as_str) == Some(SECRET_PLACEHOLDER) {
                map.insert(field.name.to_string(), Json::String(LOST_SECRET.into()));
            }
        }
    }
    output
}
