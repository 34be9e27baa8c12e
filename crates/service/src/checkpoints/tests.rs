//! Signed checkpoints against a writer of the database who rewrites the
//! chain and recomputes every hash and the head, on SQLite and (when
//! `GRANTFLOW_TEST_POSTGRES` is set) PostgreSQL.

use super::*;
use grantflow_model::SystemClock;
use grantflow_store::{AuditAction, GENESIS};
use std::sync::Arc;

/// A SQLite store, and a PostgreSQL one when a server is configured; each
/// with a folder for its checkpoint log.
async fn stores(test: &str) -> Vec<(Store, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let mut stores = vec![(
        Store::open(&url, Arc::new(SystemClock))
            .await
            .expect("open"),
        dir,
    )];
    if let Some(url) = grantflow_store::testing::postgres_url(test).await {
        let store = Store::open(&url, Arc::new(SystemClock))
            .await
            .expect("open postgres");
        stores.push((store, tempfile::tempdir().expect("tempdir")));
    }
    stores
}

async fn append(store: &Store, count: usize) {
    for index in 0..count {
        store
            .audit(
                "test",
                AuditAction::PlanConfirmed,
                &format!("plan-{index}"),
                serde_json::json!({"n": index}),
            )
            .await
            .expect("append");
    }
}

struct Signer {
    key: SigningKey,
    trusted: TrustedKeys,
    log: JsonLinesLog,
}

fn signer(dir: &tempfile::TempDir) -> Signer {
    let (key, _pem) = SigningKey::generate().expect("key");
    let trusted = TrustedKeys::new([key.public_key().clone()]);
    Signer {
        key,
        trusted,
        log: JsonLinesLog::new(dir.path().join("checkpoints/audit.jsonl")),
    }
}

impl Signer {
    async fn checkpoint(&self, store: &Store) -> Checkpoint {
        write_checkpoint_to(store, &self.key, &self.trusted, &self.log)
            .await
            .expect("checkpoint")
    }

    async fn verify(&self, store: &Store) -> AuditVerification {
        verify_against_log(store, &self.trusted, &self.log)
            .await
            .expect("verify")
    }
}

/// One event as the attacker reads it: everything but its place and hashes.
#[derive(Clone)]
struct Plain {
    id: String,
    at: String,
    actor: String,
    action: String,
    subject: String,
    details: String,
}

async fn plain_events(store: &Store) -> Vec<Plain> {
    use sqlx::Row as _;
    sqlx::query("SELECT id, at, actor, action, subject, details FROM audit_events ORDER BY seq")
        .fetch_all(store.pool())
        .await
        .expect("read events")
        .iter()
        .map(|row| Plain {
            id: row.get("id"),
            at: row.get("at"),
            actor: row.get("actor"),
            action: row.get("action"),
            subject: row.get("subject"),
            details: row.get("details"),
        })
        .collect()
}

