//! Verifying the chain: streamed a chunk at a time, every event's link and hash, the recorded head, and
//! the anchors (signed checkpoints) kept outside the database.

use futures::{StreamExt as _, TryStreamExt as _};
use sqlx::{AnyPool, Row};

use super::{EVENT_COLUMNS, GENESIS, RawEvent, Verification, event_hash, raw_event};
use crate::{Backend, Result, StoreError};

mod threads;

/// Where the chain is read from: the store's read pool, and on SQLite the database file, which
/// [`threads`] opens itself (none for an in-memory database: only its own connection sees it).
#[derive(Clone, Copy)]
pub(crate) struct ChainSource<'a> {
    pub pool: &'a AnyPool,
    pub backend: Backend,
    pub sqlite_file: Option<&'a std::path::Path>,
}

/// A point the chain is known to have passed, from outside the database
/// (a signed checkpoint): event `seq` had hash `hash`. `seq` 0 is the empty
/// chain, whose hash is [`GENESIS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainAnchor {
    pub seq: i64,
    pub hash: String,
    /// Names the anchor in a broken chain's reason (e.g. "the checkpoint of
    /// 2025-01-01T00:00:00.000Z (line 3)").
    pub label: String,
}

/// Events read per query when the chain is verified: large enough that a query's cost is spread
/// thin, small enough that a chunk (about half a kilobyte an event) stays a few megabytes.
const EVENTS_PER_CHUNK: i64 = 1_024;

/// A chunk of the chain as one text, a line per event: `seq TAB hash TAB encoded`, where
/// `encoded` is the JSON array an event's hash covers, spelt by the database's own JSON functions.
/// Verifying ten million events is then one string per chunk and a SHA-256 per event, not nine
/// decoded columns per event. JSON escapes every control character, a well-formed hash is hex, and
/// `seq` is an integer, so no field can hold the separators. Where the database spells the JSON
/// differently from grantflow (or anything else is off), the line goes to the exact check. SQLite
/// concatenates in the order of the ordered subquery (an ORDER BY inside `group_concat` would sort
/// every chunk again); were a line ever out of place, the exact check walks the rows in order.
const CHUNK_SQLITE: &str = "SELECT group_concat(seq || char(9) || hash || char(9) ||
         json_array(CAST(seq AS TEXT), id, at, actor, action, subject, details, prev_hash), char(10)) AS lines
     FROM (SELECT * FROM audit_events WHERE seq >= $1 AND seq < $2 ORDER BY seq)";
const CHUNK_POSTGRES: &str = "SELECT string_agg(seq::text || E'\\t' || hash || E'\\t' || '[' ||
         to_json(seq::text)::text || ',' || to_json(id)::text || ',' || to_json(at)::text || ',' ||
         to_json(actor)::text || ',' || to_json(action)::text || ',' || to_json(subject)::text || ',' ||
         to_json(details)::text || ',' || to_json(prev_hash)::text || ']', E'\\n' ORDER BY seq) AS lines
     FROM (SELECT * FROM audit_events WHERE seq >= $1 AND seq < $2 ORDER BY seq) AS chunk";

/// Where a scan of a chunk stopped.
enum Scanned {
    /// Every line followed the one before it and hashed to what it records.
    Done,
    /// A line needs the exact check (a link, an anchor, a hash, or a spelling); the scan resumes
    /// at byte `resume`.
    Exact { resume: usize },
}

/// Scans the lines of a chunk from byte `from` while each is plainly intact: it follows the
/// event before it, is not anchored (anchors are checked exactly), and its encoding hashes to its
/// hash.
fn scan(lines: &str, from: usize, links: &mut Links, next_anchor: Option<i64>) -> Scanned {
    let mut offset = from;
    let mut hex = [0u8; 64];
    while offset < lines.len() {
        let rest = &lines[offset..];
        let (line, resume) = match rest.find('\n') {
            Some(end) => (&rest[..end], offset + end + 1),
            None => (rest, lines.len()),
        };
        let mut fields = line.splitn(3, '\t');
        let seq = fields.next().and_then(|seq| seq.parse::<i64>().ok());
        let (Some(seq), Some(hash), Some(encoded)) = (seq, fields.next(), fields.next()) else {
            // Cannot happen for rows of the table (the line's seq is its integer key), but a
            // malformed line is never taken as intact: the caller re-reads from the next event.
            return Scanned::Exact { resume };
        };
        // The previous hash closes the array: `,"<64 hex>"]`.
        let prev = encoded
            .strip_suffix("\"]")
            .and_then(|head| head.get(head.len().saturating_sub(64)..))
            .filter(|prev| prev.len() == 64);
        // A line is taken as the next row only when no row can lie between the last one followed
        // and it (at the very start of a full read, any number below 1 could).
        let plain = seq == links.expected_seq
            && links.floor == links.expected_seq
            && prev == Some(links.expected_prev.as_str())
            && next_anchor.is_none_or(|anchor| seq < anchor)
            && hash.len() == 64
            && {
                let digest = <sha2::Sha256 as sha2::Digest>::digest(encoded.as_bytes());
                hex::encode_to_slice(digest, &mut hex).is_ok() && hex == hash.as_bytes()
            };
        if !plain {
            return Scanned::Exact { resume };
        }
        links.expected_prev.clear();
        links.expected_prev.push_str(hash);
        links.expected_seq += 1;
        links.floor = links.expected_seq;
        offset = resume;
    }
    Scanned::Done
}

