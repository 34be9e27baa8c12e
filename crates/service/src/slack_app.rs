//! The Slack app's inbound side: what Slack sends when a person types `/grantflow …` or clicks a button on one of
//! grantflow's messages.
//!
//! Every request is checked before a byte of it is parsed: [`RequestVerifier::verify`] takes the raw body and
//! the two headers Slack signs with (`X-Slack-Request-Timestamp`, Unix seconds; `X-Slack-Signature`, `v0=` and
//! the lower-case hex HMAC-SHA256 of `v0:{timestamp}:{raw body}` keyed with the app's signing secret), refuses a
//! timestamp more than five minutes from `now` either way (a replay), compares in constant time, and hands back
//! a [`Verified`] body: the only way to reach the payload parsers. Refusals are [`SignatureError`]s that name
//! what is wrong and never carry the secret, the expected signature or the body.
//!
//! Payloads: a slash command is a form ([`SlashCommand`]); an interaction is a form whose one field `payload`
//! holds JSON, of which `block_actions` (a button click) is parsed ([`BlockActions`]). Slack adds fields over
//! time, so unknown ones are ignored; the deprecated verification `token` is never read.
//!
//! A `response_url` lets whoever holds it post into the conversation for a while, so [`ResponseUrl`] keeps it
//! out of `Debug` output.

use std::collections::BTreeSet;
use std::fmt;

use aws_lc_rs::{constant_time, hmac};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Slack's replay window, both ways: its SDK refuses a request whose timestamp is more than this from now.
pub const MAX_SKEW_SECONDS: i64 = 5 * 60;
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
pub const SIGNATURE_HEADER: &str = "x-slack-signature";

/// Why a request is not accepted as Slack's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Slack request has no X-Slack-Request-Timestamp header")]
    MissingTimestamp,
    #[error("the Slack request has no X-Slack-Signature header")]
    MissingSignature,
    #[error("the Slack request's X-Slack-Request-Timestamp is not a Unix time in whole seconds")]
    MalformedTimestamp,
    #[error(
        "the Slack request's X-Slack-Signature is not a v0 signature (v0= and 64 lower-case hex digits)"
    )]
    MalformedSignature,
    #[error(
        "the Slack request was signed {seconds} s ago, more than the {MAX_SKEW_SECONDS} s allowed (a replay, or a clock far off)"
    )]
    TooOld { seconds: i64 },
    #[error(
        "the Slack request was signed {seconds} s in the future, more than the {MAX_SKEW_SECONDS} s allowed (a clock far off)"
    )]
    FromTheFuture { seconds: i64 },
    #[error(
        "the Slack request's signature does not match its body (not signed with this app's signing secret, or altered)"
    )]
    Mismatch,
}

impl SignatureError {
    /// A stable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingTimestamp | Self::MissingSignature => "slack_signature_missing",
            Self::MalformedTimestamp | Self::MalformedSignature => "slack_signature_malformed",
            Self::TooOld { .. } | Self::FromTheFuture { .. } => "slack_signature_stale",
            Self::Mismatch => "slack_signature_mismatch",
        }
    }
}

/// A request as it arrived: the two signing headers' raw values (`None` when absent) and the raw body.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub timestamp: Option<&'a [u8]>,
    pub signature: Option<&'a [u8]>,
    pub body: &'a [u8],
}

/// Checks requests against the app's signing secret.
pub struct RequestVerifier {
    key: hmac::Key,
}

impl fmt::Debug for RequestVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestVerifier { .. }")
    }
}

/// A body whose signature was checked; the payload parsers take only this.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a> {
    body: &'a [u8],
}

fn timestamp(raw: &[u8]) -> Result<i64, SignatureError> {
    // Whole seconds only: no sign, no spaces, no fraction; at most 12 digits keeps the arithmetic far from
    // overflow (year 33658).
    if raw.is_empty() || raw.len() > 12 || !raw.iter().all(u8::is_ascii_digit) {
        return Err(SignatureError::MalformedTimestamp);
    }
    raw.iter().try_fold(0i64, |n, d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(i64::from(d - b'0')))
            .ok_or(SignatureError::MalformedTimestamp)
    })
}

