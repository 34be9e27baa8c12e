//! SQLite: the chain read in contiguous ranges, each on a thread and a read-only connection of its
//! own, every row hashed as it is read. Through sqlx every chunk is built by SQLite's JSON functions
//! into one text, copied a few times and handed between threads; here a row's columns are borrowed
//! straight from SQLite's page and encoded once, which does a third of the work and uses every core.
//! (sqlx has no borrowed-row API for this, hence rusqlite over the same bundled SQLite.)
//!
//! A thread only ever says "these rows are plainly intact": each follows the one before it, its
//! encoding hashes to its hash. It stops at the first row that is not, and the caller checks from
//! there the slow and exact way, so a broken chain is reported exactly as before.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, types::ValueRef};
use sha2::{Digest as _, Sha256};

/// Below this many rows one thread does it all: the split is not worth its connections.
const ROWS_PER_THREAD_AT_LEAST: i64 = 8_192;

/// One range's rows, as far as they were plainly intact.
#[derive(Debug, Default)]
pub(super) struct RangeScan {
    /// The first row's sequence number and previous hash (where the range joins the one before).
    pub first: Option<(i64, String)>,
    /// The last row followed: its sequence number and hash.
    pub last: Option<(i64, String)>,
    /// Each anchored row passed: sequence number, id, hash.
    pub anchored: Vec<(i64, String, String)>,
    /// Whether the scan stopped before the range's end (at a row that needs the exact check).
    pub stopped: bool,
}

/// The rows from `low` to `high` (inclusive) split into one contiguous range per thread, each
/// scanned on its own connection. The first range must begin with `first_seq`; every other with its
/// own first number. `anchor_seqs` are recorded as they are passed.
pub(super) fn scan_ranges(
    file: &Path,
    low: i64,
    first_seq: i64,
    high: i64,
    anchor_seqs: &[i64],
) -> rusqlite::Result<Vec<RangeScan>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8) as i64;
    let rows = high.saturating_sub(first_seq).saturating_add(1).max(0);
    let threads = (rows / ROWS_PER_THREAD_AT_LEAST).clamp(1, threads);
    let per_thread = rows / threads + 1;
    let mut bounds = Vec::new();
    let mut start = low;
    for n in 1..=threads {
        let end = if n == threads {
            high
        } else {
            first_seq.saturating_add(per_thread.saturating_mul(n)) - 1
        };
        bounds.push((start, if n == 1 { first_seq } else { start }, end));
        start = end.saturating_add(1);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .into_iter()
            .map(|(low, expected, high)| {
                scope.spawn(move || scan_range(file, low, expected, high, anchor_seqs))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    // A panicking scan proves nothing: the exact check takes over from its start.
                    Ok(RangeScan {
                        stopped: true,
                        ..RangeScan::default()
                    })
                })
            })
            .collect()
    })
}

fn scan_range(
    file: &Path,
    low: i64,
    expected_first: i64,
    high: i64,
    anchor_seqs: &[i64],
) -> rusqlite::Result<RangeScan> {
    let connection = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut statement = connection.prepare(
        "SELECT seq, id, at, actor, action, subject, details, prev_hash, hash
         FROM audit_events WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq",
    )?;
    let mut rows = statement.query((low, high))?;
    let mut scan = RangeScan::default();
    let mut encoded: Vec<u8> = Vec::with_capacity(1024);
    let mut hex = [0u8; 64];
    let mut expected_seq = expected_first;
    while let Some(row) = rows.next()? {
        let seq = row.get_ref(0)?.as_i64().ok();
        let text = |index: usize| match row.get_ref(index) {
            Ok(ValueRef::Text(bytes)) => std::str::from_utf8(bytes).ok(),
            _ => None,
        };
        let (Some(seq), Some(id), Some(at), Some(actor), Some(action), Some(subject)) =
            (seq, text(1), text(2), text(3), text(4), text(5))
        else {
            scan.stopped = true;
            break;
        };
        let (Some(details), Some(prev_hash), Some(hash)) = (text(6), text(7), text(8)) else {
            scan.stopped = true;
            break;
        };
        let follows = seq == expected_seq
            && match &scan.last {
                Some((_, last_hash)) => prev_hash == last_hash,
                None => true,
            };
        encoded.clear();
        let seq_text = seq.to_string();
        let plain = follows
            && hash.len() == 64
            && serde_json::to_writer(
                &mut encoded,
                &[
                    &seq_text, id, at, actor, action, subject, details, prev_hash,
                ],
            )
            .is_ok()
            && hex::encode_to_slice(Sha256::digest(&encoded), &mut hex).is_ok()
            && hex == hash.as_bytes();
        if !plain {
            scan.stopped = true;
            break;
        }
        if scan.first.is_none() {
            scan.first = Some((seq, prev_hash.to_string()));
        }
        if anchor_seqs.binary_search(&seq).is_ok() {
            scan.anchored.push((seq, id.to_string(), hash.to_string()));
        }
        match &mut scan.last {
            Some((last_seq, last_hash)) => {
                *last_seq = seq;
                last_hash.clear();
                last_hash.push_str(hash);
            }
            None => scan.last = Some((seq, hash.to_string())),
        }
        expected_seq += 1;
    }
    if !scan.stopped && scan.last.as_ref().map_or(expected_first - 1, |(s, _)| *s) != high {
        // Rows are missing at the range's end: the exact check says which.
        scan.stopped = true;
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuditAction, NewAuditEvent, Store};

    #[tokio::test]
    async fn an_intact_chain_is_followed_to_its_end_across_ranges_and_an_edit_stops_its_range() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("chain.db");
        let store = Store::open(
            &format!("sqlite://{}", file.display()),
            std::sync::Arc::new(grantflow_model::SystemClock),
        )
        .await
        .expect("store");
        let events = (0..20_000)
            .map(|n| NewAuditEvent {
                actor: "engine".into(),
                action: AuditAction::OperationSucceeded,
                subject: format!("p/op{n}"),
                details: serde_json::json!({ "n": n, "quote": "\"" }),
            })
            .collect();
        store.audit_batch(events).await.expect("append");
        let scans = scan_ranges(&file, i64::MIN, 1, 20_000, &[12_345]).expect("scan");
        if std::thread::available_parallelism().map_or(1, |n| n.get()) > 1 {
            assert_eq!(scans.len(), 2, "two ranges of 10,000 rows");
        }
        assert!(scans.iter().all(|scan| !scan.stopped), "{scans:?}");
        assert_eq!(scans[0].first.as_ref().map(|f| f.0), Some(1));
        assert_eq!(
            scans.last().and_then(|s| s.last.as_ref()).map(|l| l.0),
            Some(20_000)
        );
        let anchored: Vec<i64> = scans
            .iter()
            .flat_map(|s| &s.anchored)
            .map(|a| a.0)
            .collect();
        assert_eq!(anchored, [12_345]);

        sqlx::query("UPDATE audit_events SET actor = 'someone' WHERE seq = 4")
            .execute(store.pool())
            .await
            .expect("tamper");
        let scans = scan_ranges(&file, i64::MIN, 1, 20_000, &[]).expect("scan");
        assert!(scans[0].stopped);
        assert_eq!(
            scans[0].last.as_ref().map(|l| l.0),
            Some(3),
            "stops before the edit"
        );
    }
}