fn recomputed_hash(event: &RawEvent) -> String {
    event_hash([
        &event.seq.to_string(),
        &event.id,
        &event.at,
        &event.actor,
        &event.action,
        &event.subject,
        &event.details,
        &event.prev_hash,
    ])
}

/// The order of the chain: each event follows the one before it, by sequence number and by
/// previous hash.
struct Links {
    expected_seq: i64,
    expected_prev: String,
    /// Where the next row is: after the last one followed (or where the reading started).
    floor: i64,
}

impl Links {
    fn follow(&mut self, event: &RawEvent) -> std::result::Result<(), Verification> {
        if event.seq != self.expected_seq {
            return Err(Verification::Broken {
                seq: event.seq,
                id: event.id.clone(),
                reason: format!(
                    "expected event #{} here, found #{}: events are missing or reordered",
                    self.expected_seq, event.seq
                ),
            });
        }
        if event.prev_hash != self.expected_prev {
            return Err(Verification::Broken {
                seq: event.seq,
                id: event.id.clone(),
                reason: "its previous-hash does not match the event before it: events were removed or reordered"
                    .to_string(),
            });
        }
        self.expected_prev.clone_from(&event.hash);
        self.expected_seq += 1;
        self.floor = self.expected_seq;
        Ok(())
    }

    /// The last event followed so far: its sequence number and hash.
    fn last(&self) -> (i64, &str) {
        (self.expected_seq - 1, &self.expected_prev)
    }
}

/// The anchors, passed in order as the chain is read: the chain must reach each one, and its
/// event there must have the anchored hash. The first anchor that does not hold is the answer.
struct Anchors<'a> {
    sorted: Vec<&'a ChainAnchor>,
    next: usize,
    /// The newest anchor the chain still matched: a change lies after it.
    matched: i64,
    broken: Option<Verification>,
}

