//! Signed audit checkpoints: `grantflow audit keygen`, `checkpoint`, and
//! `verify` catching a writer of the database who edits an event and
//! recomputes every later hash and the head.

use crate::testkit::{Workspace, read};
use sqlx::Row as _;

const AUDIT_SECTION: &str = "audit:\n  signing_key: { file: .grantflow/audit.key }\n  checkpoints: .grantflow/audit-checkpoints.jsonl\n";

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

/// Edits the first event's actor, then recomputes every hash after it and
/// the head exactly as the store does: the chain alone then verifies.
async fn rewrite_history(workspace: &Workspace) {
    let url = format!("sqlite://{}", workspace.database().display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("open db");
    let rows = sqlx::query(
        "SELECT seq, id, at, actor, action, subject, details FROM audit_events ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .expect("read");
    let mut prev = grantflow_store::GENESIS.to_string();
    for row in rows {
        let seq: i64 = row.get("seq");
        let actor: String = if seq == 1 {
            "cli:someone-else".into()
        } else {
            row.get("actor")
        };
        let fields = [
            seq.to_string(),
            row.get("id"),
            row.get("at"),
            actor.clone(),
            row.get("action"),
            row.get("subject"),
            row.get("details"),
            prev.clone(),
        ];
        let hash =
            grantflow_model::sha256_hex(serde_json::to_string(&fields).expect("json").as_bytes());
        sqlx::query("UPDATE audit_events SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?")
            .bind(&actor)
            .bind(&prev)
            .bind(&hash)
            .bind(seq)
            .execute(&pool)
            .await
            .expect("rewrite");
        prev = hash;
    }
    sqlx::query("UPDATE audit_head SET hash = ?")
        .bind(&prev)
        .execute(&pool)
        .await
        .expect("head");
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checkpoint_catches_a_chain_rewritten_with_every_hash_recomputed() {
    let workspace = Workspace::start(None).await;
    let sync = workspace.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());

    // Without checkpoints, verify says what it cannot see.
    let plain = workspace.run(&["audit", "verify"]);
    assert_eq!(plain.code, 0, "{}", plain.all());
    assert!(plain.stdout.starts_with("OK:"), "{}", plain.stdout);
    assert!(
        plain.stdout.contains("could rewrite the chain"),
        "{}",
        plain.stdout
    );

    let config = workspace.path("grantflow.yaml");
    let mut text = read(&config);
    text.push_str(AUDIT_SECTION);
    std::fs::write(&config, text).expect("write config");

    // No key is made implicitly.
    let keyless = workspace.run(&["audit", "checkpoint"]);
    assert_eq!(keyless.code, 2, "{}", keyless.all());
    assert!(keyless.stderr.contains("audit keygen"), "{}", keyless.all());

    let keygen = workspace.run(&["audit", "keygen"]);
    assert_eq!(keygen.code, 0, "{}", keygen.all());
    assert!(
        keygen.stdout.starts_with("public key: ed25519:"),
        "{}",
        keygen.all()
    );
    let again = workspace.run(&["audit", "keygen"]);
    assert_ne!(again.code, 0, "a key is never overwritten: {}", again.all());

    let checkpoint = workspace.run(&["audit", "checkpoint"]);
    assert_eq!(checkpoint.code, 0, "{}", checkpoint.all());
    assert!(
        checkpoint.stdout.starts_with("checkpoint: event #"),
        "{}",
        checkpoint.all()
    );
    let key_file = workspace.path(".grantflow/audit.key");
    let log = workspace.path(".grantflow/audit-checkpoints.jsonl");
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(mode(&log), 0o600);
    assert_eq!(read(&log).lines().count(), 1);

    let intact = workspace.run(&["audit", "verify"]);
    assert_eq!(intact.code, 0, "{}", intact.all());
    assert!(intact.stdout.starts_with("OK:"), "{}", intact.stdout);
    assert!(
        intact.stdout.contains("1 checkpoint checked"),
        "{}",
        intact.stdout
    );
    assert!(intact.stdout.contains("was taken"), "{}", intact.stdout);

    rewrite_history(&workspace).await;
    let broken = workspace.run(&["audit", "verify"]);
    assert_eq!(broken.code, 1, "{}", broken.all());
    assert!(
        broken.stdout.starts_with("BROKEN at event #"),
        "{}",
        broken.stdout
    );
    assert!(broken.stdout.contains("recomputed"), "{}", broken.stdout);

    // The checkpointer refuses to vouch for the rewritten chain.
    let refused = workspace.run(&["audit", "checkpoint"]);
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert_eq!(read(&log).lines().count(), 1);

    // The private key appears in no output.
    let key = read(&key_file);
    let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(body.len() > 40);
    for run in [&keygen, &checkpoint, &intact, &broken, &refused] {
        assert!(!run.all().contains(&body[..24]), "{}", run.all());
    }
    assert!(!read(&log).contains(&body[..24]));
}
