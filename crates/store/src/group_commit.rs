//! Group commit for flow runs: the steps and run endings that concurrent runs write at the same moment go
//! into one transaction, and each run goes on only once that transaction has committed.
//!
//! Why: a step is durable before its run goes on, so each one costs a commit, and on SQLite (one writer)
//! the commits of every run queue behind each other — throughput was bound at one `fsync` per step
//! (`grantflow-bench flow-steps`). Here the writes that queue while one commit is under way are written
//! together in the next, and each is answered after that commit: the guarantee a run sees is unchanged
//! (its write is committed when the store's call returns). No crate offers a group commit over sqlx;
//! this is a queue, a lead passed from writer to writer, and a transaction.
//!
//! Each write keeps its own lease guard (the run's owner and fence), so one run whose lease was taken over
//! is refused without failing the others. If the batch's transaction itself fails nothing of it was
//! committed, and each write is made again alone, with its own answer.

use std::sync::Mutex;

use sqlx::{Any, AnyPool, Row, Transaction};
use tokio::sync::oneshot;

use crate::{AuditAction, Backend, Result, audit};

/// How many writes one transaction takes at most (a bound on how long a leader holds the connection).
const MOST_IN_ONE_COMMIT: usize = 256;

/// A step's row, owned, ready to bind.
#[derive(Debug, Clone)]
pub(crate) struct StepRow {
    pub run: String,
    pub owner: String,
    pub fence: i64,
    pub path: String,
    pub step: String,
    pub card: String,
    pub state: &'static str,
    pub attempts: i64,
    pub input: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub effect: Option<String>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
}

/// Writes one step's row only while the lease holds the run; the number of rows written is 0 when it does not.
pub(crate) const INSERT_STEP_WHILE_HELD: &str = "INSERT INTO flow_steps (run_id, path, seq, step, card, state, attempts, input, output, error, effect,
                         started_ms, finished_ms)
 SELECT $1, $2, (SELECT COUNT(*) FROM flow_steps WHERE run_id = $1), $3, $4, $5, $6, $7, $8, $9, $10,
        $11, $12
 WHERE EXISTS (SELECT 1 FROM flow_runs
               WHERE id = $1 AND owner = $13 AND fence = $14 AND state = 'running')
 ON CONFLICT (run_id, path) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
     input = excluded.input, output = excluded.output, error = excluded.error,
     effect = COALESCE(excluded.effect, flow_steps.effect), finished_ms = excluded.finished_ms";

impl StepRow {
    pub(crate) async fn write<'c, E>(&self, executor: E) -> std::result::Result<u64, sqlx::Error>
    where
        E: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        Ok(sqlx::query(INSERT_STEP_WHILE_HELD)
            .bind(&self.run)
            .bind(&self.path)
            .bind(&self.step)
            .bind(&self.card)
            .bind(self.state)
            .bind(self.attempts)
            .bind(self.input.as_deref())
            .bind(self.output.as_deref())
            .bind(self.error.as_deref())
            .bind(self.effect.as_deref())
            .bind(self.started_ms)
            .bind(self.finished_ms)
            .bind(&self.owner)
            .bind(self.fence)
            .execute(executor)
            .await?
            .rows_affected())
    }
}

/// The end of a run, owned, ready to bind: its state, output and error, and a `flow.run_finished` event.
#[derive(Debug, Clone)]
pub(crate) struct RunEnd {
    pub run: String,
    pub owner: String,
    pub fence: i64,
    pub state: &'static str,
    pub output: Option<String>,
    pub error: Option<serde_json::Value>,
    pub erase_io: bool,
    pub backend: Backend,
    pub now: chrono::DateTime<chrono::Utc>,
}

impl RunEnd {
    /// Rows changed: 0 when the lease no longer holds the run (then nothing is written).
    async fn write_in(&self, tx: &mut Transaction<'static, Any>) -> Result<u64> {
        let row = sqlx::query(
            "UPDATE flow_runs SET state = $1, owner = NULL, lease_until_ms = 0, output = $2, error = $3, finished_ms = $4
             WHERE id = $5 AND owner = $6 AND fence = $7 AND state = 'running'
             RETURNING flow, actor",
        )
        .bind(self.state)
        .bind(self.output.as_deref())
        .bind(self.error.as_ref().map(|v| v.to_string()))
        .bind(self.now.timestamp_millis())
        .bind(&self.run)
        .bind(&self.owner)
        .bind(self.fence)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else {
            return Ok(0);
        };
        if self.erase_io {
            sqlx::query("UPDATE flow_steps SET input = NULL, output = NULL WHERE run_id = $1")
                .bind(&self.run)
                .execute(&mut **tx)
                .await?;
        }
        let flow: String = row.try_get("flow")?;
        let actor: String = row.try_get("actor")?;
        audit::append(
            tx,
            self.backend,
            self.now,
            &actor,
            AuditAction::FlowRunFinished,
            &self.run,
            serde_json::json!({ "flow": flow, "state": self.state, "error": self.error }),
        )
        .await?;
        Ok(1)
    }
}

