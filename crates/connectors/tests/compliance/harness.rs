//! The contract every connector keeps against its emulator, and what a system brings to it.
//!
//! A system implements [`System`] (how to build its connector against the sandbox, and a person, resource
//! and operation of its own for each case) and is declared with one line in `main.rs`'s `contract!`, which
//! runs every case below as its own test: `contract::<system>::<case>`.
//!
//! | case                  | what must hold                                                                    |
//! |-----------------------|-----------------------------------------------------------------------------------|
//! | `sync_round_trip`     | a sync reads the person and resource; two syncs of one state agree; a grant applied is read back, and its removal too |
//! | `each_operation_twice`| every operation kind `describe()` lists: the first apply changes (one write, by the emulator's count), the second is a no-op, `observe` agrees before and after (exceptions a system declares: [`Again`]) |
//! | `rate_limited`        | a tight budget is waited out; a spent one is `RateLimited` with the bucket, the vendor's words and a reset ahead |
//! | `server_error`        | with every call failing with a 5xx, apply is transient and keeps the vendor's code |
//! | `permanent_error`     | a refusal is `Permanent` with the vendor's code, status and words                  |
//! | `unauthorized`        | a wrong credential is `Unauthorized` in the vendor's words, without the credential |
//! | `hand_change`         | changes made in the system by hand (add, remove, suspend) are what the next sync reads, are not API writes, and a bad one is a 400 naming what is unknown |

use std::collections::BTreeMap;
use std::time::Instant;

use grantflow_connectors::{Applied, Connector, Failure, Observed};
use grantflow_model::{Operation, Snapshot};
use serde_json::{Value, json};

pub use crate::sandbox::Sandbox;
use crate::sandbox::{canonical, held};

/// What one system brings to the contract.
pub trait System {
    /// The system's kind: its key in the sandbox info and its connection name.
    const KIND: &'static str;

    /// Its connector against `sandbox`, waiting out at most `waits` rate limits (AWS: making that many SDK
    /// attempts). Credentials come from [`Sandbox::credential`], so a spoiled one stays spoiled.
    fn connector(sandbox: &Sandbox, waits: u32) -> Box<dyn Connector>;

    /// A grant the person does not hold: the round trip adds and removes it, the 429, 5xx and permanent cases
    /// apply it.
    const GRANT: Grant;

    /// Operations covering every kind `describe().operations` lists, each in an order where it applies (an
    /// add before its remove).
    fn operations(sandbox: &Sandbox, s: &Snapshot) -> Vec<Case>;

    /// How to provoke its rate limits, and what it then says.
    const RATE_LIMITS: RateLimits;

    /// A 5xx status for every call, and what the transient failure keeps of the vendor's answer.
    const SERVER_ERROR: (u16, Said);

    /// [`System::GRANT`] pointed at an object that does not exist, which the system refuses for good, and how.
    const PERMANENT: (Missing, Said);

    /// The credential the unauthorized case spoils, the wrong value, and what the system says.
    const WRONG_CREDENTIAL: (&'static str, &'static str);
    const UNAUTHORIZED: Said;

    /// Changes made by hand the next sync must read.
    const BY_HAND: ByHand;
}

/// `email` gains `entitlement` on `resource` (`<kind>/<name>`).
pub struct Grant {
    pub email: &'static str,
    pub resource: &'static str,
    pub entitlement: &'static str,
}

impl Grant {
    fn kind_and_name(&self) -> (&'static str, &'static str) {
        self.resource.split_once('/').expect("<kind>/<name>")
    }

    pub fn op(&self, sandbox: &Sandbox, s: &Snapshot, add: bool) -> Operation {
        sandbox.grant(s, add, self.email, self.kind_and_name(), self.entitlement)
    }
}

