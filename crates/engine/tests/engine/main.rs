//! The engine against a scripted connector: ordering, failures and their
//! dependants, retries, waiting operations, interrupted attempts, and two
//! engines sharing one plan.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test crate: a failed unwrap is the test failing, with its message"
)]

use async_trait::async_trait;
use chrono::Utc;
use grantflow_connectors::{Applied, Connector, Description, Failure, Observed, SyncSink};
use grantflow_engine::{Cleared, Engine, EngineOptions, GateRequest, GateSettings, Silent};
use grantflow_model::{
    AccountRef, Clock, ConnectionName, ManualClock, OpKind, Operation, OperationId, Plan,
    ResourceKind, ResourceRef, Review, SystemClock, SystemKind,
};
use grantflow_store::{JobState, Store};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A connector whose answers are scripted per operation (by account id);
/// once the script runs out, calls succeed. It remembers which effects are
/// present and counts calls.
#[derive(Default)]
struct Scripted {
    scripts: Mutex<BTreeMap<String, VecDeque<Result<Applied, Failure>>>>,
    present: Mutex<BTreeSet<String>>,
    applies: Mutex<BTreeMap<String, u32>>,
    order: Mutex<Vec<String>>,
    /// How long each call takes (a slow vendor, or a 429 waited out inside the call).
    call_takes: Mutex<Option<Duration>>,
    observes: Mutex<u32>,
}

