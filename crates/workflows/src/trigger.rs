//! What starts a run: the kinds of trigger, whether an event matches one, the event a run sees, and the
//! key that makes one event start one run (a redelivered hook, a replayed webhook or a schedule seen by two
//! workers all carry the same key).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::{Value as Json, json};

use crate::file::RawTrigger;

#[derive(Debug, Clone)]
pub enum Trigger {
    Okta {
        /// Okta's event types this trigger takes.
        event_types: Vec<String>,
        group: Option<String>,
        app: Option<String>,
        attribute: Option<String>,
        connection: Option<String>,
    },
    /// Another system's event (a Slack channel, a Jira issue or a Salesforce record created):
    /// `system_event.rs`.
    SystemEvent(crate::system_event::SystemEventTrigger),
    Schedule {
        cron: Box<croner::Cron>,
        expression: String,
        timezone: chrono_tz::Tz,
    },
    PersonDate {
        field: String,
        offset_days: i64,
        at: NaiveTime,
        timezone: chrono_tz::Tz,
    },
    Webhook {
        /// `env:NAME` or `file:PATH`.
        secret: String,
        tolerance: Duration,
    },
    Api,
    Manual,
    Request {
        bundle: Option<String>,
        approved: bool,
    },
}

/// The moments of a request that start flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestMoment {
    Submitted,
    Approved,
}

impl RequestMoment {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestMoment::Submitted => "submitted",
            RequestMoment::Approved => "approved",
        }
    }
}

/// Okta's event types by the names flows may use for them.
const OKTA_EVENTS: &[(&str, &str)] = &[
    ("user_added_to_group", "group.user_membership.add"),
    ("user_removed_from_group", "group.user_membership.remove"),
    ("app_assigned", "application.user_membership.add"),
    ("app_unassigned", "application.user_membership.remove"),
    ("profile_changed", "user.account.update_profile"),
    ("user_created", "user.lifecycle.create"),
    ("user_activated", "user.lifecycle.activate"),
    ("user_suspended", "user.lifecycle.suspend"),
    ("user_unsuspended", "user.lifecycle.unsuspend"),
    ("user_deactivated", "user.lifecycle.deactivate"),
    ("user_reactivated", "user.lifecycle.reactivate"),
    ("user_locked", "user.account.lock"),
    ("password_reset", "user.account.reset_password"),
    ("sessions_cleared", "user.session.clear"),
    ("mfa_reset", "user.mfa.factor.reset_all"),
];