/// The attack: replace the whole chain with `events`, numbered from 1, each
/// hashed exactly as `grantflow_store`'s audit module does (SHA-256 of the
/// JSON array of sequence, id, time, actor, action, subject, details,
/// previous hash), and the head moved to the last one. Afterwards the chain
/// verifies on its own.
async fn rewrite(store: &Store, events: Vec<Plain>) {
    let pool = store.pool();
    sqlx::query("DELETE FROM audit_events")
        .execute(pool)
        .await
        .expect("delete");
    sqlx::query("DELETE FROM audit_head")
        .execute(pool)
        .await
        .expect("delete head");
    let mut prev = GENESIS.to_string();
    for (index, event) in events.iter().enumerate() {
        let seq = index as i64 + 1;
        let fields = [
            seq.to_string(),
            event.id.clone(),
            event.at.clone(),
            event.actor.clone(),
            event.action.clone(),
            event.subject.clone(),
            event.details.clone(),
            prev.clone(),
        ];
        let hash =
            grantflow_model::sha256_hex(serde_json::to_string(&fields).expect("json").as_bytes());
        sqlx::query(
            "INSERT INTO audit_events (seq, id, at, actor, action, subject, details, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(seq)
        .bind(&event.id)
        .bind(&event.at)
        .bind(&event.actor)
        .bind(&event.action)
        .bind(&event.subject)
        .bind(&event.details)
        .bind(&prev)
        .bind(&hash)
        .execute(pool)
        .await
        .expect("insert");
        prev = hash;
    }
    if !events.is_empty() {
        sqlx::query("INSERT INTO audit_head (singleton, seq, hash) VALUES (1, $1, $2)")
            .bind(events.len() as i64)
            .bind(&prev)
            .execute(pool)
            .await
            .expect("head");
    }
    match store.verify_audit().await.expect("verify") {
        Verification::Intact { events: count, .. } => assert_eq!(count, events.len()),
        broken => panic!("the rewrite should fool the chain alone: {broken:?}"),
    }
}

/// The broken place and reason; panics when the rewrite went unnoticed.
fn broken(verification: &AuditVerification) -> (i64, String) {
    assert!(!verification.is_intact());
    match &verification.chain {
        Verification::Broken { seq, reason, .. } => (*seq, reason.clone()),
        Verification::Intact { .. } => panic!("the rewrite was not detected: {verification:?}"),
    }
}

#[tokio::test]
async fn checkpoints_vouch_for_an_untouched_chain_and_count_what_follows_them() {
    for (store, dir) in stores("checkpoints_vouch_for_an_untouched_chain").await {
        let signer = signer(&dir);
        append(&store, 5).await;
        let first = signer.checkpoint(&store).await;
        assert_eq!((first.seq, first.events), (5, 5));
        assert_eq!(first.key_id, signer.key.public_key().key_id());
        append(&store, 2).await;
        let second = signer.checkpoint(&store).await;
        assert_eq!(second.seq, 7);
        append(&store, 1).await;

        let verification = signer.verify(&store).await;
        assert!(verification.is_intact(), "{verification:?}");
        let summary = verification.checkpoints.as_ref().expect("checked");
        assert_eq!(summary.checked, 2);
        assert!(summary.rejected.is_empty());
        assert_eq!(summary.newest.as_ref().map(|c| c.seq), Some(7));
        assert!(summary.newest_age.is_some_and(|age| age.num_seconds() < 60));
        assert_eq!(verification.uncovered_events(), Some(1));

        let text = std::fs::read_to_string(signer.log.path()).expect("log");
        assert_eq!(text.lines().count(), 2);
        let line: serde_json::Value =
            serde_json::from_str(text.lines().next().expect("line")).expect("json");
        let mut fields: Vec<&str> = line
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "at",
                "events",
                "head",
                "key_id",
                "seq",
                "signature",
                "version"
            ]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(signer.log.path()), 0o600);
            assert_eq!(mode(signer.log.path().parent().expect("dir")), 0o700);
        }
    }
}

#[tokio::test]
async fn an_empty_chain_can_be_checkpointed() {
    for (store, dir) in stores("an_empty_chain_can_be_checkpointed").await {
        let signer = signer(&dir);
        let checkpoint = signer.checkpoint(&store).await;
        assert_eq!((checkpoint.seq, checkpoint.head.as_str()), (0, GENESIS));
        append(&store, 2).await;
        signer.checkpoint(&store).await;
        assert!(signer.verify(&store).await.is_intact());
    }
}

#[tokio::test]
async fn an_edited_event_with_every_later_hash_and_the_head_recomputed_is_caught() {
    for (store, dir) in stores("an_edited_event_recomputed_is_caught").await {
        let signer = signer(&dir);
        append(&store, 2).await;
        signer.checkpoint(&store).await;
        append(&store, 4).await;
        signer.checkpoint(&store).await;
        append(&store, 2).await;

        let mut events = plain_events(&store).await;
        events[2].details = r#"{"n":99}"#.to_string();
        rewrite(&store, events).await;

        let (seq, reason) = broken(&signer.verify(&store).await);
        assert_eq!(seq, 6, "{reason}");
        // The checkpoint at #2 still matches: the change lies after it.
        assert!(reason.contains("from #3 to #6"), "{reason}");
        assert!(reason.contains("recomputed"), "{reason}");
    }
}

