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
        allow_leavers: None,
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

#[tokio::test]
async fn two_engines_on_one_plan_apply_each_operation_once() {
    let w = world().await;
    let operations: Vec<Operation> = (0..40).map(|n| op(n, &format!("u{n}"), &[])).collect();
    let plan = plan(operations);
    w.store.save_plan(&plan, "test").await.expect("save");
    let first = Engine::new(&w.store, &w.connectors, "worker-1", options());
    let second = Engine::new(&w.store, &w.connectors, "worker-2", options());
    let go = cleared(&w.store, &plan).await;
    let (a, b) = tokio::join!(first.apply(&go, &Silent), second.apply(&go, &Silent));
    assert!(a.expect("first").succeeded + b.expect("second").succeeded >= 40);
    for n in 0..40 {
        assert_eq!(w.fake.applies(&format!("u{n}")), 1, "u{n}");
    }
}

/// Saves and clears `plan`, and applies it with a 1 s lease by one worker and,
/// 1.6 s later (well past that lease, while the first call may still be in
/// flight), by a second.
async fn apply_with_a_second_worker_past_the_lease(w: &World, plan: &Plan) {
    w.store.save_plan(plan, "test").await.expect("save");
    let lease = EngineOptions {
        lease: Duration::from_secs(1),
        ..options()
    };
    let go = cleared(&w.store, plan).await;
    let first = Engine::new(&w.store, &w.connectors, "worker-1", lease.clone());
    let second = Engine::new(&w.store, &w.connectors, "worker-2", lease);
    let late = async {
        tokio::time::sleep(Duration::from_millis(1600)).await;
        second.apply(&go, &Silent).await
    };
    let (a, b) = tokio::join!(first.apply(&go, &Silent), late);
    a.expect("first");
    b.expect("second");
}

/// The audit trail of a one-operation plan applied by two workers: one
/// `operation.succeeded`, and nothing about its operations after `plan.finished`.
async fn one_success_and_nothing_after_the_finish(store: &Store, plan: &Plan, why: &str) {
    let events = store.audit_events().await.expect("events");
    let succeeded = events
        .iter()
        .filter(|e| e.action == "operation.succeeded")
        .count();
    assert_eq!(succeeded, 1, "{why}");
    let finished = events
        .iter()
        .position(|e| e.action == "plan.finished")
        .expect("finished");
    assert!(
        events[finished + 1..]
            .iter()
            .all(|e| !e.subject.starts_with(&plan.id) || e.action == "plan.queued"),
        "{why}: nothing about the plan's operations after plan.finished: {:?}",
        &events[finished + 1..]
    );
}

/// Issue: job leases were neither fenced nor renewed, so a second process
/// took over a job whose first holder was still in a slow call (or waiting
/// out a vendor's 429 inside the call), and the vendor saw the call twice.
#[tokio::test]
async fn a_call_longer_than_the_lease_is_made_once_and_nothing_is_written_after_the_plan_finished()
{
    {
        let why = "a slow vendor";
        let w = world().await;
        if let Ok(mut takes) = w.fake.call_takes.lock() {
            *takes = Some(Duration::from_secs(3));
        }
        let plan = plan(vec![op(0, "a", &[])]);
        apply_with_a_second_worker_past_the_lease(&w, &plan).await;
        assert_eq!(
            w.fake.applies("a"),
            1,
            "{why}: the vendor saw the call once"
        );
        one_success_and_nothing_after_the_finish(&w.store, &plan, why).await;
    }
}