impl<'a> Anchors<'a> {
    fn new(anchors: &'a [ChainAnchor]) -> Anchors<'a> {
        let mut sorted: Vec<&ChainAnchor> = anchors.iter().collect();
        sorted.sort_by_key(|anchor| anchor.seq);
        Anchors {
            sorted,
            next: 0,
            matched: 0,
            broken: None,
        }
    }

    fn pass(&mut self, seq: i64, id: &str, hash: &str) {
        while let Some(anchor) = self.sorted.get(self.next).filter(|a| a.seq <= seq) {
            self.next += 1;
            if self.broken.is_some() {
                continue;
            }
            if anchor.seq < seq {
                self.broken = Some(Verification::Broken {
                    seq: anchor.seq,
                    id: String::new(),
                    reason: format!("{} names no event of the chain", anchor.label),
                });
            } else if anchor.hash != hash {
                self.broken = Some(Verification::Broken {
                    seq: anchor.seq,
                    id: id.to_string(),
                    reason: format!(
                        "its hash differs from the one {} recorded: an event from #{} to #{} was edited, removed, inserted or reordered and the hashes after it recomputed",
                        anchor.label,
                        self.matched + 1,
                        anchor.seq
                    ),
                });
            } else {
                self.matched = anchor.seq;
            }
        }
    }

    /// The sequence numbers of the anchors not yet passed, in order.
    fn pending_seqs(&self) -> Vec<i64> {
        self.sorted[self.next..]
            .iter()
            .map(|anchor| anchor.seq)
            .collect()
    }

    /// The sequence number of the next anchor not yet passed.
    fn next_seq(&self) -> Option<i64> {
        self.sorted.get(self.next).map(|anchor| anchor.seq)
    }

    /// After the chain's last event `last`: an anchor beyond it means events were removed.
    fn finish(self, last: i64) -> std::result::Result<(), Verification> {
        if let Some(broken) = self.broken {
            return Err(broken);
        }
        match self.sorted.get(self.next) {
            Some(anchor) if last == 0 => Err(Verification::Broken {
                seq: anchor.seq,
                id: String::new(),
                reason: format!(
                    "the chain is empty but {} recorded {} events: the audit trail was wiped",
                    anchor.label, anchor.seq
                ),
            }),
            Some(anchor) => Err(Verification::Broken {
                seq: anchor.seq,
                id: String::new(),
                reason: format!(
                    "the chain ends at event #{last} but {} recorded event #{}: events were removed (the head moved backwards)",
                    anchor.label, anchor.seq
                ),
            }),
            None => Ok(()),
        }
    }
}

/// The last event must be the recorded head.
fn check_head(
    head: Option<&(i64, String)>,
    last: i64,
    last_hash: &str,
) -> std::result::Result<(), Verification> {
    match head {
        Some((head_seq, head_hash)) if *head_seq != last || head_hash != last_hash => {
            Err(Verification::Broken {
                seq: *head_seq,
                id: String::new(),
                reason: format!(
                    "the chain ends at event #{last} but the recorded head is event #{head_seq}: the newest events were removed"
                ),
            })
        }
        None if last > 0 => Err(Verification::Broken {
            seq: 0,
            id: String::new(),
            reason: "the recorded head of the chain is missing".to_string(),
        }),
        _ => Ok(()),
    }
}

/// Reads the chain from `from` (an anchor already checked, or the first event) to the recorded
/// head in one snapshot — so an event appended meanwhile, by this or another machine, is seen in
/// both or in neither — a chunk at a time, scanning each chunk on another thread while the next is
/// read: every event must follow the one before it and hash to what it records, the last one must
/// be the head, and the chain must pass through every anchor. The earliest problem is the answer.
/// `Intact.events` is the head's sequence number.
async fn check_chain(
    source: ChainSource<'_>,
    from: Option<&ChainAnchor>,
    anchors: &[ChainAnchor],
) -> Result<Verification> {
    let (start, start_hash) = match from {
        None => (0, GENESIS.to_string()),
        Some(anchor) => (anchor.seq, anchor.hash.clone()),
    };
    let ChainSource {
        pool,
        backend,
        sqlite_file,
    } = source;
    let label = from.map(|anchor| anchor.label.as_str()).unwrap_or_default();
    let mut tx = pool.begin().await?;
    if backend == Backend::Postgres {
        // READ COMMITTED gives each statement its own snapshot.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
    }
    let mut links = Links {
        expected_seq: start + 1,
        expected_prev: start_hash.clone(),
        floor: i64::MIN,
    };
    let mut anchors = Anchors::new(anchors);
    anchors.pass(0, "", GENESIS);
    // Rows from here on are read; a full verification reads every row, whatever its number.
    let mut next_row = i64::MIN;
    if start > 0 {
        // The anchor's own event comes first: it must still be there, with the anchored hash.
        let first = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT 1"
        )))
        .bind(start)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| raw_event(&row))
        .transpose()?;
        match first {
            Some(event) if event.seq == start && event.hash == start_hash => {}
            Some(event) if event.seq == start => {
                return Ok(Verification::Broken {
                    seq: start,
                    id: event.id,
                    reason: format!(
                        "its hash differs from the one {label} recorded: the chain was rewritten"
                    ),
                });
            }
            _ => {
                return Ok(Verification::Broken {
                    seq: start,
                    id: String::new(),
                    reason: format!(
                        "{label} recorded event #{start}, which the chain no longer holds: events were removed"
                    ),
                });
            }
        }
        next_row = start + 1;
        links.floor = next_row;
    }
    // The head and the newest row, read together: every row up to it is read below, each chunk
    // on a connection of its own (rows are only ever appended, so later reads see the same rows).
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE singleton = 1")
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| -> Result<(i64, String)> { Ok((row.try_get("seq")?, row.try_get("hash")?)) })
        .transpose()?;
    let newest: Option<i64> = sqlx::query("SELECT max(seq) AS newest FROM audit_events")
        .fetch_one(&mut *tx)
        .await?
        .try_get("newest")?;
    tx.rollback().await?;
    if let (Some(file), Some(newest)) = (sqlite_file, newest) {
        let file = file.to_path_buf();
        let (low, first, anchor_seqs) = (next_row, links.expected_seq, anchors.pending_seqs());
        let scans = tokio::task::spawn_blocking(move || {
            threads::scan_ranges(&file, low, first, newest, &anchor_seqs)
        })
        .await
        .map_err(|error| StoreError::Verification(error.to_string()))?;
        // Ranges that could not be read at all are left to the reading below, which reports why.
        for scan in scans.unwrap_or_default() {
            let joins = scan.first.as_ref().is_some_and(|(seq, prev)| {
                *seq == links.expected_seq && *prev == links.expected_prev
            });
            let Some((last_seq, last_hash)) = scan.last.filter(|_| joins) else {
                break;
            };
            for (seq, id, hash) in &scan.anchored {
                anchors.pass(*seq, id, hash);
            }
            links.expected_seq = last_seq + 1;
            links.expected_prev = last_hash;
            links.floor = links.expected_seq;
            next_row = links.floor;
            if scan.stopped {
                break;
            }
        }
    }
    let chunk_query = match backend {
        Backend::Sqlite => CHUNK_SQLITE,
        Backend::Postgres => CHUNK_POSTGRES,
    };
    let mut ranges = Vec::new();
    if let Some(newest) = newest {
        let mut low = next_row;
        let mut high = next_row.max(1).saturating_add(EVENTS_PER_CHUNK);
        while low <= newest {
            ranges.push((low, high));
            low = high;
            high = high.saturating_add(EVENTS_PER_CHUNK);
            if low == i64::MAX {
                ranges.push((low, low));
                break;
            }
        }
    }
    // Two chunks are read at once while the one before them is scanned.
    let mut chunks = futures::stream::iter(ranges)
        .map(|(low, high)| async move {
            let row = sqlx::query(chunk_query)
                .bind(low)
                .bind(high)
                .fetch_one(pool)
                .await?;
            Ok::<Option<String>, StoreError>(row.try_get("lines")?)
        })
        .buffered(2);
    let mut scanning: Option<tokio::task::JoinHandle<(String, Links, Scanned)>> = None;
    let mut reading = true;
    while reading || scanning.is_some() {
        let next = if reading {
            match chunks.try_next().await? {
                Some(lines) => lines,
                None => {
                    reading = false;
                    None
                }
            }
        } else {
            None
        };
        if let Some(task) = scanning.take() {
            let (lines, scanned_links, mut scanned) = task
                .await
                .map_err(|error| StoreError::Verification(error.to_string()))?;
            links = scanned_links;
            // A line the scan hands back stands for the next row in order, which is checked from
            // its columns: each line, fast or exact, moves the walk one row on, so a chunk's lines
            // walk exactly its rows, whatever their order in the text.
            while let Scanned::Exact { resume } = scanned {
                let event = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT 1"
                )))
                .bind(links.floor)
                .fetch_optional(pool)
                .await?
                .map(|row| raw_event(&row))
                .transpose()?;
                let Some(event) = event else {
                    break;
                };
                if let Err(broken) = links.follow(&event) {
                    return Ok(broken);
                }
                if recomputed_hash(&event) != event.hash {
                    return Ok(Verification::Broken {
                        seq: event.seq,
                        id: event.id,
                        reason: "its content does not match its hash: the event was edited"
                            .to_string(),
                    });
                }
                anchors.pass(event.seq, &event.id, &event.hash);
                scanned = scan(&lines, resume, &mut links, anchors.next_seq());
            }
        }
        let Some(lines) = next else {
            continue;
        };
        let mut chunk_links = Links {
            expected_seq: links.expected_seq,
            expected_prev: links.expected_prev.clone(),
            floor: links.floor,
        };
        let next_anchor = anchors.next_seq();
        scanning = Some(tokio::task::spawn_blocking(move || {
            let scanned = scan(&lines, 0, &mut chunk_links, next_anchor);
            (lines, chunk_links, scanned)
        }));
    }
    let (last, last_hash) = links.last();
    if let Err(broken) = check_head(head.as_ref(), last, last_hash) {
        return Ok(broken);
    }
    if let Err(broken) = anchors.finish(last) {
        return Ok(broken);
    }
    Ok(Verification::Intact {
        events: usize::try_from(last).unwrap_or_default(),
        head: last_hash.to_string(),
    })
}

/// Checks the chain from the first event to the recorded head, then against
/// each anchor: the chain must reach it, and its event there must have the
/// anchored hash. A writer of the database can recompute every hash and the
/// head after an edit; it cannot change what was anchored outside it.
pub(crate) async fn verify(
    source: ChainSource<'_>,
    anchors: &[ChainAnchor],
) -> Result<Verification> {
    check_chain(source, None, anchors).await
}

/// Checks only what follows `from` (the newest anchor): the event there
/// still has the anchored hash, and every event after it follows, hashes to
/// what it records, up to the recorded head. Enough before anchoring the
/// head again (what precedes `from` was anchored already; a full
/// [`verify`] checks it). `Intact.events` is the head's sequence number.
pub(crate) async fn verify_since(
    source: ChainSource<'_>,
    from: Option<&ChainAnchor>,
) -> Result<Verification> {
    check_chain(source, from.filter(|anchor| anchor.seq > 0), &[]).await
}
