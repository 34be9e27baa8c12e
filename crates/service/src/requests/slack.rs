//! Slack as a front door to requests: the `/grantflow` slash command asks,
//! each reviewer gets a direct message with Approve and Deny buttons, a
//! click decides as that person, and the requester is told the outcome.
//! What Slack sends is verified first (`slack_app::RequestVerifier`, by the
//! server over the raw body); a Slack user acts as the directory person with
//! their email, with the requester role.

use grantflow_model::ConnectionName;
use regex::Regex;
use serde_json::{Value, json};
use std::sync::LazyLock;

use super::{Asked, NewRequest, RequestView, Verdict};
use crate::slack_app::{RequestVerifier, Verified};
use crate::{Actor, Result, Role, Service, ServiceError};

/// Who Slack users act as: `slack:<email>`.
const SLACK_ACTOR_PREFIX: &str = "slack:";

/// `reason:`, `duration:`, `ticket:`, `for:` in a command's text.
static KEYWORDS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)(?:^|\s)(reason|duration|ticket|for):\s*").ok());
static ME: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?i)\bme\b").ok());

const USAGE: &str = "Ask for access: `/grantflow request add me to the Payments Oncall group duration: 4h reason: incident 42` \
(also `ticket:`), `/grantflow bundle payments on-call reason: …` (`for: someone@…`), \
`/grantflow break-glass payments on-call reason: …`.";

/// What a reviewer's message is about, and what changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Announce {
    /// The request waits for its current stage's reviewers.
    AwaitingReview,
    /// The request was decided (or approved at once): tell the requester.
    Decided,
}

/// A command's text split into the words asked for and its `key:` fields.
fn fields(text: &str) -> (String, Vec<(String, String)>) {
    let Some(keywords) = KEYWORDS.as_ref() else {
        return (text.trim().to_string(), vec![]);
    };
    let mut found: Vec<(usize, usize, String)> = keywords
        .captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            Some((
                whole.start(),
                whole.end(),
                c.get(1)?.as_str().to_lowercase(),
            ))
        })
        .collect();
    found.sort();
    let head_end = found.first().map_or(text.len(), |(start, _, _)| *start);
    let mut values = Vec::new();
    for (index, (_, value_start, key)) in found.iter().enumerate() {
        let value_end = found.get(index + 1).map_or(text.len(), |(s, _, _)| *s);
        values.push((
            key.clone(),
            text[*value_start..value_end].trim().to_string(),
        ));
    }
    (text[..head_end].trim().to_string(), values)
}

impl Service {
    /// The verifier of what the Slack connection `connection`'s app sends.
    pub fn slack_verifier(&self, connection: &str) -> Result<RequestVerifier> {
        let name = ConnectionName::new(connection);
        let secret = self
            .connectors
            .get(&name)
            .and_then(|c| c.chat())
            .and_then(|chat| chat.signing_secret())
            .ok_or_else(|| {
                // The same answer for "no such connection" and "no secret": nothing to probe.
                ServiceError::NotFound(format!(
                    "no Slack app is configured on connection \"{connection}\" (its `signing_secret`)"
                ))
            })?;
        Ok(RequestVerifier::new(secret))
    }

    /// The directory person behind a Slack user of `connection`, as an actor.
    async fn slack_actor(&self, connection: &str, user_id: &str) -> Result<Actor> {
        let actual = self.actual_state().await?;
        let email = actual
            .snapshots
            .get(&ConnectionName::new(connection))
            .and_then(|s| s.accounts.iter().find(|a| a.id == user_id))
            .and_then(|a| a.email.clone())
            .ok_or_else(|| {
                ServiceError::Forbidden(
                    "your Slack account has no email grantflow knows (as of the last sync of Slack)"
                        .into(),
                )
            })?;
        Ok(Actor::new(
            format!("{SLACK_ACTOR_PREFIX}{}", email.to_lowercase()),
            [Role::Requester],
        )
        .for_person(&email))
    }

