//! Okta event hooks on grantflow's side: the one-time verification challenge
//! (`x-okta-verification-challenge` echoed as `{"verification": …}`), the
//! shared-secret header on each delivery, and the delivery envelope's
//! `eventId` that de-duplication keys on (notes/okta.md §1.7).

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Failure, HookDelivery, HookReceiver};

pub struct OktaHooks {
    /// Lower-case header name carrying the secret.
    header: String,
    secret: SecretString,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    event_id: String,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(default)]
    events: Vec<Value>,
}

impl OktaHooks {
    pub fn new(header: &str, secret: SecretString) -> Self {
        Self {
            header: header.to_ascii_lowercase(),
            secret,
        }
    }
}

/// Compares without an early exit, so the time taken says nothing about the secret.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl HookReceiver for OktaHooks {
    fn verification(&self, headers: &BTreeMap<String, String>) -> Option<Value> {
        let challenge = headers.get("x-okta-verification-challenge")?;
        Some(json!({ "verification": challenge }))
    }

    fn authenticate(&self, headers: &BTreeMap<String, String>) -> bool {
        headers.get(&self.header).is_some_and(|presented| {
            same(presented.as_bytes(), self.secret.expose_secret().as_bytes())
        })
    }

    fn delivery(&self, body: &[u8]) -> Result<HookDelivery, Failure> {
        let envelope: Envelope =
            serde_json::from_slice(body).map_err(|error| Failure::Permanent {
                vendor_code: "bad_delivery".into(),
                message: format!("not an Okta event hook delivery: {error}"),
                status: None,
            })?;
        if envelope.event_id.trim().is_empty() {
            return Err(Failure::Permanent {
                vendor_code: "bad_delivery".into(),
                message: "the delivery has no eventId".into(),
                status: None,
            });
        }
        Ok(HookDelivery {
            id: envelope.event_id,
            events: envelope.data.map(|d| d.events.len()).unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks() -> OktaHooks {
        OktaHooks::new("Authorization", SecretString::from("s3cret"))
    }

    #[test]
    fn the_challenge_is_echoed_and_only_the_configured_secret_is_accepted() {
        let mut headers = BTreeMap::new();
        assert_eq!(hooks().verification(&headers), None);
        headers.insert("x-okta-verification-challenge".into(), "abc".into());
        assert_eq!(
            hooks().verification(&headers),
            Some(json!({"verification": "abc"}))
        );
        assert!(!hooks().authenticate(&headers));
        headers.insert("authorization".into(), "s3cre".into());
        assert!(!hooks().authenticate(&headers));
        headers.insert("authorization".into(), "s3cret".into());
        assert!(hooks().authenticate(&headers));
    }

    #[test]
    fn a_delivery_is_keyed_by_its_event_id() {
        let body = json!({"eventType": "com.okta.event_hook", "eventId": "e-1",
            "data": {"events": [{"uuid": "u1"}, {"uuid": "u2"}]}});
        let delivery = hooks()
            .delivery(body.to_string().as_bytes())
            .expect("parses");
        assert_eq!(delivery.id, "e-1");
        assert_eq!(delivery.events, 2);
        assert!(hooks().delivery(b"{}").is_err());
    }
}
