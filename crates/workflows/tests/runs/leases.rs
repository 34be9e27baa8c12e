//! The store under many runs: a stale lease refused, steps of many runs sharing a commit yet answered each
//! for its own run, and one claim taking the earliest due runs.

use super::*;

/// A worker whose run was taken over can record no step: neither one with an audit event (a transaction
/// that renews the lease) nor one without (a single guarded insert), while the new holder's writes land.
#[tokio::test]
async fn a_step_write_after_a_takeover_is_refused() {
    for (store, _dir) in stores("a_step_write_after_a_takeover_is_refused").await {
        let host = FakeHost::default();
        let http = http_cards("http://127.0.0.1:9");
        let set = flows(&[("f.yaml", ONE_SET_CARD)]);
        let rt = runtime(&store, &host, &http, set, "w");
        let id = started(&rt, "f", manual(json!({}))).await;
        let lease_for = Duration::from_secs(60);
        let (_, first) = store
            .claim_flow_run("w1", Some(&id), lease_for)
            .await
            .unwrap()
            .unwrap();
        store.release_flow_run(&id, "w1").await.unwrap();
        let (_, second) = store
            .claim_flow_run("w2", Some(&id), lease_for)
            .await
            .unwrap()
            .unwrap();
        let output = json!({"x": 1});
        let write = |path: &'static str, audit: Option<Json>| set_step(path, &output, audit);
        for audit in [None, Some(json!({"card": "set"}))] {
            let refused = store
                .record_flow_step(&id, &first, lease_for, &write("stale", audit.clone()))
                .await;
            assert!(
                matches!(refused, Err(grantflow_store::StoreError::LeaseLost { .. })),
                "a stale worker's write (audit {audit:?}) was not refused: {refused:?}"
            );
            store
                .record_flow_step(&id, &second, lease_for, &write("a", audit))
                .await
                .unwrap();
        }
        let steps = store.flow_steps(&id).await.unwrap();
        assert_eq!(
            steps.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
    }
}

/// Steps that many runs write at the same moment share a commit, yet each write keeps its own answer: a
/// run whose lease was taken over is refused, and the others' steps land, each once and in its run's order.
#[tokio::test]
async fn steps_written_together_are_each_answered_for_their_own_run() {
    for (store, _dir) in stores("steps_written_together_are_each_answered").await {
        let host = FakeHost::default();
        let http = http_cards("http://127.0.0.1:9");
        let set = flows(&[("f.yaml", ONE_SET_CARD)]);
        let rt = runtime(&store, &host, &http, set, "w");
        let lease_for = Duration::from_secs(60);
        let mut held = Vec::new();
        for n in 0..24 {
            let id = started(&rt, "f", manual(json!({}))).await;
            let (_, lease) = store
                .claim_flow_run("w1", Some(&id), lease_for)
                .await
                .unwrap()
                .unwrap();
            // The last run is taken over by another worker: w1's lease on it is stale.
            let lease = if n == 23 {
                store.release_flow_run(&id, "w1").await.unwrap();
                store
                    .claim_flow_run("w2", Some(&id), lease_for)
                    .await
                    .unwrap()
                    .unwrap();
                lease
            } else {
                lease
            };
            held.push((id, lease));
        }
        let output = json!({"x": 1});
        let write = |path: &'static str| set_step(path, &output, None);
        for path in ["first", "second"] {
            let answers = futures::future::join_all(held.iter().map(|(id, lease)| {
                let write = write(path);
                let store = &store;
                async move { store.record_flow_step(id, lease, lease_for, &write).await }
            }))
            .await;
            for (n, answer) in answers.iter().enumerate() {
                if n == 23 {
                    assert!(
                        matches!(answer, Err(grantflow_store::StoreError::LeaseLost { .. })),
                        "the stale write was not refused: {answer:?}"
                    );
                } else {
                    assert!(answer.is_ok(), "run {n}: {answer:?}");
                }
            }
        }
        for (n, (id, _)) in held.iter().enumerate() {
            let steps = store.flow_steps(id).await.unwrap();
            let written: Vec<(&str, i64)> =
                steps.iter().map(|s| (s.path.as_str(), s.seq)).collect();
            if n == 23 {
                assert!(written.is_empty(), "{written:?}");
            } else {
                assert_eq!(written, [("first", 0), ("second", 1)], "run {n}");
            }
        }
    }
}

/// A worker with free slots claims several due runs at once: the earliest due first, a run whose wait has
/// not ended left alone, a run whose holder's lease ran out taken over, and never more than it asked for.
#[tokio::test]
async fn one_claim_takes_the_earliest_due_runs_and_no_more() {
    for (store, _dir) in stores("one_claim_takes_the_earliest_due_runs").await {
        let host = FakeHost::default();
        let http = http_cards("http://127.0.0.1:9");
        let set = flows(&[("f.yaml", ONE_SET_CARD)]);
        let rt = runtime(&store, &host, &http, set, "w");
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(started(&rt, "f", manual(json!({}))).await);
        }
        let now = chrono::Utc::now();
        let short = Duration::from_millis(1);
        // Run 0 waits until tomorrow; run 1 is held by a worker whose lease runs out at once; run 2 waits
        // until a moment ago (due before the queued ones).
        let (_, lease) = store
            .claim_flow_run("w0", Some(&ids[0]), short)
            .await
            .unwrap()
            .unwrap();
        store
            .park_flow_run(
                &ids[0],
                &lease,
                now + chrono::Duration::days(1),
                FlowRunState::Waiting,
            )
            .await
            .unwrap();
        store
            .claim_flow_run("w0", Some(&ids[1]), short)
            .await
            .unwrap()
            .unwrap();
        let (_, lease) = store
            .claim_flow_run("w0", Some(&ids[2]), short)
            .await
            .unwrap()
            .unwrap();
        store
            .park_flow_run(
                &ids[2],
                &lease,
                now - chrono::Duration::days(1),
                FlowRunState::Waiting,
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let claimed = store
            .claim_due_flow_runs("w1", 3, Duration::from_secs(60))
            .await
            .unwrap();
        let claimed_ids: Vec<&str> = claimed.iter().map(|(run, _)| run.id.as_str()).collect();
        assert_eq!(claimed_ids.len(), 3, "{claimed_ids:?}");
        assert_eq!(claimed_ids[0], ids[2], "the run due first is claimed first");
        assert!(
            !claimed_ids.contains(&ids[0].as_str()),
            "a wait that has not ended was claimed"
        );
        let rest = store
            .claim_due_flow_runs("w1", 10, Duration::from_secs(60))
            .await
            .unwrap();
        let mut all: Vec<&str> = claimed_ids
            .iter()
            .copied()
            .chain(rest.iter().map(|(run, _)| run.id.as_str()))
            .collect();
        all.sort();
        let mut expected: Vec<&str> = ids[1..].iter().map(String::as_str).collect();
        expected.sort();
        assert_eq!(
            all, expected,
            "every due run once, the expired lease's included"
        );
        for (run, lease) in claimed.iter().chain(&rest) {
            assert_eq!(run.owner.as_deref(), Some("w1"));
            assert_eq!(lease.fence, run.fence);
        }
    }
}