impl Trigger {
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Okta { .. } => "okta",
            Trigger::SystemEvent(_) => "event",
            Trigger::Schedule { .. } => "schedule",
            Trigger::PersonDate { .. } => "person_date",
            Trigger::Webhook { .. } => "webhook",
            Trigger::Api => "api",
            Trigger::Manual => "manual",
            Trigger::Request { .. } => "request",
        }
    }

    /// Whether a person may start it by hand or through the API with inputs (every flow may be run by
    /// hand by an administrator; these say so in their file).
    pub fn takes_calls(&self) -> bool {
        matches!(self, Trigger::Api | Trigger::Manual)
    }

    /// The event a run of this trigger sees for an Okta System Log event (or event-hook item), and its
    /// de-duplication key; `None` when the event is not this trigger's.
    pub fn okta_event(&self, connection: &str, event: &Json) -> Option<(Json, String)> {
        let Trigger::Okta {
            event_types,
            group,
            app,
            attribute,
            connection: wanted,
        } = self
        else {
            return None;
        };
        if wanted.as_deref().is_some_and(|w| w != connection) {
            return None;
        }
        let event_type = event.get("eventType")?.as_str()?;
        if !event_types.iter().any(|t| t == event_type) {
            return None;
        }
        let targets: &[Json] = event
            .get("target")
            .and_then(Json::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let target = |kinds: &[&str]| {
            targets.iter().find(|t| {
                t.get("type")
                    .and_then(Json::as_str)
                    .is_some_and(|k| kinds.contains(&k))
            })
        };
        let user = target(&["User"]);
        let group_target = target(&["UserGroup"]);
        let app_target = target(&["AppInstance"]);
        let name = |t: Option<&Json>| {
            t.and_then(|t| t.get("displayName"))
                .and_then(Json::as_str)
                .map(str::to_string)
        };
        if let Some(group) = group
            && name(group_target).as_deref() != Some(group.as_str())
        {
            return None;
        }
        if let Some(app) = app
            && name(app_target).as_deref() != Some(app.as_str())
        {
            return None;
        }
        if let Some(attribute) = attribute
            && !changed_attributes(event).iter().any(|a| a == attribute)
        {
            return None;
        }
        let uuid = event.get("uuid").and_then(Json::as_str)?;
        let short = OKTA_EVENTS
            .iter()
            .find(|(_, t)| *t == event_type)
            .map(|(s, _)| *s)
            .unwrap_or(event_type);
        let describe = |t: Option<&Json>| {
            t.map(|t| {
                json!({
                    "id": t.get("id").cloned().unwrap_or(Json::Null),
                    "login": t.get("alternateId").cloned().unwrap_or(Json::Null),
                    "name": t.get("displayName").cloned().unwrap_or(Json::Null),
                })
            })
            .unwrap_or(Json::Null)
        };
        let view = json!({
            "type": short,
            "okta_type": event_type,
            "uuid": uuid,
            "connection": connection,
            "published": event.get("published").cloned().unwrap_or(Json::Null),
            "actor": event.get("actor").cloned().unwrap_or(Json::Null),
            "user": describe(user),
            "group": describe(group_target),
            "app": describe(app_target),
            "changed": changed_attributes(event),
            "raw": event,
        });
        Some((view, format!("okta:{connection}:{uuid}")))
    }

    /// Whether a request trigger starts for a request reaching `moment` (`submitted` or `approved`) that
    /// asked for `bundle` (its name, when it asked for a bundle); bundle names compare as people write them,
    /// without regard to case.
    pub fn takes_request(&self, moment: RequestMoment, bundle: Option<&str>) -> bool {
        let Trigger::Request {
            bundle: wanted,
            approved,
        } = self
        else {
            return false;
        };
        if *approved != (moment == RequestMoment::Approved) {
            return false;
        }
        match wanted {
            None => true,
            Some(wanted) => bundle.is_some_and(|b| b.trim().eq_ignore_ascii_case(wanted.trim())),
        }
    }

    /// An Okta trigger's matcher as data, for a wait kept in the store (`okta_from_matcher` reads it back).
    pub fn okta_matcher(&self) -> Option<Json> {
        let Trigger::Okta {
            event_types,
            group,
            app,
            attribute,
            connection,
        } = self
        else {
            return None;
        };
        Some(json!({
            "event_types": event_types,
            "group": group,
            "app": app,
            "attribute": attribute,
            "connection": connection,
        }))
    }

    /// The Okta trigger a stored matcher describes.
    pub fn okta_from_matcher(matcher: &Json) -> Option<Trigger> {
        let text = |name: &str| matcher.get(name).and_then(Json::as_str).map(str::to_string);
        let event_types: Vec<String> = matcher
            .get("event_types")?
            .as_array()?
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        (!event_types.is_empty()).then(|| Trigger::Okta {
            event_types,
            group: text("group"),
            app: text("app"),
            attribute: text("attribute"),
            connection: text("connection"),
        })
    }

    /// The schedule's instants after `after` up to `until`, at most `limit` (a worker that was down for a
    /// while starts one run per missed instant, up to the limit).
    pub fn due_instants(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let Trigger::Schedule { cron, timezone, .. } = self else {
            return vec![];
        };
        let mut out = Vec::new();
        let mut from = after.with_timezone(timezone);
        while out.len() < limit {
            let Ok(next) = cron.find_next_occurrence(&from, false) else {
                break;
            };
            let next_utc = next.with_timezone(&Utc);
            if next_utc > until {
                break;
            }
            out.push(next_utc);
            from = next;
        }
        out
    }

    /// The instant a person's date fires: the date plus the offset, at the trigger's time of day in its
    /// zone.
    pub fn date_instant(&self, date: &str) -> Option<DateTime<Utc>> {
        let Trigger::PersonDate {
            offset_days,
            at,
            timezone,
            ..
        } = self
        else {
            return None;
        };
        let date = NaiveDate::parse_from_str(date.get(..10)?, "%Y-%m-%d").ok()?;
        let day = date.checked_add_signed(chrono::Duration::days(*offset_days))?;
        let local = timezone
            .from_local_datetime(&day.and_time(*at))
            .earliest()?;
        Some(local.with_timezone(&Utc))
    }
}

