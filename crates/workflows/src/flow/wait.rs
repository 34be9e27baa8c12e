//! The wait step's forms: for a duration, until a time, or for an event about the run's person (the
//! same matcher as an `okta:` trigger) with a timeout.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::{Checker, Input, Outputs, StepKind, Visible, Wait, parse_duration};
use crate::cards::Type;
use crate::file::{RawStep, RawWait};

impl Checker<'_> {
    pub(super) fn wait(
        &mut self,
        raw: &RawStep,
        wait: &RawWait,
        id: &str,
        visible: &Visible,
        inputs: &BTreeMap<String, Input>,
    ) -> Option<(StepKind, Outputs)> {
        if let Some(event) = &wait.event {
            if wait.duration.is_some() || wait.until.is_some() {
                self.at(
                    &raw.id,
                    format!("step `{id}`: wait takes one of for:, until: or event:"),
                );
                return None;
            }
            let trigger = crate::trigger::compile(&crate::file::RawTrigger {
                okta: Some(crate::file::RawOktaTrigger {
                    event: event.okta.clone(),
                    group: event.group.clone(),
                    app: event.app.clone(),
                    attribute: event.attribute.clone(),
                    connection: event.connection.clone(),
                }),
                ..crate::file::RawTrigger::default()
            });
            let matcher = match trigger {
                Ok(matcher) => matcher,
                Err(message) => {
                    self.at(&event.okta, message);
                    return None;
                }
            };
            let Some(timeout) = &wait.timeout else {
                self.at(
                    &raw.id,
                    format!("step `{id}`: a wait for an event needs a timeout: (`3d`); it fails with wait_timeout when none came"),
                );
                return None;
            };
            let timeout = match parse_duration(&timeout.value) {
                Ok(duration) => duration,
                Err(message) => {
                    self.at(timeout, message);
                    return None;
                }
            };
            let who = match &wait.who {
                Some(who) => {
                    Some(self.template(who, &Json::String(who.value.clone()), visible, inputs)?)
                }
                None => None,
            };
            let fields = BTreeMap::from([
                ("until".to_string(), Type::Text),
                ("event".to_string(), Type::Object),
            ]);
            return Some((
                StepKind::Wait(Wait::Event {
                    matcher,
                    timeout,
                    who,
                }),
                Outputs::Fields(fields),
            ));
        }
        if wait.timeout.is_some() || wait.who.is_some() {
            self.at(
                &raw.id,
                format!("step `{id}`: timeout: and who: belong to a wait for an event:"),
            );
            return None;
        }
        let kind = match (&wait.duration, &wait.until) {
            (Some(d), None) => match parse_duration(&d.value) {
                Ok(duration) => Wait::For(duration),
                Err(message) => {
                    self.at(d, message);
                    return None;
                }
            },
            (None, Some(until)) => Wait::Until(self.template(
                until,
                &Json::String(until.value.clone()),
                visible,
                inputs,
            )?),
            _ => {
                self.at(
                    &raw.id,
                    format!("step `{id}`: wait takes one of for:, until: or event:"),
                );
                return None;
            }
        };
        let fields = BTreeMap::from([("until".to_string(), Type::Text)]);
        Some((StepKind::Wait(kind), Outputs::Fields(fields)))
    }
}
