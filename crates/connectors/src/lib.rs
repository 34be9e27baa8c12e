//! Connectors: one module per system behind one `Connector` trait.
//!
//! A connector maps its system's native model into the common model
//! (`sync`), performs one operation idempotently (`apply`), reads back
//! whether an operation's effect is present (`observe`), and classifies
//! every failure so the engine knows whether to wait, retry or stop.
//!
//! Every HTTP connector sends through the one [`transport`]: it supplies a
//! [`transport::Dialect`] (credentials, rate-limit headers, error bodies) and
//! says how each listing pages; the transport owns retries, rate-limit waits,
//! budgets, redirects and their bounds. AWS goes through the official SDK.
//!
//! Architecture invariant: connectors never touch the store. They receive
//! operations and return outcomes; recording them is the engine's job.
//! Adding a system means one module here (config, client with its dialect,
//! mapping, mod), its `pub mod` and one line in the `systems!` list below, one
//! emulator module in the sandbox, one conformance suite, and one compliance
//! module declared in one line of the compliance `contract!`
//! (`docs/adding-a-system.md` lists every file).

pub mod aws;
pub mod bamboohr;
pub mod datadog;
mod failure;
pub mod github;
pub mod gitlab;
pub mod google;
pub mod jira;
pub mod okta;
pub mod opa;
pub mod ratelimit;
pub mod salesforce;
pub mod scim;
mod secret;
pub mod slack;
pub mod transport;

pub use failure::Failure;
pub use ratelimit::{BucketState, Budget, BudgetHandle, BudgetLedger, RateBudgets};
pub use secret::SecretSource;
pub use transport::{Dialect, TransportLimits};

use async_trait::async_trait;
use grantflow_model::{
    Account, ConnectionName, Grant, Operation, ProfileSchema, Resource, ResourceGrant, Snapshot,
    SystemKind,
};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;

/// What a connector can do, for `describe()`.
#[derive(Debug, Clone)]
pub struct Description {
    pub system: SystemKind,
    pub connection: ConnectionName,
    pub base_url: String,
    /// The operation verbs (`Operation::verb`) this connector performs: all of them and only them, so a
    /// plan can refuse any other before it is stored.
    pub operations: Vec<&'static str>,
    /// Rate-limit buckets the connector tracks.
    pub rate_limit_buckets: Vec<&'static str>,
    /// The system creates a person's account at their first sign-in (GitLab
    /// with SSO): grants for people without an account are planned and wait.
    pub accounts_created_on_first_login: bool,
}

/// What `apply` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The call made the change.
    Changed,
    /// The system said the effect was already there (e.g. Okta's 409
    /// E0000062 for an existing app assignment); nothing changed.
    AlreadyPresent,
}

/// Whether an operation's effect is present in the system now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// The operation's intended end state holds (for a removal: the grant is gone).
    Done,
    NotDone,
}

impl Observed {
    /// `Done` when the effect `op` wants holds: `present` for an addition, absent for a removal.
    pub fn of(op: &Operation, present: bool) -> Self {
        Observed::from(present == op.widens_access())
    }
}

impl From<bool> for Observed {
    /// `Done` when the effect is there.
    fn from(done: bool) -> Self {
        if done {
            Observed::Done
        } else {
            Observed::NotDone
        }
    }
}

/// What an incremental sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncChanges {
    /// The snapshot now reflects every change up to `cursor`; `events` were read.
    Applied { cursor: String, events: u64 },
    /// The connector cannot sync incrementally: do a full sync.
    Unsupported,
    /// The cursor is older than the system keeps changes for: do a full sync.
    CursorExpired { message: String },
}

/// Events read from a system's event log, and where the next read resumes.
#[derive(Debug, Clone, PartialEq)]
pub struct EventLogRead {
    pub events: Vec<serde_json::Value>,
    pub cursor: String,
}