impl Scripted {
    fn script(&self, account: &str, answers: Vec<Result<Applied, Failure>>) {
        if let Ok(mut scripts) = self.scripts.lock() {
            scripts.insert(account.to_string(), answers.into());
        }
    }
    fn applies(&self, account: &str) -> u32 {
        self.applies
            .lock()
            .map(|a| a.get(account).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

/// The engine owns its connectors; the test keeps a handle to the script.
struct Handle(Arc<Scripted>);

#[async_trait]
impl Connector for Handle {
    fn describe(&self) -> Description {
        Description {
            system: SystemKind::new("fake"),
            connection: ConnectionName::new("fake"),
            base_url: String::new(),
            operations: vec!["add_grant"],
            rate_limit_buckets: vec![],
            accounts_created_on_first_login: false,
        }
    }
    async fn health(&self) -> Result<(), Failure> {
        Ok(())
    }
    async fn sync(&self, _sink: &mut dyn SyncSink) -> Result<(), Failure> {
        Ok(())
    }
    async fn apply(&self, op: &Operation) -> Result<Applied, Failure> {
        let account = op.holder().id().to_string();
        let takes = self
            .0
            .call_takes
            .lock()
            .ok()
            .and_then(|t| *t)
            .unwrap_or(Duration::from_millis(5));
        tokio::time::sleep(takes).await;
        if let Ok(mut applies) = self.0.applies.lock() {
            *applies.entry(account.clone()).or_default() += 1;
        }
        if let Ok(mut order) = self.0.order.lock() {
            order.push(account.clone());
        }
        let answer = self
            .0
            .scripts
            .lock()
            .ok()
            .and_then(|mut s| s.get_mut(&account).and_then(VecDeque::pop_front))
            .unwrap_or(Ok(Applied::Changed));
        if answer.is_ok()
            && let Ok(mut present) = self.0.present.lock()
        {
            present.insert(account);
        }
        answer
    }
    async fn observe(&self, op: &Operation) -> Result<Observed, Failure> {
        if let Ok(mut observes) = self.0.observes.lock() {
            *observes += 1;
        }
        let present = self
            .0
            .present
            .lock()
            .map(|p| p.contains(op.holder().id()))
            .unwrap_or(false);
        Ok(if present {
            Observed::Done
        } else {
            Observed::NotDone
        })
    }
}

fn op(id: u32, account: &str, depends_on: &[u32]) -> Operation {
    Operation {
        id: OperationId(id),
        connection: ConnectionName::new("fake"),
        kind: OpKind::AddGrant {
            account: AccountRef {
                id: account.into(),
                login: format!("{account}@example.com"),
            },
            resource: ResourceRef {
                id: "g1".into(),
                kind: ResourceKind::new("group"),
                name: "G".into(),
            },
            entitlement: "member".into(),
        },
        reasons: vec!["test".into()],
        depends_on: depends_on.iter().map(|d| OperationId(*d)).collect(),
    }
}

fn plan(operations: Vec<Operation>) -> Plan {
    let mut plan = Plan {
        id: String::new(),
        created_at: Utc::now(),
        origin: format!("test {}", rand_id()),
        basis: vec![],
        operations,
        review: Review::default(),
        preconditions: vec![],
    };
    plan.seal();
    plan
}

/// The plan through the engine's gate (nothing synced: no rail to trip).
async fn cleared(store: &Store, plan: &Plan) -> Cleared {
    let snapshots = BTreeMap::new();
    let request = GateRequest {
        snapshots: &snapshots,
        allow_mass_removal: None,
        actor: "test",
    };
    grantflow_engine::clear(store, &plan.id, &request, &GateSettings::default())
        .await
        .expect("store")
        .expect("passes the gate")
}

fn rand_id() -> String {
    format!(
        "{:012x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            % 0xffff_ffff_ffff
    )
}

struct World {
    store: Store,
    fake: Arc<Scripted>,
    connectors: BTreeMap<ConnectionName, Box<dyn Connector>>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    world_with(None).await
}

/// A world whose time moves only when the test advances it.
async fn manual_world() -> (World, ManualClock) {
    let clock = ManualClock::starting_now();
    (world_with(Some(clock.clone())).await, clock)
}

async fn world_with(manual: Option<ManualClock>) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("e.db").display());
    let clock: Arc<dyn Clock> = match &manual {
        Some(manual) => Arc::new(manual.clone()),
        None => Arc::new(SystemClock),
    };
    let store = Store::open(&url, clock).await.expect("store");
    let fake = Arc::new(Scripted::default());
    let mut connectors: BTreeMap<ConnectionName, Box<dyn Connector>> = BTreeMap::new();
    connectors.insert(ConnectionName::new("fake"), Box::new(Handle(fake.clone())));
    World {
        store,
        fake,
        connectors,
        _dir: dir,
    }
}

fn options() -> EngineOptions {
    EngineOptions {
        concurrency: 4,
        max_attempts: 4,
        max_backoff: Duration::from_millis(50),
        max_inline_wait: Duration::from_millis(100),
        min_recheck: Duration::from_millis(50),
        ..EngineOptions::default()
    }
}

fn permanent(code: &str) -> Failure {
    Failure::Permanent {
        vendor_code: code.into(),
        message: format!("vendor says {code}"),
        status: Some(400),
    }
}

#[tokio::test]
async fn a_permanent_failure_stops_its_dependants_but_not_unrelated_work() {
    let w = world().await;
    w.fake.script("a", vec![Err(permanent("E0000001"))]);
    let plan = plan(vec![
        op(0, "a", &[]),
        op(1, "b", &[0]),
        op(2, "c", &[1]),
        op(3, "d", &[]),
    ]);
    w.store.save_plan(&plan, "test").await.expect("save");
    let engine = Engine::new(&w.store, &w.connectors, "test", options());
    let report = engine
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("apply");
    let states: Vec<JobState> = report.operations.iter().map(|o| o.state).collect();
    assert_eq!(
        states,
        [
            JobState::Failed,
            JobState::Skipped,
            JobState::Skipped,
            JobState::Succeeded
        ]
    );
    assert_eq!(report.operations[0].error_code.as_deref(), Some("E0000001"));
    assert_eq!(
        report.operations[0].error_message.as_deref(),
        Some("vendor says E0000001")
    );
    assert_eq!(
        report.operations[2].error_message.as_deref(),
        Some("op1 did not succeed")
    );
    assert_eq!(w.fake.applies("b"), 0);
    assert!(!report.is_success() && !report.is_incomplete());
    assert!((report.completed_share - 0.25).abs() < 1e-9);
}

#[tokio::test]
async fn dependencies_run_first() {
    let w = world().await;
    let plan = plan(vec![op(0, "late", &[1]), op(1, "early", &[])]);
    w.store.save_plan(&plan, "test").await.expect("save");
    let report = Engine::new(&w.store, &w.connectors, "test", options())
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("apply");
    assert!(report.is_success());
    let order = w.fake.order.lock().map(|o| o.clone()).unwrap_or_default();
    assert_eq!(order, ["early", "late"]);
}

#[tokio::test]
async fn transient_failures_are_retried_and_each_attempt_is_audited() {
    let w = world().await;
    let retry = Failure::RetryLater {
        at: None,
        vendor_code: Some("E0000009".into()),
        message: "503".into(),
    };
    let limited = Failure::RateLimited {
        bucket: "x".into(),
        reset: Utc::now(),
        message: "E0000047".into(),
    };
    w.fake.script("a", vec![Err(retry), Err(limited)]);
    let plan = plan(vec![op(0, "a", &[])]);
    w.store.save_plan(&plan, "test").await.expect("save");
    let report = Engine::new(&w.store, &w.connectors, "test", options())
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("apply");
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.operations[0].attempts, 3);
    let events = w.store.audit_events().await.expect("events");
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "operation.attempt")
            .count(),
        3
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "operation.retry_scheduled")
            .count(),
        2
    );
}

