//! Store behaviour on a temporary SQLite file (and PostgreSQL when set), including tampering with the
//! audit chain behind the store's back.

use super::*;
use grantflow_model::{Clock, ConnectionName, ManualClock, SystemClock, SystemKind};

/// A SQLite store, and a PostgreSQL one when a server is configured.
async fn stores(test: &str) -> Vec<(Store, tempfile::TempDir)> {
    stores_on(test, Arc::new(SystemClock)).await
}

/// The same, reading `clock`.
async fn stores_on(test: &str, clock: Arc<dyn Clock>) -> Vec<(Store, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let mut stores = vec![(Store::open(&url, clock.clone()).await.expect("open"), dir)];
    if let Some(url) = testing::postgres_url(test).await {
        let store = Store::open(&url, clock).await.expect("open postgres");
        stores.push((store, tempfile::tempdir().expect("tempdir")));
    }
    stores
}

async fn with_events(store: Store, count: usize) -> Store {
    for index in 0..count {
        store
            .audit(
                "test",
                AuditAction::PlanConfirmed,
                &format!("subject-{index}"),
                serde_json::json!({"n": index}),
            )
            .await
            .expect("append");
    }
    store
}

fn broken_at(verification: Verification) -> i64 {
    match verification {
        Verification::Broken { seq, .. } => seq,
        Verification::Intact { .. } => panic!("tampering was not detected"),
    }
}

#[test]
fn audit_actions_keep_their_stored_names() {
    let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(
        names,
        [
            "sync.completed",
            "sync.failed",
            "plan.created",
            "plan.confirmed",
            "plan.declined",
            "plan.approval_requested",
            "plan.approved",
            "plan.removals_reserved",
            "plan.mass_removal_allowed",
            "plan.leaver_allowed",
            "plan.refused",
            "plan.tampered",
            "plan.queued",
            "plan.requeued",
            "plan.finished",
            "operation.attempt",
            "operation.succeeded",
            "operation.failed",
            "operation.skipped",
            "operation.waiting",
            "operation.retry_scheduled",
            "drift.finding_opened",
            "drift.finding_resolved",
            "audit.exported",
            "token.created",
            "token.revoked",
            "api.refused",
            "signin.succeeded",
            "signin.failed",
            "signin.signed_out",
            "request.submitted",
            "request.reviewed",
            "request.escalated",
            "request.approved",
            "request.denied",
            "request.expired",
            "request.ended",
            "request.break_glass",
            "flow.run_started",
            "flow.step",
            "flow.run_finished",
        ]
    );
    for action in AuditAction::ALL {
        assert_eq!(AuditAction::parse(action.as_str()), Some(*action));
        assert_eq!(action.to_string(), action.as_str());
    }
    assert_eq!(AuditAction::parse("plan.unknown"), None);
}

