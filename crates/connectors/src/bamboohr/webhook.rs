//! BambooHR's signed webhooks. Each delivery carries `X-BambooHR-Timestamp` and `X-BambooHR-Signature`: the
//! lower-case hex SHA-256 HMAC, keyed with the webhook's private key (shown once when the webhook is
//! created), of the raw request body followed by the timestamp, with nothing between (BambooHR's webhook
//! page; the concatenation order as Nango and BambooHR's PHP sample state it). The signature is checked
//! over the bytes as received, in constant time, before the body is parsed; a timestamp more than five
//! minutes from now either way is refused (a replay, or a clock far off).
//!
//! A delivery is either an event-based payload (`{"type": "employee.updated", "timestamp": …, "data":
//! {"employeeId": …, "changedFields": […]}}`) or a field-based one (`{"employees": [{"id", "changedFields",
//! "fields"}], "fields": {…}}`). Either way it only wakes an incremental sync of the connection: the change
//! feed is the source of truth, so the payload's own fields are not trusted or kept. Its id, for
//! de-duplication, is a digest of the signature (a replayed delivery has the same one).

use std::collections::BTreeMap;
use std::fmt;

use aws_lc_rs::{digest, hmac};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::{Failure, HookDelivery, HookReceiver, HookRefusal};

pub const TIMESTAMP_HEADER: &str = "x-bamboohr-timestamp";
pub const SIGNATURE_HEADER: &str = "x-bamboohr-signature";

/// How far a delivery's timestamp may be from now, either way.
pub const MAX_SKEW_SECONDS: i64 = 5 * 60;

/// The receiver of one connection's webhook deliveries.
pub struct BamboohrHooks {
    key: hmac::Key,
}

impl fmt::Debug for BamboohrHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BamboohrHooks { .. }")
    }
}

/// The signature BambooHR sends for `body` at `timestamp` (the header's text), as lower-case hex. The
/// sandbox signs its deliveries with this.
pub fn sign(private_key: &[u8], body: &[u8], timestamp: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, private_key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(body);
    ctx.update(timestamp.as_bytes());
    hex::encode(ctx.sign().as_ref())
}

fn refused(code: &'static str, reason: impl Into<String>) -> HookRefusal {
    HookRefusal::NotAuthenticated {
        code,
        reason: reason.into(),
    }
}

/// The header's moment: Unix seconds (what BambooHR sends), or an RFC 3339 / ISO 8601 time.
fn moment(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if !raw.is_empty() && raw.len() <= 12 && raw.bytes().all(|b| b.is_ascii_digit()) {
        return DateTime::from_timestamp(raw.parse().ok()?, 0);
    }
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn malformed(message: impl Into<String>) -> HookRefusal {
    HookRefusal::Malformed(Failure::permanent("bad_delivery", message, None))
}

impl BamboohrHooks {
    pub fn new(private_key: &SecretString) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, private_key.expose_secret().as_bytes()),
        }
    }

    /// Checks the signature and the timestamp of a delivery as of `now`.
    pub fn verify(
        &self,
        headers: &BTreeMap<String, String>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<String, HookRefusal> {
        let timestamp = headers.get(TIMESTAMP_HEADER).ok_or_else(|| {
            refused(
                "bamboohr_signature_missing",
                "the delivery has no X-BambooHR-Timestamp header",
            )
        })?;
        let signature = headers.get(SIGNATURE_HEADER).ok_or_else(|| {
            refused(
                "bamboohr_signature_missing",
                "the delivery has no X-BambooHR-Signature header (is the webhook's private key set?)",
            )
        })?;
        let at = moment(timestamp).ok_or_else(|| {
            refused(
                "bamboohr_signature_malformed",
                "the delivery's X-BambooHR-Timestamp is not a time",
            )
        })?;
        let mac = hex::decode(signature.trim())
            .ok()
            .filter(|m| m.len() == 32)
            .ok_or_else(|| {
                refused(
                    "bamboohr_signature_malformed",
                    "the delivery's X-BambooHR-Signature is not 64 hex digits",
                )
            })?;
        let skew = (now - at).num_seconds();
        if skew > MAX_SKEW_SECONDS {
            return Err(refused(
                "bamboohr_signature_stale",
                format!(
                    "the delivery was signed {skew} s ago, more than the {MAX_SKEW_SECONDS} s allowed (a replay, or a clock far off)"
                ),
            ));
        }
        if -skew > MAX_SKEW_SECONDS {
            return Err(refused(
                "bamboohr_signature_stale",
                format!(
                    "the delivery was signed {} s in the future, more than the {MAX_SKEW_SECONDS} s allowed",
                    -skew
                ),
            ));
        }
        let mut signed = Vec::with_capacity(body.len() + timestamp.len());
        signed.extend_from_slice(body);
        signed.extend_from_slice(timestamp.as_bytes());
        // Constant time.
        hmac::verify(&self.key, &signed, &mac).map_err(|_| {
            refused(
                "bamboohr_signature_mismatch",
                "the delivery's signature does not match its body and timestamp (not signed with this webhook's private key, or altered)",
            )
        })?;
        Ok(hex::encode(
            digest::digest(
                &digest::SHA256,
                &[timestamp.as_bytes(), b"\n", &mac].concat(),
            )
            .as_ref(),
        ))
    }
}