#[tokio::test]
async fn a_deleted_event_with_the_chain_renumbered_and_recomputed_is_caught() {
    for (store, dir) in stores("a_deleted_event_recomputed_is_caught").await {
        let signer = signer(&dir);
        append(&store, 6).await;
        signer.checkpoint(&store).await;
        append(&store, 2).await;

        let mut events = plain_events(&store).await;
        events.remove(3);
        rewrite(&store, events).await;

        let (seq, reason) = broken(&signer.verify(&store).await);
        assert_eq!(seq, 6, "{reason}");
        assert!(reason.contains("from #1 to #6"), "{reason}");
    }
}

#[tokio::test]
async fn reordered_events_with_the_chain_recomputed_are_caught() {
    for (store, dir) in stores("reordered_events_recomputed_are_caught").await {
        let signer = signer(&dir);
        append(&store, 5).await;
        signer.checkpoint(&store).await;

        let mut events = plain_events(&store).await;
        events.swap(1, 3);
        rewrite(&store, events).await;

        let (seq, reason) = broken(&signer.verify(&store).await);
        assert_eq!(seq, 5, "{reason}");
    }
}

#[tokio::test]
async fn a_truncated_tail_with_the_head_moved_back_is_caught_even_after_new_events() {
    for (store, dir) in stores("a_truncated_tail_is_caught").await {
        let signer = signer(&dir);
        append(&store, 6).await;
        signer.checkpoint(&store).await;

        let mut events = plain_events(&store).await;
        events.truncate(4);
        rewrite(&store, events).await;
        let (seq, reason) = broken(&signer.verify(&store).await);
        assert_eq!(seq, 6, "{reason}");
        assert!(reason.contains("the chain ends at event #4"), "{reason}");
        assert!(reason.contains("moved backwards"), "{reason}");

        // New events past the checkpoint do not hide it: #6 is another event now.
        append(&store, 3).await;
        let (seq, reason) = broken(&signer.verify(&store).await);
        assert_eq!(seq, 6, "{reason}");
        assert!(reason.contains("hash differs"), "{reason}");
    }
}

#[tokio::test]
async fn a_wiped_audit_table_is_broken_not_intact() {
    for (store, dir) in stores("a_wiped_audit_table_is_broken").await {
        let signer = signer(&dir);
        append(&store, 3).await;
        signer.checkpoint(&store).await;

        rewrite(&store, Vec::new()).await;
        let (seq, reason) = broken(&signer.verify(&store).await);
        assert_eq!(seq, 3, "{reason}");
        assert!(reason.contains("wiped"), "{reason}");
    }
}

