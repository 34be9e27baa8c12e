//! What a run needs from the rest of grantflow: reads of the directory and changes to systems, which go
//! through plans and the engine (a flow never writes to a system around them). The service implements it;
//! tests may implement it with a fake.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde_json::Value as Json;

/// The code of [`CardError::waiting`].
pub const WAITING: &str = "waiting";

/// Why a card failed: the system's or grantflow's code and message, and whether trying again may help.
#[derive(Debug, Clone, PartialEq)]
pub struct CardError {
    /// The vendor's code (`E0000007`, `INVALID_SESSION_ID`, an HTTP status) or grantflow's.
    pub code: String,
    pub message: String,
    /// The system that answered, when one did.
    pub system: Option<String>,
    pub retryable: bool,
    /// When the system said to try again (a 429's reset, a `Retry-After`).
    pub retry_after: Option<std::time::Duration>,
}

impl CardError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            system: None,
            retryable: false,
            retry_after: None,
        }
    }

    /// Not done yet, and nothing is wrong: an outside event (an approval, a first login) is awaited. The
    /// run parks and asks again after `recheck`.
    pub fn waiting(message: impl Into<String>, recheck: std::time::Duration) -> Self {
        Self {
            code: WAITING.into(),
            message: message.into(),
            system: None,
            retryable: false,
            retry_after: Some(recheck),
        }
    }

    pub fn is_waiting(&self) -> bool {
        self.code == WAITING
    }

    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    pub fn in_system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    pub fn to_json(&self) -> Json {
        serde_json::json!({
            "code": self.code,
            "message": self.message,
            "system": self.system,
            "retryable": self.retryable,
        })
    }
}

impl std::fmt::Display for CardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.system {
            Some(system) => write!(f, "{system}: {} ({})", self.message, self.code),
            None => write!(f, "{} ({})", self.message, self.code),
        }
    }
}

/// A change made ready: the stored plan that will make it (`None` when it is already in effect).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub plan: Option<String>,
    /// What the change is, for the history (`+ kim@example.com → group Engineering (okta)`).
    pub operations: Vec<String>,
}

/// How a change ended: the card's output, and the secrets it produced (a temporary password), which the
/// run keeps in memory only.
#[derive(Debug, Clone)]
pub struct Performed {
    pub output: Json,
    pub secrets: BTreeMap<String, SecretString>,
}

#[async_trait::async_trait]
pub trait Host: Send + Sync {
    /// A read card (`person.get`, `groups.of`, `group.members`).
    async fn read(&self, card: &str, input: &Json) -> Result<Json, CardError>;

    /// Makes and stores the plan of a change card, as `actor`, without applying it.
    async fn prepare(&self, actor: &str, card: &str, input: &Json) -> Result<Prepared, CardError>;

    /// Applies a prepared plan through the engine's gate; applying it again after an interruption resumes
    /// it (its jobs observe before they retry), so the change is made once.
    async fn perform(&self, actor: &str, plan: &str) -> Result<Performed, CardError>;

    /// A message to people (`notify.slack`, `notify.email`).
    async fn notify(&self, card: &str, input: &Json) -> Result<Json, CardError>;
}