/// How many employee events a verified body carries.
fn events(body: &[u8]) -> Result<usize, HookRefusal> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not a BambooHR webhook payload (JSON): {e}")))?;
    // Event-based: one event, named by `type`.
    if let Some(kind) = value.get("type").and_then(Value::as_str) {
        return Ok(usize::from(kind.starts_with("employee.")));
    }
    // Field-based: the employees whose monitored fields changed.
    if let Some(employees) = value.get("employees").and_then(Value::as_array) {
        return Ok(employees.len());
    }
    Err(malformed(
        "not a BambooHR webhook payload: neither an event (type) nor field-based (employees)",
    ))
}

impl HookReceiver for BamboohrHooks {
    /// BambooHR sends no verification request.
    fn verification(&self, _: &BTreeMap<String, String>) -> Option<Value> {
        None
    }

    /// Headers alone never authenticate a BambooHR delivery: the signature covers the body.
    fn authenticate(&self, _: &BTreeMap<String, String>) -> bool {
        false
    }

    fn delivery(&self, body: &[u8]) -> Result<HookDelivery, Failure> {
        let id = hex::encode(digest::digest(&digest::SHA256, body).as_ref());
        match events(body) {
            Ok(events) => Ok(HookDelivery { id, events }),
            Err(HookRefusal::Malformed(failure)) => Err(failure),
            Err(HookRefusal::NotAuthenticated { reason, .. }) => {
                Err(Failure::permanent("bad_delivery", reason, None))
            }
        }
    }

