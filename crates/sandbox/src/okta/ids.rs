//! Okta-shaped identifiers and timestamps: `00u…`/`00g…`/`0oa…` ids of 20 characters, millisecond `Z` times.

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;

fn random_alnum(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A 20-character id: the 3-character prefix, a 6-character base62 sequence number and random filler.
/// The sequence makes ids sort in creation order, which keeps `after` cursors stable (as Okta's are).
pub fn object_id(prefix: &str, seq: u64) -> String {
    let mut digits = [b'0'; 6];
    let mut n = seq;
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    let seq_part = String::from_utf8_lossy(&digits).into_owned();
    format!("{prefix}{seq_part}{}", random_alnum(20 - prefix.len() - 6))
}

pub fn request_id() -> String {
    random_alnum(27)
}

pub fn error_id() -> String {
    format!("oae{}", random_alnum(22))
}

pub fn token() -> String {
    format!("00{}", random_alnum(40))
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// ISO-8601 with milliseconds and `Z`, as every Okta timestamp.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// RFC 1123 GMT, the `Date` header format the Python SDK parses for its retry sleep.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