    /// Answers a verified slash command: the reply Slack shows the person
    /// (only to them). A refused request is a reply too, saying why.
    pub async fn slack_command(&self, connection: &str, verified: &Verified<'_>) -> Result<Value> {
        let command = verified
            .slash_command()
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let actor = self.slack_actor(connection, &command.user_id).await?;
        let text = command.text.trim();
        let (verb, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let (words, keys) = fields(rest);
        let key = |name: &str| {
            keys.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let me = actor.person.clone().unwrap_or_default();
        let asked = match verb.to_lowercase().as_str() {
            "request" if !words.is_empty() => Asked::Change {
                text: ME
                    .as_ref()
                    .map(|me_word| me_word.replace_all(&words, me.as_str()).into_owned())
                    .unwrap_or(words.clone()),
            },
            "bundle" | "break-glass" if !words.is_empty() => Asked::Bundle {
                name: words.clone(),
            },
            _ => return Ok(ephemeral(USAGE)),
        };
        let duration = match key("duration")
            .as_deref()
            .map(grantflow_policy::parse_duration)
            .transpose()
        {
            Ok(duration) => duration,
            Err(why) => return Ok(ephemeral(&format!("Not submitted: {why}"))),
        };
        let new = NewRequest {
            asked,
            for_person: key("for"),
            reason: key("reason").unwrap_or_default(),
            duration,
            ticket: key("ticket"),
            break_glass: verb.eq_ignore_ascii_case("break-glass"),
        };
        match self.submit_request(&actor, &new).await {
            Ok(view) => Ok(ephemeral(&format!(
                "Request {} ({}): {}.",
                view.id,
                view.summary,
                describe_state(&view)
            ))),
            Err(refused) => Ok(ephemeral(&format!("Not submitted: {refused}"))),
        }
    }

    /// Acts on a verified button click of a request message: decides as the
    /// clicking person, and updates the message (or tells them why not).
    pub async fn slack_interaction(&self, connection: &str, verified: &Verified<'_>) -> Result<()> {
        let actions = verified
            .block_actions()
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let actor = self.slack_actor(connection, &actions.user.id).await?;
        let Some(chat) = self
            .connectors
            .get(&ConnectionName::new(connection))
            .and_then(|c| c.chat())
        else {
            return Err(ServiceError::NotFound(format!(
                "connection \"{connection}\" cannot post messages"
            )));
        };
        for action in &actions.actions {
            let verdict = match action.action_id.as_str() {
                "approve" => Verdict::Approve,
                "deny" => Verdict::Deny,
                _ => continue,
            };
            let Some(id) = action.value.as_deref() else {
                continue;
            };
            let outcome = self.review_request(&actor, id, verdict, "", "slack").await;
            let text = match &outcome {
                Ok(view) => format!(
                    "You {} request {} ({} for {}): {}.",
                    if verdict == Verdict::Approve {
                        "approved"
                    } else {
                        "denied"
                    },
                    view.id,
                    view.summary,
                    view.subject,
                    describe_state(view)
                ),
                Err(refused) => {
                    format!("Your decision on request {id} was not recorded: {refused}")
                }
            };
            match (&outcome, &actions.channel, &actions.message) {
                (Ok(_), Some(channel), Some(message)) => {
                    let posted = grantflow_connectors::PostedMessage {
                        channel: channel.id.clone(),
                        ts: message.ts.clone(),
                    };
                    if let Err(error) = chat.update(&posted, &text, &[section(&text)]).await {
                        tracing::warn!(message = "Could not update a request message.", error = %error);
                    }
                }
                _ => {
                    if let Err(error) = chat.post(&actions.user.id, &text, &[]).await {
                        tracing::warn!(message = "Could not tell a reviewer.", error = %error);
                    }
                }
            }
        }
        Ok(())
    }

    /// Tells people in Slack what a request needs or what became of it:
    /// each reviewer of its current stage gets a message with buttons, or
    /// the requester gets the outcome. Nothing is said without a Slack
    /// connection; a failure is logged, never fatal.
    pub(crate) async fn announce(&self, view: &RequestView, what: Announce) {
        let Ok(actual) = self.actual_state().await else {
            return;
        };
        let Some((connection, chat)) = self
            .connectors
            .iter()
            .find_map(|(name, c)| c.chat().map(|chat| (name, chat)))
        else {
            return;
        };
        let Some(snapshot) = actual.snapshots.get(connection) else {
            return;
        };
        let slack_id = |email: &str| {
            snapshot
                .accounts
                .iter()
                .find(|a| {
                    a.email
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
                })
                .map(|a| a.id.clone())
        };
        let (people, text, blocks) = match what {
            Announce::AwaitingReview => {
                let Some(stage) = view.stage.and_then(|i| view.stages.get(i)) else {
                    return;
                };
                let mut reviewers = stage.stage.reviewers.clone();
                if stage.escalated {
                    reviewers.extend(stage.stage.escalate_to.iter().cloned());
                }
                let text = review_text(view, &stage.stage.name);
                let blocks = vec![
                    section(&text),
                    json!({
                        "type": "actions",
                        "block_id": format!("request:{}", view.id),
                        "elements": [
                            {"type": "button", "action_id": "approve", "style": "primary", "value": view.id,
                             "text": {"type": "plain_text", "text": "Approve"}},
                            {"type": "button", "action_id": "deny", "style": "danger", "value": view.id,
                             "text": {"type": "plain_text", "text": "Deny"}},
                        ],
                    }),
                ];
                (reviewers, text, blocks)
            }
            Announce::Decided => {
                let requester = view
                    .requester
                    .strip_prefix(SLACK_ACTOR_PREFIX)
                    .or_else(|| view.requester.strip_prefix("oidc:"))
                    .map(str::to_string)
                    .unwrap_or_else(|| view.subject.clone());
                let text = format!(
                    "Your request {} ({}) is {}.",
                    view.id,
                    view.summary,
                    describe_state(view)
                );
                (vec![requester], text.clone(), vec![section(&text)])
            }
        };
        for email in people {
            let Some(user) = slack_id(&email) else {
                continue;
            };
            if let Err(error) = chat.post(&user, &text, &blocks).await {
                tracing::warn!(message = "Could not post a request message.", request = %view.id, error = %error);
            }
        }
    }
}

fn ephemeral(text: &str) -> Value {
    json!({ "response_type": "ephemeral", "text": text })
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// A reviewer's message: who asks what for whom and why, the stage, what it reaches and conflicts with.
fn review_text(view: &RequestView, stage: &str) -> String {
    let mut text = format!(
        "*Access request {}* — {}\nFor {} (asked by {}): {}\nStage: {stage}",
        view.id, view.summary, view.subject, view.requester, view.reason
    );
    if let Some(seconds) = view.duration_seconds {
        text.push_str(&format!("\nFor {} min", seconds / 60));
    }
    let services: Vec<&str> = view.review["reach"]["operations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|o| o["services"].as_array().into_iter().flatten())
        .filter_map(|s| s["service"].as_str())
        .collect();
    if services.is_empty() {
        text.push_str("\nReaches no production service.");
    } else {
        text.push_str(&format!("\nReaches production: {}", services.join(", ")));
    }
    for conflict in view.review["conflicts"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\nSeparation of duties: {}",
            conflict["name"].as_str().unwrap_or_default()
        ));
    }
    text
}

fn describe_state(view: &RequestView) -> String {
    match view.state.as_str() {
        "pending" => match view.stage.and_then(|i| view.stages.get(i)) {
            Some(stage) => format!(
                "waiting for {} ({})",
                stage.stage.name,
                stage.stage.reviewers.join(", ")
            ),
            None => "pending".into(),
        },
        "active" => format!(
            "approved, in force until {}",
            view.expires_at
                .map(|at| at.to_rfc3339())
                .unwrap_or_default()
        ),
        "done" | "approved" => "approved".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_splits_into_words_and_fields_in_any_order() {
        let (words, keys) = fields(
            "add me to the Sales group ticket: INC-1 reason: customer visit, then lunch duration: 2h",
        );
        assert_eq!(words, "add me to the Sales group");
        assert_eq!(
            keys,
            vec![
                ("ticket".to_string(), "INC-1".to_string()),
                (
                    "reason".to_string(),
                    "customer visit, then lunch".to_string()
                ),
                ("duration".to_string(), "2h".to_string()),
            ]
        );
        let (words, keys) = fields("payments on-call");
        assert_eq!((words.as_str(), keys.len()), ("payments on-call", 0));
    }
}
