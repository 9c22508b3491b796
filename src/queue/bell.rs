//! Waking workers after a commit instead of from inside it.
//!
//! PostgreSQL takes one cluster-wide lock when a transaction that issued `NOTIFY` commits and
//! holds it through the commit's WAL flush, so transactions that queue jobs and notify commit
//! one at a time, each waiting for the others' fsyncs (migration 0125, BENCHMARKS.md). A front
//! writing a job instead marks its statement `malipo.rings_itself` ([`SILENCE`]), which keeps
//! the `malipo_jobs` trigger quiet for that transaction, and rings the bell once it committed.
//! The bell sends the notifications from a transaction of its own, which writes no WAL and
//! holds the lock for microseconds, and rings that arrive while one is being sent go out
//! together with the next.
//!
//! A ring that fails to go out (the database unreachable) is only logged: the workers' fallback
//! poll finds the job, as it finds jobs whose notification was lost any other way.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex, Once},
};

use sqlx::PgPool;
use tokio::sync::Notify;
use tracing::warn;

use super::wake::CHANNEL;

/// The value a statement passes to `set_config('malipo.rings_itself', …, true)` to keep the
/// `malipo_jobs` notification trigger quiet for its transaction: the caller rings the
/// [`JobBell`] after the commit.
pub const SILENCE: &str = "on";

/// Who wakes the workers for a job a statement writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The `malipo_jobs` trigger, from inside the transaction (any writer without a bell at
    /// hand: an operator's CLI, a follow-up written deep in a shared path).
    Trigger,
    /// The writer, ringing its [`JobBell`] once the transaction committed.
    CallerRings,
}

impl Wake {
    /// The value for the statement's `set_config('malipo.rings_itself', …, true)`.
    pub fn silence(self) -> &'static str {
        match self {
            Self::Trigger => "",
            Self::CallerRings => SILENCE,
        }
    }
}

/// Rings for jobs committed by this process; cheap to clone.
#[derive(Clone)]
pub struct JobBell {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    /// Queues rung since the last notification went out.
    pending: Mutex<BTreeSet<&'static str>>,
    rung: Notify,
    /// The sender task, started by the first ring (a ring always runs inside the runtime).
    started: Once,
}

impl JobBell {
    /// A bell notifying through `pool`'s database.
    pub fn new(pool: PgPool) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                pending: Mutex::new(BTreeSet::new()),
                rung: Notify::new(),
                started: Once::new(),
            }),
        }
    }

    /// Says that `queue` has a runnable job, committed by the caller before it rings.
    pub fn ring(&self, queue: &'static str) {
        self.inner
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(queue);
        self.inner.started.call_once(|| {
            tokio::spawn(send_rings(Arc::clone(&self.inner)));
        });
        self.inner.rung.notify_one();
    }
}

/// Sends what was rung, one statement per burst, for as long as the process lives.
async fn send_rings(inner: Arc<Inner>) {
    loop {
        inner.rung.notified().await;
        let queues: Vec<&str> = std::mem::take(
            &mut *inner
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_iter()
        .collect();
        if queues.is_empty() {
            continue;
        }
        let sent = sqlx::query("SELECT pg_notify($1, queue) FROM unnest($2::text[]) AS queue")
            .bind(CHANNEL)
            .bind(&queues)
            .execute(&inner.pool)
            .await;
        if let Err(error) = sent {
            warn!(%error, ?queues, "could not ring the job bell; the workers' poll finds the jobs");
        }
    }
}
