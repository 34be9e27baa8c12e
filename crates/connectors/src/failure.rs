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
    /// The system refused for good: its `code` and `message` verbatim, and the HTTP status when there was one.
    pub fn permanent(
        code: impl Into<String>,
        message: impl Into<String>,
        status: Option<u16>,
    ) -> Self {
        Failure::Permanent {
            vendor_code: code.into(),
            message: message.into(),
            status,
        }
    }

    /// An operation this connector does not perform (refused before anything is sent).
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::permanent("unsupported", message, None)
    }

    /// An answer that is not what the API documents (a list that is not a list, a missing field).
    pub fn unexpected_response(message: impl Into<String>, status: Option<u16>) -> Self {
        Self::permanent("unexpected_response", message, status)
    }

    /// A transient problem (5xx, timeout, lost answer): try again, whenever the engine sees fit.
    pub fn retry_later(vendor_code: Option<String>, message: impl Into<String>) -> Self {
        Failure::RetryLater {
            at: None,
            vendor_code,
            message: message.into(),
        }
    }

    /// A transient problem the system (or the connector) says to try again after at `at`.
    pub fn retry_at(
        at: DateTime<Utc>,
        vendor_code: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Failure::RetryLater {
            at: Some(at),
            vendor_code,
            message: message.into(),
        }
    }

    /// The rate limit of `bucket` is spent until `reset`.
    pub fn rate_limited(
        bucket: impl Into<String>,
        reset: DateTime<Utc>,
        message: impl Into<String>,
    ) -> Self {
        Failure::RateLimited {
            bucket: bucket.into(),
            reset,
            message: message.into(),
        }
    }

    /// The credentials were refused.
    pub fn unauthorized(vendor_code: Option<String>, message: impl Into<String>) -> Self {
        Failure::Unauthorized {
            vendor_code,
            message: message.into(),
        }
    }

    /// The configuration is wrong; nothing was sent.
    pub fn config(message: impl Into<String>) -> Self {
        Failure::Config {
            message: message.into(),
        }
    }

    /// A permanent refusal with this vendor code.
    pub fn is_vendor_code(&self, code: &str) -> bool {
        matches!(self, Failure::Permanent { vendor_code, .. } if vendor_code == code)
    }

    /// A permanent refusal answered with this HTTP status.
    pub fn is_status(&self, status: u16) -> bool {
        matches!(self, Failure::Permanent { status: Some(s), .. } if *s == status)
    }

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