    fn receive(
        &self,
        headers: &BTreeMap<String, String>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<HookDelivery, HookRefusal> {
        let id = self.verify(headers, body, now)?;
        Ok(HookDelivery {
            id,
            events: events(body)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "a3f1c0ffee";

    fn hooks() -> BamboohrHooks {
        BamboohrHooks::new(&SecretString::from(KEY))
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).expect("time")
    }

    fn headers(timestamp: &str, signature: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (TIMESTAMP_HEADER.to_string(), timestamp.to_string()),
            (SIGNATURE_HEADER.to_string(), signature.to_string()),
        ])
    }

    const EVENT: &[u8] = br#"{"type":"employee.updated","timestamp":"2026-05-28T20:26:40+0000","data":{"companyId":"12345","employeeId":"40","changedFields":["department"]}}"#;

    #[test]
    fn the_signature_is_the_hmac_of_body_then_timestamp() {
        // Computed independently: printf '%s%s' "$body" 1780000000 | openssl dgst -sha256 -hmac a3f1c0ffee
        let expected = {
            let key = hmac::Key::new(hmac::HMAC_SHA256, KEY.as_bytes());
            hex::encode(hmac::sign(&key, &[EVENT, b"1780000000"].concat()).as_ref())
        };
        assert_eq!(sign(KEY.as_bytes(), EVENT, "1780000000"), expected);
        assert_ne!(
            sign(KEY.as_bytes(), EVENT, "1780000000"),
            hex::encode(
                hmac::sign(
                    &hmac::Key::new(hmac::HMAC_SHA256, KEY.as_bytes()),
                    &[b"1780000000".as_slice(), EVENT].concat()
                )
                .as_ref()
            ),
            "the timestamp comes after the body"
        );
        assert_eq!(sign(KEY.as_bytes(), EVENT, "1780000000").len(), 64);
    }

    #[test]
    fn a_good_signature_is_taken_and_the_same_delivery_has_the_same_id() {
        let ts = "1780000000";
        let good = headers(ts, &sign(KEY.as_bytes(), EVENT, ts));
        let delivery = hooks().receive(&good, EVENT, now()).expect("accepted");
        assert_eq!(delivery.events, 1);
        let again = hooks()
            .receive(&good, EVENT, now() + chrono::Duration::seconds(60))
            .expect("still in the window");
        assert_eq!(delivery.id, again.id, "a replay is recognised by its id");
        let later = "1780000030";
        let other = hooks()
            .receive(
                &headers(later, &sign(KEY.as_bytes(), EVENT, later)),
                EVENT,
                now(),
            )
            .expect("accepted");
        assert_ne!(delivery.id, other.id, "a new signing is a new delivery");
        let upper = headers(ts, &sign(KEY.as_bytes(), EVENT, ts).to_uppercase());
        assert!(hooks().receive(&upper, EVENT, now()).is_ok());
    }

    fn code(result: Result<HookDelivery, HookRefusal>) -> &'static str {
        match result {
            Err(HookRefusal::NotAuthenticated { code, reason }) => {
                assert!(!reason.contains(KEY), "the key never shows");
                code
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn bad_missing_stale_and_future_signatures_are_refused_by_name() {
        let ts = "1780000000";
        let good = sign(KEY.as_bytes(), EVENT, ts);
        let h = hooks();
        assert_eq!(
            code(h.receive(&headers(ts, &sign(b"another key", EVENT, ts)), EVENT, now())),
            "bamboohr_signature_mismatch"
        );
        let altered = EVENT.to_vec().into_iter().rev().collect::<Vec<_>>();
        assert_eq!(
            code(h.receive(&headers(ts, &good), &altered, now())),
            "bamboohr_signature_mismatch"
        );
        assert_eq!(
            code(h.receive(&headers("1780000001", &good), EVENT, now())),
            "bamboohr_signature_mismatch",
            "the timestamp is signed too"
        );
        assert_eq!(
            code(h.receive(&BTreeMap::new(), EVENT, now())),
            "bamboohr_signature_missing"
        );
        let only_ts = BTreeMap::from([(TIMESTAMP_HEADER.to_string(), ts.to_string())]);
        assert_eq!(
            code(h.receive(&only_ts, EVENT, now())),
            "bamboohr_signature_missing"
        );
        assert_eq!(
            code(h.receive(&headers(ts, "zz"), EVENT, now())),
            "bamboohr_signature_malformed"
        );
        assert_eq!(
            code(h.receive(&headers("yesterday", &good), EVENT, now())),
            "bamboohr_signature_malformed"
        );
        assert_eq!(
            code(h.receive(
                &headers(ts, &good),
                EVENT,
                now() + chrono::Duration::seconds(301)
            )),
            "bamboohr_signature_stale"
        );
        assert_eq!(
            code(h.receive(
                &headers(ts, &good),
                EVENT,
                now() - chrono::Duration::seconds(301)
            )),
            "bamboohr_signature_stale"
        );
        assert!(
            h.receive(
                &headers(ts, &good),
                EVENT,
                now() + chrono::Duration::seconds(300)
            )
            .is_ok(),
            "five minutes is still in the window"
        );
        assert!(
            !h.authenticate(&headers(ts, &good)),
            "headers alone never do"
        );
    }

    #[test]
    fn field_based_payloads_count_their_employees_and_other_bodies_are_malformed() {
        let ts = "1780000000";
        let body = br#"{"employees":[{"id":"40","action":"Updated","changedFields":["Department"],"fields":{"Department":{"value":"Sales"}}},{"id":"41","action":"Created","changedFields":[],"fields":{}}],"fields":{"Department":"Department"}}"#;
        let d = hooks()
            .receive(&headers(ts, &sign(KEY.as_bytes(), body, ts)), body, now())
            .expect("accepted");
        assert_eq!(d.events, 2);
        let junk = b"not json";
        match hooks().receive(&headers(ts, &sign(KEY.as_bytes(), junk, ts)), junk, now()) {
            Err(HookRefusal::Malformed(f)) => assert!(f.message().contains("not a BambooHR")),
            other => panic!("expected malformed, got {other:?}"),
        }
        assert!(hooks().delivery(br#"{"other": 1}"#).is_err());
        let rfc = "2026-05-28T20:26:40Z";
        assert!(
            hooks()
                .receive(
                    &headers(rfc, &sign(KEY.as_bytes(), EVENT, rfc)),
                    EVENT,
                    now()
                )
                .is_ok(),
            "an RFC 3339 timestamp is read too"
        );
    }
}