/// The MAC of a `v0=<64 lower-case hex>` header.
fn mac(raw: &[u8]) -> Result<[u8; 32], SignatureError> {
    let hex = raw
        .strip_prefix(b"v0=")
        .filter(|h| h.len() == 64)
        .ok_or(SignatureError::MalformedSignature)?;
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(SignatureError::MalformedSignature),
    };
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Ok(out)
}

impl RequestVerifier {
    pub fn new(signing_secret: &SecretString) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, signing_secret.expose_secret().as_bytes()),
        }
    }

    /// Checks `request` as of `now` (the injected clock's reading).
    pub fn verify<'a>(
        &self,
        request: &SignedRequest<'a>,
        now: DateTime<Utc>,
    ) -> Result<Verified<'a>, SignatureError> {
        let raw_ts = request.timestamp.ok_or(SignatureError::MissingTimestamp)?;
        let raw_sig = request.signature.ok_or(SignatureError::MissingSignature)?;
        let ts = timestamp(raw_ts)?;
        let age = now.timestamp() - ts;
        if age > MAX_SKEW_SECONDS {
            return Err(SignatureError::TooOld { seconds: age });
        }
        if -age > MAX_SKEW_SECONDS {
            return Err(SignatureError::FromTheFuture { seconds: -age });
        }
        let presented = mac(raw_sig)?;
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(b"v0:");
        ctx.update(raw_ts);
        ctx.update(b":");
        ctx.update(request.body);
        let expected = ctx.sign();
        constant_time::verify_slices_are_equal(expected.as_ref(), &presented)
            .map_err(|_| SignatureError::Mismatch)?;
        Ok(Verified { body: request.body })
    }
}

/// Why a verified body is not the payload expected. Messages name fields, never their values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the Slack request body is not UTF-8 form data")]
    NotForm,
    #[error("the Slack request repeats the form field {0}")]
    DuplicateField(String),
    #[error("the Slack interaction has no payload field")]
    NoPayload,
    #[error("the Slack payload is not a {expected} payload: {problem}")]
    Shape {
        expected: &'static str,
        problem: String,
    },
    #[error("the Slack interaction is a {0} payload, not block_actions")]
    UnexpectedType(String),
}

/// A `response_url`: a capability to post into the conversation, so `Debug` does not show it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ResponseUrl(String);

impl ResponseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseUrl([REDACTED])")
    }
}

/// A slash command, as Slack posts it to the command's request URL.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SlashCommand {
    pub team_id: String,
    #[serde(default)]
    pub team_domain: Option<String>,
    #[serde(default)]
    pub enterprise_id: Option<String>,
    #[serde(default)]
    pub enterprise_name: Option<String>,
    pub channel_id: String,
    #[serde(default)]
    pub channel_name: Option<String>,
    pub user_id: String,
    /// Deprecated by Slack; `user_id` names the person.
    #[serde(default)]
    pub user_name: Option<String>,
    /// `/grantflow`.
    pub command: String,
    /// Everything after the command.
    #[serde(default)]
    pub text: String,
    pub response_url: ResponseUrl,
    /// Opens a modal, for a few seconds.
    pub trigger_id: String,
    #[serde(default)]
    pub api_app_id: Option<String>,
    #[serde(default)]
    pub is_enterprise_install: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ActionUser {
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ActionTeam {
    pub id: String,
    #[serde(default)]
    pub domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ActionChannel {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// The message the clicked element is on (absent for ephemeral messages).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ActionMessage {
    pub ts: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub bot_id: Option<String>,
    #[serde(default)]
    pub blocks: Vec<Value>,
}

/// One element interaction; for a button, `value` is what the message set on it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Action {
    /// `button`, `static_select`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub action_id: String,
    pub block_id: String,
    #[serde(default)]
    pub value: Option<String>,
    pub action_ts: String,
    #[serde(default)]
    pub text: Option<Value>,
}

/// A `block_actions` interaction: someone used an interactive element (a button) of a message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BlockActions {
    pub user: ActionUser,
    #[serde(default)]
    pub team: Option<ActionTeam>,
    #[serde(default)]
    pub channel: Option<ActionChannel>,
    #[serde(default)]
    pub message: Option<ActionMessage>,
    /// Where the element is (a message, a view); its fields vary with the surface.
    #[serde(default)]
    pub container: Option<Value>,
    pub actions: Vec<Action>,
    #[serde(default)]
    pub response_url: Option<ResponseUrl>,
    pub trigger_id: String,
    #[serde(default)]
    pub api_app_id: Option<String>,
}

