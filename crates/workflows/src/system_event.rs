//! Other systems' events that start flows: a Slack channel created (Events API), a Jira issue created (an
//! admin webhook), a Salesforce record created (the record seen by polling its `CreatedDate`). Each source's
//! payload becomes one normalised [`SystemEvent`] (`{system, kind, id, name, actor, at, raw}`), and the
//! vendor's own id for the event is the de-duplication key, so a redelivery or a second poll starts nothing.

use serde_json::{Value as Json, json};

use crate::file::RawSystemEvent;
use crate::trigger::Trigger;

/// The kinds of event a flow may be started by, each of one system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemEventKind {
    ChannelCreated,
    IssueCreated,
    RecordCreated,
}

const KINDS: &[SystemEventKind] = &[
    SystemEventKind::ChannelCreated,
    SystemEventKind::IssueCreated,
    SystemEventKind::RecordCreated,
];

impl SystemEventKind {
    pub fn name(self) -> &'static str {
        match self {
            SystemEventKind::ChannelCreated => "channel_created",
            SystemEventKind::IssueCreated => "issue_created",
            SystemEventKind::RecordCreated => "record_created",
        }
    }

    /// The system (a connection's `kind:` in grantflow.yaml) whose events these are.
    pub fn system(self) -> &'static str {
        match self {
            SystemEventKind::ChannelCreated => "slack",
            SystemEventKind::IssueCreated => "jira",
            SystemEventKind::RecordCreated => "salesforce",
        }
    }

    /// The kinds a system's connection may use, for messages.
    pub fn of_system(system: &str) -> Vec<&'static str> {
        KINDS
            .iter()
            .filter(|k| k.system() == system)
            .map(|k| k.name())
            .collect()
    }
}

/// `trigger: event: {connection, kind, project?, object?}` as compiled.
#[derive(Debug, Clone)]
pub struct SystemEventTrigger {
    pub connection: String,
    pub kind: SystemEventKind,
    /// Jira: only this project's issues (its key).
    pub project: Option<String>,
    /// Salesforce: the object whose records are watched.
    pub object: Option<String>,
    /// Where `kind:` is written: the connection's system is only known with the configuration, and a
    /// mismatch is reported here.
    pub line: u64,
    pub column: u64,
}

/// One event of another system, normalised.
#[derive(Debug, Clone)]
pub struct SystemEvent {
    pub connection: String,
    pub kind: SystemEventKind,
    /// The object the event is about: the channel's, issue's or record's id.
    pub id: String,
    pub name: Option<String>,
    /// Who caused it, as the vendor names them (a Slack user id, a Jira account, a Salesforce user id).
    pub actor: Option<Json>,
    /// When it happened, as the vendor says (RFC 3339 where the vendor gives seconds or milliseconds).
    pub at: Option<String>,
    /// Jira: the issue's project key; Salesforce: the record's object.
    pub scope: Option<String>,
    /// The vendor's id of this event: the same on every redelivery.
    pub event_id: String,
    pub raw: Json,
}

fn epoch_text(seconds: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.to_rfc3339())
}

impl SystemEvent {
    /// What a run sees as `event`.
    pub fn view(&self) -> Json {
        let mut view = json!({
            "system": self.kind.system(),
            "kind": self.kind.name(),
            "connection": self.connection,
            "id": self.id,
            "name": self.name,
            "actor": self.actor,
            "at": self.at,
            "event_id": self.event_id,
            "raw": self.raw,
        });
        if let (Some(scope), Some(map)) = (&self.scope, view.as_object_mut()) {
            let field = match self.kind {
                SystemEventKind::IssueCreated => "project",
                _ => "object",
            };
            map.insert(field.into(), Json::String(scope.clone()));
        }
        view
    }

    /// A Slack Events API `event_callback` envelope; `None` for any other event type.
    pub fn from_slack(connection: &str, envelope: &Json) -> Option<Self> {
        if envelope.get("type")?.as_str()? != "event_callback" {
            return None;
        }
        let event = envelope.get("event")?;
        if event.get("type")?.as_str()? != "channel_created" {
            return None;
        }
        let channel = event.get("channel")?;
        Some(SystemEvent {
            connection: connection.into(),
            kind: SystemEventKind::ChannelCreated,
            id: channel.get("id")?.as_str()?.into(),
            name: channel.get("name").and_then(Json::as_str).map(Into::into),
            actor: channel.get("creator").cloned(),
            at: envelope
                .get("event_time")
                .and_then(Json::as_i64)
                .or_else(|| channel.get("created").and_then(Json::as_i64))
                .and_then(epoch_text),
            scope: None,
            event_id: envelope.get("event_id")?.as_str()?.into(),
            raw: event.clone(),
        })
    }

