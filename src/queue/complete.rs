//! Writing run results back: batched, fenced by lease token, retried through database outages.
//!
//! A batch is at most two statements (successes; everything else), not one per job.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::{filter::JobState, outcome::Resolution, tally::Tally};

/// One run's result, fenced by the claim's lease token.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The job row.
    pub id: i64,
    /// The token of the claim that ran it.
    pub lease_token: i64,
    /// What the row becomes.
    pub resolution: Resolution,
    /// The worker that ran it, recorded with failed attempts.
    pub worker: String,
}

/// Writes a batch — one statement for the successes, one for everything else — and returns the
/// ids whose lease had been taken over (their results are discarded).
pub async fn write_batch(pool: &PgPool, batch: &[Completion]) -> Result<Vec<i64>, sqlx::Error> {
    let (done, other): (Vec<&Completion>, Vec<&Completion>) = batch.iter().partition(|c| {
        c.resolution.state == JobState::Done
            && c.resolution.error.is_none()
            && !c.resolution.refund_attempt
    });
    let mut applied = write_done(pool, &done).await?;
    applied.extend(write_other(pool, &other).await?);
    let stale = batch
        .iter()
        .map(|c| c.id)
        .filter(|id| !applied.contains(id))
        .collect();
    Ok(stale)
}

/// The hot path: successes only, nothing to log.
async fn write_done(pool: &PgPool, done: &[&Completion]) -> Result<Vec<i64>, sqlx::Error> {
    if done.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = done.iter().map(|c| c.id).collect();
    let tokens: Vec<i64> = done.iter().map(|c| c.lease_token).collect();
    // Migration 0051: planned once per connection, jobs found by primary key.
    sqlx::query_scalar!(
        r#"SELECT malipo_complete_done($1, $2) AS "id!""#,
        &ids,
        &tokens,
    )
    .fetch_all(pool)
    .await
}

/// Marks one running job done inside the caller's transaction, fenced by its lease token as
/// the batch is (the batch's own function, for one row); `false` when the lease was taken over
/// (or the run already completed).
pub async fn done_within(
    conn: &mut sqlx::PgConnection,
    id: i64,
    lease_token: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query_scalar!(
        r#"SELECT malipo_complete_done(ARRAY[$1::int8], ARRAY[$2::int8]) AS "id!""#,
        id,
        lease_token,
    )
    .fetch_optional(conn)
    .await?;
    Ok(done.is_some())
}

/// Retries, snoozes and dead letters, with the attempt log for failed runs.
async fn write_other(pool: &PgPool, batch: &[&Completion]) -> Result<Vec<i64>, sqlx::Error> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = batch.iter().map(|c| c.id).collect();
    let tokens: Vec<i64> = batch.iter().map(|c| c.lease_token).collect();
    let states: Vec<JobState> = batch.iter().map(|c| c.resolution.state).collect();
    let delays: Vec<f64> = batch
        .iter()
        .map(|c| c.resolution.delay.as_secs_f64())
        .collect();
    let errors: Vec<Option<String>> = batch.iter().map(|c| c.resolution.error.clone()).collect();
    let labels: Vec<Option<&str>> = batch.iter().map(|c| c.resolution.attempt_label).collect();
    let refunds: Vec<i32> = batch
        .iter()
        .map(|c| i32::from(c.resolution.refund_attempt))
        .collect();
    let workers: Vec<&str> = batch.iter().map(|c| c.worker.as_str()).collect();
    // Migration 0051: planned once per connection, jobs found by primary key.
    sqlx::query_scalar!(
        r#"SELECT malipo_complete_other($1, $2, $3, $4, $5, $6, $7, $8) AS "id!""#,
        &ids,
        &tokens,
        &states as &[JobState],
        &delays,
        &errors as &[Option<String>],
        &labels as &[Option<&str>],
        &refunds,
        &workers as &[&str],
    )
    .fetch_all(pool)
    .await
}

enum Message {
    Complete(Completion),
    Flush(oneshot::Sender<()>),
}

/// A handle that queues completions for the process-wide writer task.
#[derive(Clone)]
pub struct CompletionSink {
    sender: mpsc::UnboundedSender<Message>,
    tally: Arc<Tally>,
}

impl CompletionSink {
    /// Starts the writer task: it gathers completions for up to `linger` (or `max_batch` of
    /// them) and writes each gathering in one statement. Database errors keep the batch and retry
    /// with backoff, so results survive an outage as long as the process does (and a crash only
    /// means the lease expires and the job runs again, which jobs are written to tolerate).
    pub fn spawn(pool: PgPool, max_batch: usize, linger: Duration) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let tally = Arc::new(Tally::default());
        tokio::spawn(run_writer(pool, receiver, max_batch, linger, tally.clone()));
        Self { sender, tally }
    }

    /// The outcomes this writer has written so far.
    pub fn tally(&self) -> Arc<Tally> {
        self.tally.clone()
    }

    /// Queues one completion.
    pub fn send(&self, completion: Completion) {
        if self.sender.send(Message::Complete(completion)).is_err() {
            warn!("completion writer is gone; the job's lease will expire and it will run again");
        }
    }

    /// Waits until everything queued so far is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run_writer(
    pool: PgPool,
    mut receiver: mpsc::UnboundedReceiver<Message>,
    max_batch: usize,
    linger: Duration,
    tally: Arc<Tally>,
) {
    let mut batch: Vec<Completion> = Vec::with_capacity(max_batch);
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        let Some(first) = receiver.recv().await else {
            break;
        };
        absorb(first, &mut batch, &mut waiters);
        let deadline = tokio::time::Instant::now() + linger;
        while batch.len() < max_batch && waiters.is_empty() {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(message)) => absorb(message, &mut batch, &mut waiters),
                _ => break,
            }
        }
        while let Ok(message) = receiver.try_recv() {
            absorb(message, &mut batch, &mut waiters);
        }
        write_with_retry(&pool, &mut batch, &tally).await;
        for waiter in waiters.drain(..) {
            let _ = waiter.send(());
        }
    }
    write_with_retry(&pool, &mut batch, &tally).await;
}

fn absorb(message: Message, batch: &mut Vec<Completion>, waiters: &mut Vec<oneshot::Sender<()>>) {
    match message {
        Message::Complete(completion) => batch.push(completion),
        Message::Flush(waiter) => waiters.push(waiter),
    }
}

async fn write_with_retry(pool: &PgPool, batch: &mut Vec<Completion>, tally: &Tally) {
    if batch.is_empty() {
        return;
    }
    let mut pause = Duration::from_millis(100);
    loop {
        match write_batch(pool, batch).await {
            Ok(stale) => {
                for completion in batch.iter().filter(|c| !stale.contains(&c.id)) {
                    tally.record(&completion.resolution);
                }
                for id in stale {
                    warn!(
                        job_id = id,
                        "late result discarded: the job's lease was taken over by another worker"
                    );
                }
                debug!(count = batch.len(), "completions written");
                batch.clear();
                return;
            }
            Err(error) => {
                warn!(%error, pending = batch.len(), "failed to write job completions; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}
