//! Answers a server asks for on every call, kept for a moment in this
//! process: the token behind each API call and the fingerprint of the
//! actual state. Under load these were most of the database's round trips
//! (two per read, before the page itself). A change made through this
//! process is seen at once (its write clears what it changes); one made by
//! another process (a `grantflow worker`, the CLI on the same database) is
//! seen within the time each answer is kept.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{StateVersion, TokenRecord};

/// How long a fingerprint read serves other calls.
const STATE_VERSION_KEPT: Duration = Duration::from_millis(100);
/// How long a token read serves other calls: a revocation by another
/// process takes effect within this.
const TOKEN_KEPT: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(crate) struct Recent {
    /// Bumped after this process commits a sync or an applied change.
    state_writes: AtomicU64,
    state_version: Mutex<Option<(u64, Instant, StateVersion)>>,
    tokens: Mutex<HashMap<String, (Instant, TokenRecord, String)>>,
    /// Bumped after this process commits a change to a token.
    token_writes: AtomicU64,
}

impl Recent {
    /// The generation a fingerprint read starts at; an answer kept under
    /// it serves only while no later write of this process committed.
    pub(crate) fn state_generation(&self) -> u64 {
        self.state_writes.load(Ordering::Acquire)
    }

    pub(crate) fn state_written(&self) {
        self.state_writes.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn state_version(&self) -> Option<StateVersion> {
        let kept = self.state_version.lock().ok()?;
        let (generation, at, version) = kept.as_ref()?;
        (*generation == self.state_generation() && at.elapsed() < STATE_VERSION_KEPT)
            .then(|| version.clone())
    }

    pub(crate) fn keep_state_version(&self, generation: u64, version: &StateVersion) {
        if let Ok(mut kept) = self.state_version.lock() {
            *kept = Some((generation, Instant::now(), version.clone()));
        }
    }

    pub(crate) fn token(&self, id: &str) -> Option<(TokenRecord, String)> {
        let kept = self.tokens.lock().ok()?;
        let (at, record, hash) = kept.get(id)?;
        (at.elapsed() < TOKEN_KEPT).then(|| (record.clone(), hash.clone()))
    }

    pub(crate) fn token_generation(&self) -> u64 {
        self.token_writes.load(Ordering::Acquire)
    }

    /// Keeps a token read that began at `generation`, unless a change to a
    /// token committed since (the read may predate it).
    pub(crate) fn keep_token(&self, generation: u64, record: &TokenRecord, hash: &str) {
        if let Ok(mut kept) = self.tokens.lock() {
            if generation != self.token_generation() {
                return;
            }
            // Expired entries go on each insert: the map stays as small as the tokens in use.
            kept.retain(|_, (at, _, _)| at.elapsed() < TOKEN_KEPT);
            kept.insert(
                record.id.clone(),
                (Instant::now(), record.clone(), hash.to_string()),
            );
        }
    }

    /// After a change to the token `id` committed.
    pub(crate) fn forget_token(&self, id: &str) {
        if let Ok(mut kept) = self.tokens.lock() {
            self.token_writes.fetch_add(1, Ordering::AcqRel);
            kept.remove(id);
        }
    }
}