#[tokio::test]
async fn forged_and_altered_checkpoint_lines_are_reported() {
    for (store, dir) in stores("forged_checkpoint_lines_are_reported").await {
        let signer = signer(&dir);
        append(&store, 3).await;
        let genuine = signer.checkpoint(&store).await;

        // The attacker rewrites the chain and signs its head with their own key…
        let mut events = plain_events(&store).await;
        events[0].actor = "someone-else".into();
        rewrite(&store, events).await;
        let (attacker, _) = SigningKey::generate().expect("key");
        let head = match store.verify_audit().await.expect("verify") {
            Verification::Intact { head, .. } => head,
            other => panic!("{other:?}"),
        };
        let own_key = attacker.sign(3, &head, store.now());
        // …or claims the configured key id on their own signature…
        let claimed = Checkpoint {
            key_id: genuine.key_id.clone(),
            ..attacker.sign(3, &head, store.now())
        };
        // …or edits the genuine checkpoint's head.
        let edited = Checkpoint {
            head: head.clone(),
            ..genuine.clone()
        };
        let mut lines = String::new();
        for forged in [&own_key, &claimed, &edited] {
            lines.push_str(&serde_json::to_string(forged).expect("json"));
            lines.push('\n');
        }
        lines.push_str("not a checkpoint\n");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(signer.log.path())
            .expect("open log");
        file.write_all(lines.as_bytes()).expect("append");

        let verification = signer.verify(&store).await;
        let summary = verification.checkpoints.as_ref().expect("checked");
        let reasons: Vec<(&str, &str)> = summary
            .rejected
            .iter()
            .map(|r| (r.position.as_str(), r.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert_eq!(reasons[0].0, "line 2");
        assert!(reasons[0].1.contains("not a configured key"), "{reasons:?}");
        assert!(reasons[1].1.contains("does not verify"), "{reasons:?}");
        assert!(reasons[2].1.contains("does not verify"), "{reasons:?}");
        assert!(reasons[3].1.contains("not a checkpoint"), "{reasons:?}");
        assert_eq!(summary.checked, 1);
        // The genuine checkpoint still catches the rewrite.
        assert_eq!(broken(&verification).0, 3);
    }
}

#[tokio::test]
async fn a_forged_line_alone_makes_an_intact_chain_fail_verification() {
    for (store, dir) in stores("a_forged_line_alone_fails").await {
        let signer = signer(&dir);
        append(&store, 2).await;
        let mut forged = signer.checkpoint(&store).await;
        forged.at = "2000-01-01T00:00:00.000Z".into();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(signer.log.path())
            .expect("open log");
        writeln!(file, "{}", serde_json::to_string(&forged).expect("json")).expect("append");
        let verification = signer.verify(&store).await;
        assert!(matches!(verification.chain, Verification::Intact { .. }));
        assert!(!verification.is_intact());
    }
}

#[tokio::test]
async fn no_checkpoint_is_signed_over_a_chain_rewritten_since_the_last() {
    for (store, dir) in stores("no_checkpoint_over_a_rewritten_chain").await {
        let signer = signer(&dir);
        append(&store, 4).await;
        signer.checkpoint(&store).await;
        append(&store, 2).await;
        let mut events = plain_events(&store).await;
        events[1].subject = "plan-elsewhere".into();
        rewrite(&store, events).await;

        let refused = write_checkpoint_to(&store, &signer.key, &signer.trusted, &signer.log)
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), "audit_chain_broken", "{refused}");
        assert!(refused.to_string().contains("no checkpoint written"));
        let text = std::fs::read_to_string(signer.log.path()).expect("log");
        assert_eq!(text.lines().count(), 1);
    }
}

#[tokio::test]
async fn without_checkpoints_a_recomputed_chain_goes_unnoticed() {
    for (store, _dir) in stores("without_checkpoints_a_recomputed_chain_goes_unnoticed").await {
        append(&store, 3).await;
        let mut events = plain_events(&store).await;
        events[1].details = "{}".into();
        rewrite(&store, events).await;
        let verification = verify_with_checkpoints(&store, None).await.expect("verify");
        assert!(verification.checkpoints.is_none());
        assert!(verification.is_intact(), "the gap checkpoints close");
    }
}

#[test]
fn keys_read_back_from_pem_including_openssl_style_pkcs8_v1() {
    let (key, pem) = SigningKey::generate().expect("key");
    let read = SigningKey::from_pem(&pem).expect("reads");
    assert_eq!(read.public_key(), key.public_key());
    let checkpoint = read.sign(4, "ab", chrono::Utc::now());
    assert!(
        TrustedKeys::new([key.public_key().clone()])
            .check(&checkpoint)
            .is_ok()
    );

    let v1 = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).expect("v1");
    let pem = format!("{PEM_BEGIN}\n{}\n{PEM_END}\n", BASE64.encode(v1.as_ref()));
    SigningKey::from_pem(&pem.into()).expect("PKCS#8 v1 reads");

    let public = key.public_key().to_string();
    assert!(public.starts_with("ed25519:"));
    assert_eq!(
        PublicKey::parse(&public).expect("parses"),
        *key.public_key()
    );
    assert!(PublicKey::parse("ed25519:AAAA").is_err());
}