/// Okta answering the first call with a 429 whose reset is 3 s away: the
/// real Okta connector waits it out inside the call, longer than a 1 s lease,
/// while a second worker tries the plan. The vendor sees the change made once.
#[tokio::test]
async fn a_429_waited_out_inside_the_call_past_the_lease_is_made_once() {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Default)]
    struct Vendor {
        puts: AtomicU32,
        made: AtomicU32,
    }
    let vendor = Arc::new(Vendor::default());
    let shared = vendor.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let vendor = shared.clone();
        async move {
            if request.method() != axum::http::Method::PUT {
                return (StatusCode::OK, "[]").into_response();
            }
            if vendor.puts.fetch_add(1, Ordering::SeqCst) == 0 {
                let reset = (Utc::now().timestamp() + 3).to_string();
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [
                        ("x-rate-limit-limit", "600".to_string()),
                        ("x-rate-limit-remaining", "0".to_string()),
                        ("x-rate-limit-reset", reset),
                        ("retry-after", "3".to_string()),
                    ],
                    r#"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}"#,
                )
                    .into_response();
            }
            vendor.made.fetch_add(1, Ordering::SeqCst);
            StatusCode::NO_CONTENT.into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut w = world().await;
    std::fs::write(w._dir.path().join("token"), "test-token").expect("token");
    let config: grantflow_connectors::ConnectionConfig =
        serde_json::from_value(serde_json::json!({
            "kind": "okta",
            "base_url": url,
            "token": { "file": w._dir.path().join("token") },
        }))
        .expect("config");
    let okta = ConnectionName::new("okta");
    let context = grantflow_connectors::BuildContext::new(w._dir.path());
    let connector = grantflow_connectors::build(&okta, &config, &context).expect("connector");
    w.connectors.insert(okta.clone(), connector);

    let mut operation = op(0, "00u1", &[]);
    operation.connection = okta;
    let plan = plan(vec![operation]);
    apply_with_a_second_worker_past_the_lease(&w, &plan).await;
    assert_eq!(
        vendor.puts.load(Ordering::SeqCst),
        2,
        "the 429, then the call"
    );
    assert_eq!(
        vendor.made.load(Ordering::SeqCst),
        1,
        "the change was made once"
    );
    one_success_and_nothing_after_the_finish(&w.store, &plan, "a 429 inside the call").await;
}