/// One event-hook delivery, as far as grantflow cares: its id (to
/// de-duplicate on) and how many change events it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookDelivery {
    pub id: String,
    pub events: usize,
}

/// How a system calls grantflow back with changes (Okta event hooks).
/// Header names are lower case.
pub trait HookReceiver: Send + Sync {
    /// The answer to a one-time verification request, when `headers` carry one.
    fn verification(&self, headers: &BTreeMap<String, String>) -> Option<serde_json::Value>;
    /// Whether a delivery carries the configured shared secret.
    fn authenticate(&self, headers: &BTreeMap<String, String>) -> bool;
    /// Reads a delivery's body.
    fn delivery(&self, body: &[u8]) -> Result<HookDelivery, Failure>;

    /// Checks one delivery as it arrived (lower-case header names, the raw body, the injected clock's
    /// `now`) and reads it. By default the shared secret in the headers, then [`HookReceiver::delivery`];
    /// a system that signs the body (BambooHR) checks the signature over the raw bytes before any parsing.
    fn receive(
        &self,
        headers: &BTreeMap<String, String>,
        body: &[u8],
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<HookDelivery, HookRefusal> {
        if !self.authenticate(headers) {
            return Err(HookRefusal::NotAuthenticated {
                code: "hook_secret_mismatch",
                reason: "the delivery does not carry the hook's shared secret".into(),
            });
        }
        self.delivery(body).map_err(HookRefusal::Malformed)
    }
}

/// Why a hook delivery is not taken.
#[derive(Debug, Clone, PartialEq)]
pub enum HookRefusal {
    /// Not shown to be the system's (no or a wrong secret or signature, a stale or future timestamp). The
    /// reason names what is wrong, never the secret, the expected signature or the body.
    NotAuthenticated { code: &'static str, reason: String },
    /// Authentic, but not a delivery grantflow can read.
    Malformed(Failure),
}

/// Where a sync sends what it reads. The caller owns the sink; a snapshot is
/// the simplest one.
pub trait SyncSink: Send {
    fn account(&mut self, account: Account);
    fn resource(&mut self, resource: Resource);
    fn grant(&mut self, grant: Grant);
    fn resource_grant(&mut self, grant: ResourceGrant);
    /// The profile attributes the system declares for its users (the
    /// directory's user schema), when it publishes one.
    fn profile_schema(&mut self, _schema: ProfileSchema) {}
    /// `stage` is what is being read ("users", "groups", …); `done` counts
    /// objects read so far in that stage.
    fn progress(&mut self, _stage: &str, _done: u64) {}
}

impl SyncSink for Snapshot {
    fn account(&mut self, account: Account) {
        self.accounts.push(account);
    }
    fn resource(&mut self, resource: Resource) {
        self.resources.push(resource);
    }
    fn grant(&mut self, grant: Grant) {
        self.grants.push(grant);
    }
    fn resource_grant(&mut self, grant: ResourceGrant) {
        self.resource_grants.push(grant);
    }
    fn profile_schema(&mut self, schema: ProfileSchema) {
        self.profile_schema = Some(schema);
    }
}

/// Where a message landed: the conversation's id (a `D…` id when it was posted to a person) and its
/// id there (Slack's `ts`), which together name it for an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedMessage {
    pub channel: String,
    pub ts: String,
}

/// Records created in a system, read by polling their creation time.
#[async_trait]
pub trait RecordFeed: Send + Sync {
    /// The records of `object` created at or after `since` (the system's own
    /// timestamp text, as a record's `CreatedDate` gives it), oldest first, at
    /// most `limit`; each with `Id`, `Name`, `CreatedDate` and `CreatedById`.
    /// Without `since`, only the newest record: where a new feed starts.
    async fn records_created(
        &self,
        object: &str,
        since: Option<&str>,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, Failure>;
}

/// Posting as grantflow's app in a chat system.
#[async_trait]
pub trait Chat: Send + Sync {
    /// Posts `text` (the notification fallback) with optional Block Kit `blocks` to a channel id, or to a
    /// person's user id as a direct message.
    async fn post(
        &self,
        channel: &str,
        text: &str,
        blocks: &[serde_json::Value],
    ) -> Result<PostedMessage, Failure>;

