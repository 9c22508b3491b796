//! Counting the outcomes a process's completion writer has written, so an operator's drain can
//! report what it did. Counted after the write, so results discarded as stale (the lease was
//! taken over) are not counted.

use std::sync::atomic::{AtomicU64, Ordering};

use super::outcome::{Resolution, RunResult};

/// Outcomes written so far.
#[derive(Debug, Default)]
pub struct Tally {
    done: AtomicU64,
    retried: AtomicU64,
    snoozed: AtomicU64,
    dead: AtomicU64,
}

/// A copy of a [`Tally`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TallySnapshot {
    /// Runs that finished the job.
    pub done: u64,
    /// Failed runs put back with backoff.
    pub retried: u64,
    /// Runs that asked to run again later without spending an attempt.
    pub snoozed: u64,
    /// Runs that left the job dead.
    pub dead: u64,
}

impl TallySnapshot {
    /// Every counted run.
    pub fn total(&self) -> u64 {
        self.done + self.retried + self.snoozed + self.dead
    }
}

impl Tally {
    /// Counts one written resolution.
    pub fn record(&self, resolution: &Resolution) {
        let counter = match resolution.result() {
            RunResult::Done => &self.done,
            RunResult::Snoozed => &self.snoozed,
            RunResult::Dead => &self.dead,
            RunResult::Retried => &self.retried,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> TallySnapshot {
        TallySnapshot {
            done: self.done.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            snoozed: self.snoozed.load(Ordering::Relaxed),
            dead: self.dead.load(Ordering::Relaxed),
        }
    }
}