/// The form's fields; a field given twice is refused rather than one of its values picked.
fn form(body: &[u8]) -> Result<Map<String, Value>, PayloadError> {
    if std::str::from_utf8(body).is_err() {
        return Err(PayloadError::NotForm);
    }
    let mut seen = BTreeSet::new();
    let mut fields = Map::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if !seen.insert(k.clone()) {
            return Err(PayloadError::DuplicateField(printable(&k)));
        }
        fields.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    Ok(fields)
}

/// A name from the request, shortened and stripped of control characters before it goes into a message.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(40).collect()
}

/// serde's words for a mismatch, without the value it saw (which may be a `response_url` or a person's text).
fn shape(expected: &'static str, e: &serde_json::Error) -> PayloadError {
    let text = e.to_string();
    let problem = if text.starts_with("missing field") {
        text
    } else {
        format!(
            "a field has the wrong type or form (line {}, column {})",
            e.line(),
            e.column()
        )
    };
    PayloadError::Shape { expected, problem }
}

impl<'a> Verified<'a> {
    /// The raw body, as signed.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    pub fn slash_command(&self) -> Result<SlashCommand, PayloadError> {
        let fields = form(self.body)?;
        let command: SlashCommand = serde_json::from_value(Value::Object(fields))
            .map_err(|e| shape("slash command", &e))?;
        if !command.command.starts_with('/') {
            return Err(PayloadError::Shape {
                expected: "slash command",
                problem: "command does not start with /".into(),
            });
        }
        Ok(command)
    }

    /// The type of an interaction (`block_actions`, `view_submission`, …).
    pub fn interaction_type(&self) -> Result<String, PayloadError> {
        let payload = self.interaction()?;
        Ok(payload
            .get("type")
            .and_then(Value::as_str)
            .map(printable)
            .unwrap_or_default())
    }

    fn interaction(&self) -> Result<Value, PayloadError> {
        let mut fields = form(self.body)?;
        let Some(Value::String(text)) = fields.remove("payload") else {
            return Err(PayloadError::NoPayload);
        };
        serde_json::from_str(&text).map_err(|e| shape("JSON interaction", &e))
    }

    pub fn block_actions(&self) -> Result<BlockActions, PayloadError> {
        let payload = self.interaction()?;
        match payload.get("type").and_then(Value::as_str) {
            Some("block_actions") => {}
            Some(other) => return Err(PayloadError::UnexpectedType(printable(other))),
            None => {
                return Err(PayloadError::Shape {
                    expected: "block_actions",
                    problem: "missing field `type`".into(),
                });
            }
        }
        let actions: BlockActions =
            serde_json::from_value(payload).map_err(|e| shape("block_actions", &e))?;
        if actions.actions.is_empty() {
            return Err(PayloadError::Shape {
                expected: "block_actions",
                problem: "actions is empty".into(),
            });
        }
        Ok(actions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    /// `printf 'v0:1531420618:body' | openssl dgst -sha256 -hmac secret`: a vector computed outside this code.
    const VECTOR: &str = "v0=78e394d129df51c593e1d449277f576c39c361411fecc54edd326794263d3f84";

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("time")
    }

    fn sign(secret: &str, ts: &str, body: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let mut msg = format!("v0:{ts}:").into_bytes();
        msg.extend_from_slice(body);
        let tag = hmac::sign(&key, &msg);
        let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        format!("v0={hex}")
    }

    fn verifier(secret: &str) -> RequestVerifier {
        RequestVerifier::new(&SecretString::from(secret.to_owned()))
    }

    fn check(
        secret: &str,
        ts: Option<&str>,
        sig: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        verifier(secret)
            .verify(
                &SignedRequest {
                    timestamp: ts.map(str::as_bytes),
                    signature: sig.map(str::as_bytes),
                    body,
                },
                at(now),
            )
            .map(|_| ())
    }

    const BODY: &[u8] = b"token=x&team_id=T1&channel_id=C1&user_id=U1&command=%2Fgrantflow&text=add+me+to+%23eng&response_url=https%3A%2F%2Fhooks.slack.com%2Factions%2FT1%2F1%2Fk&trigger_id=1.2.3";

    #[test]
    fn a_good_signature_passes_and_matches_an_outside_vector() {
        assert_eq!(
            check(
                "secret",
                Some("1531420618"),
                Some(VECTOR),
                b"body",
                1_531_420_618
            ),
            Ok(())
        );
        let sig = sign(SECRET, "1700000000", BODY);
        assert_eq!(
            check(SECRET, Some("1700000000"), Some(&sig), BODY, 1_700_000_100),
            Ok(())
        );
        // The window's edges are inside it, as in Slack's SDK.
        assert_eq!(
            check(SECRET, Some("1700000000"), Some(&sig), BODY, 1_700_000_300),
            Ok(())
        );
        assert_eq!(
            check(SECRET, Some("1700000000"), Some(&sig), BODY, 1_699_999_700),
            Ok(())
        );
    }

    #[test]
    fn a_signature_from_another_secret_is_a_mismatch() {
        let sig = sign("another-secret", "1700000000", BODY);
        assert_eq!(
            check(SECRET, Some("1700000000"), Some(&sig), BODY, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_body_altered_by_one_byte_is_a_mismatch() {
        let sig = sign(SECRET, "1700000000", BODY);
        for i in [0, BODY.len() / 2, BODY.len() - 1] {
            let mut altered = BODY.to_vec();
            altered[i] ^= 1;
            assert_eq!(
                check(
                    SECRET,
                    Some("1700000000"),
                    Some(&sig),
                    &altered,
                    1_700_000_000
                ),
                Err(SignatureError::Mismatch),
                "byte {i}"
            );
        }
        let mut longer = BODY.to_vec();
        longer.push(b'&');
        assert_eq!(
            check(
                SECRET,
                Some("1700000000"),
                Some(&sig),
                &longer,
                1_700_000_000
            ),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed too.
        assert_eq!(
            check(SECRET, Some("1700000001"), Some(&sig), BODY, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn old_and_future_timestamps_are_refused_before_the_mac() {
        let sig = sign(SECRET, "1700000000", BODY);
        assert_eq!(
            check(SECRET, Some("1700000000"), Some(&sig), BODY, 1_700_000_301),
            Err(SignatureError::TooOld { seconds: 301 })
        );
        assert_eq!(
            check(SECRET, Some("1700000000"), Some(&sig), BODY, 1_699_999_699),
            Err(SignatureError::FromTheFuture { seconds: 301 })
        );
    }

    #[test]
    fn missing_and_garbled_headers_are_refused() {
        let sig = sign(SECRET, "1700000000", BODY);
        let now = 1_700_000_000;
        assert_eq!(
            check(SECRET, None, Some(&sig), BODY, now),
            Err(SignatureError::MissingTimestamp)
        );
        assert_eq!(
            check(SECRET, Some("1700000000"), None, BODY, now),
            Err(SignatureError::MissingSignature)
        );
        for ts in [
            "",
            "-1700000000",
            "+1700000000",
            " 1700000000",
            "1700000000.5",
            "1e9",
            "99999999999999999999",
        ] {
            assert_eq!(
                check(SECRET, Some(ts), Some(&sig), BODY, now),
                Err(SignatureError::MalformedTimestamp),
                "{ts:?}"
            );
        }
        let upper = sig.to_uppercase().replacen("V0=", "v0=", 1);
        for bad in [
            "",
            "v0=",
            "v1=00",
            &sig[3..],
            &sig[..66],
            &upper,
            &format!("{sig}0"),
            "v0=zz",
        ] {
            assert_eq!(
                check(SECRET, Some("1700000000"), Some(bad), BODY, now),
                Err(SignatureError::MalformedSignature),
                "{bad:?}"
            );
        }
        assert!(
            verifier(SECRET)
                .verify(
                    &SignedRequest {
                        timestamp: Some(&[0xff, 0xfe]),
                        signature: Some(&[0xc3, 0x28]),
                        body: &[0xff],
                    },
                    at(now),
                )
                .is_err()
        );
    }

    #[test]
    fn no_refusal_shows_the_secret_or_the_expected_signature() {
        let expected = sign(SECRET, "1700000000", BODY);
        let wrong = sign("x", "1700000000", BODY);
        let refusals = [
            check(SECRET, None, None, BODY, 0),
            check(SECRET, Some("1700000000"), None, BODY, 0),
            check(SECRET, Some("x"), Some(&wrong), BODY, 0),
            check(
                SECRET,
                Some("1700000000"),
                Some("v0=x"),
                BODY,
                1_700_000_000,
            ),
            check(
                SECRET,
                Some("1700000000"),
                Some(&wrong),
                BODY,
                1_800_000_000,
            ),
            check(
                SECRET,
                Some("1700000000"),
                Some(&wrong),
                BODY,
                1_600_000_000,
            ),
            check(
                SECRET,
                Some("1700000000"),
                Some(&wrong),
                BODY,
                1_700_000_000,
            ),
        ];
        for refusal in refusals {
            let e = refusal.expect_err("refused");
            for text in [e.to_string(), format!("{e:?}"), e.code().to_owned()] {
                assert!(!text.contains(SECRET), "{text}");
                assert!(!text.contains(&expected[3..]), "{text}");
            }
        }
        assert!(!format!("{:?}", verifier(SECRET)).contains(SECRET));
    }

    fn verified(body: &[u8]) -> Verified<'_> {
        Verified { body }
    }

    #[test]
    fn slash_commands_parse_into_their_fields() {
        let c = verified(BODY).slash_command().expect("command");
        assert_eq!(c.command, "/grantflow");
        assert_eq!(c.text, "add me to #eng");
        assert_eq!((c.user_id.as_str(), c.channel_id.as_str()), ("U1", "C1"));
        assert_eq!(
            c.response_url.expose(),
            "https://hooks.slack.com/actions/T1/1/k"
        );
        assert!(!format!("{c:?}").contains("hooks.slack.com"));
        assert_eq!(
            verified(b"team_id=T1&team_id=T2").slash_command(),
            Err(PayloadError::DuplicateField("team_id".into()))
        );
        let e = verified(b"team_id=T1&channel_id=C1")
            .slash_command()
            .expect_err("short");
        assert!(e.to_string().contains("missing field `user_id`"), "{e}");
        assert_eq!(
            verified(&[0xff, 0x00]).slash_command(),
            Err(PayloadError::NotForm)
        );
    }

    fn interaction(payload: &Value) -> Vec<u8> {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish()
            .into_bytes()
    }

    #[test]
    fn block_actions_parse_and_other_interactions_are_named() {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": "U1", "username": "ana", "team_id": "T1"},
            "team": {"id": "T1", "domain": "acme"},
            "channel": {"id": "C1", "name": "eng"},
            "container": {"type": "message", "message_ts": "1.000001"},
            "message": {"ts": "1.000001", "text": "Approve?", "blocks": [{"type": "divider", "block_id": "b"}]},
            "actions": [{"type": "button", "action_id": "approve", "block_id": "b", "value": "plan-1",
                         "action_ts": "2.000002", "text": {"type": "plain_text", "text": "Approve"}}],
            "response_url": "https://hooks.slack.com/actions/T1/2/k",
            "trigger_id": "1.2.3",
            "api_app_id": "A1",
            "token": "deprecated",
            "a_field_slack_adds_later": 1,
        });
        let body = interaction(&payload);
        let v = verified(&body);
        assert_eq!(v.interaction_type().as_deref(), Ok("block_actions"));
        let a = v.block_actions().expect("block_actions");
        assert_eq!(a.user.id, "U1");
        assert_eq!(a.actions[0].value.as_deref(), Some("plan-1"));
        assert_eq!(a.actions[0].kind, "button");
        assert_eq!(a.message.as_ref().map(|m| m.ts.as_str()), Some("1.000001"));
        assert_eq!(a.channel.map(|c| c.id), Some("C1".into()));

        let mut other = payload.clone();
        other["type"] = json!("view_submission");
        assert_eq!(
            verified(&interaction(&other)).block_actions(),
            Err(PayloadError::UnexpectedType("view_submission".into()))
        );
        let mut empty = payload.clone();
        empty["actions"] = json!([]);
        assert!(verified(&interaction(&empty)).block_actions().is_err());
        let mut wrong = payload;
        wrong["user"] = json!("U-with-a-secret-looking-value");
        let e = verified(&interaction(&wrong))
            .block_actions()
            .expect_err("shape");
        assert!(!e.to_string().contains("secret-looking"), "{e}");
        assert_eq!(
            verified(b"text=hi").block_actions(),
            Err(PayloadError::NoPayload)
        );
        assert!(matches!(
            verified(b"payload=%7Bnot+json").block_actions(),
            Err(PayloadError::Shape { .. })
        ));
    }
}
