//! Waking workers after a commit instead of from inside it.
//!
//! PostgreSQL takes one cluster-wide lock when a transaction that issued `NOTIFY` commits and
//! holds it through the commit's WAL flush, so transactions that queue jobs and notify commit
//! one at a time, each waiting for the others' fsyncs (migration 0125, BENCHMARKS.md). A writer
//! on a hot path instead names its job's queue in `malipo.rings_itself` ([`Wake::CallerRings`]),
//! which keeps the `malipo_jobs` trigger quiet about that queue for that statement, and rings
//! the bell once it committed. The bell sends the notifications from a short transaction of its
//! own that writes nothing else, and rings that arrive while one is being sent go out together
//! with the next, so a burst of commits costs one notifying commit instead of one each.
//!
//! A wake-up can still be lost after the commit — the process killed before it rang, the
//! database unreachable for the bell's statement — and then costs the workers' idle poll
//! (`MALIPO_POLL_INTERVAL`), never the job: the poll finds it, as it finds jobs whose
//! notification was lost any other way.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use sqlx::PgPool;
use tokio::{sync::Notify, task::JoinHandle};
use tracing::warn;

use super::wake::CHANNEL;

/// Who wakes the workers for a job a statement writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The `malipo_jobs` trigger, from inside the transaction (any writer without a bell at
    /// hand: an operator's CLI, a follow-up written deep in a shared path).
    Trigger,
    /// The writer, ringing its [`JobBell`] once the transaction committed (best armed before
    /// the commit with [`JobBell::ring_when_dropped`], so a handler dropped mid-commit rings).
    CallerRings,
}

impl Wake {
    /// The value for the statement's `set_config('malipo.rings_itself', …, true)` when it
    /// writes a job on `queue`: the queue the trigger then stays quiet about ('' for none).
    pub fn quiet_about(self, queue: &'static str) -> &'static str {
        match self {
            Self::Trigger => "",
            Self::CallerRings => queue,
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
    pending: Mutex<Vec<&'static str>>,
    /// Shared with the sender task, which holds the rest only weakly.
    rung: Arc<Notify>,
    /// The sender task, started by the first ring inside a runtime (and again if that
    /// runtime has ended).
    sender: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Lets the sender task see that the bell is gone, and end.
        self.rung.notify_one();
    }
}

impl JobBell {
    /// A bell notifying through `pool`'s database.
    pub fn new(pool: PgPool) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                pending: Mutex::new(Vec::new()),
                rung: Arc::new(Notify::new()),
                sender: Mutex::new(None),
            }),
        }
    }

    /// Says that `queue` has a runnable job, committed by the caller before it rings.
    pub fn ring(&self, queue: &'static str) {
        {
            let mut pending = self
                .inner
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !pending.contains(&queue) {
                pending.push(queue);
            }
        }
        self.ensure_sender();
        self.inner.rung.notify_one();
    }

    /// Rings for `queue` when the returned guard is dropped: arm it before the commit, so the
    /// ring goes out after it however the caller's future ends (finished, failed, or dropped
    /// while awaiting the commit). A ring after a rollback costs one empty claim.
    #[must_use = "the ring goes out when the guard is dropped"]
    pub fn ring_when_dropped(&self, queue: &'static str) -> RingOnDrop {
        RingOnDrop {
            bell: Some(self.clone()),
            queue,
        }
    }

    fn ensure_sender(&self) {
        let mut sender = self
            .inner
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if sender.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let task = send_rings(Arc::downgrade(&self.inner), Arc::clone(&self.inner.rung));
                *sender = Some(runtime.spawn(task));
            }
            Err(_) => warn!("job bell rung outside a runtime; the workers' poll finds the job"),
        }
    }
}

/// Rings its queue when dropped ([`JobBell::ring_when_dropped`]), unless disarmed.
pub struct RingOnDrop {
    bell: Option<JobBell>,
    queue: &'static str,
}

impl RingOnDrop {
    /// Nothing was queued after all (a duplicate delivery): no ring.
    pub fn disarm(mut self) {
        self.bell = None;
    }
}

impl Drop for RingOnDrop {
    fn drop(&mut self) {
        if let Some(bell) = &self.bell {
            bell.ring(self.queue);
        }
    }
}

/// Sends what was rung, one statement per burst, until the bell is dropped.
async fn send_rings(bell: Weak<Inner>, rung: Arc<Notify>) {
    loop {
        rung.notified().await;
        let Some(inner) = bell.upgrade() else {
            return;
        };
        let queues =
            std::mem::take(&mut *inner.pending.lock().unwrap_or_else(PoisonError::into_inner));
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