    /// Replaces one of the app's messages.
    async fn update(
        &self,
        message: &PostedMessage,
        text: &str,
        blocks: &[serde_json::Value],
    ) -> Result<(), Failure>;

    /// The secret the chat system signs what it sends grantflow with (slash commands, button clicks),
    /// when configured.
    fn signing_secret(&self) -> Option<&secrecy::SecretString>;
}

#[async_trait]
pub trait Connector: Send + Sync {
    fn describe(&self) -> Description;

    /// Checks credentials and reachability with a cheap authenticated call: at most one page of one or two
    /// listings, never a whole listing.
    async fn health(&self) -> Result<(), Failure>;

    /// Reads everything in scope into `sink`.
    async fn sync(&self, sink: &mut dyn SyncSink) -> Result<(), Failure>;

    /// Performs one operation. Idempotent: applying an operation whose
    /// effect is already present succeeds without a duplicate.
    async fn apply(&self, op: &Operation) -> Result<Applied, Failure>;

    /// Reads whether `op`'s effect is present, without changing anything.
    async fn observe(&self, op: &Operation) -> Result<Observed, Failure>;

    /// Refuses an operation this connector cannot perform (an unknown
    /// action, a bad option) before it is planned or stored.
    fn check(&self, _op: &Operation) -> Result<(), Failure> {
        Ok(())
    }

    /// How long the system keeps its change feed; a cursor older than this
    /// cannot resume and the next sync is a full one.
    fn change_feed_retention(&self) -> Option<std::time::Duration> {
        None
    }

    /// The position in the system's change feed to resume from after a
    /// full sync that starts now; `None` when there is no change feed.
    async fn change_cursor(&self) -> Result<Option<String>, Failure> {
        Ok(None)
    }

    /// Brings `snapshot` (the result of an earlier sync) up to date with the
    /// changes made since `cursor`, reading only what changed. The result
    /// must equal what a full sync would read now.
    async fn sync_changes(
        &self,
        _cursor: &str,
        _snapshot: &mut Snapshot,
    ) -> Result<SyncChanges, Failure> {
        Ok(SyncChanges::Unsupported)
    }

    /// The system's events after `cursor` (without one: from now on), oldest first, with the cursor to
    /// resume at; `None` when the system publishes no event log. Okta's System Log: what flows' Okta
    /// triggers poll when event hooks are not configured.
    async fn read_events(&self, _cursor: Option<&str>) -> Result<Option<EventLogRead>, Failure> {
        Ok(None)
    }

    /// The receiver for the system's event hooks, when it has them and
    /// they are configured.
    fn hook_receiver(&self) -> Option<&dyn HookReceiver> {
        None
    }

    /// The system's messaging, when it is a chat system grantflow can post
    /// to (requests' notices and approval messages).
    fn chat(&self) -> Option<&dyn Chat> {
        None
    }

    /// The system's new records, when flows can be started by their creation
    /// and the system has no webhook to say so (Salesforce).
    fn record_feed(&self) -> Option<&dyn RecordFeed> {
        None
    }

