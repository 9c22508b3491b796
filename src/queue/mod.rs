//! malipo's PostgreSQL job queue and its apalis backend.
//!
//! Jobs are rows in `malipo_jobs`, enqueued inside the caller's transaction ([`enqueue`]),
//! claimed in batches with `FOR UPDATE SKIP LOCKED` under a lease fenced by a token
//! ([`claim`]), run by apalis workers through [`backend::MalipoBackend`], and completed in
//! batches ([`complete`]) as done, retried with backoff, snoozed, or dead.

pub mod admin;
pub mod backend;
pub mod bell;
pub mod budget;
pub mod claim;
pub mod complete;
pub mod enqueue;
pub mod filter;
mod finish_waiting;
pub mod glance;
pub mod handlers;
pub mod outcome;
pub mod pause;
pub mod persistence;
pub mod retention;
pub mod runner;
pub mod tally;
pub mod throughput;
pub mod wake;

use std::time::Duration;

pub use enqueue::{EnqueueOptions, Enqueued, JobRow, enqueue, enqueue_batch};
pub use finish_waiting::{FINISHED_EARLY, finish_waiting};
pub use handlers::{Handlers, JobContext, JobError, Lease};
pub use malipo_jobs::RetryPolicy;
pub use outcome::JobOutcome;
pub use runner::Runner;

/// How a process's worker loops claim and hold jobs.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Queues this loop claims from.
    pub queues: Vec<String>,
    /// Jobs claimed per round trip.
    pub batch_size: i64,
    /// Jobs run at once per loop.
    pub concurrency: usize,
    /// Claim loops per queue (more loops overlap claim round trips with running).
    pub loops_per_queue: usize,
    /// How long a claim holds a job before another worker may rescue it.
    pub lease: Duration,
    /// How often leases are extended and expired ones rescued.
    pub heartbeat: Duration,
    /// Fallback poll when no notification arrives (delayed jobs, lost notifications).
    pub poll_interval: Duration,
    /// How long done jobs are kept.
    pub retention: Duration,
    /// A cap on claims across every loop of the process (a drain's run limit); none for workers.
    pub claim_budget: Option<budget::ClaimBudget>,
    /// The longest delay any retry may wait, whatever its kind's policy says (`None`: the
    /// policies as written). Test and staging stacks use it to keep backoffs short instead of
    /// rewriting `run_at` by hand.
    pub retry_cap: Option<Duration>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            queues: malipo_jobs::queues::ALL
                .iter()
                .map(|q| (*q).to_owned())
                .collect(),
            batch_size: 50,
            concurrency: 32,
            loops_per_queue: 1,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            poll_interval: Duration::from_millis(500),
            retention: Duration::from_secs(7 * 24 * 3600),
            claim_budget: None,
            retry_cap: None,
        }
    }
}

/// The retry policy of a job kind; unknown kinds get a conservative default.
pub fn policy_for(kind: &str) -> RetryPolicy {
    malipo_jobs::registry()
        .into_iter()
        .find(|(name, _, _)| *name == kind)
        .map(|(_, _, policy)| policy)
        .unwrap_or(RetryPolicy::new(
            5,
            Duration::from_secs(1),
            Duration::from_secs(60),
        ))
}
