//! The classification every connector gives its failures, so the engine can
//! decide between waiting, retrying, and stopping without knowing the vendor.

use chrono::{DateTime, Utc};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A transient problem (5xx, timeout, connection reset): try again at or
    /// after `at`. Whether the call took effect is unknown, so the engine
    /// observes before retrying.
    RetryLater {
        at: Option<DateTime<Utc>>,
        vendor_code: Option<String>,
        message: String,
    },
    /// The system's rate limit for `bucket` is exhausted until `reset`.
    RateLimited {
        bucket: String,
        reset: DateTime<Utc>,
        message: String,
    },
    /// The operation cannot proceed until something outside grantflow
    /// happens (e.g. a first SSO login); re-check at `recheck_at`.
    Waiting {
        reason: String,
        recheck_at: DateTime<Utc>,
    },
    /// The credentials were refused.
    Unauthorized {
        vendor_code: Option<String>,
        message: String,
    },
    /// The credentials lack a scope the call needs.
    InsufficientScope { scope: String, message: String },
    /// The system refused the operation for good; `vendor_code` and
    /// `message` are the system's own words.
    Permanent {
        vendor_code: String,
        message: String,
        status: Option<u16>,
    },
    /// Configuration is wrong (missing secret, bad URL): nothing was sent.
    Config { message: String },
}

impl Failure {
    /// The vendor's code, or grantflow's own classification when the vendor
    /// gave none.
    pub fn code(&self) -> String {
        match self {
            Failure::RetryLater { vendor_code, .. } | Failure::Unauthorized { vendor_code, .. } => {
                vendor_code
                    .clone()
                    .unwrap_or_else(|| self.kind().to_string())
            }
            Failure::Permanent { vendor_code, .. } => vendor_code.clone(),
            _ => self.kind().to_string(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Failure::RetryLater { .. } => "retry_later",
            Failure::RateLimited { .. } => "rate_limited",
            Failure::Waiting { .. } => "waiting",
            Failure::Unauthorized { .. } => "unauthorized",
            Failure::InsufficientScope { .. } => "insufficient_scope",
            Failure::Permanent { .. } => "permanent",
            Failure::Config { .. } => "config",
        }
    }

    /// `true` when trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Failure::RetryLater { .. } | Failure::RateLimited { .. } | Failure::Waiting { .. }
        )
    }

    pub fn message(&self) -> String {
        match self {
            Failure::RetryLater { message, .. }
            | Failure::RateLimited { message, .. }
            | Failure::Unauthorized { message, .. }
            | Failure::InsufficientScope { message, .. }
            | Failure::Permanent { message, .. }
            | Failure::Config { message } => message.clone(),
            Failure::Waiting { reason, .. } => reason.clone(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::InsufficientScope { scope, message } => {
                write!(f, "missing scope {scope}: {message}")
            }
            Failure::RateLimited { bucket, reset, .. } => {
                write!(f, "rate limited on {bucket} until {reset}")
            }
            other => write!(f, "{}: {}", other.code(), other.message()),
        }
    }
}

impl std::error::Error for Failure {}