/// One write of a run that may share a commit.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    Step(StepRow),
    End(RunEnd),
}

impl Write {
    async fn write_in(&self, tx: &mut Transaction<'static, Any>) -> Result<u64> {
        match self {
            Write::Step(row) => Ok(row.write(&mut **tx).await?),
            Write::End(end) => end.write_in(tx).await,
        }
    }

    /// In a transaction of its own (a step is one statement: its own transaction).
    async fn write_alone(&self, pool: &AnyPool) -> Result<u64> {
        match self {
            Write::Step(row) => Ok(row.write(pool).await?),
            Write::End(end) => {
                let mut tx = pool.begin().await?;
                let written = end.write_in(&mut tx).await?;
                if written == 0 {
                    tx.rollback().await?;
                } else {
                    tx.commit().await?;
                }
                Ok(written)
            }
        }
    }
}

/// What a waiting writer is told.
enum Answer {
    /// Its row was committed; this many rows written (0: its lease was taken over).
    Written(u64),
    /// The batch's transaction failed, so nothing of it was committed: write the row alone.
    WriteAlone,
    /// The writer before it is done: it writes the next batch (its own row and those waiting).
    Lead,
}

struct Waiting {
    row: Write,
    answer: oneshot::Sender<Answer>,
}

/// Group commit without a task of its own: the first writer to find nobody writing leads, writing its row
/// and every row that queued meanwhile in one transaction, then hands the lead to the next waiting writer.
/// A lone run so writes its step from its own task, with no hop to another thread (a hop costs a wake-up,
/// which on a busy machine is a scheduler slice).
#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    writing: bool,
    waiting: Vec<Waiting>,
}

impl GroupCommit {
    /// Rows written for `row`, committed (0 when its lease was taken over).
    pub(crate) async fn write(&self, pool: &AnyPool, row: Write) -> Result<u64> {
        let answer = {
            let mut queue = self.lock();
            if queue.writing {
                let (sender, answer) = oneshot::channel();
                queue.waiting.push(Waiting {
                    row: row.clone(),
                    answer: sender,
                });
                Some(answer)
            } else {
                queue.writing = true;
                None
            }
        };
        if let Some(answer) = answer {
            match answer.await {
                Ok(Answer::Written(rows)) => return Ok(rows),
                // A leader that was dropped mid-batch (its task cancelled) drops its senders: nothing or
                // all of its batch was committed, and writing the row again is an upsert of the same values.
                Ok(Answer::WriteAlone) | Err(_) => return row.write_alone(pool).await,
                Ok(Answer::Lead) => {}
            }
        }
        let lead = Lead(self);
        let others: Vec<Waiting> = {
            let mut queue = self.lock();
            let most = queue.waiting.len().min(MOST_IN_ONE_COMMIT - 1);
            queue.waiting.drain(..most).collect()
        };
        let result = if others.is_empty() {
            row.write_alone(pool).await
        } else {
            write_together(pool, &row, others).await
        };
        drop(lead);
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Held while a writer leads; on drop (done, or cancelled) the lead passes to the first writer still
/// waiting, or the batcher is free again.
struct Lead<'a>(&'a GroupCommit);

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut queue = self.0.lock();
        while !queue.waiting.is_empty() {
            let next = queue.waiting.remove(0);
            if next.answer.send(Answer::Lead).is_ok() {
                return;
            }
        }
        queue.writing = false;
    }
}

/// The leader's row and the others' in one transaction, each answered after the commit. If the
/// transaction fails nothing of it was committed, and every row is written alone, with its own answer.
async fn write_together(pool: &AnyPool, mine: &Write, others: Vec<Waiting>) -> Result<u64> {
    let result = async {
        let mut tx = pool.begin().await?;
        let mine = mine.write_in(&mut tx).await?;
        let mut written = Vec::with_capacity(others.len());
        for waiting in &others {
            written.push(waiting.row.write_in(&mut tx).await?);
        }
        tx.commit().await?;
        Ok::<_, crate::StoreError>((mine, written))
    }
    .await;
    match result {
        Ok((mine, written)) => {
            for (waiting, rows) in others.into_iter().zip(written) {
                let _ = waiting.answer.send(Answer::Written(rows));
            }
            Ok(mine)
        }
        Err(_) => {
            for waiting in others {
                let _ = waiting.answer.send(Answer::WriteAlone);
            }
            mine.write_alone(pool).await
        }
    }
}