    /// A Jira Cloud webhook delivery's body; `None` unless it is `jira:issue_created`. An issue is created
    /// once, so its id and the event's timestamp name the event whichever webhook delivered it, however often.
    pub fn from_jira(connection: &str, body: &Json) -> Option<Self> {
        if body.get("webhookEvent")?.as_str()? != "jira:issue_created" {
            return None;
        }
        let issue = body.get("issue")?;
        let id = issue.get("id")?.as_str()?.to_string();
        let timestamp = body.get("timestamp").and_then(Json::as_i64);
        let at = timestamp
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339());
        let fields = issue.get("fields");
        let text = |path: &str| {
            fields
                .and_then(|f| f.pointer(path))
                .and_then(Json::as_str)
                .map(str::to_string)
        };
        let actor = body.get("user").map(|u| {
            json!({
                "account_id": u.get("accountId"),
                "email": u.get("emailAddress"),
                "name": u.get("displayName"),
            })
        });
        Some(SystemEvent {
            connection: connection.into(),
            kind: SystemEventKind::IssueCreated,
            name: text("/summary"),
            scope: text("/project/key"),
            event_id: format!("{id}@{}", timestamp.unwrap_or_default()),
            id,
            actor,
            at,
            raw: issue.clone(),
        })
    }

    /// A Salesforce record of `object` as SOQL returns it (`Id`, `Name`, `CreatedDate`, `CreatedById`).
    pub fn from_salesforce(connection: &str, object: &str, record: &Json) -> Option<Self> {
        let id = record.get("Id")?.as_str()?.to_string();
        Some(SystemEvent {
            connection: connection.into(),
            kind: SystemEventKind::RecordCreated,
            name: record.get("Name").and_then(Json::as_str).map(Into::into),
            actor: record.get("CreatedById").cloned(),
            at: record
                .get("CreatedDate")
                .and_then(Json::as_str)
                .map(Into::into),
            scope: Some(object.into()),
            event_id: id.clone(),
            id,
            raw: record.clone(),
        })
    }
}

impl Trigger {
    /// The event a run of this trigger sees for another system's event, and its de-duplication key; `None`
    /// when the event is not this trigger's (another connection, kind, project or object).
    pub fn system_event(&self, event: &SystemEvent) -> Option<(Json, String)> {
        let Trigger::SystemEvent(wanted) = self else {
            return None;
        };
        if wanted.connection != event.connection || wanted.kind != event.kind {
            return None;
        }
        let scope = wanted.project.as_ref().or(wanted.object.as_ref());
        if let Some(scope) = scope
            && !event
                .scope
                .as_ref()
                .is_some_and(|s| s.eq_ignore_ascii_case(scope))
        {
            return None;
        }
        Some((
            event.view(),
            format!("event:{}:{}", event.connection, event.event_id),
        ))
    }
}

/// A Salesforce object's API name: a letter, then letters, digits and single underscores (`Opportunity`,
/// `Invoice__c`). It is written into a SOQL query, so nothing else is accepted.
pub fn is_salesforce_object(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.len() <= 80
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.contains("___")
}