    /// A secret an applied operation produced for a person to see once
    /// (e.g. a temporary password). It is handed out at most once and is
    /// never part of the operation, the plan, the store or the audit trail.
    fn take_secret(&self, _op: &Operation) -> Option<SecretString> {
        None
    }
}

/// The systems, one line each: the `kind:` in grantflow.yaml (the variant, in snake case), its settings and
/// its connector. The list makes [`ConnectionConfig`], [`ConnectionConfig::system`] and [`build`].
macro_rules! systems {
    ($($(#[$meta:meta])* $variant:ident($config:ty) => $module:ident::$connector:ident,)*) => {
        /// One connection as configured in grantflow.yaml. Secrets are never
        /// written here: only the name of an environment variable or a file.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
        pub enum ConnectionConfig {
            $($(#[$meta])* $variant($config),)*
        }

        impl ConnectionConfig {
            pub fn system(&self) -> SystemKind {
                match self {
                    $(ConnectionConfig::$variant(_) => SystemKind::new($module::SYSTEM),)*
                }
            }
        }

        /// Builds the connector for one configured connection.
        pub fn build(
            name: &ConnectionName,
            config: &ConnectionConfig,
            context: &BuildContext,
        ) -> Result<Box<dyn Connector>, Failure> {
            match config {
                $(ConnectionConfig::$variant(config) => {
                    Ok(Box::new($module::$connector::new(name.clone(), config, context)?))
                })*
            }
        }
    };
}

systems! {
    // Boxed: OAuth, scoped sync and hook settings make it much larger than the rest.
    Okta(Box<okta::OktaConfig>) => okta::OktaConnector,
    Google(google::GoogleConfig) => google::GoogleConnector,
    Github(github::GithubConfig) => github::GithubConnector,
    Gitlab(gitlab::GitlabConfig) => gitlab::GitlabConnector,
    Slack(slack::SlackConfig) => slack::SlackConnector,
    Aws(aws::AwsConfig) => aws::AwsConnector,
    Scim(scim::ScimConfig) => scim::ScimConnector,
    Opa(opa::OpaConfig) => opa::OpaConnector,
    Jira(jira::JiraConfig) => jira::JiraConnector,
    Salesforce(salesforce::SalesforceConfig) => salesforce::SalesforceConnector,
    Datadog(datadog::DatadogConfig) => datadog::DatadogConnector,
    Bamboohr(bamboohr::BamboohrConfig) => bamboohr::BamboohrConnector,
}

/// What building a connector may need besides its own settings.
#[derive(Clone)]
pub struct BuildContext {
    /// The folder relative secret files are resolved against (the folder of
    /// grantflow.yaml).
    pub base_dir: std::path::PathBuf,
    /// Rate budgets shared by every connector built with this context.
    pub budgets: std::sync::Arc<RateBudgets>,
    /// The one clock: rate-limit resets, token expiry and polling read it.
    pub clock: std::sync::Arc<dyn grantflow_model::Clock>,
    /// How long one call may wait in all, and how far ahead a vendor's reset is believed. The engine keeps
    /// `limits.max_wait` below its job lease, so no call outlives the lease by waiting.
    pub limits: TransportLimits,
}

impl BuildContext {
    /// A context for connections whose relative secret files live in `base_dir`,
    /// with budgets of their own, the wall clock and the default limits.
    pub fn new(base_dir: impl Into<std::path::PathBuf>) -> Self {
        Self {
            base_dir: base_dir.into(),
            budgets: Default::default(),
            clock: std::sync::Arc::new(grantflow_model::SystemClock),
            limits: TransportLimits::default(),
        }
    }

    /// A connection's secret (`field` in its settings), read from its environment variable or file.
    pub fn secret(
        &self,
        connection: &ConnectionName,
        field: &str,
        source: &SecretSource,
    ) -> Result<SecretString, Failure> {
        source.read(&format!("connection {connection}: {field}"), &self.base_dir)
    }

    /// The budgets of one connection, read with this context's clock.
    pub fn budget_handle(&self, connection: &ConnectionName) -> BudgetHandle {
        self.budgets.handle(connection.clone(), self.clock.clone())
    }
}

impl std::fmt::Debug for BuildContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext")
            .field("base_dir", &self.base_dir)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The email a `pending:<email>` account is found by once it exists (its login when the id names none);
/// `None` for an account the system already knows.
pub(crate) fn pending_email(account: &grantflow_model::AccountRef) -> Option<&str> {
    account.pending_email().map(|email| {
        if email.is_empty() {
            account.login.as_str()
        } else {
            email
        }
    })
}