/// What of a grant does not exist.
#[derive(Debug, Clone, Copy)]
pub enum Missing {
    /// The resource's id (a group, team, channel, project, … the system never had).
    ResourceId(&'static str),
    /// The resource's name, for systems that address resources by name (OPA).
    ResourceName(&'static str),
    /// The account's id.
    AccountId(&'static str),
}

impl Missing {
    /// `grant`'s add, pointed at what does not exist.
    pub fn op(self, grant: &Grant, sandbox: &Sandbox, s: &Snapshot) -> Operation {
        let mut add = grant.op(sandbox, s, true);
        if let grantflow_model::OpKind::AddGrant {
            account, resource, ..
        } = &mut add.kind
        {
            match self {
                Missing::ResourceId(id) => resource.id = id.into(),
                Missing::ResourceName(name) => resource.name = name.into(),
                Missing::AccountId(id) => account.id = id.into(),
            }
        }
        add
    }
}

/// One operation of the `each_operation_twice` case.
pub struct Case {
    pub op: Operation,
    /// The emulator's write-count key for the operation's effect, when it is known before it is applied.
    pub key: Option<String>,
    pub again: Again,
}

/// What applying an operation a second time does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Again {
    /// Nothing: `AlreadyPresent`, no write. The contract.
    NoOp,
    /// The vendor's call is idempotent by design (a PUT) and the connector sends it again rather than reading
    /// first: nothing changes in the system, but the emulator counts the repeated call.
    RepeatsIdempotentCall,
}

impl Case {
    pub fn new(op: Operation, key: impl Into<String>) -> Self {
        Self {
            op,
            key: Some(key.into()),
            again: Again::NoOp,
        }
    }

    /// An operation whose write key is only known once applied (a created object's id).
    pub fn unkeyed(op: Operation) -> Self {
        Self {
            op,
            key: None,
            again: Again::NoOp,
        }
    }

    pub fn again(mut self, again: Again) -> Self {
        self.again = again;
        self
    }
}

/// How a text is expected to read.
#[derive(Debug, Clone, Copy)]
pub enum Text {
    Is(&'static str),
    StartsWith(&'static str),
    Has(&'static str),
    HasAll(&'static [&'static str]),
    /// Any of these (a connector may answer from the budget it recorded, or from the vendor's refusal).
    HasAny(&'static [&'static str]),
}

impl Text {
    fn check(self, text: &str, what: &str) {
        let ok = match self {
            Text::Is(t) => text == t,
            Text::StartsWith(t) => text.starts_with(t),
            Text::Has(t) => text.contains(t),
            Text::HasAll(all) => all.iter().all(|t| text.contains(t)),
            Text::HasAny(any) => any.iter().any(|t| text.contains(t)),
        };
        assert!(ok, "{what}: {text:?} is not {self:?}");
    }
}

/// What the vendor says in a failure: its code, HTTP status and words, where the system has them.
#[derive(Debug, Clone, Copy)]
pub struct Said {
    pub code: Option<&'static str>,
    pub status: Option<u16>,
    pub message: Option<Text>,
}

impl Said {
    pub const fn code(code: &'static str) -> Self {
        Said {
            code: Some(code),
            status: None,
            message: None,
        }
    }

    pub const fn message(message: Text) -> Self {
        Said {
            code: None,
            status: None,
            message: Some(message),
        }
    }

    pub const fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub const fn saying(mut self, message: Text) -> Self {
        self.message = Some(message);
        self
    }

    fn check(self, code: Option<&str>, status: Option<u16>, message: &str, what: &str) {
        if let Some(expected) = self.code {
            assert_eq!(code, Some(expected), "{what}: vendor code ({message})");
        }
        if let Some(expected) = self.status {
            assert_eq!(status, Some(expected), "{what}: status ({message})");
        }
        if let Some(expected) = self.message {
            expected.check(message, what);
        }
    }
}

pub struct RateLimits {
    /// `/__sandbox/rate-limits` settings (JSON) under which four applies in a row must wait at least once, and
    /// do; `None` when the connector does not wait (Salesforce's budget is daily).
    pub tight: Option<&'static str>,
    /// Settings under which the budget is spent for a while.
    pub spent: &'static str,
    /// The bucket the `RateLimited` failure names, and its words.
    pub bucket: &'static str,
    pub message: Option<Text>,
    /// The reset is at least this far ahead.
    pub reset_after_seconds: i64,
}

/// `user` (a login or email, as `/__sandbox/hand-change` takes it) is `email` in a sync; by hand they gain
/// `add` = (`<kind>/<name>`, entitlement), lose `remove` (which they hold directly), and are suspended, which
/// the sync reads as `suspended_status`.
pub struct ByHand {
    pub user: &'static str,
    pub email: &'static str,
    pub add: (&'static str, &'static str),
    pub remove: &'static str,
    pub suspended_status: &'static str,
}

/// The contract's cases, one test each, for every system listed: `contract! { okta => okta::Okta, … }`.
#[macro_export]
macro_rules! contract {
    ($($name:ident => $system:ty),* $(,)?) => {
        mod contract {
            $(
                mod $name {
                    use $crate::harness;

                    #[tokio::test]
                    async fn sync_round_trip() {
                        harness::sync_round_trip::<$system>().await;
                    }

                    #[tokio::test]
                    async fn each_operation_twice() {
                        harness::each_operation_twice::<$system>().await;
                    }

                    #[tokio::test]
                    async fn rate_limited() {
                        harness::rate_limited::<$system>().await;
                    }

                    #[tokio::test]
                    async fn server_error() {
                        harness::server_error::<$system>().await;
                    }

                    #[tokio::test]
                    async fn permanent_error() {
                        harness::permanent_error::<$system>().await;
                    }

                    #[tokio::test]
                    async fn unauthorized() {
                        harness::unauthorized::<$system>().await;
                    }

                    #[tokio::test]
                    async fn hand_change() {
                        harness::hand_change::<$system>().await;
                    }
                }
            )*
        }
    };
}

pub async fn sync_round_trip<S: System>() {
    let sandbox = Sandbox::start(S::KIND).await;
    let c = S::connector(&sandbox, 3);
    c.health().await.expect("healthy");
    let first = sandbox.sync(c.as_ref()).await;
    let grant = S::GRANT;
    let person = first
        .account_by_login_or_email(grant.email)
        .unwrap_or_else(|| panic!("{} is read", grant.email));
    assert!(!person.id.is_empty());
    assert_eq!(
        held(&first, grant.email, grant.resource),
        Vec::<String>::new()
    );
    let again = sandbox.sync(c.as_ref()).await;
    assert_eq!(
        canonical(&first),
        canonical(&again),
        "two syncs of one state read the same"
    );

    c.apply(&grant.op(&sandbox, &first, true))
        .await
        .expect("add");
    let added = sandbox.sync(c.as_ref()).await;
    assert_eq!(
        held(&added, grant.email, grant.resource),
        [grant.entitlement],
        "the grant applied is read back"
    );
    let ids = |s: &Snapshot| {
        let mut ids: Vec<String> = s.accounts.iter().map(|a| a.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&added), ids(&first), "the same accounts");
    c.apply(&grant.op(&sandbox, &first, false))
        .await
        .expect("remove");
    let removed = sandbox.sync(c.as_ref()).await;
    assert_eq!(
        held(&removed, grant.email, grant.resource),
        Vec::<String>::new()
    );
    assert_eq!(
        canonical(&removed)["grants"],
        canonical(&first)["grants"],
        "after the removal, the grants read as before the add"
    );
}

/// Counts that differ between two readings of `/__sandbox/writes`: key → increase.
fn increase(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, n)| {
            let was = before.get(k).copied().unwrap_or(0);
            (*n != was).then(|| (k.clone(), n.saturating_sub(was)))
        })
        .collect()
}

pub async fn each_operation_twice<S: System>() {
    let sandbox = Sandbox::start(S::KIND).await;
    let c = S::connector(&sandbox, 3);
    let s = sandbox.sync(c.as_ref()).await;
    let cases = S::operations(&sandbox, &s);
    for verb in c.describe().operations {
        assert!(
            cases.iter().any(|case| case.op.verb() == verb),
            "{}: no case applies {verb}, which describe() lists",
            S::KIND
        );
    }
    for case in cases {
        let what = case.op.describe();
        let op = &case.op;
        assert_eq!(
            c.observe(op).await.expect("observe"),
            Observed::NotDone,
            "{what}"
        );
        let before = sandbox.writes().await;
        assert_eq!(
            c.apply(op).await.expect("first"),
            Applied::Changed,
            "{what}"
        );
        let first = sandbox.writes().await;
        let written = increase(&before, &first);
        assert!(
            !written.is_empty() && written.values().all(|n| *n == 1),
            "{what}: one write per object it changes: {written:?}"
        );
        if let Some(key) = &case.key {
            assert_eq!(written.get(key), Some(&1), "{what}: {written:?}");
        }
        assert_eq!(
            c.observe(op).await.expect("observe"),
            Observed::Done,
            "{what}"
        );
        let second = c.apply(op).await.expect("second");
        let again = increase(&first, &sandbox.writes().await);
        if case.again == Again::RepeatsIdempotentCall {
            assert!(
                matches!(second, Applied::Changed | Applied::AlreadyPresent),
                "{what}"
            );
            assert!(
                again.keys().all(|k| Some(k) == case.key.as_ref())
                    && again.values().all(|n| *n <= 1),
                "{what}: at most the same call again: {again:?}"
            );
        } else {
            assert_eq!(
                second,
                Applied::AlreadyPresent,
                "{what}: the second is a no-op"
            );
            assert_eq!(
                again,
                BTreeMap::new(),
                "{what}: nothing written the second time"
            );
        }
        assert_eq!(
            c.observe(op).await.expect("observe"),
            Observed::Done,
            "{what}"
        );
    }
}

pub async fn rate_limited<S: System>() {
    let sandbox = Sandbox::start(S::KIND).await;
    let limits = S::RATE_LIMITS;
    let grant = S::GRANT;
    let settings =
        |text: &str| -> Value { serde_json::from_str(text).expect("rate-limit settings") };
    if let Some(tight) = limits.tight {
        let s = sandbox.sync(S::connector(&sandbox, 3).as_ref()).await;
        sandbox.admin("rate-limits", settings(tight)).await;
        // Built after the change, so what it knows of the budget comes from the tight windows only.
        let patient = S::connector(&sandbox, 5);
        let started = Instant::now();
        for add in [true, false, true, false] {
            patient
                .apply(&grant.op(&sandbox, &s, add))
                .await
                .unwrap_or_else(|e| panic!("{tight}: waits out the limit: {e:?}"));
        }
        assert!(
            started.elapsed().as_millis() >= 900,
            "{tight}: four applies must wait at least once"
        );
        sandbox.admin("reset", json!({})).await;
    }
    let impatient = S::connector(&sandbox, 0);
    let s = sandbox.sync(impatient.as_ref()).await;
    sandbox.admin("rate-limits", settings(limits.spent)).await;
    let add = grant.op(&sandbox, &s, true);
    let mut failure = None;
    for _ in 0..3 {
        if let Err(f) = impatient.apply(&add).await {
            failure = Some(f);
            break;
        }
    }
    match failure.expect("refused within three applies") {
        Failure::RateLimited {
            bucket,
            reset,
            message,
        } => {
            assert_eq!(bucket, limits.bucket);
            if let Some(words) = limits.message {
                words.check(&message, "the rate limit's words");
            }
            let ahead = chrono::Utc::now() + chrono::Duration::seconds(limits.reset_after_seconds);
            assert!(reset > ahead, "{reset} is after {ahead}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

pub async fn server_error<S: System>() {
    let sandbox = Sandbox::start(S::KIND).await;
    let c = S::connector(&sandbox, 3);
    // Synced (and any session token minted) before the outage.
    let s = sandbox.sync(c.as_ref()).await;
    let (status, said) = S::SERVER_ERROR;
    sandbox
        .admin("faults", json!({"error_rate": 1.0, "error_status": status}))
        .await;
    let failure = c
        .apply(&S::GRANT.op(&sandbox, &s, true))
        .await
        .expect_err("server error");
    assert!(failure.is_transient(), "{failure:?}");
    said.check(
        Some(&failure.code()),
        None,
        &failure.message(),
        "the server error",
    );
}

pub async fn permanent_error<S: System>() {
    let sandbox = Sandbox::start(S::KIND).await;
    let c = S::connector(&sandbox, 3);
    let s = sandbox.sync(c.as_ref()).await;
    let (missing, said) = S::PERMANENT;
    match c
        .apply(&missing.op(&S::GRANT, &sandbox, &s))
        .await
        .expect_err("refused")
    {
        Failure::Permanent {
            vendor_code,
            message,
            status,
        } => said.check(Some(&vendor_code), status, &message, "the refusal"),
        other => panic!("expected Permanent, got {other:?}"),
    }
}

pub async fn unauthorized<S: System>() {
    let sandbox = Sandbox::start(S::KIND).await;
    S::connector(&sandbox, 3).health().await.expect("healthy");
    let (key, wrong) = S::WRONG_CREDENTIAL;
    let right = sandbox.credential_value(key);
    sandbox.spoil(key, wrong);
    match S::connector(&sandbox, 3)
        .health()
        .await
        .expect_err("wrong credential")
    {
        Failure::Unauthorized {
            vendor_code,
            message,
        } => {
            S::UNAUTHORIZED.check(vendor_code.as_deref(), None, &message, "the refusal");
            assert!(!message.contains(&right), "the credential is not repeated");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

pub async fn hand_change<S: System>() {
    let sandbox = Sandbox::start(S::KIND).await;
    let c = S::connector(&sandbox, 3);
    let by_hand = S::BY_HAND;
    let before = sandbox.sync(c.as_ref()).await;
    let (add, entitlement) = by_hand.add;
    assert_eq!(held(&before, by_hand.email, add), Vec::<String>::new());
    assert!(!held(&before, by_hand.email, by_hand.remove).is_empty());
    let status = |s: &Snapshot| {
        s.account_by_login_or_email(by_hand.email)
            .expect("account")
            .status
            .clone()
    };
    assert_eq!(status(&before), "ACTIVE");
    let writes = sandbox.writes().await;

    for body in [
        json!({"op": "add", "user": by_hand.user, "resource": add, "entitlement": entitlement}),
        json!({"op": "remove", "user": by_hand.user, "resource": by_hand.remove}),
        json!({"op": "suspend", "user": by_hand.user}),
    ] {
        assert_eq!(sandbox.hand_change(&body).await.0, 204, "{body}");
    }

    let after = sandbox.sync(c.as_ref()).await;
    assert_eq!(held(&after, by_hand.email, add), [entitlement], "{add}");
    assert_eq!(
        held(&after, by_hand.email, by_hand.remove),
        Vec::<String>::new(),
        "{}",
        by_hand.remove
    );
    assert_eq!(status(&after), by_hand.suspended_status);
    assert_eq!(
        sandbox.writes().await,
        writes,
        "changes by hand are not API writes"
    );

    // Each 400 names what is unknown.
    let kind = add.split_once('/').expect("kind/name").0;
    for (body, named) in [
        (
            json!({"op": "add", "user": "nobody@example.com", "resource": add}),
            "nobody@example.com",
        ),
        (
            json!({"op": "add", "user": by_hand.user, "resource": format!("{kind}/no-such-thing")}),
            "no-such-thing",
        ),
        (
            json!({"op": "add", "user": by_hand.user, "resource": "widget/x"}),
            "widget",
        ),
        (
            json!({"op": "add", "user": by_hand.user, "resource": add, "entitlement": "emperor"}),
            "emperor",
        ),
        (json!({"op": "promote", "user": by_hand.user}), "promote"),
    ] {
        let (status, error) = sandbox.hand_change(&body).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            error["error"].as_str().is_some_and(|e| e.contains(named)),
            "{body}: {error}"
        );
    }
}