pub(crate) fn compile(raw: &RawSystemEvent) -> Result<SystemEventTrigger, String> {
    let connection = raw.connection.value.trim();
    if connection.is_empty() {
        return Err("event: names the connection whose events start the flow".into());
    }
    let wanted = raw.kind.value.trim();
    let Some(kind) = KINDS.iter().copied().find(|k| k.name() == wanted) else {
        let known: Vec<String> = KINDS
            .iter()
            .map(|k| format!("{} ({})", k.name(), k.system()))
            .collect();
        return Err(format!(
            "unknown event kind `{wanted}`: use one of {}",
            known.join(", ")
        ));
    };
    let project = raw.project.as_ref().map(|p| p.value.trim().to_string());
    let object = raw.object.as_ref().map(|o| o.value.trim().to_string());
    if project.is_some() && kind != SystemEventKind::IssueCreated {
        return Err("project: applies to issue_created only".into());
    }
    if object.is_some() && kind != SystemEventKind::RecordCreated {
        return Err("object: applies to record_created only".into());
    }
    if kind == SystemEventKind::RecordCreated {
        match &object {
            None => {
                return Err(
                    "record_created needs object: the Salesforce object to watch (Opportunity, Account, …)"
                        .into(),
                );
            }
            Some(o) if !is_salesforce_object(o) => {
                return Err(format!(
                    "object: `{o}` is not a Salesforce object's API name"
                ));
            }
            Some(_) => {}
        }
    }
    Ok(SystemEventTrigger {
        connection: connection.to_string(),
        kind,
        project,
        object,
        line: raw.kind.line,
        column: raw.kind.column,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantflow_policy::Located;

    fn at<T>(value: T) -> Located<T> {
        Located {
            value,
            line: 3,
            column: 9,
        }
    }

    fn trigger(
        connection: &str,
        kind: &str,
        project: Option<&str>,
        object: Option<&str>,
    ) -> Result<Trigger, String> {
        compile(&RawSystemEvent {
            connection: at(connection.into()),
            kind: at(kind.into()),
            project: project.map(|p| at(p.into())),
            object: object.map(|o| at(o.into())),
        })
        .map(Trigger::SystemEvent)
    }

    fn slack_envelope(event_id: &str, event_type: &str) -> Json {
        json!({
            "type": "event_callback", "team_id": "T1", "event_id": event_id, "event_time": 1_764_900_000,
            "event": {"type": event_type, "channel": {"id": "C1", "name": "incident-42", "created": 1_764_900_000, "creator": "U1"}}
        })
    }

    #[test]
    fn a_slack_channel_created_callback_starts_its_trigger_keyed_by_the_event_id() {
        let t = trigger("slack", "channel_created", None, None).unwrap();
        let event =
            SystemEvent::from_slack("slack", &slack_envelope("Ev1", "channel_created")).unwrap();
        let (view, key) = t.system_event(&event).unwrap();
        assert_eq!(view["system"], "slack");
        assert_eq!(view["name"], "incident-42");
        assert_eq!(view["actor"], "U1");
        assert_eq!(key, "event:slack:Ev1");
        // Another connection's channels, and other event types, are not this trigger's.
        let other =
            SystemEvent::from_slack("slack-eu", &slack_envelope("Ev1", "channel_created")).unwrap();
        assert!(t.system_event(&other).is_none());
        assert!(
            SystemEvent::from_slack("slack", &slack_envelope("Ev2", "channel_rename")).is_none()
        );
    }

    #[test]
    fn a_jira_trigger_with_a_project_takes_that_projects_issues_only() {
        let t = trigger("jira", "issue_created", Some("SEC"), None).unwrap();
        let body = |project: &str| {
            json!({"webhookEvent": "jira:issue_created", "timestamp": 1_764_900_000_123_i64,
                   "user": {"accountId": "5b1", "displayName": "Kim"},
                   "issue": {"id": "10001", "key": format!("{project}-1"),
                             "fields": {"summary": "Suspicious sign-in", "project": {"key": project}}}})
        };
        let event = SystemEvent::from_jira("jira", &body("SEC")).unwrap();
        let (view, key) = t.system_event(&event).unwrap();
        assert_eq!(view["project"], "SEC");
        assert_eq!(view["name"], "Suspicious sign-in");
        assert_eq!(key, "event:jira:10001@1764900000123");
        assert!(
            t.system_event(&SystemEvent::from_jira("jira", &body("PLAT")).unwrap())
                .is_none()
        );
        let updated = json!({"webhookEvent": "jira:issue_updated", "issue": {"id": "1"}});
        assert!(SystemEvent::from_jira("jira", &updated).is_none());
    }

    #[test]
    fn a_salesforce_trigger_watches_one_object_named_safely() {
        let t = trigger("salesforce", "record_created", None, Some("Opportunity")).unwrap();
        let record = json!({"Id": "006A", "Name": "Acme renewal", "CreatedDate": "2026-12-05T00:00:00.000+0000"});
        let event = SystemEvent::from_salesforce("salesforce", "Opportunity", &record).unwrap();
        let (view, key) = t.system_event(&event).unwrap();
        assert_eq!(view["object"], "Opportunity");
        assert_eq!(key, "event:salesforce:006A");
        let account = SystemEvent::from_salesforce("salesforce", "Account", &record).unwrap();
        assert!(t.system_event(&account).is_none());
        let err = trigger(
            "salesforce",
            "record_created",
            None,
            Some("Account WHERE Id != null"),
        )
        .unwrap_err();
        assert!(err.contains("not a Salesforce object"), "{err}");
        assert!(
            trigger("salesforce", "record_created", None, None)
                .unwrap_err()
                .contains("needs object")
        );
    }

    #[test]
    fn flow_check_places_an_unknown_kind_at_its_trigger() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("on-jira.yaml"),
            "flow: on-jira\ntrigger:\n  event:\n    connection: jira\n    kind: issue_exploded\nsteps:\n  - id: s\n    card: set\n    with: {a: 1}\n",
        )
        .unwrap();
        let problems = crate::FlowSet::load(dir.path()).unwrap_err().to_string();
        assert!(
            problems.contains("on-jira.yaml:3:3")
                && problems.contains("unknown event kind `issue_exploded`"),
            "{problems}"
        );
    }

    #[test]
    fn unknown_kinds_and_misplaced_filters_are_refused() {
        let err = trigger("slack", "channel_exploded", None, None).unwrap_err();
        assert!(
            err.contains("unknown event kind `channel_exploded`"),
            "{err}"
        );
        assert!(err.contains("channel_created (slack)"), "{err}");
        let err = trigger("slack", "channel_created", Some("SEC"), None).unwrap_err();
        assert!(
            err.contains("project: applies to issue_created only"),
            "{err}"
        );
    }
}