/// A long plan against a tight bucket is deferred window after window; that is the vendor pacing us, not
/// the operation failing, and a refused call did nothing there is to look for.
#[tokio::test]
async fn rate_limit_deferrals_do_not_use_up_the_retry_budget_nor_call_for_a_look() {
    let w = world().await;
    let limited = || {
        Err(Failure::RateLimited {
            bucket: "tier3:conversations.invite".into(),
            reset: Utc::now(),
            message: "ratelimited".into(),
        })
    };
    // Twice options().max_attempts, then a transient failure: the one failure left is still retried.
    let mut script: Vec<Result<Applied, Failure>> = (0..8).map(|_| limited()).collect();
    script.push(Err(Failure::RetryLater {
        at: None,
        vendor_code: Some("internal_error".into()),
        message: "500".into(),
    }));
    w.fake.script("a", script);
    let plan = plan(vec![op(0, "a", &[])]);
    w.store.save_plan(&plan, "test").await.expect("save");
    let report = Engine::new(&w.store, &w.connectors, "test", options())
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("apply");
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.operations[0].attempts, 10);
    // Only the ordinary failure is followed by a look before the next call.
    assert_eq!(w.fake.observes.lock().map(|o| *o).unwrap_or(0), 1);
}

#[tokio::test]
async fn too_many_transient_failures_end_as_a_failure_that_says_so() {
    let w = world().await;
    let retry = || {
        Err(Failure::RetryLater {
            at: None,
            vendor_code: Some("E0000009".into()),
            message: "Internal Server Error".into(),
        })
    };
    w.fake
        .script("a", vec![retry(), retry(), retry(), retry(), retry()]);
    let plan = plan(vec![op(0, "a", &[])]);
    w.store.save_plan(&plan, "test").await.expect("save");
    let report = Engine::new(&w.store, &w.connectors, "test", options())
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("apply");
    assert_eq!(report.operations[0].state, JobState::Failed);
    assert_eq!(report.operations[0].error_code.as_deref(), Some("E0000009"));
    assert!(
        report.operations[0]
            .error_message
            .as_deref()
            .unwrap_or_default()
            .contains("gave up after 4 attempts")
    );
}

/// An operator who runs `apply` again after a give-up expects the vendor to
/// get a fair chance: the new run has the whole retry budget, not what was
/// left of the last one.
#[tokio::test]
async fn applying_again_after_a_give_up_retries_with_a_fresh_budget() {
    let w = world().await;
    let retry = || {
        Err(Failure::RetryLater {
            at: None,
            vendor_code: Some("E0000010".into()),
            message: "Service is in read only mode".into(),
        })
    };
    // Four failures end the first run (max_attempts 4); three more and a
    // success fit in the second run's budget only if that budget is fresh.
    w.fake.script("a", (0..7).map(|_| retry()).collect());
    let plan = plan(vec![op(0, "a", &[])]);
    w.store.save_plan(&plan, "test").await.expect("save");
    let engine = Engine::new(&w.store, &w.connectors, "test", options());
    let first = engine
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("first apply");
    assert_eq!(first.operations[0].state, JobState::Failed);
    let second = engine
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("second apply");
    assert!(second.is_success(), "{second:?}");
    assert_eq!(second.operations[0].attempts, 8, "attempts stay counted");
    assert_eq!(w.fake.applies("a"), 8);
}

