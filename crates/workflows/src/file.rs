//! A flow file as written: YAML with the place of every value, so each mistake found later (an unknown
//! card, a reference to a step that has not run yet, a type mismatch) points at its `file:line:column`.

use std::collections::BTreeMap;
use std::path::Path;

use grantflow_policy::{Diagnostic, Located};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value as Json;

/// One flow file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    /// The flow's name: what runs, the API and helper calls name it by.
    pub flow: Located<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// What starts a run. A helper flow (only called by others) has none.
    #[serde(default)]
    pub trigger: Option<Located<RawTrigger>>,
    /// The inputs a run takes (a manual run's, an API call's, a caller's `with`).
    #[serde(default)]
    pub inputs: BTreeMap<String, Located<RawInput>>,
    #[serde(default)]
    pub history: Option<RawHistory>,
    /// How many runs of this flow proceed at once in one process (default 10).
    #[serde(default)]
    pub concurrency: Option<Located<u32>>,
    pub steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RawHistory {
    /// Whether each step's inputs and outputs are kept once the run ends (default true).
    #[serde(default)]
    pub record_io: Option<bool>,
    /// How long finished runs are kept, in days (default 90).
    #[serde(default)]
    pub retention_days: Option<Located<u32>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    #[serde(rename = "type", default)]
    pub kind: Option<Located<String>>,
    #[serde(default)]
    pub required: Option<bool>,
    #[serde(default)]
    pub default: Option<Json>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Exactly one kind of trigger.
#[derive(Debug, Clone, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTrigger {
    /// An Okta event, from the event hook or the System Log.
    #[serde(default)]
    pub okta: Option<RawOktaTrigger>,
    /// Another system's change (a Jira issue created, a Slack channel created, a Salesforce record created).
    #[serde(default)]
    pub event: Option<RawSystemEvent>,
    /// A schedule: cron (five fields, or six with seconds) in a time zone.
    #[serde(default)]
    pub schedule: Option<RawSchedule>,
    /// A date on a person (an HRIS start or end date), with an offset.
    #[serde(default)]
    pub person_date: Option<RawPersonDate>,
    /// An HMAC-signed webhook at `/hooks/flows/{flow}`.
    #[serde(default)]
    pub webhook: Option<RawWebhook>,
    /// An authenticated API call (`POST /api/v1/flows/{flow}/runs`).
    #[serde(default)]
    pub api: Option<RawEmpty>,
    /// A person runs it by hand (`grantflow flow run`), with inputs.
    #[serde(default)]
    pub manual: Option<RawEmpty>,
    /// An access request, when it is submitted or approved.
    #[serde(default)]
    pub request: Option<RawRequestTrigger>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RawEmpty {}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOktaTrigger {
    /// Okta's event type (`group.user_membership.add`, `user.lifecycle.create`, …) or its short name
    /// (`user_added_to_group`, `user_created`, …).
    pub event: Located<String>,
    /// Only this group's events (its name).
    #[serde(default)]
    pub group: Option<String>,
    /// Only this app's events (its label).
    #[serde(default)]
    pub app: Option<String>,
    /// Only changes of this profile attribute (`profile_changed`).
    #[serde(default)]
    pub attribute: Option<String>,
    /// The Okta connection (default: the only one).
    #[serde(default)]
    pub connection: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSystemEvent {
    pub connection: Located<String>,
    /// The kind of change: `channel_created` (Slack), `issue_created` (Jira), `record_created` (Salesforce).
    pub kind: Located<String>,
    /// Jira: only issues of this project (its key).
    #[serde(default)]
    pub project: Option<Located<String>>,
    /// Salesforce: the object whose new records start runs (`Opportunity`, `Account`, a custom `…__c`).
    #[serde(default)]
    pub object: Option<Located<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub cron: Located<String>,
    /// An IANA time zone (`Europe/Berlin`); UTC when absent.
    #[serde(default)]
    pub timezone: Option<Located<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPersonDate {
    /// The person's date attribute (`hris.start_date`, `hris.end_date`, or a profile attribute).
    pub field: Located<String>,
    /// Days after (positive) or before (negative) the date.
    #[serde(default)]
    pub offset_days: i64,
    /// The time of day, `HH:MM` (default 09:00), in `timezone` (default UTC).
    #[serde(default)]
    pub at: Option<Located<String>>,
    #[serde(default)]
    pub timezone: Option<Located<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// The shared secret: `env:NAME` or `file:PATH`, never the secret itself.
    pub secret: Located<String>,
    /// How old a signed timestamp may be, in seconds (default 300).
    #[serde(default)]
    pub tolerance_seconds: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRequestTrigger {
    /// Only requests for this bundle (default: every request).
    #[serde(default)]
    pub bundle: Option<String>,
    /// `submitted` (default) or `approved`.
    #[serde(default)]
    pub on: Option<Located<String>>,
}

/// One step: exactly one of `card`, `if`, `switch`, `for_each`, `call`, `wait`, `return`, `fail`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// The step's name, unique in the flow: later steps read its output as `steps.<id>`.
    pub id: Located<String>,
    #[serde(default)]
    pub card: Option<Located<String>>,
    /// The card's (or the called flow's) inputs: values, or `${ CEL }` templates.
    #[serde(default)]
    pub with: Option<BTreeMap<String, Located<Json>>>,
    /// A CEL condition; `then` runs when it holds, `else` otherwise.
    #[serde(rename = "if", default)]
    pub condition: Option<Located<String>>,
    #[serde(default)]
    pub then: Option<Vec<RawStep>>,
    #[serde(rename = "else", default)]
    pub otherwise: Option<Vec<RawStep>>,
    /// A CEL expression whose text value picks one of `cases`, else `default`.
    #[serde(default)]
    pub switch: Option<Located<String>>,
    #[serde(default)]
    pub cases: Option<BTreeMap<String, Vec<RawStep>>>,
    #[serde(default)]
    pub default: Option<Vec<RawStep>>,
    /// A CEL expression giving a list; `steps` run once per item, named by `as` (default `item`).
    #[serde(default)]
    pub for_each: Option<Located<String>>,
    #[serde(rename = "as", default)]
    pub item: Option<Located<String>>,
    /// How many iterations of `for_each` run at once (default 1).
    #[serde(default)]
    pub concurrency: Option<Located<u32>>,
    #[serde(default)]
    pub steps: Option<Vec<RawStep>>,
    /// A helper flow to run with `with` as its inputs; its `return` is this step's output.
    #[serde(default)]
    pub call: Option<Located<String>>,
    #[serde(default)]
    pub wait: Option<RawWait>,
    /// Ends the run (or the helper flow) with these outputs.
    #[serde(rename = "return", default)]
    pub output: Option<BTreeMap<String, Located<Json>>>,
    /// Ends the run as failed with this message.
    #[serde(default)]
    pub fail: Option<Located<String>>,
    #[serde(default)]
    pub retry: Option<RawRetry>,
    /// `fail` (default): the run fails; `continue`: the step's output is its error and the run goes on.
    #[serde(default)]
    pub on_error: Option<Located<String>>,
    /// Steps to run instead when this step fails (its error is `error`); the run then goes on.
    #[serde(default)]
    pub catch: Option<Vec<RawStep>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWait {
    /// A duration: `30s`, `10m`, `2h`, `3d`.
    #[serde(rename = "for", default)]
    pub duration: Option<Located<String>>,
    /// A time (RFC 3339), usually a template.
    #[serde(default)]
    pub until: Option<Located<String>>,
    /// An event about the run's person, matched as an `okta:` trigger matches (hook or System Log).
    #[serde(default)]
    pub event: Option<RawWaitEvent>,
    /// How long to wait for the event before the step fails with `wait_timeout` (`30m`, `3d`).
    #[serde(default)]
    pub timeout: Option<Located<String>>,
    /// Whose event: a login, email or Okta user id, usually a template (default: the run's person —
    /// `event.user.login`, `event.person.email`, `event.subject`, or `inputs.who`, the first the run has).
    #[serde(default)]
    pub who: Option<Located<String>>,
}

/// The event a wait waits for: the same matcher as an `okta:` trigger.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWaitEvent {
    /// Okta's event type or its short name (`user_activated`, `user_added_to_group`, …).
    pub okta: Located<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default)]
    pub attribute: Option<String>,
    #[serde(default)]
    pub connection: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    /// Attempts in all, the first included (default 1 for cards that change a system — the engine retries
    /// those itself — and 3 for HTTP).
    #[serde(default)]
    pub attempts: Option<Located<u32>>,
    /// The wait before the second attempt, doubled before each next one (default 1s).
    #[serde(default)]
    pub backoff: Option<Located<String>>,
}

pub(crate) fn parse(path: &Path, text: &str) -> Result<RawFlow, Diagnostic> {
    serde_saphyr::from_str::<RawFlow>(text).map_err(|error| {
        let (line, column) = error
            .location()
            .map(|location| (location.line(), location.column()))
            .unwrap_or((0, 0));
        let message = error.without_snippet().to_string();
        Diagnostic {
            file: path.to_path_buf(),
            line,
            column,
            message: message
                .lines()
                .next()
                .unwrap_or(&message)
                .trim()
                .to_string(),
        }
    })
}
