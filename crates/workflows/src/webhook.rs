//! The generic webhook trigger: a POST to `/hooks/flows/{flow}` signed with the flow's shared secret.
//!
//! The sender puts the Unix time in `X-Grantflow-Timestamp` and `sha256=<hex HMAC-SHA256(secret,
//! "<timestamp>.<body>")>` in `X-Grantflow-Signature` (the scheme Slack and Stripe use, so their client
//! libraries' signing code fits). A delivery older or newer than the tolerance is refused, and a
//! delivery seen before (the same timestamp and body) starts no second run: its key is the digest of what
//! was signed.

use std::time::Duration;

use aws_lc_rs::{digest, hmac};
use chrono::{DateTime, Utc};

pub const TIMESTAMP_HEADER: &str = "x-grantflow-timestamp";
pub const SIGNATURE_HEADER: &str = "x-grantflow-signature";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRefusal {
    #[error("the delivery has no {0} header")]
    Missing(&'static str),
    #[error("the timestamp is not a Unix time in seconds")]
    BadTimestamp,
    #[error(
        "the timestamp is {0} seconds away from now, beyond the tolerance (a replay, or a wrong clock)"
    )]
    Stale(i64),
    #[error("the signature does not match the body and timestamp")]
    BadSignature,
}

/// Checks a delivery; returns its de-duplication key.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<String, WebhookRefusal> {
    let timestamp = timestamp
        .ok_or(WebhookRefusal::Missing(TIMESTAMP_HEADER))?
        .trim();
    let signature = signature
        .ok_or(WebhookRefusal::Missing(SIGNATURE_HEADER))?
        .trim();
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| WebhookRefusal::BadTimestamp)?;
    let skew = now.timestamp().saturating_sub(seconds);
    if skew.unsigned_abs() > tolerance.as_secs() {
        return Err(WebhookRefusal::Stale(skew));
    }
    let given = signature
        .strip_prefix("sha256=")
        .and_then(|hex_text| hex::decode(hex_text).ok())
        .ok_or(WebhookRefusal::BadSignature)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut signed = Vec::with_capacity(timestamp.len() + 1 + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    // `verify` compares in constant time.
    hmac::verify(&key, &signed, &given).map_err(|_| WebhookRefusal::BadSignature)?;
    Ok(format!(
        "webhook:{}",
        hex::encode(digest::digest(&digest::SHA256, &signed).as_ref())
    ))
}

/// The signature header for `body` at `timestamp`: what a sender computes (tests and `grantflow flow`
/// use it to sign deliveries).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("sha256={}", hex::encode(hmac::sign(&key, &signed).as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_delivery_passes_once_and_a_forgery_or_replay_does_not() {
        let now = Utc::now();
        let body = br#"{"hello":"world"}"#;
        let signature = sign(b"s3cret", now.timestamp(), body);
        let ts = now.timestamp().to_string();
        let tolerance = Duration::from_secs(300);
        let key = verify(b"s3cret", Some(&ts), Some(&signature), body, now, tolerance).unwrap();
        // The same delivery again has the same key: it starts no second run.
        assert_eq!(
            verify(b"s3cret", Some(&ts), Some(&signature), body, now, tolerance).unwrap(),
            key
        );
        assert_eq!(
            verify(b"other", Some(&ts), Some(&signature), body, now, tolerance),
            Err(WebhookRefusal::BadSignature)
        );
        assert_eq!(
            verify(
                b"s3cret",
                Some(&ts),
                Some(&signature),
                b"{}",
                now,
                tolerance
            ),
            Err(WebhookRefusal::BadSignature)
        );
        let later = now + chrono::Duration::seconds(301);
        assert!(matches!(
            verify(
                b"s3cret",
                Some(&ts),
                Some(&signature),
                body,
                later,
                tolerance
            ),
            Err(WebhookRefusal::Stale(_))
        ));
        assert_eq!(
            verify(b"s3cret", None, Some(&signature), body, now, tolerance),
            Err(WebhookRefusal::Missing(TIMESTAMP_HEADER))
        );
    }
}
