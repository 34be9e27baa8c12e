//! Progress bars on standard error, hidden when it is not a terminal or
//! with `--quiet`, so piped output and tests stay clean.

use grantflow_engine::Progress;
use grantflow_model::{ConnectionName, Operation};
use grantflow_service::sync::SyncReporter;
use grantflow_store::JobState;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;

fn target(quiet: bool) -> ProgressDrawTarget {
    if quiet || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    }
}

/// A spinner per connection that counts what a sync has read, stage by stage.
pub struct SyncProgress {
    quiet: bool,
    bars: Mutex<BTreeMap<ConnectionName, ProgressBar>>,
}

impl SyncProgress {
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            bars: Mutex::new(BTreeMap::new()),
        }
    }

    fn bar(&self, connection: &ConnectionName) -> Option<ProgressBar> {
        let mut bars = self.bars.lock().ok()?;
        Some(
            bars.entry(connection.clone())
                .or_insert_with(|| {
                    let bar = ProgressBar::with_draw_target(None, target(self.quiet));
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_prefix(format!("sync {connection}"));
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                    bar
                })
                .clone(),
        )
    }
}

impl SyncReporter for SyncProgress {
    fn progress(&self, connection: &ConnectionName, stage: &str, done: u64) {
        if let Some(bar) = self.bar(connection) {
            bar.set_message(format!("{stage} {done}"));
        }
    }
    fn finished(&self, connection: &ConnectionName) {
        if let Some(bar) = self.bars.lock().ok().and_then(|mut b| b.remove(connection)) {
            bar.finish_and_clear();
        }
    }
    fn note(&self, connection: &ConnectionName, message: &str) {
        eprintln!("note: {connection}: {message}");
    }
}

/// A bar over a plan's operations.
pub struct ApplyProgress {
    bar: ProgressBar,
}

impl ApplyProgress {
    pub fn new(quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), target(quiet));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} operations ({elapsed}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix("apply");
        Self { bar }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Where a plan run elsewhere (on a server) stands: `done` of `total`.
    pub fn set(&self, done: usize, total: usize, message: String) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
        self.bar.set_message(message);
    }
}

impl Progress for ApplyProgress {
    fn start(&self, total: usize, already_final: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(already_final as u64);
    }

    fn finished(&self, op: &Operation, state: JobState) {
        self.bar.inc(1);
        self.bar
            .set_message(format!("{} {}", state.as_str(), op.describe()));
    }
}