/// A worker whose lease was taken over (it stalled past its lease and
/// another worker claimed the job) writes nothing: not the job's state, not
/// an audit event.
#[tokio::test]
async fn a_worker_that_lost_its_lease_writes_nothing() {
    let (w, clock) = manual_world().await;
    let plan = plan(vec![op(0, "a", &[])]);
    w.store.save_plan(&plan, "test").await.expect("save");
    let stalled = w
        .store
        .claim("worker-1", Some(&plan.id), Duration::from_millis(1))
        .await
        .expect("claim")
        .expect("job");
    let stalled_lease = stalled.lease.clone().expect("leased");
    clock.advance(Duration::from_millis(10));
    let taken = w
        .store
        .claim("worker-2", Some(&plan.id), Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("the expired lease is taken over");
    assert!(taken.lease.expect("leased").fence > stalled_lease.fence);
    let before = w.store.audit_events().await.expect("events").len();
    let attempt = w
        .store
        .start_attempt(
            &plan.id,
            &plan.operations[0],
            "worker-1",
            serde_json::json!({}),
            &stalled_lease,
            Duration::from_secs(60),
        )
        .await;
    assert!(matches!(
        attempt,
        Err(grantflow_store::StoreError::LeaseLost { .. })
    ));
    let finish = w
        .store
        .finish_job(
            &plan.id,
            &plan.operations[0],
            grantflow_store::JobOutcome::Succeeded {
                how: "applied".into(),
                details: serde_json::json!({}),
            },
            "worker-1",
            &stalled_lease,
        )
        .await;
    assert!(matches!(
        finish,
        Err(grantflow_store::StoreError::LeaseLost { .. })
    ));
    assert!(
        !w.store
            .renew_lease(&plan.id, 0, &stalled_lease, Duration::from_secs(60))
            .await
            .expect("renew")
    );
    assert_eq!(w.store.audit_events().await.expect("events").len(), before);
    let jobs = w.store.jobs(&plan.id).await.expect("jobs");
    assert_eq!(jobs[0].state, JobState::Running);
    assert_eq!(
        jobs[0].lease.as_ref().map(|l| l.owner.as_str()),
        Some("worker-2")
    );
}

fn declared(id: u32, name: &str, delete: bool) -> Operation {
    let resource = ResourceRef::pending("group", name);
    Operation {
        id: OperationId(id),
        connection: ConnectionName::new("fake"),
        kind: if delete {
            OpKind::DeleteResource { resource }
        } else {
            OpKind::CreateResource {
                resource,
                spec: Default::default(),
            }
        },
        reasons: vec!["test".into()],
        depends_on: vec![],
    }
}

/// What the store says grantflow made: name → by grantflow.
async fn made(store: &Store) -> BTreeMap<String, bool> {
    store
        .declared_objects()
        .await
        .expect("declared objects")
        .into_iter()
        .map(|o| (o.name, o.by_grantflow))
        .collect()
}

#[tokio::test]
async fn a_creation_is_grantflow_s_only_when_its_own_call_made_it_and_a_deletion_forgets_it() {
    let (w, clock) = manual_world().await;
    // "found" was there already: the connector finds it and changes nothing.
    w.fake
        .script("pending:found", vec![Ok(Applied::AlreadyPresent)]);
    let plan_1 = plan(vec![
        declared(0, "made", false),
        declared(1, "found", false),
        declared(2, "interrupted", false),
    ]);
    w.store.save_plan(&plan_1, "test").await.expect("save");
    // "interrupted": a previous process's call took effect, then the process died before recording it.
    let mut claimed = None;
    while let Some(job) = w
        .store
        .claim("dead-worker", Some(&plan_1.id), Duration::from_millis(1))
        .await
        .expect("claim")
    {
        if job.op_id == 2 {
            claimed = Some(job);
            break;
        }
    }
    let lease = claimed.and_then(|j| j.lease).expect("the interrupted job");
    w.store
        .start_attempt(
            &plan_1.id,
            &plan_1.operations[2],
            "test",
            serde_json::json!({}),
            &lease,
            Duration::from_millis(1),
        )
        .await
        .expect("attempt");
    if let Ok(mut present) = w.fake.present.lock() {
        present.insert("pending:interrupted".into());
    }
    clock.advance(Duration::from_millis(5));
    let report = Engine::new(&w.store, &w.connectors, "test", options())
        .apply(&cleared(&w.store, &plan_1).await, &Silent)
        .await
        .expect("apply");
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        made(&w.store).await,
        BTreeMap::from([
            ("found".to_string(), false),
            ("interrupted".to_string(), true),
            ("made".to_string(), true),
        ])
    );
    let plan_2 = plan(vec![declared(0, "made", true)]);
    w.store.save_plan(&plan_2, "test").await.expect("save");
    // A deletion counts against the safety rail: the only thing in the connection is a removal of all of it.
    let snapshots = BTreeMap::new();
    let gate = |allow| GateRequest {
        snapshots: &snapshots,
        allow_mass_removal: allow,
        allow_leavers: None,
        actor: "test",
    };
    let refused =
        grantflow_engine::clear(&w.store, &plan_2.id, &gate(None), &GateSettings::default())
            .await
            .expect("store");
    assert!(
        matches!(&refused, Err(grantflow_engine::Refusal::MassRemoval(_))),
        "{refused:?}"
    );
    let allowed = grantflow_engine::clear(
        &w.store,
        &plan_2.id,
        &gate(Some(plan_2.id.as_str())),
        &GateSettings::default(),
    )
    .await
    .expect("store")
    .expect("named past the rail");
    let report = Engine::new(&w.store, &w.connectors, "test", options())
        .apply(&allowed, &Silent)
        .await
        .expect("apply");
    assert!(report.is_success(), "{report:?}");
    assert!(!made(&w.store).await.contains_key("made"));
}