#[test]
fn the_private_key_never_appears_in_debug_output_or_errors() {
    let (key, pem) = SigningKey::generate().expect("key");
    let body: String = pem
        .expose_secret()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let debug = format!("{key:?}");
    assert!(!debug.contains(&body[..20]), "{debug}");
    // A damaged key: the error names the problem, not the text.
    let damaged = pem.expose_secret().replacen(&body[10..30], "!!!!", 1);
    let error = SigningKey::from_pem(&damaged.into())
        .expect_err("refused")
        .to_string();
    assert!(!error.contains(&body[..10]), "{error}");
    let truncated = format!("{PEM_BEGIN}\n{}\n{PEM_END}\n", &body[..40]);
    let error = SigningKey::from_pem(&truncated.into())
        .expect_err("refused")
        .to_string();
    assert!(!error.contains(&body[..10]), "{error}");
}

fn write_config(dir: &Path, audit: &str) -> std::result::Result<Config, String> {
    let path = dir.join("grantflow.yaml");
    std::fs::write(
        &path,
        format!(
            "database: sqlite://g.db\nconnections:\n  okta:\n    kind: okta\n    base_url: http://127.0.0.1:1\n{audit}"
        ),
    )
    .expect("write");
    Config::load(&path).map_err(|e| e.to_string())
}

#[tokio::test]
async fn through_the_configuration_keygen_checkpoint_and_verify() {
    let dir = tempfile::tempdir().expect("dir");
    let config = write_config(
        dir.path(),
        "audit:\n  signing_key: { file: keys/audit.key }\n  checkpoints: audit-checkpoints.jsonl\n",
    )
    .expect("loads");
    let key_file = configured_key_file(&config).expect("a file");
    assert_eq!(key_file, dir.path().join("keys/audit.key"));
    let public = keygen(&key_file).expect("keygen");
    let again = keygen(&key_file).expect_err("never overwritten");
    assert_eq!(again.code(), "key_exists");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    let store = crate::open_store(&config, Arc::new(SystemClock))
        .await
        .expect("store");
    append(&store, 2).await;
    let checkpoint = write_checkpoint(&store, &config).await.expect("written");
    assert_eq!(checkpoint.key_id, public.key_id());
    assert!(dir.path().join("audit-checkpoints.jsonl").exists());
    let verification = verify_with_checkpoints(&store, Some(&config))
        .await
        .expect("verify");
    assert!(verification.is_intact());
    assert_eq!(verification.checkpoints.expect("checked").checked, 1);

    // A host that verifies with the public key only, and cannot sign.
    let verifier = write_config(
        dir.path(),
        &format!("audit:\n  checkpoints: audit-checkpoints.jsonl\n  public_keys: [\"{public}\"]\n"),
    )
    .expect("loads");
    let verification = verify_with_checkpoints(&store, Some(&verifier))
        .await
        .expect("verify");
    assert!(verification.is_intact());
    let refused = write_checkpoint(&store, &verifier)
        .await
        .expect_err("no key");
    assert!(
        refused.to_string().contains("signing_key is not set"),
        "{refused}"
    );
}

#[test]
fn the_audit_section_refuses_unknown_fields_bad_keys_and_nothing_to_check_with() {
    let dir = tempfile::tempdir().expect("dir");
    let unknown = write_config(
        dir.path(),
        "audit:\n  signing_key: { file: k }\n  checkpoints: c.jsonl\n  checkpoint_every: 5\n",
    )
    .expect_err("unknown field");
    assert!(unknown.contains("checkpoint_every"), "{unknown}");
    let bad_key = write_config(
        dir.path(),
        "audit:\n  checkpoints: c.jsonl\n  public_keys: [\"ssh-ed25519 AAAA\"]\n",
    )
    .expect_err("bad key");
    assert!(bad_key.contains("audit.public_keys"), "{bad_key}");
    let nothing =
        write_config(dir.path(), "audit:\n  checkpoints: c.jsonl\n").expect_err("no key at all");
    assert!(nothing.contains("signing_key"), "{nothing}");
    let without = write_config(dir.path(), "").expect("loads");
    assert!(without.audit.is_none());
}