/// The attributes an `update_profile` event changed: `debugContext.debugData.changedAttributes` (a
/// comma-separated list) and the targets' `changeDetails`.
fn changed_attributes(event: &Json) -> Vec<String> {
    let mut out: Vec<String> = event
        .pointer("/debugContext/debugData/changedAttributes")
        .and_then(Json::as_str)
        .map(|s| {
            s.split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for target in event
        .get("target")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        for side in ["from", "to"] {
            if let Some(map) = target
                .pointer(&format!("/changeDetails/{side}"))
                .and_then(Json::as_object)
            {
                out.extend(map.keys().cloned());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn timezone(name: Option<&str>) -> Result<chrono_tz::Tz, String> {
    match name {
        None => Ok(chrono_tz::UTC),
        Some(name) => chrono_tz::Tz::from_str(name).map_err(|_| {
            format!("unknown time zone `{name}`: use an IANA name such as Europe/Berlin")
        }),
    }
}

pub(crate) fn compile(raw: &RawTrigger) -> Result<Trigger, String> {
    let given = [
        raw.okta.is_some(),
        raw.event.is_some(),
        raw.schedule.is_some(),
        raw.person_date.is_some(),
        raw.webhook.is_some(),
        raw.api.is_some(),
        raw.manual.is_some(),
        raw.request.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        return Err(format!(
            "a trigger is exactly one of okta, event, schedule, person_date, webhook, api, manual, request ({given} given)"
        ));
    }
    if let Some(okta) = &raw.okta {
        let wanted = okta.event.value.trim();
        let event_type = OKTA_EVENTS
            .iter()
            .find(|(short, long)| *short == wanted || *long == wanted)
            .map(|(_, long)| long.to_string());
        let Some(event_type) = event_type else {
            let names: Vec<&str> = OKTA_EVENTS.iter().map(|(s, _)| *s).collect();
            return Err(format!(
                "unknown Okta event `{wanted}`: use one of {} or its Okta event type",
                names.join(", ")
            ));
        };
        if okta.attribute.is_some() && event_type != "user.account.update_profile" {
            return Err("attribute: applies to profile_changed only".into());
        }
        return Ok(Trigger::Okta {
            event_types: vec![event_type],
            group: okta.group.clone(),
            app: okta.app.clone(),
            attribute: okta.attribute.clone(),
            connection: okta.connection.clone(),
        });
    }
    if let Some(event) = &raw.event {
        return crate::system_event::compile(event).map(Trigger::SystemEvent);
    }
    if let Some(schedule) = &raw.schedule {
        let expression = schedule.cron.value.trim().to_string();
        let cron = croner::Cron::from_str(&expression)
            .map_err(|e| format!("invalid cron `{expression}`: {e}"))?;
        return Ok(Trigger::Schedule {
            cron: Box::new(cron),
            expression,
            timezone: timezone(schedule.timezone.as_ref().map(|t| t.value.as_str()))?,
        });
    }
    if let Some(date) = &raw.person_date {
        let at = match &date.at {
            None => NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            Some(at) => NaiveTime::parse_from_str(&at.value, "%H:%M")
                .map_err(|_| format!("at: `{}` is not a time of day (HH:MM)", at.value))?,
        };
        return Ok(Trigger::PersonDate {
            field: date.field.value.clone(),
            offset_days: date.offset_days,
            at,
            timezone: timezone(date.timezone.as_ref().map(|t| t.value.as_str()))?,
        });
    }
    if let Some(hook) = &raw.webhook {
        let secret = hook.secret.value.trim();
        if !(secret.starts_with("env:") || secret.starts_with("file:")) {
            return Err("a webhook's secret is `env:NAME` or `file:PATH`; never write the secret in the flow file".into());
        }
        return Ok(Trigger::Webhook {
            secret: secret.to_string(),
            tolerance: Duration::from_secs(u64::from(hook.tolerance_seconds.unwrap_or(300))),
        });
    }
    if raw.api.is_some() {
        return Ok(Trigger::Api);
    }
    if raw.manual.is_some() {
        return Ok(Trigger::Manual);
    }
    if let Some(request) = &raw.request {
        let approved = match request.on.as_ref().map(|o| o.value.as_str()) {
            None | Some("submitted") => false,
            Some("approved") => true,
            Some(other) => {
                return Err(format!(
                    "request on: is `submitted` or `approved`, not `{other}`"
                ));
            }
        };
        return Ok(Trigger::Request {
            bundle: request.bundle.clone(),
            approved,
        });
    }
    Err("empty trigger".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::{RawOktaTrigger, RawPersonDate, RawSchedule};
    use grantflow_policy::Located;

    fn at<T>(value: T) -> Located<T> {
        Located {
            value,
            line: 1,
            column: 1,
        }
    }

    fn okta(event: &str, group: Option<&str>) -> Trigger {
        compile(&RawTrigger {
            okta: Some(RawOktaTrigger {
                event: at(event.to_string()),
                group: group.map(str::to_string),
                app: None,
                attribute: None,
                connection: None,
            }),
            ..RawTrigger::default()
        })
        .unwrap()
    }

    fn event(kind: &str, group: &str) -> Json {
        json!({
            "uuid": "evt-1", "eventType": kind, "published": "2026-12-04T10:00:00Z",
            "target": [
                {"id": "00u1", "type": "User", "alternateId": "kim@example.com", "displayName": "Kim"},
                {"id": "00g1", "type": "UserGroup", "displayName": group}
            ]
        })
    }

    #[test]
    fn an_okta_trigger_takes_its_event_type_and_group_only() {
        let trigger = okta("user_added_to_group", Some("Engineering"));
        let (view, key) = trigger
            .okta_event("okta", &event("group.user_membership.add", "Engineering"))
            .unwrap();
        assert_eq!(view["user"]["login"], "kim@example.com");
        assert_eq!(view["group"]["name"], "Engineering");
        assert_eq!(view["type"], "user_added_to_group");
        assert_eq!(key, "okta:okta:evt-1");
        assert!(
            trigger
                .okta_event("okta", &event("group.user_membership.add", "Sales"))
                .is_none()
        );
        assert!(
            trigger
                .okta_event(
                    "okta",
                    &event("group.user_membership.remove", "Engineering")
                )
                .is_none()
        );
        // Okta's own event type names the same trigger.
        assert!(
            okta("group.user_membership.add", None)
                .okta_event("okta", &event("group.user_membership.add", "Sales"))
                .is_some()
        );
        let unknown = compile(&RawTrigger {
            okta: Some(RawOktaTrigger {
                event: at("user_teleported".into()),
                group: None,
                app: None,
                attribute: None,
                connection: None,
            }),
            ..RawTrigger::default()
        });
        assert!(unknown.unwrap_err().contains("unknown Okta event"));
    }

    #[test]
    fn a_request_trigger_takes_its_moment_and_bundle_only() {
        let request = |bundle: Option<&str>, on: &str| {
            compile(&RawTrigger {
                request: Some(crate::file::RawRequestTrigger {
                    bundle: bundle.map(str::to_string),
                    on: Some(at(on.to_string())),
                }),
                ..RawTrigger::default()
            })
            .unwrap()
        };
        let any_submitted = request(None, "submitted");
        assert!(any_submitted.takes_request(RequestMoment::Submitted, None));
        assert!(any_submitted.takes_request(RequestMoment::Submitted, Some("Sales")));
        assert!(!any_submitted.takes_request(RequestMoment::Approved, None));
        let sales_approved = request(Some("Sales Tools"), "approved");
        assert!(sales_approved.takes_request(RequestMoment::Approved, Some("sales tools")));
        assert!(!sales_approved.takes_request(RequestMoment::Approved, Some("Finance")));
        assert!(!sales_approved.takes_request(RequestMoment::Approved, None));
        assert!(!sales_approved.takes_request(RequestMoment::Submitted, Some("Sales Tools")));
        assert!(!okta("user_created", None).takes_request(RequestMoment::Submitted, None));
    }

    #[test]
    fn a_schedule_fires_at_its_instants_in_its_time_zone() {
        let trigger = compile(&RawTrigger {
            schedule: Some(RawSchedule {
                cron: at("0 9 * * MON-FRI".into()),
                timezone: Some(at("Europe/Berlin".into())),
            }),
            ..RawTrigger::default()
        })
        .unwrap();
        // Friday 4 December 2026, 07:00 UTC = 08:00 in Berlin: the next instants are Friday 09:00 and Monday 09:00 Berlin.
        let after = DateTime::parse_from_rfc3339("2026-12-04T07:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let until = DateTime::parse_from_rfc3339("2026-12-08T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let instants: Vec<String> = trigger
            .due_instants(after, until, 10)
            .iter()
            .map(|t| t.to_rfc3339())
            .collect();
        assert_eq!(
            instants,
            ["2026-12-04T08:00:00+00:00", "2026-12-07T08:00:00+00:00"]
        );
        let bad = compile(&RawTrigger {
            schedule: Some(RawSchedule {
                cron: at("61 * * * *".into()),
                timezone: None,
            }),
            ..RawTrigger::default()
        });
        assert!(bad.unwrap_err().contains("invalid cron"));
    }

    #[test]
    fn a_person_date_fires_at_the_time_of_day_in_its_zone_with_its_offset() {
        let trigger = compile(&RawTrigger {
            person_date: Some(RawPersonDate {
                field: at("hris.start_date".into()),
                offset_days: -1,
                at: Some(at("08:30".into())),
                timezone: Some(at("America/New_York".into())),
            }),
            ..RawTrigger::default()
        })
        .unwrap();
        let instant = trigger.date_instant("2026-12-07").unwrap();
        assert_eq!(instant.to_rfc3339(), "2026-12-06T13:30:00+00:00");
        assert!(trigger.date_instant("not a date").is_none());
    }

    #[test]
    fn a_trigger_is_exactly_one_kind_and_a_webhook_secret_is_never_inline() {
        let none = compile(&RawTrigger::default());
        assert!(none.unwrap_err().contains("0 given"));
        let inline = compile(&RawTrigger {
            webhook: Some(crate::file::RawWebhook {
                secret: at("hunter2".into()),
                tolerance_seconds: None,
            }),
            ..RawTrigger::default()
        });
        assert!(inline.unwrap_err().contains("never write the secret"));
    }
}
