//! Two engines on one plan, and leases: a slow call is made once, a worker that lost its lease writes nothing.

use super::*;

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