#[tokio::test]
async fn a_retry_due_later_is_left_for_the_next_run_with_its_time() {
    let (w, clock) = manual_world().await;
    let later = clock.now() + chrono::Duration::milliseconds(400);
    w.fake.script(
        "a",
        vec![Err(Failure::RetryLater {
            at: Some(later),
            vendor_code: Some("timeout".into()),
            message: "Jira timed out".into(),
        })],
    );
    let plan = plan(vec![op(0, "a", &[]), op(1, "b", &[])]);
    w.store.save_plan(&plan, "test").await.expect("save");
    let engine = Engine::new(&w.store, &w.connectors, "test", options());
    let first = engine
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("apply");
    assert_eq!(first.operations[0].state, JobState::Retrying);
    assert_eq!(first.operations[1].state, JobState::Succeeded);
    assert!(first.is_incomplete());
    assert!(first.next_attempt_at.is_some());
    clock.advance(Duration::from_millis(500));
    let second = engine
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("apply");
    assert!(second.is_success(), "{second:?}");
}

#[tokio::test]
async fn a_waiting_operation_is_reported_then_resumed_by_a_later_apply() {
    let (w, clock) = manual_world().await;
    let recheck = clock.now() + chrono::Duration::milliseconds(200);
    let waiting = Failure::Waiting {
        reason: "no GitLab account yet (pending first SSO login)".into(),
        recheck_at: recheck,
    };
    w.fake.script("a", vec![Err(waiting)]);
    let plan = plan(vec![op(0, "a", &[]), op(1, "b", &[0])]);
    w.store.save_plan(&plan, "test").await.expect("save");
    let engine = Engine::new(&w.store, &w.connectors, "test", options());
    let first = engine
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("apply");
    assert_eq!(first.operations[0].state, JobState::Waiting);
    assert_eq!(
        first.operations[0].error_message.as_deref(),
        Some("no GitLab account yet (pending first SSO login)")
    );
    assert_eq!(
        first.operations[1].state,
        JobState::Pending,
        "its dependant waits too"
    );
    clock.advance(Duration::from_millis(250));
    let second = engine
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("apply");
    assert!(second.is_success(), "{second:?}");
    let events = w.store.audit_events().await.expect("events");
    assert!(events.iter().any(|e| e.action == "operation.waiting"));
}

#[tokio::test]
async fn a_wait_past_its_deadline_fails_with_the_reason() {
    let (w, clock) = manual_world().await;
    let now = clock.now();
    let waiting = || {
        Err(Failure::Waiting {
            reason: "pending first SSO login".into(),
            recheck_at: now,
        })
    };
    w.fake.script("a", vec![waiting(), waiting(), waiting()]);
    let plan = plan(vec![op(0, "a", &[])]);
    w.store.save_plan(&plan, "test").await.expect("save");
    let engine = Engine::new(
        &w.store,
        &w.connectors,
        "test",
        EngineOptions {
            wait_deadline: Duration::from_millis(100),
            ..options()
        },
    );
    let first = engine
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("apply");
    assert_eq!(first.operations[0].state, JobState::Waiting);
    clock.advance(Duration::from_millis(150));
    let second = engine
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("apply");
    assert_eq!(second.operations[0].state, JobState::Failed);
    assert_eq!(
        second.operations[0].error_code.as_deref(),
        Some("wait_deadline")
    );
    assert!(
        second.operations[0]
            .error_message
            .as_deref()
            .unwrap_or_default()
            .contains("pending first SSO login")
    );
}

#[tokio::test]
async fn an_attempt_whose_effect_is_present_is_not_repeated() {
    let (w, clock) = manual_world().await;
    let plan = plan(vec![op(0, "a", &[])]);
    w.store.save_plan(&plan, "test").await.expect("save");
    // A previous process started the attempt and the vendor applied it,
    // then the process died before recording the outcome.
    let claimed = w
        .store
        .claim("dead-worker", Some(&plan.id), Duration::from_millis(1))
        .await
        .expect("claim")
        .expect("a job");
    let lease = claimed.lease.expect("leased");
    w.store
        .start_attempt(
            &plan.id,
            &plan.operations[0],
            "test",
            serde_json::json!({}),
            &lease,
            Duration::from_millis(1),
        )
        .await
        .expect("attempt");
    if let Ok(mut present) = w.fake.present.lock() {
        present.insert("a".into());
    }
    clock.advance(Duration::from_millis(5));
    let report = Engine::new(&w.store, &w.connectors, "test", options())
        .apply(&cleared(&w.store, &plan).await, &Silent)
        .await
        .expect("apply");
    assert!(report.is_success());
    assert_eq!(
        report.operations[0].outcome.as_deref(),
        Some("already_present")
    );
    assert_eq!(w.fake.applies("a"), 0);
}

mod declared;
mod leases;
