//! Progress bars on standard error, hidden when it is not a terminal or
//! with `--quiet`, so piped output and tests stay clean.

use grantflow_connectors::SyncSink;
use grantflow_engine::Progress;
use grantflow_model::{Account, Grant, Operation, Resource, ResourceGrant, Snapshot};
use grantflow_store::JobState;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

fn target(quiet: bool) -> ProgressDrawTarget {
    if quiet || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    }
}

/// A spinner that counts what a sync has read, stage by stage.
pub struct SyncProgress {
    pub snapshot: Snapshot,
    bar: ProgressBar,
    connection: String,
}

impl SyncProgress {
    pub fn new(snapshot: Snapshot, connection: &str, quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, target(quiet));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(format!("sync {connection}"));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Self {
            snapshot,
            bar,
            connection: connection.to_string(),
        }
    }

    pub fn finish(self) -> Snapshot {
        self.bar.finish_and_clear();
        let _ = &self.connection;
        self.snapshot
    }
}

impl SyncSink for SyncProgress {
    fn account(&mut self, account: Account) {
        SyncSink::account(&mut self.snapshot, account);
    }
    fn resource(&mut self, resource: Resource) {
        SyncSink::resource(&mut self.snapshot, resource);
    }
    fn grant(&mut self, grant: Grant) {
        SyncSink::grant(&mut self.snapshot, grant);
    }
    fn resource_grant(&mut self, grant: ResourceGrant) {
        SyncSink::resource_grant(&mut self.snapshot, grant);
    }
    fn profile_schema(&mut self, schema: grantflow_model::ProfileSchema) {
        SyncSink::profile_schema(&mut self.snapshot, schema);
    }
    fn progress(&mut self, stage: &str, done: u64) {
        self.bar.set_message(format!("{stage} {done}"));
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