#[tokio::test]
async fn an_untouched_chain_verifies() {
    for (store, _dir) in stores("an_untouched_chain_verifies").await {
        let store = with_events(store, 5).await;
        match store.verify_audit().await.expect("verify") {
            Verification::Intact { events, .. } => assert_eq!(events, 5),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn an_edited_event_is_named() {
    for (store, _dir) in stores("an_edited_event_is_named").await {
        let store = with_events(store, 5).await;
        sqlx::query("UPDATE audit_events SET details = '{\"n\":99}' WHERE seq = 3")
            .execute(store.pool())
            .await
            .expect("tamper");
        assert_eq!(broken_at(store.verify_audit().await.expect("verify")), 3);
    }
}

#[tokio::test]
async fn a_deleted_event_is_detected_where_the_gap_is() {
    for (store, _dir) in stores("a_deleted_event_is_detected_where_the_gap_is").await {
        let store = with_events(store, 5).await;
        sqlx::query("DELETE FROM audit_events WHERE seq = 2")
            .execute(store.pool())
            .await
            .expect("tamper");
        assert_eq!(broken_at(store.verify_audit().await.expect("verify")), 3);
    }
}

#[tokio::test]
async fn reordered_events_are_detected() {
    for (store, _dir) in stores("reordered_events_are_detected").await {
        let store = with_events(store, 5).await;
        // Swap the content of events 2 and 4, keeping their sequence numbers.
        for (from, to) in [(2, -2), (4, 2), (-2, 4)] {
            sqlx::query("UPDATE audit_events SET seq = $1 WHERE seq = $2")
                .bind(to)
                .bind(from)
                .execute(store.pool())
                .await
                .expect("tamper");
        }
        assert_eq!(broken_at(store.verify_audit().await.expect("verify")), 2);
    }
}

#[tokio::test]
async fn removing_the_newest_event_is_detected_by_the_head() {
    for (store, _dir) in stores("removing_the_newest_event_is_detected_by_the_head").await {
        let store = with_events(store, 5).await;
        sqlx::query("DELETE FROM audit_events WHERE seq = 5")
            .execute(store.pool())
            .await
            .expect("tamper");
        assert_eq!(broken_at(store.verify_audit().await.expect("verify")), 5);
    }
}

#[tokio::test]
async fn the_newest_sync_of_each_connection_is_returned_and_audited() {
    let clock = ManualClock::starting_now();
    let test = "the_newest_sync_of_each_connection_is_returned_and_audited";
    for (store, _dir) in stores_on(test, Arc::new(clock.clone())).await {
        let mut snapshot = Snapshot::new(ConnectionName::new("okta"), SystemKind::new("okta"));
        let first = store
            .record_sync(&snapshot, store.now(), "test")
            .await
            .expect("sync");
        snapshot.accounts.push(grantflow_model::Account {
            id: "00u1".into(),
            login: "a@example.com".into(),
            email: Some("a@example.com".into()),
            display_name: "A".into(),
            status: "ACTIVE".into(),
            state: Default::default(),
            attributes: Default::default(),
        });
        clock.advance(std::time::Duration::from_millis(5));
        let second = store
            .record_sync(&snapshot, store.now(), "test")
            .await
            .expect("sync");
        assert_ne!(first.id, second.id);
        let latest = store.latest_syncs().await.expect("latest");
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].0.id, second.id);
        assert_eq!(latest[0].1, snapshot);
        let events = store.audit_events().await.expect("events");
        assert_eq!(
            events
                .iter()
                .filter(|e| e.action == AuditAction::SyncCompleted)
                .count(),
            2
        );
    }
}

fn anchor(seq: i64, hash: &str) -> ChainAnchor {
    ChainAnchor {
        seq,
        hash: hash.to_string(),
        label: format!("anchor #{seq}"),
    }
}

fn reason(verification: Verification) -> (i64, String) {
    match verification {
        Verification::Broken { seq, reason, .. } => (seq, reason),
        Verification::Intact { .. } => panic!("not detected"),
    }
}

#[tokio::test]
async fn the_chain_must_pass_through_every_anchor() {
    for (store, _dir) in stores("the_chain_must_pass_through_every_anchor").await {
        let store = with_events(store, 5).await;
        let events = store.audit_events().await.expect("events");
        let genuine = [
            anchor(0, GENESIS),
            anchor(2, &events[1].hash),
            anchor(5, &events[4].hash),
        ];
        match store.verify_audit_against(&genuine).await.expect("verify") {
            Verification::Intact { events, .. } => assert_eq!(events, 5),
            other => panic!("{other:?}"),
        }
        // An anchor the chain no longer holds: the change lies after #2.
        let (seq, why) = reason(
            store
                .verify_audit_against(&[anchor(4, &"f".repeat(64)), genuine[1].clone()])
                .await
                .expect("verify"),
        );
        assert_eq!(seq, 4);
        assert!(
            why.contains("anchor #4") && why.contains("from #3 to #4"),
            "{why}"
        );
        // An anchor beyond the end: the head moved backwards.
        let (seq, why) = reason(
            store
                .verify_audit_against(&[anchor(7, &"a".repeat(64))])
                .await
                .expect("verify"),
        );
        assert_eq!(seq, 7);
        assert!(why.contains("ends at event #5"), "{why}");
        // A wiped chain is not intact when an anchor says there was one.
        sqlx::query("DELETE FROM audit_events")
            .execute(store.pool())
            .await
            .expect("wipe");
        sqlx::query("DELETE FROM audit_head")
            .execute(store.pool())
            .await
            .expect("wipe head");
        assert!(matches!(
            store.verify_audit().await.expect("verify"),
            Verification::Intact { events: 0, .. }
        ));
        let (_, why) = reason(store.verify_audit_against(&genuine).await.expect("verify"));
        assert!(why.contains("wiped"), "{why}");
    }
}

#[tokio::test]
async fn verifying_since_an_anchor_reads_only_what_follows_it() {
    for (store, _dir) in stores("verifying_since_an_anchor_reads_only_what_follows_it").await {
        let store = with_events(store, 3).await;
        let events = store.audit_events().await.expect("events");
        let at_two = anchor(2, &events[1].hash);
        match store
            .verify_audit_since(Some(&at_two))
            .await
            .expect("verify")
        {
            Verification::Intact {
                events: head,
                head: hash,
            } => {
                assert_eq!(head, 3);
                assert_eq!(hash, events[2].hash);
            }
            other => panic!("{other:?}"),
        }
        match store.verify_audit_since(None).await.expect("verify") {
            Verification::Intact { events: head, .. } => assert_eq!(head, 3),
            other => panic!("{other:?}"),
        }
        // An edit before the anchor is for the full check; the anchor's
        // own event is still checked.
        let (seq, _) = reason(
            store
                .verify_audit_since(Some(&anchor(2, &"0".repeat(63))))
                .await
                .expect("verify"),
        );
        assert_eq!(seq, 2);
        let (seq, why) = reason(
            store
                .verify_audit_since(Some(&anchor(9, &events[2].hash)))
                .await
                .expect("verify"),
        );
        assert_eq!(seq, 9);
        assert!(why.contains("no longer holds"), "{why}");
        // An edit after the anchor is caught.
        sqlx::query("UPDATE audit_events SET subject = 'x' WHERE seq = 3")
            .execute(store.pool())
            .await
            .expect("tamper");
        assert_eq!(
            broken_at(
                store
                    .verify_audit_since(Some(&at_two))
                    .await
                    .expect("verify")
            ),
            3
        );
    }
}

fn new_events(count: usize, from: usize) -> Vec<NewAuditEvent> {
    (from..from + count)
        .map(|n| NewAuditEvent {
            actor: "engine".to_string(),
            action: AuditAction::OperationSucceeded,
            subject: format!("p-1/op{n}"),
            details: serde_json::json!({ "n": n }),
        })
        .collect()
}

#[tokio::test]
async fn a_batch_extends_the_chain_in_order_and_lands_whole() {
    for (store, _dir) in stores("a_batch_extends_the_chain_in_order_and_lands_whole").await {
        // Single appends, then a batch longer than one INSERT, then single appends again: one chain.
        let store = with_events(store, 3).await;
        let written = store
            .audit_batch(new_events(1_300, 0))
            .await
            .expect("batch");
        assert_eq!(written.len(), 1_300);
        assert_eq!(written[0].seq, 4);
        assert_eq!(written[1_299].seq, 1_303);
        assert!(written.windows(2).all(|w| w[1].prev_hash == w[0].hash));
        let store = with_events(store, 2).await;
        let events = store.audit_events().await.expect("events");
        assert_eq!(events.len(), 1_305);
        assert_eq!(events[3].subject, "p-1/op0");
        assert_eq!(events[1_302].subject, "p-1/op1299");
        assert_eq!(events[3].details, serde_json::json!({ "n": 0 }));
        match store.verify_audit().await.expect("verify") {
            Verification::Intact { events, .. } => assert_eq!(events, 1_305),
            other => panic!("{other:?}"),
        }
        assert!(
            store
                .audit_batch(Vec::new())
                .await
                .expect("empty")
                .is_empty()
        );
        match store.verify_audit().await.expect("verify") {
            Verification::Intact { events, .. } => assert_eq!(events, 1_305),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_long_chain_is_verified_in_chunks_and_the_earliest_break_is_named() {
    // Hashes are recomputed in chunks beside the read: an edit deep in a later chunk, a gap
    // after it and an edit before it must each be named where they are, the earliest first.
    for (store, _dir) in stores("a_long_chain_is_verified_in_chunks").await {
        for start in (0..20_000).step_by(5_000) {
            store
                .audit_batch(new_events(5_000, start))
                .await
                .expect("batch");
        }
        match store.verify_audit().await.expect("verify") {
            Verification::Intact { events, .. } => assert_eq!(events, 20_000),
            other => panic!("{other:?}"),
        }
        // On SQLite the chain is read in ranges on threads of their own (two here, joined at
        // #10002): an anchor in the second range is checked, and a wrong one named.
        let events = store.audit_events().await.expect("events");
        let genuine = anchor(15_000, &events[14_999].hash);
        assert!(matches!(
            store
                .verify_audit_against(std::slice::from_ref(&genuine))
                .await
                .expect("verify"),
            Verification::Intact { events: 20_000, .. }
        ));
        assert_eq!(
            broken_at(
                store
                    .verify_audit_against(&[anchor(15_000, &events[15_000].hash)])
                    .await
                    .expect("verify")
            ),
            15_000
        );
        sqlx::query("UPDATE audit_events SET details = '{\"n\":-1}' WHERE seq = 17001")
            .execute(store.pool())
            .await
            .expect("tamper");
        let (seq, why) = reason(store.verify_audit().await.expect("verify"));
        assert_eq!((seq, why.contains("edited")), (17_001, true), "{why}");
        sqlx::query("DELETE FROM audit_events WHERE seq = 18000")
            .execute(store.pool())
            .await
            .expect("tamper");
        assert_eq!(
            broken_at(store.verify_audit().await.expect("verify")),
            17_001
        );
        sqlx::query("UPDATE audit_events SET subject = 'x' WHERE seq = 9000")
            .execute(store.pool())
            .await
            .expect("tamper");
        assert_eq!(
            broken_at(store.verify_audit().await.expect("verify")),
            9_000
        );
        // A row missing where the second range begins.
        sqlx::query("DELETE FROM audit_events WHERE seq = 10002")
            .execute(store.pool())
            .await
            .expect("tamper");
        assert_eq!(
            broken_at(store.verify_audit().await.expect("verify")),
            9_000
        );
        sqlx::query("UPDATE audit_events SET subject = 'p-1/op8999' WHERE seq = 9000")
            .execute(store.pool())
            .await
            .expect("restore");
        let (seq, why) = reason(store.verify_audit().await.expect("verify"));
        assert_eq!(seq, 10_003, "{why}");
        assert!(why.contains("expected event #10002"), "{why}");
        // Verifying since an anchor past the edits sees only the gap.
        let at = &events[16_999];
        assert_eq!(at.seq, 17_000);
        assert_eq!(
            broken_at(
                store
                    .verify_audit_since(Some(&anchor(17_000, &at.hash)))
                    .await
                    .expect("verify")
            ),
            17_001
        );
    }
}

#[tokio::test]
async fn events_with_any_text_verify_and_an_edit_among_them_is_named() {
    // The database spells each event's JSON for the fast check; where its spelling differs from
    // grantflow's (control characters, non-ASCII, escapes), the exact check decides.
    let awkward = [
        "tab\there",
        "line\nbreak",
        "bell\u{7}",
        "quote \" and backslash \\",
        "slash / and unicode é ✓ \u{2028}",
        "nul-free but del \u{7f}",
        "",
    ];
    for (store, _dir) in stores("events_with_any_text_verify").await {
        let events: Vec<NewAuditEvent> = awkward
            .iter()
            .map(|text| NewAuditEvent {
                actor: format!("actor {text}"),
                action: AuditAction::RequestSubmitted,
                subject: text.to_string(),
                details: serde_json::json!({ "why": text, "nested": { "list": [text] } }),
            })
            .collect();
        store.audit_batch(events).await.expect("batch");
        let store = with_events(store, 3).await;
        match store.verify_audit().await.expect("verify") {
            Verification::Intact { events, .. } => assert_eq!(events, awkward.len() + 3),
            other => panic!("{other:?}"),
        }
        sqlx::query("UPDATE audit_events SET subject = 'bell' WHERE seq = 3")
            .execute(store.pool())
            .await
            .expect("tamper");
        assert_eq!(broken_at(store.verify_audit().await.expect("verify")), 3);
    }
}

#[tokio::test]
async fn a_row_numbered_below_the_first_event_is_found() {
    for (store, _dir) in stores("a_row_numbered_below_the_first_event_is_found").await {
        let store = with_events(store, 3).await;
        sqlx::query(
            "INSERT INTO audit_events (seq, id, at, actor, action, subject, details, prev_hash, hash)
             SELECT -7, 'e-planted', at, actor, action, subject, details, prev_hash, hash FROM audit_events WHERE seq = 1",
        )
        .execute(store.pool())
        .await
        .expect("tamper");
        let (seq, why) = reason(store.verify_audit().await.expect("verify"));
        assert_eq!(seq, -7, "{why}");
        assert!(why.contains("expected event #1"), "{why}");
    }
}
